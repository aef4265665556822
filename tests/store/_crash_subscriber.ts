// The subscriber of the crash test (tests/store/crash_test.ts), run as its own process and killed
// with SIGKILL at random moments. The documented pattern for processing each message once: the
// run loop (supervise) with a FileSessionStore and manual acknowledgement; each message's identity
// (the publisher's number, its payload) is appended to an output file and synced before the
// message is acknowledged, and a restarted process skips (acknowledges without processing) the
// identities already in the file. A message killed before its acknowledgement comes again (the
// broker keeps it in the session); one acknowledged is in the file already.
//
//   deno run --allow-net=127.0.0.1 --allow-read=DIR --allow-write=DIR _crash_subscriber.ts CONFIG
//
// CONFIG is a SubscriberConfig as JSON. Prints `ready` once subscribed, `skip <id>` for a message
// already in the file, and `done` when it stopped by itself (`total` identities in the file).

import { FileSessionStore, loadSession } from "../../src/store/mod.ts";
import { supervise } from "../../src/supervisor/mod.ts";

/** The subscriber's settings, given as JSON in its one argument. */
export interface SubscriberConfig {
  /** The broker's URL with its login. */
  url: string;
  /** The folder of the store (`session`) and of the output (`out`, one identity a line). */
  dir: string;
  topic: string;
  qos: 1 | 2;
  /**
   * Stop once the output holds this many identities, or after 5 s without a message (the test
   * then finds what is missing); `null` to run until killed.
   */
  total: number | null;
}

const { url, dir, topic, qos, total } = JSON.parse(Deno.args[0]!) as SubscriberConfig;
const out = `${dir}/out`;

// What was processed before: every complete line. A line cut short by the kill (none is
// expected: each is one write) belongs to a message not acknowledged, which comes again.
const seen = new Set<string>();
let text = "";
try {
  text = await Deno.readTextFile(out);
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}
const complete = text.lastIndexOf("\n") + 1;
if (complete < text.length) await Deno.truncate(out, complete);
for (const line of text.slice(0, complete).split("\n")) if (line !== "") seen.add(line);

using file = await Deno.open(out, { append: true, create: true });
await using store = await FileSessionStore.open(`${dir}/session`);
const { session } = await loadSession(store);
await using mqtt = supervise({
  url,
  clientId: session.state.clientId || `crash-subscriber-${qos}`,
  session,
  store,
  cleanStart: false,
  sessionExpiryInterval: 0xffffffff,
  manualAck: true,
  reconnect: false,
});
const messages = await mqtt.subscribe(topic, { qos });
console.log("ready");
const encoder = new TextEncoder();
/** Stops the last run when no message came for 5 s: what is missing then will not come. */
let idle: ReturnType<typeof setTimeout> | undefined;
const quiet = () => {
  clearTimeout(idle);
  if (total !== null) idle = setTimeout(() => mqtt.stop(), 5000);
};
quiet();
if (total === null || seen.size < total) {
  for await (const message of messages) {
    quiet();
    const id = message.text();
    if (seen.has(id)) {
      console.log(`skip ${id}`); // processed by a killed life, which did not acknowledge it
    } else {
      await file.write(encoder.encode(`${id}\n`));
      await file.syncData(); // processed, durably, before the acknowledgement
      seen.add(id);
    }
    await message.ack();
    if (seen.size === total) break;
  }
}
clearTimeout(idle);
console.log("done");
