// Network faults against Mosquitto, measured. A loopback proxy between the publishing client and
// the broker cuts the connection at every byte offset of a QoS 1 exchange (PUBLISH, PUBACK) and of
// a QoS 2 exchange (PUBLISH, PUBREC, PUBREL, PUBCOMP), in both directions; after each cut the
// application recovers as the README shows: a new transport, a new Client with the Session,
// Clean Start 0, then republish / rerelease by flight state, or resend(). An observer connected
// straight to the broker counts what arrived: at QoS 1 every message at least once, at QoS 2
// exactly once [MQTT-4.4.0-1] [MQTT-4.3.3-6], and after each cut the flight is in the state its
// recovery needs (awaiting-pubrec before the PUBREC came, awaiting-pubcomp after it).
//
// Then: slow reads (one byte at a time) and writes split into tiny pieces, a broker restarted
// mid-stream with persistence on, and a server that stops answering while flights are out
// (noticed through client.keepAlive.deadline, then recovered).
//
// `deno task reliability` runs more rounds (`--fault-rounds=n`, each with other payload sizes)
// and longer streams (`--restart-messages=n`, `--restarts=n`).

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  ConnectionClosedError,
  type ConnectOptions,
  encodedLength,
  MqttError,
  type OutgoingState,
  PacketType,
  Session,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import {
  brokerAvailable,
  brokerIgnoreReason,
  type Mosquitto,
  startMosquitto,
} from "../_util/mosquitto.ts";
import { type Proxy, startProxy } from "../_util/proxy.ts";
import { param, prng, report, seed } from "./_params.ts";

const ROUNDS = param("fault-rounds", 2, 12);
const RESTART_MESSAGES = param("restart-messages", 2000, 50_000);
const RESTARTS = param("restarts", 2, 20);
const TRICKLE_MESSAGES = param("trickle-messages", 24, 400);

const te = new TextEncoder();
const td = new TextDecoder();

type Address = { hostname: string; port: number };

function login(broker: Mosquitto): ConnectOptions {
  return { username: broker.username, password: broker.password };
}

/** Connects `client`, retrying while the address refuses connections (a broker restarting). */
async function connectRetrying(
  client: Client,
  address: Address,
  options: ConnectOptions,
  ms = 10_000,
): Promise<Awaited<ReturnType<Client["connect"]>>> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await client.connect(await connectTcp(address), {
        ...options,
        signal: AbortSignal.timeout(5000),
      });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      if (!(e instanceof Deno.errors.ConnectionRefused || e instanceof ConnectionClosedError)) {
        throw e;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * A client connected straight to the broker that counts the payloads arriving on a topic filter.
 * `settle()` pings and collects until the PINGRESP, which the broker sends after everything it
 * queued before.
 */
class Observer implements AsyncDisposable {
  readonly counts = new Map<string, number>();
  readonly client = new Client();
  static async open(broker: Mosquitto, filter: string): Promise<Observer> {
    const o = new Observer();
    await o.client.connect(await connectTcp(broker), { ...login(broker), clientId: "" });
    await o.client.subscribe({ filter, qos: 2 });
    await o.#until((e) => e.type === "subscribed");
    return o;
  }
  async #until(done: (e: ClientEvent) => boolean): Promise<void> {
    const signal = AbortSignal.timeout(10_000);
    for (;;) {
      const e = await this.client.poll({ signal });
      if (e.type === "message") {
        const p = td.decode(e.payload);
        this.counts.set(p, (this.counts.get(p) ?? 0) + 1);
      }
      if (done(e)) return;
    }
  }
  async settle(): Promise<void> {
    await this.client.ping();
    await this.#until((e) => e.type === "pong");
  }
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.client.state === "connected") await this.client.disconnect().catch(() => {});
    this.client.abort();
  }
}

/** Polls until the connection is found closed; returns the event types seen before. */
async function untilClosed(client: Client): Promise<string[]> {
  const types: string[] = [];
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    try {
      types.push((await client.poll({ signal })).type);
    } catch (e) {
      ok(e instanceof ConnectionClosedError, String(e));
      return types;
    }
  }
}

