// Property tests of the MQTT 3.1.1 codec (`protocolVersion: 4`) with fast-check: every valid
// packet of each of the 14 types survives encode then decode, and any byte string either decodes
// to a packet that re-encodes to exactly those bytes or throws DecodeError. Unlike 5.0, 3.1.1 has
// one encoding per packet (no optional reason code or property section) and its decoder checks
// every rule its encoder does, so the second property has no exception.

import { deepStrictEqual, equal, match, ok as assert, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  decode,
  DecodeError,
  encode,
  encodedLength,
  EncodeError,
  encodePublishHead,
  frame,
  type Packet,
  type Publish,
} from "../../src/codec/mod.ts";
import { laxCodePoint, level, mutate, mutation, str, stringOf, topicName } from "./_arbitraries.ts";
import { V311 } from "./_vectors_v311.ts";

// ---------------------------------------------------------------------------------------------
// Arbitraries of valid MQTT 3.1.1 packets
// ---------------------------------------------------------------------------------------------

/**
 * A Topic Filter (4.7.1): `+` levels, maybe a last `#`, maybe behind `$SYS` or `$share`, which
 * 3.1.1 reads as an ordinary first level.
 */
const topicFilter = fc.record({
  first: fc.constantFrom(undefined, "$SYS", "$share"),
  levels: fc.array(fc.oneof(level, fc.constant("+")), { minLength: 1, maxLength: 4 }),
  hash: fc.boolean(),
}).map(({ first, levels, hash }) =>
  [...first ? [first] : [], ...levels, ...hash ? ["#"] : []].join("/") || "#"
);

