// Session recovery over TCP: a proxy between the publishing client and Mosquitto cuts the
// connection at chosen points of the QoS 1 and QoS 2 flows; a new client with the same session
// (or one restored from a JSON snapshot) reconnects, recovers the flight, and a subscriber
// connected straight to the broker counts what arrived. The broker's own log (log_type all) shows
// what it received: the DUP flag of a republished PUBLISH, and no PUBLISH after a PUBREC.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ClientStateError,
  ConnectionClosedError,
  encodedLength,
  type IncomingMessageEvent,
  PacketType,
  Session,
  type SessionSnapshot,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import {
  brokerAvailable,
  brokerIgnoreReason,
  type Mosquitto,
  startMosquitto,
} from "../_util/mosquitto.ts";
import { type Proxy, type ProxyConnection, startProxy } from "../_util/proxy.ts";
import { Clients, nextEvent, text, uniqueTopic, waitFor } from "./_client.ts";

const te = new TextEncoder();

/** Everything one scenario needs: a subscriber, a publisher behind the proxy, their ids. */
interface Scene {
  clients: Clients;
  topic: string;
  clientId: string;
  session: Session;
  publisher: Client;
  /** The proxy's connection of the publisher's first connection. */
  wire: ProxyConnection;
  subscriber: Client;
}

async function scene(broker: Mosquitto, proxy: Proxy, name: string): Promise<Scene> {
  const direct = new Clients(
    () => connectTcp({ hostname: broker.hostname, port: broker.port }),
    { username: broker.username, password: broker.password },
  );
  const topic = uniqueTopic(name);
  const { client: subscriber } = await direct.connect();
  await subscriber.subscribe({ filter: topic, qos: 2 });
  deepStrictEqual((await waitFor(subscriber, "subscribed")).reasonCodes, [2]);
  const session = new Session();
  const clientId = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  const publisher = new Client({ session });
  const before = proxy.connections.length;
  await direct.connect(
    { clientId, cleanStart: true, sessionExpiryInterval: 300 },
    publisher,
    await connectTcp({ hostname: proxy.hostname, port: proxy.port }),
  );
  const wire = await proxy.connection(before + 1);
  return { clients: direct, topic, clientId, session, publisher, wire, subscriber };
}

/** The session as the application would keep it: through JSON text, or the same object. */
function keep(session: Session, viaSnapshot: boolean): Session {
  if (!viaSnapshot) return session;
  return Session.fromSnapshot(JSON.parse(JSON.stringify(session.snapshot())) as SessionSnapshot);
}

/** A new client with `session` connects through the proxy, resuming; the broker has the session. */
async function reconnect(s: Scene, proxy: Proxy, session: Session): Promise<Client> {
  const client = new Client({ session });
  const { result } = await s.clients.connect(
    { clientId: s.clientId, cleanStart: false, sessionExpiryInterval: 300 },
    client,
    await connectTcp({ hostname: proxy.hostname, port: proxy.port }),
  );
  equal(result.sessionPresent, true);
  deepStrictEqual(result.discarded, []);
  return client;
}

/** Polls until the connection is found closed; returns the events before that. */
async function untilClosed(client: Client): Promise<string[]> {
  const events: string[] = [];
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    try {
      events.push((await client.poll({ signal })).type);
    } catch (e) {
      ok(e instanceof ConnectionClosedError, String(e));
      return events;
    }
  }
}

/**
 * What the subscriber received on the scene's topic: it pings and collects messages until the
 * PINGRESP, which the broker sends after everything queued before it.
 */
