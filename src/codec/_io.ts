// The byte reader and writer of the codec: one bounds check per read, no allocation per field.

import { DecodeError, EncodeError } from "./errors.ts";
import type { Connect } from "./packets.ts";
import {
  decodeUtf8,
  lastDecodeProblem,
  lastUtf8Problem,
  utf8Length,
  utf8Statement,
} from "./_utf8.ts";

/** Reads the fields of one packet's bytes; every read is bounds-checked. */
export class Reader {
  /** The packet's bytes. */
  buf: Uint8Array;
  /** The next byte to read. */
  pos: number;
  /** One past the last byte of the packet (or of the current section). */
  end: number;
  /** Whether the strict UTF-8 rules apply. */
  strict: boolean;
  /** The protocol version read: its statement ids are cited, and 3.1.1 is named in messages. */
  version: 4 | 5;
  /** Where the packet starts in `buf`: errors give offsets from there. */
  base: number;

  constructor(
    buf: Uint8Array,
    pos: number,
    end: number,
    strict: boolean,
    version: 4 | 5 = 5,
    base = 0,
  ) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.strict = strict;
    this.version = version;
    this.base = base;
  }

  /** Throws a DecodeError with `reasonCode` at the current position. */
  fail(message: string, reasonCode: number, statement?: string): never {
    throw new DecodeError(
      this.version === 4 ? `MQTT 3.1.1: ${message}` : message,
      reasonCode,
      this.pos - this.base,
      statement,
    );
  }

  /** Throws a Malformed Packet error at the current position. */
  malformed(message: string, statement?: string): never {
    this.fail(message, 0x81, statement);
  }

  /** Throws a Protocol Error at the current position. */
  protocol(message: string, statement?: string): never {
    this.fail(message, 0x82, statement);
  }

  /** Ensures `n` more bytes are there. */
  need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      this.malformed(`${what} runs past the end of the packet (remaining length too short)`);
    }
  }

  u8(what: string): number {
    if (this.pos >= this.end) this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    const p = this.pos;
    if (p + 2 > this.end) this.need(2, what);
    this.pos = p + 2;
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }

  u32(what: string): number {
    const p = this.pos;
    if (p + 4 > this.end) this.need(4, what);
    this.pos = p + 4;
    const b = this.buf;
    return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /** A Variable Byte Integer of at most 4 bytes. */
  vbi(what: string): number {
    let value = 0;
    let mult = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * mult;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) {
          this.pos--;
          this.malformed(`${what} is not in its shortest encoding`, "MQTT-1.5.5-1");
        }
        return value;
      }
      mult *= 128;
    }
    this.pos--;
    return this.malformed(`${what} is a Variable Byte Integer longer than 4 bytes`);
  }

  /** A UTF-8 Encoded String. */
  utf8(what: string): string {
    const len = this.u16(what);
    const start = this.pos;
    if (start + len > this.end) this.need(len, what);
    const s = decodeUtf8(this.buf, start, start + len, this.strict);
    if (s === null) {
      this.malformed(
        `${what} contains ${lastDecodeProblem}`,
        utf8Statement(lastDecodeProblem, this.version),
      );
    }
    this.pos = start + len;
    return s;
  }

  /** Binary Data: a view into the packet's bytes. */
  binary(what: string): Uint8Array {
    const len = this.u16(what);
    const start = this.pos;
    if (start + len > this.end) this.need(len, what);
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }
}

/**
 * What {@linkcode frameLength} found besides its result: the fixed header's length (of a whole
 * packet), and the packet's total length (-1 while the fixed header is incomplete). One set serves:
 * framing is synchronous.
 */
export const framed = { headerLength: 0, length: -1 };

/**
 * The fixed header at `buf[offset..end)`: the packet's total length when the whole packet is
 * there, else 0 (then {@linkcode framed}`.length` is its length if known). Throws what the
 * codec's `frame()` throws (a malformed Remaining Length, a packet over `max`). The allocation-free
 * core of `frame()`, for readers that frame every packet they read.
 */
export function frameLength(buf: Uint8Array, offset: number, end: number, max: number): number {
  let value = 0;
  let mult = 1;
  for (let i = 1; i <= 4; i++) {
    if (offset + i >= end) {
      framed.length = -1;
      return 0;
    }
    const b = buf[offset + i]!;
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 1) {
        throw new DecodeError(
          "Remaining Length is not in its shortest encoding",
          0x81,
          i,
          "MQTT-1.5.5-1",
        );
      }
      const length = 1 + i + value;
      if (length > max) {
        throw new DecodeError(
          `Packet of ${length} bytes exceeds the Maximum Packet Size of ${max}`,
          0x95,
          0,
          "MQTT-3.1.2-24",
        );
      }
      framed.headerLength = 1 + i;
      framed.length = length;
      return end - offset >= length ? length : 0;
    }
    mult *= 128;
  }
  throw new DecodeError("Remaining Length is longer than 4 bytes", 0x81, 4);
}

