// The three programs on the run loop (examples/sensor.ts, worker.ts, rpc.ts), run against a real
// Mosquitto: what they claim is checked on what another client, the broker or the file saw.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Client, type ClientEvent, connectTcp } from "../../mod.ts";
import { brokerAvailable, type Mosquitto, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";
import { sensor } from "../../examples/sensor.ts";
import { worker } from "../../examples/worker.ts";
import { rpc } from "../../examples/rpc.ts";

const td = new TextDecoder();

function urlOf(broker: Mosquitto, port = broker.port): string {
  return `mqtt://${broker.username}:${broker.password}@127.0.0.1:${port}`;
}

/**
 * A client with a session the broker keeps (Session Expiry 300 s) and a subscription in it, left
 * offline: the broker queues what it is owed until {@linkcode collect} comes back for it.
 */
async function offlineSession(
  broker: Mosquitto,
  clientId: string,
  filter: string,
  qos: 1 | 2,
): Promise<void> {
  const client = new Client();
  await client.connect(await connectTcp(broker), {
    username: broker.username,
    password: broker.password,
    clientId,
    // Clean Start 0: Mosquitto 2.0.11 does not restore after a restart a session that began with
    // Clean Start 1.
    cleanStart: false,
    sessionExpiryInterval: 300,
  });
  await client.subscribe({ filter, qos });
  await until(client, (e) => e.type === "subscribed");
  await client.disconnect();
}

/**
 * Resumes `clientId`'s session and returns the payloads the broker delivers on it before it answers
 * a PINGREQ (it sends what it queued first); then ends the session.
 */
async function collect(broker: Mosquitto, clientId: string): Promise<string[]> {
  const client = new Client();
  const result = await client.connect(await connectTcp(broker), {
    username: broker.username,
    password: broker.password,
    clientId,
    cleanStart: false,
    sessionExpiryInterval: 300,
  });
  ok(result.sessionPresent, `the broker kept the session of ${clientId}`);
  const payloads: string[] = [];
  await client.ping();
  await until(client, (e) => {
    if (e.type === "message") payloads.push(td.decode(e.payload));
    return e.type === "pong";
  });
  await client.disconnect({ properties: { sessionExpiryInterval: 0 } });
  return payloads;
}

async function until(client: Client, done: (e: ClientEvent) => boolean): Promise<void> {
  const signal = AbortSignal.timeout(10_000);
  while (!done(await client.poll({ signal })));
}

Deno.test({
  name: "the run loop's examples against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ persistence: true, verbose: true });
    const run = crypto.randomUUID().slice(0, 8);

    await t.step(
      "sensor.ts: every QoS 1 reading reaches a subscriber across a broker restart",
      async () => {
        const topic = `examples/sensor/${run}`;
        const observer = `sensor-observer-${run}`;
        await offlineSession(broker, observer, topic, 1);
        const lines: string[] = [];
        let restarted: Promise<void> | undefined;
        const count = 10;
        await sensor({
          url: urlOf(broker),
          clientId: `sensor-${run}`,
          topic,
          count,
          interval: 20,
          log: (line) => {
            lines.push(line);
            if (line === "reading 3 delivered") restarted = broker.restart();
          },
        });
        await restarted;
        // The restart cut the sensor's connection in the middle of its readings.
        const lost = lines.indexOf("lost");
        ok(lost > lines.indexOf("reading 3 delivered"), lines.join("\n"));
        ok(lost < lines.indexOf(`reading ${count} delivered`), lines.join("\n"));
        ok(lines.indexOf("connected", lost) > lost, lines.join("\n"));

        // The broker kept the observer's session and its queue through the restart.
        const seen = (await collect(broker, observer)).map((p) => JSON.parse(p).seq as number);
        const once = [...new Set(seen)];
        deepStrictEqual(once, Array.from({ length: count }, (_, i) => i + 1), seen.join());
      },
    );

    await t.step(
      "worker.ts: each QoS 2 job is in the file exactly once though its connection is cut three times between an append and the acknowledgement",
      async () => {
        const topic = `examples/jobs/${run}`;
        const clientId = `worker-${run}`;
        const count = 12;
        const jobs = Array.from({ length: count }, (_, i) => `job-${i + 1}`);
        // The worker's session exists with its subscription, so no job is published before it.
        await offlineSession(broker, clientId, topic, 2);
        // The jobs come one at a time: the next once the worker appended the last, so that each
        // cut below falls between a job's append and its acknowledgement.
        await using publisher = new Client();
        await publisher.connect(await connectTcp(broker), {
          username: broker.username,
          password: broker.password,
          clientId: "",
        });
        const publish = async (job: string) => {
          const id = await publisher.publish({ topic, qos: 2 }, job);
          await until(publisher, (e) => e.type === "completed" && e.packetId === id);
        };
        let publishing = publish(jobs[0]!);

        await using proxy = await startProxy({ target: broker });
        const file = `${broker.dir}/jobs-${run}.txt`;
        await worker({
          url: urlOf(broker, proxy.port),
          file,
          clientId,
          filter: topic,
          count,
          log: (line) => {
            const n = Number(line.replace("appended job-", ""));
            // Cuts after an append, before the job's PUBREC: at once; in the middle of the PUBREC;
            // in the middle of what the broker sends next (the PUBREL, or the next job).
            if (n === 3) proxy.cutNow();
            if (n === 6) proxy.cutAfter({ toServer: 2 });
            if (n === 9) proxy.cutAfter({ toClient: 2 });
            if (n < count) publishing = publishing.then(() => publish(jobs[n]!));
          },
        });
        await publishing;
        // The cuts fell where meant: the broker sent jobs again (DUP), the worker's PUBREC lost.
        const again = broker.logs().split("\n")
          .filter((l) => l.includes(`Sending PUBLISH to ${clientId} (d1`));
        ok(again.length >= 2, again.join("\n"));
        equal(proxy.connections.length, 4, `${proxy.connections.length} connections`);
        const written = (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "");
        deepStrictEqual(
          written,
          jobs,
          "each job once: a job sent again is not handed out [MQTT-4.3.3-10]",
        );
        // And the broker owes the worker nothing more: every PUBREC reached it.
        deepStrictEqual(await collect(broker, clientId), []);
      },
    );

    await t.step("rpc.ts: several requests in flight at once each get their own sum", async () => {
      const pairs: [number, number][] = Array.from({ length: 8 }, (_, i) => [i, 10 * i]);
      const sums = await rpc({
        url: urlOf(broker),
        topic: `examples/rpc/${run}/add`,
        pairs,
        log: () => {},
      });
      deepStrictEqual(sums, pairs.map(([a, b]) => a + b));
    });
  },
});