/** Polls until the flight `id` is over (acknowledged or completed). */
async function untilDone(client: Client, id: number): Promise<void> {
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    const e = await client.poll({ signal });
    if ((e.type === "acknowledged" || e.type === "completed") && e.packetId === id) return;
    ok(e.type === "received" || e.type === "pong", `unexpected ${e.type}`);
  }
}

/** The lengths of one exchange on the wire, measured once through the proxy. */
interface Exchange {
  /** The client's PUBLISH. */
  publish: number;
  /** The client's PUBREL (QoS 2). */
  pubrel: number;
  /** The broker's PUBACK (QoS 1) or PUBREC (QoS 2). */
  ack: number;
  /** The broker's PUBCOMP (QoS 2). */
  pubcomp: number;
}

interface CutFigures {
  cuts: number;
  published: number;
  duplicatesQoS1: number;
  states: Record<string, number>;
}

/**
 * One cut: a new session publishes `payload` at `qos` through the proxy, which drops the
 * connection after `offset` bytes in `direction`; the flight must then be in `expected` (or
 * over); a new client resumes the session and completes it.
 */
async function cutOnce(
  broker: Mosquitto,
  proxy: Proxy,
  run: { topic: string; qos: 1 | 2; payload: string; useResend: boolean },
  direction: "toServer" | "toClient",
  offset: number,
  expected: OutgoingState | undefined,
  figures: CutFigures,
): Promise<void> {
  const session = new Session();
  const clientId = `cut-${crypto.randomUUID().slice(0, 12)}`;
  const options = { ...login(broker), clientId, sessionExpiryInterval: 300 };
  const first = new Client({ session });
  const n = proxy.connections.length;
  await first.connect(await connectTcp(proxy), { ...options, cleanStart: true });
  const wire = await proxy.connection(n + 1);
  wire.cutAfter({ [direction]: offset });
  let id: number | undefined;
  try {
    id = await first.publish({ topic: run.topic, qos: run.qos }, run.payload);
  } catch (e) {
    // The cut came before the write finished: the flight is kept all the same.
    ok(e instanceof ConnectionClosedError && e.packetId !== undefined, String(e));
    id = e.packetId;
  }
  await untilClosed(first);
  const where = `QoS ${run.qos}, cut after ${offset} bytes ${direction}`;
  equal(session.flight(id!)?.state, expected, where);
  figures.cuts++;
  figures.states[expected ?? "over"] = (figures.states[expected ?? "over"] ?? 0) + 1;
  if (expected === undefined) {
    ok(session.isEmpty, where);
    return;
  }
  if (expected === "awaiting-pubcomp") {
    equal(session.flight(id!)?.publication, undefined, "the PUBLISH is gone [MQTT-4.3.3-6]");
  }
  // Recovery, as the README shows.
  const client = new Client({ session });
  try {
    const result = await client.connect(await connectTcp(proxy), { ...options, cleanStart: false });
    equal(result.sessionPresent, true, where);
    if (run.useResend) {
      deepStrictEqual(await client.resend(), [id]);
    } else if (session.flight(id!)!.state === "awaiting-pubcomp") {
      await client.rerelease(id!);
    } else {
      await client.republish(id!);
    }
    await untilDone(client, id!);
    ok(session.isEmpty, where);
    await client.disconnect({ properties: { sessionExpiryInterval: 0 } });
  } finally {
    client.abort();
  }
}

