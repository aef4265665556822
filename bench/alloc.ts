/**
 * What the client allocates and spends per message, against an in-memory server:
 *
 * `deno run --v8-flags=--expose-gc,--min-semi-space-size=128,--max-semi-space-size=128 bench/alloc.ts`
 * (add `--n=20000 --only=pub1,sub1` to choose; `--direct` gives the client's transport a
 * {@linkcode Transport.direct}, so it reads and writes through it instead of the streams).
 *
 * Each workload runs a {@linkcode Client} (the default BYOB read path, writes through the stream's
 * writer) and then a raw driver doing the same exchange with pre-encoded packets through the same
 * streams (a BYOB read into a reused buffer, framing in place; the writes are whole pre-encoded
 * batches), so "client − raw" is what the library adds on top of the stream machinery:
 *
 * - `pub0`: 1,000 QoS 0 publications per turn, then awaiting the last one (as `bench:e2e` does);
 * - `pub1`, `pub2`: QoS 1 / QoS 2 publications, at most 20 in flight (Mosquitto's Receive
 *   Maximum), the acknowledgements polled; the server answers each batch in one read;
 * - `sub0`, `sub1`, `sub2`: the server sends 64 B PUBLISHes at QoS 0 / 1 / 2 (QoS 1 and 2 with at
 *   most 20 unacknowledged, as Mosquitto does), the client polls them (answering PUBACK, or
 *   PUBREC and, on PUBREL, PUBCOMP);
 * - `engine-*`: the engine alone (no streams, no promises), over an output that encodes into a
 *   reused buffer, handed decoded packets; `codec-*`: one encode or `frame` + `decodeBody`.
 *
 * Allocation is the V8 heap's growth over the run with the young generation made large enough that
 * no garbage collection runs in it (`--min-semi-space-size=128`; a run that saw the heap shrink says
 * so; `--trace-gc` shows no scavenge in a run of 20,000), per message: exact to the byte, and repeatable from run to run. Backing
 * stores of `ArrayBuffer`s are outside the heap: they show as `external` (the growth of
 * `Deno.memoryUsage().external`), which counts the bytes, not the allocations. Time is wall time per
 * message on this in-memory path (no system calls): a same-run comparison only.
 *
 * The server allocates nothing per message in either driver: it answers into the reader's BYOB
 * request from a reused buffer (`respond()`), and reads what is written by scanning it in place.
 *
 * @module
 */

import { Client } from "../src/client/mod.ts";
import {
  decodeBody,
  encode,
  encodeIntoIfFits,
  type EncodeOptions,
  frame,
  type Packet,
  PacketType,
  type Publish,
} from "../src/codec/mod.ts";
import { Engine, type Output } from "../src/session/mod.ts";
import type { Transport } from "../src/transport/mod.ts";

const args = new Map(
  Deno.args.filter((a) => a.startsWith("--")).map((a) => {
    const [k, v] = a.slice(2).split("=");
    return [k!, v ?? "true"] as const;
  }),
);
const N = Number(args.get("n") ?? 20_000);
const only = args.get("only")?.split(",");
const TOPIC = "bench/alloc/topic";
const PAYLOAD = new Uint8Array(64).map((_, i) => i);
const WINDOW = 20;
const DIRECT = args.has("direct");

// -- the in-memory server ------------------------------------------------------------------------

/** A server speaking just enough MQTT for one workload; it allocates nothing per message. */
class Server {
  /** Bytes owed to the client, answered into its next BYOB read. */
  #out = new Uint8Array(1 << 20);
  #outStart = 0;
  #outEnd = 0;
  #controller!: ReadableByteStreamController;
  /** QoS of the PUBLISHes the server sends (`sub*`), and how many it has left to send. */
  sendQoS = 0;
  toSend = 0;
  unacked = 0;
  #nextId = 1;
  #template: Uint8Array;
  #idAt: number;
  /** PUBLISHes received from the client. */
  received = 0;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;

  /** Whether the client reads and writes through `direct` (the streams then stay unused). */
  readonly direct: boolean;

