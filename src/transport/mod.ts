/**
 * The transports of mqtt5: byte streams with no protocol logic. {@linkcode connectTcp} opens a TCP
 * connection with `Deno.connect`; any object of the {@linkcode Transport} shape works too.
 *
 * @example Connecting over TCP
 * ```ts ignore
 * import { connectTcp } from "@scope/mqtt5/transport";
 * const transport = await connectTcp({ hostname: "127.0.0.1", port: 1883 });
 * transport.close();
 * ```
 *
 * @module
 */

export * from "./transport.ts";
export * from "./tcp.ts";
