// Maximum Packet Size both ways: the server's limit (Mosquitto `max_packet_size 200`) is kept by
// every packet the client writes, acknowledgements and DISCONNECT drop their Reason String and
// then their User Properties to fit it, and the client's own limit reaches the server.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  decode,
  encode,
  encodedLength,
  EncodeError,
  type Packet,
  PacketType,
  type Publish,
} from "../../mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { connectRaw } from "../_util/peer.ts";
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

/** A QoS 1 PUBLISH to `topic` of exactly `size` bytes. */
function publishOfSize(topic: string, size: number): Publish {
  const packet: Publish = {
    type: PacketType.Publish,
    topic,
    qos: 1,
    packetId: 1,
    payload: new Uint8Array(0),
  };
  const overhead = encodedLength(packet);
  // The Remaining Length grows by a byte at 128: measure again once.
  packet.payload = new Uint8Array(size - overhead);
  packet.payload = new Uint8Array(size - overhead - (encodedLength(packet) - size));
  equal(encodedLength(packet), size);
  return packet;
}

Deno.test({
  name: "Maximum Packet Size against Mosquitto with max_packet_size 200",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ verbose: true, config: ["max_packet_size 200"] });

    await t.step(
      "Mosquitto enforces its limit: a raw 203-byte PUBLISH gets DISCONNECT 0x95 (2.0.11 lets 202 bytes through: it compares Remaining Length + 1)",
      async () => {
        for (const [size, refused] of [[202, false], [203, true]] as const) {
          await using raw = await connectRaw(broker);
          await raw.write(encode({
            type: PacketType.Connect,
            clientId: `raw-${size}`,
            cleanStart: true,
            username: broker.username,
            password: te.encode(broker.password),
          }));
          const connack = decode(await raw.readPacket());
          ok(connack.type === PacketType.Connack);
          equal(connack.properties?.maximumPacketSize, 200);
          await raw.write(encode(publishOfSize(uniqueTopic("raw"), size)));
          const answer = decode(await raw.readPacket());
          if (refused) {
            deepStrictEqual(answer, { type: PacketType.Disconnect, reasonCode: 0x95 });
            equal((await raw.readUntilClosed()).length, 0);
          } else {
            equal(answer.type, PacketType.Puback);
          }
        }
      },
    );

    await t.step(
      "Client.publish() of exactly the server's Maximum Packet Size goes out; one byte more throws EncodeError 0x95 with nothing written, and the client goes on [MQTT-3.2.2-15]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("limit");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 1 });
        const tap = new Wiretap();
        const { client, result } = await clients.connect(
          {},
          undefined,
          await tappedTcp(broker, tap),
        );
        equal(result.limits.maximumPacketSize, 200);
        const fits = publishOfSize(topic, 200).payload.length;

        const written = tap.bytes;
        await rejects(client.publish({ topic, qos: 1 }, new Uint8Array(fits + 1)), (e: unknown) => {
          ok(e instanceof EncodeError);
          equal(e.reasonCode, 0x95);
          equal(e.recoverable, true);
          return true;
        });
        // The same for SUBSCRIBE and UNSUBSCRIBE made large by user properties.
        const big = [["k", "v".repeat(200)]] as [string, string][];
        await rejects(client.subscribe({ filter: topic }, { userProperties: big }), EncodeError);
        await rejects(client.unsubscribe(topic, { userProperties: big }), EncodeError);
        equal(tap.bytes, written, "nothing was written");
        equal(client.session.state.outgoing.length, 0);

        const id = await client.publish({ topic, qos: 1 }, new Uint8Array(fits).fill(7));
        const sent = tap.since(0).at(-1)!;
        ok(sent.type === PacketType.Publish);
        equal(encode(sent).length, 200);
        const ack = await waitFor(client, "acknowledged");
        deepStrictEqual([ack.packetId, ack.reasonCode], [id, 0]);
        deepStrictEqual((await message(sub)).payload, new Uint8Array(fits).fill(7));
      },
    );

    await t.step(
      "the client's Maximum Packet Size reaches Mosquitto, which drops larger messages for it at QoS 0, 1 and 2 instead of sending them",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("small-client");
        const clientId = `small-${crypto.randomUUID().slice(0, 8)}`;
        const tap = new Wiretap();
        const { client: sub } = await clients.connect(
          { clientId, maximumPacketSize: 100 },
          undefined,
          await tappedTcp(broker, tap),
        );
        const connect = tap.packets()[0]!;
        ok(connect.type === PacketType.Connect);
        equal(connect.properties?.maximumPacketSize, 100);
        await subscribed(sub, { filter: topic, qos: 2 });
        const { client: pub } = await clients.connect();
        for (const qos of [0, 1, 2] as const) {
          await pub.publish({ topic, qos }, "x".repeat(150));
        }
        await pub.publish({ topic, qos: 1 }, "small");
        while (pub.session.state.outgoing.length > 0) await nextEvent(pub);
        const m = await message(sub);
        equal(text(m.payload), "small");
        await assertQuiet(sub);
        equal(sub.state, "connected");
        const dropped = `Dropping too large outgoing PUBLISH for ${clientId}`;
        await waitForLog(broker, new RegExp(`(${dropped}[^]*){3}`));
        equal(broker.logs().split(dropped).length - 1, 3);
      },
    );
  },
});