  constructor(qos: 0 | 1 | 2, direct = false) {
    this.sendQoS = qos;
    this.direct = direct;
    const publish: Publish = { type: PacketType.Publish, topic: TOPIC, payload: PAYLOAD, qos };
    if (qos > 0) publish.packetId = 1;
    this.#template = encode(publish);
    this.#idAt = 2 + 2 + TOPIC.length;
    this.readable = new ReadableStream({
      type: "bytes",
      start: (c) => {
        this.#controller = c;
      },
      pull: () => this.#deliver(),
    });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        this.#scan(chunk);
        this.#deliver();
      },
    });
  }

  #put(b0: number, b1: number, b2: number, b3: number): void {
    this.#room(4);
    const o = this.#out;
    const e = this.#outEnd;
    o[e] = b0;
    o[e + 1] = b1;
    o[e + 2] = b2;
    o[e + 3] = b3;
    this.#outEnd = e + 4;
  }

  #room(n: number): void {
    if (this.#outEnd + n <= this.#out.length) return;
    this.#out.copyWithin(0, this.#outStart, this.#outEnd);
    this.#outEnd -= this.#outStart;
    this.#outStart = 0;
    if (this.#outEnd + n > this.#out.length) throw new Error("server buffer full");
  }

  /** Queues PUBLISHes while the window allows. */
  #publishMore(): void {
    const t = this.#template;
    while (
      this.toSend > 0 &&
      (this.sendQoS === 0 ? this.#outEnd - this.#outStart < 4096 : this.unacked < WINDOW)
    ) {
      this.#room(t.length);
      this.#out.set(t, this.#outEnd);
      if (this.sendQoS > 0) {
        const id = this.#nextId;
        this.#nextId = id === 65_535 ? 1 : id + 1;
        this.#out[this.#outEnd + this.#idAt] = id >> 8;
        this.#out[this.#outEnd + this.#idAt + 1] = id & 0xff;
        this.unacked++;
      }
      this.#outEnd += t.length;
      this.toSend--;
    }
  }

  /** Starts sending `n` PUBLISHes. */
  send(n: number): void {
    this.toSend += n;
    this.#publishMore();
    this.#deliver();
  }

  /** Reads the client's packets in place and queues the answers. */
  #scan(chunk: Uint8Array): void {
    for (let o = 0; o < chunk.length;) {
      const first = chunk[o]!;
      let rem = 0;
      let mult = 1;
      let i = o + 1;
      for (;;) {
        const b = chunk[i++]!;
        rem += (b & 0x7f) * mult;
        if ((b & 0x80) === 0) break;
        mult *= 128;
      }
      const type = first >> 4;
      if (type === 1) this.#put(0x20, 0x03, 0x00, 0x00), this.#out[this.#outEnd++] = 0;
      else if (type === 3) {
        this.received++;
        const qos = (first >> 1) & 3;
        if (qos > 0) {
          const at = i + 2 + ((chunk[i]! << 8) | chunk[i + 1]!);
          this.#put(qos === 1 ? 0x40 : 0x50, 0x02, chunk[at]!, chunk[at + 1]!);
        }
      } else if (type === 6) this.#put(0x70, 0x02, chunk[i]!, chunk[i + 1]!); // PUBREL: PUBCOMP
      else if (type === 4 || type === 7) this.unacked--; // PUBACK, PUBCOMP
      else if (type === 5) this.#put(0x62, 0x02, chunk[i]!, chunk[i + 1]!); // PUBREC: PUBREL
      else if (type === 8) {
        // SUBSCRIBE: SUBACK 0x02.
        this.#put(0x90, 0x04, chunk[i]!, chunk[i + 1]!);
        this.#room(2);
        this.#out[this.#outEnd++] = 0;
        this.#out[this.#outEnd++] = 2;
      }
      o = i + rem;
    }
    this.#publishMore();
  }

  /** A direct read waiting for bytes (`--direct`). */
  #waiting: { p: Uint8Array; resolve: (n: number) => void } | undefined;

  /** Copies what is owed into `p`: the number of bytes. */
  #give(p: Uint8Array): number {
    const k = Math.min(this.#outEnd - this.#outStart, p.length);
    p.set(this.#out.subarray(this.#outStart, this.#outStart + k));
    this.#outStart += k;
    if (this.#outStart === this.#outEnd) this.#outStart = this.#outEnd = 0;
    return k;
  }

  /** Answers a pending BYOB read with what is owed. */
  #deliver(): void {
    if (this.sendQoS === 0) this.#publishMore();
    const n = this.#outEnd - this.#outStart;
    if (n === 0) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve(this.#give(waiting.p));
      return;
    }
    if (this.direct) return; // Kept for the next direct read.
    const request = this.#controller.byobRequest;
    if (request === null) {
      this.#controller.enqueue(this.#out.slice(this.#outStart, this.#outEnd));
      this.#outStart = this.#outEnd = 0;
      return;
    }
    const view = request.view as Uint8Array;
    const k = Math.min(n, view.byteLength);
    view.set(this.#out.subarray(this.#outStart, this.#outStart + k));
    this.#outStart += k;
    if (this.#outStart === this.#outEnd) this.#outStart = this.#outEnd = 0;
    request.respond(k);
  }

  transport(): Transport {
    return {
      readable: this.readable,
      writable: this.writable,
      ...(this.direct
        ? {
          direct: {
            read: (p: Uint8Array) => {
              if (this.sendQoS === 0) this.#publishMore();
              if (this.#outEnd > this.#outStart) return Promise.resolve(this.#give(p));
              return new Promise<number>((resolve) => this.#waiting = { p, resolve });
            },
            write: (p: Uint8Array) => {
              this.#scan(p);
              this.#deliver();
              return Promise.resolve(p.length);
            },
          },
        }
        : {}),
      close: () => {
        try {
          this.#controller.close();
        } catch {
          // Closed already.
        }
      },
    };
  }
}

// -- drivers ---------------------------------------------------------------------------------------

type Run = (n: number) => Promise<void>;

/** The client's side of a workload: a function that runs `n` messages. */
async function clientDriver(kind: string): Promise<Run> {
  const qos = Number(kind.slice(3)) as 0 | 1 | 2;
  const server = new Server(qos, DIRECT);
  const client = new Client();
  await client.connect(server.transport(), { clientId: "alloc", keepAlive: 0 });
  if (kind.startsWith("pub")) {
    if (qos === 0) {
      return async (n) => {
        for (let i = 0; i < n;) {
          const end = Math.min(n, i + 1000);
          let last: Promise<unknown> = Promise.resolve();
          for (; i < end; i++) last = client.publish({ topic: TOPIC, qos: 0 }, PAYLOAD);
          await last;
        }
      };
    }
    return async (n) => {
      let sent = 0;
      let inFlight = 0;
      let acked = 0;
      while (acked < n) {
        while (inFlight < WINDOW && sent < n) {
          client.publish({ topic: TOPIC, qos }, PAYLOAD);
          inFlight++;
          sent++;
        }
        const e = await client.poll();
        if (e.type === "acknowledged" || e.type === "completed") inFlight--, acked++;
      }
    };
  }
  await client.subscribe({ filter: TOPIC, qos });
  await client.poll();
  return async (n) => {
    server.send(n);
    let got = 0;
    while (got < n) {
      const e = await client.poll();
      if (e.type === "message") got++;
    }
  };
}

/** The raw side: pre-encoded packets through the same streams, framing in place. */
async function rawDriver(kind: string): Promise<Run> {
  const qos = Number(kind.slice(3)) as 0 | 1 | 2;
  const server = new Server(qos);
  const reader = server.readable.getReader({ mode: "byob" });
  const writer = server.writable.getWriter();
  let buf = new Uint8Array(65_536);
  let start = 0;
  let end = 0;
  /** Reads once; calls `each(type, idHigh, idLow)` for every whole packet. */
  async function read(each: (type: number, hi: number, lo: number) => void): Promise<void> {
    if (end === buf.length) {
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    const { value } = await reader.read(new Uint8Array(buf.buffer, end, buf.length - end));
    buf = new Uint8Array(value!.buffer);
    end += value!.length;
    while (end - start >= 2) {
      const rem = buf[start + 1]!; // small packets only: one length byte
      if (end - start < 2 + rem) break;
      const type = buf[start]! >> 4;
      let id = start + 2;
      if (type === 3) id += 2 + ((buf[id]! << 8) | buf[id + 1]!);
      each(type, buf[id]!, buf[id + 1]!);
      start += 2 + rem;
    }
    if (start === end) start = end = 0;
  }
  const connect = encode({ type: PacketType.Connect, clientId: "raw", keepAlive: 0 });
  await writer.write(connect);
  await read(() => {});
  if (kind.startsWith("pub")) {
    // One batch of WINDOW PUBLISHes (ids 1..20), and a buffer of PUBRELs, both pre-encoded.
    const one: Uint8Array[] = [];
    for (let id = 1; id <= WINDOW; id++) {
      const p: Publish = { type: PacketType.Publish, topic: TOPIC, payload: PAYLOAD, qos };
      if (qos > 0) p.packetId = id;
      one.push(encode(p));
    }
    const size = one[0]!.length;
    if (qos === 0) {
      const batch = new Uint8Array(size * 1000);
      for (let i = 0; i < 1000; i++) batch.set(one[0]!, i * size);
      return async (n) => {
        for (let i = 0; i < n; i += 1000) {
          await writer.write(batch.subarray(0, Math.min(n - i, 1000) * size));
        }
      };
    }
    const batch = new Uint8Array(size * WINDOW);
    one.forEach((b, i) => batch.set(b, i * size));
    const rel = new Uint8Array(4 * WINDOW);
    return async (n) => {
      let done = 0;
      let sent = 0;
      while (done < n) {
        const k = Math.min(WINDOW, n - sent);
        if (k > 0) void writer.write(batch.subarray(0, k * size));
        sent += k;
        let window = 0;
        while (window < k) {
          let rels = 0;
          await read((type, hi, lo) => {
            if (type === 4 || type === 7) window++, done++;
            else if (type === 5) {
              rel[rels * 4] = 0x62, rel[rels * 4 + 1] = 2, rel[rels * 4 + 2] = hi;
              rel[rels * 4 + 3] = lo, rels++;
            }
          });
          if (rels > 0) await writer.write(rel.subarray(0, rels * 4));
        }
      }
    };
  }
  const sub = encode({
    type: PacketType.Subscribe,
    packetId: 1,
    subscriptions: [{ filter: TOPIC, qos }],
  });
  await writer.write(sub);
  await read(() => {});
  const acks = new Uint8Array(4 * 1024);
  return async (n) => {
    server.send(n);
    let got = 0;
    while (got < n) {
      let k = 0;
      await read((type, hi, lo) => {
        if (type === 3) {
          got++;
          if (qos > 0) {
            acks[k * 4] = qos === 1 ? 0x40 : 0x50, acks[k * 4 + 1] = 2;
            acks[k * 4 + 2] = hi, acks[k * 4 + 3] = lo, k++;
          }
        } else if (type === 6) {
          acks[k * 4] = 0x70, acks[k * 4 + 1] = 2, acks[k * 4 + 2] = hi, acks[k * 4 + 3] = lo, k++;
        }
      });
      if (k > 0) await writer.write(acks.subarray(0, k * 4));
    }
  };
}

/** An output that encodes into one reused buffer: the engine's own cost, no batching's. */
class ReusedOutput implements Output {
  buf = new Uint8Array(65_536);
  write(packet: Packet, options: EncodeOptions): void {
    if (encodeIntoIfFits(packet, this.buf, 0, options) < 0) throw new Error("too large");
  }
}

/** The engine alone, handed decoded packets (decoded once, before the run). */
function engineDriver(kind: string): Run {
  const qos = Number(kind.slice(-1)) as 0 | 1 | 2;
  const engine = new Engine({ output: new ReusedOutput() });
  engine.connect({ clientId: "e", keepAlive: 0 }, 0);
  engine.handle({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }, 0);
  const acks = ackTable();
  if (kind.startsWith("engine-pub")) {
    return (n) => {
      for (let i = 0; i < n; i++) {
        const id = engine.publish({ topic: TOPIC, qos }, PAYLOAD);
        if (id === undefined) continue;
        if (qos === 2) engine.handle(acks[id]![0]!, 0);
        engine.handle(acks[id]![qos === 1 ? 1 : 2]!, 0);
      }
      return Promise.resolve();
    };
  }
  const publishes: Publish[] = [];
  for (let id = 1; id <= 100; id++) {
    const p: Publish = { type: PacketType.Publish, topic: TOPIC, payload: PAYLOAD, qos };
    if (qos > 0) p.packetId = id;
    publishes.push(p);
  }
  return (n) => {
    for (let i = 0; i < n; i++) {
      const p = publishes[i % 100]!;
      engine.handle(p, 0);
      if (qos === 2) engine.handle(acks[p.packetId!]![3]!, 0);
    }
    return Promise.resolve();
  };
}

let acksById: Packet[][] | undefined;

/** PUBREC, PUBACK, PUBCOMP and PUBREL for every Packet Identifier, built once before any run. */
function ackTable(): Packet[][] {
  if (acksById !== undefined) return acksById;
  acksById = [[]];
  const types = [PacketType.Pubrec, PacketType.Puback, PacketType.Pubcomp, PacketType.Pubrel];
  for (let id = 1; id <= 65_535; id++) {
    acksById.push(types.map((type) => ({ type, packetId: id, reasonCode: 0 }) as Packet));
  }
  return acksById;
}

/** The codec alone: encode a PUBLISH into a reused buffer, or frame and decode one. */
function codecDriver(kind: string): Run {
  const qos = Number(kind.slice(-1)) as 0 | 1 | 2;
  const p: Publish = { type: PacketType.Publish, topic: TOPIC, payload: PAYLOAD, qos };
  if (qos > 0) p.packetId = 7;
  const bytes = encode(p);
  const buf = new Uint8Array(4096);
  const encodeOptions = {};
  if (kind.startsWith("codec-encode")) {
    return (n) => {
      for (let i = 0; i < n; i++) encodeIntoIfFits(p, buf, 0, encodeOptions);
      return Promise.resolve();
    };
  }
  const options = { maximumPacketSize: 268_435_460 };
  return (n) => {
    for (let i = 0; i < n; i++) {
      const f = frame(bytes, options, 0, bytes.length);
      if (f.complete) decodeBody(bytes, f.headerLength, true, 5);
    }
    return Promise.resolve();
  };
}

// -- measuring -------------------------------------------------------------------------------------

const gc = (globalThis as { gc?: () => void }).gc;

interface Figures {
  heap: number;
  external: number;
  us: number;
  shrank: boolean;
}

async function measure(run: Run): Promise<Figures> {
  await run(N / 2); // warm-up: the optimizing compiler's escape analysis changes the figures
  gc?.();
  const m0 = Deno.memoryUsage();
  const t0 = performance.now();
  await run(N);
  const t1 = performance.now();
  const m1 = Deno.memoryUsage();
  return {
    heap: (m1.heapUsed - m0.heapUsed) / N,
    external: (m1.external - m0.external) / N,
    us: ((t1 - t0) * 1000) / N,
    shrank: m1.heapUsed < m0.heapUsed,
  };
}

const kinds = ["pub0", "pub1", "pub2", "sub0", "sub1", "sub2"];
const rows: string[][] = [];
const fmt = (x: number) => x.toFixed(0);
for (const kind of kinds) {
  if (only && !only.includes(kind)) continue;
  const c = await measure(await clientDriver(kind));
  const r = await measure(await rawDriver(kind));
  const e = await measure(engineDriver(`engine-${kind}`));
  rows.push([
    kind,
    fmt(c.heap) + (c.shrank ? " (gc ran)" : ""),
    fmt(r.heap) + (r.shrank ? " (gc ran)" : ""),
    fmt(c.heap - r.heap),
    fmt(e.heap),
    fmt(c.external),
    fmt(r.external),
    c.us.toFixed(2),
    r.us.toFixed(2),
    e.us.toFixed(2),
  ]);
}
for (const kind of ["codec-encode0", "codec-encode1", "codec-decode0", "codec-decode1"]) {
  if (only && !only.includes(kind)) continue;
  const f = await measure(codecDriver(kind));
  rows.push([kind, "", "", "", fmt(f.heap), "", "", "", "", f.us.toFixed(2)]);
}

const head = [
  "workload",
  "client B/msg",
  "raw B/msg",
  "client − raw",
  "engine (or codec) B/msg",
  "client external B/msg",
  "raw external B/msg",
  "client µs/msg",
  "raw µs/msg",
  "engine µs/msg",
];
console.log(`N = ${N} messages per workload${gc ? "" : " (no --expose-gc: figures are rough)"}\n`);
console.log(`| ${head.join(" | ")} |`);
console.log(`| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
