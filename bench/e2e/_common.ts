/**
 * What the end-to-end benchmark's Deno workers share: the configuration the runner hands them, the
 * result they print, and the probes that read the process's CPU time and memory from `/proc`.
 *
 * A worker runs one workload in its own process, so that CPU time and peak memory are its client's
 * alone. It prints one line of JSON, a {@linkcode WorkerResult}, on standard output.
 *
 * @module
 */

/** What a worker is asked to do. */
export interface WorkerConfig {
  /** `throughput`: `count` messages as fast as they go; `latency`: one at a time. */
  kind: "throughput" | "latency";
  /** The QoS of the publications and of the subscription. */
  qos: 0 | 1 | 2;
  /** Messages timed. */
  count: number;
  /** Messages sent and received before the timed ones (the same way, untimed). */
  warmup: number;
  /** Payload bytes per message. */
  size: number;
  /**
   * Publications the application keeps outstanding at most: at QoS 0, the number published in one
   * turn before awaiting the write; at QoS 1 and 2, the number awaiting their acknowledgement. A
   * client that honours the server's Receive Maximum also stays within that.
   */
  window: number;
  /** The broker's loopback port. */
  port: number;
  /** The user name. */
  username: string;
  /** The password. */
  password: string;
  /** raw only: the subscriber copies each PUBLISH into a fresh buffer (`raw-owned`). */
  owned?: boolean;
  /** mqtt5 only: connect with `connectTcp({ direct: true })`. */
  direct?: boolean;
  /** The topic, unique to this worker. */
  topic: string;
  /** The prefix of the two client identifiers, unique to this worker. */
  clientId: string;
  /** The broker's process id, to read its CPU time over the timed part; 0 when unknown. */
  brokerPid: number;
}

