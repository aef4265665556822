// A bounded, reproducible fuzz of the decoder and of frame(): random bytes and mutations of the
// vectors (bit flips, truncation, insertion, deletion, splicing, length tampering), from a seeded
// PRNG (_fuzz.ts). Every decode must return a packet or throw DecodeError; nothing decoded may be
// larger than the maximumPacketSize given; frame() must never report a length above its
// maximumPacketSize. A failure prints the seed, the input's index and its bytes.

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
import { binaries, fuzzer, hex } from "./_fuzz.ts";

const SEED = 0x6d717474; // "mqtt"
const INPUTS = 400_000;

const { random, int, pick, input } = fuzzer(SEED, [
  ...vectors.map((v) => v.bytes),
  [...longVectors[0]!.bytes],
]);

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
