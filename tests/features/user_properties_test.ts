// User Properties and Reason Strings: on every packet that allows them, in order and with
// repeats, both ways; and Request Problem Information 0, after which the client accepts them only
// on PUBLISH, CONNACK and DISCONNECT.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { type AckProperties, type Packet, PacketType, type UserProperty } from "../../mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import {
  assertViolation,
  clientsOf,
  message,
  nextEvent,
  openPeer,
  type PeerHarness,
  publishPacket,
  subscribed,
  tappedTcp,
  uniqueTopic,
  waitFor,
  waitForLog,
  Wiretap,
} from "./_features.ts";

/** Pairs in a deliberate order, with a repeated pair, a repeated name, and empty strings. */
const USER: UserProperty[] = [
  ["z", "last letter first"],
  ["a", "1"],
  ["a", "2"],
  ["z", "last letter first"],
  ["", ""],
  ["名前", "値"],
];

/** The User Properties of a packet the client sent. */
function userPropertiesOf(packet: Packet | undefined): UserProperty[] | undefined {
  return packet !== undefined && "properties" in packet
    ? (packet.properties as { userProperties?: UserProperty[] } | undefined)?.userProperties
    : undefined;
}

Deno.test({
  name: "User Properties against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ verbose: true });

    await t.step(
      "User Properties of CONNECT, SUBSCRIBE, UNSUBSCRIBE and DISCONNECT go on the wire in order with repeats, and Mosquitto accepts each packet",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("user-props");
        const clientId = `props-${crypto.randomUUID().slice(0, 8)}`;
        const tap = new Wiretap();
        const { client, result } = await clients.connect(
          { clientId, userProperties: USER },
          undefined,
          await tappedTcp(broker, tap),
        );
        equal(result.connack.reasonCode, 0);
        await subscribed(client, { filter: topic, qos: 1 }, { userProperties: USER });
        await client.unsubscribe(topic, { userProperties: USER });
        deepStrictEqual((await waitFor(client, "unsubscribed")).reasonCodes, [0]);
        await client.disconnect({ properties: { userProperties: USER } });
        await waitForLog(broker, new RegExp(`Received DISCONNECT from ${clientId}`));
        const packets = tap.packets();
        deepStrictEqual(packets.map((p) => p.type), [
          PacketType.Connect,
          PacketType.Subscribe,
          PacketType.Unsubscribe,
          PacketType.Disconnect,
        ]);
        for (const packet of packets) deepStrictEqual(userPropertiesOf(packet), USER);
      },
    );

    await t.step(
      "User Properties of a PUBLISH reach the subscriber in order with repeats, at QoS 0, 1 and 2",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("publish-props");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 2 });
        const { client: pub } = await clients.connect();
        const many: UserProperty[] = Array.from({ length: 100 }, (_, i) => ["k", `${i % 7}`]);
        for (const qos of [0, 1, 2] as const) {
          for (const userProperties of [USER, many]) {
            await pub.publish({ topic, qos, properties: { userProperties } }, `q${qos}`);
            if (qos === 1) await waitFor(pub, "acknowledged");
            if (qos === 2) await waitFor(pub, "completed");
            const m = await message(sub);
            deepStrictEqual(m.properties.userProperties, userProperties);
            if (qos === 2) await waitFor(sub, "released");
          }
        }
      },
    );
  },
});