Deno.test({
  name:
    "Client recovers from a connection cut at every byte offset of the QoS 1 and QoS 2 exchanges: QoS 1 at least once, QoS 2 exactly once [MQTT-4.4.0-1]",
  ignore: !brokerAvailable,
  async fn(t) {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    const base = `rel/cut/${crypto.randomUUID().slice(0, 8)}`;
    await using observer = await Observer.open(broker, `${base}/#`);
    const figures: CutFigures = { cuts: 0, published: 0, duplicatesQoS1: 0, states: {} };
    const random = prng(seed);
    const started = performance.now();

    /** Measures one uncut exchange at `qos` through the proxy. */
    async function measure(topic: string, qos: 1 | 2, payload: string): Promise<Exchange> {
      const client = new Client();
      const n = proxy.connections.length;
      await client.connect(await connectTcp(proxy), { ...login(broker), clientId: "" });
      const wire = await proxy.connection(n + 1);
      const [s0, c0] = [wire.toServer, wire.toClient];
      const id = (await client.publish({ topic, qos }, payload))!;
      const signal = AbortSignal.timeout(5000);
      let ackAt = 0;
      for (;;) {
        const e = await client.poll({ signal });
        if (e.type === "received") ackAt = wire.toClient - c0;
        if ((e.type === "acknowledged" || e.type === "completed") && e.packetId === id) break;
      }
      // The PUBCOMP is read: so is everything the client sent before it.
      const sent = wire.toServer - s0;
      const got = wire.toClient - c0;
      await client.disconnect();
      const publish = encodedLength({
        type: PacketType.Publish,
        topic,
        payload: te.encode(payload),
        qos,
        packetId: id,
      });
      return qos === 1
        ? { publish, pubrel: 0, ack: got, pubcomp: 0 }
        : { publish, pubrel: sent - publish, ack: ackAt, pubcomp: got - ackAt };
    }

    for (let round = 0; round < ROUNDS; round++) {
      // Rounds 0 and 1: payloads of 8 and 130 bytes (1- and 2-byte Remaining Lengths); later
      // rounds: sizes up to 20 kB (3-byte Remaining Lengths), offsets then stepped through.
      const size = round < 2 ? [8, 130][round]! : [0, 100, 1000, 20_000][Math.floor(random() * 4)]!;
      for (const qos of [1, 2] as const) {
        const topic = `${base}/r${round}/q${qos}`;
        const filler = "x".repeat(size);
        const ex = await measure(topic, qos, `measure-${round}-${qos}-${filler}`);
        await observer.settle();
        // Payloads of one length, so that every PUBLISH of the round has the same size.
        const payloadOf = (direction: string, offset: number) =>
          `r${String(round).padStart(3, "0")}q${qos}${direction === "toServer" ? "s" : "c"}${
            String(offset).padStart(6, "0")
          }-${filler}`;
        const publishLength = encodedLength({
          type: PacketType.Publish,
          topic,
          payload: te.encode(payloadOf("toServer", 0)),
          qos,
          packetId: 1,
        });
        const toServer = qos === 1 ? publishLength : publishLength + ex.pubrel;
        const toClient = ex.ack + ex.pubcomp;
        /** Every offset from 0 to `last`; past 2,000 (a 20 kB payload), about 1,500 of them. */
        const offsets = (last: number) => {
          const step = last > 2000 ? Math.ceil(last / 1500) : 1;
          const list: number[] = [];
          for (let o = 0; o < last; o += step) list.push(o);
          return [...list, last];
        };
        const cuts = { toServer: offsets(toServer), toClient: offsets(toClient) };
        await t.step(
          `QoS ${qos}, ${size}-byte payloads: a cut at ${cuts.toServer.length} offsets toServer ` +
            `(of ${toServer + 1}) and at each of the ${cuts.toClient.length} toClient`,
          async () => {
            const payloads: string[] = [];
            for (const direction of ["toServer", "toClient"] as const) {
              for (const offset of cuts[direction]) {
                let expected: OutgoingState | undefined;
                if (direction === "toServer") {
                  expected = offset <= publishLength
                    ? (qos === 1 ? "awaiting-puback" : "awaiting-pubrec")
                    : "awaiting-pubcomp";
                } else if (qos === 1) {
                  expected = offset < ex.ack ? "awaiting-puback" : undefined;
                } else {
                  expected = offset < ex.ack
                    ? "awaiting-pubrec"
                    : offset < ex.ack + ex.pubcomp
                    ? "awaiting-pubcomp"
                    : undefined;
                }
                const payload = payloadOf(direction, offset);
                payloads.push(payload);
                figures.published++;
                await cutOnce(
                  broker,
                  proxy,
                  { topic, qos, payload, useResend: offset % 2 === 1 },
                  direction,
                  offset,
                  expected,
                  figures,
                );
                // One message at a time: the broker's in-flight window to the observer never
                // fills, so its PINGRESP comes after everything queued for it.
                await observer.settle();
              }
            }
            for (const p of payloads) {
              const count = observer.counts.get(p) ?? 0;
              if (qos === 1) {
                ok(count >= 1, `QoS 1 message ${p.slice(0, p.indexOf("-"))} lost`);
                figures.duplicatesQoS1 += count - 1;
              } else {
                equal(
                  count,
                  1,
                  `QoS 2 message ${p.slice(0, p.indexOf("-"))} arrived ${count} times`,
                );
              }
            }
          },
        );
      }
    }
    report("faults.cuts", {
      ...figures,
      lost: 0,
      duplicatesQoS2: 0,
      rounds: ROUNDS,
      seed,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    });
  },
});

