/**
 * The end-to-end benchmark's workload for this library, shared by its Deno worker (`mqtt5.ts`,
 * over `connectTcp`) and its Node and Bun worker (`mqtt5_node.ts`, over `connectNode`): one
 * publisher and one subscriber `Client` in this process, one workload (see
 * {@linkcode WorkerConfig}).
 *
 * The publisher honours the server's Receive Maximum: it keeps at most that many QoS 1 and 2
 * publications in flight (the client refuses more with `QuotaExceededError`), polling for their
 * acknowledgements in a loop of its own.
 *
 * It uses no `Deno` global, so that esbuild's bundle of `mqtt5_node.ts` runs on Node and Bun.
 *
 * @module
 */

import { Client, type Transport } from "../../mod.ts";
import {
  measure,
  payloadOf,
  type Probe,
  Wakeup,
  type WorkerConfig,
  type WorkerResult,
} from "./_common.ts";

/** What the runtime's entry gives {@linkcode runMqtt5}. */
export interface Mqtt5Runtime {
  /** Opens a transport to the broker on `port`. */
  connect(port: number): Promise<Transport>;
  /** Reads the process's CPU time, page faults and memory. */
  probe: Probe;
  /** Prints the error and exits the process with a failure. */
  fail(error: unknown): never;
}

/** Runs `cfg`'s workload with two clients over `rt`'s transport and measures it. */
export async function runMqtt5(cfg: WorkerConfig, rt: Mqtt5Runtime): Promise<WorkerResult> {
  const { fail } = rt;
  const payload = payloadOf(cfg.size);
  const qos = cfg.qos;
  let closing = false;

  async function connect(id: string): Promise<Client> {
    const client = new Client();
    await client.connect(await rt.connect(cfg.port), {
      clientId: id,
      username: cfg.username,
      password: cfg.password,
      keepAlive: 0,
    });
    return client;
  }

  const sub = await connect(`${cfg.clientId}-sub`);
  await sub.subscribe({ filter: cfg.topic, qos });
  if ((await sub.poll()).type !== "subscribed") fail(new Error("no SUBACK"));
  const pub = await connect(`${cfg.clientId}-pub`);
  const receiveMaximum = pub.limits.receiveMaximum;

  // The subscriber's loop: counts messages and wakes the runner when the expected number is in.
  let expected = 0;
  let received = 0;
  let payloadBytes = 0;
  let lastAt = 0;
  const allReceived = new Wakeup();
  const subLoop = (async () => {
    for (;;) {
      const event = await sub.poll();
      if (event.type !== "message") continue;
      received++;
      payloadBytes += event.payload.length;
      if (received === expected) {
        lastAt = performance.now();
        allReceived.wake();
      }
    }
  })().catch((e) => closing || fail(e));

  // The publisher's loop: acknowledgements free room in the window.
  let inFlight = 0;
  let maxInFlight = 0;
  const acked = new Wakeup();
  const pubLoop = qos === 0 ? Promise.resolve() : (async () => {
    for (;;) {
      const event = await pub.poll();
      if (event.type === "acknowledged" || event.type === "completed") {
        inFlight--;
        acked.wake();
      } else if (event.type === "rejected") {
        fail(new Error(`publication refused: 0x${event.reasonCode.toString(16)}`));
      }
    }
  })().catch((e) => closing || fail(e));

  const limit = Math.min(cfg.window, receiveMaximum);

  /** Publishes `n` messages as fast as the window allows and waits until all are received. */
  async function throughput(n: number): Promise<number> {
    expected += n;
    const done = allReceived.wait();
    const t0 = performance.now();
    if (qos === 0) {
      for (let i = 0; i < n;) {
        // One turn's publications go out in one write; awaiting the last one awaits that write.
        const end = Math.min(n, i + cfg.window);
        let last: Promise<unknown> = Promise.resolve();
        for (; i < end; i++) last = pub.publish({ topic: cfg.topic, qos: 0 }, payload);
        await last;
      }
    } else {
      let sent = 0;
      while (sent < n) {
        while (inFlight < limit && sent < n) {
          pub.publish({ topic: cfg.topic, qos }, payload);
          inFlight++;
          sent++;
        }
        if (inFlight > maxInFlight) maxInFlight = inFlight;
        await acked.wait();
      }
    }
    await done;
    while (inFlight > 0) await acked.wait();
    return lastAt - t0;
  }

  /** Sends `n` messages one at a time; returns each one's time from publish to receipt (ms). */
  async function latency(n: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      expected++;
      const done = allReceived.wait();
      const t0 = performance.now();
      if (qos > 0) inFlight++;
      pub.publish({ topic: cfg.topic, qos }, payload);
      await done;
      times.push(lastAt - t0);
      while (inFlight > 0) await acked.wait();
    }
    maxInFlight = qos > 0 ? 1 : 0;
    return times;
  }

  const result = await measure(cfg, {
    throughput,
    latency,
    payloadBytes: () => payloadBytes,
    maxInFlight: () => maxInFlight,
    receiveMaximum: () => receiveMaximum,
  }, rt.probe);
  if (received !== expected) fail(new Error(`received ${received} of ${expected}`));

  closing = true;
  await pub.disconnect();
  await sub.disconnect();
  await Promise.all([subLoop, pubLoop]);
  return result;
}
