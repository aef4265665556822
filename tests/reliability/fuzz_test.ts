// Property-based fuzzing of the client's packet handling (npm:fast-check). After a valid CONNACK,
// an in-memory transport feeds the client arbitrary bytes (random bytes, valid server packet
// sequences, and those sequences mutated: bit flips, bytes set, inserted and deleted, truncation,
// tampered lengths, a huge announced length) in arbitrary chunkings, while the client has QoS 1/2
// flights, a SUBSCRIBE and an UNSUBSCRIBE in flight and maybe an incoming QoS 2 id. It checks:
//
// - every poll returns an event or throws an MqttError, or the abort reason of its own signal;
// - no poll hangs (each is bounded by a signal; the stream says when it has nothing left);
// - the client never offers a read buffer larger than its maximumPacketSize (or, without one, than
//   twice what it received, beyond its 64 KiB read-ahead buffer);
// - what it wrote decodes as valid client packets within the server's Maximum Packet Size
//   [MQTT-3.2.2-15], nothing after a DISCONNECT [MQTT-3.14.4-1] nor after closing
//   [MQTT-3.14.4-2], and after ProtocolViolationError the last packet is the DISCONNECT with the
//   error's reason code (4.13.1), one a DISCONNECT may carry [MQTT-3.14.2-1];
// - the session stays well formed, and a new client resumes it: resend() sends each flight again.
//
// CI runs a bounded number of inputs; `deno task reliability` a long run (`--fuzz-runs=n`).

import { deepStrictEqual, equal, fail, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  Client,
  type ClientEvent,
  type ConnectOptions,
  encode,
  MqttError,
  NotConnectedError,
  type Packet,
  PacketType,
  ProtocolViolationError,
  Session,
} from "../../mod.ts";
import { checkSession, concat, decodeAll, scriptedTransport } from "./_fake.ts";
import { param, report, seed } from "./_params.ts";

const RUNS = param("fuzz-runs", 3000, 300_000);
const READ_AHEAD = 65_536;

// ---------------------------------------------------------------------------------------------
// Server packets
// ---------------------------------------------------------------------------------------------

const id = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff }) },
);
const topic = fc.constantFrom("a", "a/b", "t/x", "", "$SYS/x", "é/ü");
const smallBytes = fc.uint8Array({ maxLength: 40 });
const reason = (codes: number[]) => fc.constantFrom(...codes);
const ackReasons = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const reasonString = fc.option(fc.constantFrom("why", "x".repeat(60)), { nil: undefined });

const publish = fc.record({
  topic,
  qos: fc.constantFrom(0, 1, 2),
  packetId: id,
  dup: fc.boolean(),
  retain: fc.boolean(),
  payload: fc.oneof(smallBytes, fc.uint8Array({ minLength: 100, maxLength: 3000 })),
  topicAlias: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  payloadFormatIndicator: fc.option(fc.constantFrom(0, 1), { nil: undefined }),
  subscriptionIdentifiers: fc.option(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 2 }), {
    nil: undefined,
  }),
}).map((p): Packet => ({
  type: PacketType.Publish,
  topic: p.topic,
  qos: p.qos as 0 | 1 | 2,
  ...(p.qos > 0 ? { packetId: p.packetId, dup: p.dup } : {}),
  retain: p.retain,
  payload: p.payload,
  properties: {
    ...(p.topicAlias !== undefined ? { topicAlias: p.topicAlias } : {}),
    ...(p.payloadFormatIndicator !== undefined
      ? { payloadFormatIndicator: p.payloadFormatIndicator }
      : {}),
    ...(p.subscriptionIdentifiers?.length
      ? { subscriptionIdentifiers: p.subscriptionIdentifiers }
      : {}),
  },
}));

const ack = fc.record({
  type: fc.constantFrom(
    PacketType.Puback,
    PacketType.Pubrec,
    PacketType.Pubrel,
    PacketType.Pubcomp,
  ),
  packetId: id,
  code: fc.nat(),
  reasonString,
}).map(({ type, packetId, code, reasonString }): Packet => {
  const codes = type === PacketType.Pubrel || type === PacketType.Pubcomp ? [0, 0x92] : ackReasons;
  return {
    type,
    packetId,
    reasonCode: codes[code % codes.length]!,
    ...(reasonString ? { properties: { reasonString } } : {}),
  } as Packet;
});

