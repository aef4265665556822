/**
 * The decoder: framing for streaming readers, and bytes to packets with every check the
 * specification makes possible on a single packet; MQTT 5.0 here, MQTT 3.1.1 in
 * `_v311_decode.ts`. Its public part is `decode.ts`; `decodeAt` is the library's own (the
 * client's reader decodes in place with it).
 *
 * @module
 */

import {
  allowedReasonCodes,
  describeReasonCode,
  PacketType,
  packetTypeName,
  type ProtocolVersion,
  type QoS,
} from "./constants.ts";
import { DecodeError } from "./errors.ts";
import type {
  Auth,
  Connack,
  Connect,
  Disconnect,
  Packet,
  Publish,
  Subscribe,
  Subscription,
  Unsubscribe,
  Will,
} from "./packets.ts";
import { framed, frameLength, Reader } from "./_io.ts";
import { readProperties, WILL } from "./_properties.ts";
import { isSharedFilter } from "./topic.ts";
import { decodeBody311 } from "./_v311_decode.ts";

/** Options of {@linkcode frame} and {@linkcode decode} (`frame` reads only `maximumPacketSize`). */
export interface DecodeOptions {
  /**
   * The largest packet accepted, in bytes (the Maximum Packet Size the receiver announced). A
   * larger one is refused with reason code 0x95 before its body is read.
   *
   * @default {268435460}
   */
  maximumPacketSize?: number;
  /**
   * Reject control characters and Unicode non-characters in strings (section 1.5.4) as
   * Malformed Packet.
   *
   * @default {true}
   */
  strict?: boolean;
  /**
   * The protocol version to decode: 5 (MQTT 5.0) or 4 (MQTT 3.1.1), the version the connection
   * speaks. A 3.1.1 packet decodes to the same packet objects, without `properties` and without
   * reason codes but the CONNACK and SUBACK return codes (an UNSUBACK has `reasonCodes: []`).
   *
   * @default {5}
   */
  protocolVersion?: ProtocolVersion;
}

/** What {@linkcode frame} found at the start of a buffer. */
export type Frame =
  | {
    /** A whole packet is there. */
    complete: true;
    /** The packet's total length in bytes (fixed header included). */
    length: number;
    /** The fixed header's length (1 + the Remaining Length's bytes). */
    headerLength: number;
  }
  | {
    /** The packet is not all there yet. */
    complete: false;
    /**
     * The least number of further bytes needed: the exact count once the fixed header is
     * complete, else 1.
     */
    needed: number;
    /** The packet's total length, once the fixed header is complete; else `undefined`. */
    length: number | undefined;
  };

const DEFAULT_MAX = 268_435_460;

/**
 * Reads the fixed header at `buf[offset..end)` and tells whether a whole packet is there, how long
 * it is, or how many more bytes are needed. Throws {@linkcode DecodeError} for a malformed
 * Remaining Length (0x81) or a packet over `maximumPacketSize` (0x95), before any body is
 * allocated or read.
 *
 * @example Framing a stream
 * ```ts
 * import { frame } from "./mod.ts";
 * const f = frame(new Uint8Array([0x30, 0x05, 0x00]));
 * console.log(f); // { complete: false, needed: 4, length: 7 }
 * ```
 */
export function frame(
  buf: Uint8Array,
  options?: DecodeOptions,
  offset = 0,
  end: number = buf.length,
): Frame {
  const max = options?.maximumPacketSize ?? DEFAULT_MAX;
  if (end > buf.length) end = buf.length;
  const length = frameLength(buf, offset, end, max);
  if (length > 0) return { complete: true, length, headerLength: framed.headerLength };
  const known = framed.length;
  return known < 0
    ? { complete: false, needed: 1, length: undefined }
    : { complete: false, needed: known - (end - offset), length: known };
}

// Expected fixed-header flags per type [MQTT-2.1.3-1]; PUBLISH (3) is checked apart.
const expectedFlags = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];
const flagStatements: Partial<Record<number, string>> = {
  6: "MQTT-3.6.1-1",
  8: "MQTT-3.8.1-1",
  10: "MQTT-3.10.1-1",
  14: "MQTT-3.14.1-1",
  15: "MQTT-3.15.1-1",
};

