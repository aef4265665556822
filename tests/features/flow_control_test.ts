// Flow control (section 4.9) against Mosquitto with `max_inflight_messages 3`: the server's Receive
// Maximum is the client's send quota, only PUBLISH is ever held back by it, and the client's own
// Receive Maximum reaches the server. (A server exceeding the client's Receive Maximum is answered
// with DISCONNECT 0x93: tests/client/peer_test.ts.)

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  decode,
  encode,
  PacketType,
  ProtocolViolationError,
  QuotaExceededError,
  Session,
} from "../../mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { connectRaw, startPeer } from "../_util/peer.ts";
import {
  assertQuiet,
  clientsOf,
  message,
  nextEvent,
  openPeer,
  subscribed,
  tappedTcp,
  text,
  uniqueTopic,
  waitFor,
  waitForLog,
  Wiretap,
} from "./_features.ts";

const te = new TextEncoder();

Deno.test({
  name: "Flow control against Mosquitto with a Receive Maximum of 3",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({
      verbose: true,
      config: ["max_inflight_messages 3"],
    });

    await t.step(
      "Client.publish() uses the server's Receive Maximum as its send quota: the 4th QoS 1/2 publication throws QuotaExceededError with nothing sent, and goes out once an acknowledgement is polled [MQTT-3.3.4-7] [MQTT-4.9.0-1] [MQTT-4.9.0-2]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("quota");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 2 });
        const tap = new Wiretap();
        const { client, result } = await clients.connect(
          {},
          undefined,
          await tappedTcp(broker, tap),
        );
        equal(result.limits.receiveMaximum, 3);

        const ids = [
          await client.publish({ topic, qos: 1 }, "m0"),
          await client.publish({ topic, qos: 2 }, "m1"),
          await client.publish({ topic, qos: 1 }, "m2"),
        ];
        const written = tap.packets().length;
        const next = client.session.state.nextPacketId;
        for (const qos of [1, 2] as const) {
          await rejects(client.publish({ topic, qos }, "m3"), (e: unknown) => {
            ok(e instanceof QuotaExceededError);
            equal(e.reasonCode, 0x97);
            equal(e.receiveMaximum, 3);
            equal(e.recoverable, true);
            return true;
          });
        }
        equal(client.session.state.nextPacketId, next, "no Packet Identifier was taken");
        deepStrictEqual(client.session.state.outgoing.map((f) => f.packetId), ids);
        // QoS 0 is outside the quota.
        await client.publish({ topic, qos: 0 }, "q0");
        deepStrictEqual(tap.since(written).map((p) => p.type), [PacketType.Publish]);

        const ack = await nextEvent(client);
        deepStrictEqual([ack.type, "packetId" in ack && ack.packetId], ["acknowledged", ids[0]]);
        const id = await client.publish({ topic, qos: 2 }, "m3");
        const sent = tap.packets().at(-1)!;
        ok(sent.type === PacketType.Publish && sent.packetId === id && sent.qos === 2);

        const events: ClientEvent[] = [];
        while (client.session.state.outgoing.length > 0) events.push(await nextEvent(client));
        deepStrictEqual(events.filter((e) => e.type === "rejected"), []);
        const got: string[] = [];
        for (let i = 0; i < 5; i++) {
          got.push(text((await waitFor(sub, "message")).payload));
        }
        // Mosquitto forwards a QoS 2 message once it is released, so the order may differ.
        deepStrictEqual(got.sort(), ["m0", "m1", "m2", "m3", "q0"]);
      },
    );

    await t.step(
      "with the send quota used up the client still sends PUBACK, PUBREC, PINGREQ and DISCONNECT: only PUBLISH is held back [MQTT-3.3.4-8] [MQTT-4.9.0-3]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("held");
        const clientId = `held-${crypto.randomUUID().slice(0, 8)}`;
        const { client } = await clients.connect({ clientId });
        await subscribed(client, { filter: topic, qos: 2 });
        // Two messages wait for the client before its own publications fill the quota.
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1 }, "one");
        await waitFor(pub, "acknowledged");
        await pub.publish({ topic, qos: 2 }, "two");
        await waitFor(pub, "completed");
        const elsewhere = uniqueTopic("nobody");
        for (let i = 0; i < 3; i++) await client.publish({ topic: elsewhere, qos: 1 }, `x${i}`);
        await rejects(client.publish({ topic: elsewhere, qos: 1 }, "x3"), QuotaExceededError);

        const one = await message(client);
        equal(one.qos, 1);
        equal(client.session.state.outgoing.length, 3, "the quota is still used up");
        await waitForLog(
          broker,
          new RegExp(`Received PUBACK from ${clientId} \\(Mid: ${one.packetId}, RC:0\\)`),
        );
        const two = await message(client);
        equal(two.qos, 2);
        equal(client.session.state.outgoing.length, 3, "the quota is still used up");
        await waitForLog(
          broker,
          new RegExp(`Received PUBREC from ${clientId} \\(Mid: ${two.packetId}\\)`),
        );
        await client.ping();
        await waitForLog(broker, new RegExp(`Received PINGREQ from ${clientId}`));
        equal(client.session.state.outgoing.length, 3);
        await client.disconnect();
        await waitForLog(broker, new RegExp(`Received DISCONNECT from ${clientId}`));
      },
    );

    await t.step(
      "Mosquitto answers a QoS 2 PUBLISH beyond its Receive Maximum with PUBREC 0x97 (a raw client that keeps no quota)",
      async () => {
        await using raw = await connectRaw(broker);
        await raw.write(encode({
          type: PacketType.Connect,
          clientId: `raw-${crypto.randomUUID().slice(0, 8)}`,
          cleanStart: true,
          username: broker.username,
          password: te.encode(broker.password),
        }));
        const connack = decode(await raw.readPacket());
        ok(connack.type === PacketType.Connack && connack.properties?.receiveMaximum === 3);
        const topic = uniqueTopic("raw");
        for (let id = 1; id <= 4; id++) {
          await raw.write(encode({
            type: PacketType.Publish,
            topic,
            qos: 2,
            packetId: id,
            payload: te.encode(`r${id}`),
          }));
        }
        const codes: number[] = [];
        for (let i = 0; i < 4; i++) {
          const pubrec = decode(await raw.readPacket());
          ok(pubrec.type === PacketType.Pubrec);
          codes.push(pubrec.reasonCode ?? 0);
        }
        deepStrictEqual(codes, [0, 0, 0, 0x97]);
      },
    );

    await t.step(
      "300 QoS 1 and 2 publications as fast as the send quota of 3 allows: Mosquitto refuses none with 0x97 and the subscriber gets each once [MQTT-3.3.4-7]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("burst");
        const total = 300;
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 2 });
        const receiving = (async () => {
          const seen = new Map<string, number>();
          const signal = AbortSignal.timeout(20_000);
          while (seen.size < total || sub.session.state.incoming.length > 0) {
            const e = await sub.poll({ signal });
            if (e.type === "message") {
              seen.set(text(e.payload), (seen.get(text(e.payload)) ?? 0) + 1);
            } else if (e.type !== "released") {
              throw new Error(`unexpected ${JSON.stringify(e)}`);
            }
          }
          return seen;
        })();

        const { client: pub } = await clients.connect();
        const events: ClientEvent[] = [];
        let refused = 0;
        let most = 0;
        const signal = AbortSignal.timeout(20_000);
        for (let i = 0; i < total;) {
          try {
            await pub.publish({ topic, qos: i % 2 === 0 ? 1 : 2 }, `m${i}`);
            i++;
            most = Math.max(most, pub.session.state.outgoing.length);
          } catch (e) {
            if (!(e instanceof QuotaExceededError)) throw e;
            refused++;
            events.push(await pub.poll({ signal }));
          }
        }
        while (pub.session.state.outgoing.length > 0) events.push(await pub.poll({ signal }));

        equal(most, 3, "never more than 3 in flight");
        ok(refused > 0, "the quota was reached");
        deepStrictEqual(events.filter((e) => e.type === "rejected"), []);
        equal(events.filter((e) => e.type === "acknowledged").length, total / 2);
        equal(events.filter((e) => e.type === "completed").length, total / 2);
        const seen = await receiving;
        equal(seen.size, total);
        ok([...seen.values()].every((n) => n === 1), "each message exactly once");
      },
    );

    await t.step(
      "the client's Receive Maximum reaches Mosquitto, which holds messages back; when Mosquitto 2.0.11 overruns it after a PUBACK, the client sends DISCONNECT 0x93 [MQTT-3.3.4-9]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("client-quota");
        const clientId = `rm-${crypto.randomUUID().slice(0, 8)}`;
        const tap = new Wiretap();
        const { client: sub } = await clients.connect(
          { clientId, receiveMaximum: 2 },
          new Client({ manualAck: true }),
          await tappedTcp(broker, tap),
        );
        const connect = tap.packets()[0]!;
        ok(connect.type === PacketType.Connect);
        equal(connect.properties?.receiveMaximum, 2);
        await subscribed(sub, { filter: topic, qos: 1 });
        const { client: pub } = await clients.connect();
        for (let i = 0; i < 5; i++) {
          await pub.publish({ topic, qos: 1 }, `m${i}`);
          await waitFor(pub, "acknowledged");
        }
        const first = await message(sub);
        const second = await message(sub);
        deepStrictEqual([text(first.payload), text(second.payload)], ["m0", "m1"]);
        // Two unacknowledged: Mosquitto holds m2 back (PINGRESP comes first).
        await assertQuiet(sub);
        // One PUBACK frees one slot, but Mosquitto 2.0.11 sends m2 and m3: three in flight.
        await sub.acknowledge(first.packetId!);
        equal(text((await message(sub)).payload), "m2");
        await rejects(nextEvent(sub), (e: unknown) => {
          ok(e instanceof ProtocolViolationError);
          equal(e.reasonCode, 0x93);
          return true;
        });
        deepStrictEqual(tap.packets().at(-1), { type: PacketType.Disconnect, reasonCode: 0x93 });
        await waitForLog(broker, new RegExp(`Received DISCONNECT from ${clientId}`));
      },
    );
  },
});

