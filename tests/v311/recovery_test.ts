// Session recovery on MQTT 3.1.1 against Mosquitto: a proxy between a client and the broker cuts
// the connection at chosen points of the QoS 1 and QoS 2 flows, on the publishing side and on the
// subscribing side. The client reconnects with Clean Session 0 and the same Session, and recovers
// with resend(); a client connected straight to the broker counts what arrived: at QoS 1 at least
// once, at QoS 2 exactly once. Mosquitto's verbose log is the broker's view: the DUP flag and
// Packet Identifier of every PUBLISH it read, and the PUBRELs. The client's in-flight limit
// (maximumInflight) holds back what resend() would send past it.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  ClientStateError,
  ConnectionClosedError,
  QuotaExceededError,
  Session,
} from "../../mod.ts";
import { brokerAvailable, type Mosquitto, startMosquitto } from "../_util/mosquitto.ts";
import { type Proxy, type ProxyConnection, startProxy } from "../_util/proxy.ts";
import {
  ACK_LENGTH,
  type Clients,
  clientsOf,
  drain,
  escape,
  logged,
  nextEvent,
  pollUntil,
  publishes,
  publishLength,
  receive,
  subscribe,
  text,
  uniqueId,
  uniqueTopic,
  waitFor,
} from "./_v311.ts";

/** A client, its Session and identifier, on its first connection through the proxy. */
interface Side {
  clientId: string;
  session: Session;
  client: Client;
  /** The proxy's connection of the client's first connection. */
  wire: ProxyConnection;
}

/** Everything one scenario needs: clients straight to the broker and through the proxy. */
interface Scene {
  direct: Clients;
  proxied: Clients;
  topic: string;
}

function scene(broker: Mosquitto, proxy: Proxy, name: string): Scene & AsyncDisposable {
  const direct = clientsOf(broker);
  const proxied = clientsOf(broker, proxy);
  return {
    direct,
    proxied,
    topic: uniqueTopic(name),
    async [Symbol.asyncDispose]() {
      await direct[Symbol.asyncDispose]();
      await proxied[Symbol.asyncDispose]();
    },
  };
}

/** Connects a new client through the proxy with Clean Session 0 and a fresh identifier. */
async function behindProxy(
  s: Scene,
  proxy: Proxy,
  name: string,
  options: { manualAck?: boolean; cleanStart?: boolean; maximumInflight?: number } = {},
): Promise<Side> {
  const clientId = uniqueId(name);
  const session = new Session();
  const client = new Client({ session, manualAck: options.manualAck ?? false });
  const before = proxy.connections.length;
  const { result } = await s.proxied.connect({
    clientId,
    cleanStart: options.cleanStart ?? false,
    ...(options.maximumInflight !== undefined ? { maximumInflight: options.maximumInflight } : {}),
  }, client);
  equal(result.sessionPresent, false);
  return { clientId, session, client, wire: await proxy.connection(before + 1) };
}

/** A new client with the side's Session resumes through the proxy: Session Present 1. */
async function resume(
  s: Scene,
  side: Side,
  options: { manualAck?: boolean; maximumInflight?: number } = {},
): Promise<Client> {
  const client = new Client({ session: side.session, manualAck: options.manualAck ?? false });
  const { result } = await s.proxied.connect({
    clientId: side.clientId,
    cleanStart: false,
    ...(options.maximumInflight !== undefined ? { maximumInflight: options.maximumInflight } : {}),
  }, client);
  equal(result.sessionPresent, true);
  deepStrictEqual(result.discarded, []);
  return client;
}

/** Polls until the connection is found closed; returns the event types before, and the error. */
async function untilClosed(client: Client): Promise<{ events: string[]; error: unknown }> {
  const events: string[] = [];
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    try {
      events.push((await client.poll({ signal })).type);
    } catch (error) {
      ok(error instanceof ConnectionClosedError, String(error));
      return { events, error };
    }
  }
}

/** How many PUBRELs Mosquitto logged receiving from `clientId` for `mid`. */
function pubrelsFrom(broker: Mosquitto, clientId: string, mid: number): number {
  const pattern = new RegExp(`Received PUBREL from ${escape(clientId)} \\(Mid: ${mid}\\)`, "g");
  return broker.logs().match(pattern)?.length ?? 0;
}

