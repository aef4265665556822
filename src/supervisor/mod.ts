/**
 * The run loop: a {@linkcode Supervisor} keeps an MQTT session running across connections, on the
 * public API of the explicit `Client` and `Session`. Opt-in: nothing of it runs unless started
 * with {@linkcode supervise}; while it runs it owns one timer and one read loop, and once stopped
 * nothing is left.
 *
 * @example A sensor that publishes through broker restarts
 * ```ts ignore
 * import { supervise } from "@scope/mqtt5/supervisor";
 * await using mqtt = supervise({
 *   url: "mqtt://127.0.0.1:1883",
 *   clientId: "sensor-1",
 *   sessionExpiryInterval: 3600,
 * });
 * await mqtt.publish("sensors/1/temperature", "21.5", { qos: 1 });
 * ```
 *
 * @module
 */

export * from "./supervisor.ts";
export * from "./errors.ts";
export type * from "./types.ts";
// The types the supervisor's API names (the client's, the session's, the transport's), so that
// its entry point documents itself.
export type * from "../client/mod.ts";
