/**
 * The encoder: packets to bytes. It checks the rules of MQTT 5.0 (or, with `protocolVersion: 4`,
 * those of MQTT 3.1.1, in `_v311_encode.ts`) on the packet first, so an invalid packet is never
 * written, then measures it once and writes it into one buffer. Over 500 lines because each of
 * the 15 packet types of 5.0 has its check, measure and write side by side.
 *
 * @module
 */

import {
  allowedReasonCodes,
  describeReasonCode,
  PacketType,
  packetTypeName,
  type ProtocolVersion,
} from "./constants.ts";
import { EncodeError } from "./errors.ts";
import type { Connect, Packet, Properties, Publish, Subscribe } from "./packets.ts";
import {
  checkedBinaryLength,
  checkedUtf8Length,
  checkInteger,
  vbiLength,
  writeConnectHeader,
  Writer,
} from "./_io.ts";
import { measureProperties, WILL, writeProperties } from "./_properties.ts";
import { isSharedFilter, topicFilterProblem, topicNameProblem } from "./topic.ts";
import { measure311, write311, writePublishHead311 } from "./_v311_encode.ts";

/**
 * Options of {@linkcode encode}, {@linkcode encodeInto}, {@linkcode encodeIntoIfFits},
 * {@linkcode encodedLength} and {@linkcode encodePublishHead}.
 */
export interface EncodeOptions {
  /**
   * Refuse to encode a packet larger than this many bytes (the receiver's Maximum Packet Size),
   * with an {@linkcode EncodeError} carrying 0x95.
   *
   * @default {268435460}
   */
  maximumPacketSize?: number;
  /**
   * Reject control characters (U+0001..U+001F, U+007F..U+009F) and Unicode non-characters in
   * strings, which the specification says should not be sent (section 1.5.4).
   *
   * @default {true}
   */
  strict?: boolean;
  /**
   * The protocol version to encode for: 5 (MQTT 5.0) or 4 (MQTT 3.1.1). The packet objects are
   * the same; for 3.1.1 the encoder refuses, with an {@linkcode EncodeError}, what 3.1.1 cannot
   * carry (properties, reason codes but the CONNACK and SUBACK return codes, AUTH, the 5.0
   * subscription options) and checks the rules of 3.1.1.
   *
   * @default {5}
   */
  protocolVersion?: ProtocolVersion;
}

// The lengths measured for the packet being encoded, and whether it is MQTT 3.1.1; the encoder is
// synchronous, so one set serves.
let v311 = false;
let remaining = 0;
let propsLength = 0;
let willPropsLength = 0;

/** One writer serves every packet: encoding is synchronous and never nested. */
const writer = new Writer(new Uint8Array(0), 0);
const NO_BYTES = writer.buf;

/** The shared writer, at `pos` in `buf`. */
function writerAt(buf: Uint8Array, pos: number): Writer {
  writer.buf = buf;
  writer.pos = pos;
  return writer;
}

function refuse(type: number, message: string, reasonCode = 0x82, statement?: string): never {
  throw new EncodeError(
    `Cannot encode ${packetTypeName[type as PacketType] ?? "packet"}: ${message}`,
    reasonCode,
    statement,
  );
}

function checkPacketId(type: number, id: number | undefined): void {
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) {
    refuse(
      type,
      `a Packet Identifier from 1 to 65535 is required, got ${id}`,
      0x82,
      "MQTT-2.2.1-3",
    );
  }
}

function checkReasonCode(type: PacketType, code: number, statement?: string): void {
  if (!allowedReasonCodes[type]!.has(code)) {
    refuse(
      type,
      `reason code ${describeReasonCode(code)} is not one it may carry`,
      0x82,
      statement,
    );
  }
}

/** Measures a property section (its length and the properties), keeping the length for write. */
function propertySection(props: Properties | undefined, type: number, strict: boolean): number {
  propsLength = measureProperties(props, type, strict);
  return vbiLength(propsLength) + propsLength;
}

