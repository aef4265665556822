/**
 * The transports of mqtt5: byte streams with no protocol logic. {@linkcode connectTcp} opens a TCP
 * connection with `Deno.connect`, {@linkcode connectTls} a TLS one with `Deno.connectTls` (server
 * verification, client certificates, ALPN), {@linkcode connectWebSocket} MQTT over WebSocket with
 * the standard `WebSocket` API only (browsers, Deno, Bun, Node 22+; Node 20 with the `ws`
 * package's constructor); any object of the {@linkcode Transport} shape works too.
 *
 * @example Connecting over TCP
 * ```ts ignore
 * import { connectTcp } from "@scope/mqtt5/transport";
 * const transport = await connectTcp({ hostname: "127.0.0.1", port: 1883 });
 * transport.close();
 * ```
 *
 * @example Connecting over TLS with a client certificate
 * ```ts ignore
 * import { connectTls } from "@scope/mqtt5/transport";
 * const transport = await connectTls({
 *   hostname: "localhost",
 *   port: 8883,
 *   caCerts: [await Deno.readTextFile("ca.crt")],
 *   cert: await Deno.readTextFile("client.crt"),
 *   key: await Deno.readTextFile("client.key"),
 * });
 * transport.close();
 * ```
 *
 * @example Connecting over WebSocket (also in a browser)
 * ```ts ignore
 * import { connectWebSocket } from "@scope/mqtt5/transport";
 * const transport = await connectWebSocket("wss://broker.example.com/mqtt", {
 *   signal: AbortSignal.timeout(5000),
 * });
 * transport.close();
 * ```
 *
 * @module
 */

export { MqttError, type MqttErrorOptions } from "../errors.ts";
export * from "./transport.ts";
export * from "./tcp.ts";
export * from "./tls.ts";
export * from "./websocket.ts";
