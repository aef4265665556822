// Helpers of the MQTT 3.1.1 broker tests: clients that connect with protocolVersion 4, Mosquitto's
// verbose log read as the broker's view of the wire, a subscriber's drain up to a PINGRESP, and a
// Mosquitto with an access control list.

import { equal, ok } from "node:assert/strict";
import {
  type Client,
  type ConnectOptions,
  encodedLength,
  type IncomingMessageEvent,
  PacketType,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { type Mosquitto, type MosquittoOptions, startMosquitto } from "../_util/mosquitto.ts";
import { Clients, nextEvent, text, waitFor } from "../client/_client.ts";

export {
  assertQuiet,
  Clients,
  nextEvent,
  pollUntil,
  text,
  uniqueTopic,
  waitFor,
} from "../client/_client.ts";

const te = new TextEncoder();

/** The address of a broker or proxy. */
export type Address = { hostname: string; port: number };

/** The login of `broker`, on an MQTT 3.1.1 connection. */
export function v311(broker: Mosquitto): ConnectOptions {
  return { protocolVersion: 4, username: broker.username, password: broker.password };
}

/** Clients of `broker` (or of `via`, a proxy in front of it) that connect with MQTT 3.1.1. */
export function clientsOf(broker: Mosquitto, via: Address = broker): Clients {
  return new Clients(() => connectTcp({ hostname: via.hostname, port: via.port }), v311(broker));
}

/** Clients of `broker` that connect with MQTT 5.0. */
export function v5ClientsOf(broker: Mosquitto): Clients {
  return new Clients(
    () => connectTcp({ hostname: broker.hostname, port: broker.port }),
    { username: broker.username, password: broker.password },
  );
}

/** A client identifier of its own for each behaviour. */
export function uniqueId(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

/** The next event, which must be a message. */
export async function message(client: Client, ms = 5000): Promise<IncomingMessageEvent> {
  const event = await nextEvent(client, ms);
  equal(event.type, "message", `expected a message, got ${JSON.stringify(event)}`);
  return event as IncomingMessageEvent;
}

/** Polls until `n` messages came; returns them (the other events are dropped). */
export async function receive(
  client: Client,
  n: number,
  ms = 5000,
): Promise<IncomingMessageEvent[]> {
  const signal = AbortSignal.timeout(ms);
  const got: IncomingMessageEvent[] = [];
  while (got.length < n) {
    const e = await client.poll({ signal });
    if (e.type === "message") got.push(e);
  }
  return got;
}

/** Subscribes and waits for the SUBACK; returns its return codes. */
export async function subscribe(
  client: Client,
  filter: string,
  qos: 0 | 1 | 2 = 2,
): Promise<number[]> {
  const id = await client.subscribe({ filter, qos });
  const suback = await waitFor(client, "subscribed");
  equal(suback.packetId, id);
  return suback.reasonCodes;
}

/**
 * The payloads a subscriber received: it pings and collects messages until the PINGRESP, which
 * the broker sends after everything it queued for the client before the PINGREQ.
 */
export async function drain(client: Client, ms = 5000): Promise<string[]> {
  await client.ping();
  const payloads: string[] = [];
  const signal = AbortSignal.timeout(ms);
  for (;;) {
    const e = await client.poll({ signal });
    if (e.type === "pong") return payloads;
    if (e.type === "message") payloads.push(text(e.payload));
  }
}

/** Escapes `s` for use inside a regular expression. */
export function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Every match of `pattern` (global) in Mosquitto's log, waiting until there are at least
 * `atLeast` (its log is read asynchronously); returns what is there at the deadline otherwise.
 */
export async function logged(
  broker: Mosquitto,
  pattern: RegExp,
  atLeast = 1,
  ms = 5000,
): Promise<RegExpMatchArray[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const matches = [...broker.logs().matchAll(pattern)];
    if (matches.length >= atLeast || Date.now() > deadline) return matches;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A PUBLISH as Mosquitto logged it (`log_type all`). */
export interface LoggedPublish {
  /** The DUP flag. */
  dup: number;
  /** The QoS. */
  qos: number;
  /** The RETAIN flag. */
  retain: number;
  /** The Packet Identifier (0 at QoS 0, which has none). */
  mid: number;
  /** The payload length Mosquitto read. */
  bytes: number;
}

/**
 * The PUBLISH packets Mosquitto logged on `topic`: `"Received"` from the client `clientId`, or
 * `"Sending"` to it, waiting until at least `atLeast` are there.
 */
export async function publishes(
  broker: Mosquitto,
  direction: "Received" | "Sending",
  clientId: string,
  topic: string,
  atLeast = 1,
): Promise<LoggedPublish[]> {
  const pattern = new RegExp(
    `${direction} PUBLISH ${direction === "Received" ? "from" : "to"} ${escape(clientId)} ` +
      `\\(d(\\d), q(\\d), r(\\d), m(\\d+), '${escape(topic)}', \\.\\.\\. \\((\\d+) bytes\\)\\)`,
    "g",
  );
  return (await logged(broker, pattern, atLeast)).map((m) => ({
    dup: Number(m[1]),
    qos: Number(m[2]),
    retain: Number(m[3]),
    mid: Number(m[4]),
    bytes: Number(m[5]),
  }));
}

/**
 * Waits until Mosquitto logged at least `n` PINGRESPs to `clientId`: its log is complete up to there (the
 * log is read asynchronously, and may lag behind what the client already received).
 */
export async function pinged(broker: Mosquitto, clientId: string, n = 1): Promise<void> {
  const pattern = new RegExp(`Sending PINGRESP to ${escape(clientId)}$`, "gm");
  const seen = (await logged(broker, pattern, n)).length;
  ok(seen >= n, `Mosquitto logged ${seen} PINGRESPs to ${clientId}, not ${n}`);
}

/** The packet types Mosquitto logged receiving from `clientId` ("PUBLISH", "PINGREQ", ...). */
export function receivedFrom(broker: Mosquitto, clientId: string): string[] {
  const pattern = new RegExp(`Received ([A-Z]+) from ${escape(clientId)}(?:\\s|$)`, "gm");
  return [...broker.logs().matchAll(pattern)].map((m) => m[1]!);
}

/** The length of a 3.1.1 PUBLISH with a Packet Identifier (QoS 1 or 2). */
export function publishLength(topic: string, payload: string, qos: 1 | 2): number {
  return encodedLength(
    { type: PacketType.Publish, topic, payload: te.encode(payload), qos, packetId: 1 },
    { protocolVersion: 4 },
  );
}

/** The length of PUBACK, PUBREC, PUBREL and PUBCOMP on MQTT 3.1.1: 4 bytes. */
export const ACK_LENGTH: number = encodedLength(
  { type: PacketType.Pubrel, packetId: 1 },
  { protocolVersion: 4 },
);

/** The folder every broker's temporary folder lives in, and this module's ACL files. */
const BROKER_ROOT = new URL("../../.broker/", import.meta.url);

/** A Mosquitto whose `acl_file` holds `acl`; disposing of it stops it and removes the file. */
export async function startMosquittoWithAcl(
  acl: readonly string[],
  options: MosquittoOptions = {},
): Promise<Mosquitto> {
  await Deno.mkdir(BROKER_ROOT, { recursive: true });
  const file = await Deno.makeTempFile({
    dir: decodeURIComponent(BROKER_ROOT.pathname),
    prefix: "acl-",
  });
  try {
    await Deno.writeTextFile(file, acl.join("\n") + "\n");
    const broker = await startMosquitto({
      ...options,
      config: [`acl_file ${file}`, ...(options.config ?? [])],
    });
    const dispose = broker[Symbol.asyncDispose].bind(broker);
    return Object.assign(broker, {
      async [Symbol.asyncDispose]() {
        await dispose();
        await Deno.remove(file).catch(() => {});
      },
    });
  } catch (error) {
    await Deno.remove(file).catch(() => {});
    throw error;
  }
}
