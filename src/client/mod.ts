/**
 * The client layer of mqtt5: the {@linkcode Client}, a thin asynchronous driver over the
 * protocol engine, with its options, events and errors.
 *
 * @example Publishing at QoS 1
 * ```ts ignore
 * import { Client } from "@scope/mqtt5/client";
 * import { connectTcp } from "@scope/mqtt5/transport";
 * const client = new Client();
 * await client.connect(await connectTcp({ port: 1883 }), { clientId: "sensor-1" });
 * await client.publish({ topic: "sensors/1", qos: 1 }, "21.5");
 * await client.poll(); // { type: "acknowledged", packetId: 1, ... }
 * await client.disconnect();
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./connect.ts";
export * from "./errors.ts";
export type * from "./types.ts";
// The types the client's API names, so that this entry point documents itself.
export type * from "../session/mod.ts";
export type { DirectConnection, Transport } from "../transport/mod.ts";