const ackStatements: Partial<Record<number, string>> = {
  4: "MQTT-3.4.2-1",
  5: "MQTT-3.5.2-1",
  6: "MQTT-3.6.2-1",
  7: "MQTT-3.7.2-1",
  14: "MQTT-3.14.2-1",
  15: "MQTT-3.15.2-1",
};

function measureConnect(p: Connect, strict: boolean): number {
  if (p.protocolVersion !== undefined && p.protocolVersion !== 5) {
    refuse(
      1,
      `its protocolVersion is ${p.protocolVersion}, not 5; encode with protocolVersion: 4 for ` +
        "MQTT 3.1.1",
      0x84,
    );
  }
  checkInteger(p.keepAlive ?? 0, 0xffff, "Keep Alive");
  propsLength = measureProperties(p.properties, PacketType.Connect, strict);
  let size = 10 + vbiLength(propsLength) + propsLength;
  size += 2 + checkedUtf8Length(p.clientId, "Client Identifier", strict);
  const will = p.will;
  if (will !== undefined) {
    const qos = will.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      refuse(1, `Will QoS must be 0, 1 or 2, got ${qos}`, 0x81, "MQTT-3.1.2-12");
    }
    const problem = topicNameProblem(will.topic);
    if (problem) {
      refuse(
        1,
        `Will Topic ${JSON.stringify(will.topic)}: ${problem.reason}`,
        0x82,
        problem.statement,
      );
    }
    willPropsLength = measureProperties(will.properties, WILL, strict);
    size += vbiLength(willPropsLength) + willPropsLength;
    size += 2 + checkedUtf8Length(will.topic, "Will Topic", strict);
    size += 2 + checkedBinaryLength(will.payload, "Will Payload");
  }
  if (p.username !== undefined) size += 2 + checkedUtf8Length(p.username, "User Name", strict);
  if (p.password !== undefined) size += 2 + checkedBinaryLength(p.password, "Password");
  return size;
}

function writeConnect(w: Writer, p: Connect): void {
  writeConnectHeader(w, p, 5);
  const will = p.will;
  w.vbi(propsLength);
  if (propsLength > 0) writeProperties(w, p.properties!);
  w.utf8(p.clientId);
  if (will !== undefined) {
    w.vbi(willPropsLength);
    if (willPropsLength > 0) writeProperties(w, will.properties!);
    w.utf8(will.topic);
    w.binary(will.payload);
  }
  if (p.username !== undefined) w.utf8(p.username);
  if (p.password !== undefined) w.binary(p.password);
}

/** The last non-empty Topic Name measured, the rules it was checked under, and its length. */
let lastTopic = "";
let lastTopicStrict = true;
let lastTopicLength = 0;

function measurePublish(p: Publish, strict: boolean): number {
  const qos = p.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    refuse(3, `QoS must be 0, 1 or 2, got ${qos}`, 0x81, "MQTT-3.3.1-4");
  }
  if (qos === 0) {
    if (p.dup) refuse(3, "DUP must be 0 on a QoS 0 PUBLISH", 0x82, "MQTT-3.3.1-2");
    if (p.packetId !== undefined) {
      refuse(3, "a QoS 0 PUBLISH carries no Packet Identifier", 0x82, "MQTT-2.2.1-2");
    }
  } else {
    checkPacketId(3, p.packetId);
  }
  const props = p.properties;
  const topic = p.topic;
  let topicLength: number;
  if (topic === lastTopic && strict === lastTopicStrict) {
    // Checked already: a publisher mostly sends to the same topics again.
    topicLength = lastTopicLength;
  } else {
    if (topic.length === 0) {
      if (props?.topicAlias === undefined) {
        refuse(3, "an empty Topic Name needs a Topic Alias", 0x82, "MQTT-3.3.2-1");
      }
    } else {
      const problem = topicNameProblem(topic);
      if (problem) {
        refuse(
          3,
          `Topic Name ${JSON.stringify(topic)}: ${problem.reason}`,
          0x82,
          problem.statement,
        );
      }
    }
    topicLength = checkedUtf8Length(topic, "Topic Name", strict);
    if (topic.length > 0) {
      lastTopic = topic;
      lastTopicStrict = strict;
      lastTopicLength = topicLength;
    }
  }
  if (props?.responseTopic !== undefined) {
    const problem = topicNameProblem(props.responseTopic);
    if (problem) {
      refuse(
        3,
        `Response Topic ${JSON.stringify(props.responseTopic)}: ${problem.reason}`,
        0x82,
        "MQTT-3.3.2-14",
      );
    }
  }
  if (!(p.payload instanceof Uint8Array)) {
    throw new TypeError("PUBLISH payload must be a Uint8Array");
  }
  propsLength = measureProperties(props, PacketType.Publish, strict);
  return 2 + topicLength + (qos > 0 ? 2 : 0) +
    vbiLength(propsLength) + propsLength + p.payload.length;
}

