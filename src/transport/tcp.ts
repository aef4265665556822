/**
 * A TCP transport over `Deno.connect`.
 *
 * @module
 */

import type { DirectConnection, Transport } from "./transport.ts";

/** Options of {@linkcode connectTcp}. */
export interface TcpOptions {
  /** The host to connect to. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port. @default {1883} */
  port?: number;
  /** Turns Nagle's algorithm off, so small packets leave at once. @default {true} */
  noDelay?: boolean;
  /**
   * Let the client read through the connection's own `read()` instead of its readable stream
   * ({@linkcode Transport.direct}): a few microseconds less per read (see BENCHMARKS.md). By
   * default the client reads through a `ReadableStreamBYOBReader`; it writes through the
   * connection's own `write()` either way.
   *
   * @default {false}
   */
  direct?: boolean;
  /** Aborts the connection attempt. */
  signal?: AbortSignal;
}

/**
 * Wraps a connection as a {@linkcode Transport}; closing twice is harmless. The transport offers
 * the connection's own writes ({@linkcode Transport.direct}), and with `direct` its reads too.
 */
export function connTransport(
  conn: Deno.Conn,
  direct = false,
): Transport & { readonly direct: DirectConnection } {
  let closed = false;
  return {
    readable: conn.readable,
    writable: conn.writable,
    direct: direct ? conn : { write: (p: Uint8Array) => conn.write(p) },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Already closed by the streams.
      }
    },
  };
}

/**
 * Opens a TCP connection to an MQTT server.
 *
 * @example Connecting
 * ```ts ignore
 * import { connectTcp } from "./tcp.ts";
 * const transport = await connectTcp({ hostname: "127.0.0.1", port: 1883 });
 * transport.close();
 * ```
 */
export async function connectTcp(options: TcpOptions = {}): Promise<Transport> {
  const conn = await Deno.connect({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 1883,
    transport: "tcp",
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (options.noDelay ?? true) conn.setNoDelay(true);
  return connTransport(conn, options.direct ?? false);
}
