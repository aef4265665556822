// Helpers of the engine tests: an engine brought up to CONNACK, the server's packets as bytes,
// what the engine wrote decoded back into packets, and a runner for table rows of
// (state set-up, input) -> (packets out, events, violation reason code).

import { deepStrictEqual, equal, fail, ok } from "node:assert/strict";
import {
  type Connack,
  type ConnackProperties,
  decode,
  encode,
  frame,
  type Packet,
  PacketType,
  type Publish,
  type PublishProperties,
  type QoS,
} from "../../src/codec/mod.ts";
import {
  type ConnectOptions,
  Engine,
  type EngineEvent,
  type EngineOptions,
  ProtocolViolationError,
} from "../../src/session/mod.ts";

/** Engine tests need no permission at all: that proves the engine does no I/O. */
export const none = { permissions: "none" } as const;

/** The time of the CONNECT and the CONNACK in {@linkcode connected}, in milliseconds. */
export const T0 = 1_000;

/**
 * An engine after CONNECT (with `connectOptions`) and a successful CONNACK (with `connackProps`,
 * Session Present 0) at {@linkcode T0}, its output and events drained. The CONNECT uses Keep
 * Alive 0 unless `connectOptions` says otherwise, so no timer matters to tests that do not look
 * at keep alive.
 */
export function connected(
  engineOptions: EngineOptions = {},
  connackProps: ConnackProperties = {},
  connectOptions: ConnectOptions = {},
): Engine {
  const engine = connecting(connectOptions, engineOptions);
  engine.receive(connack(connackProps), T0);
  equal(engine.nextEvent()?.type, "connected");
  equal(engine.nextEvent(), undefined);
  equal(engine.takeOutput(), undefined);
  return engine;
}

/** An engine that has queued CONNECT at {@linkcode T0} (taken) and awaits the CONNACK. */
export function connecting(
  connectOptions: ConnectOptions = {},
  engineOptions: EngineOptions = {},
): Engine {
  const engine = new Engine(engineOptions);
  engine.connect({ clientId: "c1", keepAlive: 0, ...connectOptions }, T0);
  engine.takeOutput(T0);
  return engine;
}

/** A successful CONNACK. */
export function connackPacket(
  properties: ConnackProperties = {},
  sessionPresent = false,
): Connack {
  return { type: PacketType.Connack, sessionPresent, reasonCode: 0, properties };
}

/** A CONNACK's bytes. */
export function connack(
  properties: ConnackProperties = {},
  sessionPresent = false,
  reasonCode = 0,
): Uint8Array {
  return encode({ type: PacketType.Connack, sessionPresent, reasonCode, properties });
}

/** Splits bytes into the whole packets they hold (fails on a trailing partial packet). */
export function packetsOf(bytes: Uint8Array | undefined): Packet[] {
  const packets: Packet[] = [];
  if (bytes === undefined) return packets;
  let at = 0;
  while (at < bytes.length) {
    const f = frame(bytes, {}, at);
    if (!f.complete) fail(`the output ends with a partial packet at byte ${at}`);
    packets.push(decode(bytes.subarray(at, at + f.length)));
    at += f.length;
  }
  return packets;
}

/** Every packet the engine queued since the last call, decoded. */
export function sent(engine: Engine, now?: number): Packet[] {
  return packetsOf(engine.takeOutput(now));
}

/** The bytes of server packets, back to back. */
export function bytesOf(...packets: Packet[]): Uint8Array {
  const parts = packets.map((p) => encode(p));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Every event queued, in order. */
export function drain(engine: Engine): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (let e = engine.nextEvent(); e !== undefined; e = engine.nextEvent()) events.push(e);
  return events;
}

/** Hands the engine server packets (or raw bytes) at `now` and returns the events they made. */
export function feed(
  engine: Engine,
  input: Packet | Packet[] | Uint8Array,
  now = T0,
): EngineEvent[] {
  engine.receive(toBytes(input), now);
  return drain(engine);
}

function toBytes(input: Packet | Packet[] | Uint8Array): Uint8Array {
  if (input instanceof Uint8Array) return input;
  return Array.isArray(input) ? bytesOf(...input) : bytesOf(input);
}

/** A PUBLISH from the server. */
export function publish(
  topic: string,
  qos: QoS,
  packetId?: number,
  properties?: PublishProperties,
  payload: Uint8Array = new Uint8Array([0x68, 0x69]),
): Publish {
  const p: Publish = { type: PacketType.Publish, topic, payload, qos };
  if (packetId !== undefined) p.packetId = packetId;
  if (properties !== undefined) p.properties = properties;
  return p;
}

