/**
 * The script of the browser test's page: it runs in headless Chromium, imports the Client and
 * `connectWebSocket` from the bundle (served as `./_entry.ts`, so that this file type-checks
 * against the real entry), and POSTs a {@linkcode PageReport} to `/report`.
 *
 * Over the WebSocket bridge to Mosquitto it subscribes to `<topic>/#` at QoS 2, publishes the
 * payloads of its {@linkcode PageConfig} at QoS 1 and QoS 2, polls until both flights are over and both
 * messages came back, then pings: the broker sends anything still queued for the client before
 * its PINGRESP, so a second delivery would be among the events. Every event polled is reported.
 *
 * `browser_test.ts` transpiles this file with esbuild (imports kept) and serves it as `/page.js`.
 *
 * @module
 */

import { Client, connectWebSocket } from "./_entry.ts";
import type { ClientEvent } from "../../mod.ts";

/** What the test passes to the page, as JSON in the `config` query parameter. */
export interface PageConfig {
  /** The bridge's `ws://127.0.0.1:<port>/mqtt`. */
  url: string;
  /** The broker's user. */
  username: string;
  /** That user's password. */
  password: string;
  /** The topic prefix of this run; the page subscribes to `<topic>/#`. */
  topic: string;
  /** The page client's Client Identifier. */
  clientId: string;
  /** The text the page publishes at QoS 1, to `<topic>/qos1`. */
  qos1Payload: string;
  /** The bytes the page publishes at QoS 2, to `<topic>/qos2`. */
  qos2Payload: number[];
}

/** What the page found about where it ran. */
export interface PageEnvironment {
  /** `navigator.userAgent`. */
  userAgent: string;
  /** Whether `Deno` is a global (it must not be in a browser). */
  deno: boolean;
  /** Whether `process` is a global (Node's; a browser has none). */
  process: boolean;
  /** Whether `document` and `window` are globals (a browser page has both). */
  dom: boolean;
}

/** One event the page's client polled, in a form JSON keeps. */
export interface PageEvent {
  /** The event's `type`. */
  type: string;
  /** Messages: the topic. */
  topic?: string;
  /** Messages: the payload's bytes. */
  payload?: number[];
  /** Messages: the QoS delivered. */
  qos?: number;
  /** Messages: the DUP flag. */
  dup?: boolean;
  /** Acknowledgements: the Packet Identifier. */
  packetId?: number;
  /** Acknowledgements: the reason code. */
  reasonCode?: number;
  /** SUBACK: the reason codes. */
  reasonCodes?: number[];
}

/** What the page POSTs to `/report`. */
export type PageReport =
  | {
    ok: true;
    env: PageEnvironment;
    /** The Packet Identifiers of the QoS 1 and QoS 2 publications. */
    packetIds: { qos1: number; qos2: number };
    /** Every event polled, in order, up to and including the final `pong`. */
    events: PageEvent[];
  }
  | {
    ok: false;
    env: PageEnvironment;
    /** What failed, with the stack. */
    error: string;
  };

/** How long the page may take for all of it. */
const DEADLINE_MS = 20_000;

function environment(): PageEnvironment {
  const scope = globalThis as Record<string, unknown>;
  return {
    userAgent: navigator.userAgent,
    deno: "Deno" in scope,
    process: "process" in scope,
    dom: "document" in scope && "window" in scope,
  };
}

function describe(event: ClientEvent): PageEvent {
  switch (event.type) {
    case "message": {
      const { type, topic, qos, dup } = event;
      return { type, topic, payload: [...event.payload], qos, dup };
    }
    case "acknowledged":
    case "received":
    case "completed":
    case "rejected":
      return { type: event.type, packetId: event.packetId, reasonCode: event.reasonCode };
    case "subscribed":
      return { type: event.type, packetId: event.packetId, reasonCodes: [...event.reasonCodes] };
    default:
      return { type: event.type };
  }
}

function report(body: PageReport): Promise<Response> {
  return fetch("/report", { method: "POST", body: JSON.stringify(body) });
}

async function run(config: PageConfig): Promise<PageReport> {
  const signal = AbortSignal.timeout(DEADLINE_MS);
  const transport = await connectWebSocket(config.url, { signal });
  const client = new Client();
  const events: PageEvent[] = [];
  const poll = async (done: (event: PageEvent) => boolean) => {
    for (;;) {
      const event = describe(await client.poll({ signal }));
      events.push(event);
      if (done(event)) return;
    }
  };
  try {
    await client.connect(transport, {
      clientId: config.clientId,
      username: config.username,
      password: config.password,
      signal,
    });
    await client.subscribe({ filter: `${config.topic}/#`, qos: 2 }, { signal });
    await poll((e) => e.type === "subscribed");
    const qos1 = await client.publish(
      { topic: `${config.topic}/qos1`, qos: 1 },
      config.qos1Payload,
    );
    const qos2 = await client.publish(
      { topic: `${config.topic}/qos2`, qos: 2 },
      new Uint8Array(config.qos2Payload),
    );
    let acknowledged = false, completed = false, messages = 0;
    await poll((e) => {
      if (e.type === "acknowledged" && e.packetId === qos1) acknowledged = true;
      if (e.type === "completed" && e.packetId === qos2) completed = true;
      if (e.type === "message") messages++;
      return acknowledged && completed && messages >= 2;
    });
    await client.ping({ signal });
    await poll((e) => e.type === "pong");
    await client.disconnect({ signal });
    return { ok: true, env: environment(), packetIds: { qos1: qos1!, qos2: qos2! }, events };
  } finally {
    transport.close();
    await transport.closed;
  }
}

try {
  const config = JSON.parse(new URLSearchParams(location.search).get("config") ?? "") as PageConfig;
  await report(await run(config));
} catch (e) {
  await report({
    ok: false,
    env: environment(),
    // V8's stack starts with the name and the message.
    error: e instanceof Error ? e.stack ?? `${e.name}: ${e.message}` : String(e),
  });
}
