/**
 * Where the engine puts the packets it sends: an {@linkcode Output}. The engine encodes each
 * packet into it before it changes any state, so a packet the encoder refuses leaves both the
 * output and the session as they were. {@linkcode BytesOutput}, the default, collects the bytes
 * for the caller to take and write; a driver with its own write batching (as the `Client` has)
 * passes its own.
 *
 * @module
 */

import { encode, encodeIntoIfFits, type EncodeOptions, type Packet } from "../codec/mod.ts";

/** The sink of the bytes an engine sends. */
export interface Output {
  /**
   * Encodes `packet` with `options` and queues its bytes for writing. Throws what the codec's
   * `encode()` throws (an `EncodeError` for a packet that breaks a rule), having queued nothing.
   */
  write(packet: Packet, options: EncodeOptions): void;
}

const EMPTY = new Uint8Array(0);

/**
 * The default {@linkcode Output}: encodes every packet into one growing buffer, which
 * {@linkcode BytesOutput.take} hands out (and starts afresh).
 *
 * @example Collecting what an engine sends
 * ```ts
 * import { BytesOutput } from "./output.ts";
 * import { PacketType } from "../codec/mod.ts";
 * const out = new BytesOutput();
 * out.write({ type: PacketType.Pingreq }, {});
 * console.log(out.take()); // Uint8Array(2) [ 192, 0 ]
 * console.log(out.take()); // undefined
 * ```
 */
export class BytesOutput implements Output {
  #buf: Uint8Array = EMPTY;
  #length = 0;

  /** The number of bytes queued and not taken yet. */
  get length(): number {
    return this.#length;
  }

  /** Encodes `packet` into the buffer, growing it as needed; see {@linkcode Output.write}. */
  write(packet: Packet, options: EncodeOptions): void {
    let size = encodeIntoIfFits(packet, this.#buf, this.#length, options);
    if (size < 0) {
      if (this.#length === 0 && -size > 16_384) {
        // A large packet alone: its own buffer of its exact size.
        this.#buf = encode(packet, options);
        this.#length = this.#buf.length;
        return;
      }
      const grown = new Uint8Array(Math.max(512, 2 * this.#buf.length, this.#length - size));
      grown.set(this.#buf.subarray(0, this.#length));
      this.#buf = grown;
      size = encodeIntoIfFits(packet, grown, this.#length, options);
    }
    this.#length += size;
  }

  /** The bytes queued since the last call (the caller owns them), or `undefined` if none. */
  take(): Uint8Array | undefined {
    if (this.#length === 0) return undefined;
    const bytes = this.#buf.subarray(0, this.#length);
    this.#buf = EMPTY;
    this.#length = 0;
    return bytes;
  }
}
