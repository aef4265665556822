/**
 * What the client's logging costs: `deno bench bench/client_bench.ts`.
 *
 * - guard: one `logger.isEnabledFor("trace")` with LogTape unconfigured, against a plain boolean
 *   check (the cost a hot path pays per check when logging is off);
 * - publish QoS 0 / QoS 1: a connected {@linkcode Client} over an in-memory transport whose
 *   server side answers CONNECT with CONNACK and each QoS 1 PUBLISH with PUBACK; QoS 1 is
 *   `publish()` then `poll()` for the `acknowledged` event. Each runs with logging off, then again
 *   with LogTape configured at `trace` into a sink that drops the records (the cost of formatting
 *   every packet).
 *
 * With logging off, a QoS 0 publication makes one check (when its PUBLISH is queued), a QoS 1
 * round trip four (the flight, the PUBLISH, the read, the PUBACK received). For an A/B against a
 * client without any logging call, run `deno bench --filter "logging off"` with this file copied
 * into a worktree of the commit before logging was added (66a9df7): it runs there unchanged.
 *
 * @module
 */

import { configure, getLogger, reset } from "@logtape/logtape";
import { Client } from "../src/client/mod.ts";
import { frame } from "../src/codec/mod.ts";
import type { Transport } from "../src/transport/mod.ts";

/** An in-memory server: CONNACK for CONNECT, PUBACK for each QoS 1 PUBLISH, nothing else. */
function memoryTransport(): Transport {
  let controller!: ReadableByteStreamController;
  const readable = new ReadableStream({
    type: "bytes",
    start(c) {
      controller = c;
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      for (let o = 0; o < chunk.length;) {
        const f = frame(chunk, undefined, o);
        if (!f.complete) throw new Error("the client wrote a partial packet");
        const first = chunk[o]!;
        if (first === 0x10) {
          controller.enqueue(new Uint8Array([0x20, 0x03, 0x00, 0x00, 0x00]));
        } else if (first >> 4 === 3 && ((first >> 1) & 3) === 1) {
          const h = o + f.headerLength;
          const at = h + 2 + ((chunk[h]! << 8) | chunk[h + 1]!);
          controller.enqueue(new Uint8Array([0x40, 0x02, chunk[at]!, chunk[at + 1]!]));
        }
        o += f.length;
      }
    },
  });
  return {
    readable,
    writable,
    close() {
      try {
        controller.close();
      } catch {
        // Closed already.
      }
    },
  };
}

const client = new Client({ logger: getLogger(["mqtt5"]) });
await client.connect(memoryTransport(), { clientId: "bench", keepAlive: 0 });
const payload = new TextEncoder().encode("21.5 degrees Celsius, humidity 40 %");
const topic = "sensors/0001/temperature";

const log = getLogger(["mqtt5", "client"]);
const flag = Math.random() < 0; // false, but not a constant the compiler sees
let hits = 0;

Deno.bench({
  name: "plain boolean check",
  group: "guard",
  baseline: true,
  fn() {
    if (flag) hits++;
  },
});

Deno.bench({
  name: 'isEnabledFor("trace"), LogTape unconfigured',
  group: "guard",
  fn() {
    if (log.isEnabledFor("trace")) hits++;
  },
});

/**
 * Deno runs the benches group by group, so each bench sets the state it needs: LogTape off
 * (reset), or on at trace into a sink that drops every record. The switch is outside the timing.
 */
let traceOn = false;
async function logging(on: boolean): Promise<void> {
  if (on === traceOn) return;
  traceOn = on;
  if (!on) return await reset();
  await configure({
    sinks: { drop: () => {} },
    loggers: [
      { category: ["mqtt5"], lowestLevel: "trace", sinks: ["drop"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
}

Deno.bench({
  name: "publish QoS 0, logging off",
  group: "publish QoS 0",
  baseline: true,
  async fn(b) {
    await logging(false);
    b.start();
    await client.publish({ topic, qos: 0 }, payload);
    b.end();
  },
});

Deno.bench({
  name: "publish QoS 1 + poll PUBACK, logging off",
  group: "publish QoS 1",
  baseline: true,
  async fn(b) {
    await logging(false);
    b.start();
    await client.publish({ topic, qos: 1 }, payload);
    await client.poll();
    b.end();
  },
});

Deno.bench({
  name: "publish QoS 0, trace on (dropped)",
  group: "publish QoS 0",
  async fn(b) {
    await logging(true);
    b.start();
    await client.publish({ topic, qos: 0 }, payload);
    b.end();
  },
});

Deno.bench({
  name: "publish QoS 1 + poll PUBACK, trace on (dropped)",
  group: "publish QoS 1",
  async fn(b) {
    await logging(true);
    b.start();
    await client.publish({ topic, qos: 1 }, payload);
    await client.poll();
    b.end();
  },
});