/** A subscriber straight to the broker, on the scene's topic at QoS 2. */
async function watcher(s: Scene): Promise<Client> {
  const { client } = await s.direct.connect();
  deepStrictEqual(await subscribe(client, s.topic, 2), [2]);
  return client;
}

Deno.test({
  name: "Client on MQTT 3.1.1: session recovery after cuts in the QoS 1 and 2 flows, both sides",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ verbose: true });
    await using proxy = await startProxy({ target: broker });

    await t.step(
      "publisher, QoS 1, cut after the PUBLISH left: resend() sends it again with DUP 1 and the same Packet Identifier, delivered at least once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-3.3.1-1] [v3.1.1 MQTT-2.3.1-3]",
      async () => {
        await using s = scene(broker, proxy, "q1-after-publish");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "q1-after-publish");
        pub.wire.cutAfter({ toServer: publishLength(s.topic, "one", 1) });
        const id = (await pub.client.publish({ topic: s.topic, qos: 1 }, "one"))!;
        const { events, error } = await untilClosed(pub.client);
        deepStrictEqual(events, []);
        equal((error as ConnectionClosedError).sessionResumable, true);
        equal(pub.session.flight(id)?.state, "awaiting-puback");

        const client = await resume(s, pub);
        deepStrictEqual(await client.resend(), [id]);
        await rejects(client.republish(id), ClientStateError, "once per connection");
        deepStrictEqual(await nextEvent(client), {
          type: "acknowledged",
          packetId: id,
          reasonCode: 0,
          properties: {},
        });
        equal(pub.session.flight(id), undefined);
        deepStrictEqual(
          (await publishes(broker, "Received", pub.clientId, s.topic, 2)).map((
            p,
          ) => [p.dup, p.mid]),
          [[0, id], [1, id]],
        );
        const got = await drain(sub);
        ok(got.length >= 1 && got.every((p) => p === "one"), JSON.stringify(got));
      },
    );

    await t.step(
      "publisher, QoS 1, cut in the middle of the PUBLISH: the broker only reads the resent one, DUP 1, delivered once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-3.3.1-1]",
      async () => {
        await using s = scene(broker, proxy, "q1-mid-publish");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "q1-mid-publish");
        pub.wire.cutAfter({ toServer: publishLength(s.topic, "half", 1) - 2 });
        const id = (await pub.client.publish({ topic: s.topic, qos: 1 }, "half"))!;
        deepStrictEqual((await untilClosed(pub.client)).events, []);

        const client = await resume(s, pub);
        deepStrictEqual(await client.resend(), [id]);
        equal((await waitFor(client, "acknowledged")).packetId, id);
        deepStrictEqual(
          (await publishes(broker, "Received", pub.clientId, s.topic)).map((p) => [p.dup, p.mid]),
          [[1, id]],
        );
        deepStrictEqual(await drain(sub), ["half"]);
      },
    );

    await t.step(
      "publisher, QoS 2, cut after the PUBLISH left: resent with DUP 1 and the same Packet Identifier, delivered exactly once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-3.3.1-1] [v3.1.1 MQTT-2.3.1-3]",
      async () => {
        await using s = scene(broker, proxy, "q2-after-publish");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "q2-after-publish");
        pub.wire.cutAfter({ toServer: publishLength(s.topic, "two", 2) });
        const id = (await pub.client.publish({ topic: s.topic, qos: 2 }, "two"))!;
        deepStrictEqual((await untilClosed(pub.client)).events, []);
        equal(pub.session.flight(id)?.state, "awaiting-pubrec");

        const client = await resume(s, pub);
        deepStrictEqual(await client.resend(), [id]);
        equal((await waitFor(client, "received")).packetId, id);
        equal((await waitFor(client, "completed")).packetId, id);
        equal(pub.session.flight(id), undefined);
        deepStrictEqual(
          (await publishes(broker, "Received", pub.clientId, s.topic, 2)).map((
            p,
          ) => [p.dup, p.mid]),
          [[0, id], [1, id]],
        );
        deepStrictEqual(await drain(sub), ["two"]);
      },
    );

    await t.step(
      "publisher, QoS 2, cut after the PUBREC came: resend() sends the PUBREL again, never the PUBLISH, delivered exactly once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-4.3.3-1]",
      async () => {
        await using s = scene(broker, proxy, "q2-after-pubrec");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "q2-after-pubrec");
        pub.wire.cutAfter({ toClient: ACK_LENGTH });
        const id = (await pub.client.publish({ topic: s.topic, qos: 2 }, "released"))!;
        deepStrictEqual((await untilClosed(pub.client)).events, ["received"]);
        equal(pub.session.flight(id)?.state, "awaiting-pubcomp");
        equal(pub.session.flight(id)?.publication, undefined, "the PUBLISH is gone");
        equal(pubrelsFrom(broker, pub.clientId, id), 0, "the first PUBREL was cut off");

        const client = await resume(s, pub);
        await rejects(client.republish(id), ClientStateError);
        deepStrictEqual(await client.resend(), [id]);
        equal((await waitFor(client, "completed")).packetId, id);
        equal(pub.session.flight(id), undefined);
        deepStrictEqual(await drain(sub), ["released"]);
        equal(pubrelsFrom(broker, pub.clientId, id), 1);
        deepStrictEqual(
          (await publishes(broker, "Received", pub.clientId, s.topic)).map((p) => [p.dup, p.mid]),
          [[0, id]],
        );
      },
    );

    await t.step(
      "publisher, QoS 2, cut after the PUBREL left, before the PUBCOMP: resend() sends the PUBREL again, delivered exactly once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-2.3.1-3]",
      async () => {
        await using s = scene(broker, proxy, "q2-after-pubrel");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "q2-after-pubrel");
        pub.wire.cutAfter({ toServer: publishLength(s.topic, "rel", 2) + ACK_LENGTH });
        const id = (await pub.client.publish({ topic: s.topic, qos: 2 }, "rel"))!;
        deepStrictEqual((await untilClosed(pub.client)).events, ["received"]);
        equal(pub.session.flight(id)?.state, "awaiting-pubcomp");

        const client = await resume(s, pub);
        deepStrictEqual(await client.resend(), [id]);
        equal((await waitFor(client, "completed")).packetId, id);
        deepStrictEqual(await drain(sub), ["rel"]);
        equal(pubrelsFrom(broker, pub.clientId, id), 2);
        deepStrictEqual(
          (await publishes(broker, "Received", pub.clientId, s.topic)).map((p) => [p.dup, p.mid]),
          [[0, id]],
        );
      },
    );

    await t.step(
      "publisher, five flights cut before any reached the broker: resend() sends them in their original order, all DUP 1, each delivered once [v3.1.1 MQTT-4.6.0-1] [v3.1.1 MQTT-4.4.0-1]",
      async () => {
        await using s = scene(broker, proxy, "resend-order");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "resend-order");
        proxy.pause();
        const ids: number[] = [];
        for (const [qos, payload] of [[1, "a"], [2, "b"], [1, "c"], [2, "d"], [1, "e"]] as const) {
          ids.push((await pub.client.publish({ topic: s.topic, qos }, payload))!);
        }
        pub.wire.cutNow();
        proxy.resume();
        deepStrictEqual((await untilClosed(pub.client)).events, []);

        const client = await resume(s, pub);
        deepStrictEqual(await client.resend(), ids);
        await pollUntil(client, () => pub.session.state.outgoing.length === 0);
        const saw = await publishes(broker, "Received", pub.clientId, s.topic, ids.length);
        deepStrictEqual(saw.map((p) => [p.dup, p.mid]), ids.map((id) => [1, id]));
        // Mosquitto forwards QoS 1 on PUBLISH and QoS 2 on PUBREL: only the set is certain.
        deepStrictEqual((await drain(sub)).sort(), ["a", "b", "c", "d", "e"]);
      },
    );

    await t.step(
      "maximumInflight 2: the third QoS 1 publication is refused with QuotaExceededError and nothing sent; after a reconnect resend() sends two flights and holds the rest back, in order, one more per acknowledgement",
      async () => {
        await using s = scene(broker, proxy, "inflight");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "inflight", { maximumInflight: 2 });
        equal(pub.client.limits.receiveMaximum, 2);
        // Held by the paused proxy: two flights, then the limit.
        proxy.pause();
        const ids = [
          (await pub.client.publish({ topic: s.topic, qos: 1 }, "p0"))!,
          (await pub.client.publish({ topic: s.topic, qos: 2 }, "p1"))!,
        ];
        equal(pub.client.sendQuota, 0);
        await rejects(
          pub.client.publish({ topic: s.topic, qos: 1 }, "refused"),
          (e) => e instanceof QuotaExceededError && e.receiveMaximum === 2 && e.recoverable,
        );
        equal(pub.session.state.outgoing.length, 2);
        // QoS 0 is not counted (and is lost with the cut).
        equal(await pub.client.publish({ topic: s.topic, qos: 0 }, "q0"), undefined);
        pub.wire.cutNow();
        proxy.resume();
        await untilClosed(pub.client);

        // Three more flights on a connection with a larger limit, cut before they left.
        const wide = await resume(s, pub, { maximumInflight: 5 });
        proxy.pause();
        for (const payload of ["p2", "p3", "p4"]) {
          ids.push((await wide.publish({ topic: s.topic, qos: 1 }, payload))!);
        }
        proxy.cutNow();
        proxy.resume();
        await untilClosed(wide);
        deepStrictEqual(pub.session.state.outgoing.map((f) => f.packetId), ids);

        const client = await resume(s, pub, { maximumInflight: 2 });
        deepStrictEqual(await client.resend(), ids.slice(0, 2));
        deepStrictEqual(client.heldBack, ids.slice(2));
        await rejects(client.publish({ topic: s.topic, qos: 1 }, "x"), QuotaExceededError);
        const resent = [...ids.slice(0, 2)];
        const done: number[] = [];
        const signal = AbortSignal.timeout(5000);
        while (done.length < ids.length) {
          const e: ClientEvent = await client.poll({ signal });
          if (e.type === "acknowledged" || e.type === "completed") {
            done.push(e.packetId);
            // One slot freed: the next flight held back goes, and only that one.
            const held = client.heldBack;
            const more = await client.resend();
            deepStrictEqual(more, held.slice(0, 1));
            deepStrictEqual(client.heldBack, held.slice(1));
            resent.push(...more);
          }
        }
        deepStrictEqual(resent, ids);
        deepStrictEqual(done.sort((a, b) => a - b), [...ids].sort((a, b) => a - b));
        const saw = await publishes(broker, "Received", pub.clientId, s.topic, ids.length);
        deepStrictEqual(saw.map((p) => [p.dup, p.mid]), ids.map((id) => [1, id]));
        deepStrictEqual((await drain(sub)).sort(), ["p0", "p1", "p2", "p3", "p4"]);
      },
    );

    await t.step(
      "publisher with Clean Session 1: the cut ends the session, the error says it cannot be resumed, and a Clean Session 0 reconnect finds none: Session Present 0, the flight discarded, not delivered [v3.1.1 MQTT-3.1.2-6] [v3.1.1 MQTT-3.2.2-3]",
      async () => {
        await using s = scene(broker, proxy, "clean");
        const sub = await watcher(s);
        const pub = await behindProxy(s, proxy, "clean", { cleanStart: true });
        proxy.pause();
        const id = (await pub.client.publish({ topic: s.topic, qos: 1 }, "lost"))!;
        pub.wire.cutNow();
        proxy.resume();
        const { error } = await untilClosed(pub.client);
        equal((error as ConnectionClosedError).sessionResumable, false);
        equal(pub.session.flight(id)?.state, "awaiting-puback");

        const client = new Client({ session: pub.session });
        const { result } = await s.proxied.connect(
          { clientId: pub.clientId, cleanStart: false },
          client,
        );
        equal(result.sessionPresent, false);
        deepStrictEqual(result.discarded.map((f) => [f.packetId, text(f.publication!.payload)]), [
          [id, "lost"],
        ]);
        deepStrictEqual(pub.session.state.outgoing, []);
        deepStrictEqual(await client.resend(), []);
        deepStrictEqual(await drain(sub), []);
      },
    );

    await t.step(
      "subscriber, QoS 1, cut after the broker's PUBLISH arrived, before the PUBACK reached it: on resume the broker sends it again with DUP 1 and the same Packet Identifier, delivered at least once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-3.3.1-1]",
      async () => {
        await using s = scene(broker, proxy, "sub-q1");
        const sub = await behindProxy(s, proxy, "sub-q1");
        deepStrictEqual(await subscribe(sub.client, s.topic, 2), [2]);
        const { client: pub } = await s.direct.connect();
        sub.wire.cutAfter({ toClient: publishLength(s.topic, "s1", 1) });
        await pub.publish({ topic: s.topic, qos: 1 }, "s1");
        const first = (await receive(sub.client, 1))[0]!;
        equal(first.dup, false);
        await untilClosed(sub.client);

        const client = await resume(s, sub);
        const again = (await receive(client, 1))[0]!;
        deepStrictEqual([text(again.payload), again.dup, again.packetId], [
          "s1",
          true,
          first.packetId,
        ]);
        deepStrictEqual(await drain(client), []);
        deepStrictEqual(
          (await publishes(broker, "Sending", sub.clientId, s.topic, 2)).map((p) => [p.dup, p.mid]),
          [[0, first.packetId], [1, first.packetId]],
        );
        await logged(
          broker,
          new RegExp(
            `Received PUBACK from ${escape(sub.clientId)} \\(Mid: ${first.packetId},`,
            "g",
          ),
        );
      },
    );

    await t.step(
      "subscriber, QoS 2, cut before the PUBREC reached the broker: the client keeps the Packet Identifier in its session, so the PUBLISH sent again (DUP 1) is a duplicate, answered with PUBREC and not delivered twice [v3.1.1 MQTT-4.3.3-2] [v3.1.1 MQTT-4.1.0-1] [v3.1.1 MQTT-4.4.0-1]",
      async () => {
        await using s = scene(broker, proxy, "sub-q2-pubrec");
        const sub = await behindProxy(s, proxy, "sub-q2-pubrec");
        deepStrictEqual(await subscribe(sub.client, s.topic, 2), [2]);
        const { client: pub } = await s.direct.connect();
        sub.wire.cutAfter({ toClient: publishLength(s.topic, "s2", 2) });
        await pub.publish({ topic: s.topic, qos: 2 }, "s2");
        // Mosquitto forwards a QoS 2 message once the publisher's PUBREL came.
        await waitFor(pub, "completed");
        const first = (await receive(sub.client, 1))[0]!;
        await untilClosed(sub.client);
        ok(sub.session.hasIncoming(first.packetId!));

        const client = await resume(s, sub);
        const events = await pollUntil(client, (e) => e.type === "released");
        deepStrictEqual(events.map((e) => e.type), ["duplicate", "released"]);
        deepStrictEqual(events[1], {
          type: "released",
          packetId: first.packetId,
          reasonCode: 0,
          known: true,
        });
        ok(!sub.session.hasIncoming(first.packetId!));
        deepStrictEqual(await drain(client), []);
        deepStrictEqual(
          (await publishes(broker, "Sending", sub.clientId, s.topic, 2)).map((p) => [p.dup, p.mid]),
          [[0, first.packetId], [1, first.packetId]],
        );
      },
    );

    await t.step(
      "subscriber, QoS 2, cut after the PUBREC reached the broker, before the client read the PUBREL: on resume the broker sends the PUBREL again and the client completes it, delivered once [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-4.3.3-2] [v3.1.1 MQTT-4.1.0-1]",
      async () => {
        await using s = scene(broker, proxy, "sub-q2-pubrel");
        const sub = await behindProxy(s, proxy, "sub-q2-pubrel", { manualAck: true });
        deepStrictEqual(await subscribe(sub.client, s.topic, 2), [2]);
        const { client: pub } = await s.direct.connect();
        await pub.publish({ topic: s.topic, qos: 2 }, "s3");
        // Mosquitto forwards a QoS 2 message once the publisher's PUBREL came.
        await waitFor(pub, "completed");
        const first = (await receive(sub.client, 1))[0]!;
        const mid = first.packetId!;
        await sub.client.acknowledge(mid);
        const pubrel = new RegExp(`Sending PUBREL to ${escape(sub.clientId)} \\(m${mid}\\)`, "g");
        await logged(broker, pubrel);
        // The PUBREL is on its way or read, but the client never handles it.
        sub.wire.cutNow();
        sub.client.abort();
        ok(sub.session.hasIncoming(mid));

        const client = await resume(s, sub);
        deepStrictEqual(await nextEvent(client), {
          type: "released",
          packetId: mid,
          reasonCode: 0,
          known: true,
        });
        deepStrictEqual(await drain(client), []);
        equal((await logged(broker, pubrel, 2)).length, 2);
        await logged(
          broker,
          new RegExp(`Received PUBCOMP from ${escape(sub.clientId)} \\(Mid: ${mid},`, "g"),
        );
        equal((await publishes(broker, "Sending", sub.clientId, s.topic)).length, 1);
      },
    );
  },
});
