/**
 * mqtt5: an explicit MQTT 5.0 and 3.1.1 client with no hidden machinery and no runtime dependency,
 * for Deno, Node, Bun and browsers. The client starts no timers, read loops or reconnects: the
 * application calls `connect`, `publish`, `subscribe`, and `poll` for the next event. The session
 * is plain data the application can keep and hand to a new client after a network failure.
 *
 * The layers, each also importable on its own:
 * - `@scope/mqtt5/codec`: pure, synchronous MQTT 5.0 and 3.1.1 packets to bytes and back.
 * - `@scope/mqtt5/session` (also `@scope/mqtt5/engine`): the protocol engine, synchronous and
 *   I/O-free, and the session data.
 * - `@scope/mqtt5/transport`: byte streams (TCP, TLS, WebSocket).
 * - `@scope/mqtt5/node`: TCP and TLS over `node:net` / `node:tls`, for Node and Bun.
 * - `@scope/mqtt5/client`: the {@linkcode Client}, a thin driver over the engine, and `connect(url)`.
 *
 * @example Publish and receive at QoS 2
 * ```ts ignore
 * import { Client, connectTcp } from "@scope/mqtt5";
 * const client = new Client();
 * await client.connect(await connectTcp({ port: 1883 }), { clientId: "demo" });
 * await client.subscribe({ filter: "demo/#", qos: 2 });
 * const id = await client.publish({ topic: "demo/hello", qos: 2 }, "Hello World!");
 * for (;;) {
 *   const event = await client.poll();
 *   if (event.type === "message") console.log(new TextDecoder().decode(event.payload));
 *   if (event.type === "completed" && event.packetId === id) break;
 * }
 * await client.disconnect();
 * ```
 *
 * @module
 */

export * from "./src/codec/mod.ts";
export * from "./src/session/mod.ts";
export * from "./src/transport/mod.ts";
export * from "./src/client/mod.ts";
