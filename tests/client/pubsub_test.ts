// The client against a real Mosquitto: publication both ways at QoS 0, 1 and 2, subscriptions,
// retained messages, wills, persistent sessions, manual acknowledgement, and the limits the
// server announces. One broker per test module; each behaviour is a step on topics of its own.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  EncodeError,
  type IncomingMessageEvent,
  NotConnectedError,
  QuotaExceededError,
  ServerCapabilityError,
  Session,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import {
  brokerAvailable,
  brokerIgnoreReason,
  type Mosquitto,
  startMosquitto,
} from "../_util/mosquitto.ts";
import {
  assertQuiet,
  Clients,
  nextEvent,
  pollUntil,
  text,
  uniqueTopic,
  waitFor,
} from "./_client.ts";

function pattern(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 131 + seed) & 0xff);
}

function clientsOf(broker: Mosquitto): Clients {
  return new Clients(
    () => connectTcp({ hostname: broker.hostname, port: broker.port }),
    { username: broker.username, password: broker.password },
  );
}

async function message(client: Client, ms = 5000): Promise<IncomingMessageEvent> {
  const event = await nextEvent(client, ms);
  equal(event.type, "message", `expected a message, got ${JSON.stringify(event)}`);
  return event as IncomingMessageEvent;
}

async function subscribed(client: Client, filter: string, qos: 0 | 1 | 2 = 2): Promise<void> {
  const id = await client.subscribe({ filter, qos });
  const suback = await waitFor(client, "subscribed");
  equal(suback.packetId, id);
  deepStrictEqual(suback.reasonCodes, [qos]);
}

