/**
 * Framing for {@linkcode Engine.receive}: bytes in, whole packets out, a partial packet kept for
 * the next bytes. Each packet gets a copy of its bytes, so its payload belongs to the application.
 *
 * @module
 */

import { decodeBody, DecodeError, frame, type Packet } from "../codec/mod.ts";

const EMPTY = new Uint8Array(0);

/** The bytes of a packet not complete yet, and the framing of what comes. */
export class Framer {
  #rx: Uint8Array = EMPTY;
  #length = 0;

  /** Drops what is kept (a new connection). */
  clear(): void {
    this.#rx = EMPTY;
    this.#length = 0;
  }

  /**
   * Hands every whole packet of what was kept plus `bytes` to `each`, in order, and keeps the
   * rest; once `each` returns `false` the rest is dropped. A packet that does not decode goes to `failed`, whose error is thrown; so is anything
   * `each` throws. Either way what was kept is dropped (the connection ends).
   */
  push(
    bytes: Uint8Array,
    maximumPacketSize: number | undefined,
    strict: boolean,
    protocolVersion: 4 | 5,
    each: (packet: Packet) => boolean,
    failed: (error: DecodeError) => unknown,
  ): void {
    let buf = bytes;
    let end = bytes.length;
    if (this.#length > 0) {
      buf = this.#rx;
      if (this.#length + bytes.length > buf.length) {
        buf = new Uint8Array(Math.max(2 * buf.length, this.#length + bytes.length));
        buf.set(this.#rx.subarray(0, this.#length));
      }
      buf.set(bytes, this.#length);
      end = this.#length + bytes.length;
    }
    const options = maximumPacketSize === undefined ? {} : { maximumPacketSize };
    let at = 0;
    try {
      while (end - at >= 2) {
        let packet: Packet;
        let length: number;
        try {
          const f = frame(buf, options, at, end);
          if (!f.complete) break;
          length = f.length;
          packet = decodeBody(copy(buf, at, at + length), f.headerLength, strict, protocolVersion);
        } catch (e) {
          throw e instanceof DecodeError ? failed(e) : e;
        }
        at += length;
        if (!each(packet)) {
          // The connection ended (the server's DISCONNECT): what follows is not read.
          this.clear();
          return;
        }
      }
    } catch (e) {
      this.clear();
      throw e;
    }
    const rest = end - at;
    if (rest === 0) this.#length = 0;
    else if (buf === this.#rx) {
      buf.copyWithin(0, at, end);
      this.#length = rest;
    } else {
      this.#rx = copy(buf, at, end);
      this.#length = rest;
    }
  }
}

/**
 * A copy of `bytes[start, end)` in a plain `Uint8Array` of its own (a Node `Buffer`'s `slice()`
 * would be a view of the socket's chunk, not a copy).
 */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}
