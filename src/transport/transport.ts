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
  /**
   * The same connection for direct writes, and reads when it offers them: the client then writes
   * (and, given `read`, reads) through it, not through the streams, whose machinery costs several
   * microseconds per call. Leave the streams unused for what it offers. `connectTcp`,
   * `connectTls` and `connectNode` give `write` by default (reads stay on `readable`, through a
   * `ReadableStreamBYOBReader`), and `read` too with `direct: true`.
   */
  readonly direct?: DirectConnection;
  /** Closes both directions at once; must not throw when already closed. */
  close(): void;
}

/**
 * Direct writes, and optionally reads, on the connection under a {@linkcode Transport}'s
 * streams, as a `Deno.Conn` has them.
 *
 * @example A Deno connection is one
 * ```ts
 * import type { DirectConnection } from "./transport.ts";
 * const direct = (conn: Deno.Conn): DirectConnection => conn;
 * ```
 *
 * @example Writes only: reads stay on the transport's readable stream
 * ```ts
 * import type { DirectConnection } from "./transport.ts";
 * const writesOnly = (conn: Deno.Conn): DirectConnection => ({ write: (p) => conn.write(p) });
 * ```
 */
export interface DirectConnection {
  /**
   * Reads into `p`: the number of bytes read, or `null` at the end of the stream. Left out, the
   * client reads from the transport's `readable` instead.
   */
  read?(p: Uint8Array): Promise<number | null>;
  /**
   * Writes from `p`: the number of bytes written, which may be fewer than `p.length`. Must not
   * keep `p` once the promise settles (as `Deno.Conn` does not: a Deno `Writer` does not retain
   * `p`), since the client then writes its next packets into the same memory.
   */
  write(p: Uint8Array): Promise<number>;
}
