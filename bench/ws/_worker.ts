/**
 * The worker of `bench/ws_runtimes.ts`: bundled by esbuild into one `.mjs` and run by Node, Bun and
 * Deno. It takes its settings as JSON in its first argument ({@linkcode WorkerConfig}), measures
 * QoS 1 publisher throughput (PUBLISH to PUBACK, no subscriber) over each transport asked for, in
 * the order given, and prints one line of JSON ({@linkcode WorkerReport}).
 *
 * Transports: `tcp` (the runtime's own: `connectTcp` on Deno, `connectNode` on Node and Bun),
 * `ws` (`connectWebSocket` with the runtime's WebSocket, to Mosquitto's websockets listener or
 * the bridge's URL), and the ceilings: `raw-tcp` and `raw-ws`, pre-encoded PUBLISH packets written
 * by hand on `node:net` or the runtime's WebSocket, as many as the window allows, the ones a
 * PUBACK frees in one write (one frame).
 *
 * It uses only what all three runtimes share (`node:` modules and web globals).
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import process from "node:process";
import { Client, connectTcp, encode, PacketType, type Transport } from "../../mod.ts";
import { connectWebSocket, type WebSocketLike } from "../../src/transport/websocket.ts";
import { connectNode } from "../../src/transport/node.ts";

/** A transport to measure. */
export type Mode = "tcp" | "ws" | "raw-tcp" | "raw-ws";

/** One measurement: a mode, and the WebSocket URL for the WebSocket ones. */
export interface Job {
  /** What is measured. */
  mode: Mode;
  /** A label for the report (e.g. `ws` direct to Mosquitto, `bridge` through the bridge). */
  label: string;
  /** The URL of the WebSocket modes. */
  url?: string;
  /** `ws` mode: `connectWebSocket`'s `maxFrameSize` (its default when absent). */
  maxFrameSize?: number;
}

/** The settings the runner passes as JSON in the first argument. */
export interface WorkerConfig {
  /** A unique prefix for client ids and topics. */
  id: string;
  /** Mosquitto's TCP port. */
  port: number;
  /** The user name and password. */
  username: string;
  password: string;
  /** QoS 1 messages timed per job. */
  count: number;
  /** Messages before the timed ones, on the same connection. */
  warmup: number;
  /** Payload bytes per message. */
  size: number;
  /** Mosquitto's process id, to read its CPU time from `/proc` (0: not read). */
  brokerPid: number;
  /** The measurements, in order. */
  jobs: Job[];
}

/** What one job measured. */
export interface JobResult {
  label: string;
  mode: Mode;
  /** Messages per second from the first timed PUBLISH to the last PUBACK. */
  rate: number;
  /** The worker process's CPU time per timed message (user + system), in microseconds. */
  cpuUsPerMessage: number;
  /** Mosquitto's CPU time per timed message, in microseconds (0 when not read). */
  brokerCpuUsPerMessage: number;
  /** The server's Receive Maximum: the publications kept in flight. */
  window: number;
  /** WebSocket modes: frames sent, per timed message. */
  framesSentPerMessage?: number;
  /** WebSocket modes: message events (frames) received, per timed message. */
  framesReceivedPerMessage?: number;
  /** WebSocket modes: sends after which `bufferedAmount` was above 0, per timed message. */
  bufferedAfterSend?: number;
  /** `setTimeout` calls per timed message (the transport's drain polls, the client's timers). */
  timersPerMessage: number;
}

/** The worker's output. */
export interface WorkerReport {
  runtime: "node" | "bun" | "deno";
  version: string;
  results: JobResult[];
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const runtime: WorkerReport["runtime"] = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";
const version = runtime === "bun"
  ? (globalThis as unknown as { Bun: { version: string } }).Bun.version
  : runtime === "deno"
  ? (globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno
  : process.version;
const login = { username: config.username, password: config.password };
const payload = new Uint8Array(config.size).fill(0x61);

/** Counters of the WebSocket modes and of timers, reset at the start of each timed part. */
const counts = { sent: 0, received: 0, buffered: 0, timers: 0 };

const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
  counts.timers++;
  return realSetTimeout(...args);
}) as typeof setTimeout;

type WebSocketClass = new (url: string, protocols: string[]) => WebSocket;
const NativeWebSocket = (globalThis as { WebSocket?: WebSocketClass }).WebSocket;

