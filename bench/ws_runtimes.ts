/**
 * WebSocket against TCP, on Deno, Node and Bun: `deno task bench:ws`. One Mosquitto (a TCP and a
 * websockets listener, Receive Maximum 20 by default) and, for each runtime, QoS 1 publisher
 * throughput (10,000 × 64 B PUBLISH to PUBACK, no subscriber, the server's Receive Maximum in
 * flight) over the runtime's TCP transport and over `connectWebSocket` straight to Mosquitto's
 * websockets listener. Rounds alternate (each round runs every runtime once, the transports in
 * an order that rotates); it prints the medians and the WS/TCP ratio per runtime.
 *
 * `bench/ws/_worker.ts` does the measuring: esbuild bundles it (as `tests/runtimes/` does) into
 * one `.mjs` under `.broker/`, and each round starts it once per runtime.
 *
 * Options: `--runs=N` (rounds, default 5), `--count=N` (default 10,000), `--runtimes=deno,node`,
 * `--raw` (also the ceilings: pre-encoded packets on `node:net` and on the runtime's WebSocket),
 * `--bridge` (also `connectWebSocket` through `tests/_util/ws_bridge.ts`, a Deno WebSocket-to-TCP
 * bridge in this process), `--inflight=N` (Mosquitto's `max_inflight_messages`, announced as the
 * Receive Maximum), `--unsplit` (also `connectWebSocket` with `maxFrameSize: 1e9`: one frame per
 * write, as before frames were capped at 1024 bytes on Deno), `--json=FILE` (every result).
 *
 * @module
 */

import { startMosquitto } from "../tests/_util/mosquitto.ts";
import { bundleForNode } from "../tests/browser/_bundle.ts";
import { startWsBridge } from "../tests/_util/ws_bridge.ts";
import type { Job, JobResult, WorkerConfig, WorkerReport } from "./ws/_worker.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const BROKER_ROOT = `${ROOT}.broker`;

const flags = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=", 2);
    return [k!, v ?? "true"] as const;
  }),
);
const runs = Number(flags.get("runs") ?? 5);
const count = Number(flags.get("count") ?? 10_000);
const runtimes = (flags.get("runtimes") ?? "deno,node,bun").split(",") as Runtime[];
const inflight = flags.has("inflight") ? Number(flags.get("inflight")) : undefined;

type Runtime = WorkerReport["runtime"];

/** How to start each runtime on the bundled worker. */
function command(runtime: Runtime, script: string): { command: string; args: string[] } {
  switch (runtime) {
    case "deno":
      return {
        command: Deno.execPath(),
        // Reading another process's /proc/<pid>/stat (Mosquitto's CPU time) takes --allow-all.
        args: ["run", "--no-config", "--no-lock", "--allow-all", script],
      };
    case "node":
      // Node 20 has its WebSocket (undici's) behind a flag; 22 has it by default.
      return { command: "node", args: ["--experimental-websocket", script] };
    case "bun":
      return { command: "bun", args: [script] };
  }
}

async function bundle(dir: string): Promise<string> {
  await bundleForNode({ worker: "bench/ws/_worker.ts" }, dir);
  return `${dir}/worker.mjs`;
}

async function runWorker(runtime: Runtime, script: string, cfg: WorkerConfig) {
  const { command: cmd, args } = command(runtime, script);
  const output = await new Deno.Command(cmd, {
    args: [...args, JSON.stringify(cfg)],
    stdin: "null",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  try {
    return JSON.parse(stdout.split("\n").at(-1)!) as WorkerReport;
  } catch {
    throw new Error(
      `${runtime} printed no report (exit ${output.code}):\n` +
        `${new TextDecoder().decode(output.stderr)}\n${stdout}`,
    );
  }
}

/** The pid of the Mosquitto whose config file is in `dir`, found in /proc (0: not found). */
function brokerPid(dir: string): number {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(`${dir}/mosquitto.conf`)) {
        return Number(entry.name);
      }
    } catch {
      // The process is gone.
    }
  }
  return 0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