Deno.test({
  name: "User Properties and Reason Strings against a scripted peer",
  async fn(t) {
    const problem: AckProperties = { reasonString: "because", userProperties: USER };

    await t.step(
      "Reason Strings and User Properties from the server come in the events of CONNACK, PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK and DISCONNECT, in order with repeats",
      async () => {
        await using h = await openPeer({
          connect: { sessionExpiryInterval: 60 },
          connack: { properties: { ...problem } },
        });
        deepStrictEqual([h.result.reasonString, h.result.userProperties], ["because", USER]);
        const q1 = await h.client.publish({ topic: "t", qos: 1 }, "1");
        const q1b = await h.client.publish({ topic: "t", qos: 1 }, "1b");
        const q2 = await h.client.publish({ topic: "t", qos: 2 }, "2");
        const sub = await h.client.subscribe({ filter: "t" });
        const unsub = await h.client.unsubscribe("t");
        for (let i = 0; i < 5; i++) await h.sent();
        const replies: Packet[] = [
          { type: PacketType.Puback, packetId: q1!, reasonCode: 0x10, properties: problem },
          { type: PacketType.Puback, packetId: q1b!, reasonCode: 0x80, properties: problem },
          { type: PacketType.Pubrec, packetId: q2!, reasonCode: 0, properties: problem },
          { type: PacketType.Pubcomp, packetId: q2!, reasonCode: 0, properties: problem },
          { type: PacketType.Suback, packetId: sub, reasonCodes: [0], properties: problem },
          { type: PacketType.Unsuback, packetId: unsub, reasonCodes: [0x11], properties: problem },
          { type: PacketType.Disconnect, reasonCode: 0x89, properties: problem },
        ];
        const types: string[] = [];
        for (const reply of replies) {
          await h.send(reply);
          const event = await nextEvent(h.client);
          types.push(event.type);
          ok("properties" in event);
          deepStrictEqual(event.properties, problem, event.type);
        }
        deepStrictEqual(types, [
          "acknowledged",
          "rejected",
          "received",
          "completed",
          "subscribed",
          "unsubscribed",
          "disconnected",
        ]);
      },
    );

    await t.step(
      "Client.acknowledge() sends the Reason String and User Properties given on PUBACK, PUBREC and PUBCOMP, in order with repeats",
      async () => {
        await using h = await openPeer({ client: { manualAck: true } });
        await h.send(publishPacket("t", "one", 1, 1));
        await h.send(publishPacket("t", "two", 2, 2));
        await message(h.client);
        await message(h.client);
        await h.client.acknowledge(1, { reasonCode: 0x83, properties: problem });
        await h.client.acknowledge(2, { properties: problem });
        deepStrictEqual(await h.sent(), {
          type: PacketType.Puback,
          packetId: 1,
          reasonCode: 0x83,
          properties: problem,
        });
        deepStrictEqual(await h.sent(), {
          type: PacketType.Pubrec,
          packetId: 2,
          reasonCode: 0,
          properties: problem,
        });
        await h.send({ type: PacketType.Pubrel, packetId: 2 });
        equal((await nextEvent(h.client)).type, "released");
        await h.client.acknowledge(2, { properties: problem });
        deepStrictEqual(await h.sent(), {
          type: PacketType.Pubcomp,
          packetId: 2,
          reasonCode: 0,
          properties: problem,
        });
      },
    );

    await t.step(
      "with Request Problem Information 0, a Reason String or User Property on PUBREC, PUBREL, PUBCOMP, SUBACK or UNSUBACK is answered with DISCONNECT 0x82 [MQTT-3.1.2-29]",
      async () => {
        /** Each case brings the client to where the packet is expected, then sends it. */
        const cases: [string, (h: PeerHarness, p: AckProperties) => Promise<Packet>][] = [
          ["PUBREC", async (h, properties) => {
            const id = await h.client.publish({ topic: "t", qos: 2 }, "x");
            await h.sent();
            return { type: PacketType.Pubrec, packetId: id!, properties };
          }],
          ["PUBREL", async (h, properties) => {
            await h.send(publishPacket("t", "x", 2, 9));
            await message(h.client);
            await h.sent();
            return { type: PacketType.Pubrel, packetId: 9, properties };
          }],
          ["PUBCOMP", async (h, properties) => {
            const id = await h.client.publish({ topic: "t", qos: 2 }, "x");
            await h.sent();
            await h.send({ type: PacketType.Pubrec, packetId: id! });
            equal((await nextEvent(h.client)).type, "received");
            await h.sent();
            return { type: PacketType.Pubcomp, packetId: id!, properties };
          }],
          ["SUBACK", async (h, properties) => {
            const id = await h.client.subscribe({ filter: "t" });
            await h.sent();
            return { type: PacketType.Suback, packetId: id, reasonCodes: [0], properties };
          }],
          ["UNSUBACK", async (h, properties) => {
            const id = await h.client.unsubscribe("t");
            await h.sent();
            return { type: PacketType.Unsuback, packetId: id, reasonCodes: [0], properties };
          }],
        ];
        for (const [name, prepare] of cases) {
          for (const properties of [{ reasonString: "why" }, { userProperties: USER }]) {
            // Without the property the packet is fine: the property alone is the fault.
            {
              await using h = await openPeer({ connect: { requestProblemInformation: false } });
              await h.send(await prepare(h, {}));
              ok((await nextEvent(h.client)).type !== "disconnected", name);
            }
            await using h = await openPeer({ connect: { requestProblemInformation: false } });
            equal(h.connect.properties?.requestProblemInformation, 0);
            await h.send(await prepare(h, properties));
            await assertViolation(h, nextEvent(h.client), 0x82);
          }
        }
      },
    );

    await t.step(
      "with Request Problem Information 0, Reason Strings and User Properties on CONNACK, PUBLISH and DISCONNECT are still accepted [MQTT-3.1.2-29]",
      async () => {
        await using h = await openPeer({
          connect: { requestProblemInformation: false },
          connack: { properties: { ...problem } },
        });
        deepStrictEqual([h.result.reasonString, h.result.userProperties], ["because", USER]);
        await h.send(publishPacket("t", "x", 1, 3, { userProperties: USER }));
        deepStrictEqual((await message(h.client)).properties.userProperties, USER);
        deepStrictEqual(await h.sent(), { type: PacketType.Puback, packetId: 3, reasonCode: 0 });
        await h.send({ type: PacketType.Disconnect, reasonCode: 0x8b, properties: problem });
        const event = await nextEvent(h.client);
        ok(event.type === "disconnected");
        deepStrictEqual([event.reasonCode, event.reasonString, event.properties], [
          0x8b,
          "because",
          problem,
        ]);
        await h.assertClosedQuietly();
      },
    );
  },
});