function measureSubscribe(p: Subscribe, strict: boolean): number {
  checkPacketId(8, p.packetId);
  const subs = p.subscriptions;
  if (!Array.isArray(subs) || subs.length === 0) {
    refuse(8, "it needs at least one Topic Filter", 0x82, "MQTT-3.8.3-2");
  }
  let size = 2 + propertySection(p.properties, PacketType.Subscribe, strict);
  for (const s of subs) {
    const problem = topicFilterProblem(s.filter);
    if (problem) {
      refuse(
        8,
        `Topic Filter ${JSON.stringify(s.filter)}: ${problem.reason}`,
        0x82,
        problem.statement,
      );
    }
    const qos = s.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      refuse(8, `QoS of ${JSON.stringify(s.filter)} must be 0, 1 or 2, got ${qos}`, 0x82);
    }
    const rh = s.retainHandling ?? 0;
    if (rh !== 0 && rh !== 1 && rh !== 2) {
      refuse(
        8,
        `Retain Handling of ${JSON.stringify(s.filter)} must be 0, 1 or 2, got ${rh}`,
        0x82,
      );
    }
    if (s.noLocal && isSharedFilter(s.filter)) {
      refuse(
        8,
        `No Local must not be set on the shared subscription ${JSON.stringify(s.filter)}`,
        0x82,
        "MQTT-3.8.3-4",
      );
    }
    size += 3 + checkedUtf8Length(s.filter, "Topic Filter", strict);
  }
  return size;
}

/** Measures the packet's Remaining Length, checking it; leaves what write needs in the module state. */
function measure(p: Packet, strict: boolean): number {
  switch (p.type) {
    case PacketType.Connect:
      return measureConnect(p, strict);
    case PacketType.Connack: {
      checkReasonCode(2, p.reasonCode, "MQTT-3.2.2-8");
      if (p.sessionPresent && p.reasonCode !== 0) {
        refuse(2, "Session Present must be 0 with a non-zero reason code", 0x82, "MQTT-3.2.2-6");
      }
      propsLength = measureProperties(p.properties, 2, strict);
      return 2 + vbiLength(propsLength) + propsLength;
    }
    case PacketType.Publish:
      return measurePublish(p, strict);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp: {
      checkPacketId(p.type, p.packetId);
      const code = p.reasonCode ?? 0;
      checkReasonCode(p.type, code, ackStatements[p.type]);
      propsLength = measureProperties(p.properties, p.type, strict);
      if (propsLength > 0) return 3 + vbiLength(propsLength) + propsLength;
      return code === 0 ? 2 : 3;
    }
    case PacketType.Subscribe:
      return measureSubscribe(p, strict);
    case PacketType.Suback:
    case PacketType.Unsuback: {
      checkPacketId(p.type, p.packetId);
      if (!Array.isArray(p.reasonCodes) || p.reasonCodes.length === 0) {
        refuse(p.type, "it needs at least one reason code", 0x82);
      }
      for (const code of p.reasonCodes) {
        checkReasonCode(
          p.type,
          code,
          p.type === PacketType.Suback ? "MQTT-3.9.3-2" : "MQTT-3.11.3-2",
        );
      }
      return 2 + propertySection(p.properties, p.type, strict) + p.reasonCodes.length;
    }
    case PacketType.Unsubscribe: {
      checkPacketId(10, p.packetId);
      if (!Array.isArray(p.filters) || p.filters.length === 0) {
        refuse(10, "it needs at least one Topic Filter", 0x82, "MQTT-3.10.3-2");
      }
      let size = 2 + propertySection(p.properties, 10, strict);
      for (const f of p.filters) {
        const problem = topicFilterProblem(f);
        if (problem) {
          refuse(
            10,
            `Topic Filter ${JSON.stringify(f)}: ${problem.reason}`,
            0x82,
            problem.statement,
          );
        }
        size += 2 + checkedUtf8Length(f, "Topic Filter", strict);
      }
      return size;
    }
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return 0;
    case PacketType.Disconnect:
    case PacketType.Auth: {
      const code = p.reasonCode ?? 0;
      checkReasonCode(p.type, code, ackStatements[p.type]);
      propsLength = measureProperties(p.properties, p.type, strict);
      if (propsLength > 0) return 1 + vbiLength(propsLength) + propsLength;
      return code === 0 ? 0 : 1;
    }
    default:
      throw new TypeError(`Unknown packet type ${(p as { type: unknown }).type}`);
  }
}

