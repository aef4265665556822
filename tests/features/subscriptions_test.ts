// Subscription features against Mosquitto: Subscription Identifiers, shared subscriptions, Retain
// Handling, Retain As Published and No Local; and, with a scripted peer, what a server that lacks
// them announces, and several identifiers on one PUBLISH.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  type Client,
  EncodeError,
  type IncomingMessageEvent,
  type Packet,
  PacketType,
  ServerCapabilityError,
} from "../../mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import {
  assertQuiet,
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

/** The SUBSCRIBE packets among `packets`. */
function subscribes(packets: Packet[]): (Packet & { type: typeof PacketType.Subscribe })[] {
  return packets.filter((p) => p.type === PacketType.Subscribe) as (Packet & {
    type: typeof PacketType.Subscribe;
  })[];
}

/**
 * The messages waiting for `client`: it pings and collects the messages that come before the
 * PINGRESP (acknowledgements of its own publications are skipped).
 */
async function pending(client: Client): Promise<IncomingMessageEvent[]> {
  await client.ping();
  const messages: IncomingMessageEvent[] = [];
  for (;;) {
    const e = await nextEvent(client);
    if (e.type === "pong") return messages;
    if (e.type === "message") messages.push(e);
    else ok(e.type === "acknowledged", `unexpected ${JSON.stringify(e)}`);
  }
}

