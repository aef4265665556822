// Helpers of the client tests: polling with deadlines and checking that nothing else came.

import { equal } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  type ConnectOptions,
  type ConnectResult,
} from "../../src/client/mod.ts";
import type { Transport } from "../../src/transport/mod.ts";

const decoder = new TextDecoder();

/** The payload as text. */
export function text(payload: Uint8Array): string {
  return decoder.decode(payload);
}

/** A topic of its own for each behaviour, so steps never see each other's messages. */
export function uniqueTopic(name: string): string {
  return `test/${name}/${crypto.randomUUID().slice(0, 8)}`;
}

/** The next event, within `ms` milliseconds. */
export function nextEvent(client: Client, ms = 5000): Promise<ClientEvent> {
  return client.poll({ signal: AbortSignal.timeout(ms) });
}

/** Polls until `done` accepts an event; returns every event polled, the accepted one last. */
export async function pollUntil(
  client: Client,
  done: (event: ClientEvent) => boolean,
  ms = 5000,
): Promise<ClientEvent[]> {
  const signal = AbortSignal.timeout(ms);
  const events: ClientEvent[] = [];
  for (;;) {
    const event = await client.poll({ signal });
    events.push(event);
    if (done(event)) return events;
  }
}

/** Polls until an event of `type` comes; returns it (other events are dropped). */
export async function waitFor<T extends ClientEvent["type"]>(
  client: Client,
  type: T,
  ms = 5000,
): Promise<ClientEvent & { type: T }> {
  const events = await pollUntil(client, (e) => e.type === type, ms);
  return events.at(-1) as ClientEvent & { type: T };
}

/**
 * Asserts that nothing is waiting for the client: it pings, and the server's PINGRESP is the
 * very next event (a server sends queued messages before it answers a later PINGREQ).
 */
export async function assertQuiet(client: Client, ms = 5000): Promise<void> {
  await client.ping();
  const event = await nextEvent(client, ms);
  equal(event.type, "pong", `expected nothing before PINGRESP, got ${JSON.stringify(event)}`);
}

/**
 * The clients of one step: connects them and, when disposed, disconnects those still connected
 * and closes the rest, so no connection outlives the step.
 */
export class Clients implements AsyncDisposable {
  #all: Client[] = [];
  #transport: () => Promise<Transport>;
  #defaults: ConnectOptions;

  /** Connects through `transport()` with `defaults` (credentials, ...) under every connect. */
  constructor(transport: () => Promise<Transport>, defaults: ConnectOptions = {}) {
    this.#transport = transport;
    this.#defaults = defaults;
  }

  /** Connects a new client, or `client` again; returns it with what the CONNACK said. */
  async connect(
    options: ConnectOptions = {},
    client: Client = new Client(),
    transport?: Transport,
  ): Promise<{ client: Client; result: ConnectResult }> {
    if (!this.#all.includes(client)) this.#all.push(client);
    const result = await client.connect(transport ?? await this.#transport(), {
      ...this.#defaults,
      ...options,
    });
    return { client, result };
  }

  /** Disconnects or closes every client. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const client of this.#all) {
      if (client.state === "connected") await client.disconnect().catch(() => client.abort());
      else client.abort();
    }
  }
}
