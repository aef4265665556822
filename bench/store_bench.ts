/**
 * The cost of durable sessions: `deno task bench:store`. QoS 1 and QoS 2 publisher throughput
 * (10,000 × 64 B, PUBLISH to PUBACK or PUBCOMP, the server's Receive Maximum in flight, no
 * subscriber) against one Mosquitto, with the session in memory only (no store), with a
 * `MemorySessionStore` (the barrier's own cost: a snapshot per save, no disk), and with a
 * `FileSessionStore` under `.broker/` in its two modes: `snapshot` (the whole session written,
 * synced and renamed per save) and `log` (the default: one record appended and committed per
 * save, two data syncs). Rounds alternate (the order of the modes rotates); it prints the
 * medians, the ratio of each store to the in-memory session, how many messages one save
 * covered, and how long a save took (from the call to its resolution).
 *
 * Options: `--runs=N` (rounds, default 5), `--count=N` (default 10,000), `--inflight=N`
 * (Mosquitto's `max_inflight_messages`, announced as the Receive Maximum; default Mosquitto's 20).
 *
 * @module
 */

import { Client, type QoS } from "../mod.ts";
import { connectTcp } from "../src/transport/mod.ts";
import { FileSessionStore, MemorySessionStore } from "../src/store/mod.ts";
import type { SessionStore } from "../src/session/mod.ts";
import { startMosquitto } from "../tests/_util/mosquitto.ts";

const flags = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=", 2);
    return [k!, v ?? "true"] as const;
  }),
);
const runs = Number(flags.get("runs") ?? 5);
const count = Number(flags.get("count") ?? 10_000);
const inflight = flags.has("inflight") ? Number(flags.get("inflight")) : undefined;

type Mode = "none" | "memory" | "snapshot" | "log";
const MODES: Mode[] = ["none", "memory", "snapshot", "log"];
const NAMES: Record<Mode, string> = {
  none: "in memory, no store",
  memory: "MemorySessionStore",
  snapshot: "file, snapshot mode",
  log: "file, log mode",
};

await using broker = await startMosquitto({
  allowAnonymous: true,
  config: inflight !== undefined ? [`max_inflight_messages ${inflight}`] : [],
});
await Deno.mkdir(".broker", { recursive: true });
const dir = await Deno.makeTempDir({ dir: ".broker", prefix: "bench-store-" });
const payload = new Uint8Array(64).fill(0x61);

/** Publishes `count` messages at `qos`; returns messages per second and saves made. */
async function run(
  mode: Mode,
  qos: QoS,
  round: number,
): Promise<{ rate: number; saves: number; saveMs: number }> {
  let saves = 0;
  let saving = 0;
  let store: SessionStore | undefined;
  let file: FileSessionStore | undefined;
  if (mode === "memory") store = new MemorySessionStore();
  if (mode === "snapshot" || mode === "log") {
    store = file = await FileSessionStore.open(`${dir}/${qos}-${round}-${mode}.session`, { mode });
  }
  if (store !== undefined) {
    const inner = store;
    store = {
      load: () => inner.load(),
      save: async (changes, session) => {
        saves++;
        const start = performance.now();
        await inner.save(changes, session);
        saving += performance.now() - start;
      },
      clear: () => inner.clear(),
    };
  }
  const client = new Client(store !== undefined ? { store } : {});
  await client.connect(await connectTcp(broker), { clientId: `bench-${mode}-${qos}-${round}` });
  const done = qos === 1 ? "acknowledged" : "completed";
  const topic = `bench/store/${mode}`;
  const start = performance.now();
  const acks = (async () => {
    for (let n = 0; n < count;) if ((await client.poll()).type === done) n++;
  })();
  for (let i = 0; i < count; i++) {
    if (client.sendQuota === 0) await client.waitForQuota();
    client.publish({ topic, qos }, payload);
  }
  await acks;
  const seconds = (performance.now() - start) / 1000;
  await client.disconnect();
  await file?.clear();
  await file?.close();
  return { rate: count / seconds, saves, saveMs: saves === 0 ? 0 : saving / saves };
}

function median(values: number[]): number {
  const s = values.toSorted((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const results = new Map<string, { rates: number[]; saves: number[]; saveMs: number[] }>();
try {
  for (let round = 0; round < runs; round++) {
    for (const qos of [1, 2] as const) {
      // The order of the modes rotates from round to round.
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      for (const mode of order) {
        const { rate, saves, saveMs } = await run(mode, qos, round);
        const key = `${qos}/${mode}`;
        const r = results.get(key) ?? { rates: [], saves: [], saveMs: [] };
        r.rates.push(rate);
        r.saves.push(saves);
        r.saveMs.push(saveMs);
        results.set(key, r);
      }
    }
    console.error(`round ${round + 1} of ${runs} done`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log(
  `QoS 1 and 2 publisher, ${count} × 64 B to Mosquitto, median of ${runs} alternating rounds` +
    (inflight !== undefined ? `, max_inflight_messages ${inflight}` : ""),
);
console.log(
  "| QoS | session             | msgs/s | ratio to in-memory | messages per save | ms per save |",
);
console.log(
  "| --- | ------------------- | -----: | -----------------: | ----------------: | ----------: |",
);
for (const qos of [1, 2]) {
  const base = median(results.get(`${qos}/none`)!.rates);
  for (const mode of MODES) {
    const r = results.get(`${qos}/${mode}`)!;
    const rate = median(r.rates);
    const saves = median(r.saves);
    const ms = median(r.saveMs);
    console.log(
      `| ${qos}   | ${NAMES[mode].padEnd(19)} | ${Math.round(rate).toString().padStart(6)} | ${
        (rate / base).toFixed(2).padStart(18)
      } | ${
        (saves === 0 ? "-" : (count * (qos === 2 ? 2 : 1) / saves).toFixed(1)).padStart(17)
      } | ${(saves === 0 ? "-" : ms.toFixed(3)).padStart(11)} |`,
    );
  }
}
