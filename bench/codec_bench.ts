/**
 * The codec against `mqtt-packet` (the codec of MQTT.js), the baseline, in the same run:
 * `deno task bench`. Each group does the same work on both sides, which setup checks once before
 * anything is timed:
 *
 * - encode: a packet object to a new buffer of exactly its bytes;
 * - decode: one packet's bytes, framed and parsed into a packet object carrying the topic strings,
 *   the properties and a view of the payload.
 *
 * Our encoder's bytes are decoded with `mqtt-packet` and its bytes with ours, so both sides are
 * checked to agree on every field that is timed.
 *
 * `--allow-env` is for `mqtt-packet` alone: its `debug` dependency reads the whole environment
 * when it loads. Our codec needs no permission.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import { decodeBody, encode, encodeInto, frame, PacketType } from "../src/codec/mod.ts";
import type { Connect, Packet, Publish, Subscribe } from "../src/codec/mod.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

const TOPIC = "sensors/0001/temperature";

function payloadOf(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

function ourPublish(payload: Uint8Array): Publish {
  return {
    type: PacketType.Publish,
    topic: TOPIC,
    payload,
    qos: 1,
    packetId: 4242,
    properties: {
      messageExpiryInterval: 60,
      userProperties: [["unit", "celsius"]],
    },
  };
}

function theirPublish(payload: Uint8Array): Loose {
  return {
    cmd: "publish",
    topic: TOPIC,
    payload: Buffer.from(payload),
    qos: 1,
    dup: false,
    retain: false,
    messageId: 4242,
    properties: {
      messageExpiryInterval: 60,
      userProperties: { unit: "celsius" },
    },
  };
}

const ourConnect: Connect = {
  type: PacketType.Connect,
  clientId: "bench-client-0001",
  keepAlive: 60,
  cleanStart: true,
  username: "bench-user",
  password: new TextEncoder().encode("s3cret-passw0rd"),
  will: {
    topic: "clients/bench-client-0001/status",
    payload: new TextEncoder().encode("offline"),
    qos: 1,
    retain: true,
    properties: { willDelayInterval: 5, contentType: "text/plain" },
  },
  properties: {
    sessionExpiryInterval: 3600,
    receiveMaximum: 100,
    maximumPacketSize: 1_048_576,
    topicAliasMaximum: 10,
    userProperties: [["app", "bench"]],
  },
};

const theirConnect: Loose = {
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: 5,
  clientId: "bench-client-0001",
  keepalive: 60,
  clean: true,
  username: "bench-user",
  password: Buffer.from("s3cret-passw0rd"),
  will: {
    topic: "clients/bench-client-0001/status",
    payload: Buffer.from("offline"),
    qos: 1,
    retain: true,
    properties: { willDelayInterval: 5, contentType: "text/plain" },
  },
  properties: {
    sessionExpiryInterval: 3600,
    receiveMaximum: 100,
    maximumPacketSize: 1_048_576,
    topicAliasMaximum: 10,
    userProperties: { app: "bench" },
  },
};

const ourSubscribe: Subscribe = {
  type: PacketType.Subscribe,
  packetId: 7,
  subscriptions: [
    { filter: "sensors/+/temperature", qos: 1 },
    { filter: "actuators/#", qos: 2, noLocal: true, retainHandling: 1 },
    { filter: "$share/group/alerts/+", qos: 0, retainAsPublished: true },
  ],
  properties: { subscriptionIdentifiers: [12] },
};

const theirSubscribe: Loose = {
  cmd: "subscribe",
  messageId: 7,
  subscriptions: [
    { topic: "sensors/+/temperature", qos: 1, nl: false, rap: false, rh: 0 },
    { topic: "actuators/#", qos: 2, nl: true, rap: false, rh: 1 },
    { topic: "$share/group/alerts/+", qos: 0, nl: false, rap: true, rh: 0 },
  ],
  properties: { subscriptionIdentifier: 12 },
};

const V5 = { protocolVersion: 5 } as const;

// --- mqtt-packet's side ------------------------------------------------------------------------

function theirEncode(packet: Loose): Buffer {
  return mqttPacket.generate(packet, V5);
}

/** One parser, fed whole packets as a socket would; the last packet it emitted. */
let theirLast: Loose = undefined;
const theirParser = mqttPacket.parser(V5);
theirParser.on("packet", (p: Loose) => {
  theirLast = p;
});
theirParser.on("error", (e: Error) => {
  throw e;
});

function theirDecode(bytes: Buffer): Loose {
  theirLast = undefined;
  theirParser.parse(bytes);
  return theirLast;
}

// --- our side ------------------------------------------------------------------------------------

/** Frames the bytes as a streaming reader does, then decodes the packet's body. */
function ourDecode(bytes: Uint8Array): Packet {
  const f = frame(bytes);
  if (!f.complete) throw new Error("incomplete packet");
  return decodeBody(
    f.length === bytes.length ? bytes : bytes.subarray(0, f.length),
    f.headerLength,
  );
}

// --- checks, once, outside the timed loops -------------------------------------------------------

function fail(what: string, got: unknown, want: unknown): never {
  throw new Error(
    `Benchmark check failed: ${what}: got ${Deno.inspect(got)}, want ${Deno.inspect(want)}`,
  );
}

