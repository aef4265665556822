/**
 * The browser bundle's entry: what a web application imports from `@scope/mqtt5` to talk MQTT
 * over WebSocket. Both come from the root module, as an application's import does, so the bundle's
 * size also proves that bundlers drop the rest (the codec's other exports, the TCP and TLS
 * transports and their `Deno.*` calls).
 *
 * @module
 */

export { Client, connectWebSocket } from "../../mod.ts";