Deno.test({
  name: "Flow control against a scripted peer",
  async fn(t) {
    await t.step(
      "Client.resend() after a reconnect keeps within the server's new Receive Maximum: PUBLISH up to the quota, the rest once acknowledgements free slots, PUBREL never held back [MQTT-3.3.4-7] [MQTT-3.3.4-8]",
      async () => {
        await using peer = await startPeer();
        const session = new Session();
        const client = new Client({ session });
        const ids: number[] = [];
        {
          await using h = await openPeer({
            peer,
            reuse: client,
            connect: { sessionExpiryInterval: 60 },
          });
          for (const qos of [1, 2, 1, 2, 1] as const) {
            ids.push((await client.publish({ topic: "t", qos }, `m${ids.length}`))!);
            equal((await h.sent()).type, PacketType.Publish);
          }
          // The 4th (QoS 2) got its PUBREC: it awaits PUBCOMP.
          await h.send({ type: PacketType.Pubrec, packetId: ids[3]! });
          equal((await nextEvent(client)).type, "received");
          deepStrictEqual(await h.sent(), {
            type: PacketType.Pubrel,
            packetId: ids[3],
            reasonCode: 0,
          });
        }
        await using h = await openPeer({
          peer,
          reuse: client,
          connect: { sessionExpiryInterval: 60, cleanStart: false },
          connack: { sessionPresent: true, properties: { receiveMaximum: 2 } },
        });
        equal(h.result.limits.receiveMaximum, 2);
        deepStrictEqual(session.state.outgoing.map((f) => f.state), [
          "awaiting-puback",
          "awaiting-pubrec",
          "awaiting-puback",
          "awaiting-pubcomp",
          "awaiting-puback",
        ]);

        // Two PUBLISH fit the quota; the PUBREL of the 4th is not held back behind the 3rd.
        deepStrictEqual(await client.resend(), [ids[0], ids[1], ids[3]]);
        const sent = [await h.sent(), await h.sent(), await h.sent()];
        deepStrictEqual(
          sent.map((p) => [p.type, "packetId" in p && p.packetId, p.type === 3 && p.dup]),
          [
            [PacketType.Publish, ids[0], true],
            [PacketType.Publish, ids[1], true],
            [PacketType.Pubrel, ids[3], false],
          ],
        );
        await rejects(client.republish(ids[2]!), QuotaExceededError);
        await rejects(client.publish({ topic: "t", qos: 1 }, "new"), QuotaExceededError);
        await client.ping();
        equal((await h.sent()).type, PacketType.Pingreq, "nothing else was sent");

        // Acknowledgements free slots: the rest goes out, in order.
        await h.send({ type: PacketType.Puback, packetId: ids[0]! });
        equal((await nextEvent(client)).type, "acknowledged");
        await h.send({ type: PacketType.Pubcomp, packetId: ids[3]! });
        equal((await nextEvent(client)).type, "completed");
        deepStrictEqual(await client.resend(), [ids[2]]);
        const third = await h.sent();
        ok(third.type === PacketType.Publish && third.packetId === ids[2] && third.dup);
        await h.send({ type: PacketType.Pubrec, packetId: ids[1]! });
        equal((await nextEvent(client)).type, "received");
        equal((await h.sent()).type, PacketType.Pubrel);
        await rejects(client.republish(ids[4]!), QuotaExceededError);
        await h.send({ type: PacketType.Puback, packetId: ids[2]! });
        equal((await nextEvent(client)).type, "acknowledged");
        deepStrictEqual(await client.resend(), [ids[4]]);
        const last = await h.sent();
        ok(last.type === PacketType.Publish && last.packetId === ids[4] && last.dup);
      },
    );
  },
});

