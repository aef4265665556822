// The sizes of the reliability runs. `deno task test` runs the bounded CI sizes; `deno task
// reliability` passes `--long` (and any `--name=value` after it) to run the long sizes:
//
//   deno task reliability                         # every long run at its default size
//   deno task reliability --fuzz-runs=2000000     # one size changed
//   deno test -P tests/reliability/fuzz_test.ts -- --fuzz-runs=50000 --seed=7
//
// Arguments rather than environment variables, so that no test needs the env permission.

const flags = new Map<string, string>();
for (const arg of Deno.args) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
  if (m) flags.set(m[1]!, m[2] ?? "true");
}

/** Whether this is a long run (`deno task reliability`). */
export const long: boolean = flags.get("long") === "true";

/** A count or duration: `--name=value` if given, else the long or the CI default. */
export function param(name: string, ci: number, longRun: number): number {
  const given = flags.get(name);
  if (given === undefined) return long ? longRun : ci;
  const value = Number(given);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`--${name}=${given}: give a number of 0 or more`);
  }
  return value;
}

/** The seed of the random choices: `--seed=n`, else a fixed one in CI and a fresh one in long runs. */
export const seed: number = flags.has("seed")
  ? Number(flags.get("seed"))
  : long
  ? Math.floor(Math.random() * 0x7fffffff)
  : 0x6d717435;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Prints a figure line of a run, `RELIABILITY <name>: <json>`, for RELIABILITY.md. CI runs print
 * them too, so their output shows what they covered.
 */
export function report(name: string, figures: Record<string, unknown>): void {
  console.log(`RELIABILITY ${name}: ${JSON.stringify(figures)}`);
}

/** Deno.memoryUsage() in MiB, rounded to a tenth. */
export function memoryMiB(): { rss: number; heapUsed: number; external: number } {
  const m = Deno.memoryUsage();
  const mib = (n: number) => Math.round(n / 104_857.6) / 10;
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), external: mib(m.external) };
}