Deno.test({
  name:
    "Client over a slow network: reads one byte at a time and writes trickled in 3-byte pieces lose nothing and reorder nothing [MQTT-4.6.0-5]",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto();
    await using toSubscriber = await startProxy({ target: broker });
    await using fromPublisher = await startProxy({ target: broker });
    const topic = `rel/slow/${crypto.randomUUID().slice(0, 8)}`;
    const sub = new Client();
    const pub = new Client();
    try {
      await sub.connect(await connectTcp(toSubscriber), { ...login(broker), clientId: "" });
      await sub.subscribe({ filter: topic, qos: 2 });
      equal((await sub.poll({ signal: AbortSignal.timeout(5000) })).type, "subscribed");
      await pub.connect(await connectTcp(fromPublisher), { ...login(broker), clientId: "" });
      toSubscriber.trickle({ chunk: 1, delayMs: 1, direction: "toClient" });
      fromPublisher.trickle({ chunk: 3, delayMs: 0, direction: "toServer" });
      const random = prng(seed);
      const sent: { qos: 0 | 1 | 2; payload: string }[] = [];
      for (let i = 0; i < TRICKLE_MESSAGES; i++) {
        const qos = (i % 3) as 0 | 1 | 2;
        const payload = `${i}:` + "p".repeat(Math.floor(random() * 160));
        sent.push({ qos, payload });
        const id = await pub.publish({ topic, qos }, payload);
        if (id !== undefined) await untilDone(pub, id);
      }
      const got: { qos: number; payload: string }[] = [];
      // One byte a millisecond or slower: up to about 170 ms a message.
      const signal = AbortSignal.timeout(10_000 + 250 * sent.length);
      while (got.length < sent.length) {
        const e = await sub.poll({ signal });
        if (e.type === "message") got.push({ qos: e.qos, payload: td.decode(e.payload) });
      }
      // Order holds per QoS [MQTT-4.6.0-5]: the broker's in-flight window holds QoS 1 and 2
      // messages for a slow subscriber while QoS 0 ones go ahead.
      for (const qos of [0, 1, 2]) {
        deepStrictEqual(
          got.filter((m) => m.qos === qos),
          sent.filter((m) => m.qos === qos),
          `every QoS ${qos} message, whole and in order`,
        );
      }
      toSubscriber.trickle(null);
      fromPublisher.trickle(null);
      report("faults.slow", {
        messages: sent.length,
        bytesToSubscriber: toSubscriber.toClient,
        bytesFromPublisher: fromPublisher.toServer,
        lost: 0,
      });
    } finally {
      await sub.disconnect().catch(() => sub.abort());
      await pub.disconnect().catch(() => pub.abort());
    }
  },
});

