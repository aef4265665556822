/**
 * Reads the fields of CONNECT, SUBSCRIBE and UNSUBSCRIBE packets straight from their bytes, in the
 * order section 3 of the specification lays them out, without the codec under test: the layout
 * tests compare what a parser written from the specification finds with what was asked for.
 *
 * Every reader throws when the bytes end early or when bytes are left over, so a field out of its
 * place, or one too many, fails the test instead of being read as something else.
 *
 * @example The payload fields of a CONNECT
 * ```ts
 * import { encode, PacketType } from "../../mod.ts";
 * import { readConnect } from "./wire.ts";
 *
 * const connect = readConnect(encode({ type: PacketType.Connect, cleanStart: true, keepAlive: 0, clientId: "a" }));
 * console.log(connect.payload.map((f) => f.name)); // ["clientId"]
 * ```
 *
 * @module
 */

/** A field of a packet's payload, as it lies on the wire. */
export interface WireField {
  /** The field's name: `clientId`, `willProperties`, `willTopic`, `willPayload`, `username`, ... */
  name: string;
  /** Offset of the field's first byte (its length prefix included) in the packet. */
  offset: number;
  /** The value's bytes, without the length prefix. */
  bytes: Uint8Array;
  /** The two-byte length prefix, for the fields that have one. */
  length?: number;
}

/** The fields of a CONNECT read from its bytes. */
export interface WireConnect {
  /** The Connect Flags byte. */
  flags: number;
  /** The Keep Alive. */
  keepAlive: number;
  /** The payload fields, in wire order. */
  payload: WireField[];
}

/** A Topic Filter of SUBSCRIBE or UNSUBSCRIBE, as it lies on the wire. */
export interface WireFilter extends WireField {
  /** The Subscription Options byte (SUBSCRIBE only). */
  options?: number;
}

/** The Packet Identifier and Topic Filters of a SUBSCRIBE or UNSUBSCRIBE read from its bytes. */
export interface WireSubscribe {
  /** The Packet Identifier. */
  packetId: number;
  /** The Topic Filters, in wire order. */
  filters: WireFilter[];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes bytes that must be well-formed UTF-8; throws otherwise. */
export function utf8(bytes: Uint8Array): string {
  return strictUtf8.decode(bytes);
}

class Cursor {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly end: number) {}

  take(n: number, what: string): Uint8Array {
    if (this.pos + n > this.end) {
      throw new Error(
        `${what}: needs ${n} bytes at offset ${this.pos}, the packet ends at ${this.end}`,
      );
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    return this.take(1, what)[0]!;
  }

  u16(what: string): number {
    const b = this.take(2, what);
    return (b[0]! << 8) | b[1]!;
  }

  vbi(what: string): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * 128 ** i;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error(`${what}: a Variable Byte Integer longer than 4 bytes`);
  }

  /** A field with a two-byte length prefix (UTF-8 Encoded String or Binary Data). */
  prefixed(name: string): WireField {
    const offset = this.pos;
    const length = this.u16(`${name} length`);
    return { name, offset, length, bytes: this.take(length, name) };
  }
}

/** Checks the fixed header and returns a cursor over the rest of the packet. */
function open(bytes: Uint8Array, firstByte: number, what: string): Cursor {
  if (bytes[0] !== firstByte) {
    throw new Error(`not a ${what}: the first byte is 0x${bytes[0]?.toString(16)}`);
  }
  const header = new Cursor(bytes, bytes.length);
  header.pos = 1;
  const remaining = header.vbi("Remaining Length");
  if (header.pos + remaining !== bytes.length) {
    throw new Error(
      `${what}: Remaining Length ${remaining} does not match the ${bytes.length} bytes given`,
    );
  }
  const c = new Cursor(bytes, bytes.length);
  c.pos = header.pos;
  return c;
}

