/**
 * Helpers of the supervisor's behaviour tests: an observer client connected straight to the broker
 * (the explicit client, so that what it sees does not depend on the supervisor under test), a
 * transport factory that can be held offline, and a promise whose state can be read.
 *
 * @module
 */

import { Client, type ClientEvent, type IncomingMessageEvent } from "../../mod.ts";
import { connectTcp, type Transport } from "../../src/transport/mod.ts";
import type { TransportRequest } from "../../src/supervisor/mod.ts";
import type { Mosquitto } from "../_util/mosquitto.ts";

const td = new TextDecoder();

/** Waits `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise and whether it settled yet (read after a turn of the event loop). */
export interface Tracked<T> {
  promise: Promise<T>;
  readonly settled: boolean;
}

/** Tracks whether `promise` settled; its rejection is observed (no unhandled rejection). */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked = { promise, settled: false };
  promise.then(() => (tracked.settled = true), () => (tracked.settled = true));
  return tracked;
}

/** What the error of a rejected promise is (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("Expected a rejection, but the promise resolved");
}

/** A message the observer saw. */
export interface Seen {
  topic: string;
  text: string;
  qos: number;
  event: IncomingMessageEvent;
}

/**
 * An explicit client connected straight to the broker, subscribed at QoS 2 to a filter, which
 * records the messages it receives. Pull-based: {@linkcode Observer.collect} and
 * {@linkcode Observer.settle} poll, so nothing runs between calls.
 */
export class Observer implements AsyncDisposable {
  readonly seen: Seen[] = [];
  readonly client = new Client();

  static async open(broker: Mosquitto, filter: string | string[]): Promise<Observer> {
    const o = new Observer();
    await o.client.connect(await connectTcp(broker), {
      username: broker.username,
      password: broker.password,
      clientId: "",
    });
    await o.client.subscribe(
      (Array.isArray(filter) ? filter : [filter]).map((f) => ({ filter: f, qos: 2 as const })),
    );
    await o.#until((e) => e.type === "subscribed");
    return o;
  }

  /** The payloads seen on topics starting with `prefix`, in order. */
  texts(prefix = ""): string[] {
    return this.seen.filter((s) => s.topic.startsWith(prefix)).map((s) => s.text);
  }

  async #until(done: (e: ClientEvent) => boolean, ms = 10_000): Promise<void> {
    const signal = AbortSignal.timeout(ms);
    for (;;) {
      const e = await this.client.poll({ signal });
      if (e.type === "message") {
        this.seen.push({ topic: e.topic, text: td.decode(e.payload), qos: e.qos, event: e });
      }
      if (done(e)) return;
    }
  }

  /** Polls until `count` messages in all were seen. */
  async collect(count: number, ms = 10_000): Promise<Seen[]> {
    if (this.seen.length < count) await this.#until(() => this.seen.length >= count, ms);
    return this.seen;
  }

  /** Pings and collects until the PINGRESP, which the broker sends after what it queued before. */
  async settle(): Promise<Seen[]> {
    await this.client.ping();
    await this.#until((e) => e.type === "pong");
    return this.seen;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.client.state === "connected") await this.client.disconnect().catch(() => {});
    this.client.abort();
  }
}

/**
 * A transport factory to `address` that refuses (as a closed port does) while offline, and counts
 * the attempts and the requests it was given.
 */
export class Gate {
  online: boolean;
  readonly requests: TransportRequest[] = [];
  #address: { hostname: string; port: number };

  constructor(address: { hostname: string; port: number }, online = false) {
    this.#address = address;
    this.online = online;
  }

  get attempts(): number {
    return this.requests.length;
  }

  readonly transport = (request: TransportRequest): Promise<Transport> => {
    this.requests.push(request);
    if (!this.online) {
      return Promise.reject(new Deno.errors.ConnectionRefused("offline (test gate)"));
    }
    return connectTcp({ ...this.#address, signal: request.signal });
  };
}
