// The input generator of the seeded fuzz runs (fuzz_test.ts for MQTT 5.0, v311_fuzz_test.ts for
// 3.1.1): random bytes and mutations of the vectors (bit flips, truncation, insertion, deletion,
// splicing, length tampering) from a seeded PRNG, so that a failure is reproducible.

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

/** A Variable Byte Integer's bytes. */
export function vbi(n: number): number[] {
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

/** What a fuzz run draws from: the PRNG and the inputs built with it. */
export interface Fuzzer {
  /** A number in [0, 1). */
  random: () => number;
  /** An integer from 0 to n - 1. */
  int: (n: number) => number;
  /** One element of `list`. */
  pick: <T>(list: readonly T[]) => T;
  /** The next input: random bytes, or a mutation of one of the seeds. */
  input: () => number[];
}

/** A fuzzer from `seed`, mutating the packets `seeds`. */
export function fuzzer(seed: number, seeds: readonly number[][]): Fuzzer {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n); // 0 .. n-1
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;

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

  return { random, int, pick, input };
}

/** Every Uint8Array of a decoded packet. */
export function binaries(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof Uint8Array) out.push(value);
  else if (Array.isArray(value)) { for (const v of value) binaries(v, out); }
  else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) binaries(v, out);
  }
  return out;
}

/** Bytes in hex, for a failure's message. */
export const hex = (b: Uint8Array): string =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