/** What a worker prints. */
export interface WorkerResult {
  /** Messages timed (each received once). */
  messages: number;
  /** Seconds from the first timed publish to the last timed receipt. */
  seconds: number;
  /** The worker process's CPU time over the timed part (user + system), in seconds. */
  cpu: number;
  /**
   * Minor page faults of the worker process over the timed part (memory touched for the first
   * time: fresh buffers, and the kernel copying into them); absent from older workers.
   */
  faults?: number;
  /** The broker's CPU time over the timed part, in seconds (0 when unknown). */
  brokerCpu: number;
  /** Payload bytes received in the timed part. */
  payloadBytes: number;
  /** The process's resident memory after connecting, before any message, in bytes. */
  rssStart: number;
  /** The process's peak resident memory (VmHWM), in bytes. */
  peakRss: number;
  /** Round-trip latencies (latency workloads): median and 99th percentile, in microseconds. */
  latency?: { p50: number; p99: number };
  /** Publications the server refused with 0x97 (Quota exceeded) and the worker sent again. */
  refused: number;
  /** The most publications outstanding at once (QoS 1 and 2). */
  maxInFlight: number;
  /** The Receive Maximum the server announced. */
  receiveMaximum: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** User + system CPU seconds of a process, from `/proc/<pid>/stat` (all its threads). */
export function cpuSeconds(pid: number | "self" = "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Minor page faults of this process so far, from `/proc/self/stat`. */
export function minorFaults(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/** A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`). */
export function memoryField(name: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
  return match ? Number(match[1]) * 1024 : 0;
}

/** The broker's CPU seconds, or 0 when its pid is unknown. */
export function brokerCpuSeconds(pid: number): number {
  return pid > 0 ? cpuSeconds(pid) : 0;
}

/** The `p`-th percentile (0..100) of sorted numbers, by the nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A payload of `size` bytes that is not all zeros. */
export function payloadOf(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

/** The worker's configuration, from its first argument. */
export function readConfig(): WorkerConfig {
  const text = Deno.args[0];
  if (text === undefined) throw new Error("usage: <worker> '<WorkerConfig as JSON>'");
  return JSON.parse(text) as WorkerConfig;
}

/** A signal one side raises and the other awaits, re-armed after each wait. */
export class Wakeup {
  #resolve: (() => void) | undefined;

  /** Resolves the pending {@linkcode Wakeup.wait}, if any. */
  wake(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }

  /** Waits for the next {@linkcode Wakeup.wake}. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#resolve = resolve);
  }
}

/** What a worker gives {@linkcode measure}: its two ways of running messages, and its counters. */
export interface Workload {
  /** Runs `n` messages as fast as they go; resolves with the milliseconds taken. */
  throughput(n: number): Promise<number>;
  /** Runs `n` messages one at a time; resolves with each one's round trip in milliseconds. */
  latency(n: number): Promise<number[]>;
  /** Payload bytes received so far. */
  payloadBytes(): number;
  /** The most publications that were in flight at once. */
  maxInFlight(): number;
  /** The server's Receive Maximum. */
  receiveMaximum(): number;
}

/**
 * How a worker reads its process's figures: Deno's `/proc` readers by default; the Node and Bun
 * worker (`mqtt5_node.ts`) gives its own, over `node:fs` and `process.cpuUsage()`.
 */
export interface Probe {
  /** User + system CPU seconds of this process. */
  cpuSeconds(): number;
  /** Minor page faults of this process so far. */
  minorFaults(): number;
  /** A field of `/proc/self/status`, in bytes. */
  memoryField(name: "VmRSS" | "VmHWM"): number;
  /** The broker's CPU seconds (0 when its pid is 0). */
  brokerCpuSeconds(pid: number): number;
}

/** The probe of the Deno workers: `/proc` read with `Deno.readTextFileSync`. */
export const denoProbe: Probe = {
  cpuSeconds: () => cpuSeconds(),
  minorFaults,
  memoryField,
  brokerCpuSeconds,
};

/** Runs the configured workload (warm-up first) and measures it: time, CPU, memory, latency. */
export async function measure(
  cfg: WorkerConfig,
  w: Workload,
  probe: Probe = denoProbe,
): Promise<WorkerResult> {
  const { cpuSeconds, minorFaults, memoryField, brokerCpuSeconds } = probe;
  const rssStart = memoryField("VmRSS");
  if (cfg.kind === "throughput") {
    if (cfg.warmup > 0) await w.throughput(cfg.warmup);
    const bytesBefore = w.payloadBytes();
    const cpu0 = cpuSeconds();
    const faults0 = minorFaults();
    const broker0 = brokerCpuSeconds(cfg.brokerPid);
    const ms = await w.throughput(cfg.count);
    return {
      messages: cfg.count,
      seconds: ms / 1000,
      cpu: cpuSeconds() - cpu0,
      faults: minorFaults() - faults0,
      brokerCpu: brokerCpuSeconds(cfg.brokerPid) - broker0,
      payloadBytes: w.payloadBytes() - bytesBefore,
      rssStart,
      peakRss: memoryField("VmHWM"),
      refused: 0,
      maxInFlight: w.maxInFlight(),
      receiveMaximum: w.receiveMaximum(),
    };
  }
  if (cfg.warmup > 0) await w.latency(cfg.warmup);
  const cpu0 = cpuSeconds();
  const faults0 = minorFaults();
  const broker0 = brokerCpuSeconds(cfg.brokerPid);
  const t0 = performance.now();
  const times = await w.latency(cfg.count);
  const ms = performance.now() - t0;
  const sorted = times.sort((a, b) => a - b);
  return {
    messages: cfg.count,
    seconds: ms / 1000,
    cpu: cpuSeconds() - cpu0,
    faults: minorFaults() - faults0,
    brokerCpu: brokerCpuSeconds(cfg.brokerPid) - broker0,
    payloadBytes: cfg.count * cfg.size,
    rssStart,
    peakRss: memoryField("VmHWM"),
    latency: { p50: percentile(sorted, 50) * 1000, p99: percentile(sorted, 99) * 1000 },
    refused: 0,
    maxInFlight: w.maxInFlight(),
    receiveMaximum: w.receiveMaximum(),
  };
}
