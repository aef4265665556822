// The end-to-end benchmark's MQTT.js worker on Node (the baseline): `node mqttjs.mjs '<config>'`
// runs one workload (see `mqttjs_driver.mjs`) and prints one line of JSON.

import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { cpuFromStat, faultsFromStat, memoryFromStatus, run } from "./mqttjs_driver.mjs";

const probe = {
  cpu() {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  },
  faults: () => faultsFromStat(readFileSync("/proc/self/stat", "utf8")),
  cpuOf: (pid) => cpuFromStat(readFileSync(`/proc/${pid}/stat`, "utf8")),
  memory: (name) => memoryFromStatus(readFileSync("/proc/self/status", "utf8"), name),
};

const result = await run(mqtt, JSON.parse(process.argv[2]), probe);
console.log(JSON.stringify(result));
