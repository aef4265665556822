// Load, measured: many clients in one process, each subscribed at QoS 1 to its own topic and
// publishing at QoS 1 to the next client's topic (a ring), with up to 10 publications in flight,
// for a bounded time against Mosquitto. Then every client stops publishing, finishes its flights
// and receives what its neighbour sent. Checked: no message lost, none out of order from its
// publisher [MQTT-4.6.0-6], every flight completed, and memory flat over the run: the peaks of
// heapUsed and rss in the last quarter of the run against the second quarter, once warm, and,
// when run with `--v8-flags=--expose-gc` (`deno task reliability` does), the live heap measured
// after full collections, within 5 %.
//
// CI runs 200 clients for 5 s; `deno task reliability` 500 clients for 60 s
// (`--load-clients=n`, `--load-seconds=s`).

import { equal, ok } from "node:assert/strict";
import { Client, type ClientEvent } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, brokerIgnoreReason, startMosquitto } from "../_util/mosquitto.ts";
import { param, report } from "./_params.ts";

const CLIENTS = param("load-clients", 200, 500);
const SECONDS = param("load-seconds", 5, 60);
const WINDOW = 10;
const MiB = 1024 * 1024;

interface Peer {
  client: Client;
  /** Publications sent, numbered from 0. */
  sent: number;
  /** The next number expected from the neighbour before it. */
  expected: number;
  received: number;
  duplicates: number;
  outOfOrder: number;
}