const firstByteFlags = [0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/**
 * Writes a PUBLISH up to its payload: the fixed header (its Remaining Length `rem` counting the
 * payload), the variable header and the properties. What {@linkcode write} and
 * {@linkcode encodePublishHead} share.
 */
function writePublishHead(w: Writer, p: Publish, rem: number): void {
  w.u8(0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0));
  w.vbi(rem);
  w.utf8(p.topic);
  if (p.qos > 0) w.u16(p.packetId!);
  w.vbi(propsLength);
  if (propsLength > 0) writeProperties(w, p.properties!);
}

function write(w: Writer, p: Packet, rem: number): void {
  const type = p.type;
  if (type === PacketType.Publish) {
    writePublishHead(w, p, rem);
    w.bytes(p.payload);
    return;
  }
  w.u8((type << 4) | firstByteFlags[type]!);
  w.vbi(rem);
  switch (p.type) {
    case PacketType.Connect:
      return writeConnect(w, p);
    case PacketType.Connack:
      w.u8(p.sessionPresent ? 1 : 0);
      w.u8(p.reasonCode);
      w.vbi(propsLength);
      if (propsLength > 0) writeProperties(w, p.properties!);
      return;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      w.u16(p.packetId);
      if (rem > 2) {
        w.u8(p.reasonCode ?? 0);
        if (rem > 3) {
          w.vbi(propsLength);
          writeProperties(w, p.properties!);
        }
      }
      return;
    case PacketType.Subscribe: {
      w.u16(p.packetId);
      w.vbi(propsLength);
      if (propsLength > 0) writeProperties(w, p.properties!);
      for (const s of p.subscriptions) {
        w.utf8(s.filter);
        w.u8(
          (s.qos ?? 0) | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0) |
            ((s.retainHandling ?? 0) << 4),
        );
      }
      return;
    }
    case PacketType.Suback:
    case PacketType.Unsuback: {
      w.u16(p.packetId);
      w.vbi(propsLength);
      if (propsLength > 0) writeProperties(w, p.properties!);
      for (const code of p.reasonCodes) w.u8(code);
      return;
    }
    case PacketType.Unsubscribe: {
      w.u16(p.packetId);
      w.vbi(propsLength);
      if (propsLength > 0) writeProperties(w, p.properties!);
      for (const f of p.filters) w.utf8(f);
      return;
    }
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return;
    case PacketType.Disconnect:
    case PacketType.Auth:
      if (rem > 0) {
        w.u8(p.reasonCode ?? 0);
        if (rem > 1) {
          w.vbi(propsLength);
          writeProperties(w, p.properties!);
        }
      }
      return;
  }
}

/** Refuses a packet too large, naming the version when it is 3.1.1. */
function refuseSize(packet: Packet, message: string, statement?: string): never {
  throw new EncodeError(
    `Cannot encode ${packetTypeName[packet.type] ?? "packet"}${
      v311 ? " for MQTT 3.1.1" : ""
    }: ${message}`,
    0x95,
    statement,
  );
}

