/**
 * The worker of `examples/worker.ts`, written as a user would with MQTT.js 5, for the line count
 * (`count_lines.ts`): jobs at QoS 2, each appended to a file before its PUBREC. MQTT.js calls
 * `customHandleAcks` for every PUBLISH before answering it, also for one the broker sends again
 * after a reconnect because the PUBREC was lost, so the worker remembers which Packet Identifiers
 * it appended until their PUBREL (the `message` event, at QoS 2) to append each job once.
 *
 * `node examples/mqttjs/worker.mjs [url] [file]` (with the `mqtt` package installed)
 *
 * @module
 */

import mqtt from "mqtt";
import { appendFile } from "node:fs/promises";
import process from "node:process";

/** Takes `count` jobs, appending each to `file` before acknowledging it, then ends. */
export async function worker({
  url,
  file,
  clientId = "worker-1",
  filter = "jobs/#",
  count = Infinity,
  log = console.log,
}) {
  const appended = new Set(); // Packet Identifiers appended, until their PUBREL
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const client = await mqtt.connectAsync(url, {
    clientId,
    protocolVersion: 5, // customHandleAcks works with MQTT 5.0 only
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    customHandleAcks: (_topic, payload, packet, ack) => {
      if (packet.qos !== 2 || appended.has(packet.messageId)) return ack(0); // sent again
      appendFile(file, `${payload}\n`).then(() => {
        appended.add(packet.messageId);
        log(`appended ${payload}`);
        ack(0); // PUBREC only now
      }, () => ack(0x80)); // not appended: refused (PUBREC 0x80 Unspecified error)
    },
  });
  client.on("error", (error) => log(`error: ${error.message}`));
  client.on("message", (_topic, _payload, packet) => {
    appended.delete(packet.messageId); // the PUBREL came: the identifier may be used again
    if (++done === count) finish();
  });
  await client.subscribeAsync(filter, { qos: 2 });
  await finished;
  await client.endAsync();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await worker({
    url: process.argv[2] ?? "mqtt://127.0.0.1:1883",
    file: process.argv[3] ?? "jobs.txt",
  });
}
