/**
 * The end-to-end benchmark: `deno task bench:e2e`. It starts Mosquitto, runs each workload for
 * each client in a process of its own, at least three times, and prints the medians with their
 * ratios as a Markdown table (see BENCHMARKS.md for the method).
 *
 * Clients: `raw` (the ceiling: pre-encoded packets on a plain socket, `e2e/raw.ts`), `raw-owned`
 * (the same, copying each received PUBLISH into a fresh buffer; 1 MiB workload only), `mqtt5` (this
 * library on Deno, `e2e/mqtt5.ts`), `mqtt5-node` and `mqtt5-bun` (this library over `connectNode`
 * on Node and on Bun: `e2e/mqtt5_node.ts`, bundled by esbuild into `.broker/`), `mqttjs-node`
 * (MQTT.js on Node, the baseline, `node/mqttjs.mjs`) and `mqttjs-deno` (MQTT.js under Deno,
 * `e2e/mqttjs_deno.ts`). It prints one table per runtime of mqtt5 run (Deno, Node, Bun), each
 * with the same run's raw and MQTT.js figures and the goals of that runtime.
 *
 * Options: `--runs=N` (default 3), `--only=qos1,lat0,...` (workload names), `--clients=raw,mqtt5`,
 * `--json=FILE` (every result), `--cpu-prof` (profiles of the mqtt5 workers in `bench/.profiles/`),
 * `--quick` (a tenth of the messages, for trying things out), `--direct` (mqtt5 on Deno over
 * `connectTcp({ direct: true })`: the connection's own reads and writes instead of its streams; the
 * default measures the BYOB stream path users get by default).
 *
 * @module
 */

import { startMosquitto } from "../tests/_util/mosquitto.ts";
import { bundleForNode } from "../tests/browser/_bundle.ts";
import type { WorkerConfig, WorkerResult } from "./e2e/_common.ts";

const HERE = new URL(".", import.meta.url);
const path = (relative: string) => decodeURIComponent(new URL(relative, HERE).pathname);

const flags = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=", 2);
    return [k!, v ?? "true"] as const;
  }),
);
const runs = Number(flags.get("runs") ?? 3);
const quick = flags.has("quick");
const cpuProf = flags.has("cpu-prof");
const direct = flags.has("direct");

type ClientName =
  | "raw"
  | "raw-owned"
  | "mqtt5"
  | "mqtt5-node"
  | "mqtt5-bun"
  | "mqttjs-node"
  | "mqttjs-deno";
const CLIENTS: ClientName[] = [
  "raw",
  "raw-owned",
  "mqtt5",
  "mqtt5-node",
  "mqtt5-bun",
  "mqttjs-node",
  "mqttjs-deno",
];
/** The runs of this library, one per runtime: each gets a table of its own. */
const MQTT5_CLIENTS = ["mqtt5", "mqtt5-node", "mqtt5-bun"] as const;
type Mqtt5Client = typeof MQTT5_CLIENTS[number];
const RUNTIME_OF: Record<Mqtt5Client, string> = {
  mqtt5: "Deno",
  "mqtt5-node": "Node",
  "mqtt5-bun": "Bun",
};
/** Clients that run only the 1 MiB workload (where what they measure differs from `raw`). */
const LARGE_ONLY: ClientName[] = ["raw-owned"];
const clients = (flags.get("clients")?.split(",") ?? CLIENTS) as ClientName[];

/** The broker a workload runs on. */
type BrokerName = "default" | "inflight";

interface Workload {
  name: string;
  title: string;
  broker: BrokerName;
  kind: WorkerConfig["kind"];
  qos: 0 | 1 | 2;
  count: number;
  size: number;
}

