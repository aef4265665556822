/**
 * The session layer of mqtt5: protocol state without I/O (Packet Identifiers, outgoing
 * publications in flight, incoming QoS 2 publications awaiting release, subscriptions), as plain
 * data that can be inspected, kept as JSON and handed to a new client.
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

export * from "./session.ts";