function done(c: Cursor, what: string): void {
  if (c.pos !== c.end) {
    throw new Error(`${what}: ${c.end - c.pos} bytes left over after the last field`);
  }
}

/**
 * Reads a CONNECT: the variable header of 3.1.2, then the payload fields of 3.1.3 in their order
 * (Client Identifier, Will Properties, Will Topic, Will Payload, User Name, Password), each present
 * as the Connect Flags say.
 */
export function readConnect(bytes: Uint8Array): WireConnect {
  const c = open(bytes, 0x10, "CONNECT");
  const name = c.prefixed("Protocol Name");
  if (utf8(name.bytes) !== "MQTT") throw new Error("CONNECT: the Protocol Name is not MQTT");
  if (c.u8("Protocol Version") !== 5) throw new Error("CONNECT: the Protocol Version is not 5");
  const flags = c.u8("Connect Flags");
  const keepAlive = c.u16("Keep Alive");
  c.take(c.vbi("Property Length"), "Properties");
  const payload: WireField[] = [c.prefixed("clientId")];
  if (flags & 0x04) {
    const offset = c.pos;
    const length = c.vbi("Will Property Length");
    payload.push({ name: "willProperties", offset, bytes: c.take(length, "Will Properties") });
    payload.push(c.prefixed("willTopic"));
    payload.push(c.prefixed("willPayload"));
  }
  if (flags & 0x80) payload.push(c.prefixed("username"));
  if (flags & 0x40) payload.push(c.prefixed("password"));
  done(c, "CONNECT");
  return { flags, keepAlive, payload };
}

/** Reads a SUBSCRIBE (3.8): Packet Identifier, properties, then Topic Filters with their options. */
export function readSubscribe(bytes: Uint8Array): WireSubscribe {
  const c = open(bytes, 0x82, "SUBSCRIBE");
  const packetId = c.u16("Packet Identifier");
  c.take(c.vbi("Property Length"), "Properties");
  const filters: WireFilter[] = [];
  while (c.pos < c.end) {
    const filter: WireFilter = c.prefixed("filter");
    filter.options = c.u8("Subscription Options");
    filters.push(filter);
  }
  done(c, "SUBSCRIBE");
  return { packetId, filters };
}

/** Reads an UNSUBSCRIBE (3.10): Packet Identifier, properties, then Topic Filters. */
export function readUnsubscribe(bytes: Uint8Array): WireSubscribe {
  const c = open(bytes, 0xa2, "UNSUBSCRIBE");
  const packetId = c.u16("Packet Identifier");
  c.take(c.vbi("Property Length"), "Properties");
  const filters: WireFilter[] = [];
  while (c.pos < c.end) filters.push(c.prefixed("filter"));
  done(c, "UNSUBSCRIBE");
  return { packetId, filters };
}

/** The fixed-header flags and Packet Identifier of a PUBLISH (3.3.1, 3.3.2). */
export interface WirePublish {
  /** The DUP flag (bit 3). */
  dup: boolean;
  /** The QoS (bits 2-1). */
  qos: number;
  /** The RETAIN flag (bit 0). */
  retain: boolean;
  /** The Topic Name. */
  topic: string;
  /** The Packet Identifier, present at QoS 1 and 2 only. */
  packetId: number | undefined;
}

/** Reads the flags, Topic Name and Packet Identifier of a PUBLISH from its bytes. */
export function readPublish(bytes: Uint8Array): WirePublish {
  const first = bytes[0] ?? 0;
  if (first >> 4 !== 3) throw new Error(`not a PUBLISH: the first byte is 0x${first.toString(16)}`);
  const c = open(bytes, first, "PUBLISH");
  const qos = (first >> 1) & 3;
  const topic = utf8(c.prefixed("Topic Name").bytes);
  return {
    dup: (first & 0x08) !== 0,
    qos,
    retain: (first & 0x01) !== 0,
    topic,
    packetId: qos > 0 ? c.u16("Packet Identifier") : undefined,
  };
}