const scale = quick ? 0.1 : 1;
const WORKLOADS: Workload[] = [
  {
    name: "qos0",
    title: "QoS 0, 64 B",
    broker: "default",
    kind: "throughput",
    qos: 0,
    count: 100_000,
    size: 64,
  },
  {
    name: "qos1",
    title: "QoS 1, 64 B",
    broker: "default",
    kind: "throughput",
    qos: 1,
    count: 50_000,
    size: 64,
  },
  {
    name: "qos2",
    title: "QoS 2, 64 B",
    broker: "default",
    kind: "throughput",
    qos: 2,
    count: 20_000,
    size: 64,
  },
  {
    name: "qos1-wide",
    title: "QoS 1, 64 B, Receive Maximum 1000",
    broker: "inflight",
    kind: "throughput",
    qos: 1,
    count: 50_000,
    size: 64,
  },
  {
    name: "qos2-wide",
    title: "QoS 2, 64 B, Receive Maximum 1000",
    broker: "inflight",
    kind: "throughput",
    qos: 2,
    count: 20_000,
    size: 64,
  },
  {
    name: "lat0",
    title: "latency QoS 0",
    broker: "default",
    kind: "latency",
    qos: 0,
    count: 5_000,
    size: 64,
  },
  {
    name: "lat1",
    title: "latency QoS 1",
    broker: "default",
    kind: "latency",
    qos: 1,
    count: 5_000,
    size: 64,
  },
  {
    name: "large",
    title: "QoS 1, 1 MiB",
    broker: "default",
    kind: "throughput",
    qos: 1,
    count: 200,
    size: 1 << 20,
  },
].map((w) => ({ ...w, count: Math.max(1, Math.round(w.count * scale)) })) as Workload[];
const only = flags.get("only")?.split(",");
const workloads = WORKLOADS.filter((w) => only === undefined || only.includes(w.name));

/** The application's window (see `WorkerConfig.window`). */
const WINDOW = 1000;

// --- set-up ------------------------------------------------------------------------------------

async function ensureNodeModules(): Promise<void> {
  try {
    await Deno.stat(path("node/node_modules/mqtt/package.json"));
    return;
  } catch {
    // Not installed yet.
  }
  console.error("Installing MQTT.js for Node in bench/node (npm ci)...");
  const out = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund"],
    cwd: path("node"),
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("npm ci failed in bench/node");
}

/** The pid of the Mosquitto whose config file is `config`, found in /proc. */
function brokerPid(dir: string): number {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(`${dir}/mosquitto.conf`)) return Number(entry.name);
    } catch {
      // The process is gone.
    }
  }
  return 0;
}

if (clients.includes("mqttjs-node")) await ensureNodeModules();

/** Bundles `e2e/mqtt5_node.ts` into one `.mjs` that Node and Bun run (as `bench:ws` does). */
async function bundleNodeWorker(): Promise<string> {
  const root = path("../.broker");
  await Deno.mkdir(root, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: root, prefix: "e2e-bundle-" });
  await bundleForNode({ mqtt5: "bench/e2e/mqtt5_node.ts" }, dir);
  return `${dir}/mqtt5.mjs`;
}
const nodeWorker = clients.includes("mqtt5-node") || clients.includes("mqtt5-bun")
  ? await bundleNodeWorker()
  : "";

// Mosquitto's defaults, with one change: max_queued_messages 100,000 (its default of 1,000 drops
// QoS 0 messages for a subscriber that falls behind, and QoS 1 and 2 ones above the in-flight
// window). The second broker also allows 1,000 messages in flight per client
// (max_inflight_messages, announced as Receive Maximum 1000).
await using brokerDefault = await startMosquitto({ maxQueuedMessages: 100_000 });
await using brokerInflight = await startMosquitto({
  maxQueuedMessages: 100_000,
  config: ["max_inflight_messages 1000"],
});
const brokers = { default: brokerDefault, inflight: brokerInflight };
const pids = { default: brokerPid(brokerDefault.dir), inflight: brokerPid(brokerInflight.dir) };

// Pinning (as the figures were measured): the brokers on CPU 0, each worker process and
// all its threads on CPU 1, so that a run does not depend on where the scheduler put whom (on 2
// cores, sharing a core with the broker or not moves latency by 30 %). `--no-pin` turns it off.
const pin = !flags.has("no-pin") && navigator.hardwareConcurrency >= 2 &&
  (await new Deno.Command("taskset", { args: ["-V"], stdout: "null", stderr: "null" }).output()
    .then((o) => o.success, () => false));
if (pin) {
  for (const pid of Object.values(pids)) {
    if (pid > 0) {
      await new Deno.Command("taskset", {
        args: ["-a", "-p", "-c", "0", String(pid)],
        stdout: "null",
      })
        .output();
    }
  }
}

/** A worker's command, on CPU 1 when pinning. */
function pinned(cmd: string, options: Deno.CommandOptions): Deno.Command {
  return pin
    ? new Deno.Command("taskset", { ...options, args: ["-c", "1", cmd, ...(options.args ?? [])] })
    : new Deno.Command(cmd, options);
}

// --- running workers ---------------------------------------------------------------------------

// Deno 2.9 wants all permissions to read /proc/self/stat and /proc/self/status, which is how the
// workers measure their own CPU time and peak memory.
const DENO_PERMISSIONS = ["-A"];

