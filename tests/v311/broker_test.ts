// The client on MQTT 3.1.1 (protocolVersion: 4) against a real Mosquitto: CONNACK and Session
// Present, publication both ways at QoS 0, 1 and 2, retained messages, wills, keep alive,
// persistent sessions (Clean Session 0), UNSUBACK, a 5.0 and a 3.1.1 client exchanging messages,
// and every MQTT 5.0-only option refused before a byte is sent. Mosquitto's verbose log is the
// broker's view of the wire: `New client connected ... (p2, c0, k60, ...)` says protocol 3.1.1
// and the Clean Session flag, `Received PUBLISH from X (d0, q1, r0, m1, 'topic', ... (n bytes))`
// the flags, Packet Identifier and payload length the broker read.
//
// One broker per module; each behaviour is a step on topics and client identifiers of its own.
// (Cuts and recovery: recovery_test.ts; refused connections and an ACL: access_test.ts; the broker's
// in-flight and size limits: limits_test.ts; its Maximum QoS: max_qos_test.ts.)

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  ConnectionClosedError,
  type ConnectOptions,
  EncodeError,
  type IncomingMessageEvent,
  NotConnectedError,
  ProtocolVersionError,
  Session,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, type Mosquitto, startMosquitto } from "../_util/mosquitto.ts";
import {
  assertQuiet,
  clientsOf,
  drain,
  escape,
  logged,
  message,
  nextEvent,
  pinged,
  pollUntil,
  publishes,
  receive,
  receivedFrom,
  subscribe,
  text,
  uniqueId,
  uniqueTopic,
  v311,
  v5ClientsOf,
  waitFor,
} from "./_v311.ts";

/** The `New client connected` line of `clientId`: protocol, Clean Session and Keep Alive. */
async function connectLines(broker: Mosquitto, clientId: string, atLeast = 1) {
  const pattern = new RegExp(
    `New client connected from [\\d.:]+ as ${escape(clientId)} \\(p(\\d), c(\\d), k(\\d+)`,
    "g",
  );
  return (await logged(broker, pattern, atLeast)).map((m) => ({
    protocol: Number(m[1]),
    cleanSession: Number(m[2]),
    keepAlive: Number(m[3]),
  }));
}

/** The CONNACKs Mosquitto logged sending to `clientId`: [Session Present, return code]. */
async function connacks(broker: Mosquitto, clientId: string, atLeast = 1) {
  const pattern = new RegExp(`Sending CONNACK to ${escape(clientId)} \\((\\d), (\\d+)\\)`, "g");
  return (await logged(broker, pattern, atLeast)).map((m) => [Number(m[1]), Number(m[2])]);
}

/** The message events among `events`. */
function messages(events: ClientEvent[]): IncomingMessageEvent[] {
  return events.filter((e): e is IncomingMessageEvent => e.type === "message");
}

