// Property tests of the codec with fast-check: every valid packet survives encode then decode,
// and any byte string either decodes to a packet that re-encodes to itself or throws DecodeError.

import { deepStrictEqual, equal, ok as assert, throws } from "node:assert/strict";
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
  type Properties,
  type Publish,
} from "../../src/codec/mod.ts";
import { specReasonCodes } from "./_vectors.ts";
import { laxCodePoint, level, mutate, mutation, str, stringOf, topicName } from "./_arbitraries.ts";

// ---------------------------------------------------------------------------------------------
// Arbitraries of valid packets
// ---------------------------------------------------------------------------------------------

/** A Topic Filter (4.7.1), possibly a shared subscription (4.8.2). */
const topicFilter = fc.record({
  share: fc.option(level.filter((s) => s.length > 0), { nil: undefined }),
  levels: fc.array(fc.oneof(level, fc.constant("+")), { minLength: 1, maxLength: 4 }),
  hash: fc.boolean(),
}).map(({ share, levels, hash }) => {
  // A first level "$share" would make a malformed shared subscription: rename it.
  const all = [
    ...levels.map((l, i) => i === 0 && l === "$share" ? "$sharp" : l),
    ...hash ? ["#"] : [],
  ];
  const filter = all.join("/") || "#";
  return share === undefined
    ? { filter, shared: false }
    : { filter: `$share/${share}/${filter}`, shared: true };
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff),
  fc.tuple(u16, u16).map(([hi, lo]) => hi * 0x10000 + lo),
);
const nonZeroU16 = fc.integer({ min: 1, max: 0xffff });
const nonZeroU32 = u32.filter((n) => n > 0);
const flag = fc.constantFrom(0 as const, 1 as const);
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
const vbi = fc.oneof(
  fc.constantFrom(1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455),
  fc.integer({ min: 1, max: 268_435_455 }),
);
const binary = fc.uint8Array({ maxLength: 12 });
const userProperties = fc.array(fc.tuple(str, str), { minLength: 1, maxLength: 3 });
const packetId = fc.integer({ min: 1, max: 0xffff });
const codeOf = (type: number) => fc.constantFrom(...specReasonCodes[type]!);

/** Optional record fields: any subset of the keys is present. */
function some<T extends Record<string, fc.Arbitrary<unknown>>>(model: T) {
  return fc.record(model, { requiredKeys: [] });
}

/** Drops Authentication Data when there is no Authentication Method (a Protocol Error). */
function withAuthRule<P extends Properties>(p: P): P {
  if (p.authenticationData !== undefined && p.authenticationMethod === undefined) {
    const { authenticationData: _, ...rest } = p;
    return rest as P;
  }
  return p;
}

const connectProperties = some({
  sessionExpiryInterval: u32,
  receiveMaximum: nonZeroU16,
  maximumPacketSize: nonZeroU32,
  topicAliasMaximum: u16,
  requestResponseInformation: flag,
  requestProblemInformation: flag,
  userProperties,
  authenticationMethod: str,
  authenticationData: binary,
}).map(withAuthRule);

const willProperties = some({
  willDelayInterval: u32,
  payloadFormatIndicator: flag,
  messageExpiryInterval: u32,
  contentType: str,
  responseTopic: topicName,
  correlationData: binary,
  userProperties,
});

const connackProperties = some({
  sessionExpiryInterval: u32,
  receiveMaximum: nonZeroU16,
  maximumQoS: flag,
  retainAvailable: flag,
  maximumPacketSize: nonZeroU32,
  assignedClientIdentifier: str,
  topicAliasMaximum: u16,
  reasonString: str,
  userProperties,
  wildcardSubscriptionAvailable: flag,
  subscriptionIdentifierAvailable: flag,
  sharedSubscriptionAvailable: flag,
  serverKeepAlive: u16,
  responseInformation: str,
  serverReference: str,
  authenticationMethod: str,
  authenticationData: binary,
}).map(withAuthRule);

const publishProperties = some({
  payloadFormatIndicator: flag,
  messageExpiryInterval: u32,
  topicAlias: nonZeroU16,
  responseTopic: topicName,
  correlationData: binary,
  userProperties,
  subscriptionIdentifiers: fc.array(vbi, { minLength: 1, maxLength: 3 }),
  contentType: str,
});