Deno.test({
  name: "Client against Mosquitto: publication, subscriptions, wills and sessions",
  ignore: !brokerAvailable,
  async fn(t) {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto();

    for (const qos of [0, 1, 2] as const) {
      await t.step(
        `Client.publish() at QoS ${qos} reaches a subscriber, and the publisher gets its acknowledgements`,
        async () => {
          await using clients = clientsOf(broker);
          const topic = uniqueTopic(`qos${qos}`);
          const { client: sub } = await clients.connect();
          await subscribed(sub, topic, 2);
          const { client: pub } = await clients.connect();
          const payload = pattern(100 + qos, qos);

          const id = await pub.publish({ topic, qos }, payload);
          if (qos === 0) {
            equal(id, undefined);
          } else {
            ok(id !== undefined && id >= 1);
            equal(pub.session.flight(id)?.state, qos === 1 ? "awaiting-puback" : "awaiting-pubrec");
          }
          if (qos === 1) {
            const ack = await nextEvent(pub);
            deepStrictEqual([ack.type, "packetId" in ack && ack.packetId], ["acknowledged", id]);
            equal(pub.session.flight(id!), undefined, "the flight is over");
          }
          if (qos === 2) {
            const rec = await nextEvent(pub);
            deepStrictEqual([rec.type, "packetId" in rec && rec.packetId], ["received", id]);
            equal(pub.session.flight(id!)?.state, "awaiting-pubcomp");
            const comp = await nextEvent(pub);
            deepStrictEqual([comp.type, "packetId" in comp && comp.packetId], ["completed", id]);
            equal(pub.session.flight(id!), undefined, "the flight is over");
          }

          const m = await message(sub);
          equal(m.topic, topic);
          equal(m.qos, qos);
          deepStrictEqual(m.payload, payload);
          equal(m.retain, false);
          equal(m.dup, false);
          equal(m.packetId === undefined, qos === 0);
          if (qos === 2) {
            // The client answered PUBREC, so the broker released the message.
            ok(sub.session.hasIncoming(m.packetId!));
            const rel = await nextEvent(sub);
            deepStrictEqual(rel, {
              type: "released",
              packetId: m.packetId,
              reasonCode: 0,
              known: true,
            });
            ok(!sub.session.hasIncoming(m.packetId!));
          }
          await assertQuiet(sub);
          await assertQuiet(pub);
        },
      );
    }

    await t.step(
      "Client.subscribe() sends several filters in one SUBSCRIBE and reports the SUBACK codes in filter order [MQTT-3.9.3-1]",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("multi");
        const { client: sub } = await clients.connect();
        const filters = [`${base}/q2`, `${base}/q0`, `${base}/q1/+`];
        const id = await sub.subscribe([
          { filter: filters[0]!, qos: 2 },
          { filter: filters[1]!, qos: 0 },
          { filter: filters[2]!, qos: 1 },
        ]);
        const suback = await nextEvent(sub);
        deepStrictEqual(suback, {
          type: "subscribed",
          packetId: id,
          reasonCodes: [2, 0, 1],
          filters,
          properties: {},
        });
        deepStrictEqual(sub.session.state.subscriptions.map((s) => [s.filter, s.grantedQoS]), [
          [filters[0], 2],
          [filters[1], 0],
          [filters[2], 1],
        ]);
        // Each subscription is in force at its own QoS: the broker downgrades to it.
        const { client: pub } = await clients.connect();
        for (const topic of [`${base}/q2`, `${base}/q0`, `${base}/q1/x`]) {
          await pub.publish({ topic, qos: 2 }, topic);
          await waitFor(pub, "completed");
        }
        const got = [await message(sub), await message(sub), await message(sub)];
        deepStrictEqual(got.map((m) => [m.topic, m.qos]), [
          [`${base}/q2`, 2],
          [`${base}/q0`, 0],
          [`${base}/q1/x`, 1],
        ]);
      },
    );

    await t.step(
      "Client.unsubscribe() removes several filters in one UNSUBSCRIBE; the broker stops forwarding them",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("unsub");
        const { client: sub } = await clients.connect();
        await sub.subscribe([{ filter: `${base}/a`, qos: 1 }, { filter: `${base}/b`, qos: 1 }, {
          filter: `${base}/c`,
          qos: 1,
        }]);
        await waitFor(sub, "subscribed");
        const id = await sub.unsubscribe([`${base}/a`, `${base}/never`, `${base}/b`]);
        const unsuback = await nextEvent(sub);
        equal(unsuback.type, "unsubscribed");
        ok(unsuback.type === "unsubscribed");
        equal(unsuback.packetId, id);
        deepStrictEqual(unsuback.filters, [`${base}/a`, `${base}/never`, `${base}/b`]);
        deepStrictEqual(unsuback.reasonCodes, [0x00, 0x11, 0x00]);
        deepStrictEqual(sub.session.state.subscriptions.map((s) => s.filter), [`${base}/c`]);

        const { client: pub } = await clients.connect();
        for (const topic of [`${base}/a`, `${base}/b`, `${base}/c`]) {
          await pub.publish({ topic, qos: 1 }, topic);
          await waitFor(pub, "acknowledged");
        }
        equal((await message(sub)).topic, `${base}/c`);
        await assertQuiet(sub);
      },
    );

    await t.step(
      "a retained message reaches a later subscriber with RETAIN set, a live one without",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("retained");
        const { client: live } = await clients.connect();
        await subscribed(live, topic, 1);
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1, retain: true }, "kept");
        await waitFor(pub, "acknowledged");
        const forwarded = await message(live);
        equal(forwarded.retain, false);

        const { client: late } = await clients.connect();
        await late.subscribe({ filter: topic, qos: 1 });
        const events = await pollUntil(late, (e) => e.type === "message");
        equal(events[0]!.type, "subscribed");
        const m = events[1] as IncomingMessageEvent;
        equal(m.retain, true);
        equal(text(m.payload), "kept");
        equal(m.qos, 1);

        // An empty retained message clears it: a third subscriber gets nothing.
        await pub.publish({ topic, qos: 1, retain: true }, "");
        await waitFor(pub, "acknowledged");
        const { client: third } = await clients.connect();
        await subscribed(third, topic, 1);
        await assertQuiet(third);
      },
    );

    await t.step(
      "the will is published when the client vanishes with abort() and no DISCONNECT",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("will-abort");
        const { client: watcher } = await clients.connect();
        await subscribed(watcher, topic, 1);
        const { client: doomed } = await clients.connect({
          will: { topic, payload: "gone", qos: 1 },
        });
        await assertQuiet(doomed);
        doomed.abort();
        equal(doomed.state, "closed");
        const m = await message(watcher);
        equal(m.topic, topic);
        equal(text(m.payload), "gone");
        equal(m.qos, 1);
        await rejects(doomed.publish({ topic }, "x"), NotConnectedError);
      },
    );

    await t.step(
      "Client.disconnect() with 0x04 has the will published, with 0x00 it does not",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("will-disconnect");
        const { client: watcher } = await clients.connect();
        await subscribed(watcher, topic, 1);

        const { client: polite } = await clients.connect({
          will: { topic, payload: "normal", qos: 1 },
        });
        await polite.disconnect();
        const { client: leaving } = await clients.connect({
          will: { topic, payload: "with-will", qos: 1 },
        });
        await leaving.disconnect({ reasonCode: 0x04 });

        // Only the second will comes: the first was discarded by DISCONNECT 0x00.
        const m = await message(watcher);
        equal(text(m.payload), "with-will");
        await assertQuiet(watcher);
      },
    );

    await t.step(
      "a persistent session receives at QoS 1 and 2 what was published while it was away",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("offline");
        const session = new Session();
        const clientId = `persist-${crypto.randomUUID().slice(0, 8)}`;
        const first = await clients.connect(
          { clientId, cleanStart: true, sessionExpiryInterval: 300 },
          new Client({ session }),
        );
        equal(first.result.sessionPresent, false);
        await subscribed(first.client, topic, 2);
        await first.client.disconnect();

        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1 }, "one");
        await waitFor(pub, "acknowledged");
        await pub.publish({ topic, qos: 2 }, "two");
        await waitFor(pub, "completed");
        await pub.publish({ topic, qos: 0 }, "zero");
        await assertQuiet(pub);

        const again = await clients.connect(
          { clientId, cleanStart: false, sessionExpiryInterval: 300 },
          new Client({ session }),
        );
        equal(again.result.sessionPresent, true);
        deepStrictEqual(again.result.discarded, []);
        const events = await pollUntil(again.client, (e) => e.type === "released");
        const messages = events.filter((e): e is IncomingMessageEvent => e.type === "message");
        deepStrictEqual(messages.map((m) => [text(m.payload), m.qos]), [["one", 1], ["two", 2]]);
        await again.client.disconnect();

        // The client acknowledged everything (PUBACK, PUBREC, PUBCOMP): nothing comes again.
        const third = await clients.connect(
          { clientId, cleanStart: false, sessionExpiryInterval: 300 },
          new Client({ session }),
        );
        equal(third.result.sessionPresent, true);
        await assertQuiet(third.client);
        await third.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
      },
    );

    await t.step("Client.ping() is answered with a pong event", async () => {
      await using clients = clientsOf(broker);
      const { client } = await clients.connect();
      for (let i = 0; i < 3; i++) {
        await client.ping();
        deepStrictEqual(await nextEvent(client), { type: "pong" });
      }
    });

    await t.step(
      "in manual mode nothing is acknowledged until acknowledge(): the broker delivers again with DUP",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("manual");
        const session = new Session();
        const clientId = `manual-${crypto.randomUUID().slice(0, 8)}`;
        const options = { clientId, cleanStart: false, sessionExpiryInterval: 300 };
        const first = await clients.connect(
          { ...options, cleanStart: true },
          new Client({ session, manualAck: true }),
        );
        await subscribed(first.client, topic, 2);
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1 }, "q1");
        await waitFor(pub, "acknowledged");
        await pub.publish({ topic, qos: 2 }, "q2");
        await waitFor(pub, "completed");

        const m1 = await message(first.client);
        const m2 = await message(first.client);
        deepStrictEqual([text(m1.payload), text(m2.payload)], ["q1", "q2"]);
        equal(m1.dup, false);
        // No PUBACK, no PUBREC went out: the broker sends no PUBREL.
        await assertQuiet(first.client);
        await first.client.disconnect();

        const second = await clients.connect(options, new Client({ session, manualAck: true }));
        equal(second.result.sessionPresent, true);
        const r1 = await message(second.client);
        const r2 = await message(second.client);
        deepStrictEqual([text(r1.payload), text(r2.payload)], ["q1", "q2"]);
        ok(r1.dup && r2.dup, "redelivered with DUP");
        await second.client.acknowledge(r1.packetId!);
        await second.client.acknowledge(r2.packetId!);
        // PUBREC went out: the broker releases the QoS 2 message; its PUBCOMP is ours to send.
        const rel = await nextEvent(second.client);
        deepStrictEqual(rel, {
          type: "released",
          packetId: r2.packetId,
          reasonCode: 0,
          known: true,
        });
        await assertQuiet(second.client);
        await second.client.disconnect();

        // No PUBCOMP went out either: the broker sends the PUBREL again.
        const third = await clients.connect(options, new Client({ session, manualAck: true }));
        equal(third.result.sessionPresent, true);
        const again = await nextEvent(third.client);
        deepStrictEqual(again, {
          type: "released",
          packetId: r2.packetId,
          reasonCode: 0,
          known: true,
        });
        await third.client.acknowledge(r2.packetId!);
        await assertQuiet(third.client);
        await third.client.disconnect();

        const fourth = await clients.connect(options, new Client({ session, manualAck: true }));
        equal(fourth.result.sessionPresent, true);
        await assertQuiet(fourth.client);
        await fourth.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
      },
    );

    await t.step(
      "Client.publish() before connecting or after disconnecting throws NotConnectedError; the client connects and publishes after",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("not-connected");
        const client = new Client();
        await rejects(client.publish({ topic, qos: 1 }, "early"), (e: unknown) => {
          ok(e instanceof NotConnectedError);
          equal(e.recoverable, true);
          return true;
        });
        equal(client.session.state.outgoing.length, 0, "no flight was recorded");
        const { client: sub } = await clients.connect();
        await subscribed(sub, topic, 1);
        await clients.connect({}, client);
        const id = await client.publish({ topic, qos: 1 }, "now");
        equal(id, 1, "the refused publish took no Packet Identifier");
        await waitFor(client, "acknowledged");
        equal(text((await message(sub)).payload), "now");
        await client.disconnect();
        await rejects(client.publish({ topic }, "late"), NotConnectedError);
      },
    );

    await t.step(
      "200 QoS 2 publications as fast as the Receive Maximum allows: none refused with 0x97, each delivered once [MQTT-3.3.4-7]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("receive-maximum");
        const { client: sub } = await clients.connect();
        await subscribed(sub, topic, 2);
        const { client: pub, result } = await clients.connect();
        equal(result.limits.receiveMaximum, 20, "Mosquitto's default max_inflight_messages");
        const total = 200;

        const receiving = (async () => {
          const seen = new Map<string, number>();
          let released = 0;
          const signal = AbortSignal.timeout(20_000);
          while (seen.size < total || released < total) {
            const e = await sub.poll({ signal });
            if (e.type === "message") {
              seen.set(text(e.payload), (seen.get(text(e.payload)) ?? 0) + 1);
            } else if (e.type === "released") {
              released++;
            } else {
              throw new Error(`unexpected ${JSON.stringify(e)}`);
            }
          }
          return seen;
        })();

        const events: ClientEvent[] = [];
        let refusedByQuota = 0;
        let maxInFlight = 0;
        const signal = AbortSignal.timeout(20_000);
        for (let i = 0; i < total;) {
          try {
            await pub.publish({ topic, qos: 2 }, `m${i}`);
            i++;
            maxInFlight = Math.max(maxInFlight, pub.session.state.outgoing.length);
          } catch (e) {
            if (!(e instanceof QuotaExceededError)) throw e;
            refusedByQuota++;
            events.push(await pub.poll({ signal }));
          }
        }
        while (pub.session.state.outgoing.length > 0) events.push(await pub.poll({ signal }));

        equal(maxInFlight, 20);
        ok(refusedByQuota > 0, "the quota was reached");
        deepStrictEqual(events.filter((e) => e.type === "rejected"), []);
        equal(events.filter((e) => e.type === "completed").length, total);
        equal(events.filter((e) => e.type === "received").length, total);

        const seen = await receiving;
        equal(seen.size, total);
        ok([...seen.values()].every((n) => n === 1), "each message exactly once");
        for (let i = 0; i < total; i++) ok(seen.has(`m${i}`));
      },
    );
  },
});

