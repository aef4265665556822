// The publisher of the crash test (tests/store/crash_test.ts), run as its own process and killed
// with SIGKILL at random moments. It publishes the numbers 0, 1, 2, ... as payloads on one topic
// through an explicit Client with a FileSessionStore, and resumes from the store on each start.
//
//   deno run --allow-net=127.0.0.1 --allow-read=DIR --allow-write=DIR _crash_publisher.ts CONFIG
//
// CONFIG is a PublisherConfig as JSON.
//
// What it prints (one line each, written synchronously, so a line printed before the kill is in
// the pipe): `connected <resent>` once connected with the stored session resent, `ok <a> <b>`
// once every publish() of the numbers a to b - 1 returned, and `done` at the end of the last run.
//
// The numbering: DIR/next holds the next number to publish. It is written (and synced) before the
// publish() calls of the numbers below it, which are made in one synchronous step, so the client
// saves them in one store save before their PUBLISHes are written. A restart continues from it.
//
// What "nothing lost" means. A number whose publish() returned is in the store (the client saves
// before it writes), so it reaches the subscriber whatever the moment of the kill: at QoS 2
// exactly once, at QoS 1 at least once. A number whose publish() had not returned when the kill
// came is in one of two states: its store save completed (then it is resent on restart and
// arrives like the others), or it did not (then not a byte of it was written: the kill came
// before the client handed it over, the same as a kill just before the call). The second case is
// the application's window, not a loss: the application never saw the call return, and this
// program does not publish such a number again, since it cannot tell it from one that was saved,
// delivered and completed (publishing it again would be a second message). The test therefore
// counts as lost only numbers whose `ok` it saw, and reports the unconfirmed ones that never
// arrived separately; any number arriving twice at QoS 2 is a failure, confirmed or not.

import { Client, connectTcp } from "../../mod.ts";
import { FileSessionStore, loadSession } from "../../src/store/mod.ts";

/** The publisher's settings, given as JSON in its one argument. */
export interface PublisherConfig {
  /** The broker's port on 127.0.0.1, and its login. */
  port: number;
  username: string;
  password: string;
  /** The folder of the store (`session`) and of the next number (`next`). */
  dir: string;
  topic: string;
  qos: 1 | 2;
  /**
   * The number to stop at (the last run: publish up to it, wait until every flight is complete,
   * publish "end", exit); `null` to publish until killed.
   */
  until: number | null;
}

const { port, username, password, dir, topic, qos, ...config } = JSON.parse(
  Deno.args[0]!,
) as PublisherConfig;
const until = config.until ?? Infinity;
const nextFile = `${dir}/next`;

async function readNext(): Promise<number> {
  try {
    return Number(await Deno.readTextFile(nextFile));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Replaces DIR/next with `n`, durably: written to a temporary file, synced, renamed. */
async function writeNext(n: number): Promise<void> {
  using file = await Deno.open(`${nextFile}.tmp`, { write: true, create: true, truncate: true });
  await file.write(new TextEncoder().encode(String(n)));
  await file.sync();
  await Deno.rename(`${nextFile}.tmp`, nextFile);
}

await using store = await FileSessionStore.open(`${dir}/session`);
const { session } = await loadSession(store);
let next = await readNext();
const client = new Client({ session, store });
const result = await client.connect(await connectTcp({ port }), {
  clientId: session.state.clientId || `crash-publisher-${qos}`,
  cleanStart: false,
  sessionExpiryInterval: 0xffffffff,
  username,
  password,
});
if (!result.sessionPresent && session.state.outgoing.length > 0) {
  // The broker runs throughout: it never loses this session.
  console.error("the broker lost the publisher's session");
  Deno.exit(3);
}
const resent = result.sessionPresent ? await client.resend() : [];
console.log(`connected ${resent.length}`);

/** Wakes the publishing loop when a flight ends. */
let wake: (() => void) | undefined;
let finished = false;
const reading = (async () => {
  for (;;) {
    const event = await client.poll();
    if (event.type === "rejected") throw new Error(`rejected: ${JSON.stringify(event)}`);
    if (event.type === "acknowledged" || event.type === "completed") wake?.();
  }
})();
reading.catch((e) => {
  if (finished) return;
  console.error(`reading failed: ${e}`);
  Deno.exit(4);
});

function flightEnded(): Promise<void> {
  return new Promise((resolve) => wake = resolve);
}

while (next < until) {
  while (client.sendQuota === 0) await flightEnded();
  const end = Math.min(next + client.sendQuota, until);
  await writeNext(end);
  const written: Promise<unknown>[] = [];
  for (let n = next; n < end; n++) written.push(client.publish({ topic, qos }, String(n)));
  await Promise.all(written);
  console.log(`ok ${next} ${end}`);
  next = end;
}
// The last run: wait for every flight, then a last message, which Mosquitto passes on after all
// the others (one publisher, one topic, one QoS: in order).
while (client.session.state.outgoing.length > 0) await flightEnded();
await client.publish({ topic, qos }, "end");
while (client.session.state.outgoing.length > 0) await flightEnded();
finished = true;
await client.disconnect();
await reading.catch(() => {});
console.log("done");