/**
 * Decodes exactly one whole packet: `bytes` must hold the packet and nothing else. Binary fields
 * and the payload of the result are views into `bytes`.
 *
 * Throws {@linkcode DecodeError} with the reason code to answer with (0x81 Malformed Packet,
 * 0x82 Protocol Error, 0x95 Packet too large, 0x84 for an unsupported CONNECT version; for MQTT
 * 3.1.1, whose receiver closes the connection without a reason, the same codes classify the
 * problem, and 0x85 marks a CONNECT to answer with return code 0x02), the byte offset and, where
 * the specification names one, the statement id (`v3.1.1 MQTT-…` for MQTT 3.1.1).
 *
 * @example Decoding a PUBACK
 * ```ts
 * import { decode } from "./mod.ts";
 * console.log(decode(new Uint8Array([0x40, 0x02, 0x00, 0x07])));
 * // { type: 4, packetId: 7, reasonCode: 0 }
 * ```
 *
 * @example Decoding an MQTT 3.1.1 CONNACK
 * ```ts
 * import { decode } from "./mod.ts";
 * console.log(decode(new Uint8Array([0x20, 0x02, 0x01, 0x00]), { protocolVersion: 4 }));
 * // { type: 2, sessionPresent: true, reasonCode: 0 }
 * ```
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): Packet {
  const f = frame(bytes, options);
  if (!f.complete) {
    throw new DecodeError(
      `Truncated packet: ${bytes.length} bytes given, ${
        f.length === undefined ? "the fixed header is incomplete" : `the packet needs ${f.length}`
      }`,
      0x81,
      bytes.length,
    );
  }
  if (f.length !== bytes.length) {
    throw new DecodeError(
      `Remaining Length says the packet is ${f.length} bytes, but ${bytes.length} were given`,
      0x81,
      f.length,
    );
  }
  return decodeBody(
    bytes,
    f.headerLength,
    options?.strict ?? true,
    options?.protocolVersion ?? 5,
  );
}

/**
 * Decodes the packet in `bytes`, whose fixed header is `headerLength` bytes and which ends at
 * `bytes.length`; for readers that framed it already with {@linkcode frame}. `strict` and
 * `protocolVersion` are those of {@linkcode DecodeOptions}. Throws what {@linkcode decode} throws,
 * and a `RangeError` for a `protocolVersion` other than 4 or 5.
 *
 * @example Decoding what frame() found, as MQTT 3.1.1
 * ```ts
 * import { decodeBody, frame } from "./mod.ts";
 * const buf = new Uint8Array([0xb0, 0x02, 0x00, 0x09, 0xd0]); // UNSUBACK, then a partial PINGRESP
 * const f = frame(buf);
 * if (f.complete) {
 *   console.log(decodeBody(buf.subarray(0, f.length), f.headerLength, true, 4));
 *   // { type: 11, packetId: 9, reasonCodes: [] }
 * }
 * ```
 */
export function decodeBody(
  bytes: Uint8Array,
  headerLength: number,
  strict = true,
  protocolVersion: ProtocolVersion = 5,
): Packet {
  // The one version branch of a packet: 5.0 goes straight on.
  if (protocolVersion !== 5) return decodeBody311(bytes, headerLength, strict, protocolVersion);
  return decodeAt(bytes, 0, bytes.length, headerLength, strict);
}

/** One reader serves every MQTT 5.0 packet: decoding is synchronous and never nested. */
const reader = new Reader(new Uint8Array(0), 0, 0, true);
const NO_BYTES = reader.buf;

/**
 * Decodes the MQTT 5.0 packet at `bytes[start..end)` (framed, its fixed header `headerLength`
 * bytes) in place, without a view of it; error offsets count from `start`. Private to the library:
 * the client's reader decodes each packet of a read this way.
 */
