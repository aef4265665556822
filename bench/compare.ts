/**
 * Same-run comparison of mqtt5's end-to-end benchmark between two source trees ("old" and "new").
 *
 * For each round, for each workload, it runs the tree's own `bench/e2e.ts` with
 * `--clients=mqtt5 --runs=1 --only=<workload> --json=<file>` once in the old tree and once in the
 * new one (old first in odd rounds, new first in even rounds, so that neither always goes first),
 * then prints the medians per workload and metric with the ratio new/old, and the spread of the
 * per-round (paired) ratios. Each invocation starts its own two Mosquitto brokers exactly as the
 * bench does (it is the bench's own code that runs).
 *
 * Usage: `deno task bench:compare --old=<commit> [NEW] [-n N] [--only=qos0,lat1,...]
 *   [--bench-args="..."] [--out=DIR] [--noise=summary.json] [--client=mqtt5-node]`
 *
 *   NEW   a directory, or a commit-ish of this repository (default: this working tree). A commit
 *         gets a detached worktree (made once) under .broker/bench-trees/<sha>.
 *   --old           a directory or a commit-ish, the same way (default HEAD~1)
 *   --rounds / -n   default 3 (use 9 or more before calling a difference real)
 *   --only          workloads, default qos0,qos1,qos2,qos1-wide,qos2-wide,lat0,lat1,large,import
 *   --bench-args    extra flags for both trees' bench/e2e.ts, e.g. "--direct" or "--quick"
 *   --out           where logs and raw JSON go, default .broker/bench-compare/<timestamp>
 *   --noise         the summary.json of an old-vs-old run, whose paired ranges are shown as noise
 *   --client        the bench's client to compare: mqtt5 (default), mqtt5-node or mqtt5-bun
 *
 * Nothing is written inside the trees except what the bench itself writes (its brokers' temporary
 * folders under <tree>/.broker/, removed when each invocation ends).
 */

const ALL = ["qos0", "qos1", "qos2", "qos1-wide", "qos2-wide", "lat0", "lat1", "large", "import"];
const TITLES: Record<string, string> = {
  qos0: "QoS 0, 64 B",
  qos1: "QoS 1, 64 B",
  qos2: "QoS 2, 64 B",
  "qos1-wide": "QoS 1, 64 B, RM 1000",
  "qos2-wide": "QoS 2, 64 B, RM 1000",
  lat0: "latency QoS 0",
  lat1: "latency QoS 1",
  large: "QoS 1, 1 MiB",
  import: "import",
};

// --- arguments -------------------------------------------------------------------------------------

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
let newArg = ROOT;
let oldArg = "HEAD~1";
let rounds = 3;
let only = ALL;
let benchArgs: string[] = [];
let outDir = "";
let noiseFile = "";
let client = "mqtt5";
const argv = [...Deno.args];
while (argv.length > 0) {
  const a = argv.shift()!;
  const [k, v] = a.startsWith("--") ? a.slice(2).split(/=(.*)/s, 2) : [a, undefined];
  if (k === "-n") rounds = Number(argv.shift());
  else if (k === "rounds") rounds = Number(v);
  else if (k === "old") oldArg = v!;
  else if (k === "only") only = v!.split(",").filter((s) => s !== "");
  else if (k === "bench-args") benchArgs = v!.split(/\s+/).filter((s) => s !== "");
  else if (k === "out") outDir = v!;
  else if (k === "noise") noiseFile = v!;
  else if (k === "client") client = v!;
  else if (k === "help" || k === "-h") {
    console.log(
      "usage: bench/compare.ts --old=<commit|dir> [NEW] [-n N] [--only=a,b] [--bench-args=...]",
    );
    Deno.exit(0);
  } else if (!a.startsWith("-")) newArg = a;
  else throw new Error(`unknown option ${a}`);
}
if (!(rounds >= 1)) throw new Error("rounds must be >= 1");
for (const w of only) if (!ALL.includes(w)) throw new Error(`unknown workload ${w}`);