/** A comparable form: bytes as arrays, object keys sorted, `undefined` fields left out. */
function canonical(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

function same(what: string, got: unknown, want: unknown): void {
  if (JSON.stringify(canonical(got)) !== JSON.stringify(canonical(want))) fail(what, got, want);
}

/** Both decoders read both encoders' bytes of a PUBLISH to the same fields. */
function checkPublish(payload: Uint8Array): void {
  const ours = encode(ourPublish(payload));
  const theirs = theirEncode(theirPublish(payload));
  same("PUBLISH lengths", ours.length, theirs.length);
  for (const bytes of [ours, theirs]) {
    const a = ourDecode(bytes) as Publish;
    same("our PUBLISH", [a.type, a.topic, a.qos, a.packetId, a.properties], [
      3,
      TOPIC,
      1,
      4242,
      { messageExpiryInterval: 60, userProperties: [["unit", "celsius"]] },
    ]);
    same("our PUBLISH payload", a.payload, payload);
    const b = theirDecode(Buffer.from(bytes));
    same("their PUBLISH", [b.cmd, b.topic, b.qos, b.messageId, b.properties], [
      "publish",
      TOPIC,
      1,
      4242,
      { messageExpiryInterval: 60, userProperties: { unit: "celsius" } },
    ]);
    same("their PUBLISH payload", new Uint8Array(b.payload), payload);
  }
}

function checkConnect(): void {
  const ours = encode(ourConnect);
  const theirs = theirEncode(theirConnect);
  same("CONNECT lengths", ours.length, theirs.length);
  for (const bytes of [ours, theirs]) {
    const a = ourDecode(bytes) as Connect;
    same("our CONNECT", { ...a, type: undefined, protocolVersion: undefined }, {
      ...ourConnect,
      type: undefined,
    });
    const b = theirDecode(Buffer.from(bytes));
    same(
      "their CONNECT",
      [b.clientId, b.keepalive, b.clean, b.username, b.password, b.will, b.properties],
      [
        theirConnect.clientId,
        theirConnect.keepalive,
        true,
        theirConnect.username,
        theirConnect.password,
        theirConnect.will,
        theirConnect.properties,
      ],
    );
  }
}

function checkSubscribe(): void {
  const ours = encode(ourSubscribe);
  const theirs = theirEncode(theirSubscribe);
  same("SUBSCRIBE bytes", ours, theirs);
  const a = ourDecode(ours) as Subscribe;
  same("our SUBSCRIBE", [a.packetId, a.properties], [7, { subscriptionIdentifiers: [12] }]);
  same(
    "our SUBSCRIBE filters",
    a.subscriptions.map((s) => [s.filter, s.qos, s.noLocal, s.retainAsPublished, s.retainHandling]),
    theirSubscribe.subscriptions.map((s: Loose) => [s.topic, s.qos, s.nl, s.rap, s.rh]),
  );
  const b = theirDecode(Buffer.from(ours));
  same("their SUBSCRIBE", [b.messageId, b.properties, b.subscriptions], [
    7,
    { subscriptionIdentifier: 12 },
    theirSubscribe.subscriptions,
  ]);
}

const small = payloadOf(64);
const large = payloadOf(16 * 1024);
checkPublish(small);
checkPublish(large);
checkConnect();
checkSubscribe();

// --- the groups ----------------------------------------------------------------------------------

/** Keeps results alive so no work is optimized away. */
let sink = 0;

function encodeGroup(group: string, ours: Packet, theirs: Loose): void {
  Deno.bench({
    name: "mqtt5",
    group,
    fn() {
      sink += encode(ours).length;
    },
  });
  Deno.bench({
    name: "mqtt-packet",
    group,
    baseline: true,
    fn() {
      sink += theirEncode(theirs).length;
    },
  });
}

function decodeGroup(group: string, bytes: Uint8Array, check: (p: Loose) => number): void {
  const buf = Buffer.from(bytes);
  Deno.bench({
    name: "mqtt5",
    group,
    fn() {
      sink += check(ourDecode(bytes));
    },
  });
  Deno.bench({
    name: "mqtt-packet",
    group,
    baseline: true,
    fn() {
      sink += check(theirDecode(buf));
    },
  });
}

const publishCheck = (p: Loose) => p.topic.length + p.payload.length;

encodeGroup("encode publish 64B", ourPublish(small), theirPublish(small));
decodeGroup("decode publish 64B", encode(ourPublish(small)), publishCheck);
encodeGroup("encode publish 16KiB", ourPublish(large), theirPublish(large));
decodeGroup("decode publish 16KiB", encode(ourPublish(large)), publishCheck);
encodeGroup("encode connect", ourConnect, theirConnect);
decodeGroup("decode subscribe", encode(ourSubscribe), (p: Loose) => p.subscriptions.length);

// Not a comparison: where the time of `encode publish 64B` goes. A fresh ArrayBuffer is costly in
// Deno (several hundred ns, even for a few bytes), and `encode` must return one of its own (a view
// into a shared pool would break callers that send or transfer `bytes.buffer`); `encodeInto` is
// the way to skip it.
{
  const packet = ourPublish(small);
  const size = encode(packet).length;
  const target = new Uint8Array(size);
  Deno.bench({
    name: "encode publish 64B part: encodeInto a reused buffer",
    fn() {
      sink += encodeInto(packet, target, 0);
    },
  });
  Deno.bench({
    name: "encode publish 64B part: new Uint8Array of its size",
    fn() {
      sink += new Uint8Array(size).length;
    },
  });
}

addEventListener("unload", () => {
  if (sink === 0) console.log("unreachable: nothing was measured");
});
