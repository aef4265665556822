/**
 * The costs the read path and the write batching are built around, measured in this process with
 * no network: `deno run -A bench/read_path.ts` (about 20 s).
 *
 * - a fresh `ArrayBuffer` (`slice()` of 90 bytes, `new Uint8Array(90)`), against a view;
 * - one `PacketReader.next()` of a 64 B PUBLISH, with 1 or 20 packets per read, through a direct
 *   source (the connection's own reads) and through a `ReadableStreamBYOBReader` (the default);
 * - one hop to the end of the event loop's turn: `setImmediate` (what the write batch uses),
 *   `MessageChannel` (its fallback), against a microtask.
 *
 * Figures are wall time per operation, the best of 3 rounds after a warm-up round.
 *
 * @module
 */

import { PacketReader } from "../src/client/_io.ts";
import { encode, PacketType } from "../src/codec/mod.ts";

function best(rounds: number[]): string {
  return `${Math.min(...rounds).toFixed(3)} µs`;
}

async function timed(n: number, op: () => unknown | Promise<unknown>): Promise<string> {
  const rounds: number[] = [];
  for (let r = 0; r < 4; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await op();
    if (r > 0) rounds.push((performance.now() - t0) / n * 1000);
  }
  return best(rounds);
}

function timedSync(n: number, op: () => unknown): string {
  const rounds: number[] = [];
  let keep: unknown[] = [];
  for (let r = 0; r < 4; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const x = op();
      if ((i & 1023) === 0) keep.push(x);
    }
    if (r > 0) rounds.push((performance.now() - t0) / n * 1000);
    keep = [];
  }
  return best(rounds);
}

const rows: [string, string][] = [];

const source = new Uint8Array(65_536);
rows.push([
  "slice() of 90 bytes (a fresh ArrayBuffer)",
  timedSync(300_000, () => source.slice(0, 90)),
]);
rows.push(["new Uint8Array(90)", timedSync(300_000, () => new Uint8Array(90))]);
rows.push(["subarray() of 90 bytes (a view)", timedSync(300_000, () => source.subarray(0, 90))]);

const publish = encode({
  type: PacketType.Publish,
  topic: "bench/e2e/topic-abc",
  qos: 0,
  payload: new Uint8Array(64),
});

for (const perRead of [1, 20]) {
  const chunk = new Uint8Array(publish.length * perRead);
  for (let i = 0; i < perRead; i++) chunk.set(publish, i * publish.length);
  const direct = new PacketReader(new ReadableStream(), {
    source: {
      read(p: Uint8Array) {
        p.set(chunk);
        return Promise.resolve(chunk.length);
      },
    },
  });
  rows.push([
    `PacketReader.next(), ${perRead} packet(s) per read, direct source`,
    await timed(200_000, () => direct.next()),
  ]);
  const byob = new PacketReader(
    new ReadableStream({
      type: "bytes",
      pull(c) {
        const view = c.byobRequest!.view!;
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(chunk);
        c.byobRequest!.respond(chunk.length);
      },
    }),
  );
  rows.push([
    `PacketReader.next(), ${perRead} packet(s) per read, ReadableStreamBYOBReader`,
    await timed(200_000, () => byob.next()),
  ]);
}

const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
if (immediate !== undefined) {
  rows.push([
    "a hop by setImmediate",
    await timed(50_000, () => new Promise<void>((resolve) => void immediate(resolve))),
  ]);
}
const channel = new MessageChannel();
let wake: (() => void) | undefined;
channel.port1.onmessage = () => wake?.();
rows.push([
  "a hop by MessageChannel",
  await timed(50_000, () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      channel.port2.postMessage(null);
    })),
]);
channel.port1.close();
rows.push([
  "a hop by queueMicrotask",
  await timed(50_000, () => new Promise<void>((resolve) => queueMicrotask(resolve))),
]);

console.log(`| operation | time per operation (${navigator.userAgent}) |\n| --- | ---: |`);
for (const [name, t] of rows) console.log(`| ${name} | ${t} |`);