const subAck = fc.record({
  type: fc.constantFrom(PacketType.Suback, PacketType.Unsuback),
  packetId: id,
  codes: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
}).map(({ type, packetId, codes }): Packet => {
  const allowed = type === PacketType.Suback ? [0, 1, 2, 0x80, 0x87, 0xa2] : [0, 0x11, 0x80];
  return { type, packetId, reasonCodes: codes.map((c) => allowed[c % allowed.length]!) } as Packet;
});

const other = fc.oneof(
  fc.constant<Packet>({ type: PacketType.Pingresp }),
  fc.record({
    reasonCode: reason([0x00, 0x04, 0x81, 0x8e, 0x9c]),
    reasonString,
    sessionExpiryInterval: fc.option(fc.constant(5), { nil: undefined }),
    serverReference: fc.option(fc.constant("other:1883"), { nil: undefined }),
  }).map(({ reasonCode, reasonString, sessionExpiryInterval, serverReference }): Packet => ({
    type: PacketType.Disconnect,
    reasonCode,
    properties: {
      ...(reasonString ? { reasonString } : {}),
      ...(sessionExpiryInterval !== undefined ? { sessionExpiryInterval } : {}),
      ...(serverReference ? { serverReference } : {}),
    },
  })),
  fc.record({ reasonCode: reason([0x00, 0x18, 0x19]), method: fc.boolean() }).map((a): Packet => ({
    type: PacketType.Auth,
    reasonCode: a.reasonCode,
    properties: a.method ? { authenticationMethod: "SCRAM" } : {},
  })),
  fc.constant<Packet>({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }),
  // Packets only a client sends.
  fc.constant<Packet>({ type: PacketType.Pingreq }),
  fc.constant<Packet>({
    type: PacketType.Subscribe,
    packetId: 1,
    subscriptions: [{ filter: "a/#", qos: 1 }],
  }),
  fc.constant<Packet>({ type: PacketType.Connect, cleanStart: true, keepAlive: 0, clientId: "x" }),
);

const serverPacket = fc.oneof(
  { weight: 5, arbitrary: publish },
  { weight: 5, arbitrary: ack },
  { weight: 2, arbitrary: subAck },
  { weight: 2, arbitrary: other },
);

/**
 * What a well-behaved server answers to the client's set-up (PUBACK 1, PUBREC and PUBCOMP 2,
 * SUBACK 3, UNSUBACK 4) with its own QoS 1 and 2 messages and their PUBRELs, in an order it may
 * choose, so that mutations hit deep states rather than the first unexpected packet id.
 */
const coherent = fc.tuple(
  fc.array(publish, { maxLength: 3 }),
  fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6]),
).map(([messages, order]) => {
  const replies: Packet[] = [
    { type: PacketType.Puback, packetId: 1, reasonCode: 0 },
    { type: PacketType.Pubrec, packetId: 2, reasonCode: 0 },
    { type: PacketType.Pubcomp, packetId: 2, reasonCode: 0 },
    { type: PacketType.Suback, packetId: 3, reasonCodes: [1] },
    { type: PacketType.Unsuback, packetId: 4, reasonCodes: [0x11] },
    { type: PacketType.Pubrel, packetId: 9, reasonCode: 0 },
    { type: PacketType.Pingresp },
  ];
  const ps: Packet[] = order.map((i) => replies[i]!);
  for (const m of messages) {
    ps.push(m);
    if (m.type === PacketType.Publish && m.qos === 2) {
      ps.push({ type: PacketType.Pubrel, packetId: m.packetId!, reasonCode: 0 });
    }
  }
  return ps;
});

/** Encodes the packet as a lenient server would; `undefined` when the codec refuses it. */
function bytesOf(p: Packet): Uint8Array | undefined {
  try {
    return encode(p, { strict: false });
  } catch {
    return undefined;
  }
}

/** A mutation of a byte string; positions are taken modulo its length. */
const mutation = fc.record({
  op: fc.constantFrom("flip", "set", "insert", "delete", "truncate", "length", "huge"),
  at: fc.nat(),
  value: fc.nat({ max: 255 }),
});
type Mutation = { op: string; at: number; value: number };

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = [...bytes];
  for (const { op, at, value } of mutations) {
    const i = b.length === 0 ? 0 : at % b.length;
    switch (op) {
      case "flip":
        if (b.length) b[i] = b[i]! ^ (1 << (value & 7));
        break;
      case "set":
        if (b.length) b[i] = value;
        break;
      case "insert":
        b.splice(i, 0, value);
        break;
      case "delete":
        b.splice(i, 1);
        break;
      case "truncate":
        b = b.slice(0, i);
        break;
      case "length":
        if (b.length) b[i] = [0x00, 0x7f, 0x80, 0xff, 0x01][value % 5]!;
        break;
      default:
        // A packet announcing a length near the protocol's largest (about 256 MiB), then some
        // bytes of it.
        b.splice(i, 0, 0x30, 0xff, 0xff, 0xff, 0x7f - (value & 0x0f));
    }
  }
  return new Uint8Array(b);
}