function command(client: ClientName, cfg: WorkerConfig, label: string): Deno.Command {
  const arg = JSON.stringify(cfg);
  const deno = Deno.execPath();
  // Deno, Node and Bun take the same flags for a V8 (or JavaScriptCore) CPU profile.
  const profileFlags = cpuProf
    ? [
      "--cpu-prof",
      `--cpu-prof-dir=${path(".profiles")}`,
      `--cpu-prof-name=${label}.cpuprofile`,
    ]
    : [];
  switch (client) {
    case "raw":
    case "raw-owned":
      return pinned(deno, {
        args: [
          "run",
          ...DENO_PERMISSIONS,
          ...profileFlags,
          path("e2e/raw.ts"),
          arg,
        ],
      });
    case "mqtt5":
      return pinned(deno, {
        args: [
          "run",
          ...DENO_PERMISSIONS,
          ...profileFlags,
          path("e2e/mqtt5.ts"),
          arg,
        ],
      });
    case "mqtt5-node":
      return pinned("node", {
        args: [
          ...profileFlags,
          nodeWorker,
          arg,
        ],
      });
    case "mqtt5-bun":
      return pinned("bun", {
        args: [
          ...profileFlags,
          nodeWorker,
          arg,
        ],
      });
    case "mqttjs-deno":
      return pinned(deno, {
        args: [
          "run",
          ...DENO_PERMISSIONS,
          path("e2e/mqttjs_deno.ts"),
          arg,
        ],
      });
    case "mqttjs-node":
      return pinned("node", { args: [path("node/mqttjs.mjs"), arg], cwd: path("node") });
  }
}

let serial = 0;

