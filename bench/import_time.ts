/**
 * How long importing the library's root module takes in Deno: in fresh `deno` processes, the time
 * `await import(".../mod.ts")` takes (`performance.now()` before and after), after one warm-up
 * process that fills Deno's transpile cache. Prints the median, the fastest and the slowest.
 *
 * ```sh
 * deno run --allow-run bench/import_time.ts [--runs=N] [ROOT ...]
 * ```
 *
 * Each ROOT is a checkout of the repository (default: this one), e.g. an older commit's worktree
 * to compare with: the processes alternate between the roots, so both see the same machine.
 *
 * @module
 */

const flags = new Map<string, string>();
const roots: string[] = [];
for (const arg of Deno.args) {
  if (arg.startsWith("--")) {
    const [key, value] = arg.slice(2).split("=", 2);
    flags.set(key!, value ?? "true");
  } else {
    roots.push(arg.replace(/\/$/, ""));
  }
}
if (roots.length === 0) {
  roots.push(decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, ""));
}
const runs = Number(flags.get("runs") ?? 15);
if (!Number.isInteger(runs) || runs < 1) {
  throw new RangeError(`Cannot do --runs=${flags.get("runs")}: give a whole number of 1 or more`);
}

/** Milliseconds one fresh process takes to import `root`'s `mod.ts`. */
async function importTime(root: string): Promise<number> {
  const url = new URL(`file://${root}/mod.ts`).href;
  const script = `const t0 = performance.now(); await import(${JSON.stringify(url)}); ` +
    "console.log(performance.now() - t0);";
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(`Importing ${url} failed:\n${new TextDecoder().decode(output.stderr)}`);
  }
  return Number(text);
}

const times = new Map<string, number[]>(roots.map((root) => [root, []]));
for (const root of roots) await importTime(root); // Warm-up: the transpile cache.
for (let run = 0; run < runs; run++) {
  for (const root of roots) times.get(root)!.push(await importTime(root));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
console.log(`| root | median ms | min | max | runs |\n| --- | ---: | ---: | ---: | ---: |`);
for (const [root, values] of times) {
  console.log(
    `| ${root} | ${median(values).toFixed(1)} | ${Math.min(...values).toFixed(1)} | ` +
      `${Math.max(...values).toFixed(1)} | ${values.length} |`,
  );
}
