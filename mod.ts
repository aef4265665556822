/**
 * mqtt5: an explicit MQTT 5.0 client for Deno, with no hidden machinery.
 *
 * The layers, each also importable on its own:
 * - `@scope/mqtt5/codec`: pure, synchronous MQTT 5.0 packets to bytes and back.
 *
 * @example Encoding a packet
 * ```ts
 * import { encode, PacketType } from "@scope/mqtt5";
 * console.log(encode({ type: PacketType.Pingreq })); // Uint8Array(2) [ 192, 0 ]
 * ```
 *
 * @module
 */

export * from "./src/codec/mod.ts";