Deno.test({
  name: "Subscriptions against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto();

    await t.step(
      "a Subscription Identifier goes with SUBSCRIBE; Mosquitto sends one copy per overlapping subscription, each with its own identifier, and the message event carries it [MQTT-3.3.4-3] [MQTT-3.3.4-5]",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("subid");
        const tap = new Wiretap();
        const { client: sub } = await clients.connect({}, undefined, await tappedTcp(broker, tap));
        await subscribed(sub, { filter: `${base}/#`, qos: 1 }, { subscriptionIdentifier: 7 });
        await subscribed(sub, { filter: `${base}/+`, qos: 1 }, {
          subscriptionIdentifier: 268_435_455,
        });
        await subscribed(sub, { filter: `${base}/x`, qos: 1 });
        deepStrictEqual(
          subscribes(tap.packets()).map((s) => s.properties?.subscriptionIdentifiers),
          [[7], [268_435_455], undefined],
        );
        deepStrictEqual(
          sub.session.state.subscriptions.map((s) => s.subscriptionIdentifier),
          [7, 268_435_455, undefined],
        );

        const { client: pub } = await clients.connect();
        await pub.publish({ topic: `${base}/x`, qos: 1 }, "three");
        await waitFor(pub, "acknowledged");
        await pub.publish({ topic: `${base}/y/z`, qos: 1 }, "one");
        await waitFor(pub, "acknowledged");
        const copies: IncomingMessageEvent[] = [];
        for (let i = 0; i < 4; i++) copies.push(await message(sub));
        await assertQuiet(sub);
        const ids = (payload: string) =>
          copies.filter((m) => text(m.payload) === payload)
            .map((m) => JSON.stringify(m.properties.subscriptionIdentifiers ?? null)).sort();
        deepStrictEqual(ids("three"), ["[268435455]", "[7]", "null"]);
        deepStrictEqual(ids("one"), ["[7]"]);

        // Subscribing again to the same filter replaces the identifier.
        await subscribed(sub, { filter: `${base}/#`, qos: 1 }, { subscriptionIdentifier: 8 });
        await pub.publish({ topic: `${base}/y/z`, qos: 1 }, "again");
        await waitFor(pub, "acknowledged");
        deepStrictEqual((await message(sub)).properties.subscriptionIdentifiers, [8]);
      },
    );

    await t.step(
      "$share/group/filter: two members share the messages, each delivered to one of them, while a plain subscriber gets all",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("shared");
        const filter = `$share/workers/${base}/#`;
        const { client: a } = await clients.connect();
        const { client: b } = await clients.connect();
        const { client: all } = await clients.connect();
        await subscribed(a, { filter, qos: 1 });
        await subscribed(b, { filter, qos: 1 });
        await subscribed(all, { filter: `${base}/#`, qos: 1 });
        const { client: pub } = await clients.connect();
        const total = 6;
        for (let i = 0; i < total; i++) {
          await pub.publish({ topic: `${base}/job`, qos: 1 }, `job${i}`);
          await waitFor(pub, "acknowledged");
        }
        const everything: string[] = [];
        for (let i = 0; i < total; i++) everything.push(text((await message(all)).payload));
        const share = async (client: Client) => {
          const got = await pending(client);
          ok(got.every((m) => m.topic === `${base}/job`));
          return got.map((m) => text(m.payload));
        };
        const gotA = await share(a);
        const gotB = await share(b);
        ok(gotA.length > 0 && gotB.length > 0, `both members got some: ${gotA} / ${gotB}`);
        deepStrictEqual([...gotA, ...gotB].sort(), everything.slice().sort());
        equal(new Set([...gotA, ...gotB]).size, total, "none twice");
      },
    );

    await t.step(
      "invalid share names and No Local on a shared subscription are refused with EncodeError before anything is written [MQTT-4.8.2-1] [MQTT-4.8.2-2] [MQTT-3.8.3-4]",
      async () => {
        await using clients = clientsOf(broker);
        const tap = new Wiretap();
        const { client } = await clients.connect({}, undefined, await tappedTcp(broker, tap));
        const written = tap.bytes;
        const cases: [string, boolean, string][] = [
          ["$share//a/b", false, "MQTT-4.8.2-1"],
          ["$share/g+/a", false, "MQTT-4.8.2-2"],
          ["$share/g#/a", false, "MQTT-4.8.2-2"],
          ["$share/g", false, "MQTT-4.8.2-2"],
          ["$share/g/", false, "MQTT-4.8.2-2"],
          ["$share/g/a/b", true, "MQTT-3.8.3-4"],
        ];
        for (const [filter, noLocal, statement] of cases) {
          await rejects(client.subscribe({ filter, qos: 1, noLocal }), (e: unknown) => {
            ok(e instanceof EncodeError, `${filter}: ${e}`);
            equal(e.recoverable, true);
            equal(e.statement, statement, filter);
            return true;
          });
        }
        equal(tap.bytes, written, "nothing was written");
        // The same shared filter without No Local is fine.
        await subscribed(client, { filter: "$share/g/a/b", qos: 1 });
      },
    );

    await t.step(
      "Retain Handling 0, 1 and 2, Retain As Published and No Local: the options go on the wire and Mosquitto applies them",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("retain-options");
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1, retain: true }, "kept");
        await waitFor(pub, "acknowledged");
        /** The messages waiting for `client`, as "payload:retain". */
        const retained = async (client: Client) =>
          (await pending(client)).map((m) => `${text(m.payload)}:${m.retain}`);

        const tap = new Wiretap();
        const { client: s0 } = await clients.connect();
        const { client: s1 } = await clients.connect({}, undefined, await tappedTcp(broker, tap));
        const { client: s2 } = await clients.connect();
        // Retain Handling 0: the retained message at every subscribe.
        await subscribed(s0, { filter: topic, qos: 1, retainHandling: 0 });
        deepStrictEqual(await retained(s0), ["kept:true"]);
        await subscribed(s0, { filter: topic, qos: 1, retainHandling: 0 });
        deepStrictEqual(await retained(s0), ["kept:true"]);
        // Retain Handling 1: only when the subscription is new.
        await subscribed(s1, { filter: topic, qos: 1, retainHandling: 1, retainAsPublished: true });
        deepStrictEqual(await retained(s1), ["kept:true"]);
        await subscribed(s1, { filter: topic, qos: 1, retainHandling: 1, retainAsPublished: true });
        deepStrictEqual(await retained(s1), []);
        // Retain Handling 2: never.
        await subscribed(s2, { filter: topic, qos: 1, retainHandling: 2 });
        deepStrictEqual(await retained(s2), []);

        // A live retained publication: RETAIN kept only with Retain As Published.
        await pub.publish({ topic, qos: 1, retain: true }, "live");
        await waitFor(pub, "acknowledged");
        deepStrictEqual(await retained(s0), ["live:false"]);
        deepStrictEqual(await retained(s1), ["live:true"]);
        deepStrictEqual(await retained(s2), ["live:false"]);
        const options = subscribes(tap.packets()).map((s) => s.subscriptions[0]);
        deepStrictEqual(options.map((o) => [o?.retainHandling, o?.retainAsPublished]), [
          [1, true],
          [1, true],
        ]);

        // No Local: the publisher's own message does not come back; without it, it does.
        const own = uniqueTopic("no-local");
        const echo = uniqueTopic("echo");
        await subscribed(pub, [{ filter: own, qos: 1, noLocal: true }, { filter: echo, qos: 1 }]);
        await subscribed(s0, { filter: own, qos: 1 });
        await pub.publish({ topic: own, qos: 1 }, "mine");
        await pub.publish({ topic: echo, qos: 1 }, "echoed");
        deepStrictEqual(await retained(pub), ["echoed:false"]);
        deepStrictEqual(await retained(s0), ["mine:false"]);
        // Mosquitto 2.0.11 keeps No Local when the same filter is subscribed again without it
        // (while it does replace the Subscription Identifier, see above).
        await subscribed(pub, { filter: own, qos: 1, noLocal: false });
        await pub.publish({ topic: own, qos: 1 }, "mine again");
        deepStrictEqual(await retained(pub), []);
      },
    );
  },
});