function prepare(packet: Packet, options: EncodeOptions | undefined): number {
  if (packet === null || typeof packet !== "object") {
    throw new TypeError("packet must be an object");
  }
  const strict = options?.strict ?? true;
  const version = options?.protocolVersion;
  // The one version branch of a packet: 5.0 goes straight on.
  let rem: number;
  if (version === undefined || version === 5) {
    v311 = false;
    rem = measure(packet, strict);
  } else if (version === 4) {
    v311 = true;
    rem = measure311(packet, strict);
  } else {
    throw new RangeError(`protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), got ${version}`);
  }
  if (rem > 268_435_455) {
    refuseSize(packet, `its Remaining Length ${rem} exceeds the MQTT maximum of 268,435,455`);
  }
  const size = 1 + vbiLength(rem) + rem;
  const max = options?.maximumPacketSize;
  if (max !== undefined && size > max) {
    refuseSize(
      packet,
      `it is ${size} bytes, more than the receiver's Maximum Packet Size of ${max}; ` +
        "send a smaller packet",
      v311 ? undefined : "MQTT-3.2.2-15",
    );
  }
  remaining = rem;
  return size;
}

/**
 * The number of bytes `packet` encodes to, after checking it as {@linkcode encode} does.
 *
 * @example Measuring a PINGREQ
 * ```ts
 * import { encodedLength, PacketType } from "./mod.ts";
 * console.log(encodedLength({ type: PacketType.Pingreq })); // 2
 * ```
 */
export function encodedLength(packet: Packet, options?: EncodeOptions): number {
  return prepare(packet, options);
}

/**
 * Encodes a packet into a new `Uint8Array` of exactly its size.
 *
 * Throws {@linkcode EncodeError} for a packet that breaks a rule of MQTT 5.0, or of MQTT 3.1.1 with
 * `protocolVersion: 4` (with the reason code a receiver would answer and the statement id),
 * `TypeError` or `RangeError` for a field of the wrong type or range. Nothing is written then.
 *
 * @example Encoding a PUBLISH
 * ```ts
 * import { encode, PacketType } from "./mod.ts";
 * const bytes = encode({
 *   type: PacketType.Publish,
 *   topic: "a/b",
 *   payload: new TextEncoder().encode("hi"),
 *   qos: 1,
 *   packetId: 1,
 * });
 * console.log(bytes); // Uint8Array(12) [ 50, 10, 0, 3, 97, 47, 98, 0, 1, 0, 104, 105 ]
 * ```
 *
 * @example Encoding for MQTT 3.1.1: no properties, and 3.1.1's own rules
 * ```ts
 * import { encode, EncodeError, PacketType } from "./mod.ts";
 * const packet = { type: PacketType.Puback, packetId: 1 } as const;
 * console.log(encode(packet, { protocolVersion: 4 })); // Uint8Array(4) [ 64, 2, 0, 1 ]
 * try {
 *   encode({ ...packet, properties: { reasonString: "ok" } }, { protocolVersion: 4 });
 * } catch (e) {
 *   // Cannot encode PUBACK for MQTT 3.1.1: properties are MQTT 5.0 only
 *   if (e instanceof EncodeError) console.log(e.message);
 * }
 * ```
 */
export function encode(packet: Packet, options?: EncodeOptions): Uint8Array {
  const size = prepare(packet, options);
  const buf = new Uint8Array(size);
  if (v311) write311(writerAt(buf, 0), packet, remaining);
  else write(writerAt(buf, 0), packet, remaining);
  writer.buf = NO_BYTES;
  return buf;
}