export function decodeAt(
  bytes: Uint8Array,
  start: number,
  end: number,
  headerLength: number,
  strict: boolean,
): Packet {
  const first = bytes[start]!;
  const type = first >> 4;
  const flags = first & 0x0f;
  const r = reader;
  r.buf = bytes;
  r.pos = start + headerLength;
  r.end = end;
  r.strict = strict;
  r.base = start;
  if (type === 0) {
    r.pos = start;
    r.malformed("Packet type 0 is reserved");
  }
  if (type !== PacketType.Publish && flags !== expectedFlags[type]) {
    r.pos = start;
    r.malformed(
      `${packetTypeName[type as PacketType]} fixed header flags must be ${
        expectedFlags[type]
      }, got ${flags}`,
      flagStatements[type] ?? "MQTT-2.1.3-1",
    );
  }
  let packet: Packet;
  switch (type) {
    case PacketType.Publish:
      packet = decodePublish(r, flags);
      break;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp: {
      const packetId = nonZeroPacketId(r, type);
      let reasonCode = 0;
      let properties;
      if (r.pos < r.end) {
        reasonCode = reasonCodeFor(r, type);
        if (r.pos < r.end) properties = readProperties(r, type);
      }
      packet = properties === undefined
        ? { type, packetId, reasonCode } as Packet
        : { type, packetId, reasonCode, properties } as Packet;
      break;
    }
    case PacketType.Connect:
      packet = decodeConnect(r);
      break;
    case PacketType.Connack:
      packet = decodeConnack(r);
      break;
    case PacketType.Subscribe:
      packet = decodeSubscribe(r);
      break;
    case PacketType.Suback:
    case PacketType.Unsuback: {
      const packetId = nonZeroPacketId(r, type);
      const properties = readProperties(r, type);
      const reasonCodes: number[] = [];
      while (r.pos < r.end) reasonCodes.push(reasonCodeFor(r, type));
      if (reasonCodes.length === 0) {
        r.protocol(`${packetTypeName[type as PacketType]} carries no reason code`);
      }
      packet = properties === undefined
        ? { type, packetId, reasonCodes } as Packet
        : { type, packetId, reasonCodes, properties } as Packet;
      break;
    }
    case PacketType.Unsubscribe:
      packet = decodeUnsubscribe(r);
      break;
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      packet = { type } as Packet;
      break;
    case PacketType.Disconnect:
    case PacketType.Auth: {
      let reasonCode = 0;
      let properties;
      if (r.pos < r.end) {
        reasonCode = reasonCodeFor(r, type);
        if (r.pos < r.end) properties = readProperties(r, type);
      }
      packet = properties === undefined
        ? { type, reasonCode } as Disconnect | Auth
        : { type, reasonCode, properties } as Disconnect | Auth;
      break;
    }
    default:
      throw new Error("unreachable");
  }
  if (r.pos !== r.end) {
    r.malformed(
      `${packetTypeName[type as PacketType]} has ${
        r.end - r.pos
      } bytes beyond its content (Remaining Length does not match)`,
    );
  }
  // The reader keeps no packet alive.
  r.buf = NO_BYTES;
  return packet;
}

function nonZeroPacketId(r: Reader, type: number): number {
  const id = r.u16("Packet Identifier");
  if (id === 0) {
    r.pos -= 2;
    r.protocol(
      `${packetTypeName[type as PacketType]} has Packet Identifier 0, which is never used`,
      "MQTT-2.2.1-3",
    );
  }
  return id;
}

const reasonStatements: Partial<Record<number, string>> = {
  2: "MQTT-3.2.2-8",
  4: "MQTT-3.4.2-1",
  5: "MQTT-3.5.2-1",
  6: "MQTT-3.6.2-1",
  7: "MQTT-3.7.2-1",
  9: "MQTT-3.9.3-2",
  11: "MQTT-3.11.3-2",
  14: "MQTT-3.14.2-1",
  15: "MQTT-3.15.2-1",
};

function reasonCodeFor(r: Reader, type: number): number {
  const code = r.u8("Reason Code");
  if (!allowedReasonCodes[type as PacketType]!.has(code)) {
    r.pos--;
    r.protocol(
      `${packetTypeName[type as PacketType]} may not carry reason code ${describeReasonCode(code)}`,
      reasonStatements[type],
    );
  }
  return code;
}

