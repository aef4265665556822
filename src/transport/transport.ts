/**
 * The transport contract: a byte stream in each direction and `close()`. Any object of this shape
 * works, so users and tests can bring their own.
 *
 * @module
 */

/**
 * A bidirectional byte stream carrying MQTT packets. `readable` should be a byte stream (so the
 * client can read through a `ReadableStreamBYOBReader` into its own buffer); a plain stream of
 * `Uint8Array` chunks also works.
 *
 * @example A transport over any Deno connection
 * ```ts
 * import type { Transport } from "./transport.ts";
 * function fromConn(conn: Deno.Conn): Transport {
 *   return { readable: conn.readable, writable: conn.writable, close: () => conn.close() };
 * }
 * ```
 */
export interface Transport {
  /** The bytes from the server. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The bytes to the server. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes both directions at once; must not throw when already closed. */
  close(): void;
}