const ackProperties = some({ reasonString: str, userProperties });

const arbitraries: Record<string, fc.Arbitrary<Packet>> = {
  CONNECT: some({
    protocolVersion: fc.constant(5 as const),
    cleanStart: fc.boolean(),
    keepAlive: u16,
    username: str,
    password: binary,
    will: fc.record({
      topic: topicName,
      payload: binary,
      qos,
      retain: fc.boolean(),
      properties: willProperties,
    }, { requiredKeys: ["topic", "payload"] }),
    properties: connectProperties,
  }).chain((rest) => str.map((clientId): Packet => ({ type: 1, clientId, ...rest }))),
  CONNACK: fc.record({
    sessionPresent: fc.boolean(),
    reasonCode: codeOf(2),
    properties: fc.option(connackProperties, { nil: undefined }),
  }).map(({ sessionPresent, reasonCode, properties }): Packet => ({
    type: 2,
    sessionPresent: sessionPresent && reasonCode === 0,
    reasonCode,
    ...(properties === undefined ? {} : { properties }),
  })),
  PUBLISH: fc.record({
    topic: topicName,
    emptyTopic: fc.boolean(),
    payload: fc.uint8Array({ maxLength: 40 }),
    qos,
    retain: fc.option(fc.boolean(), { nil: undefined }),
    dup: fc.option(fc.boolean(), { nil: undefined }),
    packetId,
    properties: fc.option(publishProperties, { nil: undefined }),
  }).map((g): Packet => {
    const properties = g.emptyTopic ? { ...g.properties, topicAlias: 7 } : g.properties;
    return {
      type: 3,
      topic: g.emptyTopic ? "" : g.topic,
      payload: g.payload,
      qos: g.qos,
      ...(g.retain === undefined ? {} : { retain: g.retain }),
      ...(g.dup === undefined || g.qos === 0 ? {} : { dup: g.dup }),
      ...(g.qos === 0 ? {} : { packetId: g.packetId }),
      ...(properties === undefined ? {} : { properties }),
    };
  }),
  ...Object.fromEntries(
    ([[4, "PUBACK"], [5, "PUBREC"], [6, "PUBREL"], [7, "PUBCOMP"]] as const).map((
      [type, name],
    ) => [
      name,
      fc.record({
        packetId,
        reasonCode: codeOf(type),
        properties: ackProperties,
      }, { requiredKeys: ["packetId"] }).map((rest) => ({ type, ...rest }) as Packet),
    ]),
  ),
  SUBSCRIBE: fc.record({
    packetId,
    subscriptions: fc.array(
      fc.record({
        target: topicFilter,
        options: some({
          qos,
          noLocal: fc.boolean(),
          retainAsPublished: fc.boolean(),
          retainHandling: fc.constantFrom(0 as const, 1 as const, 2 as const),
        }),
      }).map(({ target, options }) => ({
        filter: target.filter,
        ...options,
        ...(target.shared && options.noLocal ? { noLocal: false } : {}),
      })),
      { minLength: 1, maxLength: 4 },
    ),
    properties: some({
      subscriptionIdentifiers: vbi.map((n) => [n]),
      userProperties,
    }),
  }, { requiredKeys: ["packetId", "subscriptions"] }).map((rest): Packet => ({
    type: 8,
    ...rest,
  })),
  SUBACK: fc.record({
    packetId,
    reasonCodes: fc.array(codeOf(9), { minLength: 1, maxLength: 5 }),
    properties: ackProperties,
  }, { requiredKeys: ["packetId", "reasonCodes"] }).map((rest): Packet => ({ type: 9, ...rest })),
  UNSUBSCRIBE: fc.record({
    packetId,
    filters: fc.array(topicFilter.map((t) => t.filter), { minLength: 1, maxLength: 4 }),
    properties: some({ userProperties }),
  }, { requiredKeys: ["packetId", "filters"] }).map((rest): Packet => ({ type: 10, ...rest })),
  UNSUBACK: fc.record({
    packetId,
    reasonCodes: fc.array(codeOf(11), { minLength: 1, maxLength: 5 }),
    properties: ackProperties,
  }, { requiredKeys: ["packetId", "reasonCodes"] }).map((rest): Packet => ({ type: 11, ...rest })),
  PINGREQ: fc.constant({ type: 12 }),
  PINGRESP: fc.constant({ type: 13 }),
  DISCONNECT: some({
    reasonCode: codeOf(14),
    properties: some({
      sessionExpiryInterval: u32,
      reasonString: str,
      userProperties,
      serverReference: str,
    }),
  }).map((rest): Packet => ({ type: 14, ...rest })),
  AUTH: some({
    reasonCode: codeOf(15),
    properties: some({
      authenticationMethod: str,
      authenticationData: binary,
      reasonString: str,
      userProperties,
    }).map(withAuthRule),
  }).map((rest): Packet => ({ type: 15, ...rest })),
};

