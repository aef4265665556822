/**
 * A worker on the run loop (`@scope/mqtt5/supervisor`): it takes jobs at QoS 2 in manual-ack mode
 * and appends each to a file before acknowledging it, so that each job is in the file exactly once,
 * also when the connection drops between the append and the acknowledgement: the broker sends the
 * job again and the supervisor answers it without handing it out twice. With `cleanStart: false`
 * a restarted worker also gets the jobs queued for it while it was away.
 *
 * `deno run --allow-net --allow-write examples/worker.ts [host] [port] [user] [password] [file]`
 *
 * @module
 */

import { supervise } from "../src/supervisor/mod.ts";

/** Where the worker takes its jobs from and where it writes them. */
export interface WorkerOptions {
  /** The broker: `mqtt://user:password@host:port`. */
  url: string;
  /** The file each job is appended to, one line each. */
  file: string;
  /** The client identifier, which names the session. @default {"worker-1"} */
  clientId?: string;
  /** The topic filter of the jobs. @default {"jobs/#"} */
  filter?: string;
  /** How many jobs to take before stopping. @default {Infinity} */
  count?: number;
  /** Where the worker writes its lines. @default {console.log} */
  log?: (line: string) => void;
}

/** Takes `count` jobs, appending each to `file` before acknowledging it, then stops. */
export async function worker({
  url,
  file,
  clientId = "worker-1",
  filter = "jobs/#",
  count = Infinity,
  log = console.log,
}: WorkerOptions): Promise<void> {
  await using mqtt = supervise({
    url,
    clientId,
    cleanStart: false, // resume the session: jobs queued while the worker was away come too
    sessionExpiryInterval: 3600,
    manualAck: true,
  });
  const jobs = await mqtt.subscribe(filter, { qos: 2 });
  let done = 0;
  for await (const job of jobs) {
    await Deno.writeTextFile(file, job.text() + "\n", { append: true });
    log(`appended ${job.text()}`);
    await job.ack(); // PUBREC only now: a job not yet appended comes again
    if (++done === count) break;
  }
}

if (import.meta.main) {
  const [host = "127.0.0.1", port = "1883", user = "", password = "", file = "jobs.txt"] =
    Deno.args;
  const auth = user === "" ? "" : `${encodeURIComponent(user)}:${encodeURIComponent(password)}@`;
  await worker({ url: `mqtt://${auth}${host}:${port}`, file });
}