async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, {
    args,
    ...(cwd !== undefined ? { cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    ok: out.success,
    stdout: new TextDecoder().decode(out.stdout).trim(),
    stderr: new TextDecoder().decode(out.stderr).trim(),
  };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch {
    return false;
  }
}

/** A tree as a directory: itself, or a worktree of the commit it names. */
async function resolveTree(arg: string): Promise<string> {
  if (await isDir(arg)) return arg;
  const rev = await run("git", ["-C", ROOT, "rev-parse", "--verify", `${arg}^{commit}`]);
  if (!rev.ok) throw new Error(`${arg} is neither a directory nor a commit of ${ROOT}`);
  const dir = `${ROOT}/.broker/bench-trees/${rev.stdout}`;
  if (!(await isDir(dir))) {
    const add = await run("git", ["-C", ROOT, "worktree", "add", "--detach", dir, rev.stdout]);
    if (!add.ok) throw new Error(add.stderr);
  }
  return dir;
}

const newDir = await resolveTree(newArg);
const oldDir = await resolveTree(oldArg);
if (!(await isDir(`${oldDir}/bench`))) throw new Error(`${oldDir} has no bench/`);
if (!(await isDir(`${newDir}/bench`))) throw new Error(`${newDir} has no bench/`);

async function describe(dir: string): Promise<string> {
  const head = await run("git", ["-C", dir, "rev-parse", "HEAD"]);
  const dirty = await run("git", ["-C", dir, "status", "--porcelain", "--untracked-files=no"]);
  const n = dirty.stdout === "" ? 0 : dirty.stdout.split("\n").length;
  return `${dir} @ ${head.ok ? head.stdout : "?"}${n ? ` + ${n} uncommitted change(s)` : ""}`;
}

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
outDir ||= `${ROOT}/.broker/bench-compare/${stamp}`;
await Deno.mkdir(outDir, { recursive: true });

// --- the runs --------------------------------------------------------------------------------------

interface WorkerResult {
  messages: number;
  seconds: number;
  cpu: number;
  /** Absent from trees older than the page-fault probe. */
  faults?: number;
  brokerCpu: number;
  payloadBytes: number;
  rssStart: number;
  peakRss: number;
  latency?: { p50: number; p99: number };
  refused: number;
  maxInFlight: number;
}
type Side = "old" | "new";
/** `${side}/${workload}` -> one entry per round (undefined when that invocation failed). */
const results = new Map<string, (WorkerResult | number | undefined)[]>();
const failures: string[] = [];
const dirs: Record<Side, string> = { old: oldDir, new: newDir };

async function invoke(side: Side, w: string, round: number): Promise<void> {
  const json = `${outDir}/${side}-${w}-${round}.json`;
  const args = [
    "run",
    "-A",
    "bench/e2e.ts",
    `--clients=${client}`,
    "--runs=1",
    `--only=${w}`,
    `--json=${json}`,
    ...benchArgs,
  ];
  const t0 = performance.now();
  const child = new Deno.Command("deno", {
    args,
    cwd: dirs[side],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  await Deno.writeTextFile(
    `${outDir}/${side}-${w}-${round}.log`,
    dec.decode(out.stderr) + "\n--- stdout ---\n" + dec.decode(out.stdout),
  );
  const key = `${side}/${w}`;
  const list = results.get(key) ?? [];
  results.set(key, list);
  let value: WorkerResult | number | undefined;
  if (out.success) {
    try {
      const data = JSON.parse(await Deno.readTextFile(json));
      value = w === "import" ? data.imports?.mqtt5?.[0] : data.results?.[`${w}/${client}`]?.[0];
    } catch (e) {
      failures.push(`${side} ${w} round ${round}: no JSON (${e})`);
    }
  } else {
    failures.push(
      `${side} ${w} round ${round}: exit ${out.code}, see ${outDir}/${side}-${w}-${round}.log`,
    );
  }
  list[round - 1] = value;
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.error(
    `round ${round}/${rounds} ${w.padEnd(10)} ${side}  ${secs.padStart(5)} s  ${summary(w, value)}`,
  );
}

function summary(_w: string, v: WorkerResult | number | undefined): string {
  if (v === undefined) return "FAILED";
  if (typeof v === "number") return `${v.toFixed(1)} ms`;
  const s = `${(v.messages / v.seconds).toFixed(0)} msg/s  cpu ${
    (v.cpu / v.messages * 1e6).toFixed(2)
  } µs/msg`;
  return v.latency ? `${s}  p50 ${v.latency.p50.toFixed(0)} p99 ${v.latency.p99.toFixed(0)} µs` : s;
}

const loadBefore = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const started = performance.now();
console.error(`old: ${await describe(oldDir)}`);
console.error(`new: ${await describe(newDir)}`);
console.error(`logs and JSON: ${outDir}`);
for (let round = 1; round <= rounds; round++) {
  for (const w of only) {
    const order: Side[] = round % 2 === 1 ? ["old", "new"] : ["new", "old"];
    for (const side of order) await invoke(side, w, round);
  }
}
const elapsed = (performance.now() - started) / 1000;
const loadAfter = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");

// --- the table -------------------------------------------------------------------------------------

interface Metric {
  name: string;
  /** "up": higher is better; "down": lower is better; "": informational. */
  better: "up" | "down" | "";
  digits: number;
  f: (r: WorkerResult) => number;
}
const MiB = 2 ** 20;
const rate: Metric = { name: "msgs/s", better: "up", digits: 0, f: (r) => r.messages / r.seconds };
const cpuPer: Metric = {
  name: "CPU µs/msg",
  better: "down",
  digits: 2,
  f: (r) => r.cpu / r.messages * 1e6,
};
const brokerPer: Metric = {
  name: "broker CPU µs/msg",
  better: "down",
  digits: 2,
  f: (r) => r.brokerCpu / r.messages * 1e6,
};
const peak: Metric = { name: "peak RSS MiB", better: "down", digits: 1, f: (r) => r.peakRss / MiB };
const growth: Metric = {
  name: "RSS growth MiB",
  better: "down",
  digits: 1,
  f: (r) => (r.peakRss - r.rssStart) / MiB,
};
const inFlight: Metric = { name: "most in flight", better: "", digits: 0, f: (r) => r.maxInFlight };

function metricsOf(w: string): Metric[] {
  if (w === "qos0") return [rate, cpuPer, brokerPer, peak, growth];
  if (w.startsWith("qos")) return [rate, cpuPer, brokerPer, inFlight];
  if (w.startsWith("lat")) {
    return [
      { name: "p50 µs", better: "down", digits: 0, f: (r) => r.latency!.p50 },
      { name: "p99 µs", better: "down", digits: 0, f: (r) => r.latency!.p99 },
      cpuPer,
    ];
  }
  if (w === "large") {
    return [
      { name: "MB/s", better: "up", digits: 0, f: (r) => r.payloadBytes / r.seconds / 1e6 },
      {
        name: "CPU ms/MiB",
        better: "down",
        digits: 2,
        f: (r) => r.cpu / (r.payloadBytes / MiB) * 1e3,
      },
      {
        name: "page faults/MiB",
        better: "down",
        digits: 0,
        f: (r) => (r.faults ?? NaN) / (r.payloadBytes / MiB),
      },
      peak,
    ];
  }
  return [];
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const fmt = (n: number, digits: number) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "–";

const lines = [
  "| workload | metric | old | new | new/old | paired range | ratio of medians | old/old noise | better |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
];
const rows: Record<string, unknown>[] = [];
/** `${workload}/${metric}` -> "median (min–max)" of the paired ratios of an old-vs-old run. */
const noise = new Map<string, string>();
try {
  const base = JSON.parse(await Deno.readTextFile(noiseFile)) as {
    rows: { workload: string; metric: string; old: number[]; new: number[] }[];
  };
  for (const r of base.rows) {
    const pr = r.old.map((o, i) => r.new[i]! / o).filter(Number.isFinite);
    if (pr.length) {
      noise.set(
        `${r.workload}/${r.metric}`,
        `${fmt(Math.min(...pr), 2)}–${fmt(Math.max(...pr), 2)}`,
      );
    }
  }
} catch {
  // No baseline: the column stays empty.
}
function addRow(w: string, m: string, digits: number, better: string, o: number[], n: number[]) {
  const pairs = o.map((x, i) => [x, n[i]]).filter(([a, b]) =>
    Number.isFinite(a) && Number.isFinite(b) && a !== 0
  ) as [number, number][];
  const perRound = pairs.map(([a, b]) => b / a);
  const mo = median(o.filter(Number.isFinite));
  const mn = median(n.filter(Number.isFinite));
  const ratio = mo !== 0 ? mn / mo : NaN;
  const paired = perRound.length ? median(perRound) : NaN;
  const spread = perRound.length
    ? `${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)}`
    : "–";
  const nz = noise.get(`${w}/${m}`);
  lines.push(
    `| ${TITLES[w]} | ${m} | ${fmt(mo, digits)} | ${fmt(mn, digits)} | **${
      fmt(paired, 2)
    }** | ${spread} | ${fmt(ratio, 2)} | ${nz ?? "–"} | ${
      better === "up" ? "↑" : better === "down" ? "↓" : ""
    } |`,
  );
  rows.push({
    workload: w,
    metric: m,
    old: o,
    new: n,
    medianOld: mo,
    medianNew: mn,
    ratio,
    pairedMedian: median(perRound),
  });
}
for (const w of only) {
  const o = results.get(`old/${w}`) ?? [];
  const n = results.get(`new/${w}`) ?? [];
  const at = (list: typeof o, i: number) => list[i];
  if (w === "import") {
    const nums = (l: typeof o) =>
      Array.from({ length: rounds }, (_, i) => {
        const v = at(l, i);
        return typeof v === "number" ? v : NaN;
      });
    addRow(w, "ms", 1, "down", nums(o), nums(n));
    continue;
  }
  for (const m of metricsOf(w)) {
    const nums = (l: typeof o) =>
      Array.from({ length: rounds }, (_, i) => {
        const v = at(l, i);
        return v !== undefined && typeof v !== "number" ? m.f(v) : NaN;
      });
    addRow(w, m.name, m.digits, m.better, nums(o), nums(n));
  }
}

const header = [
  `Same-run comparison, median of ${rounds} round${rounds > 1 ? "s" : ""} ` +
  `(${elapsed.toFixed(0)} s; load average ${loadBefore} before, ${loadAfter} after).`,
  `- old: ${await describe(oldDir)}`,
  `- new: ${await describe(newDir)}`,
  `- bench: bench/e2e.ts --clients=${client} --runs=1 --only=<workload>${
    benchArgs.length ? " " + benchArgs.join(" ") : ""
  }, one invocation per tree per workload per round, old/new order alternating by round`,
  `- new/old: median of the per-round ratios new_i/old_i (each pair ran back to back), paired range: their min–max; ratio of medians: median(new)/median(old); old/old noise: paired range of the old-vs-old run ${
    noise.size ? noiseFile : "(none)"
  }; ↑ higher is better, ↓ lower is better`,
  `- raw data: ${outDir}`,
];
const report = [
  ...header,
  "",
  ...lines,
  ...(failures.length ? ["", "Failures:", ...failures.map((f) => `- ${f}`)] : []),
].join("\n");
await Deno.writeTextFile(`${outDir}/report.md`, report + "\n");
await Deno.writeTextFile(
  `${outDir}/summary.json`,
  JSON.stringify({ rounds, rows, failures }, null, 1),
);
console.log(report);
if (failures.length) Deno.exit(1);
