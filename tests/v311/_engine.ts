// Helpers of the MQTT 3.1.1 engine tests: an engine brought up to CONNACK with protocolVersion 4,
// the server's packets as 3.1.1 bytes, what the engine wrote decoded as 3.1.1, a runner for table
// rows, and the checks that a violation or a refused call left nothing queued (3.1.1 has no
// DISCONNECT with a reason code: the client only closes [v3.1.1 MQTT-4.8.0-1]).

import { equal, fail, ok } from "node:assert/strict";
import { decode, encode, frame, type Packet, PacketType } from "../../src/codec/mod.ts";
import {
  type ConnectOptions,
  Engine,
  type EngineEvent,
  type EngineOptions,
  ProtocolViolationError,
  Session,
} from "../../src/session/mod.ts";
import { drain, type Row, runRows, T0, thrown } from "../session/_engine.ts";

export { drain, like, none, T0, thrown } from "../session/_engine.ts";

/** The codec options of a 3.1.1 connection. */
export const V4 = { protocolVersion: 4 } as const;

/** A 3.1.1 CONNACK's bytes: return code and Session Present (section 3.2). */
export function connack4(returnCode = 0, sessionPresent = false): Uint8Array {
  return new Uint8Array([0x20, 0x02, sessionPresent ? 0x01 : 0x00, returnCode]);
}

/**
 * An engine that has queued a 3.1.1 CONNECT at {@linkcode T0} (taken) and awaits the CONNACK.
 * Keep Alive is 0 unless `connectOptions` says otherwise.
 */
export function connecting4(
  connectOptions: ConnectOptions = {},
  engineOptions: EngineOptions = {},
): Engine {
  const engine = new Engine(engineOptions);
  engine.connect({ clientId: "c1", keepAlive: 0, ...connectOptions, protocolVersion: 4 }, T0);
  engine.takeOutput(T0);
  return engine;
}

/**
 * An engine after a 3.1.1 CONNECT and a CONNACK with return code 0 (Session Present as given) at
 * {@linkcode T0}, its output and events drained.
 */
export function connected4(
  connectOptions: ConnectOptions = {},
  engineOptions: EngineOptions = {},
  sessionPresent = false,
): Engine {
  const engine = connecting4(connectOptions, engineOptions);
  engine.receive(connack4(0, sessionPresent), T0);
  equal(engine.nextEvent()?.type, "connected");
  equal(engine.nextEvent(), undefined);
  equal(engine.takeOutput(), undefined);
  return engine;
}

/** A session as a previous connection left it, with flights `awaiting-puback` for `ids`. */
export function sessionWith(ids: number[], nextPacketId = 1): Session {
  return new Session({
    clientId: "c1",
    nextPacketId,
    outgoing: ids.map((packetId) => ({
      packetId,
      state: "awaiting-puback" as const,
      publication: {
        topic: "t",
        payload: new Uint8Array([packetId]),
        qos: 1 as const,
        retain: false,
      },
    })),
  });
}

/** Splits bytes into the whole 3.1.1 packets they hold (fails on a trailing partial packet). */
export function packetsOf4(bytes: Uint8Array | undefined): Packet[] {
  const packets: Packet[] = [];
  if (bytes === undefined) return packets;
  let at = 0;
  while (at < bytes.length) {
    const f = frame(bytes, {}, at);
    if (!f.complete) fail(`the output ends with a partial packet at byte ${at}`);
    packets.push(decode(bytes.subarray(at, at + f.length), V4));
    at += f.length;
  }
  return packets;
}

/** Every packet the engine queued since the last call, decoded as 3.1.1. */
export function sent4(engine: Engine, now?: number): Packet[] {
  return packetsOf4(engine.takeOutput(now));
}

/** The 3.1.1 bytes of server packets, back to back. */
export function bytes4(...packets: Packet[]): Uint8Array {
  const parts = packets.map((p) => encode(p, V4));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function toBytes(input: Packet | Packet[] | Uint8Array): Uint8Array {
  if (input instanceof Uint8Array) return input;
  return Array.isArray(input) ? bytes4(...input) : bytes4(input);
}

/** Hands the engine 3.1.1 server packets (or raw bytes) at `now`; returns the events made. */
export function feed4(
  engine: Engine,
  input: Packet | Packet[] | Uint8Array,
  now = T0,
): EngineEvent[] {
  engine.receive(toBytes(input), now);
  return drain(engine);
}

/** A 3.1.1 PUBLISH from the server, payload "hi". */
export function publish4(topic: string, qos: 0 | 1 | 2, packetId?: number, dup = false): Packet {
  const p: Packet = {
    type: PacketType.Publish,
    topic,
    payload: new Uint8Array([0x68, 0x69]),
    qos,
    ...(dup ? { dup } : {}),
  };
  if (packetId !== undefined) p.packetId = packetId;
  return p;
}

/** A 3.1.1 acknowledgement: no reason code, no properties. */
export function ack4(
  type:
    | typeof PacketType.Puback
    | typeof PacketType.Pubrec
    | typeof PacketType.Pubrel
    | typeof PacketType.Pubcomp
    | typeof PacketType.Unsuback,
  packetId: number,
): Packet {
  return type === PacketType.Unsuback
    ? { type, packetId, reasonCodes: [] }
    : { type, packetId } as Packet;
}

/**
 * Hands the engine `input`, expecting a {@linkcode ProtocolViolationError} on a 3.1.1
 * connection: the engine is closed with that error, its message says no DISCONNECT was sent, and
 * no DISCONNECT is queued [v3.1.1 MQTT-4.8.0-1]. Returns the error, the packets queued before the
 * violation (acknowledgements of what came first) and the events queued before it.
 */
export function violation4(
  engine: Engine,
  input: Packet | Packet[] | Uint8Array,
  now = T0,
): { error: ProtocolViolationError; before: Packet[]; events: EngineEvent[] } {
  const error = thrown(() => engine.receive(toBytes(input), now));
  if (!(error instanceof ProtocolViolationError)) {
    fail(`expected a ProtocolViolationError, got ${error === undefined ? "no error" : error}`);
  }
  const before = sent4(engine);
  ok(
    before.every((p) => p.type !== PacketType.Disconnect),
    "no DISCONNECT is queued on a 3.1.1 connection",
  );
  ok(error.message.includes("MQTT 3.1.1 has no DISCONNECT"), error.message);
  equal(error.recoverable, false);
  equal(engine.state, "closed");
  equal(engine.closeError, error);
  return { error, before, events: drain(engine) };
}

/** One row of a 3.1.1 behaviour table: a {@linkcode Row} whose bytes are 3.1.1. */
export type Row4 = Row;

/** Runs the rows of a 3.1.1 table, each as a step. */
export function runRows4(t: Deno.TestContext, rows: readonly Row4[]): Promise<void> {
  return runRows(t, rows, {
    setup: () => connected4(),
    feed: feed4,
    sent: (e) => sent4(e),
    violation: violation4,
  });
}

/**
 * Asserts that `fn` throws `type` and that the engine queued nothing and left its session and
 * state as they were; returns the error.
 */
export function refused<E extends Error>(
  engine: Engine,
  fn: () => unknown,
  type: abstract new (...a: never[]) => E,
): E {
  const session = JSON.stringify(engine.session.snapshot());
  const state = engine.state;
  const error = thrown(fn);
  ok(error instanceof type, `expected ${type.name}, got ${error}`);
  equal(engine.takeOutput(), undefined, "nothing queued");
  equal(JSON.stringify(engine.session.snapshot()), session, "the session is unchanged");
  equal(engine.state, state, "the state is unchanged");
  return error;
}
