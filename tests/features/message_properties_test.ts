// The properties of a message against Mosquitto: Message Expiry Interval on queued messages,
// Payload Format Indicator, Content Type, Response Topic and Correlation Data delivered intact, a
// payload that claims UTF-8 but is not refused with 0x99; and Response Information in CONNACK.
// (examples/request_response.ts, run by tests/examples/, shows request/response end to end.)

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Client, decode, encode, PacketType, Session } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { connectRaw, startPeer } from "../_util/peer.ts";
import {
  assertQuiet,
  assertViolation,
  clientsOf,
  message,
  nextEvent,
  openPeer,
  publishPacket,
  subscribed,
  tappedTcp,
  text,
  uniqueTopic,
  waitFor,
  waitForLog,
  Wiretap,
} from "./_features.ts";

const te = new TextEncoder();
const NOT_UTF8 = new Uint8Array([0x61, 0xff, 0xfe, 0x62]);

Deno.test({
  name: "Message properties against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ verbose: true });

    await t.step(
      "Message Expiry Interval: a live subscriber gets it as sent; a queued message comes with it reduced by the time it waited, and one that expired while queued is not delivered",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("expiry");
        const session = new Session();
        const clientId = `expiry-${crypto.randomUUID().slice(0, 8)}`;
        const options = { clientId, sessionExpiryInterval: 60 };
        const away = await clients.connect(options, new Client({ session }));
        await subscribed(away.client, { filter: topic, qos: 1 });
        await away.client.disconnect();
        const { client: live } = await clients.connect();
        await subscribed(live, { filter: topic, qos: 1 });

        const { client: pub } = await clients.connect();
        const sends: [string, number | undefined][] = [["short", 1], ["long", 60], [
          "none",
          undefined,
        ]];
        for (const [payload, messageExpiryInterval] of sends) {
          await pub.publish(
            {
              topic,
              qos: 1,
              ...(messageExpiryInterval ? { properties: { messageExpiryInterval } } : {}),
            },
            payload,
          );
          await waitFor(pub, "acknowledged");
        }
        const sent = Date.now();
        for (const [payload, interval] of sends) {
          const m = await message(live);
          deepStrictEqual([text(m.payload), m.properties.messageExpiryInterval], [
            payload,
            interval,
          ]);
        }

        // Mosquitto counts whole seconds: after 2.1 s, "short" (1 s) has certainly expired.
        await new Promise((resolve) => setTimeout(resolve, 2100));
        const back = await clients.connect(
          { ...options, cleanStart: false },
          new Client({ session }),
        );
        equal(back.result.sessionPresent, true);
        const long = await message(back.client);
        equal(text(long.payload), "long");
        const waited = Math.ceil((Date.now() - sent) / 1000);
        const left = long.properties.messageExpiryInterval!;
        ok(left < 60 && left >= 60 - waited - 1, `60 s reduced by about ${waited} s: ${left}`);
        const none = await message(back.client);
        deepStrictEqual([text(none.payload), none.properties.messageExpiryInterval], [
          "none",
          undefined,
        ]);
        await assertQuiet(back.client);
        await back.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
      },
    );

    await t.step(
      "Payload Format Indicator, Content Type, Response Topic, Correlation Data and User Properties reach the subscriber intact, the strings as UTF-8 [MQTT-3.3.2-13] [MQTT-3.3.2-19]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("props");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 2 });
        const { client: pub } = await clients.connect();
        const everyByte = new Uint8Array(256).map((_, i) => i);
        const properties = {
          payloadFormatIndicator: 1 as const,
          contentType: "text/plain; charset=utf-8; ünïcödé ✓",
          responseTopic: `${topic}/reply/ü`,
          correlationData: everyByte,
          userProperties: [["b", "2"], ["a", "1"], ["b", "2"], ["ключ", "значение"]] as [
            string,
            string,
          ][],
        };
        await pub.publish({ topic, qos: 2, properties }, "héllo wörld ✓");
        await waitFor(pub, "completed");
        await pub.publish(
          { topic, qos: 1, properties: { payloadFormatIndicator: 0, contentType: "" } },
          everyByte,
        );
        const first = await message(sub);
        equal(text(first.payload), "héllo wörld ✓");
        deepStrictEqual(first.properties, properties);
        const second = await message(sub);
        deepStrictEqual(second.payload, everyByte);
        deepStrictEqual(second.properties, { payloadFormatIndicator: 0, contentType: "" });
      },
    );

    await t.step(
      "a payload that claims UTF-8 but is not, passed on by Mosquitto from a raw publisher: the client reports it refused and answers PUBACK 0x99, PUBREC 0x99",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("not-utf8");
        const clientId = `strict-${crypto.randomUUID().slice(0, 8)}`;
        const { client: sub } = await clients.connect({ clientId });
        await subscribed(sub, { filter: topic, qos: 2 });
        await using raw = await connectRaw(broker);
        await raw.write(encode({
          type: PacketType.Connect,
          clientId: `raw-${clientId}`,
          cleanStart: true,
          username: broker.username,
          password: te.encode(broker.password),
        }));
        equal(decode(await raw.readPacket()).type, PacketType.Connack);
        for (const qos of [1, 2] as const) {
          await raw.write(
            encode(publishPacket(topic, NOT_UTF8, qos, qos, { payloadFormatIndicator: 1 })),
          );
          equal(
            decode(await raw.readPacket()).type,
            qos === 1 ? PacketType.Puback : PacketType.Pubrec,
          );
        }
        // Mosquitto forwards a QoS 2 message once it is released.
        await raw.write(encode({ type: PacketType.Pubrel, packetId: 2 }));
        equal(decode(await raw.readPacket()).type, PacketType.Pubcomp);
        const one = await nextEvent(sub);
        ok(one.type === "refused", JSON.stringify(one));
        deepStrictEqual([one.topic, one.qos, one.reasonCode], [topic, 1, 0x99]);
        const puback = `Received PUBACK from ${clientId} \\(Mid: ${one.packetId}, RC:153\\)`;
        await waitForLog(broker, new RegExp(puback));
        const two = await nextEvent(sub);
        ok(two.type === "refused" && two.qos === 2 && two.reasonCode === 0x99);
        // PUBREC 0x99 ends the QoS 2 flow: Mosquitto sends no PUBREL, nothing more comes.
        await waitForLog(
          broker,
          new RegExp(`Received PUBREC from ${clientId} \\(Mid: ${two.packetId}\\)`),
        );
        await assertQuiet(sub);
        equal(sub.session.state.incoming.length, 0);
      },
    );

    await t.step(
      "Client.connect() asks for Response Information; Mosquitto 2.0.11 gives none",
      async () => {
        await using clients = clientsOf(broker);
        const tap = new Wiretap();
        const { result } = await clients.connect(
          { requestResponseInformation: true },
          undefined,
          await tappedTcp(broker, tap),
        );
        const connect = tap.packets()[0]!;
        ok(connect.type === PacketType.Connect);
        equal(connect.properties?.requestResponseInformation, 1);
        equal(result.responseInformation, undefined);
      },
    );
  },
});