const packets = fc.oneof(fc.array(serverPacket, { minLength: 1, maxLength: 8 }), coherent);

const input = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: "random", b })) },
  {
    weight: 2,
    arbitrary: packets.map((ps) => ({
      kind: "valid",
      b: concat(ps.map(bytesOf).filter((b) => b !== undefined)),
    })),
  },
  {
    weight: 4,
    arbitrary: fc.tuple(
      packets,
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
    ).map(([ps, ms]) => ({
      kind: "mutated",
      b: mutate(concat(ps.map(bytesOf).filter((b) => b !== undefined)), ms),
    })),
  },
);

// ---------------------------------------------------------------------------------------------
// The client's set-up
// ---------------------------------------------------------------------------------------------

const setup = fc.record({
  maximumPacketSize: fc.option(fc.integer({ min: 32, max: 4000 }), { nil: undefined }),
  topicAliasMaximum: fc.constantFrom(0, 0, 3, 6),
  receiveMaximum: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  requestProblemInformation: fc.boolean(),
  manualAck: fc.boolean(),
  strict: fc.boolean(),
  /** The server's CONNACK limits. */
  serverMaximumPacketSize: fc.option(fc.integer({ min: 64, max: 2000 }), { nil: undefined }),
  serverReceiveMaximum: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  /** Whether a QoS 2 message arrives (and is acknowledged) before the fuzzed bytes. */
  incoming: fc.boolean(),
  end: fc.constantFrom("eof", "stall") as fc.Arbitrary<"eof" | "stall">,
  /** Sometimes the server stops reading: writes after the n-th never complete. */
  stuckAfter: fc.oneof(
    { weight: 9, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }) },
  ),
  /** Cut points for the chunking (taken modulo the stream's length). */
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  /** In manual mode: which messages to acknowledge, and with which code. */
  acks: fc.array(fc.constantFrom(0, 0x80, -1), { maxLength: 8 }),
});
type Setup = typeof setup extends fc.Arbitrary<infer T> ? T : never;

function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  if (bytes.length === 0) return [];
  const at = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const c of [...at, bytes.length]) {
    if (c > start) chunks.push(bytes.subarray(start, c));
    start = c;
  }
  return chunks;
}

const CLIENT_TYPES = new Set<number>([
  PacketType.Connect,
  PacketType.Publish,
  PacketType.Puback,
  PacketType.Pubrec,
  PacketType.Pubrel,
  PacketType.Pubcomp,
  PacketType.Subscribe,
  PacketType.Unsubscribe,
  PacketType.Pingreq,
  PacketType.Disconnect,
  PacketType.Auth,
]);

const stats = {
  inputs: 0,
  bytes: 0,
  polls: 0,
  events: 0,
  violations: {} as Record<string, number>,
  closed: 0,
  stalled: 0,
  stuck: 0,
  largestReadBuffer: 0,
};

class Stalled extends Error {}
class Stuck extends Error {}
class Hung extends Error {}

