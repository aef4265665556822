// The broker's limits on MQTT 3.1.1, where a CONNACK announces none of them: Mosquitto with
// max_inflight_messages 2, retain_available false and max_packet_size 1000. A 5.0 client learns
// each from the CONNACK and is refused before it sends; a 3.1.1 client cannot know them, so what
// Mosquitto does past them is what the application sees: the client's maximumInflight must not
// exceed max_inflight_messages (QoS 2 beyond it is dropped behind a PUBREC that looks like
// success), and a retained or oversized PUBLISH ends the connection.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Client, ConnectionClosedError, EncodeError, ServerCapabilityError } from "../../mod.ts";
import { brokerAvailable, type Mosquitto, startMosquitto } from "../_util/mosquitto.ts";
import {
  clientsOf,
  drain,
  escape,
  logged,
  nextEvent,
  pollUntil,
  receive,
  subscribe,
  text,
  uniqueId,
  uniqueTopic,
  v5ClientsOf,
} from "./_v311.ts";

/** Polls until the connection is found closed; returns the error. */
async function closedError(client: Client): Promise<ConnectionClosedError> {
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    try {
      await client.poll({ signal });
    } catch (e) {
      ok(e instanceof ConnectionClosedError, String(e));
      return e;
    }
  }
}

/** The PUBRECs Mosquitto logged sending to `clientId`, as [Packet Identifier, reason code]. */
function pubrecsTo(broker: Mosquitto, clientId: string): number[][] {
  const pattern = new RegExp(`Sending PUBREC to ${escape(clientId)} \\(m(\\d+), rc(\\d+)\\)`, "g");
  return [...broker.logs().matchAll(pattern)].map((m) => [Number(m[1]), Number(m[2])]);
}

