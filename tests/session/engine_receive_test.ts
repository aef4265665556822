// Engine.receive(): bytes from the server split anywhere give the same events and replies as
// whole, and arbitrary bytes give events or a protocol violation (with its DISCONNECT), never any
// other exception. Every test runs with no permissions at all, which proves the engine does no I/O.

import { deepStrictEqual, equal, fail, ok } from "node:assert/strict";
import fc from "fast-check";
import { encode, type Packet, PacketType, type QoS } from "../../src/codec/mod.ts";
import {
  ConnectionRefusedError,
  Engine,
  type EngineEvent,
  ProtocolViolationError,
} from "../../src/session/mod.ts";
import { bytesOf, connected, drain, none, packetsOf, publish, T0, thrown } from "./_engine.ts";

/** A recorded stream of server bytes and the engine, set up, that receives it. */
interface Recording {
  name: string;
  setup: () => Engine;
  bytes: Uint8Array;
}

const big = new Uint8Array(300).map((_, i) => i & 0xff);

const recordings: Recording[] = [
  {
    name: "CONNACK, publications at QoS 0, 1 and 2 with aliases, PUBREL, PINGRESP, DISCONNECT",
    setup: () => {
      const engine = new Engine();
      engine.connect({ clientId: "c1", keepAlive: 0, topicAliasMaximum: 4 }, T0);
      engine.takeOutput();
      return engine;
    },
    bytes: bytesOf(
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: {} },
      publish("a/b", 0, undefined, { topicAlias: 1 }),
      publish("", 1, 7, { topicAlias: 1 }, big), // Remaining Length of 2 bytes
      publish("c", 2, 8, { userProperties: [["k", "v"]] }),
      { ...publish("c", 2, 8), dup: true },
      { type: PacketType.Pubrel, packetId: 8 },
      { type: PacketType.Pingresp },
      { type: PacketType.Disconnect, reasonCode: 0x8b, properties: { reasonString: "bye" } },
    ),
  },
  {
    name: "SUBACK, UNSUBACK, PUBACK, PUBREC, PUBCOMP and an unknown PUBREL, after requests",
    setup: () => {
      const engine = connected();
      engine.subscribe([{ filter: "a/#" }, { filter: "b" }]);
      engine.unsubscribe("x");
      engine.publish({ topic: "t", qos: 1 });
      engine.publish({ topic: "t", qos: 2 });
      engine.takeOutput();
      return engine;
    },
    bytes: bytesOf(
      { type: PacketType.Unsuback, packetId: 2, reasonCodes: [0x11] },
      { type: PacketType.Puback, packetId: 3, reasonCode: 0x10 },
      { type: PacketType.Suback, packetId: 1, reasonCodes: [0, 0x80] },
      { type: PacketType.Pubrec, packetId: 4 },
      { type: PacketType.Pubcomp, packetId: 4 },
      { type: PacketType.Pubrel, packetId: 9 },
      publish("t", 1, 1, {}, big),
    ),
  },
];

/** The events and the packets written for `chunks` handed to `receive()` one after the other. */
function run(rec: Recording, chunks: Uint8Array[]): { events: EngineEvent[]; out: Packet[] } {
  const engine = rec.setup();
  const events: EngineEvent[] = [];
  for (const chunk of chunks) {
    engine.receive(chunk, T0);
    events.push(...drain(engine));
  }
  return { events, out: packetsOf(engine.takeOutput()) };
}

Deno.test(
  "Engine.receive() gives the same events and replies for a stream split at every offset",
  none,
  async (t) => {
    for (const rec of recordings) {
      await t.step(rec.name, () => {
        const whole = run(rec, [rec.bytes]);
        ok(whole.events.length >= 6, "the recording makes events");
        for (let k = 0; k <= rec.bytes.length; k++) {
          const split = run(rec, [rec.bytes.subarray(0, k), rec.bytes.subarray(k)]);
          deepStrictEqual(split, whole, `split at ${k}`);
        }
        const bytewise = run(rec, Array.from(rec.bytes, (b) => new Uint8Array([b])));
        deepStrictEqual(bytewise, whole, "one byte at a time");
      });
    }
  },
);