/**
 * Asserts that `actual` has every field of `expected` with an equal value (fields `expected`
 * leaves out are not looked at), with the diff of the fields compared.
 */
export function like(actual: readonly unknown[], expected: readonly object[], what = ""): void {
  deepStrictEqual(
    actual.map((a, i) => expected[i] === undefined ? a : pick(a, expected[i])),
    expected,
    what,
  );
}

function pick(actual: unknown, keys: object): unknown {
  if (actual === null || typeof actual !== "object") return actual;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(keys)) out[k] = (actual as Record<string, unknown>)[k];
  return out;
}

/**
 * Hands the engine `input`, expecting a {@linkcode ProtocolViolationError}: the DISCONNECT with
 * its reason code is the last packet queued, the state is closed, and the packets before it are
 * returned (with the error and the events queued before the violation).
 */
export function violation(
  engine: Engine,
  input: Packet | Packet[] | Uint8Array,
  now = T0,
): { error: ProtocolViolationError; before: Packet[]; events: EngineEvent[] } {
  let error: unknown;
  try {
    engine.receive(toBytes(input), now);
  } catch (e) {
    error = e;
  }
  if (!(error instanceof ProtocolViolationError)) {
    fail(`expected a ProtocolViolationError, got ${error === undefined ? "no error" : error}`);
  }
  const out = sent(engine);
  const last = out.pop();
  ok(last !== undefined, "a DISCONNECT is queued");
  deepStrictEqual(last, { type: PacketType.Disconnect, reasonCode: error.reasonCode });
  equal(engine.state, "closed");
  equal(engine.closeError, error);
  return { error, before: out, events: drain(engine) };
}

/**
 * One row of a behaviour table: an engine set up, an input from the server, and what must come
 * out: the packets the engine queued, the events (compared field by field), or the reason code
 * of the DISCONNECT answering a violation (the packets and events before it are compared too).
 */
export interface Row {
  /** The behaviour, with the statement it covers. */
  name: string;
  /** The engine, ready for the input. @default {connected()} */
  setup?: () => Engine;
  /** The server's packets or raw bytes. */
  input: Packet | Packet[] | Uint8Array;
  /** The packets queued in reply (before the DISCONNECT, for a violation). @default {[]} */
  out?: Partial<Packet>[];
  /** The events, compared on the fields given. @default {[]} */
  events?: Partial<EngineEvent>[];
  /** The reason code of the client's DISCONNECT when the input breaks a rule. */
  violation?: number;
  /** The statement the violation error names, where it names one. */
  statement?: string;
  /** Further checks on the engine afterwards. */
  then?: (engine: Engine) => void;
}

/** How a table's rows are driven: the default engine and the codec version of what goes in and out. */
export interface RowKit {
  /** The engine a row without `setup` starts from. */
  setup: () => Engine;
  /** Hands the server's input to the engine; returns the events. */
  feed: (engine: Engine, input: Packet | Packet[] | Uint8Array) => EngineEvent[];
  /** The packets the engine queued. */
  sent: (engine: Engine) => Packet[];
  /** The violation the input causes, with what came before it. */
  violation: (
    engine: Engine,
    input: Packet | Packet[] | Uint8Array,
  ) => { error: ProtocolViolationError; before: Packet[]; events: EngineEvent[] };
}

/** Runs the rows of a table, each as a step (MQTT 5.0 unless `kit` says otherwise). */
export async function runRows(
  t: Deno.TestContext,
  rows: readonly Row[],
  kit: RowKit = { setup: () => connected(), feed, sent: (e) => sent(e), violation },
): Promise<void> {
  for (const row of rows) {
    await t.step(row.name, () => {
      const engine = (row.setup ?? kit.setup)();
      if (row.violation === undefined) {
        const events = kit.feed(engine, row.input);
        like(kit.sent(engine), row.out ?? [], "packets out");
        like(events, row.events ?? [], "events");
      } else {
        const { error, before, events } = kit.violation(engine, row.input);
        equal(error.reasonCode, row.violation, error.message);
        if (row.statement !== undefined) equal(error.statement, row.statement);
        like(before, row.out ?? [], "packets out before the violation");
        like(events, row.events ?? [], "events before the violation");
      }
      row.then?.(engine);
    });
  }
}

/** What `fn` throws, or `undefined` if it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
