// frame() on every packet of the vectors split at every offset, and on packets back to back, as a
// stream reader meets them.

import { deepStrictEqual, equal } from "node:assert/strict";
import { decode, decodeBody, frame } from "../../src/codec/mod.ts";
import { longVectors, vectors } from "./_vectors.ts";
import { longVectorV311, V311, vectorsV311 } from "./_vectors_v311.ts";

/** Every vector as bytes, and the two with a Remaining Length of 2 and 3 bytes. */
const packets: { name: string; bytes: Uint8Array }[] = [
  ...vectors.map((v) => ({ name: v.name, bytes: new Uint8Array(v.bytes) })),
  ...longVectors,
];

/** The fixed header's length: the type byte and the Remaining Length's bytes (2.1.1). */
function headerLength(bytes: Uint8Array): number {
  let i = 1;
  while ((bytes[i]! & 0x80) !== 0) i++;
  return i + 1;
}

Deno.test(
  "frame() on every prefix of every packet: incomplete with the bytes needed, then complete",
  { permissions: "none" },
  async (t) => {
    for (const { name, bytes } of packets) {
      await t.step(name, () => {
        const total = bytes.length;
        const header = headerLength(bytes);
        for (let k = 0; k < total; k++) {
          const f = frame(bytes.subarray(0, k));
          if (k < header) {
            // The Remaining Length is not all there: at least one more byte.
            deepStrictEqual(f, { complete: false, needed: 1, length: undefined }, `prefix ${k}`);
          } else {
            // The fixed header is complete: the exact number of bytes missing.
            deepStrictEqual(
              f,
              { complete: false, needed: total - k, length: total },
              `prefix ${k}`,
            );
          }
        }
        deepStrictEqual(frame(bytes), { complete: true, length: total, headerLength: header });
        // More bytes after the packet do not change its frame.
        const more = new Uint8Array([...bytes, 0xc0, 0x00]);
        deepStrictEqual(frame(more), { complete: true, length: total, headerLength: header });
      });
    }
  },
);

Deno.test("frame() reads the same at an offset and up to an end as on a fresh buffer", {
  permissions: "none",
}, async (t) => {
  for (const { name, bytes } of packets) {
    await t.step(name, () => {
      const total = bytes.length;
      const header = headerLength(bytes);
      const buf = new Uint8Array(total + 10).fill(0xff);
      buf.set(bytes, 3);
      for (let k = 0; k <= total; k++) {
        const f = frame(buf, undefined, 3, 3 + k);
        if (k === total) {
          deepStrictEqual(f, { complete: true, length: total, headerLength: header });
        } else if (k < header) {
          deepStrictEqual(f, { complete: false, needed: 1, length: undefined });
        } else {
          deepStrictEqual(f, { complete: false, needed: total - k, length: total });
        }
      }
    });
  }
});

Deno.test("packets back to back frame one after another through offset and end", {
  permissions: "none",
}, () => {
  const all = packets.map((p) => p.bytes);
  const stream = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of all) {
    stream.set(b, at);
    at += b.length;
  }
  let offset = 0;
  let index = 0;
  while (offset < stream.length) {
    const f = frame(stream, undefined, offset, stream.length);
    if (!f.complete) throw new Error(`packet ${index} at ${offset} is incomplete`);
    const expected = all[index]!;
    equal(f.length, expected.length);
    const packet = stream.subarray(offset, offset + f.length);
    deepStrictEqual(packet, expected);
    // decodeBody on the framed bytes gives what decode gives.
    deepStrictEqual(decodeBody(packet, f.headerLength), decode(expected));
    if (index < vectors.length) deepStrictEqual(decode(packet), vectors[index]!.decoded);
    offset += f.length;
    index++;
  }
  equal(index, all.length);
});

Deno.test(
  "a stream fed in chunks of every size yields every packet",
  { permissions: "none" },
  async (t) => {
    const all = vectors.map((v) => new Uint8Array(v.bytes));
    const stream = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of all) {
      stream.set(b, at);
      at += b.length;
    }
    for (const chunk of [1, 2, 3, 5, 7, 16, 64, stream.length]) {
      await t.step(`chunks of ${chunk} byte(s)`, () => {
        // A reader's buffer: bytes arrive `chunk` at a time, packets leave as soon as framed.
        const buf = new Uint8Array(stream.length);
        let start = 0;
        let end = 0;
        const out: Uint8Array[] = [];
        let waitingFor = 0;
        while (end < stream.length) {
          const n = Math.min(chunk, stream.length - end);
          buf.set(stream.subarray(end, end + n), end);
          end += n;
          // A reader that trusts `needed` does not call frame() before that many bytes came.
          if (end - start < waitingFor) continue;
          for (;;) {
            const f = frame(buf, undefined, start, end);
            if (!f.complete) {
              waitingFor = end - start + f.needed;
              break;
            }
            out.push(buf.slice(start, start + f.length));
            start += f.length;
            waitingFor = 0;
          }
        }
        equal(start, stream.length);
        deepStrictEqual(out, all);
      });
    }
  },
);

Deno.test(
  "framing does not depend on the version: MQTT 3.1.1 packets split at every offset",
  { permissions: "none" },
  async (t) => {
    const packetsV311 = [
      ...vectorsV311.map((v) => ({ name: v.name, bytes: new Uint8Array(v.bytes) })),
      longVectorV311,
    ];
    for (const { name, bytes } of packetsV311) {
      await t.step(name, () => {
        const total = bytes.length;
        const header = headerLength(bytes);
        // Behind a PINGREQ (the same in both versions), as a stream reader meets it.
        const stream = new Uint8Array([0xc0, 0x00, ...bytes]);
        for (let k = 0; k < total; k++) {
          const f = frame(stream, V311, 2, 2 + k); // frame() reads no protocolVersion
          deepStrictEqual(f, frame(stream, undefined, 2, 2 + k), `prefix ${k}`);
          deepStrictEqual(
            f,
            k < header
              ? { complete: false, needed: 1, length: undefined }
              : { complete: false, needed: total - k, length: total },
            `prefix ${k}`,
          );
        }
        const f = frame(stream, V311, 2, stream.length);
        deepStrictEqual(f, { complete: true, length: total, headerLength: header });
        deepStrictEqual(
          decodeBody(stream.slice(2, 2 + f.length), f.headerLength, true, 4),
          decode(bytes, V311),
        );
      });
    }
  },
);