Deno.test({
  name: "Client on MQTT 3.1.1 against Mosquitto's in-flight, retain and packet size limits",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({
      verbose: true,
      config: ["max_inflight_messages 2", "retain_available false", "max_packet_size 1000"],
    });

    await t.step(
      "QoS 2 past Mosquitto's max_inflight_messages on 3.1.1: the PUBRECs look like success (3.1.1 carries no 0x97) and the client reports completed, but the broker dropped the messages; a 5.0 client gets the limit as Receive Maximum and is stopped first",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("over-limit");
        const pubId = uniqueId("over-limit");
        const { client: sub } = await clients.connect();
        await subscribe(sub, topic, 2);
        // The client allows 4 in flight, the broker 2: nothing tells the client.
        const { client: pub, result } = await clients.connect({
          clientId: pubId,
          maximumInflight: 4,
        });
        equal(result.limits.receiveMaximum, 4);
        const ids = [];
        for (let i = 0; i < 4; i++) ids.push(pub.publish({ topic, qos: 2 }, `m${i}`).packetId!);
        await pub.flush();
        const events = await pollUntil(pub, () => pub.session.state.outgoing.length === 0);
        deepStrictEqual(
          events.filter((e) => e.type === "completed").map((e) => "packetId" in e && e.packetId),
          ids,
        );
        ok(events.every((e) => e.type === "received" || e.type === "completed"));
        // The broker refused the third and fourth with 0x97, which their PUBRECs could not say.
        await logged(broker, new RegExp(`Sending PUBREC to ${escape(pubId)} \\(m${ids[3]}`, "g"));
        deepStrictEqual(pubrecsTo(broker, pubId), [
          [ids[0], 0],
          [ids[1], 0],
          [ids[2], 0x97],
          [ids[3], 0x97],
        ]);
        deepStrictEqual(await drain(sub), ["m0", "m1"]);

        await using v5 = v5ClientsOf(broker);
        const five = await v5.connect();
        equal(five.result.limits.receiveMaximum, 2);
      },
    );

    await t.step(
      "maximumInflight at the broker's limit: waitForQuota() paces the publisher while a poll loop takes the acknowledgements, and every QoS 2 message arrives exactly once",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("at-limit");
        const { client: sub } = await clients.connect();
        await subscribe(sub, topic, 2);
        const { client: pub } = await clients.connect({ maximumInflight: 2 });
        const payloads = ["a", "b", "c", "d", "e", "f"];
        let completed = 0;
        const poller = pollUntil(pub, (e) => e.type === "completed" && ++completed === 6);
        for (const payload of payloads) {
          await pub.waitForQuota({ signal: AbortSignal.timeout(5000) });
          ok(pub.session.state.outgoing.length < 2);
          pub.publish({ topic, qos: 2 }, payload);
        }
        await poller;
        deepStrictEqual((await receive(sub, 6)).map((m) => text(m.payload)), payloads);
        deepStrictEqual(await drain(sub), []);
      },
    );

    await t.step(
      "QoS 1 past max_inflight_messages: Mosquitto counts only QoS 2 towards its incoming limit, so 4 QoS 1 in flight are all acknowledged and delivered",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("qos1-over");
        const { client: sub } = await clients.connect();
        await subscribe(sub, topic, 1);
        const { client: pub } = await clients.connect({ maximumInflight: 4 });
        for (let i = 0; i < 4; i++) pub.publish({ topic, qos: 1 }, `q${i}`);
        await pub.flush();
        await pollUntil(pub, () => pub.session.state.outgoing.length === 0);
        deepStrictEqual((await receive(sub, 4)).map((m) => text(m.payload)), [
          "q0",
          "q1",
          "q2",
          "q3",
        ]);
        deepStrictEqual(await drain(sub), []);
      },
    );

    await t.step(
      "max_inflight_messages paces Mosquitto's deliveries to a 3.1.1 client (which has no Receive Maximum to announce): a manual-ack subscriber gets 2 QoS 1 messages, and more only once it acknowledges",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("paced");
        const { client: sub } = await clients.connect({}, new Client({ manualAck: true }));
        await subscribe(sub, topic, 1);
        const { client: pub } = await clients.connect({ maximumInflight: 6 });
        const payloads = ["d0", "d1", "d2", "d3", "d4", "d5"];
        for (const payload of payloads) pub.publish({ topic, qos: 1 }, payload);
        await pollUntil(pub, () => pub.session.state.outgoing.length === 0);
        const got = await receive(sub, 2);
        deepStrictEqual(got.map((m) => text(m.payload)), ["d0", "d1"]);
        deepStrictEqual(await drain(sub), [], "nothing more before an acknowledgement");
        // Each acknowledgement lets more come (Mosquitto 2.0.11 sends two per PUBACK, so up to
        // 3 are in flight: its pacing is loose, and 3.1.1 gives the client nothing to check).
        for (let acked = 0; got.length < payloads.length; acked++) {
          await sub.acknowledge(got[acked]!.packetId!);
          got.push(...await receive(sub, 1));
        }
        deepStrictEqual(got.map((m) => text(m.payload)), payloads);
        deepStrictEqual(await drain(sub), []);
      },
    );

    await t.step(
      "retain_available false: a retained publication on 3.1.1 makes Mosquitto close the connection with no packet, the flight kept in the session; a 5.0 client learns it from the CONNACK and is refused before sending",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("retain");
        const clientId = uniqueId("retain");
        const { client, result } = await clients.connect({ clientId, cleanStart: false });
        equal(result.limits.retainAvailable, true, "3.1.1 cannot know");
        const id = await client.publish({ topic, qos: 1, retain: true }, "kept");
        const error = await closedError(client);
        equal(error.sessionResumable, true);
        equal(client.session.flight(id!)?.state, "awaiting-puback");
        await logged(
          broker,
          new RegExp(`Bad socket read/write on client ${escape(clientId)}`, "g"),
        );

        await using v5 = v5ClientsOf(broker);
        const { client: five, result: r5 } = await v5.connect();
        equal(r5.limits.retainAvailable, false);
        await rejects(five.publish({ topic, qos: 1, retain: true }, "kept"), ServerCapabilityError);
        equal(five.state, "connected");
      },
    );

    await t.step(
      "max_packet_size 1000: on 3.1.1 a larger PUBLISH makes Mosquitto close the connection (the client knows no limit); a 5.0 client refuses it before sending with EncodeError 0x95",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("size");
        const clientId = uniqueId("size");
        const { client, result } = await clients.connect({ clientId });
        equal(result.limits.maximumPacketSize, undefined);
        await client.publish({ topic, qos: 0 }, "x".repeat(900));
        await client.publish({ topic, qos: 1 }, "x".repeat(1000));
        const error = await closedError(client);
        equal(error.sessionResumable, false);
        await logged(
          broker,
          new RegExp(`Client ${escape(clientId)} disconnected due to oversize packet`, "g"),
        );

        await using v5 = v5ClientsOf(broker);
        const { client: five, result: r5 } = await v5.connect();
        equal(r5.limits.maximumPacketSize, 1000);
        await rejects(
          five.publish({ topic, qos: 1 }, "x".repeat(1000)),
          (e) => e instanceof EncodeError && e.reasonCode === 0x95,
        );
        await five.ping();
        equal((await nextEvent(five)).type, "pong");
      },
    );
  },
});