Deno.test({
  name:
    "Client against a limited Mosquitto: what the server cannot take is refused before any byte is sent",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({
      config: [
        "max_qos 1",
        "retain_available false",
        "max_packet_size 2000",
        "max_inflight_messages 5",
      ],
    });

    /** The client is still connected and usable: a publication makes the whole trip. */
    async function stillWorks(clients: Clients, pub: Client): Promise<void> {
      const topic = uniqueTopic("after");
      const { client: sub } = await clients.connect();
      await subscribed(sub, topic, 1);
      const id = await pub.publish({ topic, qos: 1 }, "still here");
      const ack = await waitFor(pub, "acknowledged");
      equal(ack.packetId, id);
      equal(text((await message(sub)).payload), "still here");
    }

    await t.step(
      "Client.publish() above the server's Maximum QoS throws ServerCapabilityError 0x9B [MQTT-3.2.2-11]",
      async () => {
        await using clients = clientsOf(broker);
        const { client, result } = await clients.connect();
        equal(result.limits.maximumQoS, 1);
        const before = client.session.state.nextPacketId;
        await rejects(client.publish({ topic: uniqueTopic("qos2"), qos: 2 }, "x"), (e: unknown) => {
          ok(e instanceof ServerCapabilityError);
          equal(e.reasonCode, 0x9b);
          equal(e.recoverable, true);
          return true;
        });
        equal(client.session.state.nextPacketId, before);
        equal(client.session.state.outgoing.length, 0);
        // Mosquitto disconnects a client that publishes above max_qos: this proves nothing went.
        await stillWorks(clients, client);
      },
    );

    await t.step(
      "Client.publish() with RETAIN when the server has none throws ServerCapabilityError 0x9A [MQTT-3.2.2-14]",
      async () => {
        await using clients = clientsOf(broker);
        const { client, result } = await clients.connect();
        equal(result.limits.retainAvailable, false);
        await rejects(
          client.publish({ topic: uniqueTopic("retain"), qos: 1, retain: true }, "x"),
          (e: unknown) => e instanceof ServerCapabilityError && e.reasonCode === 0x9a,
        );
        equal(client.session.state.outgoing.length, 0);
        await stillWorks(clients, client);
      },
    );

    await t.step(
      "Client.publish() over the server's Maximum Packet Size throws EncodeError 0x95 [MQTT-3.2.2-15]",
      async () => {
        await using clients = clientsOf(broker);
        const { client, result } = await clients.connect();
        equal(result.limits.maximumPacketSize, 2000);
        const topic = uniqueTopic("big");
        await rejects(
          client.publish({ topic, qos: 1 }, new Uint8Array(2000)),
          (e: unknown) => e instanceof EncodeError && e.reasonCode === 0x95,
        );
        equal(client.session.state.outgoing.length, 0, "no flight was recorded");
        await stillWorks(clients, client);
      },
    );

    await t.step(
      "the 6th QoS 1 publish with a Receive Maximum of 5 throws QuotaExceededError; the broker refuses none [MQTT-3.3.4-7]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("quota");
        const { client: sub } = await clients.connect();
        await subscribed(sub, topic, 1);
        const { client, result } = await clients.connect();
        equal(result.limits.receiveMaximum, 5);
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push((await client.publish({ topic, qos: 1 }, `m${i}`))!);
        await rejects(client.publish({ topic, qos: 1 }, "m5"), (e: unknown) => {
          ok(e instanceof QuotaExceededError);
          equal(e.reasonCode, 0x97);
          equal(e.receiveMaximum, 5);
          equal(e.recoverable, true);
          return true;
        });
        // QoS 0 is not counted against the quota.
        equal(await client.publish({ topic, qos: 0 }, "q0"), undefined);
        const acks: ClientEvent[] = [];
        for (let i = 0; i < 5; i++) acks.push(await nextEvent(client));
        deepStrictEqual(
          acks.map((e) => [e.type, "reasonCode" in e ? e.reasonCode : undefined]),
          ids.map(() => ["acknowledged", 0]),
        );
        deepStrictEqual(acks.map((e) => "packetId" in e && e.packetId), ids);
        // A slot is free again.
        await client.publish({ topic, qos: 1 }, "m5");
        equal((await waitFor(client, "acknowledged")).reasonCode, 0);
        const got: string[] = [];
        for (let i = 0; i < 7; i++) got.push(text((await message(sub)).payload));
        deepStrictEqual(got, ["m0", "m1", "m2", "m3", "m4", "q0", "m5"]);
        await stillWorks(clients, client);
      },
    );
  },
});
