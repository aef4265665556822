/**
 * The MQTT 5.0 and 3.1.1 codec of mqtt5: pure and synchronous, bytes to packets and back. It does
 * no I/O and imports nothing from the other layers, so it serves servers, proxies and tools as
 * well. MQTT 5.0 is the default; `protocolVersion: 4` in the options of the encoder and decoder
 * selects MQTT 3.1.1, with the same packet objects ({@linkcode ProtocolVersion}).
 *
 * - {@linkcode encode} / {@linkcode encodeInto} / {@linkcode encodedLength}: packets to bytes,
 *   refusing with {@linkcode EncodeError} any packet that breaks a rule of the specification.
 * - {@linkcode encodePublishHead}: a PUBLISH up to its payload, so that a large payload is written
 *   as a second chunk rather than copied.
 * - {@linkcode frame} and {@linkcode decode}: framing for streaming readers, and bytes to packets,
 *   refusing with {@linkcode DecodeError} (carrying the reason code to answer with) what is malformed.
 *
 * @example Round trip
 * ```ts
 * import { decode, encode, PacketType } from "@scope/mqtt5/codec";
 * const bytes = encode({ type: PacketType.Subscribe, packetId: 1, subscriptions: [{ filter: "a/#", qos: 1 }] });
 * const packet = decode(bytes);
 * console.log(packet.type === PacketType.Subscribe); // true
 * ```
 *
 * @example Round trip in MQTT 3.1.1
 * ```ts
 * import { decode, encode, PacketType } from "@scope/mqtt5/codec";
 * const options = { protocolVersion: 4 } as const;
 * const bytes = encode({ type: PacketType.Unsubscribe, packetId: 2, filters: ["a/#"] }, options);
 * console.log(decode(bytes, options)); // { type: 10, packetId: 2, filters: [ "a/#" ] }
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./errors.ts";
export type * from "./packets.ts";
export * from "./encode.ts";
export * from "./decode.ts";
export * from "./topic.ts";
export { isWellFormedUtf8 } from "./_utf8.ts";