Deno.test({
  name:
    `${CLIENTS} clients publishing and subscribing at QoS 1 against Mosquitto for ${SECONDS} s lose nothing, keep order and keep memory flat`,
  ignore: !brokerAvailable,
  async fn() {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto();
    const run = crypto.randomUUID().slice(0, 8);
    const topic = (i: number) => `rel/load/${run}/${i}`;
    const peers: Peer[] = [];
    const te = new TextEncoder();
    const td = new TextDecoder();
    try {
      // Connect and subscribe, a batch at a time.
      for (let i = 0; i < CLIENTS; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, CLIENTS - i) }, async (_, k) => {
            const client = new Client();
            await client.connect(await connectTcp(broker), {
              username: broker.username,
              password: broker.password,
              clientId: `load-${run}-${i + k}`,
              keepAlive: 0,
            });
            await client.subscribe({ filter: topic(i + k), qos: 1 });
            const e = await client.poll({ signal: AbortSignal.timeout(10_000) });
            equal(e.type, "subscribed");
            peers[i + k] = {
              client,
              sent: 0,
              expected: 0,
              received: 0,
              duplicates: 0,
              outOfOrder: 0,
            };
          }),
        );
      }

      /**
       * Memory every 250 ms. With `--v8-flags=--expose-gc` (as `deno task reliability` runs), every
       * fourth sample follows a full collection: its heapUsed is what is live.
       */
      const samples: { at: number; rss: number; heapUsed: number; live: boolean }[] = [];
      const gc = (globalThis as { gc?: () => void }).gc;
      const started = performance.now();
      const total = () => peers.reduce((n, p) => n + p.received, 0);
      let tick = 0;
      const sampler = setInterval(() => {
        const live = gc !== undefined && tick++ % 4 === 0;
        if (live) gc();
        const m = Deno.memoryUsage();
        samples.push({ at: performance.now() - started, rss: m.rss, heapUsed: m.heapUsed, live });
      }, 250);
      const stop = AbortSignal.timeout(SECONDS * 1000);

      const onEvent = (p: Peer, e: ClientEvent): void => {
        if (e.type !== "message") return;
        const n = Number(td.decode(e.payload));
        if (n < p.expected) p.duplicates++;
        else {
          if (n > p.expected) p.outOfOrder++;
          p.expected = n + 1;
          p.received++;
        }
      };

      const drained = new AbortController();
      /** Whether every flight is over and everything arrived; then wakes every waiting poll. */
      const finished = (): boolean => {
        const done = peers.every((p, i) =>
          p.client.session.state.outgoing.length === 0 &&
          p.received === peers[(i - 1 + CLIENTS) % CLIENTS]!.sent
        );
        if (done && !drained.signal.aborted) drained.abort(new Error("drained"));
        return done;
      };
      const drive = async (i: number): Promise<void> => {
        const p = peers[i]!;
        const { client } = p;
        const next = topic((i + 1) % CLIENTS);
        // Publish while the run lasts, keeping WINDOW in flight.
        while (!stop.aborted) {
          if (client.session.state.outgoing.length < WINDOW) {
            await client.publish({ topic: next, qos: 1 }, te.encode(String(p.sent++)));
            continue;
          }
          try {
            onEvent(p, await client.poll({ signal: stop }));
          } catch (e) {
            if (e !== stop.reason) throw e;
          }
        }
        // Then finish: every flight acknowledged, everything from the neighbour received.
        const deadline = AbortSignal.timeout(60_000);
        while (!finished()) {
          try {
            onEvent(p, await client.poll({ signal: AbortSignal.any([deadline, drained.signal]) }));
          } catch (e) {
            if (e !== drained.signal.reason) throw e;
          }
        }
      };
      const checker = setInterval(() => finished(), 50);
      try {
        await Promise.all(peers.map((_, i) => drive(i)));
      } finally {
        clearInterval(checker);
        clearInterval(sampler);
      }
      const seconds = (performance.now() - started) / 1000;

      const sent = peers.reduce((n, p) => n + p.sent, 0);
      const received = total();
      equal(received, sent, "every message arrived");
      equal(peers.reduce((n, p) => n + p.outOfOrder, 0), 0, "in order from each publisher");
      const duplicates = peers.reduce((n, p) => n + p.duplicates, 0);

      // Memory, over the publishing time once warm (the second quarter) and at its end (the last
      // quarter): the peaks of heapUsed and rss stay near; with collections forced, the live heap
      // (heapUsed right after a full collection) does not grow.
      const quarter = (k: number) =>
        samples.filter((s) =>
          s.at > (k * SECONDS * 1000) / 4 && s.at <= ((k + 1) * SECONDS * 1000) / 4
        );
      const stats = (list: typeof samples) => {
        const live = list.filter((s) => s.live).map((s) => s.heapUsed);
        return {
          heapPeak: Math.max(...list.map((s) => s.heapUsed)),
          rssPeak: Math.max(...list.map((s) => s.rss)),
          live: live.length > 0 ? Math.max(...live) : NaN,
        };
      };
      const warm = stats(quarter(1));
      const late = stats(quarter(3));
      const mib = (n: number) => Math.round((n / MiB) * 10) / 10;
      const pair = (key: keyof typeof warm) => ({ warm: mib(warm[key]), late: mib(late[key]) });
      const figures = {
        clients: CLIENTS,
        seconds: Math.round(seconds * 10) / 10,
        publishSeconds: SECONDS,
        messages: sent,
        perSecond: Math.round(sent / SECONDS),
        lost: sent - received,
        duplicates,
        heapUsedPeakMiB: pair("heapPeak"),
        rssPeakMiB: pair("rssPeak"),
        ...(gc ? { liveHeapMiB: pair("live") } : {}),
      };
      report("load", figures);
      const grew = (key: keyof typeof warm, factor: number, slack: number) =>
        ok(
          late[key] <= warm[key] * factor + slack * MiB,
          `${key} grew from ${mib(warm[key])} to ${mib(late[key])} MiB`,
        );
      grew("heapPeak", 1.5, 32);
      grew("rssPeak", 1.5, 64);
      if (gc) grew("live", 1.05, 4);
    } finally {
      await Promise.all(peers.map(async (p) => {
        if (p?.client.state === "connected") await p.client.disconnect().catch(() => {});
        p?.client.abort();
      }));
    }
  },
});
