// The WriteBatch's buffer reuse: through a connection that lets go of written bytes (`direct`), a
// batch's buffer opens a later batch once its write succeeded in full, and never while the
// connection may still hold it: not after a failed write, not after the connection was closed
// and another attached meanwhile, and never on the stream path. Driven over in-memory connections
// of the test's own. No permissions.

import { deepStrictEqual, equal, notStrictEqual, ok } from "node:assert/strict";
import { decode, encode, frame, type Packet, PacketType } from "../../src/codec/mod.ts";
import { WriteBatch } from "../../src/client/_io.ts";
import { ConnectionClosedError, silentLogger } from "../../src/session/mod.ts";
import type { DirectConnection } from "../../src/transport/mod.ts";
import { concat } from "./_bytes.ts";

const NONE = { permissions: "none" } as const;
const OPTIONS = { protocolVersion: 5 } as const;

/** A QoS 0 PUBLISH told apart from every other by its topic and payload (`length` bytes). */
function publish(i: number, length = 20 + (i * 37) % 300): Packet {
  const payload = new Uint8Array(length).map((_, j) => (i * 13 + j * 7) & 0xff);
  return { type: PacketType.Publish, topic: `reuse/${i}`, payload, qos: 0 };
}

/** A turn of the event loop ends (the batch's write is scheduled at the end of one). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Every packet framed in `bytes`, decoded in order; throws on a trailing partial packet. */
function decodeAll(bytes: Uint8Array): Packet[] {
  const packets: Packet[] = [];
  for (let at = 0; at < bytes.length;) {
    const f = frame(bytes, undefined, at);
    if (!f.complete) throw new Error(`A partial packet at byte ${at} of ${bytes.length}`);
    packets.push(decode(bytes.subarray(at, at + f.length)));
    at += f.length;
  }
  return packets;
}

/** A writer for `attach()` whose stream is unused (the batch writes through `direct`). */
function unusedWriter(): WritableStreamDefaultWriter<Uint8Array> {
  return new WritableStream<Uint8Array>().getWriter();
}

/** A batch whose failures are recorded, not acted on (the caller decides about closing). */
function newBatch(): { batch: WriteBatch; written: () => number; failures: unknown[] } {
  let written = 0;
  const failures: unknown[] = [];
  const batch = new WriteBatch(
    () => written++,
    (error: ConnectionClosedError) => failures.push(error),
    silentLogger,
  );
  return { batch, written: () => written, failures };
}

Deno.test(
  "WriteBatch reuses a written batch's buffer through direct, and every packet arrives intact and in order",
  NONE,
  async () => {
    const { batch, written } = newBatch();
    const received: Uint8Array[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let calls = 0;
    const direct: DirectConnection = {
      read: () => new Promise<number | null>(() => {}),
      // Slow and often partial: the bytes are copied only as the write settles, so a batch that
      // overwrote a buffer still being written would show here.
      async write(p) {
        buffers.add(p.buffer);
        const n = ++calls % 3 === 0 ? Math.min(p.length, 100) : p.length;
        await nextTurn();
        received.push(p.slice(0, n));
        return n;
      },
    };
    batch.attach(unusedWriter(), direct);

    const sent: Packet[] = [];
    for (let turn = 0; turn < 200; turn++) {
      for (let k = 0; k <= turn % 7; k++) {
        const packet = publish(sent.length);
        sent.push(packet);
        batch.write(packet, OPTIONS);
      }
      // Most turns leave the write under way while the next turn queues; some wait for it.
      if (turn % 5 === 4) await batch.written;
      else await nextTurn();
    }
    await batch.written;
    batch.close(new ConnectionClosedError("The test is over"));

    deepStrictEqual(decodeAll(concat(received)), sent.map((p) => decode(encode(p, OPTIONS))));
    ok(
      buffers.size < written(),
      `${buffers.size} distinct buffers for ${written()} batches: no buffer was reused`,
    );
  },
);

/** A kept reference to bytes a connection was given, with a copy of them as they were then. */
interface Kept {
  view: Uint8Array;
  copy: Uint8Array;
}

function keep(p: Uint8Array): Kept {
  return { view: p, copy: p.slice() };
}

/** Queues one small packet per turn for `turns` turns, each its own batch, and waits for them. */
async function smallBatches(batch: WriteBatch, from: number, turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) {
    batch.write(publish(from + i, 40), OPTIONS);
    await batch.written;
  }
}

