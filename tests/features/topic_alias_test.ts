// Topic Aliases both ways: outgoing aliases within Mosquitto's `max_topic_alias 3`, explicit and
// automatic, checked on the wire; refused above the server's maximum or when it allows none; and
// incoming aliases resolved, refused and forgotten on reconnect (scripted peer, since Mosquitto
// 2.0.11 sends none).

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ClientStateError,
  decode,
  encode,
  EncodeError,
  type Packet,
  PacketType,
  ServerCapabilityError,
} from "../../mod.ts";
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
  Wiretap,
} from "./_features.ts";

const te = new TextEncoder();

/** Topic and alias of each PUBLISH among `packets`. */
function topicsAndAliases(packets: Packet[]): [string, number | undefined][] {
  return packets.flatMap((p) =>
    p.type === PacketType.Publish ? [[p.topic, p.properties?.topicAlias]] : []
  ) as [string, number | undefined][];
}

Deno.test({
  name: "Topic aliases against Mosquitto with max_topic_alias 3",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ config: ["max_topic_alias 3"] });

    await t.step(
      "explicit Topic Aliases 1 to the server's maximum: set with the topic, then sent alone with an empty topic, and remapped; the subscriber gets the full topics",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("explicit");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: `${base}/#`, qos: 1 });
        const tap = new Wiretap();
        const { client, result } = await clients.connect(
          {},
          undefined,
          await tappedTcp(broker, tap),
        );
        equal(result.limits.topicAliasMaximum, 3);
        const written = tap.packets().length;
        const sends: [string, number][] = [
          [`${base}/a`, 1],
          [`${base}/c`, 3],
          ["", 1],
          ["", 3],
          [`${base}/b`, 1],
          ["", 1],
        ];
        for (const [i, [topic, topicAlias]] of sends.entries()) {
          await client.publish({ topic, qos: 1, properties: { topicAlias } }, `m${i}`);
          await waitFor(client, "acknowledged");
        }
        deepStrictEqual(topicsAndAliases(tap.since(written)), sends);
        const got: string[] = [];
        for (let i = 0; i < sends.length; i++) got.push((await message(sub)).topic);
        deepStrictEqual(got, [
          `${base}/a`,
          `${base}/c`,
          `${base}/a`,
          `${base}/c`,
          `${base}/b`,
          `${base}/b`,
        ]);
        // An alias never set on this connection cannot stand alone.
        await rejects(
          client.publish({ topic: "", qos: 1, properties: { topicAlias: 2 } }, "x"),
          ClientStateError,
        );
        equal(client.session.state.outgoing.length, 0);
      },
    );

    await t.step(
      "a Topic Alias above the server's maximum throws ServerCapabilityError 0x94, alias 0 EncodeError, with nothing written; Mosquitto itself disconnects a raw client that sends alias 4 [MQTT-3.3.2-9] [MQTT-3.2.2-17] [MQTT-3.3.2-8]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("above");
        const tap = new Wiretap();
        const { client } = await clients.connect({}, undefined, await tappedTcp(broker, tap));
        const written = tap.bytes;
        await rejects(
          client.publish({ topic, qos: 1, properties: { topicAlias: 4 } }, "x"),
          (e: unknown) => {
            ok(e instanceof ServerCapabilityError);
            equal(e.reasonCode, 0x94);
            equal(e.recoverable, true);
            return true;
          },
        );
        await rejects(
          client.publish({ topic, qos: 1, properties: { topicAlias: 0 } }, "x"),
          EncodeError,
        );
        equal(tap.bytes, written, "nothing was written");
        equal(client.session.state.outgoing.length, 0);
        await client.publish({ topic, qos: 1, properties: { topicAlias: 3 } }, "fine");
        equal((await waitFor(client, "acknowledged")).reasonCode, 0x10);

        await using raw = await connectRaw(broker);
        await raw.write(encode({
          type: PacketType.Connect,
          clientId: `raw-${crypto.randomUUID().slice(0, 8)}`,
          cleanStart: true,
          username: broker.username,
          password: te.encode(broker.password),
        }));
        equal(decode(await raw.readPacket()).type, PacketType.Connack);
        await raw.write(encode(publishPacket(topic, "x", 1, 1, { topicAlias: 4 })));
        deepStrictEqual(decode(await raw.readPacket()), {
          type: PacketType.Disconnect,
          reasonCode: 0x94,
        });
      },
    );

    await t.step(
      'topicAliases: "auto" gives the first 3 topics an alias and sends later publications to them with an empty topic; a 4th topic goes in full; the subscriber gets full topics; a new connection starts again',
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("auto");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: `${base}/#`, qos: 1 });
        const client = new Client({ topicAliases: "auto" });
        const topics = ["a", "b", "a", "c", "d", "b", "d", "c"].map((x) => `${base}/${x}`);
        const publishAll = async (list: string[]) => {
          for (const topic of list) {
            await client.publish({ topic, qos: 1 }, topic);
            await waitFor(client, "acknowledged");
          }
        };

        const tap = new Wiretap();
        await clients.connect({}, client, await tappedTcp(broker, tap));
        await publishAll(topics);
        deepStrictEqual(topicsAndAliases(tap.packets()), [
          [`${base}/a`, 1],
          [`${base}/b`, 2],
          ["", 1],
          [`${base}/c`, 3],
          [`${base}/d`, undefined],
          ["", 2],
          [`${base}/d`, undefined],
          ["", 3],
        ]);
        // The alias-only PUBLISH is shorter on the wire by the topic's length.
        const packets = tap.packets().filter((p) => p.type === PacketType.Publish);
        equal(encode(packets[0]!).length - encode(packets[2]!).length, `${base}/a`.length);
        for (const topic of topics) {
          const m = await message(sub);
          deepStrictEqual([m.topic, text(m.payload)], [topic, topic]);
        }
        // The stored publication keeps the full topic, for a republish on a new connection.
        await client.disconnect();

        const again = new Wiretap();
        await clients.connect({}, client, await tappedTcp(broker, again));
        await publishAll([`${base}/b`, `${base}/b`]);
        deepStrictEqual(topicsAndAliases(again.packets()), [[`${base}/b`, 1], ["", 1]]);
        equal((await message(sub)).topic, `${base}/b`);
        equal((await message(sub)).topic, `${base}/b`);
      },
    );

    await t.step(
      'topicAliases: "auto" next to explicit aliases gives each topic an alias no other topic holds, so every message arrives on its own topic',
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("mixed");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: `${base}/#`, qos: 1 });
        const tap = new Wiretap();
        const client = new Client({ topicAliases: "auto" });
        await clients.connect({}, client, await tappedTcp(broker, tap));
        const [a, b, c] = ["a", "b", "c"].map((x) => `${base}/${x}`) as [string, string, string];
        // a takes alias 3 explicitly; b and c get automatic ones, which must not be 3.
        await client.publish({ topic: a, qos: 1, properties: { topicAlias: 3 } }, "a1");
        for (const [topic, payload] of [[b, "b1"], [c, "c1"], [a, "a2"], [c, "c2"], [b, "b2"]]) {
          await client.publish({ topic: topic!, qos: 1 }, payload);
        }
        for (let i = 0; i < 6; i++) await waitFor(client, "acknowledged");
        const got: [string, string][] = [];
        for (let i = 0; i < 6; i++) {
          const m = await message(sub);
          got.push([m.topic, text(m.payload)]);
        }
        deepStrictEqual(got, [[a, "a1"], [b, "b1"], [c, "c1"], [a, "a2"], [c, "c2"], [b, "b2"]]);
        deepStrictEqual(topicsAndAliases(tap.packets()), [
          [a, 3],
          [b, 1],
          [c, 2],
          ["", 3],
          ["", 2],
          ["", 1],
        ]);
      },
    );

    await t.step(
      "Mosquitto 2.0.11 sends no Topic Aliases, even to a client that allows 5",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("incoming");
        const tap = new Wiretap();
        const { client: sub } = await clients.connect(
          { topicAliasMaximum: 5 },
          undefined,
          await tappedTcp(broker, tap),
        );
        const connect = tap.packets()[0]!;
        ok(connect.type === PacketType.Connect);
        equal(connect.properties?.topicAliasMaximum, 5);
        await subscribed(sub, { filter: topic, qos: 1 });
        const { client: pub } = await clients.connect();
        for (let i = 0; i < 3; i++) {
          await pub.publish({ topic, qos: 1 }, `m${i}`);
          await waitFor(pub, "acknowledged");
        }
        for (let i = 0; i < 3; i++) {
          const m = await message(sub);
          equal(m.topic, topic);
          equal(m.properties.topicAlias, undefined);
        }
        await assertQuiet(sub);
      },
    );
  },
});