Deno.test({
  name: "Client on MQTT 3.1.1 against Mosquitto: connect, publication, sessions, wills, keep alive",
  ignore: !brokerAvailable,
  async fn(t) {
    // max_keepalive only shows that Mosquitto 2.0.11 applies it to 5.0 connections alone.
    await using broker = await startMosquitto({ verbose: true, config: ["max_keepalive 100"] });

    await t.step(
      "Client.connect() on 3.1.1: CONNACK return code 0; Session Present 0 with Clean Session 1 [v3.1.1 MQTT-3.2.2-1], 0 with Clean Session 0 and no stored session [v3.1.1 MQTT-3.2.2-3], 1 once the broker holds it [v3.1.1 MQTT-3.2.2-2]",
      async () => {
        await using clients = clientsOf(broker);
        const clientId = uniqueId("connack");
        const clean = await clients.connect({ clientId });
        equal(clean.result.connack.reasonCode, 0);
        equal(clean.result.sessionPresent, false);
        equal(clean.result.clientId, clientId);
        equal(clean.result.assignedClientIdentifier, undefined);
        equal(clean.result.keepAlive, 60);
        equal(clean.result.sessionExpiryInterval, 0);
        // No CONNACK properties on 3.1.1: the limits are the client's own, maximumInflight 20.
        equal(clean.result.limits.receiveMaximum, 20);
        equal(clean.result.limits.maximumPacketSize, undefined);
        equal(clean.result.limits.topicAliasMaximum, 0);
        equal(clean.client.sendQuota, 20);
        await clean.client.disconnect();

        const first = await clients.connect({ clientId, cleanStart: false });
        equal(first.result.sessionPresent, false);
        await first.client.disconnect();
        const second = await clients.connect({ clientId, cleanStart: false });
        equal(second.result.sessionPresent, true);
        equal(second.result.connack.reasonCode, 0);
        await second.client.disconnect();

        // The broker's view: protocol level 4 ("p2" in Mosquitto's numbering), the Clean Session
        // flag as sent, and the CONNACKs as [Session Present, return code].
        deepStrictEqual(
          (await connectLines(broker, clientId, 3)).map((c) => [c.protocol, c.cleanSession]),
          [[2, 1], [2, 0], [2, 0]],
        );
        deepStrictEqual(await connacks(broker, clientId, 3), [[0, 0], [0, 0], [1, 0]]);
      },
    );

    await t.step(
      "an empty Client Identifier with Clean Session 1 is accepted, and 3.1.1 gives the client no word of the identifier the broker assigned [v3.1.1 MQTT-3.1.3-6]; with Clean Session 0 it is refused before anything is sent [v3.1.1 MQTT-3.1.3-7]",
      async () => {
        await using clients = clientsOf(broker);
        const before = broker.logs().match(/as auto-/g)?.length ?? 0;
        const { client, result } = await clients.connect({ clientId: "" });
        equal(result.clientId, "");
        equal(result.assignedClientIdentifier, undefined);
        await assertQuiet(client);
        await client.disconnect();
        equal(
          (await logged(broker, /as auto-[0-9A-F-]+ \(p2, c1/g, before + 1)).length,
          before + 1,
        );
        // On 5.0 Mosquitto hands out the identifier it assigned.
        await using v5 = v5ClientsOf(broker);
        const five = await v5.connect({ clientId: "" });
        ok(five.result.assignedClientIdentifier?.startsWith("auto-"));

        const transport = await connectTcp({ hostname: broker.hostname, port: broker.port });
        const refused = new Client();
        try {
          await rejects(
            refused.connect(transport, { ...v311(broker), clientId: "", cleanStart: false }),
            (e) => e instanceof EncodeError && e.reasonCode === 0x85,
          );
          equal(refused.state, "disconnected");
        } finally {
          transport.close();
        }
      },
    );

    for (const qos of [0, 1, 2] as const) {
      const cites = [
        "[v3.1.1 MQTT-4.3.1-1] [v3.1.1 MQTT-3.3.1-2] [v3.1.1 MQTT-2.3.1-5]",
        "[v3.1.1 MQTT-4.3.2-1] [v3.1.1 MQTT-4.3.2-2] [v3.1.1 MQTT-2.3.1-6]",
        "[v3.1.1 MQTT-4.3.3-1] [v3.1.1 MQTT-4.3.3-2] [v3.1.1 MQTT-2.3.1-6]",
      ][qos];
      await t.step(
        `Client.publish() at QoS ${qos} on 3.1.1: the broker reads DUP 0${
          qos === 0 ? " and no Packet Identifier" : ""
        }; a 3.1.1 subscriber gets exactly the payload, once, and acknowledges it ${cites}`,
        async () => {
          await using clients = clientsOf(broker);
          const topic = uniqueTopic(`v311-qos${qos}`);
          const subId = uniqueId("sub");
          const pubId = uniqueId("pub");
          const { client: sub } = await clients.connect({ clientId: subId });
          deepStrictEqual(await subscribe(sub, topic, 2), [2]);
          const { client: pub } = await clients.connect({ clientId: pubId });
          const payload = `payload at QoS ${qos} ✓`;
          const bytes = new TextEncoder().encode(payload).length;

          const id = await pub.publish({ topic, qos }, payload);
          if (qos === 0) equal(id, undefined);
          // Unacknowledged until PUBACK (QoS 1) or PUBREC (QoS 2), whose events come from poll().
          else {equal(
              pub.session.flight(id!)?.state,
              ["awaiting-puback", "awaiting-pubrec"][qos - 1],
            );}
          if (qos === 1) {
            deepStrictEqual(await nextEvent(pub), {
              type: "acknowledged",
              packetId: id,
              reasonCode: 0,
              properties: {},
            });
          }
          if (qos === 2) {
            equal((await nextEvent(pub)).type, "received");
            equal(pub.session.flight(id!)?.state, "awaiting-pubcomp");
            deepStrictEqual(await nextEvent(pub), {
              type: "completed",
              packetId: id,
              reasonCode: 0,
              properties: {},
            });
          }
          equal(pub.session.state.outgoing.length, 0);
          // DUP 0 on the first send. At QoS 0 no Packet Identifier: Mosquitto logs m0 and read
          // exactly the payload's bytes (an identifier sent anyway would count as 2 bytes more).
          deepStrictEqual(await publishes(broker, "Received", pubId, topic), [
            { dup: 0, qos, retain: 0, mid: id ?? 0, bytes },
          ]);
          if (qos === 2) {
            await logged(broker, new RegExp(`Received PUBREL from ${pubId} \\(Mid: ${id}\\)`, "g"));
          }

          const m = await message(sub);
          deepStrictEqual(
            [m.topic, text(m.payload), m.qos, m.dup, m.retain, m.properties],
            [topic, payload, qos, false, false, {}],
          );
          equal(m.packetId === undefined, qos === 0);
          if (qos === 2) {
            deepStrictEqual(await nextEvent(sub), {
              type: "released",
              packetId: m.packetId,
              reasonCode: 0,
              known: true,
            });
          }
          // Exactly once: nothing else before the PINGRESP.
          deepStrictEqual(await drain(sub), []);
          await pinged(broker, subId);
          // The subscriber's acknowledgements, with the Packet Identifier the broker sent.
          const sent = await publishes(broker, "Sending", subId, topic);
          deepStrictEqual(sent.map((p) => [p.dup, p.qos, p.mid === 0]), [[0, qos, qos === 0]]);
          equal(sent[0]!.mid, m.packetId ?? 0);
          const acks = [[], ["PUBACK"], ["PUBREC", "PUBCOMP"]][qos]!;
          deepStrictEqual(receivedFrom(broker, subId).filter((p) => p.startsWith("PUB")), acks);
          for (const ack of acks) {
            await logged(
              broker,
              new RegExp(`Received ${ack} from ${subId} \\(Mid: ${m.packetId}\\b`, "g"),
            );
          }
        },
      );
    }

    await t.step(
      "each SUBSCRIBE and UNSUBSCRIBE on 3.1.1 gets its own acknowledgement with its Packet Identifier [v3.1.1 MQTT-3.8.4-1] [v3.1.1 MQTT-2.3.1-7] [v3.1.1 MQTT-3.8.4-5]; wildcard filters deliver exactly the matching topics, under their own names [v3.1.1 MQTT-3.3.2-3]",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("filters");
        const { client: sub } = await clients.connect();
        const ids = [
          await sub.subscribe({ filter: `${base}/+/x`, qos: 1 }),
          await sub.subscribe([{ filter: `${base}/a/#`, qos: 2 }, { filter: `${base}/b`, qos: 0 }]),
          await sub.unsubscribe(`${base}/b`),
        ];
        const acks = await pollUntil(sub, (e) => e.type === "unsubscribed");
        deepStrictEqual(acks.map((e) => [e.type, "packetId" in e && e.packetId]), [
          ["subscribed", ids[0]],
          ["subscribed", ids[1]],
          ["unsubscribed", ids[2]],
        ]);
        deepStrictEqual(
          acks.slice(0, 2).map((e) => e.type === "subscribed" && e.reasonCodes),
          [[1], [2, 0]],
        );
        const { client: pub } = await clients.connect();
        const topics = [`${base}/a/x`, `${base}/c/x`, `${base}/a/b/c`, `${base}/b`, `${base}/c/y`];
        for (const topic of topics) await pub.publish({ topic, qos: 1 }, topic);
        await pollUntil(pub, () => pub.session.state.outgoing.length === 0);
        const got = await receive(sub, 3);
        deepStrictEqual(got.map((m) => [m.topic, text(m.payload)]).sort(), [
          [`${base}/a/b/c`, `${base}/a/b/c`],
          [`${base}/a/x`, `${base}/a/x`],
          [`${base}/c/x`, `${base}/c/x`],
        ]);
        deepStrictEqual(await drain(sub), []);
      },
    );

    await t.step(
      "a 3.1.1 client receives its own publications (there is no No Local), at the lower of the published and the granted QoS",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("own");
        const { client } = await clients.connect();
        deepStrictEqual(await subscribe(client, topic, 1), [1]);
        await client.publish({ topic, qos: 2 }, "mine");
        const events = await pollUntil(client, (e) => e.type === "completed");
        deepStrictEqual(messages(events).map((m) => [text(m.payload), m.qos]), [["mine", 1]]);
        deepStrictEqual(await drain(client), []);
      },
    );

    await t.step(
      "a retained message reaches a later 3.1.1 subscriber with RETAIN 1 [v3.1.1 MQTT-3.3.1-8], a live one with RETAIN 0 [v3.1.1 MQTT-3.3.1-9]; an empty one clears it [v3.1.1 MQTT-3.3.1-10]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("retained");
        const pubId = uniqueId("retainer");
        const { client: live } = await clients.connect();
        await subscribe(live, topic, 2);
        const { client: pub } = await clients.connect({ clientId: pubId });
        await pub.publish({ topic, qos: 1, retain: true }, "kept");
        await waitFor(pub, "acknowledged");
        deepStrictEqual((await publishes(broker, "Received", pubId, topic)).map((p) => p.retain), [
          1,
        ]);
        const forwarded = await message(live);
        deepStrictEqual([text(forwarded.payload), forwarded.retain], ["kept", false]);

        const { client: late } = await clients.connect();
        await late.subscribe({ filter: topic, qos: 2 });
        const m = messages(await pollUntil(late, (e) => e.type === "message"))[0]!;
        deepStrictEqual([text(m.payload), m.retain, m.qos], ["kept", true, 1]);

        await pub.publish({ topic, qos: 1, retain: true }, "");
        await waitFor(pub, "acknowledged");
        const cleared = await message(live);
        deepStrictEqual([cleared.payload.length, cleared.retain], [0, false]);
        const { client: third } = await clients.connect();
        await subscribe(third, topic, 1);
        await assertQuiet(third);
      },
    );

    await t.step(
      "a will is published when the 3.1.1 client vanishes without DISCONNECT [v3.1.1 MQTT-3.1.2-8], retained when asked [v3.1.1 MQTT-3.1.2-17]; DISCONNECT discards it [v3.1.1 MQTT-3.14.4-3], and DISCONNECT 0x04 (publish the will) is a 5.0 feature refused with nothing sent",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("will");
        const { client: watcher } = await clients.connect();
        await subscribe(watcher, `${base}/#`, 2);
        const doomedId = uniqueId("doomed");
        const { client: doomed } = await clients.connect({
          clientId: doomedId,
          will: { topic: `${base}/doomed`, payload: "gone", qos: 2, retain: true },
        });
        // The will, as the broker read it from the CONNECT: 4 bytes, RETAIN 1, QoS 2, its topic.
        await logged(
          broker,
          new RegExp(
            `as ${escape(doomedId)} \\(p2[^\\n]*\\n[^\\n]*Will message specified \\(4 bytes\\) ` +
              `\\(r1, q2\\)\\.\\n[^\\n]*\\t${escape(base)}/doomed\\n`,
            "g",
          ),
        );
        const { client: polite } = await clients.connect({
          will: { topic: `${base}/polite`, payload: "never", qos: 1 },
        });
        await rejects(
          polite.disconnect({ reasonCode: 0x04 }),
          (e) => e instanceof ProtocolVersionError && e.option === "reasonCode",
        );
        equal(polite.state, "connected");
        await polite.disconnect();

        doomed.abort();
        const m = await message(watcher);
        deepStrictEqual([m.topic, text(m.payload), m.qos, m.retain], [
          `${base}/doomed`,
          "gone",
          2,
          false,
        ]);
        equal((await nextEvent(watcher)).type, "released");
        // Only the aborted client's will came; the polite one's was discarded.
        deepStrictEqual(await drain(watcher), []);
        // Retained: a later subscriber gets it with RETAIN 1.
        const { client: late } = await clients.connect();
        await late.subscribe({ filter: `${base}/#`, qos: 1 });
        const kept = messages(await pollUntil(late, (e) => e.type === "message"))[0]!;
        deepStrictEqual([kept.topic, text(kept.payload), kept.retain], [
          `${base}/doomed`,
          "gone",
          true,
        ]);
        await rejects(doomed.publish({ topic: base }, "x"), NotConnectedError);
      },
    );

    await t.step(
      "keep alive on 3.1.1: a client that sends PINGREQ when client.keepAlive says so stays connected, each PINGREQ answered [v3.1.1 MQTT-3.1.2-23] [v3.1.1 MQTT-3.12.4-1]; a silent one is closed by the broker with no packet [v3.1.1 MQTT-3.1.2-24]",
      async () => {
        await using clients = clientsOf(broker);
        const pingerId = uniqueId("pinger");
        const silentId = uniqueId("silent");
        const { client: pinger, result } = await clients.connect({
          clientId: pingerId,
          keepAlive: 1,
        });
        equal(result.keepAlive, 1);
        // When the pinger wrote: its CONNECT (about now), then each PINGREQ.
        const writes = [Date.now()];
        const { client: silent } = await clients.connect({
          clientId: silentId,
          keepAlive: 1,
          cleanStart: false,
        });
        // The silent client only waits: Mosquitto (which checks keep alive every few seconds)
        // closes it once 1.5 times the Keep Alive has passed without a packet.
        let silentError: unknown;
        const closed = silent.poll({ signal: AbortSignal.timeout(15_000) }).then(
          (e) => new Error(`unexpected ${e.type}`),
          (e: unknown) => e,
        ).then((e) => silentError = e);
        let pongs = 0;
        let pings = 0;
        const started = Date.now();
        while (silentError === undefined) {
          const { interval, pingDueAt, deadline } = pinger.keepAlive;
          equal(interval, 1);
          ok(pingDueAt !== undefined && deadline !== undefined);
          const wait = Math.max(1, Math.min(pingDueAt - Date.now(), 100));
          try {
            if ((await pinger.poll({ signal: AbortSignal.timeout(wait) })).type === "pong") pongs++;
          } catch (e) {
            if (!(e instanceof DOMException && e.name === "TimeoutError")) throw e;
          }
          if (Date.now() >= pinger.keepAlive.pingDueAt!) {
            await pinger.ping();
            writes.push(Date.now());
            pings++;
          }
        }
        // No gap between two packets of the pinger exceeded the Keep Alive (plus the 100 ms steps
        // of this loop and some scheduling).
        const gaps = writes.slice(1).map((at, i) => at - writes[i]!);
        ok(gaps.every((gap) => gap <= 1250), `gaps between packets: ${gaps} ms`);
        const error = await closed;
        ok(error instanceof ConnectionClosedError, String(error));
        // Clean Session 0: the session outlives the connection.
        equal(error.sessionResumable, true);
        ok(Date.now() - started >= 1500, "closed before 1.5 times the Keep Alive");
        await logged(broker, new RegExp(`Client ${silentId} has exceeded timeout`, "g"));
        deepStrictEqual(receivedFrom(broker, silentId), []);

        // The pinger is still connected, and every PINGREQ got its PINGRESP.
        await pinger.ping();
        pings++;
        await waitFor(pinger, "pong");
        pongs++;
        equal(pinger.state, "connected");
        ok(pings >= 2, `only ${pings} PINGREQs in ${Date.now() - started} ms`);
        equal(pongs, pings);
        const sent = receivedFrom(broker, pingerId);
        equal(sent.filter((p) => p === "PINGREQ").length, pings);
        equal(
          (await logged(broker, new RegExp(`Sending PINGRESP to ${pingerId}\\n`, "g"), pings))
            .length,
          pings,
        );
      },
    );

    await t.step(
      "Mosquitto 2.0.11 applies max_keepalive to 5.0 connections only: a 3.1.1 Keep Alive above it stays in force, a 5.0 one is replaced by the Server Keep Alive",
      async () => {
        await using clients = clientsOf(broker);
        const id4 = uniqueId("ka4");
        const { result } = await clients.connect({ clientId: id4, keepAlive: 200 });
        equal(result.keepAlive, 200);
        deepStrictEqual((await connectLines(broker, id4)).map((c) => c.keepAlive), [200]);
        await using v5 = v5ClientsOf(broker);
        const five = await v5.connect({ keepAlive: 200 });
        equal(five.result.keepAlive, 100);
      },
    );

    await t.step(
      "a second connection with the same Client Identifier closes the first with no packet on 3.1.1 [v3.1.1 MQTT-3.1.4-2]; the error says whether the session is resumable: exactly when Clean Session was 0 [v3.1.1 MQTT-3.1.2-4] [v3.1.1 MQTT-3.1.2-6]",
      async () => {
        await using clients = clientsOf(broker);
        for (const cleanStart of [false, true]) {
          const clientId = uniqueId("taken");
          const { client: first } = await clients.connect({ clientId, cleanStart });
          await clients.connect({ clientId, cleanStart });
          const error = await first.poll({ signal: AbortSignal.timeout(5000) }).catch((e) => e);
          ok(error instanceof ConnectionClosedError, String(error));
          equal(error.sessionResumable, !cleanStart);
          await rejects(
            first.publish({ topic: "x" }, "x"),
            (e) => e instanceof NotConnectedError && e.sessionResumable === !cleanStart,
          );
        }
      },
    );

    await t.step(
      "Clean Session 0: the broker keeps the subscriptions and queues QoS 1 and 2 (not QoS 0) while the client is away; the reconnect has Session Present 1 and receives them [v3.1.1 MQTT-3.1.2-4] [v3.1.1 MQTT-3.1.2-5] [v3.1.1 MQTT-4.1.0-1]",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("persist");
        const clientId = uniqueId("persist");
        const session = new Session();
        const first = await clients.connect(
          { clientId, cleanStart: false },
          new Client({ session }),
        );
        equal(first.result.sessionPresent, false);
        await first.client.subscribe([
          { filter: `${base}/two`, qos: 2 },
          { filter: `${base}/one`, qos: 1 },
        ]);
        deepStrictEqual((await waitFor(first.client, "subscribed")).reasonCodes, [2, 1]);
        await first.client.disconnect();

        const { client: pub } = await clients.connect();
        const plan = [["one", 1], ["two", 2], ["two", 0], ["one", 2]] as const;
        for (const [topic, qos] of plan) {
          await pub.publish({ topic: `${base}/${topic}`, qos }, `${topic}@${qos}`);
        }
        await pollUntil(pub, () => pub.session.state.outgoing.length === 0);

        const again = await clients.connect(
          { clientId, cleanStart: false },
          new Client({ session }),
        );
        equal(again.result.sessionPresent, true);
        deepStrictEqual(again.result.discarded, []);
        // The client kept its record of the subscriptions too.
        deepStrictEqual(session.state.subscriptions.map((s) => [s.filter, s.grantedQoS]), [
          [`${base}/two`, 2],
          [`${base}/one`, 1],
        ]);
        const queued = await receive(again.client, 3);
        deepStrictEqual(queued.map((m) => [text(m.payload), m.qos, m.dup]), [
          ["one@1", 1, false],
          ["two@2", 2, false],
          ["one@2", 1, false],
        ]);
        deepStrictEqual(await drain(again.client), []);
        // The subscriptions are in force on the resumed session without a new SUBSCRIBE.
        await pub.publish({ topic: `${base}/one`, qos: 1 }, "live");
        deepStrictEqual((await receive(again.client, 1)).map((m) => text(m.payload)), ["live"]);
        equal(receivedFrom(broker, clientId).filter((p) => p === "SUBSCRIBE").length, 1);
        await again.client.disconnect();
      },
    );

    await t.step(
      "Clean Session 1 drops the session: what was queued and the subscriptions are gone, on both sides, and a later Clean Session 0 finds no session (Session Present 0) [v3.1.1 MQTT-3.1.2-6] [v3.1.1 MQTT-3.2.2-3]; on 5.0 the same Clean Start 0 without a Session Expiry Interval keeps nothing either, while 3.1.1 keeps the session with no expiry to ask for",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("clean");
        const clientId = uniqueId("clean");
        const session = new Session();
        const first = await clients.connect(
          { clientId, cleanStart: false },
          new Client({ session }),
        );
        await subscribe(first.client, topic, 1);
        await first.client.disconnect();
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1 }, "queued");
        await waitFor(pub, "acknowledged");

        const clean = await clients.connect(
          { clientId, cleanStart: true },
          new Client({ session }),
        );
        equal(clean.result.sessionPresent, false);
        deepStrictEqual(session.state.subscriptions, []);
        await pub.publish({ topic, qos: 1 }, "after");
        await waitFor(pub, "acknowledged");
        deepStrictEqual(await drain(clean.client), [], "neither the queued nor a new message");
        await clean.client.disconnect();

        const later = await clients.connect(
          { clientId, cleanStart: false },
          new Client({ session }),
        );
        equal(later.result.sessionPresent, false);
        await later.client.disconnect();
        // The 3.1.1 session of Clean Session 0 outlives the connection with no expiry asked for.
        const kept = await clients.connect({ clientId, cleanStart: false });
        equal(kept.result.sessionPresent, true);
        await kept.client.disconnect();

        await using v5 = v5ClientsOf(broker);
        const id5 = uniqueId("clean5");
        await (await v5.connect({ clientId: id5, cleanStart: false })).client.disconnect();
        equal(
          (await v5.connect({ clientId: id5, cleanStart: false })).result.sessionPresent,
          false,
        );
      },
    );

    await t.step(
      "Client.unsubscribe() on 3.1.1: the UNSUBACK event reads 0x00 for every filter, even one never subscribed (Mosquitto tells a 5.0 client 0x11), and the broker stops forwarding",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("unsub");
        const { client: sub } = await clients.connect();
        await sub.subscribe([{ filter: `${base}/a`, qos: 1 }, { filter: `${base}/b`, qos: 1 }]);
        await waitFor(sub, "subscribed");
        const filters = [`${base}/a`, `${base}/never`, `${base}/b`];
        const id = await sub.unsubscribe(filters);
        deepStrictEqual(await nextEvent(sub), {
          type: "unsubscribed",
          packetId: id,
          reasonCodes: [0, 0, 0],
          filters,
          properties: {},
        });
        deepStrictEqual(sub.session.state.subscriptions, []);
        const { client: pub } = await clients.connect();
        await pub.publish({ topic: `${base}/a`, qos: 1 }, "a");
        await waitFor(pub, "acknowledged");
        deepStrictEqual(await drain(sub), []);

        await using v5 = v5ClientsOf(broker);
        const { client: five } = await v5.connect();
        await five.subscribe({ filter: `${base}/a`, qos: 1 });
        await waitFor(five, "subscribed");
        await five.unsubscribe([`${base}/a`, `${base}/never`]);
        deepStrictEqual((await waitFor(five, "unsubscribed")).reasonCodes, [0x00, 0x11]);
      },
    );

    await t.step(
      "a 5.0 and a 3.1.1 client exchange messages both ways at QoS 0, 1 and 2, each delivered exactly once; the 3.1.1 side gets the payload without the 5.0 properties",
      async () => {
        await using clients4 = clientsOf(broker);
        await using clients5 = v5ClientsOf(broker);
        const base = uniqueTopic("mixed");
        const { client: c4 } = await clients4.connect();
        const { client: c5 } = await clients5.connect();
        deepStrictEqual(await subscribe(c4, `${base}/from5`, 2), [2]);
        deepStrictEqual(await subscribe(c5, `${base}/from4`, 2), [2]);
        const te = new TextEncoder();
        for (const qos of [0, 1, 2] as const) {
          const ack = [undefined, "acknowledged", "completed"][qos];
          await c5.publish({
            topic: `${base}/from5`,
            qos,
            properties: {
              payloadFormatIndicator: 1,
              contentType: "text/plain",
              messageExpiryInterval: 60,
              responseTopic: `${base}/reply`,
              correlationData: te.encode("c"),
              userProperties: [["k", "v"]],
            },
          }, `5to4@${qos}`);
          if (ack) await waitFor(c5, ack as "acknowledged");
          const to4 = await receive(c4, 1);
          deepStrictEqual(to4.map((m) => [text(m.payload), m.qos, m.properties]), [
            [`5to4@${qos}`, qos, {}],
          ]);

          await c4.publish({ topic: `${base}/from4`, qos }, `4to5@${qos}`);
          if (ack) await waitFor(c4, ack as "acknowledged");
          const to5 = await receive(c5, 1);
          deepStrictEqual(to5.map((m) => [text(m.payload), m.qos, m.dup, m.retain]), [
            [`4to5@${qos}`, qos, false, false],
          ]);
          deepStrictEqual(to5[0]!.properties, {});
        }
        deepStrictEqual(await drain(c4), []);
        deepStrictEqual(await drain(c5), []);

        // A retained 3.1.1 publication: a 5.0 subscriber asking Retain As Published keeps the flag
        // on a live subscription; a 3.1.1 subscriber cannot ask.
        const { client: rap } = await clients5.connect();
        await rap.subscribe({ filter: `${base}/kept`, qos: 1, retainAsPublished: true });
        await waitFor(rap, "subscribed");
        await subscribe(c4, `${base}/kept`, 1);
        await c4.publish({ topic: `${base}/kept`, qos: 1, retain: true }, "kept");
        const own = await receive(c4, 1);
        deepStrictEqual(own.map((m) => [text(m.payload), m.retain]), [["kept", false]]);
        deepStrictEqual((await receive(rap, 1)).map((m) => [text(m.payload), m.retain]), [
          ["kept", true],
        ]);
      },
    );

    await t.step(
      "every 5.0-only option is refused on a real 3.1.1 connection with ProtocolVersionError naming it, before a byte is sent: the broker receives nothing for it, and the client stays usable",
      async () => {
        const te = new TextEncoder();
        const refusedId = uniqueId("refused");
        const logStart = broker.logs().length;
        const unknownBefore = broker.logs().match(/Client <unknown> closed its connection/g)
          ?.length ?? 0;
        const connectOptions: [string, ConnectOptions][] = [
          ["sessionExpiryInterval", { sessionExpiryInterval: 60 }],
          ["receiveMaximum", { receiveMaximum: 10 }],
          ["maximumPacketSize", { maximumPacketSize: 1000 }],
          ["topicAliasMaximum", { topicAliasMaximum: 5 }],
          ["requestResponseInformation", { requestResponseInformation: true }],
          ["requestProblemInformation", { requestProblemInformation: false }],
          ["userProperties", { userProperties: [["k", "v"]] }],
          ["authenticationMethod", { authenticationMethod: "SCRAM-SHA-1" }],
          ["authenticationData", { authenticationData: te.encode("x") }],
          ["onAuth", { onAuth: () => ({}) }],
          ...([
            ["willDelayInterval", 5],
            ["payloadFormatIndicator", 1],
            ["messageExpiryInterval", 60],
            ["contentType", "text/plain"],
            ["responseTopic", "r"],
            ["correlationData", te.encode("c")],
            ["userProperties", [["k", "v"]]],
          ] as const).map(([key, value]): [string, ConnectOptions] => [
            `will.properties.${key}`,
            { will: { topic: "w", payload: "w", properties: { [key]: value } } },
          ]),
        ];
        for (const [option, extra] of connectOptions) {
          const transport = await connectTcp({ hostname: broker.hostname, port: broker.port });
          const client = new Client();
          try {
            await rejects(
              client.connect(transport, { ...v311(broker), clientId: refusedId, ...extra }),
              (e) =>
                e instanceof ProtocolVersionError && e.option === option &&
                e.protocolVersion === 4 && e.recoverable,
            );
            equal(client.state, "disconnected");
          } finally {
            transport.close();
          }
        }
        // And the other way round: maximumInflight is 3.1.1's, the protocol level 4 or 5.
        for (
          const [extra, error] of [
            [{ protocolVersion: 5, maximumInflight: 2 }, TypeError],
            [{ protocolVersion: 3 }, RangeError],
            [{ protocolVersion: 4, maximumInflight: 0 }, RangeError],
          ] as const
        ) {
          const transport = await connectTcp({ hostname: broker.hostname, port: broker.port });
          try {
            await rejects(
              new Client().connect(transport, {
                ...v311(broker),
                clientId: refusedId,
                ...extra as ConnectOptions,
              }),
              error,
            );
          } finally {
            transport.close();
          }
        }
        // Mosquitto saw the TCP connections but never a CONNECT on them. (The log before the
        // first of them may still hold the end of the previous step.)
        const accepted = connectOptions.length + 3;
        const unknownClosed = /Client <unknown> closed its connection/g;
        await logged(broker, unknownClosed, unknownBefore + accepted);
        const during = broker.logs().slice(logStart);
        const ours = during.slice(during.indexOf("New connection from"));
        equal(ours.match(/New connection from/g)?.length, accepted, ours);
        ok(!during.includes(refusedId), during);
        ok(!/New client connected|Received /.test(ours), ours);

        // On a connection: every call with a 5.0-only option.
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("refused");
        const clientId = uniqueId("usable");
        const { client } = await clients.connect({ clientId }, new Client({ manualAck: true }));
        deepStrictEqual(await subscribe(client, topic, 1), [1]);
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1 }, "to acknowledge");
        const m = await message(client);
        const calls: [string, () => Promise<unknown>][] = [
          ...([
            ["payloadFormatIndicator", 1],
            ["messageExpiryInterval", 60],
            ["topicAlias", 1],
            ["responseTopic", "r"],
            ["correlationData", te.encode("c")],
            ["userProperties", [["k", "v"]]],
            ["subscriptionIdentifiers", [1]],
            ["contentType", "text/plain"],
          ] as const).map(([key, value]): [string, () => Promise<unknown>] => [
            `properties.${key}`,
            () => client.publish({ topic, qos: 1, properties: { [key]: value } }, "x"),
          ]),
          [
            "subscriptionIdentifier",
            () => client.subscribe({ filter: topic }, { subscriptionIdentifier: 1 }),
          ],
          [
            "userProperties",
            () => client.subscribe({ filter: topic }, { userProperties: [["k", "v"]] }),
          ],
          ["noLocal", () => client.subscribe({ filter: topic, noLocal: true })],
          ["retainAsPublished", () => client.subscribe({ filter: topic, retainAsPublished: true })],
          ["retainHandling", () => client.subscribe({ filter: topic, retainHandling: 2 })],
          ["userProperties", () => client.unsubscribe(topic, { userProperties: [["k", "v"]] })],
          ["reasonCode", () => client.acknowledge(m.packetId!, { reasonCode: 0x80 })],
          [
            "properties.reasonString",
            () => client.acknowledge(m.packetId!, { properties: { reasonString: "no" } }),
          ],
          [
            "properties.userProperties",
            () => client.acknowledge(m.packetId!, { properties: { userProperties: [["k", "v"]] } }),
          ],
          ["reasonCode", () => client.disconnect({ reasonCode: 0x04 })],
          ...([
            ["sessionExpiryInterval", 0],
            ["reasonString", "bye"],
            ["userProperties", [["k", "v"]]],
            ["serverReference", "elsewhere"],
          ] as const).map(([key, value]): [string, () => Promise<unknown>] => [
            `properties.${key}`,
            () => client.disconnect({ properties: { [key]: value } }),
          ]),
          ["auth() (enhanced authentication)", () => client.auth({})],
        ];
        for (const [option, call] of calls) {
          await rejects(
            call(),
            (e) => e instanceof ProtocolVersionError && e.option === option && e.recoverable,
            option,
          );
          equal(client.state, "connected", option);
        }
        equal(client.take(), undefined, "nothing came in the meantime");
        equal(client.session.state.outgoing.length, 0, "no flight was recorded");
        // Still usable: the plain acknowledgement goes, and PINGREQ is answered.
        await client.acknowledge(m.packetId!);
        await assertQuiet(client);
        await pinged(broker, clientId);
        deepStrictEqual(receivedFrom(broker, clientId), ["SUBSCRIBE", "PUBACK", "PINGREQ"]);
      },
    );
  },
});