/** A direct connection that copies and accepts every write, recording the buffers it was given. */
function recordingDirect(): { direct: DirectConnection; buffers: ArrayBufferLike[] } {
  const buffers: ArrayBufferLike[] = [];
  const direct: DirectConnection = {
    read: () => new Promise<number | null>(() => {}),
    write(p) {
      buffers.push(p.buffer);
      return Promise.resolve(p.length);
    },
  };
  return { direct, buffers };
}

Deno.test("WriteBatch never reuses a buffer the connection may still hold", NONE, async (t) => {
  await t.step("after its write failed", async () => {
    const { batch, failures } = newBatch();
    let kept: Kept | undefined;
    const later = recordingDirect();
    const direct: DirectConnection = {
      // The first write keeps its bytes and fails; the later ones succeed.
      write(p) {
        if (kept !== undefined) return later.direct.write(p);
        kept = keep(p);
        return Promise.reject(new Error("the test's connection failed"));
      },
    };
    batch.attach(unusedWriter(), direct);
    for (let i = 0; i < 6; i++) batch.write(publish(i), OPTIONS);
    await batch.written.catch(() => {});
    equal(failures.length, 1);
    ok(kept !== undefined);

    // Left attached (the batch's own guarantee, whatever the client then does): later batches,
    // each small enough to fit in the failed one's buffer, must go to fresh memory.
    await smallBatches(batch, 100, 20);
    equal(later.buffers.length, 20);
    ok(new Set(later.buffers).size < 20, "the later batches reused no buffer at all");
    for (const buffer of later.buffers) notStrictEqual(buffer, kept.view.buffer);
    deepStrictEqual(kept.view, kept.copy);
    batch.close(new ConnectionClosedError("The test is over"));
  });

  await t.step(
    "after the connection was closed and another attached during its write",
    async () => {
      const { batch } = newBatch();
      let kept: Kept | undefined;
      let settle: ((n: number) => void) | undefined;
      const first: DirectConnection = {
        read: () => new Promise<number | null>(() => {}),
        // Keeps its bytes; the write succeeds in full only once the next connection is attached.
        write(p) {
          kept = keep(p);
          return new Promise<number>((resolve) => settle = () => resolve(p.length));
        },
      };
      batch.attach(unusedWriter(), first);
      for (let i = 0; i < 6; i++) batch.write(publish(i), OPTIONS);
      while (settle === undefined) await nextTurn();
      ok(kept !== undefined);

      batch.close(new ConnectionClosedError("The test closed the connection"));
      const second = recordingDirect();
      batch.attach(unusedWriter(), second.direct);
      settle(kept.view.length);
      await nextTurn();

      await smallBatches(batch, 100, 20);
      equal(second.buffers.length, 20);
      ok(new Set(second.buffers).size < 20, "the later batches reused no buffer at all");
      for (const buffer of second.buffers) notStrictEqual(buffer, kept.view.buffer);
      deepStrictEqual(kept.view, kept.copy);
      batch.close(new ConnectionClosedError("The test is over"));
    },
  );
});

Deno.test("WriteBatch gives every batch fresh memory when reuse is off", NONE, async (t) => {
  /** Checks that the chunks kept are as they were written, each in a buffer of its own. */
  function assertFresh(kept: Kept[], batches: number): void {
    equal(kept.length, batches);
    equal(new Set(kept.map((k) => k.view.buffer)).size, kept.length);
    for (const k of kept) deepStrictEqual(k.view, k.copy);
  }

  await t.step("on the stream path (a transport without direct)", async () => {
    const { batch, written } = newBatch();
    const kept: Kept[] = [];
    // The stream keeps every chunk it was given, uncopied.
    const stream = new WritableStream<Uint8Array>({
      write: (chunk) => void kept.push(keep(chunk)),
    });
    batch.attach(stream.getWriter(), undefined);
    await smallBatches(batch, 0, 40);
    assertFresh(kept, written());
    batch.close(new ConnectionClosedError("The test is over"));
  });

  await t.step("through direct with reuse turned off", async () => {
    const { batch, written } = newBatch();
    const kept: Kept[] = [];
    const direct: DirectConnection = {
      read: () => new Promise<number | null>(() => {}),
      write(p) {
        kept.push(keep(p));
        return Promise.resolve(p.length);
      },
    };
    batch.attach(unusedWriter(), direct, false);
    await smallBatches(batch, 0, 40);
    assertFresh(kept, written());
    batch.close(new ConnectionClosedError("The test is over"));
  });
});