async function received(s: Scene): Promise<string[]> {
  await s.subscriber.ping();
  const payloads: string[] = [];
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    const e = await s.subscriber.poll({ signal });
    if (e.type === "pong") return payloads;
    if (e.type === "message") payloads.push(text((e as IncomingMessageEvent).payload));
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * The PUBLISH packets the broker logged receiving from the scene's publisher, as DUP flags by
 * packet id, waiting until at least `atLeast` are there (its log is read asynchronously).
 */
async function brokerSaw(
  broker: Mosquitto,
  s: Scene,
  atLeast: number,
): Promise<{ dup: number; qos: number; mid: number }[]> {
  const pattern = new RegExp(
    `Received PUBLISH from ${escape(s.clientId)} \\(d(\\d), q(\\d), r\\d, m(\\d+), '${
      escape(s.topic)
    }'`,
    "g",
  );
  const deadline = Date.now() + 5000;
  for (;;) {
    const seen = [...broker.logs().matchAll(pattern)].map((m) => ({
      dup: Number(m[1]),
      qos: Number(m[2]),
      mid: Number(m[3]),
    }));
    if (seen.length >= atLeast || Date.now() > deadline) return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function publishLength(topic: string, payload: string, qos: 1 | 2): number {
  return encodedLength({
    type: PacketType.Publish,
    topic,
    payload: te.encode(payload),
    qos,
    packetId: 1,
  });
}

const ACK_LENGTH = encodedLength({ type: PacketType.Pubrel, packetId: 1 });

Deno.test({
  name:
    "Client session recovery after the connection is cut at each point of the QoS 1 and 2 flows",
  ignore: !brokerAvailable,
  async fn(t) {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto({ verbose: true });
    await using proxy = await startProxy({ target: broker });

    for (const viaSnapshot of [false, true]) {
      const how = viaSnapshot ? "a session restored from JSON" : "the same session";
      await t.step(
        `QoS 1 cut after the PUBLISH left, before its PUBACK: ${how} republishes with DUP, delivered at least once [MQTT-4.4.0-1] [MQTT-3.3.1-1]`,
        async () => {
          const s = await scene(broker, proxy, "q1-after-publish");
          await using _ = s.clients;
          s.wire.cutAfter({ toServer: publishLength(s.topic, "one", 1) });
          const id = (await s.publisher.publish({ topic: s.topic, qos: 1 }, "one"))!;
          deepStrictEqual(await untilClosed(s.publisher), []);
          equal(s.session.flight(id)?.state, "awaiting-puback");

          const client = await reconnect(s, proxy, keep(s.session, viaSnapshot));
          equal(client.session.flight(id)?.state, "awaiting-puback");
          await client.republish(id);
          // Once per connection: a second republish before the reconnect after is refused.
          await rejects(client.republish(id), ClientStateError);
          const ack = await nextEvent(client);
          deepStrictEqual([ack.type, "packetId" in ack && ack.packetId], ["acknowledged", id]);
          equal(client.session.flight(id), undefined);

          const saw = await brokerSaw(broker, s, 2);
          deepStrictEqual(saw, [{ dup: 0, qos: 1, mid: id }, { dup: 1, qos: 1, mid: id }]);
          const got = await received(s);
          ok(got.length >= 1 && got.every((p) => p === "one"), JSON.stringify(got));
        },
      );
    }

    await t.step(
      "QoS 1 cut in the middle of the PUBLISH: the republished message arrives exactly once [MQTT-4.4.0-1]",
      async () => {
        const s = await scene(broker, proxy, "q1-mid-publish");
        await using _ = s.clients;
        s.wire.cutAfter({ toServer: publishLength(s.topic, "half", 1) - 2 });
        const id = (await s.publisher.publish({ topic: s.topic, qos: 1 }, "half"))!;
        deepStrictEqual(await untilClosed(s.publisher), []);
        equal(s.session.flight(id)?.state, "awaiting-puback");

        const client = await reconnect(s, proxy, s.session);
        deepStrictEqual(await client.resend(), [id]);
        equal((await waitFor(client, "acknowledged")).packetId, id);
        deepStrictEqual(await brokerSaw(broker, s, 1), [{ dup: 1, qos: 1, mid: id }]);
        deepStrictEqual(await received(s), ["half"]);
      },
    );

    for (const viaSnapshot of [false, true]) {
      const how = viaSnapshot ? "a session restored from JSON" : "the same session";
      await t.step(
        `QoS 2 cut after the PUBLISH left, before its PUBREC: ${how} republishes with DUP, delivered exactly once [MQTT-4.4.0-1] [MQTT-3.3.1-1]`,
        async () => {
          const s = await scene(broker, proxy, "q2-after-publish");
          await using _ = s.clients;
          s.wire.cutAfter({ toServer: publishLength(s.topic, "two", 2) });
          const id = (await s.publisher.publish({ topic: s.topic, qos: 2 }, "two"))!;
          deepStrictEqual(await untilClosed(s.publisher), []);
          equal(s.session.flight(id)?.state, "awaiting-pubrec");

          const client = await reconnect(s, proxy, keep(s.session, viaSnapshot));
          equal(client.session.flight(id)?.state, "awaiting-pubrec");
          equal(text(client.session.flight(id)!.publication!.payload), "two");
          await client.republish(id);
          equal((await waitFor(client, "received")).packetId, id);
          equal(client.session.flight(id)?.state, "awaiting-pubcomp");
          equal((await waitFor(client, "completed")).packetId, id);
          equal(client.session.flight(id), undefined);

          const saw = await brokerSaw(broker, s, 2);
          deepStrictEqual(saw, [{ dup: 0, qos: 2, mid: id }, { dup: 1, qos: 2, mid: id }]);
          deepStrictEqual(await received(s), ["two"]);
        },
      );
    }

    for (const viaSnapshot of [false, true]) {
      const how = viaSnapshot ? "a session restored from JSON" : "the same session";
      await t.step(
        `QoS 2 cut after the PUBREC arrived: ${how} re-releases and never sends the PUBLISH again, delivered exactly once [MQTT-4.3.3-6] [MQTT-4.4.0-1]`,
        async () => {
          const s = await scene(broker, proxy, "q2-after-pubrec");
          await using _ = s.clients;
          s.wire.cutAfter({ toClient: ACK_LENGTH });
          const id = (await s.publisher.publish({ topic: s.topic, qos: 2 }, "released"))!;
          deepStrictEqual(await untilClosed(s.publisher), ["received"]);
          equal(s.session.flight(id)?.state, "awaiting-pubcomp");
          equal(s.session.flight(id)?.publication, undefined, "the PUBLISH is gone");

          const client = await reconnect(s, proxy, keep(s.session, viaSnapshot));
          equal(client.session.flight(id)?.state, "awaiting-pubcomp");
          await rejects(client.republish(id), ClientStateError);
          await client.rerelease(id);
          equal((await waitFor(client, "completed")).packetId, id);
          equal(client.session.flight(id), undefined);

          deepStrictEqual(await received(s), ["released"]);
          // The broker got the PUBLISH once, on the first connection, and never again.
          deepStrictEqual(await brokerSaw(broker, s, 1), [{ dup: 0, qos: 2, mid: id }]);
        },
      );
    }

    await t.step(
      "QoS 2 cut after the PUBREL left, before its PUBCOMP: resend() re-releases, delivered exactly once [MQTT-4.3.3-6] [MQTT-4.4.0-1]",
      async () => {
        const s = await scene(broker, proxy, "q2-after-pubrel");
        await using _ = s.clients;
        s.wire.cutAfter({ toServer: publishLength(s.topic, "rel", 2) + ACK_LENGTH });
        const id = (await s.publisher.publish({ topic: s.topic, qos: 2 }, "rel"))!;
        deepStrictEqual(await untilClosed(s.publisher), ["received"]);
        equal(s.session.flight(id)?.state, "awaiting-pubcomp");

        const client = await reconnect(s, proxy, keep(s.session, true));
        deepStrictEqual(await client.resend(), [id]);
        equal((await waitFor(client, "completed")).packetId, id);
        deepStrictEqual(await received(s), ["rel"]);
        deepStrictEqual(await brokerSaw(broker, s, 1), [{ dup: 0, qos: 2, mid: id }]);
      },
    );

    await t.step(
      "resend() sends every flight again in its original order, each delivered once [MQTT-4.6.0-1] [MQTT-4.4.0-1]",
      async () => {
        const s = await scene(broker, proxy, "resend-order");
        await using _ = s.clients;
        // Hold everything the publisher sends, then drop the connection: nothing reaches the broker.
        proxy.pause();
        const ids: number[] = [];
        const plan = [[1, "a"], [2, "b"], [1, "c"], [2, "d"], [1, "e"]] as const;
        for (const [qos, payload] of plan) {
          ids.push((await s.publisher.publish({ topic: s.topic, qos }, payload))!);
        }
        s.wire.cutNow();
        proxy.resume();
        deepStrictEqual(await untilClosed(s.publisher), []);
        deepStrictEqual(s.session.state.outgoing.map((f) => f.packetId), ids);

        const client = await reconnect(s, proxy, keep(s.session, true));
        deepStrictEqual(await client.resend(), ids);
        const done = new Set<number>();
        const signal = AbortSignal.timeout(5000);
        while (done.size < ids.length) {
          const e = await client.poll({ signal });
          if (e.type === "acknowledged" || e.type === "completed") done.add(e.packetId);
          else equal(e.type, "received");
        }
        equal(client.session.state.outgoing.length, 0);
        const saw = await brokerSaw(broker, s, ids.length);
        deepStrictEqual(saw.map((p) => p.mid), ids, "the broker got them in the original order");
        ok(saw.every((p) => p.dup === 1));
        // Mosquitto forwards QoS 1 on PUBLISH and QoS 2 on PUBREL, so only the set is certain.
        deepStrictEqual((await received(s)).sort(), ["a", "b", "c", "d", "e"]);
      },
    );
  },
});
