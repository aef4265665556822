// A bounded, reproducible fuzz of the decoder and of frame(): random bytes and mutations of the
// vectors (bit flips, truncation, insertion, deletion, splicing, length tampering), from a seeded
// PRNG. Every decode must return a packet or throw DecodeError; nothing decoded may be larger than
// the maximumPacketSize given; frame() must never report a length above its maximumPacketSize.
// A failure prints the seed, the input's index and its bytes.

import { deepStrictEqual, equal, fail, ok as assert } from "node:assert/strict";
import {
  decode,
  DecodeError,
  encode,
  EncodeError,
  frame,
  type Packet,
} from "../../src/codec/mod.ts";
import { longVectors, vectors } from "./_vectors.ts";

const SEED = 0x6d717474; // "mqtt"
const INPUTS = 400_000;

/** mulberry32: a small seeded PRNG, good enough to spread inputs, and reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n); // 0 .. n-1
const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;

const seeds: number[][] = [
  ...vectors.map((v) => v.bytes),
  [...longVectors[0]!.bytes],
];

function vbi(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** The body of a well-framed packet (after its fixed header). */
function body(bytes: number[]): number[] {
  let i = 1;
  while (i < bytes.length && i < 5 && (bytes[i]! & 0x80) !== 0) i++;
  return bytes.slice(i + 1);
}

function randomBytes(max: number): number[] {
  return Array.from({ length: int(max + 1) }, () => int(256));
}

function mutateOnce(b: number[]): number[] {
  const at = b.length === 0 ? 0 : int(b.length);
  switch (int(9)) {
    case 0: // bit flip
      if (b.length > 0) b[at] = b[at]! ^ (1 << int(8));
      return b;
    case 1: // byte set
      if (b.length > 0) b[at] = int(256);
      return b;
    case 2: // byte insertion
      b.splice(at, 0, int(256));
      return b;
    case 3: // byte deletion
      b.splice(at, 1);
      return b;
    case 4: // truncation
      return b.slice(0, at);
    case 5: // a range repeated
      return [...b.slice(0, at), ...b.slice(at - int(at + 1), at), ...b.slice(at)];
    case 6: // a small length field moved by a little: Property Length, string length, ...
      if (b.length > 0) b[at] = (b[at]! + pick([-3, -2, -1, 1, 2, 3]) + 256) & 0xff;
      return b;
    case 7: // a byte set to an edge value
      if (b.length > 0) b[at] = pick([0x00, 0x01, 0x7f, 0x80, 0xff]);
      return b;
    default: // Remaining Length tampered with
      if (b.length > 1) b[1] = pick([0x00, 0x7f, 0x80, 0xff, (b[1]! + pick([-1, 1])) & 0xff]);
      return b;
  }
}

/** One fuzz input. Most mutated ones get their Remaining Length fixed, to go deeper. */
function input(): number[] {
  const kind = int(10);
  if (kind === 0) return randomBytes(40);
  if (kind === 1) {
    const b = randomBytes(60);
    return [int(256), ...vbi(b.length), ...b];
  }
  let b = [...pick(seeds)];
  if (kind === 2) {
    // Splice: the start of one packet and the end of another.
    const other = pick(seeds);
    b = [...b.slice(0, int(b.length + 1)), ...other.slice(int(other.length + 1))];
  }
  const n = pick([1, 1, 1, 2, 2, 3, 4]);
  for (let i = 0; i < n; i++) b = mutateOnce(b);
  if (kind >= 5 && b.length > 0) {
    const rest = body(b);
    b = [b[0]!, ...vbi(rest.length), ...rest];
  }
  return b;
}

/** Every Uint8Array of a decoded packet. */
function binaries(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof Uint8Array) out.push(value);
  else if (Array.isArray(value)) { for (const v of value) binaries(v, out); }
  else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) binaries(v, out);
  }
  return out;
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test(`decode() and frame() on ${INPUTS} fuzzed inputs (seed 0x${SEED.toString(16)})`, {
  permissions: "none",
}, () => {
  const outcomes: Record<string, number> = {};
  const count = (key: string) => outcomes[key] = (outcomes[key] ?? 0) + 1;
  for (let i = 0; i < INPUTS; i++) {
    const bytes = new Uint8Array(input());
    // The limit: small, right around the input's length, or the default.
    const maximumPacketSize = pick([
      2 + int(30),
      Math.max(2, bytes.length - 1 + int(3)),
      268_435_460,
      268_435_460,
    ]);
    const strict = random() < 0.75;
    const where = () => `input #${i} (seed 0x${SEED.toString(16)}): ${hex(bytes)}`;
    try {
      // decode: a packet or DecodeError, nothing larger than the limit.
      let p: Packet | undefined;
      try {
        p = decode(bytes, { maximumPacketSize, strict });
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        assert([0x81, 0x82, 0x84, 0x94, 0x95].includes(e.reasonCode));
        count(`DecodeError 0x${e.reasonCode.toString(16)}`);
      }
      if (p !== undefined) {
        count(`decoded type ${p.type}`);
        assert(bytes.length <= maximumPacketSize);
        for (const b of binaries(p)) {
          assert(
            b.length <= maximumPacketSize,
            `a field of ${b.length} bytes over ${maximumPacketSize}`,
          );
          assert(b.length <= bytes.length);
        }
        // What decodes re-encodes to the same packet (see property_test.ts for the leniencies).
        try {
          const again = encode(p, { strict });
          deepStrictEqual(decode(again, { strict }), p);
        } catch (e) {
          if (!(e instanceof EncodeError) || ![3, 8, 10].includes(p.type)) throw e;
          count("re-encode refused (topic filter or response topic)");
        }
      }
      // frame: within a small limit, at any offset and end.
      const small = 2 + int(30);
      const offset = int(bytes.length + 1);
      const end = offset + int(bytes.length - offset + 1);
      try {
        const f = frame(bytes, { maximumPacketSize: small }, offset, end);
        if (f.length !== undefined) {
          assert(f.length <= small, `frame length ${f.length} > ${small}`);
        }
        if (f.complete) {
          assert(f.length <= end - offset);
          assert(f.headerLength >= 2 && f.headerLength <= 5);
        } else {
          assert(f.needed >= 1);
          if (f.length !== undefined) equal(f.needed, f.length - (end - offset));
        }
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        assert(e.reasonCode === 0x81 || e.reasonCode === 0x95);
      }
    } catch (e) {
      fail(`${where()}\n${e instanceof Error ? e.stack : e}`);
    }
  }
  // The fuzz reached every packet type and both kinds of refusal.
  for (let type = 1; type <= 15; type++) {
    assert(outcomes[`decoded type ${type}`]! > 0, `type ${type}`);
  }
  assert(outcomes["DecodeError 0x81"]! > 0 && outcomes["DecodeError 0x82"]! > 0);
  assert(outcomes["DecodeError 0x95"]! > 0);
});