Deno.test({
  name: "Flow control against a scripted peer: refused publications",
  async fn(t) {
    await t.step(
      "a PUBACK or PUBREC with a failing code ends the flight and frees its slot; the publication is not sent again after a reconnect [MQTT-4.4.0-2]",
      async () => {
        await using peer = await startPeer();
        const session = new Session();
        const client = new Client({ session });
        const options = { sessionExpiryInterval: 60 };
        let kept: number;
        {
          await using h = await openPeer({
            peer,
            reuse: client,
            connect: options,
            connack: { properties: { receiveMaximum: 2 } },
          });
          const q1 = await client.publish({ topic: "t", qos: 1 }, "refused at 1");
          const q2 = await client.publish({ topic: "t", qos: 2 }, "refused at 2");
          await rejects(client.publish({ topic: "t", qos: 1 }, "no room"), QuotaExceededError);
          await h.sent();
          await h.sent();
          await h.send({ type: PacketType.Puback, packetId: q1!, reasonCode: 0x87 });
          await h.send({ type: PacketType.Pubrec, packetId: q2!, reasonCode: 0x97 });
          for (const [id, code] of [[q1, 0x87], [q2, 0x97]] as const) {
            const e = await nextEvent(client);
            ok(e.type === "rejected", JSON.stringify(e));
            deepStrictEqual([e.packetId, e.reasonCode], [id, code]);
          }
          // No PUBREL for a failing PUBREC; both slots are free again.
          equal(session.state.outgoing.length, 0);
          kept = (await client.publish({ topic: "t", qos: 1 }, "kept"))!;
          await client.publish({ topic: "t", qos: 1 }, "also kept");
          const next = await h.sent();
          ok(next.type === PacketType.Publish && next.packetId === kept);
        }
        await using h = await openPeer({
          peer,
          reuse: client,
          connect: { ...options, cleanStart: false },
          connack: { sessionPresent: true, properties: { receiveMaximum: 2 } },
        });
        const resent = await client.resend();
        equal(resent.length, 2, "only the two unacknowledged publications");
        const again = await h.sent();
        ok(again.type === PacketType.Publish && again.packetId === kept && again.dup);
        equal(new TextDecoder().decode(again.payload), "kept");
      },
    );
  },
});