const anyPacket: fc.Arbitrary<Packet> = fc.oneof(...Object.values(arbitraries));

// ---------------------------------------------------------------------------------------------
// What decode gives back for a packet: defaults filled in, empty property sections left out
// ---------------------------------------------------------------------------------------------

function normalizeProperties<P extends Properties>(props: P | undefined): P | undefined {
  if (props === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out as P;
}

/** `{ properties }` when there are any after normalizing, else `{}`. */
function props(p: Properties | undefined): { properties?: Properties } {
  const n = normalizeProperties(p);
  return n === undefined ? {} : { properties: n };
}

function normalize(p: Packet): Packet {
  switch (p.type) {
    case 1: {
      const out: Packet = {
        type: 1,
        protocolVersion: 5,
        cleanStart: p.cleanStart ?? false,
        keepAlive: p.keepAlive ?? 0,
        clientId: p.clientId,
        ...props(p.properties),
      };
      if (p.will !== undefined) {
        out.will = {
          topic: p.will.topic,
          payload: p.will.payload,
          qos: p.will.qos ?? 0,
          retain: p.will.retain ?? false,
          ...props(p.will.properties),
        };
      }
      if (p.username !== undefined) out.username = p.username;
      if (p.password !== undefined) out.password = p.password;
      return out;
    }
    case 2:
      return {
        type: 2,
        sessionPresent: p.sessionPresent,
        reasonCode: p.reasonCode,
        ...props(p.properties),
      };
    case 3: {
      const out: Packet = {
        type: 3,
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain ?? false,
        dup: p.dup ?? false,
        ...props(p.properties),
      };
      if (p.packetId !== undefined) out.packetId = p.packetId;
      return out;
    }
    case 4:
    case 5:
    case 6:
    case 7:
      return {
        type: p.type,
        packetId: p.packetId,
        reasonCode: p.reasonCode ?? 0,
        ...props(p.properties),
      } as Packet;
    case 8:
      return {
        type: 8,
        packetId: p.packetId,
        subscriptions: p.subscriptions.map((s) => ({
          filter: s.filter,
          qos: s.qos ?? 0,
          noLocal: s.noLocal ?? false,
          retainAsPublished: s.retainAsPublished ?? false,
          retainHandling: s.retainHandling ?? 0,
        })),
        ...props(p.properties),
      };
    case 9:
    case 11:
      return {
        type: p.type,
        packetId: p.packetId,
        reasonCodes: p.reasonCodes,
        ...props(p.properties),
      } as Packet;
    case 10:
      return { type: 10, packetId: p.packetId, filters: p.filters, ...props(p.properties) };
    case 12:
    case 13:
      return { type: p.type };
    case 14:
    case 15:
      return { type: p.type, reasonCode: p.reasonCode ?? 0, ...props(p.properties) } as Packet;
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

// ---------------------------------------------------------------------------------------------
// Valid packets survive a round trip
// ---------------------------------------------------------------------------------------------

Deno.test("decode(encode(p)) deep-equals p with defaults filled in, for every packet type", {
  permissions: "none",
}, async (t) => {
  for (const [name, arbitrary] of Object.entries(arbitraries)) {
    await t.step(name, () => {
      fc.assert(
        fc.property(arbitrary, fc.nat(), (p, cut) => {
          const bytes = encode(p);
          equal(encodedLength(p), bytes.length);
          // frame() sees the whole packet, and a prefix of it as incomplete.
          const f = frame(bytes);
          assert(f.complete && f.length === bytes.length);
          const k = cut % bytes.length;
          const g = frame(bytes.subarray(0, k));
          assert(!g.complete);
          equal(g.needed, k >= f.headerLength ? bytes.length - k : 1);
          const decoded = decode(bytes);
          deepStrictEqual(decoded, normalize(p));
          // The encoding of a decoded packet is the same bytes: encode is canonical.
          deepStrictEqual(encode(decoded), bytes);
        }),
        { numRuns: 300 },
      );
    });
  }
});

/**
 * Valid PUBLISH packets, some with a payload that puts the Remaining Length around a boundary of
 * its Variable Byte Integer (127 | 128, 16,383 | 16,384 bytes).
 */
const publishPackets: fc.Arbitrary<Publish> = fc.tuple(
  arbitraries.PUBLISH!,
  fc.option(fc.oneof(fc.integer({ min: 90, max: 140 }), fc.integer({ min: 16_330, max: 16_400 })), {
    nil: undefined,
  }),
  fc.nat(255),
).map(([p, size, fill]) =>
  (size === undefined ? p : { ...p, payload: new Uint8Array(size).fill(fill) }) as Publish
);

Deno.test("encodePublishHead(p) followed by p.payload is encode(p), byte for byte", {
  permissions: "none",
}, () => {
  fc.assert(
    fc.property(publishPackets, fc.integer({ min: -2, max: 2 }), (p, delta) => {
      const whole = encode(p);
      const head = encodePublishHead(p);
      equal(head.length, whole.length - p.payload.length);
      const joined = new Uint8Array(whole.length);
      joined.set(head);
      joined.set(p.payload, head.length);
      deepStrictEqual(joined, whole);
      // maximumPacketSize counts the payload: both write at or above the whole size, and both
      // refuse with the same 0x95 below it.
      const options = { maximumPacketSize: whole.length + delta };
      if (delta >= 0) {
        deepStrictEqual(encodePublishHead(p, options), head);
      } else {
        let message = "";
        throws(() => encode(p, options), (e) => {
          message = (e as Error).message;
          return e instanceof EncodeError && e.reasonCode === 0x95;
        });
        throws(
          () => encodePublishHead(p, options),
          (e) => e instanceof EncodeError && e.reasonCode === 0x95 && e.message === message,
        );
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test(
  "with strict: false, control characters and non-characters survive a round trip (1.5.4)",
  { permissions: "none" },
  () => {
    const lax = stringOf(laxCodePoint, 12);
    fc.assert(
      fc.property(lax, lax, lax, (clientId, username, reason) => {
        const packets: Packet[] = [
          { type: 1, clientId, username },
          { type: 14, properties: { reasonString: reason, userProperties: [[username, reason]] } },
        ];
        for (const p of packets) {
          const bytes = encode(p, { strict: false });
          deepStrictEqual(decode(bytes, { strict: false }), normalize(p));
        }
      }),
      { numRuns: 200 },
    );
  },
);

// ---------------------------------------------------------------------------------------------
// Any byte string: a packet that re-encodes to itself, or DecodeError
// ---------------------------------------------------------------------------------------------

/**
 * Rules the decoder leaves to the layer above but the encoder enforces: a receiving server answers
 * an invalid Topic Filter with SUBACK/UNSUBACK 0x8F rather than closing the connection, and a
 * Response Topic is only checked by its sender [MQTT-3.3.2-14].
 */
const decoderLeavesToCaller = new Set([
  "MQTT-4.7.1-1",
  "MQTT-4.7.1-2",
  "MQTT-4.7.3-1",
  "MQTT-4.8.2-1",
  "MQTT-4.8.2-2",
  "MQTT-3.3.2-14",
]);

function hasRepeats(p: Properties | undefined): boolean {
  return (p?.userProperties?.length ?? 0) > 1 || (p?.subscriptionIdentifiers?.length ?? 0) > 1;
}

/** The Remaining Length of the short form of an ack, DISCONNECT or AUTH without properties. */
function shortFormLength(p: Packet): number | undefined {
  switch (p.type) {
    case 4:
    case 5:
    case 6:
    case 7:
      return p.properties ? undefined : (p.reasonCode ?? 0) === 0 ? 2 : 3;
    case 14:
    case 15:
      return p.properties ? undefined : (p.reasonCode ?? 0) === 0 ? 0 : 1;
    default:
      return undefined;
  }
}

/**
 * Checks what the decoder made of `bytes`: either a DecodeError, or a packet whose encoding decodes
 * to it again, and equals `bytes` when those were canonical. Canonical here means: repeated
 * properties (User Property, Subscription Identifier) written one after another, since decode
 * groups them in one array at the first one's place; and an ack, DISCONNECT or AUTH in its
 * shortest form (no Reason Code 0x00 without properties, no Property Length 0). Bytes without
 * repeated properties are canonical when their ack form is.
 */
function checkBytes(bytes: Uint8Array, strict = true): Packet | undefined {
  let p: Packet;
  try {
    p = decode(bytes, { strict });
  } catch (e) {
    if (e instanceof DecodeError) {
      assert([0x81, 0x82, 0x84, 0x94, 0x95].includes(e.reasonCode), e.message);
      assert(e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} of ${bytes.length}`);
      return undefined;
    }
    throw e;
  }
  let again: Uint8Array;
  try {
    again = encode(p, { strict });
  } catch (e) {
    if (e instanceof EncodeError && (p.type === 3 || p.type === 8 || p.type === 10)) {
      assert(decoderLeavesToCaller.has(e.statement ?? ""), e.message);
      return p;
    }
    throw e;
  }
  deepStrictEqual(decode(again, { strict }), p);
  deepStrictEqual(encode(decode(again, { strict }), { strict }), again);
  const repeats = hasRepeats((p as { properties?: Properties }).properties) ||
    (p.type === 1 && hasRepeats(p.will?.properties));
  const short = shortFormLength(p);
  const remaining = encodedLengthBody(bytes);
  if (short !== undefined && remaining !== short) {
    assert(again.length < bytes.length, "the short form is shorter");
  } else if (!repeats) {
    deepStrictEqual(again, bytes);
  }
  return p;
}

/** The Remaining Length of an encoded packet (its bytes after the fixed header). */
function encodedLengthBody(bytes: Uint8Array): number {
  let n = 0;
  let mult = 1;
  for (let i = 1;; i++) {
    n += (bytes[i]! & 0x7f) * mult;
    if ((bytes[i]! & 0x80) === 0) return n;
    mult *= 128;
  }
}

Deno.test("any byte string decodes to a packet that re-encodes to itself, or throws DecodeError", {
  permissions: "none",
}, async (t) => {
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
    fc.assert(
      fc.property(anyPacket, fc.array(mutation, { minLength: 1, maxLength: 3 }), (p, ms) => {
        checkBytes(mutate(encode(p), ms));
      }),
      { numRuns: 5000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-built encodings whose canonical form is known: properties in any order, repeats
// interleaved or not, acks in their short and long forms
// ---------------------------------------------------------------------------------------------

const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const str16 = (s: string) => {
  const b = utf8(s);
  return [b.length >> 8, b.length & 0xff, ...b];
};
function vbiBytes(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
const fixed = (first: number, body: number[]) =>
  new Uint8Array([first, ...vbiBytes(body.length), ...body]);

/** One property as written on the wire, with the kind of property it is. */
interface RawProperty {
  id: number;
  bytes: number[];
}

const rawUserProperty = fc.tuple(str, str).map(([k, v]): RawProperty => ({
  id: 0x26,
  bytes: [0x26, ...str16(k), ...str16(v)],
}));
const rawReasonString = str.map((s): RawProperty => ({ id: 0x1f, bytes: [0x1f, ...str16(s)] }));

/** Properties in a random order; `canonical` when the repeats of each id stand together. */
function rawProperties(
  singles: fc.Arbitrary<RawProperty>[],
  repeatable: fc.Arbitrary<RawProperty>[],
): fc.Arbitrary<{ bytes: number[]; canonical: boolean }> {
  return fc.tuple(
    fc.tuple(...singles.map((a) => fc.option(a, { nil: undefined }))),
    fc.tuple(...repeatable.map((a) => fc.array(a, { maxLength: 3 }))),
  ).chain(([one, many]) => {
    const all = [...one.filter((x): x is RawProperty => x !== undefined), ...many.flat()];
    return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
  }).map((list) => {
    let canonical = true;
    const closed = new Set<number>();
    list.forEach((prop, i) => {
      if (i > 0 && list[i - 1]!.id !== prop.id) closed.add(list[i - 1]!.id);
      if (closed.has(prop.id)) canonical = false;
    });
    const bytes = list.flatMap((x) => x.bytes);
    return { bytes: [...vbiBytes(bytes.length), ...bytes], canonical };
  });
}

const rawPublish = fc.record({
  topic: topicName,
  props: rawProperties(
    [
      flag.map((v): RawProperty => ({ id: 0x01, bytes: [0x01, v] })),
      u32.map((v): RawProperty => ({
        id: 0x02,
        bytes: [0x02, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff],
      })),
      str.map((s): RawProperty => ({ id: 0x03, bytes: [0x03, ...str16(s)] })),
      nonZeroU16.map((v): RawProperty => ({ id: 0x23, bytes: [0x23, v >> 8, v & 0xff] })),
    ],
    [rawUserProperty, vbi.map((n): RawProperty => ({ id: 0x0b, bytes: [0x0b, ...vbiBytes(n)] }))],
  ),
  payload: fc.uint8Array({ maxLength: 8 }),
}).map(({ topic, props, payload }) => ({
  bytes: fixed(0x30, [...str16(topic), ...props.bytes, ...payload]),
  canonical: props.canonical,
}));

const rawAck = fc.constantFrom(4, 5, 6, 7).chain((type) =>
  fc.record({
    packetId,
    reasonCode: codeOf(type),
    form: fc.constantFrom("short", "code", "empty properties", "properties"),
    props: rawProperties([rawReasonString], [rawUserProperty]),
  }).map(({ packetId, reasonCode, form, props }) => {
    const first = (type << 4) | (type === 6 ? 2 : 0);
    const id = [packetId >> 8, packetId & 0xff];
    const hasProps = props.bytes.length > 1;
    switch (form) {
      case "short":
        return { bytes: fixed(first, id), canonical: true };
      case "code":
        return { bytes: fixed(first, [...id, reasonCode]), canonical: reasonCode !== 0 };
      case "empty properties":
        return { bytes: fixed(first, [...id, reasonCode, 0]), canonical: false };
      default:
        return {
          bytes: fixed(first, [...id, reasonCode, ...props.bytes]),
          canonical: hasProps ? props.canonical : false,
        };
    }
  })
);

const rawDisconnectOrAuth = fc.constantFrom(14, 15).chain((type) =>
  fc.record({
    reasonCode: codeOf(type),
    form: fc.constantFrom("empty", "code", "empty properties", "properties"),
    props: rawProperties(
      type === 14
        ? [rawReasonString, str.map((s): RawProperty => ({ id: 0x1c, bytes: [0x1c, ...str16(s)] }))]
        : [
          rawReasonString,
          str.map((s): RawProperty => ({ id: 0x15, bytes: [0x15, ...str16(s)] })),
        ],
      [rawUserProperty],
    ),
  }).map(({ reasonCode, form, props }) => {
    const first = type << 4;
    const hasProps = props.bytes.length > 1;
    switch (form) {
      case "empty":
        return { bytes: fixed(first, []), canonical: true };
      case "code":
        return { bytes: fixed(first, [reasonCode]), canonical: reasonCode !== 0 };
      case "empty properties":
        return { bytes: fixed(first, [reasonCode, 0]), canonical: false };
      default:
        return {
          bytes: fixed(first, [reasonCode, ...props.bytes]),
          canonical: hasProps ? props.canonical : false,
        };
    }
  })
);

Deno.test("re-encoding a decoded packet gives back exactly the canonical bytes", {
  permissions: "none",
}, async (t) => {
  for (
    const [name, arbitrary] of [
      ["PUBLISH with properties in any order", rawPublish],
      ["PUBACK, PUBREC, PUBREL, PUBCOMP in every form", rawAck],
      ["DISCONNECT and AUTH in every form", rawDisconnectOrAuth],
    ] as const
  ) {
    await t.step(name, () => {
      fc.assert(
        fc.property(arbitrary, ({ bytes, canonical }) => {
          const p = decode(bytes);
          const again = encode(p);
          deepStrictEqual(decode(again), p);
          equal(equalBytes(again, bytes), canonical);
          checkBytes(bytes);
        }),
        { numRuns: 1000 },
      );
    });
  }
});
