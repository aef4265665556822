/**
 * The session layer of mqtt5: the protocol engine ({@linkcode Engine}), a synchronous MQTT 5.0
 * client with no I/O, no timers and no clock reads, and the session it keeps: Packet
 * Identifiers, outgoing publications in flight, incoming QoS 2 publications awaiting release,
 * subscriptions, as plain data that can be inspected, kept as JSON and handed to a new client.
 * This is the sync implementation: drive it from any event loop, worker or simulator; the
 * `Client` is one such driver.
 *
 * @example Driving the engine over any byte stream
 * ```ts
 * import { Engine } from "@scope/mqtt5/session";
 * const engine = new Engine();
 * engine.connect({ clientId: "sensor-1" }, Date.now());
 * const bytes = engine.takeOutput(); // write them to the server, then on each read:
 * // engine.receive(chunk, Date.now()); for (let e; (e = engine.nextEvent());) handle(e);
 * console.log(bytes?.length); // 23
 * ```
 *
 * @example A session kept as JSON
 * ```ts
 * import { Session } from "@scope/mqtt5/session";
 * const session = new Session({ clientId: "sensor-1" });
 * localStorage.setItem("mqtt-session", JSON.stringify(session.snapshot()));
 * ```
 *
 * @module
 */

export {
  type DeepReadonly,
  type OutgoingFlight,
  type OutgoingState,
  Session,
  type SessionChange,
  type SessionSnapshot,
  type SessionState,
  type SessionStore,
  type StoredPublication,
  type SubscriptionRecord,
} from "./session.ts";
export * from "./engine.ts";
export * from "./errors.ts";
export { MqttError, type MqttErrorOptions } from "../errors.ts";
export type { KeepAliveTimes } from "./keep_alive.ts";
export * from "./log.ts";
export * from "./output.ts";
export type * from "./types.ts";
// The codec's types the engine's API names, so that this entry point documents itself.
export type * from "../codec/packets.ts";
export type {
  DecodeError,
  EncodeOptions,
  PacketType,
  ProtocolVersion,
  QoS,
  RetainHandling,
} from "../codec/mod.ts";