Deno.test({
  name: "Subscriptions against a scripted peer",
  async fn(t) {
    await t.step(
      "a server without Subscription Identifiers, wildcard or shared subscriptions gets none: ServerCapabilityError 0xA1, 0xA2, 0x9E with nothing sent",
      async () => {
        await using h = await openPeer({
          connack: {
            properties: {
              subscriptionIdentifierAvailable: 0,
              wildcardSubscriptionAvailable: 0,
              sharedSubscriptionAvailable: 0,
            },
          },
        });
        const limits = h.result.limits;
        deepStrictEqual(
          [
            limits.subscriptionIdentifierAvailable,
            limits.wildcardSubscriptionAvailable,
            limits.sharedSubscriptionAvailable,
          ],
          [false, false, false],
        );
        const cases: [Promise<unknown>, number][] = [
          [h.client.subscribe({ filter: "a/b" }, { subscriptionIdentifier: 1 }), 0xa1],
          [h.client.subscribe({ filter: "a/+" }), 0xa2],
          [h.client.subscribe([{ filter: "a/b" }, { filter: "a/#" }]), 0xa2],
          [h.client.subscribe({ filter: "$share/g/a/b" }), 0x9e],
        ];
        for (const [action, code] of cases) {
          await rejects(action, (e: unknown) => {
            ok(e instanceof ServerCapabilityError, String(e));
            equal(e.reasonCode, code);
            equal(e.recoverable, true);
            return true;
          });
        }
        // Nothing went out: the next packet the server reads is the plain SUBSCRIBE after them.
        const id = await h.client.subscribe({ filter: "a/b", qos: 1 });
        deepStrictEqual(await h.sent(), {
          type: PacketType.Subscribe,
          packetId: id,
          subscriptions: [{
            filter: "a/b",
            qos: 1,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
          }],
        });
      },
    );

    await t.step(
      "a PUBLISH with several Subscription Identifiers comes as one message event carrying all of them [MQTT-3.3.4-4]",
      async () => {
        await using h = await openPeer();
        await h.send(
          publishPacket("a/b", "both", 1, 5, { subscriptionIdentifiers: [3, 1_000_000] }),
        );
        const m = await message(h.client);
        deepStrictEqual(m.properties.subscriptionIdentifiers, [3, 1_000_000]);
        deepStrictEqual(await h.sent(), { type: PacketType.Puback, packetId: 5, reasonCode: 0 });
      },
    );
  },
});
