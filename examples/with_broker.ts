/**
 * Starts a local Mosquitto from the repository's configuration (`examples/mosquitto.conf`, user
 * `mqtt5`, password `mqtt5-secret`) on a free loopback port, runs an example against it, and stops
 * the broker.
 *
 * `deno run -P=demo examples/with_broker.ts [demo | request_response | session_recovery | manual_ack |
 * keepalive_loop | engine | v311 | sensor | rpc]` (`deno task demo` runs the demo).
 *
 * @module
 */

import { startMosquitto } from "../tests/_util/mosquitto.ts";
import { configureLogging } from "./_log.ts";
import { demo } from "./demo.ts";
import { engineExample } from "./engine.ts";
import { keepaliveLoop } from "./keepalive_loop.ts";
import { manualAck } from "./manual_ack.ts";
import { requestResponse } from "./request_response.ts";
import { rpc } from "./rpc.ts";
import { sensor } from "./sensor.ts";
import { sessionRecovery } from "./session_recovery.ts";
import { v311 } from "./v311.ts";

/** The broker's address and login, as the examples take them. */
interface Server {
  hostname: string;
  port: number;
  username: string;
  password: string;
}

/** The broker as a URL with its login, for the examples on the supervisor. */
function url(server: Server): string {
  const href = new URL(`mqtt://${server.hostname}:${server.port}`);
  href.username = server.username; // percent-encoded by URL
  href.password = server.password;
  return href.href;
}

const examples = {
  demo,
  request_response: requestResponse,
  session_recovery: sessionRecovery,
  manual_ack: manualAck,
  keepalive_loop: keepaliveLoop,
  engine: engineExample,
  v311,
  sensor: (s: Server) => sensor({ url: url(s), count: 5, interval: 200 }),
  rpc: (s: Server) => rpc({ url: url(s) }),
} as const;
const name = (Deno.args[0] ?? "demo") as keyof typeof examples;
const run = examples[name];
if (run === undefined) {
  console.error(`Unknown example ${name}; pick one of: ${Object.keys(examples).join(", ")}`);
  Deno.exit(2);
}
// `MQTT5_LOG=debug deno task demo` shows what the client does (trace: every packet).
await configureLogging();
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