Deno.test(
  "Engine.receive() gives the same events and replies for a stream cut into any chunks (property)",
  none,
  () => {
    for (const rec of recordings) {
      const whole = run(rec, [rec.bytes]);
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 1, max: rec.bytes.length - 1 }), { maxLength: 20 }),
          (cuts) => {
            const at = [0, ...cuts.sort((a, b) => a - b), rec.bytes.length];
            const chunks = at.slice(1).map((end, i) => rec.bytes.slice(at[i], end));
            deepStrictEqual(run(rec, chunks), whole);
          },
        ),
      );
    }
  },
);

/** Server packets of every type, valid or not for the engine's state, and not all encodable. */
const serverPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    type: fc.constant(PacketType.Publish),
    topic: fc.constantFrom("a", "a/b", ""),
    qos: fc.constantFrom<QoS>(0, 1, 2),
    packetId: fc.integer({ min: 1, max: 6 }),
    dup: fc.boolean(),
    payload: fc.uint8Array({ maxLength: 8 }),
    properties: fc.record(
      {
        topicAlias: fc.integer({ min: 1, max: 6 }),
        payloadFormatIndicator: fc.constantFrom<0 | 1>(0, 1),
        userProperties: fc.constant<[string, string][]>([["k", "v"]]),
      },
      { requiredKeys: [] },
    ),
  }).map((p): Packet => {
    if (p.qos > 0) return p;
    const { packetId: _, ...rest } = p;
    return { ...rest, dup: false };
  }),
  fc.record({
    type: fc.constantFrom(
      PacketType.Puback,
      PacketType.Pubrec,
      PacketType.Pubrel,
      PacketType.Pubcomp,
    ),
    packetId: fc.integer({ min: 1, max: 6 }),
    reasonCode: fc.constantFrom(0, 0x10, 0x80, 0x92),
  }) as fc.Arbitrary<Packet>,
  fc.record({
    type: fc.constantFrom(PacketType.Suback, PacketType.Unsuback),
    packetId: fc.integer({ min: 1, max: 6 }),
    reasonCodes: fc.array(fc.constantFrom(0, 1, 2, 0x11, 0x80), { minLength: 1, maxLength: 3 }),
  }) as fc.Arbitrary<Packet>,
  fc.constant<Packet>({ type: PacketType.Pingresp }),
  fc.record({
    type: fc.constant(PacketType.Disconnect),
    reasonCode: fc.constantFrom(0, 0x8b, 0x8e),
    properties: fc.record({ sessionExpiryInterval: fc.nat(10) }, { requiredKeys: [] }),
  }),
  fc.record({
    type: fc.constant(PacketType.Auth),
    reasonCode: fc.constantFrom(0, 0x18, 0x19),
    properties: fc.constant({ authenticationMethod: "A" }),
  }),
  fc.record({
    type: fc.constant(PacketType.Connack),
    sessionPresent: fc.constant(false),
    reasonCode: fc.constantFrom(0, 0x80),
  }),
);

/** Bytes a server might send: packets whole, packets with a byte changed, or noise. */
const serverBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  serverPacket.map((p) => {
    try {
      return encode(p);
    } catch {
      return new Uint8Array([0xd0, 0x00]); // PINGRESP in place of what does not encode
    }
  }),
  fc.tuple(serverPacket, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([p, at, b]) => {
    try {
      const bytes = encode(p);
      bytes[at % bytes.length] = b;
      return bytes;
    } catch {
      return new Uint8Array([b]);
    }
  }),
  fc.uint8Array({ maxLength: 12 }),
);

/** An engine after CONNACK with a SUBSCRIBE (1) and flights at QoS 1 (2) and 2 (3) pending. */
function target(): Engine {
  const engine = connected({}, {}, { topicAliasMaximum: 4, receiveMaximum: 4 });
  engine.subscribe({ filter: "a/#" });
  engine.publish({ topic: "t", qos: 1 });
  engine.publish({ topic: "t", qos: 2 });
  engine.takeOutput();
  return engine;
}

/**
 * Hands `chunks` to `receive()` until the engine closes and checks the outcome of each call:
 * events, or ProtocolViolationError with its DISCONNECT as the last packet written, or
 * ConnectionRefusedError; the state closed after a throw.
 */