/**
 * Encodes a PUBLISH up to its payload: the fixed header (whose Remaining Length counts the
 * payload), the variable header and the properties. The head followed by `packet.payload` is
 * byte for byte what {@linkcode encode} returns, so a writer can send a large payload as a second
 * chunk instead of copying it into one buffer.
 *
 * The packet is checked exactly as {@linkcode encode} checks it, `options.maximumPacketSize`
 * against the whole packet, payload included. It throws what {@linkcode encode} throws, and
 * nothing is written then; a packet of another type is a `TypeError`.
 *
 * @example Writing a PUBLISH as two chunks
 * ```ts
 * import { encode, encodePublishHead, PacketType } from "./mod.ts";
 * const payload = new Uint8Array(1024);
 * const packet = { type: PacketType.Publish, topic: "a/b", payload, qos: 0 } as const;
 * const head = encodePublishHead(packet);
 * console.log(head); // Uint8Array(9) [ 48, 134, 8, 0, 3, 97, 47, 98, 0 ]
 *
 * const chunks: Uint8Array[] = [];
 * const writer = new WritableStream<Uint8Array>({ write: (c) => void chunks.push(c) }).getWriter();
 * await writer.write(head);
 * await writer.write(payload); // the payload itself, not a copy
 * console.log(chunks[1] === payload); // true
 * console.log(head.length + payload.length === encode(packet).length); // true
 * ```
 */
export function encodePublishHead(packet: Publish, options?: EncodeOptions): Uint8Array {
  if (packet === null || typeof packet !== "object" || packet.type !== PacketType.Publish) {
    throw new TypeError(
      `encodePublishHead() takes a PUBLISH packet (type 3), got ${
        packet === null || typeof packet !== "object" ? packet : `type ${packet.type}`
      }`,
    );
  }
  const size = prepare(packet, options);
  const head = new Uint8Array(size - packet.payload.length);
  if (v311) writePublishHead311(writerAt(head, 0), packet, remaining);
  else writePublishHead(writerAt(head, 0), packet, remaining);
  writer.buf = NO_BYTES;
  return head;
}

/**
 * Encodes a packet into `target` at `offset` and returns the number of bytes written. Throws a
 * `RangeError` (and writes nothing) when it does not fit, and what {@linkcode encode} throws.
 *
 * @example Encoding two packets into one buffer
 * ```ts
 * import { encodeInto, PacketType } from "./mod.ts";
 * const buf = new Uint8Array(64);
 * let n = encodeInto({ type: PacketType.Pingreq }, buf, 0);
 * n += encodeInto({ type: PacketType.Disconnect }, buf, n);
 * console.log(buf.subarray(0, n)); // Uint8Array(4) [ 192, 0, 224, 0 ]
 * ```
 */
export function encodeInto(
  packet: Packet,
  target: Uint8Array,
  offset: number,
  options?: EncodeOptions,
): number {
  const size = prepare(packet, options);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new RangeError(
      `The packet needs ${size} bytes at offset ${offset}, but the target holds ${target.length}`,
    );
  }
  if (v311) write311(writerAt(target, offset), packet, remaining);
  else write(writerAt(target, offset), packet, remaining);
  // The writer keeps no buffer alive.
  writer.buf = NO_BYTES;
  return size;
}

/**
 * Encodes `packet` into `target` at `offset` if it fits there and returns the number of bytes
 * written; if it does not fit, writes nothing and returns the number of bytes it needs, negated.
 * The packet is measured once either way, so a writer that fills one buffer packet after packet
 * (a batch of writes) pays no second measurement in the common case. Throws what
 * {@linkcode encode} throws, having written nothing.
 *
 * @example Filling a buffer, then a larger one
 * ```ts
 * import { encodeIntoIfFits, PacketType } from "./mod.ts";
 * const packet = { type: PacketType.Puback, packetId: 7 } as const;
 * console.log(encodeIntoIfFits(packet, new Uint8Array(2), 0)); // -4
 * console.log(encodeIntoIfFits(packet, new Uint8Array(4), 0)); // 4
 * ```
 */
export function encodeIntoIfFits(
  packet: Packet,
  target: Uint8Array,
  offset: number,
  options?: EncodeOptions,
): number {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(`The offset must be a non-negative integer, got ${offset}`);
  }
  const size = prepare(packet, options);
  if (offset + size > target.length) return -size;
  if (v311) write311(writerAt(target, offset), packet, remaining);
  else write(writerAt(target, offset), packet, remaining);
  // The writer keeps no buffer alive.
  writer.buf = NO_BYTES;
  return size;
}
