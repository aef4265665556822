/**
 * The end-to-end benchmark's MQTT.js worker under Deno: the same workloads as on Node
 * (`../node/mqttjs_driver.mjs`), with `npm:mqtt` from the import map.
 *
 * @module
 */

import mqtt from "mqtt";
import { cpuFromStat, faultsFromStat, memoryFromStatus, run } from "../node/mqttjs_driver.mjs";
import { readConfig } from "./_common.ts";

const probe = {
  cpu: () => cpuFromStat(Deno.readTextFileSync("/proc/self/stat")),
  faults: () => faultsFromStat(Deno.readTextFileSync("/proc/self/stat")),
  cpuOf: (pid: number) => cpuFromStat(Deno.readTextFileSync(`/proc/${pid}/stat`)),
  memory: (name: string) => memoryFromStatus(Deno.readTextFileSync("/proc/self/status"), name),
};

const result = await run(mqtt, readConfig(), probe);
console.log(JSON.stringify(result));
Deno.exit(0);
