/**
 * The sensor of `examples/sensor.ts`, written as a user would with MQTT.js 5, for the line count
 * (`count_lines.ts`): a QoS 1 reading every `interval` milliseconds, nothing lost across broker
 * restarts. MQTT.js keeps publications in flight in its outgoing store and publications made while
 * offline in its queue, and resends both after a reconnect; `clean: false` and a Session Expiry
 * Interval make the broker keep the session too.
 *
 * `node examples/mqttjs/sensor.mjs [url]` (with the `mqtt` package installed)
 *
 * @module
 */

import mqtt from "mqtt";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";

/** Publishes `count` readings, each acknowledged by the broker, then ends. */
export async function sensor({
  url,
  clientId = "sensor-1",
  topic = "sensors/1/temperature",
  count = 10,
  interval = 1000,
  log = console.log,
}) {
  const client = await mqtt.connectAsync(url, {
    clientId,
    protocolVersion: 5,
    clean: false, // resume the session after a reconnect
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 1000,
  });
  client.on("connect", () => log("connected"));
  client.on("offline", () => log("lost"));
  client.on("reconnect", () => log("reconnecting"));
  client.on("error", (error) => log(`error: ${error.message}`)); // unhandled, it would throw
  for (let seq = 1; seq <= count; seq++) {
    const reading = JSON.stringify({ seq, celsius: 20 + Math.random() * 5 });
    await client.publishAsync(topic, reading, { qos: 1 }); // resolves with the PUBACK
    log(`reading ${seq} delivered`);
    await sleep(interval);
  }
  await client.endAsync();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await sensor({ url: process.argv[2] ?? "mqtt://127.0.0.1:1883" });
}