const u16 = fc.integer({ min: 0, max: 0xffff });
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
const binary = fc.uint8Array({ maxLength: 12 });
const packetId = fc.integer({ min: 1, max: 0xffff });
/** An optional field: absent, or one of `values`. */
const maybe = <T>(...values: T[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
/** `{ key: value }`, or `{}` when the value is undefined. */
const field = <K extends string, T>(key: K, value: T | undefined) =>
  value === undefined ? {} : { [key]: value } as Record<K, T>;

const arbitraries: Record<string, fc.Arbitrary<Packet>> = {
  CONNECT: fc.record({
    clientId: str,
    cleanStart: maybe(true, false),
    protocolVersion: maybe(4 as const),
    keepAlive: fc.option(u16, { nil: undefined }),
    will: fc.option(
      fc.record({
        topic: topicName,
        payload: binary,
        qos: maybe(0 as const, 1 as const, 2 as const),
        retain: maybe(true, false),
      }),
      { nil: undefined },
    ),
    username: fc.option(str, { nil: undefined }),
    password: fc.option(binary, { nil: undefined }),
  }).map((g): Packet => ({
    type: 1,
    clientId: g.clientId,
    // A zero-length Client Identifier goes with Clean Session 1 [v3.1.1 MQTT-3.1.3-7].
    ...field("cleanStart", g.clientId === "" ? true : g.cleanStart),
    ...field("protocolVersion", g.protocolVersion),
    ...field("keepAlive", g.keepAlive),
    ...field(
      "will",
      g.will && {
        topic: g.will.topic,
        payload: g.will.payload,
        ...field("qos", g.will.qos),
        ...field("retain", g.will.retain),
      },
    ),
    ...field("username", g.username),
    // No Password without a User Name [v3.1.1 MQTT-3.1.2-22].
    ...field("password", g.username === undefined ? undefined : g.password),
  })),
  CONNACK: fc.record({
    sessionPresent: fc.boolean(),
    reasonCode: fc.integer({ min: 0, max: 5 }),
  }).map(({ sessionPresent, reasonCode }): Packet => ({
    type: 2,
    sessionPresent: sessionPresent && reasonCode === 0,
    reasonCode,
  })),
  PUBLISH: fc.record({
    topic: topicName,
    payload: fc.uint8Array({ maxLength: 40 }),
    qos,
    retain: maybe(true, false),
    dup: maybe(true, false),
    packetId,
  }).map((g): Packet => ({
    type: 3,
    topic: g.topic,
    payload: g.payload,
    qos: g.qos,
    ...field("retain", g.retain),
    ...field("dup", g.qos === 0 ? undefined : g.dup),
    ...field("packetId", g.qos === 0 ? undefined : g.packetId),
  })),
  ...Object.fromEntries(
    ([[4, "PUBACK"], [5, "PUBREC"], [6, "PUBREL"], [7, "PUBCOMP"]] as const).map((
      [type, name],
    ) => [
      name,
      fc.record({ packetId, reasonCode: maybe(0) }).map(({ packetId, reasonCode }) =>
        ({ type, packetId, ...field("reasonCode", reasonCode) }) as Packet
      ),
    ]),
  ),
  SUBSCRIBE: fc.record({
    packetId,
    subscriptions: fc.array(
      fc.record({
        filter: topicFilter,
        qos: maybe(0 as const, 1 as const, 2 as const),
        // The 5.0 options are accepted when they ask for nothing.
        noLocal: maybe(false),
        retainHandling: maybe(0 as const),
      }).map((s) => ({
        filter: s.filter,
        ...field("qos", s.qos),
        ...field("noLocal", s.noLocal),
        ...field("retainHandling", s.retainHandling),
      })),
      { minLength: 1, maxLength: 4 },
    ),
  }).map((rest): Packet => ({ type: 8, ...rest })),
  SUBACK: fc.record({
    packetId,
    reasonCodes: fc.array(fc.constantFrom(0x00, 0x01, 0x02, 0x80), { minLength: 1, maxLength: 5 }),
  }).map((rest): Packet => ({ type: 9, ...rest })),
  UNSUBSCRIBE: fc.record({
    packetId,
    filters: fc.array(topicFilter, { minLength: 1, maxLength: 4 }),
  }).map((rest): Packet => ({ type: 10, ...rest })),
  UNSUBACK: packetId.map((packetId): Packet => ({ type: 11, packetId, reasonCodes: [] })),
  PINGREQ: fc.constant({ type: 12 }),
  PINGRESP: fc.constant({ type: 13 }),
  DISCONNECT: maybe(0).map((reasonCode): Packet => ({
    type: 14,
    ...field("reasonCode", reasonCode),
  })),
};

const anyPacket: fc.Arbitrary<Packet> = fc.oneof(...Object.values(arbitraries));

/** What decode gives back for a valid 3.1.1 packet: defaults filled in, nothing of 5.0. */
function normalize(p: Packet): Packet {
  switch (p.type) {
    case 1: {
      const out: Packet = {
        type: 1,
        protocolVersion: 4,
        cleanStart: p.cleanStart ?? false,
        keepAlive: p.keepAlive ?? 0,
        clientId: p.clientId,
      };
      if (p.will !== undefined) {
        out.will = {
          topic: p.will.topic,
          payload: p.will.payload,
          qos: p.will.qos ?? 0,
          retain: p.will.retain ?? false,
        };
      }
      if (p.username !== undefined) out.username = p.username;
      if (p.password !== undefined) out.password = p.password;
      return out;
    }
    case 2:
      return { type: 2, sessionPresent: p.sessionPresent, reasonCode: p.reasonCode };
    case 3: {
      const out: Packet = {
        type: 3,
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain ?? false,
        dup: p.dup ?? false,
      };
      if (p.packetId !== undefined) out.packetId = p.packetId;
      return out;
    }
    case 4:
    case 5:
    case 6:
    case 7:
      return { type: p.type, packetId: p.packetId } as Packet;
    case 8:
      return {
        type: 8,
        packetId: p.packetId,
        subscriptions: p.subscriptions.map((s) => ({ filter: s.filter, qos: s.qos ?? 0 })),
      };
    case 9:
      return { type: 9, packetId: p.packetId, reasonCodes: p.reasonCodes };
    case 10:
      return { type: 10, packetId: p.packetId, filters: p.filters };
    case 11:
      return { type: 11, packetId: p.packetId, reasonCodes: [] };
    case 12:
    case 13:
    case 14:
      return { type: p.type };
    case 15:
      throw new Error("no AUTH in MQTT 3.1.1");
  }
}

// ---------------------------------------------------------------------------------------------
// Valid packets survive a round trip
// ---------------------------------------------------------------------------------------------

Deno.test("MQTT 3.1.1: decode(encode(p)) deep-equals p with defaults filled in, for every type", {
  permissions: "none",
}, async (t) => {
  equal(Object.keys(arbitraries).length, 14);
  for (const [name, arbitrary] of Object.entries(arbitraries)) {
    await t.step(name, () => {
      fc.assert(
        fc.property(arbitrary, fc.nat(), (p, cut) => {
          const bytes = encode(p, V311);
          equal(encodedLength(p, V311), bytes.length);
          const f = frame(bytes);
          assert(f.complete && f.length === bytes.length);
          const k = cut % bytes.length;
          const g = frame(bytes.subarray(0, k));
          assert(!g.complete);
          equal(g.needed, k >= f.headerLength ? bytes.length - k : 1);
          const decoded = decode(bytes, V311);
          deepStrictEqual(decoded, normalize(p));
          // One encoding per packet: the decoded packet re-encodes to the same bytes.
          deepStrictEqual(encode(decoded, V311), bytes);
        }),
        { numRuns: 300 },
      );
    });
  }
});

Deno.test("MQTT 3.1.1: encodePublishHead(p) followed by p.payload is encode(p)", {
  permissions: "none",
}, () => {
  const publishes = fc.tuple(
    arbitraries.PUBLISH!,
    fc.option(fc.integer({ min: 90, max: 140 }), { nil: undefined }),
  ).map(([p, size]) =>
    (size === undefined ? p : { ...p, payload: new Uint8Array(size).fill(7) }) as Publish
  );
  fc.assert(
    fc.property(publishes, fc.integer({ min: -2, max: 2 }), (p, delta) => {
      const whole = encode(p, V311);
      const head = encodePublishHead(p, V311);
      deepStrictEqual(head, whole.subarray(0, whole.length - p.payload.length));
      const options = { ...V311, maximumPacketSize: whole.length + delta };
      if (delta >= 0) {
        deepStrictEqual(encodePublishHead(p, options), head);
      } else {
        throws(() => encode(p, options), (e) => e instanceof EncodeError && e.reasonCode === 0x95);
        throws(
          () => encodePublishHead(p, options),
          (e) => e instanceof EncodeError && e.reasonCode === 0x95,
        );
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test(
  "MQTT 3.1.1 with strict: false: control characters and non-characters survive (1.5.3)",
  { permissions: "none" },
  () => {
    const lax = stringOf(laxCodePoint, 12);
    fc.assert(
      fc.property(lax, lax, lax, (clientId, username, topic) => {
        const options = { ...V311, strict: false };
        const packets: Packet[] = [
          { type: 1, clientId: `c${clientId}`, username },
          { type: 3, topic: `t${topic.replace(/[+#]/g, "")}`, payload: new Uint8Array(), qos: 0 },
        ];
        for (const p of packets) {
          deepStrictEqual(decode(encode(p, options), options), normalize(p));
        }
      }),
      { numRuns: 200 },
    );
  },
);

// ---------------------------------------------------------------------------------------------
// Any byte string: a packet that re-encodes to exactly those bytes, or DecodeError
// ---------------------------------------------------------------------------------------------

/** Decodes `bytes` as 3.1.1: a DecodeError, or a packet whose encoding is `bytes` again. */
function checkBytes(bytes: Uint8Array, strict = true): Packet | undefined {
  const options = { ...V311, strict };
  let p: Packet;
  try {
    p = decode(bytes, options);
  } catch (e) {
    if (e instanceof DecodeError) {
      assert([0x81, 0x82, 0x84, 0x85].includes(e.reasonCode), e.message);
      assert(e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} of ${bytes.length}`);
      // What the 3.1.1 decoder refuses says so; the framing that comes first is version-free.
      if (!/^(Truncated packet|Remaining Length)/.test(e.message)) {
        match(e.message, /^MQTT 3\.1\.1: /);
      }
      return undefined;
    }
    throw e;
  }
  assert(p.type !== 15);
  assert(!Object.hasOwn(p, "properties"));
  deepStrictEqual(encode(p, options), bytes);
  return p;
}

Deno.test(
  "MQTT 3.1.1: any byte string decodes to a packet that re-encodes to it, or throws DecodeError",
  { permissions: "none" },
  async (t) => {
    await t.step("random bytes", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, strict) => {
          checkBytes(bytes, strict);
        }),
        { numRuns: 5000 },
      );
    });
    await t.step("random bytes behind a plausible fixed header", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 255 }),
          fc.uint8Array({ maxLength: 100 }),
          (first, body) => {
            checkBytes(new Uint8Array([first, body.length, ...body]));
          },
        ),
        { numRuns: 5000 },
      );
    });
    await t.step("mutations of valid encodings", () => {
      const decoded = new Set<number>();
      fc.assert(
        fc.property(anyPacket, fc.array(mutation, { minLength: 1, maxLength: 3 }), (p, ms) => {
          const q = checkBytes(mutate(encode(p, V311), ms));
          if (q) decoded.add(q.type);
        }),
        { numRuns: 5000 },
      );
      // Mutations that still decode reach every type.
      deepStrictEqual([...decoded].sort((a, b) => a - b), [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
      ]);
    });
  },
);