function decodePublish(r: Reader, flags: number): Publish {
  const qos = (flags >> 1) & 3;
  if (qos === 3) {
    r.pos = r.base;
    r.malformed("PUBLISH has QoS 3", "MQTT-3.3.1-4");
  }
  const dup = (flags & 8) !== 0;
  if (dup && qos === 0) {
    r.pos = r.base;
    r.malformed("PUBLISH at QoS 0 has DUP set", "MQTT-3.3.1-2");
  }
  const topicPos = r.pos;
  const topic = topicName(r);
  const packetId = qos > 0 ? nonZeroPacketId(r, 3) : undefined;
  const properties = readProperties(r, PacketType.Publish);
  if (topic.length === 0 && properties?.topicAlias === undefined) {
    r.pos = topicPos;
    r.protocol("PUBLISH has an empty Topic Name and no Topic Alias", "MQTT-3.3.2-1");
  }
  const payload = r.buf.subarray(r.pos, r.end);
  r.pos = r.end;
  const p: Publish = {
    type: PacketType.Publish,
    topic,
    payload,
    qos: qos as QoS,
    retain: (flags & 1) !== 0,
    dup,
  };
  if (packetId !== undefined) p.packetId = packetId;
  if (properties !== undefined) p.properties = properties;
  return p;
}

/** The bytes of the last Topic Name decoded (up to 256), its string, and the rules it passed. */
const lastTopicBytes = new Uint8Array(256);
let lastTopicLength = -1;
let lastTopic = "";
let lastTopicStrict = true;

/**
 * A PUBLISH's Topic Name, checked: well-formed UTF-8 [MQTT-1.5.4-1] without wildcards
 * [MQTT-3.3.2-2]. A subscriber mostly receives the same topics again, so the last one's bytes are
 * kept: the same bytes under the same rules give the same string, neither decoded nor checked
 * again.
 */
function topicName(r: Reader): string {
  const pos = r.pos;
  if (pos + 2 <= r.end) {
    const b = r.buf;
    const len = (b[pos]! << 8) | b[pos + 1]!;
    if (len === lastTopicLength && r.strict === lastTopicStrict && pos + 2 + len <= r.end) {
      let i = 0;
      const at = pos + 2;
      while (i < len && b[at + i] === lastTopicBytes[i]) i++;
      if (i === len) {
        r.pos = at + len;
        return lastTopic;
      }
    }
  }
  const topic = r.utf8("Topic Name");
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) {
      r.pos = pos;
      r.malformed(`Topic Name ${JSON.stringify(topic)} contains a wildcard`, "MQTT-3.3.2-2");
    }
  }
  const len = r.pos - pos - 2;
  if (len <= lastTopicBytes.length) {
    const b = r.buf;
    for (let i = 0; i < len; i++) lastTopicBytes[i] = b[pos + 2 + i]!;
    lastTopicLength = len;
    lastTopic = topic;
    lastTopicStrict = r.strict;
  }
  return topic;
}

function decodeConnect(r: Reader): Connect {
  const namePos = r.pos;
  const name = r.utf8("Protocol Name");
  if (name !== "MQTT") {
    r.pos = namePos;
    r.malformed(`Protocol Name must be "MQTT", got ${JSON.stringify(name)}`, "MQTT-3.1.2-1");
  }
  const version = r.u8("Protocol Version");
  if (version !== 5) {
    r.pos--;
    throw new DecodeError(
      `Protocol Version ${version} is not 5${
        version === 4 ? " (it is MQTT 3.1.1: decode with protocolVersion: 4)" : ""
      }`,
      0x84,
      r.pos,
      "MQTT-3.1.2-2",
    );
  }
  const flags = r.u8("Connect Flags");
  if (flags & 1) {
    r.pos--;
    r.malformed("Connect Flags reserved bit 0 is set", "MQTT-3.1.2-3");
  }
  const willFlag = (flags & 0x04) !== 0;
  const willQoS = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (!willFlag && willQoS !== 0) {
    r.pos--;
    r.malformed("Will QoS is set without the Will Flag", "MQTT-3.1.2-11");
  }
  if (!willFlag && willRetain) {
    r.pos--;
    r.malformed("Will Retain is set without the Will Flag", "MQTT-3.1.2-13");
  }
  if (willQoS === 3) {
    r.pos--;
    r.malformed("Will QoS is 3", "MQTT-3.1.2-12");
  }
  const keepAlive = r.u16("Keep Alive");
  const properties = readProperties(r, PacketType.Connect);
  const clientId = r.utf8("Client Identifier");
  const p: Connect = {
    type: PacketType.Connect,
    protocolVersion: 5,
    cleanStart: (flags & 2) !== 0,
    keepAlive,
    clientId,
  };
  if (properties !== undefined) p.properties = properties;
  if (willFlag) {
    const willProperties = readProperties(r, WILL);
    const topicPos = r.pos;
    const topic = r.utf8("Will Topic");
    if (topic.length === 0 || topic.includes("+") || topic.includes("#")) {
      r.pos = topicPos;
      r.protocol(`Will Topic ${JSON.stringify(topic)} is not a valid topic name`);
    }
    const will: Will = {
      topic,
      payload: r.binary("Will Payload"),
      qos: willQoS as QoS,
      retain: willRetain,
    };
    if (willProperties !== undefined) will.properties = willProperties;
    p.will = will;
  }
  if (flags & 0x80) p.username = r.utf8("User Name");
  if (flags & 0x40) p.password = r.binary("Password");
  return p;
}