async function run(s: Setup, fuzz: { kind: string; b: Uint8Array }): Promise<void> {
  const te = new TextEncoder();
  const connack = encode({
    type: PacketType.Connack,
    sessionPresent: false,
    reasonCode: 0,
    properties: {
      ...(s.serverMaximumPacketSize ? { maximumPacketSize: s.serverMaximumPacketSize } : {}),
      ...(s.serverReceiveMaximum ? { receiveMaximum: s.serverReceiveMaximum } : {}),
      topicAliasMaximum: 2,
    },
  });
  // A QoS 2 message before the fuzzed bytes: its id (9) is then in the session's incoming ids.
  const before = s.incoming
    ? encode({
      type: PacketType.Publish,
      topic: "in",
      qos: 2,
      packetId: 9,
      payload: te.encode("m"),
    })
    : new Uint8Array(0);
  const stream = concat([connack, before, fuzz.b]);
  // Each call gets its own controller: aborted when the stream has nothing left (the call waits
  // for the server) or when a write gets stuck (the caller gives up on a server that stopped
  // reading); once stuck, every call also has a deadline of 2 ms. A 5 s timer catches hangs.
  let op = new AbortController();
  let stuck = false;
  const st = scriptedTransport(chunked(stream, s.cuts), {
    end: s.end,
    onStall: () => op.abort(new Stalled("nothing more to read")),
    ...(s.stuckAfter !== undefined ? { stuckAfter: s.stuckAfter } : {}),
    onStuck: () => {
      stuck = true;
      op.abort(new Stuck("the server stopped reading"));
    },
  });
  const hang = new AbortController();
  const timer = setTimeout(() => hang.abort(new Hung("a call hung for 5 s")), 5000);
  const signal = () => {
    op = new AbortController();
    return AbortSignal.any([op.signal, hang.signal, ...stuck ? [AbortSignal.timeout(2)] : []]);
  };
  /** An error a call may throw: an MqttError, or the reason of its own signal. */
  const expected = (e: unknown) => {
    if (e instanceof Hung || hang.signal.aborted) fail(String(hang.signal.reason));
    ok(
      e instanceof MqttError || e instanceof Stalled || e instanceof Stuck ||
        (stuck && e instanceof DOMException && e.name === "TimeoutError"),
      `unexpected: ${e}`,
    );
  };
  const session = new Session();
  const client = new Client({ session, manualAck: s.manualAck, strict: s.strict });
  const options: ConnectOptions = {
    clientId: "fuzz",
    cleanStart: true,
    sessionExpiryInterval: 60,
    topicAliasMaximum: s.topicAliasMaximum,
    requestProblemInformation: s.requestProblemInformation,
    ...(s.maximumPacketSize !== undefined ? { maximumPacketSize: s.maximumPacketSize } : {}),
    ...(s.receiveMaximum !== undefined ? { receiveMaximum: s.receiveMaximum } : {}),
  };
  let thrown: unknown;
  try {
    try {
      await client.connect(st.transport, { ...options, signal: signal() });
    } catch (e) {
      // Only a server that stopped reading at once can stop the connect.
      ok(stuck, String(e));
      expected(e);
      return;
    }
    // Flights and acknowledgements for the fuzzed bytes to hit: ids 1 to 4, in this order.
    const calls = [
      () => client.publish({ topic: "out/1", qos: 1, signal: signal() }, "one"),
      () => client.publish({ topic: "out/2", qos: 2, signal: signal() }, "two"),
      () => client.subscribe({ filter: "a/#", qos: 2 }, { signal: signal() }),
      () => client.unsubscribe("b/#", { signal: signal() }),
    ];
    for (const call of calls) {
      try {
        await call();
      } catch (e) {
        // Quota used up (the server's Receive Maximum may be 1), or a stuck write given up on.
        expected(e);
        if (e instanceof MqttError) ok(e.recoverable, String(e));
      }
    }
    if (s.incoming) {
      try {
        const m = await client.poll({ signal: signal() });
        equal(m.type, "message");
        if (s.manualAck) await client.acknowledge(9, { signal: signal() });
      } catch (e) {
        ok(stuck, String(e));
        expected(e);
      }
    }
    const snapshotBefore = JSON.stringify(session.snapshot());
    let acks = 0;
    let events = 0;
    for (let polls = 0; polls < 40; polls++) {
      let event: ClientEvent;
      try {
        stats.polls++;
        event = await client.poll({ signal: signal() });
      } catch (e) {
        expected(e);
        thrown = e;
        // The caller gave up on a stuck write: the client is still usable, poll on.
        if (e instanceof MqttError || e instanceof Stalled) break;
        continue;
      }
      stats.events++;
      events++;
      if (event.type === "message") {
        ok(event.topic.length > 0, "a message has its topic, aliases resolved");
        if (s.maximumPacketSize !== undefined) ok(event.payload.length <= s.maximumPacketSize);
        if (s.manualAck && event.packetId !== undefined) {
          const code = s.acks[acks++ % Math.max(1, s.acks.length)] ?? 0;
          if (code >= 0) {
            await client.acknowledge(event.packetId, { reasonCode: code, signal: signal() })
              .catch(expected);
          }
        }
      }
      if (event.type === "disconnected") {
        equal(client.state, "closed");
        break;
      }
    }
    if (thrown instanceof Stalled) {
      stats.stalled++;
      equal(client.state, "connected", "a poll aborted leaves the client connected");
    } else if (thrown instanceof MqttError) {
      ok(!thrown.recoverable, `a recoverable error from poll: ${thrown}`);
      equal(client.state, "closed");
      ok(st.closed, "the transport is closed");
      let next: unknown;
      await client.poll().catch((e) => next = e);
      ok(next instanceof NotConnectedError, "the next poll says: not connected");
      if (thrown instanceof ProtocolViolationError) {
        const key = `0x${thrown.reasonCode.toString(16)}`;
        stats.violations[key] = (stats.violations[key] ?? 0) + 1;
      } else stats.closed++;
    }
    if (stuck) stats.stuck++;

    // What the client wrote: valid client packets, within the server's limit, nothing after a
    // DISCONNECT, and the DISCONNECT of a violation last with its code (unless writes were stuck).
    const written = decodeAll(st.written(), {
      strict: s.strict,
      ...(s.serverMaximumPacketSize ? { maximumPacketSize: s.serverMaximumPacketSize } : {}),
    });
    equal(written[0]!.type, PacketType.Connect);
    for (const p of written) ok(CLIENT_TYPES.has(p.type), `the client wrote type ${p.type}`);
    const disconnects = written.filter((p) => p.type === PacketType.Disconnect);
    ok(disconnects.length <= 1, "one DISCONNECT at most");
    if (disconnects.length === 1) equal(written.at(-1)!.type, PacketType.Disconnect);
    if (thrown instanceof ProtocolViolationError && !stuck) {
      deepStrictEqual(written.at(-1), {
        type: PacketType.Disconnect,
        reasonCode: thrown.reasonCode,
      });
    }
    equal(st.writtenAfterClose, 0, "nothing written after closing");

    // Memory: no read buffer above the limit, or above twice what came in.
    const bound = Math.max(READ_AHEAD, s.maximumPacketSize ?? 2 * st.fed);
    ok(
      st.largestReadBuffer <= bound,
      `a read buffer of ${st.largestReadBuffer} bytes, above ${bound} (${st.fed} bytes received)`,
    );
    stats.largestReadBuffer = Math.max(stats.largestReadBuffer, st.largestReadBuffer);

    // The session: well formed, untouched when the bytes were refused, and resumable.
    checkSession(session);
    if (thrown instanceof ProtocolViolationError && events === 0) {
      // Every change of the session comes with an event: with none, the session is as it was.
      equal(JSON.stringify(session.snapshot()), snapshotBefore);
    }
  } finally {
    client.abort();
    clearTimeout(timer);
  }
  await resume(session, s.strict);
}

