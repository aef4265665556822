/**
 * The request/response pair of `examples/rpc.ts`, written as a user would with MQTT.js 5, for the
 * line count (`count_lines.ts`): a server answers `[a, b]` with `a + b` on the request's Response
 * Topic with its Correlation Data; the client subscribes to a response topic of its own, sends
 * every request at once, and matches each response to its request by the Correlation Data, with a
 * timeout for each.
 *
 * `node examples/mqttjs/rpc.mjs [url]` (with the `mqtt` package installed)
 *
 * @module
 */

import mqtt from "mqtt";
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import process from "node:process";

/** Starts the adding server, asks it every pair at once, and returns the sums. */
export async function rpc({
  url,
  topic = "rpc/add",
  pairs = [[1, 2], [3, 4], [5, 6]],
  log = console.log,
}) {
  const server = await mqtt.connectAsync(url, { protocolVersion: 5 });
  server.on("message", (_topic, payload, packet) => {
    const { responseTopic, correlationData } = packet.properties ?? {};
    if (responseTopic === undefined) return;
    const [a, b] = JSON.parse(payload.toString());
    server.publish(responseTopic, JSON.stringify(a + b), {
      qos: 1,
      properties: { correlationData },
    });
  });
  await server.subscribeAsync(topic, { qos: 1 });

  const client = await mqtt.connectAsync(url, { protocolVersion: 5 });
  const responseTopic = `rpc/responses/${randomUUID()}`;
  const pending = new Map(); // correlation id -> resolve
  client.on("message", (_topic, payload, packet) => {
    const id = packet.properties?.correlationData?.toString();
    pending.get(id)?.(JSON.parse(payload.toString()));
  });
  await client.subscribeAsync(responseTopic, { qos: 1 });
  const request = (body) => {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No response to ${id}`)), 5000);
      pending.set(id, (sum) => (clearTimeout(timer), resolve(sum)));
      client.publish(topic, body, {
        qos: 1,
        properties: { responseTopic, correlationData: Buffer.from(id) },
      });
    }).finally(() => pending.delete(id));
  };
  const sums = await Promise.all(pairs.map((pair) => request(JSON.stringify(pair))));
  log(`sums: ${sums.join(", ")}`);
  await client.endAsync();
  await server.endAsync();
  return sums;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await rpc({ url: process.argv[2] ?? "mqtt://127.0.0.1:1883" });
}
