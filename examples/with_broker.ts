/**
 * Starts a local Mosquitto from the repository's configuration (`examples/mosquitto.conf`, user
 * `mqtt5`, password `mqtt5-secret`) on a free loopback port, runs an example against it, and stops
 * the broker.
 *
 * `deno run -P=demo examples/with_broker.ts [demo | request_response]` (that is `deno task demo`).
 *
 * @module
 */

import { startMosquitto } from "../tests/_util/mosquitto.ts";
import { demo } from "./demo.ts";
import { requestResponse } from "./request_response.ts";

const examples = { demo, request_response: requestResponse } as const;
const name = (Deno.args[0] ?? "demo") as keyof typeof examples;
const run = examples[name];
if (run === undefined) {
  console.error(`Unknown example ${name}; pick one of: ${Object.keys(examples).join(", ")}`);
  Deno.exit(2);
}
const config = (await Deno.readTextFile(new URL("./mosquitto.conf", import.meta.url)))
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));
await using broker = await startMosquitto({ config });
console.log(
  `Mosquitto runs on ${broker.hostname}:${broker.port} (user ${broker.username}); running ${name}`,
);
await run({
  hostname: broker.hostname,
  port: broker.port,
  username: broker.username,
  password: broker.password,
});