function decodeConnack(r: Reader): Connack {
  const ackFlags = r.u8("Connect Acknowledge Flags");
  if (ackFlags & 0xfe) {
    r.pos--;
    r.malformed("CONNACK Acknowledge Flags bits 7-1 are reserved and must be 0", "MQTT-3.2.2-1");
  }
  const reasonCode = reasonCodeFor(r, PacketType.Connack);
  const sessionPresent = ackFlags === 1;
  if (sessionPresent && reasonCode !== 0) {
    r.pos -= 2;
    r.protocol("CONNACK has Session Present with a non-zero reason code", "MQTT-3.2.2-6");
  }
  const properties = readProperties(r, PacketType.Connack);
  const p: Connack = { type: PacketType.Connack, sessionPresent, reasonCode };
  if (properties !== undefined) p.properties = properties;
  return p;
}

function decodeSubscribe(r: Reader): Subscribe {
  const packetId = nonZeroPacketId(r, 8);
  const properties = readProperties(r, PacketType.Subscribe);
  const subscriptions: Subscription[] = [];
  while (r.pos < r.end) {
    const filterPos = r.pos;
    const filter = r.utf8("Topic Filter");
    const o = r.u8("Subscription Options");
    if (o & 0xc0) {
      r.pos--;
      r.malformed("Subscription Options reserved bits 7-6 must be 0", "MQTT-3.8.3-5");
    }
    const qos = o & 3;
    if (qos === 3) {
      r.pos--;
      r.protocol("Subscription Options has Maximum QoS 3"); // a Protocol Error (3.8.3.1)
    }
    const retainHandling = (o >> 4) & 3;
    if (retainHandling === 3) {
      r.pos--;
      r.protocol("Subscription Options has Retain Handling 3");
    }
    const noLocal = (o & 4) !== 0;
    if (noLocal && isSharedFilter(filter)) {
      r.pos = filterPos;
      r.protocol(
        `No Local is set on the shared subscription ${JSON.stringify(filter)}`,
        "MQTT-3.8.3-4",
      );
    }
    subscriptions.push({
      filter,
      qos: qos as QoS,
      noLocal,
      retainAsPublished: (o & 8) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
    });
  }
  if (subscriptions.length === 0) r.protocol("SUBSCRIBE has no Topic Filter", "MQTT-3.8.3-2");
  const p: Subscribe = { type: PacketType.Subscribe, packetId, subscriptions };
  if (properties !== undefined) p.properties = properties;
  return p;
}

function decodeUnsubscribe(r: Reader): Unsubscribe {
  const packetId = nonZeroPacketId(r, 10);
  const properties = readProperties(r, PacketType.Unsubscribe);
  const filters: string[] = [];
  while (r.pos < r.end) filters.push(r.utf8("Topic Filter"));
  if (filters.length === 0) r.protocol("UNSUBSCRIBE has no Topic Filter", "MQTT-3.10.3-2");
  const p: Unsubscribe = { type: PacketType.Unsubscribe, packetId, filters };
  if (properties !== undefined) p.properties = properties;
  return p;
}
