// Helpers of tests/supervisor/faults_test.ts: an observer straight on the broker, bounded waits,
// a status recorder and a trace recorder. None of them recovers anything: the supervisor under
// test does all of that.

import { Client, type ClientEvent, type Logger } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import type { SupervisorStatus } from "../../src/supervisor/mod.ts";
import type { Mosquitto } from "../_util/mosquitto.ts";
import type { ProxyConnection } from "../_util/proxy.ts";

const td = new TextDecoder();

/** `promise`, or a rejection naming `what` after `ms`: every wait of the tests is bounded. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Hung: ${what} (no end within ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until a proxied connection has been quiet for `ms` (no byte either way), then returns
 * the bytes it forwarded each way: how long an exchange was, once it is over.
 */
export async function quiet(
  wire: ProxyConnection,
  ms = 150,
): Promise<{ toServer: number; toClient: number }> {
  let last = -1;
  for (;;) {
    const now = wire.toServer + wire.toClient;
    if (now === last) return { toServer: wire.toServer, toClient: wire.toClient };
    last = now;
    await sleep(ms);
  }
}

/**
 * A client connected straight to the broker that counts the payloads arriving on a filter (QoS
 * 2). `settle()` pings and collects until the PINGRESP, which the broker sends after everything
 * it queued before.
 */
export class Observer implements AsyncDisposable {
  /** How many times each payload arrived. */
  readonly counts: Map<string, number> = new Map();
  readonly #client = new Client();

  /** Connects to `broker` and subscribes to `filter`. */
  static async open(broker: Mosquitto, filter: string): Promise<Observer> {
    const o = new Observer();
    await o.#client.connect(await connectTcp(broker), {
      username: broker.username,
      password: broker.password,
      clientId: "",
    });
    await o.#client.subscribe({ filter, qos: 2 });
    await o.#until((e) => e.type === "subscribed");
    return o;
  }

  async #until(done: (e: ClientEvent) => boolean): Promise<void> {
    const signal = AbortSignal.timeout(10_000);
    for (;;) {
      const e = await this.#client.poll({ signal });
      if (e.type === "message") {
        const p = td.decode(e.payload);
        this.counts.set(p, (this.counts.get(p) ?? 0) + 1);
      }
      if (done(e)) return;
    }
  }

  /** Collects everything the broker sent before a PINGRESP. */
  async settle(): Promise<void> {
    await this.#client.ping();
    await this.#until((e) => e.type === "pong");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#client.state === "connected") await this.#client.disconnect().catch(() => {});
    this.#client.abort();
  }
}

/** The statuses of a supervisor, with the time each came (ms since the recorder was made). */
export class Statuses {
  readonly list: (SupervisorStatus & { at: number })[] = [];
  readonly #start = performance.now();
  #waiters: { test: (s: SupervisorStatus) => boolean; resolve: (s: SupervisorStatus) => void }[] =
    [];

  /** The callback to give as `onStatus`. */
  readonly onStatus = (status: SupervisorStatus): void => {
    this.list.push({ ...status, at: performance.now() - this.#start });
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(status)) return true;
      w.resolve(status);
      return false;
    });
  };

  /** The milliseconds since the recorder was made, on the clock of `list[].at`. */
  now(): number {
    return performance.now() - this.#start;
  }

  /** The next status `test` accepts, from now on. */
  next<T extends SupervisorStatus["type"]>(
    type: T,
    test: (s: Extract<SupervisorStatus, { type: T }>) => boolean = () => true,
  ): Promise<Extract<SupervisorStatus, { type: T }>> {
    return new Promise((resolve) => {
      this.#waiters.push({
        test: (s) => s.type === type && test(s as Extract<SupervisorStatus, { type: T }>),
        resolve: resolve as (s: SupervisorStatus) => void,
      });
    });
  }

  /** How many statuses of `type` came. */
  count(type: SupervisorStatus["type"]): number {
    return this.list.filter((s) => s.type === type).length;
  }

  /** The types in order, for messages. */
  toString(): string {
    return this.list.map((s) => s.type).join(" ");
  }
}

/**
 * A logger that keeps the client's packet trace lines (`<- PUBREL id=3`), to tell a broker's
 * replay from a duplicate the client let through.
 */
export function traceRecorder(lines: string[]): Logger {
  const nothing = () => {};
  const logger: Logger = {
    isEnabledFor: (level) => level === "trace",
    trace: (message) => {
      if (message.startsWith("<- PUB") || message.startsWith("-> PUB")) lines.push(message);
    },
    debug: nothing,
    info: nothing,
    warning: nothing,
    error: nothing,
  };
  return logger;
}