await Deno.mkdir(BROKER_ROOT, { recursive: true });
const dir = await Deno.makeTempDir({ dir: BROKER_ROOT, prefix: "ws-bench-" });
await using _dir = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
const script = await bundle(dir);
await using broker = await startMosquitto({
  websockets: true,
  config: inflight === undefined ? [] : [`max_inflight_messages ${inflight}`],
});
await using bridge = flags.has("bridge")
  ? await startWsBridge({ target: { hostname: broker.hostname, port: broker.port } })
  : undefined;
const wsUrl = `ws://127.0.0.1:${broker.websocketsPort}/mqtt`;

const jobs: Job[] = [
  { mode: "tcp", label: "tcp" },
  { mode: "ws", label: "ws", url: wsUrl },
];
if (flags.has("unsplit")) {
  jobs.push({ mode: "ws", label: "ws-unsplit", url: wsUrl, maxFrameSize: 1e9 });
}
if (bridge !== undefined) jobs.push({ mode: "ws", label: "bridge", url: bridge.url });
if (flags.has("raw")) {
  jobs.push({ mode: "raw-tcp", label: "raw-tcp" }, { mode: "raw-ws", label: "raw-ws", url: wsUrl });
}

const pid = brokerPid(broker.dir);
const id = `wsb-${crypto.randomUUID().slice(0, 8)}`;
const all: Record<string, Record<string, JobResult[]>> = {};
const versions: Record<string, string> = {};
for (let round = 0; round < runs; round++) {
  // The transports' order rotates from round to round, so that none always runs first.
  const order = jobs.map((_, i) => jobs[(i + round) % jobs.length]!);
  for (const runtime of runtimes) {
    const report = await runWorker(runtime, script, {
      id: `${id}-${runtime}-${round}`,
      port: broker.port,
      username: broker.username,
      password: broker.password,
      count,
      warmup: Math.min(1_000, count),
      size: 64,
      brokerPid: pid,
      jobs: order,
    });
    versions[runtime] = report.version;
    for (const result of report.results) {
      ((all[runtime] ??= {})[result.label] ??= []).push(result);
    }
    console.error(
      `round ${round + 1}/${runs} ${runtime}: ` +
        report.results.map((r) => `${r.label} ${r.rate}`).join(", "),
    );
  }
}

if (flags.has("json")) await Deno.writeTextFile(flags.get("json")!, JSON.stringify(all, null, 2));

const window = all[runtimes[0]!]?.tcp?.[0]?.window;
console.log(
  `\nQoS 1 publisher throughput, ${count.toLocaleString("en")} × 64 B PUBLISH -> PUBACK, ` +
    `Receive Maximum ${window}, Mosquitto 2.0.11 TCP vs websockets listener; median of ${runs} ` +
    "alternating rounds (msgs/s)\n",
);
const labels = jobs.map((j) => j.label);
console.log(`| runtime | ${labels.join(" | ")} | ws/tcp |`);
console.log(`| --- | ${labels.map(() => "---:").join(" | ")} | ---: |`);
for (const runtime of runtimes) {
  const rates = labels.map((l) => median(all[runtime]![l]!.map((r) => r.rate)));
  const ratio = rates[1]! / rates[0]!;
  console.log(
    `| ${runtime} ${versions[runtime]} | ${
      rates.map((r) => Math.round(r).toLocaleString("en")).join(" | ")
    } | ${ratio.toFixed(2)} |`,
  );
}
console.log(
  "\nPer message (medians): client CPU µs, Mosquitto CPU µs (10 ms ticks); WebSocket frames " +
    "sent / received; timers",
);
for (const runtime of runtimes) {
  const parts = labels.map((l) => {
    const rs = all[runtime]![l]!;
    const m = (f: (r: JobResult) => number | undefined) => median(rs.map((r) => f(r) ?? NaN));
    const ws = rs[0]!.framesSentPerMessage === undefined
      ? ""
      : ` frames ${m((r) => r.framesSentPerMessage)}/${m((r) => r.framesReceivedPerMessage)}`;
    return `${l}: cpu ${m((r) => r.cpuUsPerMessage)} broker ${
      m((r) => r.brokerCpuUsPerMessage)
    }${ws} timers ${m((r) => r.timersPerMessage)}`;
  });
  console.log(`  ${runtime}: ${parts.join("; ")}`);
}