Deno.test({
  name: "Message properties against a scripted peer",
  async fn(t) {
    await t.step(
      "a payload that claims UTF-8 but is not is reported refused and answered PUBACK 0x99 / PUBREC 0x99 (nothing at QoS 0), in automatic and manual mode: acknowledged by its QoS though not delivered; valid UTF-8 is delivered [MQTT-3.3.4-1] [MQTT-4.5.0-2]",
      async () => {
        for (const manualAck of [false, true]) {
          await using h = await openPeer({ client: { manualAck } });
          for (const qos of [0, 1, 2] as const) {
            const id = qos === 0 ? undefined : 10 + qos;
            await h.send(publishPacket("t", NOT_UTF8, qos, id, { payloadFormatIndicator: 1 }));
            deepStrictEqual(await nextEvent(h.client), {
              type: "refused",
              topic: "t",
              qos,
              packetId: id,
              reasonCode: 0x99,
            });
          }
          deepStrictEqual(await h.sent(), {
            type: PacketType.Puback,
            packetId: 11,
            reasonCode: 0x99,
          });
          deepStrictEqual(await h.sent(), {
            type: PacketType.Pubrec,
            packetId: 12,
            reasonCode: 0x99,
          });
          // Not a message: nothing awaits acknowledgement, no QoS 2 id is kept.
          equal(h.client.session.state.incoming.length, 0);
          await h.send(publishPacket("t", "ünïcode", 1, 13, { payloadFormatIndicator: 1 }));
          const m = await message(h.client);
          equal(text(m.payload), "ünïcode");
          if (manualAck) await h.client.acknowledge(13);
          deepStrictEqual(await h.sent(), { type: PacketType.Puback, packetId: 13, reasonCode: 0 });
        }
      },
    );

    await t.step(
      "the client never expires a QoS 2 publication it sent: after its Message Expiry Interval has passed it is still resent on reconnect and completed [MQTT-4.3.3-7]",
      async () => {
        await using peer = await startPeer();
        const session = new Session();
        const client = new Client({ session });
        const options = { sessionExpiryInterval: 60 };
        let id: number;
        {
          await using h = await openPeer({ peer, reuse: client, connect: options });
          id = (await client.publish(
            { topic: "t", qos: 2, properties: { messageExpiryInterval: 1 } },
            "short-lived",
          ))!;
          equal((await h.sent()).type, PacketType.Publish);
        }
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await using h = await openPeer({
          peer,
          reuse: client,
          connect: { ...options, cleanStart: false },
          connack: { sessionPresent: true },
        });
        deepStrictEqual(await client.resend(), [id]);
        const again = await h.sent();
        ok(again.type === PacketType.Publish && again.packetId === id && again.dup);
        equal(text(again.payload), "short-lived");
        await h.send({ type: PacketType.Pubrec, packetId: id });
        equal((await nextEvent(client)).type, "received");
        deepStrictEqual(await h.sent(), { type: PacketType.Pubrel, packetId: id, reasonCode: 0 });
        await h.send({ type: PacketType.Pubcomp, packetId: id });
        equal((await nextEvent(client)).type, "completed");
        equal(session.state.outgoing.length, 0);
      },
    );

    await t.step(
      "requestResponseInformation goes in CONNECT and the CONNACK's Response Information is returned",
      async () => {
        await using h = await openPeer({
          connect: { requestResponseInformation: true },
          connack: { properties: { responseInformation: "replies/for/you/" } },
        });
        equal(h.connect.properties?.requestResponseInformation, 1);
        equal(h.result.responseInformation, "replies/for/you/");
      },
    );

    await t.step(
      "Response Information the client did not request is answered with DISCONNECT 0x82 [MQTT-3.1.2-28]",
      async () => {
        await using peer = await startPeer();
        const client = new Client();
        const connecting = client.connect(
          await connectTcp({ hostname: peer.hostname, port: peer.port }),
          { clientId: "no-response-information" },
        );
        const conn = await peer.accept();
        const connect = decode(await conn.readPacket());
        ok(connect.type === PacketType.Connect);
        equal(connect.properties?.requestResponseInformation, undefined);
        await conn.write(encode({
          type: PacketType.Connack,
          sessionPresent: false,
          reasonCode: 0,
          properties: { responseInformation: "unasked/" },
        }));
        await assertViolation(conn, connecting, 0x82);
        equal(client.state, "closed");
      },
    );
  },
});
