/**
 * The end-to-end benchmark's worker for this library on Node and Bun: two `Client`s over
 * `connectNode`, one workload (`_mqtt5_workload.ts`), one line of JSON out. `bench/e2e.ts`
 * bundles it with esbuild into one `.mjs` (as `tests/runtimes/` and `bench:ws` do) and runs that
 * with `node` or `bun`. It reads its figures as MQTT.js's Node worker does: `process.cpuUsage()`
 * for its CPU time, `/proc/self/stat` and `/proc/self/status` for page faults and memory.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import process from "node:process";
import { connectNode } from "../../src/transport/node.ts";
import type { Probe, WorkerConfig } from "./_common.ts";
import { runMqtt5 } from "./_mqtt5_workload.ts";

/** The fields of `/proc/<pid>/stat` after the command name (which may hold spaces). */
function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

const probe: Probe = {
  cpuSeconds() {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  },
  minorFaults: () => Number(statFields("self")[7]),
  memoryField(name) {
    const status = readFileSync("/proc/self/status", "utf8");
    const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) * 1024 : 0;
  },
  brokerCpuSeconds(pid) {
    if (pid <= 0) return 0;
    const fields = statFields(pid);
    return (Number(fields[11]) + Number(fields[12])) / 100;
  },
};

const cfg = JSON.parse(process.argv[2] ?? "") as WorkerConfig;
const result = await runMqtt5(cfg, {
  connect: (port) => connectNode({ port, direct: cfg.direct ?? false }),
  probe,
  fail(error) {
    console.error(error);
    process.exit(1);
  },
});
console.log(JSON.stringify(result));