/** The runtime's WebSocket, counting frames sent and received. */
function countingWebSocket(url: string, protocols: string[]): WebSocket {
  if (NativeWebSocket === undefined) {
    throw new TypeError(
      `${runtime} ${version} has no WebSocket (Node 20: --experimental-websocket)`,
    );
  }
  const socket = new NativeWebSocket(url, protocols);
  const send = socket.send.bind(socket);
  socket.send = (data) => {
    counts.sent++;
    send(data);
    if (socket.bufferedAmount > 0) counts.buffered++;
  };
  socket.addEventListener("message", () => counts.received++);
  return socket;
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Mosquitto's user + system CPU time in microseconds, from `/proc/<pid>/stat` (ticks of 10 ms). */
function brokerCpuMicros(): number {
  if (config.brokerPid === 0) return 0;
  const stat = readFileSync(`/proc/${config.brokerPid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Times `run(warmup)` then `run(count)`; the counters cover the timed part. */
async function timed(
  job: Job,
  window: number,
  run: (n: number) => Promise<void>,
): Promise<JobResult> {
  await run(config.warmup);
  counts.sent =
    counts.received =
    counts.buffered =
    counts.timers =
      0;
  const cpu0 = cpuMicros();
  const broker0 = brokerCpuMicros();
  const t0 = performance.now();
  await run(config.count);
  const ms = performance.now() - t0;
  const n = config.count;
  const cpu = cpuMicros() - cpu0;
  const brokerCpu = brokerCpuMicros() - broker0;
  const ws = job.mode === "ws" || job.mode === "raw-ws";
  return {
    label: job.label,
    mode: job.mode,
    rate: Math.round(n / (ms / 1000)),
    cpuUsPerMessage: Math.round(cpu / n * 10) / 10,
    brokerCpuUsPerMessage: Math.round(brokerCpu / n * 10) / 10,
    window,
    ...(ws
      ? {
        framesSentPerMessage: round3(counts.sent / n),
        framesReceivedPerMessage: round3(counts.received / n),
        bufferedAfterSend: round3(counts.buffered / n),
      }
      : {}),
    timersPerMessage: round3(counts.timers / n),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The library's client over `open()`: publishes while the send quota allows, polls for PUBACKs. */
async function clientJob(job: Job, open: () => Promise<Transport>): Promise<JobResult> {
  const clientId = `${config.id}-${job.label}`;
  const topic = `bench/${clientId}`;
  const pub = new Client();
  await pub.connect(await open(), { clientId, ...login, keepAlive: 0 });
  const run = async (count: number) => {
    let sent = 0;
    let acked = 0;
    while (acked < count) {
      while (sent < count && pub.sendQuota > 0) {
        pub.publish({ topic, qos: 1 }, payload);
        sent++;
      }
      const event = await pub.poll();
      if (event.type === "acknowledged") acked++;
      else if (event.type === "rejected") throw new Error(`refused: ${event.reasonCode}`);
    }
  };
  try {
    return await timed(job, pub.limits.receiveMaximum, run);
  } finally {
    await pub.disconnect();
  }
}

/** A byte pipe the raw clients write to and are called back from. */
interface RawPipe {
  write(bytes: Uint8Array): void;
  onData(listener: (bytes: Uint8Array) => void): void;
  close(): void;
}

function rawTcp(): Promise<RawPipe> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: "127.0.0.1", port: config.port, noDelay: true });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.setNoDelay(true);
      resolve({
        write: (bytes) => socket.write(bytes),
        onData: (listener) => socket.on("data", (data: Uint8Array) => listener(data)),
        close: () => socket.destroy(),
      });
    });
  });
}

function rawWs(url: string): Promise<RawPipe> {
  return new Promise((resolve, reject) => {
    const socket = countingWebSocket(url, ["mqtt"]);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)));
    socket.addEventListener("open", () =>
      resolve({
        write: (bytes) => socket.send(bytes as Uint8Array<ArrayBuffer>),
        onData: (listener) =>
          socket.addEventListener(
            "message",
            (event) => listener(new Uint8Array(event.data as ArrayBuffer)),
          ),
        close: () => socket.close(1000),
      }));
  });
}

/**
 * The ceiling: CONNECT and every PUBLISH encoded before the clock starts, the PUBLISHes back to
 * back in one buffer, so the ones a frame's PUBACKs free go out as one subarray in one write.
 */
async function rawJob(job: Job, pipe: RawPipe): Promise<JobResult> {
  const clientId = `${config.id}-${job.label}`;
  const topic = `bench/${clientId}`;
  const total = config.warmup + config.count;
  const packets = Array.from({ length: total }, (_, i) =>
    encode({
      type: PacketType.Publish,
      topic,
      qos: 1,
      packetId: (i % 65_535) + 1,
      payload,
    }));
  const offsets = new Uint32Array(total + 1);
  for (let i = 0; i < total; i++) offsets[i + 1] = offsets[i]! + packets[i]!.length;
  const all = new Uint8Array(offsets[total]!);
  packets.forEach((p, i) => all.set(p, offsets[i]!));

  let buffer: Uint8Array = new Uint8Array(0);
  let window = 0;
  let sent = 0;
  let acked = 0;
  let goal = 0;
  let wake: (() => void) | undefined;
  const sendUpTo = (limit: number) => {
    const end = Math.min(limit, acked + window);
    if (end > sent) {
      pipe.write(all.subarray(offsets[sent]!, offsets[end]!));
      sent = end;
    }
  };
  const connected = new Promise<void>((resolve, reject) => {
    pipe.onData((bytes) => {
      buffer = buffer.length === 0 ? bytes : concat(buffer, bytes);
      let at = 0;
      let acks = 0;
      for (;;) {
        const header = fixedHeader(buffer, at);
        if (header === undefined || header.end + header.length > buffer.length) break;
        const type = buffer[at]! >> 4;
        if (type === PacketType.Connack) {
          window = receiveMaximum(buffer.subarray(header.end, header.end + header.length));
          if (buffer[header.end + 1] !== 0) reject(new Error("CONNACK refused"));
          else resolve();
        } else if (type === PacketType.Puback) acks++;
        at = header.end + header.length;
      }
      buffer = at === buffer.length ? new Uint8Array(0) : buffer.slice(at);
      if (acks > 0) {
        acked += acks;
        sendUpTo(goal);
        if (acked >= goal) wake?.();
      }
    });
  });
  pipe.write(encode({ type: PacketType.Connect, clientId, keepAlive: 0, ...passwordOf() }));
  await connected;
  const run = (n: number) =>
    new Promise<void>((resolve) => {
      goal += n;
      wake = resolve;
      sendUpTo(goal);
    });
  try {
    return await timed(job, window, run);
  } finally {
    pipe.write(encode({ type: PacketType.Disconnect }));
    pipe.close();
  }
}

function passwordOf() {
  return { username: config.username, password: new TextEncoder().encode(config.password) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The remaining length at `at` and where the variable header starts; undefined: need more. */
function fixedHeader(bytes: Uint8Array, at: number): { length: number; end: number } | undefined {
  let length = 0;
  for (let i = 1, shift = 0; i <= 4; i++, shift += 7) {
    if (at + i >= bytes.length) return undefined;
    const b = bytes[at + i]!;
    length |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { length, end: at + i + 1 };
  }
  throw new Error("malformed remaining length");
}

/** The Receive Maximum of a CONNACK body (65,535 when absent). */
function receiveMaximum(body: Uint8Array): number {
  const header = fixedHeader(body, 1);
  if (header === undefined) return 65_535;
  // Property length at 2 (a variable byte integer read as a fixed header would be, from 1).
  let at = header.end;
  const end = header.end + header.length;
  while (at < end) {
    const id = body[at]!;
    if (id === 0x21) return (body[at + 1]! << 8) | body[at + 2]!;
    // The properties a CONNACK from Mosquitto holds: 2-byte ints, 1-byte flags, 4-byte ints.
    const size: Record<number, number> = {
      0x11: 4,
      0x12: -1,
      0x13: 2,
      0x22: 2,
      0x24: 1,
      0x25: 1,
      0x27: 4,
      0x28: 1,
      0x29: 1,
      0x2a: 1,
    };
    const n = size[id];
    if (n === undefined) break;
    if (n === -1) at += 3 + ((body[at + 1]! << 8) | body[at + 2]!);
    else at += 1 + n;
  }
  return 65_535;
}

const results: JobResult[] = [];
for (const job of config.jobs) {
  switch (job.mode) {
    case "tcp":
      results.push(
        await clientJob(
          job,
          runtime === "deno"
            ? () => connectTcp({ port: config.port })
            : () => connectNode({ port: config.port }),
        ),
      );
      break;
    case "ws":
      results.push(
        await clientJob(
          job,
          () =>
            connectWebSocket(job.url!, {
              ...(job.maxFrameSize === undefined ? {} : { maxFrameSize: job.maxFrameSize }),
              WebSocket: countingWebSocket as unknown as new (
                url: string,
                protocols: string[],
              ) => WebSocketLike,
            }),
        ),
      );
      break;
    case "raw-tcp":
      results.push(await rawJob(job, await rawTcp()));
      break;
    case "raw-ws":
      results.push(await rawJob(job, await rawWs(job.url!)));
      break;
  }
}
console.log(JSON.stringify({ runtime, version, results } satisfies WorkerReport));
