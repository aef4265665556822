// Keep alive, driven by the application: `client.keepAlive` tells when the next PINGREQ is due
// (from the last packet sent) and when the server must be considered gone (from the last packet
// received). A loop that pings when due keeps a connection with Mosquitto alive while an idle one
// is closed, and a server that stops answering (a paused proxy) is noticed at the deadline.
// (examples/keepalive_loop.ts is such a loop with reconnects.)

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { type Client, ConnectionClosedError, PacketType } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";
import { clientsOf, nextEvent, openPeer, uniqueTopic, waitForLog } from "./_features.ts";

/** What {@linkcode keepAliveLoop} saw. */
interface LoopResult {
  /** When each PINGREQ was written (`Date.now()`). */
  pings: number[];
  /** PINGRESPs received. */
  pongs: number;
  /** When the deadline passed with nothing received, if it did. */
  goneAt: number | undefined;
  /** The deadline that passed. */
  deadline: number | undefined;
}

/**
 * The application's keep-alive loop: polls until the next PINGREQ is due, pings, and gives up once
 * the deadline passes with nothing received, or when `stop` aborts.
 */
async function keepAliveLoop(client: Client, stop: AbortSignal): Promise<LoopResult> {
  const result: LoopResult = { pings: [], pongs: 0, goneAt: undefined, deadline: undefined };
  while (!stop.aborted) {
    const { pingDueAt, deadline } = client.keepAlive;
    ok(pingDueAt !== undefined && deadline !== undefined, "keep alive is on");
    const now = Date.now();
    if (now >= deadline) {
      result.goneAt = now;
      result.deadline = deadline;
      return result;
    }
    if (now >= pingDueAt) {
      await client.ping();
      result.pings.push(Date.now());
      continue;
    }
    const wait = AbortSignal.timeout(Math.min(pingDueAt, deadline) - now);
    try {
      const event = await client.poll({ signal: AbortSignal.any([wait, stop]) });
      if (event.type === "pong") result.pongs++;
    } catch (e) {
      if (!(e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError"))) {
        throw e;
      }
    }
  }
  return result;
}

Deno.test({
  name: "Keep alive against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ verbose: true });

    await t.step(
      "client.keepAlive: pingDueAt moves with each packet sent; the deadline gives a PINGREQ the whole interval to be answered, and moves on once anything is received (section 3.1.2.10)",
      async () => {
        await using clients = clientsOf(broker);
        const { client } = await clients.connect({ keepAlive: 2 });
        const start = client.keepAlive;
        equal(start.interval, 2);
        equal(
          start.deadline! - start.pingDueAt!,
          2000,
          "no PINGREQ out: one interval after it is due",
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        await client.publish({ topic: uniqueTopic("activity") }, "x");
        const afterSend = client.keepAlive;
        ok(afterSend.pingDueAt! - start.pingDueAt! >= 190, "a packet sent postpones the ping");
        equal(afterSend.deadline! - afterSend.pingDueAt!, 2000, "and the deadline with it");
        await new Promise((resolve) => setTimeout(resolve, 200));
        const pingedAt = Date.now();
        await client.ping();
        const afterPing = client.keepAlive;
        ok(
          afterPing.deadline! >= pingedAt + 2000 && afterPing.deadline! <= Date.now() + 2000,
          "a PINGREQ out: the interval from when it was sent",
        );
        equal((await nextEvent(client)).type, "pong");
        const afterPong = client.keepAlive;
        ok(
          afterPong.deadline! - afterPing.deadline! >= 1900,
          "a packet received moves the deadline",
        );
        equal(afterPong.deadline! - afterPong.pingDueAt!, 2000);
        await client.disconnect();
        equal(client.keepAlive.pingDueAt, undefined);
        equal(client.keepAlive.deadline, undefined);

        // Mosquitto 2.0.11 answers a Keep Alive of 0 with a Server Keep Alive of 65535, which the
        // client must take: keep alive is never off with it (see the peer test below).
        const { client: off, result } = await clients.connect({ keepAlive: 0 });
        equal(result.connack.properties?.serverKeepAlive, 65_535);
        equal(off.keepAlive.interval, 65_535);
        ok(off.keepAlive.pingDueAt! > Date.now() + 65_000_000);
      },
    );

    await t.step(
      "a loop that pings when pingDueAt comes keeps a Keep Alive of 1 s going with Mosquitto, while an idle client with the same Keep Alive is disconnected [MQTT-3.1.2-20]",
      async () => {
        await using clients = clientsOf(broker);
        const idleId = `idle-${crypto.randomUUID().slice(0, 8)}`;
        const { client: idle } = await clients.connect({ clientId: idleId, keepAlive: 1 });
        const { client: alive } = await clients.connect({ keepAlive: 1 });
        const started = Date.now();
        const stop = new AbortController();
        const looping = keepAliveLoop(alive, stop.signal);
        // Mosquitto 2.0.11 checks keep alive every few seconds, so the idle client lasts 1.5-7 s.
        await rejects(nextEvent(idle, 10_000), ConnectionClosedError);
        const idleFor = Date.now() - started;
        stop.abort();
        const result = await looping;
        await waitForLog(broker, new RegExp(`Client ${idleId} has exceeded timeout`));

        ok(idleFor >= 1500, `the idle client lasted ${idleFor} ms`);
        equal(result.goneAt, undefined, "the server never went silent");
        equal(alive.state, "connected");
        ok(result.pings.length >= Math.floor(idleFor / 1000) - 1, `${result.pings.length} pings`);
        ok(result.pongs >= result.pings.length - 1, "every PINGREQ answered");
        const gaps = result.pings.slice(1).map((at, i) => at - result.pings[i]!);
        ok(gaps.every((gap) => gap >= 900 && gap <= 1400), `pinged every second: ${gaps}`);
        await alive.ping();
        equal((await nextEvent(alive)).type, "pong");
      },
    );

    await t.step(
      "a server that stops answering (a paused proxy) is noticed when the deadline, one Keep Alive after the unanswered PINGREQ, passes with no PINGRESP [MQTT-3.1.2-20]",
      async () => {
        await using proxy = await startProxy({ target: broker });
        await using clients = clientsOf(broker);
        const { client } = await clients.connect(
          { keepAlive: 1 },
          undefined,
          await connectTcp({ hostname: proxy.hostname, port: proxy.port }),
        );
        const connectedAt = Date.now();
        proxy.pause();
        try {
          const result = await keepAliveLoop(client, AbortSignal.timeout(5000));
          ok(result.goneAt !== undefined, "the deadline passed");
          const pinged = result.pings[0]!;
          ok(
            result.deadline! - pinged >= 900 && result.deadline! - pinged <= 1000,
            "the PINGREQ had the whole interval to be answered",
          );
          ok(result.goneAt - result.deadline! < 100, "noticed at the deadline");
          ok(result.pings.length >= 1, "a PINGREQ was sent when due");
          equal(result.pongs, 0);
          ok(result.pings[0]! - connectedAt >= 900, "not before it was due");
        } finally {
          client.abort();
          proxy.resume();
        }
      },
    );

    await t.step(
      "client.handleTimeout() sends PINGREQ once client.timeout comes (Mosquitto answers), and past the deadline of an unanswered one closes the connection with ConnectionClosedError [MQTT-3.1.2-20]",
      async () => {
        await using proxy = await startProxy({ target: broker });
        await using clients = clientsOf(broker);
        const { client } = await clients.connect(
          { keepAlive: 1 },
          undefined,
          await connectTcp({ hostname: proxy.hostname, port: proxy.port }),
        );
        const until = (at: number) =>
          new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
        try {
          const due = client.timeout!;
          equal(due, client.keepAlive.pingDueAt, "the first thing to do is the PINGREQ");
          client.handleTimeout(); // before it is due: nothing
          await until(due);
          client.handleTimeout();
          equal((await nextEvent(client)).type, "pong", "the broker answered the PINGREQ");

          proxy.pause();
          let error: unknown;
          let deadline = 0;
          for (let i = 0; i < 10 && error === undefined; i++) {
            deadline = client.keepAlive.deadline!;
            await until(client.timeout!);
            try {
              client.handleTimeout();
            } catch (e) {
              error = e;
            }
          }
          ok(error instanceof ConnectionClosedError, String(error));
          ok(/keep-alive deadline/.test(error.message), error.message);
          ok(Date.now() - deadline < 200, "at the deadline");
          equal(client.state, "closed");
        } finally {
          client.abort();
          proxy.resume();
        }
      },
    );
  },
});

Deno.test({
  name: "Keep alive against a scripted peer",
  async fn(t) {
    await t.step(
      "with a Keep Alive of 0 and no Server Keep Alive, keep alive is off: no ping is due and no deadline set",
      async () => {
        await using h = await openPeer({ connect: { keepAlive: 0 } });
        ok(h.connect.type === PacketType.Connect);
        equal(h.connect.keepAlive, 0);
        equal(h.result.keepAlive, 0);
        deepStrictEqual(h.client.keepAlive, {
          interval: 0,
          pingDueAt: undefined,
          deadline: undefined,
        });
      },
    );
  },
});
