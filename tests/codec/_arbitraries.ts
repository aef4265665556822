// fast-check arbitraries of strings and topics, shared by the property tests of MQTT 5.0
// (property_test.ts) and 3.1.1 (v311_property_test.ts), whose string rules are the same.

import fc from "fast-check";

/** U+FDD0..U+FDEF and the last two code points of every plane are non-characters. */
function isNonCharacter(cp: number): boolean {
  return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/**
 * A code point a strict codec accepts in a string: no U+0000, no control character
 * (U+0001..U+001F, U+007F..U+009F), no surrogate, no non-character (1.5.4 of 5.0, 1.5.3 of
 * 3.1.1). Mostly ASCII, with two-, three- and four-byte sequences, the BOM U+FEFF included.
 */
export const strictCodePoint = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 2, arbitrary: fc.integer({ min: 0xa0, max: 0x7ff }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x800, max: 0xd7ff }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xfffd }) },
  { weight: 1, arbitrary: fc.constant(0xfeff) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }) },
).filter((cp) => !isNonCharacter(cp));

/** Code points accepted only with `strict: false`: controls and non-characters. */
export const laxCodePoint = fc.oneof(
  strictCodePoint,
  fc.integer({ min: 0x01, max: 0x1f }),
  fc.integer({ min: 0x7f, max: 0x9f }),
  fc.integer({ min: 0xfdd0, max: 0xfdef }),
  fc.constantFrom(0xfffe, 0xffff, 0x1fffe, 0x10ffff),
);

/** Strings of up to `maxLength` code points drawn from `cp`. */
export const stringOf = (cp: fc.Arbitrary<number>, maxLength = 10) =>
  fc.array(cp, { maxLength }).map((cps) => String.fromCodePoint(...cps));

/** A string a strict codec accepts. */
export const str = stringOf(strictCodePoint);

/** A topic level: no `/`, `+` or `#`. */
export const level = stringOf(
  strictCodePoint.filter((cp) => cp !== 0x2f && cp !== 0x2b && cp !== 0x23),
  6,
);

/** A Topic Name: at least one character, no wildcard (4.7). */
export const topicName = fc.array(level, { minLength: 1, maxLength: 4 })
  .map((levels) => levels.join("/"))
  .filter((t) => t.length > 0);

/** Mutations of a valid encoding: each moves it a little off the valid set. */
export const mutation = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("length" as const), delta: fc.integer({ min: -3, max: 3 }) }),
);
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** `bytes` with `mutations` applied in turn. */
export function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = [...bytes];
  for (const m of mutations) {
    const at = "at" in m && b.length > 0 ? m.at % b.length : 0;
    switch (m.op) {
      case "flip":
        if (b.length > 0) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case "set":
        if (b.length > 0) b[at] = m.value;
        break;
      case "insert":
        b.splice(at, 0, m.value);
        break;
      case "delete":
        b.splice(at, 1);
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "length":
        // Remaining Length of one byte tampered with, the rest left as it is.
        if (b.length > 1 && b[1]! < 0x80) b[1] = Math.max(0, Math.min(0x7f, b[1]! + m.delta));
        break;
    }
  }
  return new Uint8Array(b);
}