Deno.test({
  name:
    "Client across broker restarts mid-stream (persistence on): QoS 1 at least once, QoS 2 exactly once, both clients resuming their sessions",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto({ persistence: true });
    const topic = `rel/restart/${crypto.randomUUID().slice(0, 8)}`;
    const options = { ...login(broker), sessionExpiryInterval: 3600 };
    const subSession = new Session();
    const pubSession = new Session();
    let sub = new Client({ session: subSession });
    let pub = new Client({ session: pubSession });
    const counts = new Map<number, number>();
    /** What the subscriber saw, in order: deliveries and PUBRELs, by Packet Identifier. */
    const seen: { type: "message" | "released"; packetId: number; i?: number }[] = [];
    const record = (e: ClientEvent) => {
      if (e.type === "message") {
        const i = Number(td.decode(e.payload));
        counts.set(i, (counts.get(i) ?? 0) + 1);
        seen.push({ type: "message", packetId: e.packetId!, i });
      } else if (e.type === "released") seen.push({ type: "released", packetId: e.packetId });
    };
    const qosOf = (i: number) => (i % 2 === 0 ? 1 : 2) as 1 | 2;
    const figures = {
      messages: RESTART_MESSAGES,
      restarts: 0,
      reconnects: 0,
      duplicatesQoS1: 0,
      brokerReplaysAfterPubrel: 0,
    };
    let published = 0;

    // Clean Start 0 from the first connection: Mosquitto 2.0.11 does not restore, after a restart,
    // a session that began with Clean Start 1 (whatever its expiry), so a clean start would lose
    // both sessions with the first restart. The client ids are new, so nothing is resumed here.
    const subId = `restart-sub-${crypto.randomUUID().slice(0, 8)}`;
    const pubId = `restart-pub-${crypto.randomUUID().slice(0, 8)}`;
    await connectRetrying(sub, broker, { ...options, clientId: subId, cleanStart: false });
    await sub.subscribe({ filter: topic, qos: 2 });
    equal((await sub.poll({ signal: AbortSignal.timeout(5000) })).type, "subscribed");
    await connectRetrying(pub, broker, { ...options, clientId: pubId, cleanStart: false });

    /** The subscriber: counts messages; on a lost connection, resumes its session. */
    const subscribing = (async () => {
      while (counts.size < RESTART_MESSAGES) {
        try {
          record(await sub.poll({ signal: AbortSignal.timeout(20_000) }));
        } catch (e) {
          const missing = Array.from({ length: RESTART_MESSAGES }, (_, i) => i)
            .filter((i) => !counts.has(i));
          ok(e instanceof ConnectionClosedError, `${e}; missing: ${missing.slice(0, 20)}`);
          sub = new Client({ session: subSession });
          const r = await connectRetrying(sub, broker, {
            ...options,
            clientId: subId,
            cleanStart: false,
          });
          equal(r.sessionPresent, true, "the broker kept the subscriber's session");
          figures.reconnects++;
          await sub.resend();
        }
      }
    })();

    /** The publisher: up to 20 in flight; on a lost connection, resumes and resends. */
    const window = new Set<number>();
    const restartAt = new Set(
      Array.from(
        { length: RESTARTS },
        (_, i) => Math.floor(((i + 1) * RESTART_MESSAGES) / (RESTARTS + 1)),
      ),
    );
    let restarting: Promise<void> | undefined;
    while (published < RESTART_MESSAGES || pubSession.state.outgoing.length > 0) {
      try {
        if (restartAt.has(published) && restarting === undefined) {
          restartAt.delete(published);
          figures.restarts++;
          restarting = broker.restart().finally(() => restarting = undefined);
        }
        if (published < RESTART_MESSAGES && pubSession.state.outgoing.length < 20) {
          await pub.publish({ topic, qos: qosOf(published) }, String(published));
          published++;
          continue;
        }
        const e = await pub.poll({ signal: AbortSignal.timeout(20_000) });
        if (e.type === "acknowledged" || e.type === "completed") window.delete(e.packetId);
      } catch (e) {
        if (e instanceof ConnectionClosedError && e.packetId !== undefined) published++;
        ok(e instanceof MqttError && !e.recoverable, String(e));
        await restarting;
        pub = new Client({ session: pubSession });
        const r = await connectRetrying(pub, broker, {
          ...options,
          clientId: pubId,
          cleanStart: false,
        });
        equal(r.sessionPresent, true, "the broker kept the publisher's session");
        figures.reconnects++;
        await pub.resend();
      }
    }
    await subscribing;
    // Everything arrived once: a PINGRESP after anything still queued shows no duplicate is left.
    await sub.ping();
    for (;;) {
      const e = await sub.poll({ signal: AbortSignal.timeout(5000) });
      if (e.type === "pong") break;
      record(e);
    }
    for (let i = 0; i < RESTART_MESSAGES; i++) {
      const count = counts.get(i) ?? 0;
      if (qosOf(i) === 1) {
        ok(count >= 1, `QoS 1 message ${i} lost`);
        figures.duplicatesQoS1 += count - 1;
      } else if (count > 1) {
        // Mosquitto 2.0.11 restores a QoS 2 message whose PUBREL it had sent (the subscriber
        // answered PUBCOMP, lost in the restart) as one to publish again, and sends the PUBLISH
        // with a Packet Identifier the subscriber has completed: a new message for the client
        // [MQTT-4.3.3-12], and the broker's breach of [MQTT-4.3.3-6]. Only such replays are
        // excused, each proven by the PUBREL the subscriber saw between the two deliveries.
        const at = seen.flatMap((x, k) => x.type === "message" && x.i === i ? [k] : []);
        for (let k = 1; k < at.length; k++) {
          const [a, b] = [at[k - 1]!, at[k]!];
          const id = seen[a]!.packetId;
          ok(
            seen[b]!.packetId === id &&
              seen.slice(a, b).some((x) => x.type === "released" && x.packetId === id),
            `QoS 2 message ${i} arrived ${count} times, not after a PUBREL for its id ${id}`,
          );
          figures.brokerReplaysAfterPubrel++;
        }
      } else equal(count, 1, `QoS 2 message ${i} lost`);
    }
    ok(
      figures.restarts === RESTARTS && figures.reconnects >= 2 * RESTARTS,
      JSON.stringify(figures),
    );
    report("faults.restart", {
      ...figures,
      lost: 0,
      duplicatesQoS2ByTheClient: 0,
    });
    await pub.disconnect({ properties: { sessionExpiryInterval: 0 } });
    await sub.disconnect({ properties: { sessionExpiryInterval: 0 } });
  },
});