function checkReceive(chunks: Uint8Array[]): void {
  const engine = target();
  for (const chunk of chunks) {
    if (engine.state === "closed") return;
    let error: unknown;
    try {
      engine.receive(chunk, T0);
    } catch (e) {
      error = e;
    }
    const out = packetsOf(engine.takeOutput());
    drain(engine);
    if (error === undefined) {
      ok(
        out.every((p) => p.type !== PacketType.Disconnect),
        "no DISCONNECT without a violation",
      );
      continue;
    }
    if (error instanceof ProtocolViolationError) {
      deepStrictEqual(out.at(-1), {
        type: PacketType.Disconnect,
        reasonCode: error.reasonCode,
      });
    } else if (!(error instanceof ConnectionRefusedError)) {
      fail(`receive() threw ${error} for chunk [${chunk}]`);
    }
    equal(engine.state, "closed");
    return;
  }
}

Deno.test(
  "Engine.receive() after CONNACK: arbitrary bytes give events or a violation with its DISCONNECT, never another exception (property)",
  none,
  () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(serverBytes, { minLength: 1, maxLength: 6 }), {
          minLength: 1,
          maxLength: 4,
        }),
        (chunks) => checkReceive(chunks.map((parts) => concat(parts))),
      ),
      { numRuns: 2_000 },
    );
  },
);

Deno.test(
  "Engine.receive() after CONNACK: seeded random noise gives events or a violation, never another exception",
  none,
  () => {
    // A small linear congruential generator: the same bytes on every run.
    let seed = 0x5eed;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) & 0xff;
    for (let run = 0; run < 2_000; run++) {
      const length = 1 + (next() % 64);
      const bytes = Uint8Array.from({ length }, next);
      // Packet types the server sends, so that some bytes frame as packets.
      bytes[0] = (bytes[0]! & 0x0f) | [0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xb0][run % 8]!;
      checkReceive([bytes]);
    }
  },
);

Deno.test(
  "Engine.receive() ignores what follows the server's DISCONNECT in the same bytes [MQTT-3.14.4-1]",
  none,
  async (t) => {
    const rows: [name: string, after: Uint8Array][] = [
      ["a PINGRESP", new Uint8Array([0xd0, 0x00])],
      ["a PUBLISH", bytesOf(publish("t", 1, 1))],
      ["a malformed packet", new Uint8Array([0x00, 0x00])],
    ];
    for (const [name, after] of rows) {
      await t.step(`${name} after DISCONNECT: no error, nothing sent, nothing delivered`, () => {
        const engine = connected();
        const disconnect = bytesOf({ type: PacketType.Disconnect, reasonCode: 0x8b });
        const error = thrown(() => engine.receive(concat([disconnect, after]), T0));
        equal(error, undefined, `receive() threw ${error}`);
        deepStrictEqual(drain(engine).map((e) => e.type), ["disconnected"]);
        equal(engine.state, "closed");
        equal(engine.takeOutput(), undefined);
        equal(engine.closeError?.reasonCode, 0x8b, "the server's DISCONNECT stays the reason");
      });
    }
  },
);

Deno.test(
  "Engine.receive() refuses a packet over the client's Maximum Packet Size: 0x95 [MQTT-3.1.2-24]",
  none,
  () => {
    const engine = connected({}, {}, { maximumPacketSize: 64 });
    engine.receive(bytesOf(publish("t", 0, undefined, {}, new Uint8Array(50))), T0);
    let error: unknown;
    try {
      engine.receive(
        bytesOf(publish("t", 0, undefined, {}, new Uint8Array(60))).subarray(0, 5),
        T0,
      );
    } catch (e) {
      error = e;
    }
    ok(error instanceof ProtocolViolationError, String(error));
    equal(error.reasonCode, 0x95);
    deepStrictEqual(packetsOf(engine.takeOutput()), [
      { type: PacketType.Disconnect, reasonCode: 0x95 },
    ]);
    equal(engine.state, "closed");
  },
);

Deno.test(
  "Engine.receive() answers a malformed packet with DISCONNECT 0x81 (section 4.13)",
  none,
  () => {
    const engine = connected();
    let error: unknown;
    try {
      engine.receive(new Uint8Array([0x36, 0x00]), T0); // PUBLISH with QoS 3 [MQTT-3.3.1-4]
    } catch (e) {
      error = e;
    }
    ok(error instanceof ProtocolViolationError, String(error));
    equal(error.reasonCode, 0x81);
    deepStrictEqual(packetsOf(engine.takeOutput()), [
      { type: PacketType.Disconnect, reasonCode: 0x81 },
    ]);
  },
);

/** Concatenates byte arrays. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