async function runWorker(client: ClientName, w: Workload, run: number): Promise<WorkerResult> {
  const broker = brokers[w.broker];
  const id = `${client}-${w.name}-${run}-${++serial}-${Date.now().toString(36)}`;
  const cfg: WorkerConfig = {
    kind: w.kind,
    qos: w.qos,
    count: w.count,
    warmup: w.kind === "latency" ? 200 : Math.max(1, Math.round(w.count / 20)),
    size: w.size,
    window: WINDOW,
    port: broker.port,
    username: broker.username,
    password: broker.password,
    topic: `bench/${id}`,
    clientId: id,
    brokerPid: pids[w.broker],
    direct,
    owned: client === "raw-owned",
  };
  const output = await withTimeout(
    command(client, cfg, id).output(),
    180_000,
    `${client} ${w.name} took more than 180 s`,
  );
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      `${client} ${w.name} failed (exit ${output.code}):\n${stdout}\n${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  return JSON.parse(stdout.split("\n").at(-1)!) as WorkerResult;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function importTime(client: ClientName): Promise<number> {
  const deno = Deno.execPath();
  const cmd = client === "mqttjs-node"
    ? new Deno.Command("node", { args: [path("node/import_time.mjs")], cwd: path("node") })
    : new Deno.Command(deno, {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        path("e2e/import_time.ts"),
        client === "mqtt5" ? "../../mod.ts" : "mqtt",
      ],
    });
  const output = await cmd.output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout).trim()).ms as number;
}

// --- the runs ------------------------------------------------------------------------------------

const results = new Map<string, WorkerResult[]>(); // `${workload}/${client}`
const imports = new Map<ClientName, number[]>();
const started = Date.now();
for (let run = 1; run <= runs; run++) {
  for (const w of workloads) {
    for (const client of clients) {
      if (LARGE_ONLY.includes(client) && w.size <= 1024) continue;
      const r = await runWorker(client, w, run);
      const key = `${w.name}/${client}`;
      results.set(key, [...(results.get(key) ?? []), r]);
      console.error(
        `run ${run} ${w.name.padEnd(10)} ${client.padEnd(12)} ${
          (r.messages / r.seconds).toFixed(0).padStart(8)
        } msg/s  cpu ${(r.cpu / r.messages * 1e6).toFixed(2).padStart(6)} µs/msg` +
          (r.latency
            ? `  p50 ${r.latency.p50.toFixed(0)} µs p99 ${r.latency.p99.toFixed(0)} µs`
            : "") +
          (r.refused ? `  0x97 ×${r.refused}` : "") + `  in flight ≤ ${r.maxInFlight}`,
      );
    }
  }
  if (only === undefined || only.includes("import")) {
    for (const client of clients.filter((c) => c === "mqtt5" || c.startsWith("mqttjs"))) {
      imports.set(client, [...(imports.get(client) ?? []), await importTime(client)]);
    }
  }
}

// --- the table -----------------------------------------------------------------------------------

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? "–"
    : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

interface Goal {
  against: "mqttjs-node" | "raw";
  op: "≥" | "≤";
  value: number;
}

interface Row {
  workload: string;
  metric: string;
  values: Partial<Record<ClientName, number>>;
  /** Each client's figure in each run (same order), for the paired ratios. */
  perRun?: Partial<Record<ClientName, number[]>>;
  digits: number;
  /** The goals of mqtt5 on Deno (issue 15's, against raw and MQTT.js on Node). */
  goal?: Goal[];
  /** The goals of mqtt5 on Node and Bun (issue 15's, against MQTT.js on Node). */
  goalOther?: Goal[];
}

const rows: Row[] = [];
const rate = (r: WorkerResult) => r.messages / r.seconds;
const cpuPer = (r: WorkerResult) => r.cpu / r.messages * 1e6;
const brokerPer = (r: WorkerResult) => r.brokerCpu / r.messages * 1e6;
/** A row's figures of workload `w`: each client's median (`values`) and each run's (`perRun`). */
function figures(w: string, f: (r: WorkerResult) => number): Pick<Row, "values" | "perRun"> {
  const values: Partial<Record<ClientName, number>> = {};
  const perRun: Partial<Record<ClientName, number[]>> = {};
  for (const c of clients) {
    const list = results.get(`${w}/${c}`)?.map(f);
    if (list === undefined) continue;
    values[c] = median(list);
    perRun[c] = list;
  }
  return { values, perRun };
}

/**
 * `a` against `b` in `row`: the median of the per-run ratios (the clients of one run ran one
 * after the other, under the same conditions), or the ratio of the medians without them.
 */
function pairedRatio(row: Row, a: ClientName, b: ClientName): number | undefined {
  const x = row.perRun?.[a];
  const y = row.perRun?.[b];
  if (x === undefined || y === undefined || x.length !== y.length || x.length === 0) {
    return ratio(row.values[a], row.values[b]);
  }
  const ratios = x.map((v, i) => ratio(v, y[i]!)).filter((r): r is number => r !== undefined);
  return ratios.length === 0 ? undefined : median(ratios);
}

for (const w of workloads) {
  if (w.kind === "throughput" && w.size <= 1024) {
    // The goals are issue 15's ("Performance at the raw path's cost"); see BENCHMARKS.md.
    rows.push({
      workload: w.title,
      metric: "msgs/s",
      ...figures(w.name, rate),
      digits: 0,
      ...(w.qos > 0 ? { goalOther: [{ against: "mqttjs-node", op: "≥", value: 1.2 }] } : {}),
    });
    rows.push({
      workload: w.title,
      metric: "CPU µs/msg",
      ...figures(w.name, cpuPer),
      digits: 2,
      goal: [{ against: "raw", op: "≤", value: 1.05 }],
      goalOther: [{ against: "mqttjs-node", op: "≤", value: 0.8 }],
    });
    rows.push({
      workload: w.title,
      metric: "broker CPU µs/msg",
      ...figures(w.name, brokerPer),
      digits: 2,
    });
    if (w.qos > 0) {
      rows.push({
        workload: w.title,
        metric: "most in flight",
        ...figures(w.name, (r) => r.maxInFlight),
        digits: 0,
      });
      rows.push({
        workload: w.title,
        metric: "0x97 refusals",
        ...figures(w.name, (r) => r.refused),
        digits: 0,
      });
    }
    if (w.qos === 0) {
      const mb = (r: WorkerResult) => r.peakRss / 2 ** 20;
      rows.push({
        workload: w.title,
        metric: "peak RSS MiB",
        ...figures(w.name, mb),
        digits: 1,
        goal: [{ against: "mqttjs-node", op: "≤", value: 0.5 }],
        goalOther: [{ against: "mqttjs-node", op: "≤", value: 0.5 }],
      });
      rows.push({
        workload: w.title,
        metric: "RSS growth MiB",
        ...figures(w.name, (r) => (r.peakRss - r.rssStart) / 2 ** 20),
        digits: 1,
      });
    }
  } else if (w.kind === "throughput") {
    rows.push({
      workload: w.title,
      metric: "MB/s",
      ...figures(w.name, (r) => r.payloadBytes / r.seconds / 1e6),
      digits: 0,
      goal: [{ against: "raw", op: "≥", value: 0.85 }],
      goalOther: [{ against: "mqttjs-node", op: "≥", value: 1.5 }],
    });
    rows.push({
      workload: w.title,
      metric: "CPU ms/MiB",
      ...figures(w.name, (r) => r.cpu / (r.payloadBytes / 2 ** 20) * 1e3),
      digits: 2,
      goal: [{ against: "raw", op: "≤", value: 1.3 }],
    });
    rows.push({
      workload: w.title,
      metric: "page faults/MiB",
      ...figures(w.name, (r) => (r.faults ?? NaN) / (r.payloadBytes / 2 ** 20)),
      digits: 0,
    });
  } else {
    rows.push({
      workload: w.title,
      metric: "p50 µs",
      ...figures(w.name, (r) => r.latency!.p50),
      digits: 0,
      goal: [{ against: "raw", op: "≤", value: 1.1 }],
    });
    rows.push({
      workload: w.title,
      metric: "p99 µs",
      ...figures(w.name, (r) => r.latency!.p99),
      digits: 0,
    });
  }
}
if (imports.size > 0) {
  rows.push({
    workload: "import",
    metric: "ms",
    values: Object.fromEntries([...imports].map(([c, v]) => [c, median(v)])),
    digits: 1,
  });
}

/** The table of one runtime's mqtt5 run, with the same run's raw and MQTT.js columns. */
function table(me: Mqtt5Client): string {
  const deno = me === "mqtt5";
  const name = `mqtt5 ${RUNTIME_OF[me]}`;
  const others: [ClientName, string][] = [
    ["raw", "raw"],
    ...(deno ? [["raw-owned", "raw, owned"]] as [ClientName, string][] : []),
    [me, name],
    ["mqttjs-node", "MQTT.js Node"],
    ...(deno ? [["mqttjs-deno", "MQTT.js Deno"]] as [ClientName, string][] : []),
  ];
  const header = [
    "workload",
    "metric",
    ...others.map(([, title]) => title),
    `${name} / MQTT.js Node`,
    `${name} / raw`,
    ...(deno ? [`${name} / raw, owned`] : []),
    "goal",
  ];
  const lines = [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => i < 2 ? "---" : "---:").join(" | ")} |`,
  ];
  for (const row of rows) {
    const v = row.values;
    if (v[me] === undefined) continue;
    const vsNode = pairedRatio(row, me, "mqttjs-node");
    const vsRaw = pairedRatio(row, me, "raw");
    const goal = ((deno ? row.goal : row.goalOther) ?? []).map((g) => {
      const r = g.against === "raw" ? vsRaw : vsNode;
      const met = r === undefined ? undefined : g.op === "≥" ? r >= g.value : r <= g.value;
      return `${g.op} ${g.value} × ${g.against === "raw" ? "raw" : "MQTT.js"}${
        met === undefined ? "" : met ? " ✅" : " ❌"
      }`;
    }).join("; ");
    const cells = [
      row.workload,
      row.metric,
      ...others.map(([c]) => fmt(v[c], row.digits)),
      fmt(vsNode, 2),
      fmt(vsRaw, 2),
      ...(deno ? [fmt(pairedRatio(row, me, "raw-owned"), 2)] : []),
      goal,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.split("\n")[0]!.trim();
  } catch {
    return "?";
  }
}
const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "?";
let mqttjsVersion = "?";
try {
  mqttjsVersion = JSON.parse(
    Deno.readTextFileSync(path("node/node_modules/mqtt/package.json")),
  ).version;
} catch {
  // Not installed (MQTT.js on Node not run).
}
console.log(
  `\nMedian of ${runs} run${runs > 1 ? "s" : ""}` +
    ` (${((Date.now() - started) / 1000).toFixed(0)} s). Machine: ${cpu}, ` +
    `${navigator.hardwareConcurrency} cores, ${
      (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
    } GiB, Linux ${Deno.osRelease()}; Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `Node ${await versionOf("node", ["--version"])}, Bun ${await versionOf("bun", [
      "--version",
    ])}, MQTT.js ${mqttjsVersion}, ` +
    `${await versionOf("mosquitto", ["-h"])} with max_queued_messages 100000; ` +
    `${pin ? "brokers pinned to CPU 0, workers to CPU 1" : "not pinned"}. Figures: medians of ` +
    `the runs; ratios: medians of the per-run ratios (each run's clients ran back to back).\n`,
);
const mine = MQTT5_CLIENTS.filter((c) => clients.includes(c));
for (const me of mine.length > 0 ? mine : ["mqtt5" as const]) {
  console.log(`mqtt5 on ${RUNTIME_OF[me]}:\n\n${table(me)}\n`);
}

const jsonPath = flags.get("json");
if (jsonPath !== undefined) {
  await Deno.writeTextFile(
    jsonPath,
    JSON.stringify(
      { runs, results: Object.fromEntries(results), imports: Object.fromEntries(imports) },
      null,
      1,
    ),
  );
}