Deno.test({
  name:
    "Client with flights out when the server stops answering: keep alive's deadline says so, and the flights are recovered once it answers again",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    const base = `rel/silent/${crypto.randomUUID().slice(0, 8)}`;
    await using observer = await Observer.open(broker, `${base}/#`);
    const session = new Session();
    const options = {
      ...login(broker),
      clientId: "silent",
      sessionExpiryInterval: 300,
      keepAlive: 1,
    };
    let client = new Client({ session });
    await client.connect(await connectTcp(proxy), { ...options, cleanStart: true });
    const wire = proxy.connections.at(-1)!;
    proxy.pause();
    const ids = [
      (await client.publish({ topic: `${base}/a`, qos: 1 }, "silent-1"))!,
      (await client.publish({ topic: `${base}/b`, qos: 2 }, "silent-2"))!,
    ];
    // The application's loop: poll until a ping is due or the deadline passes.
    let pinged = 0;
    let pingedAt = 0;
    let goneAfter = 0;
    for (;;) {
      const { pingDueAt, deadline } = client.keepAlive;
      const now = Date.now();
      if (now >= deadline!) {
        // Counted from the first PINGREQ left unanswered: it had the whole interval to be answered
        // (section 3.1.2.10).
        goneAfter = now - pingedAt;
        break;
      }
      if (now >= pingDueAt!) {
        if (pinged === 0) pingedAt = Date.now();
        await client.ping();
        pinged++;
        continue;
      }
      await client.poll({ signal: AbortSignal.timeout(Math.min(pingDueAt!, deadline!) - now) })
        .then(() => ok(false, "nothing can arrive"), (e) => equal(e.name, "TimeoutError"));
    }
    ok(
      pinged >= 1 && goneAfter >= 1000 && goneAfter < 1200,
      `${pinged} pings, gone after ${goneAfter} ms`,
    );
    deepStrictEqual(session.state.outgoing.map((f) => f.state), [
      "awaiting-puback",
      "awaiting-pubrec",
    ]);
    client.abort();
    wire.cutNow();
    proxy.resume();
    client = new Client({ session });
    const r = await client.connect(await connectTcp(proxy), { ...options, cleanStart: false });
    equal(r.sessionPresent, true);
    deepStrictEqual(await client.resend(), ids);
    for (const id of ids) await untilDone(client, id);
    await observer.settle();
    ok((observer.counts.get("silent-1") ?? 0) >= 1);
    equal(observer.counts.get("silent-2"), 1);
    await client.disconnect({ properties: { sessionExpiryInterval: 0 } });
    report("faults.silent", { detectedAfterMs: goneAfter, pings: pinged, lost: 0 });
  },
});
