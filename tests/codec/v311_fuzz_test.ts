// A bounded, reproducible fuzz of the MQTT 3.1.1 decoder (`protocolVersion: 4`): random bytes and
// mutations of the 3.1.1 vectors and of the 5.0 ones, from a seeded PRNG (_fuzz.ts). Every input
// either decodes to a packet that re-encodes to exactly the same bytes, or throws DecodeError;
// nothing else. A failure prints the seed, the input's index and its bytes.

import { deepStrictEqual, fail, ok as assert } from "node:assert/strict";
import { decode, DecodeError, encode, type Packet } from "../../src/codec/mod.ts";
import { vectors } from "./_vectors.ts";
import { longVectorV311, V311, vectorsV311 } from "./_vectors_v311.ts";
import { binaries, fuzzer, hex } from "./_fuzz.ts";

const SEED = 0x33313131; // "3111"
const INPUTS = 100_000;

const { random, pick, input } = fuzzer(SEED, [
  // Mostly 3.1.1 packets, some 5.0 ones: a peer speaking the other version.
  ...vectorsV311.map((v) => v.bytes),
  ...vectorsV311.map((v) => v.bytes),
  ...vectors.map((v) => v.bytes),
  [...longVectorV311.bytes],
]);

Deno.test(
  `MQTT 3.1.1 decode() on ${INPUTS} fuzzed inputs (seed 0x${
    SEED.toString(16)
  }): a packet that re-encodes to the same bytes, or DecodeError`,
  {
    permissions: "none",
  },
  () => {
    const outcomes: Record<string, number> = {};
    const count = (key: string) => outcomes[key] = (outcomes[key] ?? 0) + 1;
    for (let i = 0; i < INPUTS; i++) {
      const bytes = new Uint8Array(input());
      const maximumPacketSize = pick([Math.max(2, bytes.length - 1), 268_435_460, 268_435_460]);
      const options = { ...V311, maximumPacketSize, strict: random() < 0.75 };
      try {
        let p: Packet;
        try {
          p = decode(bytes, options);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          assert([0x81, 0x82, 0x84, 0x85, 0x95].includes(e.reasonCode), e.message);
          assert(e.offset >= 0 && e.offset <= bytes.length);
          count(`DecodeError 0x${e.reasonCode.toString(16)}`);
          continue;
        }
        count(`decoded type ${p.type}`);
        assert(bytes.length <= maximumPacketSize);
        assert(p.type !== 15 && !Object.hasOwn(p, "properties"));
        for (const b of binaries(p)) assert(b.length < bytes.length);
        // The same bytes again, and nothing but DecodeError ever escaped the decoder.
        deepStrictEqual(encode(p, options), bytes);
      } catch (e) {
        fail(
          `input #${i} (seed 0x${SEED.toString(16)}): ${hex(bytes)}\n` +
            `${e instanceof Error ? e.stack : e}`,
        );
      }
    }
    // The fuzz reached every 3.1.1 packet type and every kind of refusal.
    for (let type = 1; type <= 14; type++) {
      assert(outcomes[`decoded type ${type}`]! > 0, `type ${type}: ${JSON.stringify(outcomes)}`);
    }
    for (const code of ["81", "82", "84", "85", "95"]) {
      assert(outcomes[`DecodeError 0x${code}`]! > 0, `0x${code}: ${JSON.stringify(outcomes)}`);
    }
  },
);
