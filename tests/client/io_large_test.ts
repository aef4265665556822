// The PacketReader and packets larger than its read-ahead buffer: read whole whatever the stream's
// chunks, read in place into a buffer of their own once enough of them arrived, and a length
// announced but not sent offered no buffer larger than eight times what arrived. No permissions.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { decode, encode, type Packet, PacketType } from "../../src/codec/mod.ts";
import { ConnectionClosedError } from "../../src/client/mod.ts";
import { PacketReader } from "../../src/client/_io.ts";
import { concat, pattern, plainStream, readAll, splitEvery } from "./_bytes.ts";

const NONE = { permissions: "none" } as const;

function publish(topic: string, payload: Uint8Array): Packet {
  return { type: PacketType.Publish, topic, payload, qos: 0 };
}

/**
 * A byte stream of `chunks` that records the size of every buffer a BYOB read offered it (the
 * whole `ArrayBuffer` behind the view) and the bytes it had handed out by then.
 */
function recordingStream(chunks: Uint8Array[]): {
  stream: ReadableStream<Uint8Array>;
  offered: { buffer: number; sent: number }[];
} {
  const offered: { buffer: number; sent: number }[] = [];
  const rest = chunks.filter((c) => c.length > 0);
  let i = 0;
  let sent = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(c) {
      const view = c.byobRequest?.view;
      if (view) offered.push({ buffer: view.buffer.byteLength, sent });
      const chunk = rest[i++];
      if (chunk === undefined) {
        c.close();
        c.byobRequest?.respond(0);
        return;
      }
      sent += chunk.length;
      c.enqueue(chunk.slice());
    },
  });
  return { stream, offered };
}

/** Packets of every size around a 64-byte buffer's limits, between small ones. */
function aroundTheLimits(): { packets: Packet[]; bytes: Uint8Array } {
  const packets: Packet[] = [];
  // Payload sizes giving whole packets of 63..66, 511..514 (8 × 64) and larger.
  for (const [n, size] of [55, 56, 57, 58, 503, 504, 505, 506, 2000, 9000].entries()) {
    packets.push(publish(`t/${n}`, pattern(size, n)));
    packets.push({ type: PacketType.Puback, packetId: n + 1, reasonCode: 0 });
  }
  return { packets, bytes: concat(packets.map((p) => encode(p))) };
}

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() reads packets larger than its buffer, and what follows them, whatever the stream's chunks",
  async fn() {
    const { packets, bytes } = aroundTheLimits();
    const expected = packets.map((p) => decode(encode(p)));
    for (const size of [1, 7, 63, 64, 65, 500, 4096, bytes.length]) {
      for (const kind of ["byob", "plain"] as const) {
        const chunks = splitEvery(bytes, size);
        const stream = kind === "byob" ? recordingStream(chunks).stream : plainStream(chunks);
        const reader = new PacketReader(stream, { bufferSize: 64 });
        deepStrictEqual(await readAll(reader, packets.length), expected, `${kind}, ${size}`);
        await rejects(reader.next(), ConnectionClosedError);
        equal(reader.bytesRead, bytes.length);
      }
    }
  },
});

Deno.test({
  ...NONE,
  name: "PacketReader.next() reads a packet of 8 × its buffer split at every offset",
  async fn() {
    const big = encode(publish("big", pattern(600, 3)));
    const after = encode({ type: PacketType.Pingresp });
    const bytes = concat([big, after]);
    for (let k = 0; k <= bytes.length; k++) {
      for (const kind of ["byob", "plain"] as const) {
        const chunks = [bytes.subarray(0, k), bytes.subarray(k)];
        const stream = kind === "byob" ? recordingStream(chunks).stream : plainStream(chunks);
        const reader = new PacketReader(stream, { bufferSize: 64 });
        deepStrictEqual(await reader.next(), decode(big), `${kind}, split at ${k}`);
        deepStrictEqual(await reader.next(), { type: PacketType.Pingresp });
      }
    }
  },
});

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() reads a 1 MiB PUBLISH in place: its payload is a view of one buffer of the packet's length, valid after later reads",
  async fn() {
    const payload = pattern(1 << 20, 9);
    const bytes = encode(publish("large", payload));
    const second = encode(publish("large", pattern(1 << 19, 10)));
    const { stream, offered } = recordingStream(splitEvery(concat([bytes, second]), 65_536));
    const reader = new PacketReader(stream);
    const first = await reader.next();
    ok(first.type === PacketType.Publish);
    equal(first.payload.buffer.byteLength, bytes.length, "the packet's own buffer");
    const next = await reader.next();
    ok(next.type === PacketType.Publish);
    deepStrictEqual(first.payload, payload, "the first payload is intact after the second read");
    // The reads offered the read-ahead buffer (grown to at most twice what had arrived) until an
    // eighth of the packet was in, then the packet's own buffer.
    const own = offered.filter((o) => o.buffer === bytes.length);
    ok(own.length > 0, "reads into the packet's own buffer");
    ok(
      own[0]!.sent <= bytes.length / 8 + 65_536,
      `its own buffer first offered after ${own[0]!.sent} bytes: the rest is read in place`,
    );
    for (const o of offered) {
      ok(o.buffer === bytes.length || o.buffer <= Math.max(65_536, 2 * o.sent), JSON.stringify(o));
    }
  },
});

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() offers no buffer above 8 × the bytes that arrived for a 256 MiB length announced but not sent",
  async fn() {
    // PUBLISH with Remaining Length 268,435,455, then 200 KB of it, then the end of the stream.
    const head = new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x03, 0x62, 0x69, 0x67]);
    const body = new Uint8Array(200_000).fill(0x61);
    const { stream, offered } = recordingStream([head, ...splitEvery(body, 10_000)]);
    const reader = new PacketReader(stream, { bufferSize: 4096 });
    await rejects(reader.next(), /middle of a packet/);
    const largest = Math.max(...offered.map((o) => o.buffer));
    ok(largest <= 8 * (head.length + body.length), `largest buffer offered: ${largest} bytes`);
    for (const o of offered) ok(o.buffer <= Math.max(4096, 8 * o.sent), JSON.stringify(o));
  },
});

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() aborted while a large packet fills its own buffer loses no byte: the next call finishes it",
  async fn() {
    const big = encode(publish("big", pattern(300_000, 5)));
    let controller!: ReadableByteStreamController;
    const stream = new ReadableStream({
      type: "bytes",
      start(c) {
        controller = c;
      },
    });
    const reader = new PacketReader(stream);
    controller.enqueue(big.slice(0, 100_000)); // a third: past the eighth, into its own buffer
    const aborted = new AbortController();
    const first = reader.next(aborted.signal);
    await new Promise((resolve) => setTimeout(resolve, 0));
    aborted.abort(new Error("stop"));
    await rejects(first, /stop/);
    controller.enqueue(big.slice(100_000, 200_000));
    const second = new AbortController();
    const again = reader.next(second.signal);
    await new Promise((resolve) => setTimeout(resolve, 0));
    second.abort(new Error("stop again"));
    await rejects(again, /stop again/);
    controller.enqueue(big.slice(200_000));
    deepStrictEqual(await reader.next(), decode(big));
    equal(reader.bytesRead, big.length);
  },
});