/** A new client resumes the session: resend() sends each flight again, in order. */
async function resume(session: Session, strict: boolean): Promise<void> {
  const flights = session.state.outgoing.map((f) => ({ id: f.packetId, state: f.state }));
  const st = scriptedTransport(
    [encode({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0 })],
    { end: "stall" },
  );
  const client = new Client({ session, strict });
  try {
    await client.connect(st.transport, {
      clientId: "fuzz",
      cleanStart: false,
      sessionExpiryInterval: 60,
    });
    deepStrictEqual(await client.resend(), flights.map((f) => f.id));
    await client.disconnect();
  } finally {
    client.abort();
  }
  const written = decodeAll(st.written(), { strict });
  deepStrictEqual(
    written.slice(1, -1).map((p) =>
      p.type === PacketType.Publish ? [p.packetId, "PUBLISH", p.dup] : [
        (p as { packetId: number }).packetId,
        p.type === PacketType.Pubrel ? "PUBREL" : p.type,
        true,
      ]
    ),
    flights.map((f) => [f.id, f.state === "awaiting-pubcomp" ? "PUBREL" : "PUBLISH", true]),
  );
}

Deno.test({
  permissions: "none",
  name:
    `Client.poll() on ${RUNS} fuzzed byte streams after CONNACK returns events or throws MqttError, never hangs, never over-allocates, and answers violations with DISCONNECT (seed ${seed}) [MQTT-3.14.2-1] [MQTT-3.14.4-1] [MQTT-3.14.4-2] [MQTT-3.2.2-15]`,
  async fn() {
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(setup, input, async (s, fuzz) => {
        stats.inputs++;
        stats.bytes += fuzz.b.length;
        await run(s, fuzz);
      }),
      { numRuns: RUNS, seed, endOnFailure: true },
    );
    report("fuzz", {
      ...stats,
      seed,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    });
    // The fuzz reached the outcomes it is meant to: violations of each kind, and clean ends.
    ok(stats.violations["0x81"]! > 0 && stats.violations["0x82"]! > 0, JSON.stringify(stats));
    ok(stats.stalled > 0 && stats.closed > 0, JSON.stringify(stats));
  },
});