Deno.test({
  name: "Topic aliases against a scripted peer",
  async fn(t) {
    await t.step(
      "incoming Topic Aliases from 1 to the client's maximum resolve to their topics, and a remapped alias to its new topic [MQTT-3.3.2-10]",
      async () => {
        await using h = await openPeer({ connect: { topicAliasMaximum: 4 } });
        equal(h.connect.properties?.topicAliasMaximum, 4);
        const sends: [string, number][] = [
          ["a/one", 1],
          ["a/four", 4],
          ["", 1],
          ["", 4],
          ["a/uno", 1],
          ["", 1],
        ];
        for (const [i, [topic, topicAlias]] of sends.entries()) {
          await h.send(publishPacket(topic, `m${i}`, 1, i + 1, { topicAlias }));
        }
        const got: string[] = [];
        for (let i = 0; i < sends.length; i++) {
          const m = await message(h.client);
          equal(text(m.payload), `m${i}`);
          got.push(m.topic);
          deepStrictEqual(await h.sent(), {
            type: PacketType.Puback,
            packetId: i + 1,
            reasonCode: 0,
          });
        }
        deepStrictEqual(got, ["a/one", "a/four", "a/one", "a/four", "a/uno", "a/uno"]);
      },
    );

    await t.step(
      "a Topic Alias above the client's Topic Alias Maximum is answered with DISCONNECT 0x94, even with its topic [MQTT-3.1.2-26] [MQTT-3.3.2-11]",
      async () => {
        await using h = await openPeer({ connect: { topicAliasMaximum: 4 } });
        await h.send(publishPacket("a/four", "ok", 0, undefined, { topicAlias: 4 }));
        equal((await message(h.client)).topic, "a/four");
        await h.send(publishPacket("a/five", "too far", 0, undefined, { topicAlias: 5 }));
        await assertViolation(h, nextEvent(h.client), 0x94);
      },
    );

    await t.step(
      "a Topic Alias from a server the client allowed none is answered with DISCONNECT 0x94 [MQTT-3.1.2-27]",
      async () => {
        await using h = await openPeer();
        equal(h.connect.properties?.topicAliasMaximum, undefined, "CONNECT allows no alias");
        await h.send(publishPacket("a", "x", 0, undefined, { topicAlias: 1 }));
        await assertViolation(h, nextEvent(h.client), 0x94);
      },
    );

    await t.step(
      "incoming aliases do not survive a reconnect: an alias set on the last connection and used alone is answered with DISCONNECT 0x94 [MQTT-3.3.2-7]",
      async () => {
        await using peer = await startPeer();
        const client = new Client();
        {
          await using h = await openPeer({
            peer,
            reuse: client,
            connect: { topicAliasMaximum: 2 },
          });
          await h.send(publishPacket("kept/topic", "first", 0, undefined, { topicAlias: 2 }));
          await h.send(publishPacket("", "second", 0, undefined, { topicAlias: 2 }));
          equal((await message(client)).topic, "kept/topic");
          equal((await message(client)).topic, "kept/topic");
        }
        await using h = await openPeer({ peer, reuse: client, connect: { topicAliasMaximum: 2 } });
        await h.send(publishPacket("", "third", 0, undefined, { topicAlias: 2 }));
        await assertViolation(h, nextEvent(h.client), 0x94);
      },
    );

    await t.step(
      'a server that allows no Topic Alias gets none: an explicit alias throws ServerCapabilityError 0x94 with nothing sent, and "auto" sends every topic in full [MQTT-3.2.2-18]',
      async () => {
        await using h = await openPeer({ client: { topicAliases: "auto" } });
        equal(h.result.limits.topicAliasMaximum, 0);
        await rejects(
          h.client.publish({ topic: "t", qos: 0, properties: { topicAlias: 1 } }, "x"),
          (e: unknown) => e instanceof ServerCapabilityError && e.reasonCode === 0x94,
        );
        for (let i = 0; i < 3; i++) {
          await h.client.publish({ topic: "same/topic", qos: 0 }, `m${i}`);
        }
        for (let i = 0; i < 3; i++) {
          deepStrictEqual(await h.sent(), {
            type: PacketType.Publish,
            topic: "same/topic",
            qos: 0,
            retain: false,
            dup: false,
            payload: te.encode(`m${i}`),
          });
        }
      },
    );
  },
});