/** The number of bytes of a Variable Byte Integer. */
export function vbiLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

const textEncoder = new TextEncoder();

/** Writes fields into a buffer whose size was measured beforehand. */
export class Writer {
  /** The target buffer. */
  buf: Uint8Array;
  /** The next byte to write. */
  pos: number;

  constructor(buf: Uint8Array, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }

  u8(n: number): void {
    this.buf[this.pos++] = n;
  }

  u16(n: number): void {
    const b = this.buf;
    b[this.pos] = n >>> 8;
    b[this.pos + 1] = n;
    this.pos += 2;
  }

  u32(n: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = n >>> 24;
    b[p + 1] = n >>> 16;
    b[p + 2] = n >>> 8;
    b[p + 3] = n;
    this.pos = p + 4;
  }

  /** A Variable Byte Integer in its shortest form [MQTT-1.5.5-1]. */
  vbi(n: number): void {
    const b = this.buf;
    do {
      let byte = n & 0x7f;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 0x80;
      b[this.pos++] = byte;
    } while (n > 0);
  }

  /** A UTF-8 Encoded String already checked by {@linkcode checkedUtf8Length}. */
  utf8(s: string): void {
    const b = this.buf;
    const start = this.pos + 2;
    const n = s.length;
    let p = start;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    if (i < n) {
      p += textEncoder.encodeInto(s.substring(i), b.subarray(p)).written;
    }
    const len = p - start;
    b[this.pos] = len >>> 8;
    b[this.pos + 1] = len;
    this.pos = p;
  }

  /** Binary Data with its two-byte length. */
  binary(data: Uint8Array): void {
    this.u16(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** Raw bytes. */
  bytes(data: Uint8Array): void {
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
}

/**
 * The UTF-8 length of `s` when it is a string that may be sent (its MQTT rules kept, at most
 * 65,535 bytes), else -1; {@linkcode checkedUtf8Length} then says why. The fast path of
 * checks whose field name is costly to build.
 */
export function sendableUtf8Length(s: unknown, strict: boolean): number {
  if (typeof s !== "string") return -1;
  const len = utf8Length(s, strict);
  return len <= 65_535 ? len : -1;
}

/**
 * The UTF-8 length of `s` as a field named `what`, or an {@linkcode EncodeError} citing the
 * statements of `version` (4: MQTT 3.1.1, named in the message).
 */
export function checkedUtf8Length(s: string, what: string, strict: boolean, version = 5): number {
  if (typeof s !== "string") throw new TypeError(`${what} must be a string, got ${typeof s}`);
  const len = utf8Length(s, strict);
  if (len < 0) {
    throw new EncodeError(
      `Cannot encode ${what} ${JSON.stringify(s)}${
        version === 4 ? " for MQTT 3.1.1" : ""
      }: it contains ${lastUtf8Problem}` +
        (strict && (lastUtf8Problem === "a control character" ||
            lastUtf8Problem === "a Unicode non-character")
          ? " (pass strict: false to allow it)"
          : ""),
      0x81,
      utf8Statement(lastUtf8Problem, version),
    );
  }
  if (len > 65_535) {
    throw new EncodeError(
      `Cannot encode ${what}${version === 4 ? " for MQTT 3.1.1" : ""}: it is ${len} bytes of ` +
        "UTF-8, more than a string may hold (65,535)",
      0x81,
      version === 4 ? "v3.1.1 MQTT-4.7.3-3" : "MQTT-4.7.3-3",
    );
  }
  return len;
}

/** Checks a Binary Data field's type and size. */
export function checkedBinaryLength(data: Uint8Array, what: string): number {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array`);
  }
  if (data.length > 65_535) {
    throw new RangeError(
      `Cannot encode ${what}: it is ${data.length} bytes, more than Binary Data may hold (65,535)`,
    );
  }
  return data.length;
}

/** Checks an integer field's range. */
export function checkInteger(n: number, max: number, what: string, min = 0): void {
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`${what} must be an integer from ${min} to ${max}, got ${n}`);
  }
}

/**
 * Writes the CONNECT variable header up to Keep Alive (section 3.1.2): the protocol name "MQTT",
 * the protocol level (4 for 3.1.1, 5 for 5.0), the Connect Flags and Keep Alive.
 */
export function writeConnectHeader(w: Writer, p: Connect, level: 4 | 5): void {
  w.u16(4);
  w.u8(0x4d); // M
  w.u8(0x51); // Q
  w.u8(0x54); // T
  w.u8(0x54); // T
  w.u8(level);
  const will = p.will;
  let flags = p.cleanStart ? 0x02 : 0;
  if (will !== undefined) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  w.u8(flags);
  w.u16(p.keepAlive ?? 0);
}