/** The properties of an acknowledgement or DISCONNECT the client sent. */
function propertiesOf(packet: Packet): unknown {
  return "properties" in packet ? packet.properties : undefined;
}

Deno.test({
  name: "Maximum Packet Size against a scripted peer",
  async fn(t) {
    const long = "r".repeat(60);
    const user: [string, string][] = [["k", "v"], ["k", "w"]];
    const bigUser: [string, string][] = [["k", "u".repeat(60)]];

    await t.step(
      "Client.acknowledge() leaves out the Reason String, then the User Properties, when the PUBACK, PUBREC or PUBCOMP would exceed the server's Maximum Packet Size [MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.5.2-2] [MQTT-3.5.2-3] [MQTT-3.7.2-2] [MQTT-3.7.2-3]",
      async () => {
        await using h = await openPeer({
          client: { manualAck: true },
          connack: { properties: { maximumPacketSize: 40 } },
        });
        equal(h.result.limits.maximumPacketSize, 40);
        const cases = [
          // [reason string, user properties] given -> what fits
          { given: { reasonString: "ok", userProperties: user }, sent: "both" },
          { given: { reasonString: long, userProperties: user }, sent: "user" },
          { given: { reasonString: long, userProperties: bigUser }, sent: "none" },
        ] as const;
        const expected = (sent: string) =>
          sent === "both"
            ? { reasonString: "ok", userProperties: user }
            : sent === "user"
            ? { userProperties: user }
            : undefined;

        for (const [i, c] of cases.entries()) {
          const id = 10 + i;
          await h.send(publishPacket("t", `q1-${i}`, 1, id));
          equal((await nextEvent(h.client)).type, "message");
          await h.client.acknowledge(id, { reasonCode: 0x80, properties: { ...c.given } });
          const puback = await h.sent();
          ok(puback.type === PacketType.Puback);
          deepStrictEqual([puback.packetId, puback.reasonCode], [id, 0x80]);
          deepStrictEqual(propertiesOf(puback), expected(c.sent), `PUBACK case ${i}`);
          ok(encode(puback).length <= 40);
        }
        for (const [i, c] of cases.entries()) {
          const id = 20 + i;
          await h.send(publishPacket("t", `q2-${i}`, 2, id));
          equal((await nextEvent(h.client)).type, "message");
          await h.client.acknowledge(id, { properties: { ...c.given } });
          const pubrec = await h.sent();
          ok(pubrec.type === PacketType.Pubrec && pubrec.packetId === id);
          deepStrictEqual(propertiesOf(pubrec), expected(c.sent), `PUBREC case ${i}`);
          await h.send({ type: PacketType.Pubrel, packetId: id });
          equal((await nextEvent(h.client)).type, "released");
          await h.client.acknowledge(id, { properties: { ...c.given } });
          const pubcomp = await h.sent();
          ok(pubcomp.type === PacketType.Pubcomp && pubcomp.packetId === id);
          deepStrictEqual(propertiesOf(pubcomp), expected(c.sent), `PUBCOMP case ${i}`);
        }
      },
    );

    await t.step(
      "Client.disconnect() leaves out the Reason String, then the User Properties, to fit the server's Maximum Packet Size, and keeps its reason code and Session Expiry Interval; nothing follows it, and the connection is closed [MQTT-3.14.2-3] [MQTT-3.14.2-4] [MQTT-3.14.4-1] [MQTT-3.14.4-2]",
      async () => {
        const cases = [
          [{ reasonString: "bye", userProperties: user }, {
            reasonString: "bye",
            userProperties: user,
          }],
          [{ reasonString: long, userProperties: user }, { userProperties: user }],
          [{ reasonString: long, userProperties: bigUser }, {}],
        ] as const;
        for (const [given, kept] of cases) {
          await using h = await openPeer({
            connect: { sessionExpiryInterval: 60 },
            connack: { properties: { maximumPacketSize: 40 } },
          });
          await h.client.disconnect({
            reasonCode: 0x04,
            properties: { sessionExpiryInterval: 30, ...given },
          });
          const disconnect = await h.sent();
          deepStrictEqual(disconnect, {
            type: PacketType.Disconnect,
            reasonCode: 0x04,
            properties: { sessionExpiryInterval: 30, ...kept },
          });
          ok(encode(disconnect).length <= 40);
          await h.assertClosedQuietly();
        }
      },
    );

    await t.step(
      "a packet whose fixed header announces more than the client's Maximum Packet Size is answered with DISCONNECT 0x95 at once, without waiting for its body [MQTT-3.1.2-24]",
      async () => {
        await using h = await openPeer({ connect: { maximumPacketSize: 1000 } });
        ok(h.connect.type === PacketType.Connect);
        equal(h.connect.properties?.maximumPacketSize, 1000);
        // PUBLISH QoS 0 with a Remaining Length of 1,000,000 (0xC0 0x84 0x3D), and no body at all.
        await h.send(new Uint8Array([0x30, 0xc0, 0x84, 0x3d]));
        await assertViolation(h, nextEvent(h.client, 2000), 0x95);
      },
    );
  },
});
