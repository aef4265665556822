/**
 * The end-to-end benchmark's worker for this library on Deno: two `Client`s over `connectTcp`
 * (`direct: true` when the config asks), one workload (`_mqtt5_workload.ts`), one line of JSON
 * out.
 *
 * @module
 */

import { connectTcp } from "../../mod.ts";
import { denoProbe, readConfig } from "./_common.ts";
import { runMqtt5 } from "./_mqtt5_workload.ts";

const cfg = readConfig();
const result = await runMqtt5(cfg, {
  connect: (port) => connectTcp({ port, direct: cfg.direct ?? false }),
  probe: denoProbe,
  fail(error) {
    console.error(error);
    Deno.exit(1);
  },
});
console.log(JSON.stringify(result));
