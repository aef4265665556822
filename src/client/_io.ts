/**
 * The client's I/O, private to it: the cancel-safe packet reader, which reads through a
 * `ReadableStreamBYOBReader` into a reusable buffer and yields only complete packets, and the
 * write batching, the engine's output, which sends the packets queued in one turn in one write.
 * The two share a module by design (one private I/O layer beside the client), hence its length.
 *
 * @module
 */

import {
  decodeBody,
  DecodeError,
  encode,
  encodeIntoIfFits,
  type EncodeOptions,
  encodePublishHead,
  frame,
  type Packet,
  PacketType,
} from "../codec/mod.ts";
import {
  ConnectionClosedError,
  type MqttError,
  NotConnectedError,
  type Output,
} from "../session/mod.ts";
import { deferred, raceAbort } from "../_async.ts";
import { framed, frameLength } from "../codec/_io.ts";
import { decodeAt } from "../codec/_decode.ts";
import type { DirectConnection } from "../transport/mod.ts";
import { type Logger, silentLogger } from "../session/mod.ts";
import { tracePacket } from "./_log.ts";

const EMPTY = new Uint8Array(0);

/** Observes a rejection that is handled elsewhere. */
function ignore(): void {}

/** Options of {@linkcode PacketReader}. */
export interface PacketReaderOptions {
  /** The largest packet accepted; a larger one is refused (0x95) before its body is allocated. */
  maximumPacketSize?: number;
  /** Strict UTF-8 rules for decoding (see the codec's `DecodeOptions`). @default {true} */
  strict?: boolean;
  /** The protocol version to decode: 4 (MQTT 3.1.1) or 5. @default {5} */
  protocolVersion?: 4 | 5;
  /** Where the reader logs what it reads. @default {silentLogger} */
  logger?: Logger;
  /** The size of the read-ahead buffer, in bytes. @default {65536} */
  bufferSize?: number;
  /**
   * Direct reads on the connection under `readable` (a transport's `direct`): when given, the
   * reader reads through it and leaves the stream unused.
   */
  source?: { read(p: Uint8Array): Promise<number | null> };
}

/**
 * Reads MQTT packets from a byte stream. Cancel-safe: when {@linkcode PacketReader.next} is
 * aborted, a read already under way runs on and its bytes stay in the reader, so the next call
 * completes the same packet. Small packets share read calls (read-ahead into one buffer). A packet
 * larger than the buffer gathers in the read-ahead buffer (which grows, and is kept for the next
 * one) until the bytes that arrived are at least an eighth of it; then it gets a buffer of its
 * own, of its whole length, and the rest is read straight into that buffer. So a large length
 * announced but not sent costs at most eight times what arrived, the packet's bytes are copied at
 * most once and only an eighth of them, and each packet touches fresh memory once. Each packet
 * returned owns its bytes: payloads stay valid after later reads. The packets completed by one
 * read share one copy of their bytes: a buffer of their own when they take more than 2 KiB, else
 * the next bytes of a 16 KiB arena that is never written twice (one allocation per arena, not per
 * read). A payload kept by the application keeps that buffer alive: at most 16 KiB, or the bytes
 * of the read that brought it.
 *
 * @example Reading packets from a stream
 * ```ts
 * import { PacketReader } from "./_io.ts";
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(c) {
 *     c.enqueue(new Uint8Array([0xd0, 0x00])); // PINGRESP
 *     c.close();
 *   },
 * });
 * const reader = new PacketReader(stream);
 * console.log(await reader.next()); // { type: 13 }
 * ```
 */
export class PacketReader {
  #source: { read(p: Uint8Array): Promise<number | null> } | undefined;
  #byob: ReadableStreamBYOBReader | undefined;
  #default: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /**
   * The complete packets of the last read, copied out of the read-ahead buffer together (one
   * copy per read, not per packet) and handed out one by one from `#chunkPos` to `#chunkEnd`:
   * into a buffer of their own when they are many, else into the arena.
   */
  #chunk: Uint8Array = EMPTY;
  /**
   * Where the packets of reads that brought at most {@linkcode ARENA_COPY} bytes of them are
   * copied, one after the other; a full arena is left to the packets in it (never written again)
   * and a new one opened.
   */
  #arena: Uint8Array = EMPTY;
  #arenaUsed = 0;
  #chunkPos = 0;
  #chunkEnd = 0;
  #frameOptions: { maximumPacketSize: number };
  /** The read-ahead buffer's size when the reader was made (it grows for large packets). */
  #bufferSize: number;
  /** A large packet's own buffer, of its whole length, being filled. */
  #big: Uint8Array | undefined;
  #bigFilled = 0;
  #pending: Promise<void> | undefined;
  #eof = false;
  #error: unknown;
  #max: number;
  #strict: boolean;
  #version: 4 | 5;
  #log: Logger;
  #bytesRead = 0;

  /** Creates a reader over `readable`, locking it (unless `options.source` is given). */
  constructor(readable: ReadableStream<Uint8Array>, options: PacketReaderOptions = {}) {
    this.#source = options.source;
    if (this.#source === undefined) {
      try {
        this.#byob = readable.getReader({ mode: "byob" });
      } catch {
        this.#default = readable.getReader();
      }
    }
    this.#bufferSize = options.bufferSize ?? 65_536;
    this.#buf = new Uint8Array(this.#bufferSize);
    this.#max = options.maximumPacketSize ?? 268_435_460;
    this.#frameOptions = { maximumPacketSize: this.#max };
    this.#strict = options.strict ?? true;
    this.#version = options.protocolVersion ?? 5;
    this.#log = options.logger ?? silentLogger;
  }

  /** The number of bytes read from the stream so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** The number of bytes read but not yet returned as a packet. */
  get buffered(): number {
    return (this.#big ? this.#bigFilled : this.#end - this.#start) + this.#chunkEnd -
      this.#chunkPos;
  }

  /** Sets the largest packet accepted from now on. */
  set maximumPacketSize(value: number) {
    this.#max = value;
    this.#frameOptions = { maximumPacketSize: value };
  }

  /**
   * The next packet if one is complete in what was read already, without reading or waiting;
   * `undefined` otherwise (then call {@linkcode PacketReader.next}). Throws as `next()` does for
   * bytes that are not a valid packet.
   */
  take(): Packet | undefined {
    if (this.#chunkPos < this.#chunkEnd) return this.#fromChunk();
    // While a read is under way the read-ahead buffer is the stream's (a BYOB read transfers it).
    if (this.#pending !== undefined || this.#error !== undefined) return undefined;
    return this.#take();
  }

  /**
   * The next complete packet. Throws {@linkcode DecodeError} for bytes that are not a valid
   * packet (the connection must then be closed with its reason code), and
   * {@linkcode ConnectionClosedError} when the stream ends or fails. An abort rejects with the
   * signal's reason and loses no byte.
   */
  async next(signal?: AbortSignal): Promise<Packet> {
    for (;;) {
      if (this.#pending) await raceAbort(this.#pending, signal);
      const packet = this.#take();
      if (packet !== undefined) return packet;
      if (this.#error !== undefined) throw this.#error;
      if (this.#eof) {
        const partial = this.buffered;
        this.#log.debug("The stream ended with {partial} bytes of a packet buffered", { partial });
        throw new ConnectionClosedError(
          partial > 0
            ? `The connection closed in the middle of a packet (${partial} bytes of it received)`
            : "The connection was closed by the server",
        );
      }
      signal?.throwIfAborted();
      this.#pending = this.#fill();
    }
  }

  /** Frames and decodes a packet from what is buffered, or returns `undefined` if incomplete. */
  #take(): Packet | undefined {
    if (this.#chunkPos < this.#chunkEnd) return this.#fromChunk();
    const big = this.#big;
    if (big !== undefined) {
      if (this.#bigFilled < big.length) return undefined;
      this.#big = undefined;
      this.#bigFilled = 0;
      return this.#decode(big);
    }
    const available = this.#end - this.#start;
    if (available < 2) return undefined;
    const buf = this.#buf;
    // A read that failed took the buffer with it (detached): nothing is left to frame.
    if (buf.length < this.#end) return undefined;
    const first = frameLength(buf, this.#start, this.#end, this.#max);
    if (first > 0) {
      // Every complete packet buffered, copied out at once: the packets own their bytes (their
      // payloads survive later reads into the read-ahead buffer), with one copy for all of them.
      const start = this.#start;
      let end = start + first;
      while (this.#end - end >= 2) {
        let next;
        try {
          next = frameLength(buf, end, this.#end, this.#max);
        } catch {
          break; // Thrown again when that packet's turn comes.
        }
        if (next === 0) break;
        end += next;
      }
      const n = end - start;
      if (n > ARENA_COPY) {
        this.#chunk = buf.slice(start, end);
        this.#chunkPos = 0;
        this.#chunkEnd = n;
      } else {
        // A few small packets: copied into the arena, whose memory is never written twice.
        let arena = this.#arena;
        let at = this.#arenaUsed;
        if (at + n > arena.length) {
          arena = this.#arena = new Uint8Array(ARENA);
          at = 0;
        }
        arena.set(buf.subarray(start, end), at);
        this.#arenaUsed = at + n;
        this.#chunk = arena;
        this.#chunkPos = at;
        this.#chunkEnd = at + n;
      }
      this.#start = end;
      if (this.#start === this.#end) this.#start = this.#end = 0;
      return this.#fromChunk();
    }
    const length = framed.length;
    if (length > this.#buf.length && available * BIG_RATIO >= length) {
      // Enough of a large packet arrived to justify its whole length: a buffer of its own, into
      // which the rest is read straight (its pages are touched only as the bytes come).
      this.#log.debug("A packet of {length} bytes: own buffer after {available} bytes", {
        length,
        available,
      });
      const own = new Uint8Array(length);
      own.set(this.#buf.subarray(this.#start, this.#end));
      this.#big = own;
      this.#bigFilled = available;
      this.#start = this.#end = 0;
      // A read-ahead buffer grown for a very large packet is not kept.
      if (this.#buf.length > Math.max(KEEP_GROWN, this.#bufferSize)) {
        this.#buf = new Uint8Array(this.#bufferSize);
      }
    }
    return undefined;
  }

  /**
   * Decodes the next packet of `#chunk` (whole packets only, framed before), in place: no view of
   * the packet, only of its payload and binary fields.
   */
  #fromChunk(): Packet {
    const chunk = this.#chunk;
    const start = this.#chunkPos;
    const length = frameLength(chunk, start, this.#chunkEnd, this.#max);
    if (length === 0) throw new Error("unreachable: the chunk holds whole packets only");
    const headerLength = framed.headerLength;
    const end = start + length;
    this.#chunkPos = end;
    if (end === this.#chunkEnd) {
      this.#chunk = EMPTY;
      this.#chunkPos = this.#chunkEnd = 0;
    }
    if (this.#version === 5) return decodeAt(chunk, start, end, headerLength, this.#strict);
    return decodeBody(chunk.subarray(start, end), headerLength, this.#strict, this.#version);
  }

  #decode(bytes: Uint8Array, headerLength?: number): Packet {
    if (headerLength === undefined) {
      const f = frame(bytes, this.#frameOptions);
      headerLength = f.complete ? f.headerLength : 0;
    }
    return decodeBody(bytes, headerLength, this.#strict, this.#version);
  }

  /** Reads more bytes into the buffer; never rejects (errors are kept for next()). */
  async #fill(): Promise<void> {
    try {
      let target: Uint8Array;
      let offset: number;
      const big = this.#big;
      if (big !== undefined) {
        target = big;
        offset = this.#bigFilled;
      } else {
        if (this.#end === this.#buf.length) {
          if (this.#start > 0) {
            // Move the partial packet to the front to make room.
            this.#buf.copyWithin(0, this.#start, this.#end);
            this.#end -= this.#start;
            this.#start = 0;
          } else {
            // A large packet not yet justified: the read-ahead buffer doubles (what arrived
            // stays at least half of it).
            this.#buf = grow(this.#buf, 2 * this.#buf.length);
          }
        }
        target = this.#buf;
        offset = this.#end;
      }
      let n: number;
      if (this.#source !== undefined) {
        // Straight into the buffer, which stays ours (no transfer), in one call.
        const read = await this.#source.read(target.subarray(offset));
        if (read === null) {
          this.#eof = true;
          return;
        }
        n = read;
      } else if (this.#byob) {
        // The read transfers (detaches) the buffer: note its shape first.
        const byteOffset = target.byteOffset;
        const length = target.length;
        const view = new Uint8Array(target.buffer, byteOffset + offset, length - offset);
        const { value, done } = await this.#byob.read(view);
        // Adopt the transferred buffer: the same memory, with the bytes read in place.
        if (value !== undefined) {
          const adopted = new Uint8Array(value.buffer, byteOffset, length);
          if (big !== undefined) this.#big = adopted;
          else this.#buf = adopted;
        } else {
          // The stream was cancelled and kept the buffer: what it held is gone with the stream.
          this.#buf = new Uint8Array(0);
          this.#big = undefined;
          this.#start = this.#end = this.#bigFilled = 0;
        }
        if (done) {
          this.#eof = true;
          return;
        }
        n = value!.length;
      } else {
        const { value, done } = await this.#default!.read();
        if (done) {
          this.#eof = true;
          return;
        }
        n = this.#append(value, target, offset);
      }
      this.#bytesRead += n;
      if (this.#big !== undefined) this.#bigFilled += n;
      else this.#end += n;
      if (this.#log.isEnabledFor("trace")) {
        this.#log.trace("Read {n} bytes; {buffered} buffered", { n, buffered: this.buffered });
      }
    } catch (e) {
      this.#error = e instanceof DecodeError ? e : new ConnectionClosedError(
        `The connection failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    } finally {
      this.#pending = undefined;
    }
  }

  /**
   * Copies a chunk from a default reader into the target; returns how many of its bytes went
   * there. A large packet's own buffer takes only its bytes, the rest goes to the (then empty)
   * read-ahead buffer; the read-ahead buffer makes room by moving its partial packet to the front,
   * then by growing.
   */
  #append(chunk: Uint8Array, target: Uint8Array, offset: number): number {
    if (this.#big !== undefined) {
      const fits = Math.min(chunk.length, target.length - offset);
      target.set(chunk.subarray(0, fits), offset);
      if (fits < chunk.length) {
        const rest = chunk.subarray(fits);
        if (rest.length > this.#buf.length) this.#buf = new Uint8Array(rest.length);
        this.#buf.set(rest);
        this.#start = 0;
        this.#end = rest.length;
        this.#bytesRead += rest.length;
      }
      return fits;
    }
    if (offset + chunk.length > target.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
        offset = this.#end;
      }
      if (offset + chunk.length > this.#buf.length) {
        const size = Math.max(2 * this.#buf.length, offset + chunk.length);
        const grown = new Uint8Array(size);
        grown.set(this.#buf.subarray(0, offset));
        this.#buf = grown;
      }
      target = this.#buf;
    }
    target.set(chunk, offset);
    return chunk.length;
  }

  /** Releases the stream; a read under way ends with the stream. */
  release(): void {
    try {
      (this.#byob ?? this.#default)?.releaseLock();
    } catch {
      // A read is still pending: the stream's closing will end it.
    }
  }
}

/**
 * A large packet gets a buffer of its own once at least this fraction (1 / BIG_RATIO) of it
 * arrived: a length announced but not sent costs at most this many times what arrived.
 */
const BIG_RATIO = 8;
/**
 * The size of the arena that the packets of small reads are copied into. A fresh `ArrayBuffer`
 * costs about a microsecond in Deno (1.2 µs, against 0.3 µs for the rest of a one-packet read),
 * so one is made per arena, not per read. A payload the application keeps keeps at most this much
 * memory alive (from a read of many packets: at most that read's packets).
 */
const ARENA = 16 * 1024;
/** The packets of a read are copied into the arena when they take at most this many bytes. */
const ARENA_COPY = 2 * 1024;
/** A read-ahead buffer grown for a large packet is kept up to this size. */
const KEEP_GROWN = 1 << 20;

/** A copy of `bytes` in a larger buffer of `size` bytes. */
function grow(bytes: Uint8Array, size: number): Uint8Array {
  const grown = new Uint8Array(size);
  grown.set(bytes);
  return grown;
}

/**
 * Runs `fn` once the current turn of the event loop is over: after every microtask of the turn,
 * before the next I/O callback. `setImmediate` where the runtime has it (Deno 2, Node, Bun);
 * elsewhere (browsers) a `MessageChannel` message, which is a macrotask without `setTimeout`'s
 * clamping. A microtask would run between two packets handled in the same turn, so replies to a
 * read full of packets, or publications made while handling its acknowledgements, would each get
 * a write (over WebSocket, a frame) of their own.
 *
 * Chosen at the first use, not at import: in Deno, reading `globalThis.setImmediate` loads the
 * Node compatibility layer, about 20 ms that an import of the library should not pay.
 */
function afterTurn(fn: () => void): void {
  (afterTurnImpl ??= pickAfterTurn())(fn);
}

let afterTurnImpl: ((fn: () => void) => void) | undefined;

/** The way {@linkcode afterTurn} schedules, for this runtime. */
function pickAfterTurn(): (fn: () => void) => void {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  if (immediate !== undefined) return (fn: () => void) => void immediate(fn);
  if (typeof MessageChannel !== "function") return (fn: () => void) => void setTimeout(fn, 0);
  let channel: MessageChannel | undefined;
  let queue: (() => void)[] = [];
  return (fn: () => void) => {
    if (channel === undefined) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => {
        const due = queue;
        queue = [];
        for (const f of due) f();
      };
    }
    queue.push(fn);
    if (queue.length === 1) channel.port2.postMessage(null);
  };
}

/** Packets up to this size are encoded into the batch's shared buffer; larger ones get their own. */
const MAX_SMALL = 16 * 1024;
/** The smallest and largest shared buffer of a batch. */
const MIN_OPEN = 512;
const MAX_OPEN = 256 * 1024;

/**
 * The client's write batching, and the engine's {@linkcode Output}: packets queued in one turn go
 * out in one write at its end (or at once, on {@linkcode WriteBatch.flush}). Small packets are
 * encoded straight into an open buffer of the batch's own; a PUBLISH over 16 KiB is written as its
 * header and its payload, uncopied; an open buffer that filled up is a chunk of its own. When the
 * connection releases written bytes once a write settles (`reuse`, given to `attach()`), the
 * buffer of a batch written in full opens a later batch (no fresh, zeroed memory per batch); a
 * buffer whose write failed, or that a closed connection still had, is never reused.
 */
export class WriteBatch implements Output {
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #direct: DirectConnection | undefined;
  #batch: Uint8Array[] = [];
  #open: Uint8Array = EMPTY;
  #openLength = 0;
  /** Bytes of small packets queued since the last write: sizes the next open buffer. */
  #openBytes = 0;
  #openSize = MIN_OPEN;
  /** The open buffers sealed into the batch being queued: reusable once it is written. */
  #sealed: Uint8Array[] = [];
  /** A buffer of a batch written in full, free for the next open buffer that fits in it. */
  #spare: Uint8Array | undefined;
  #reuse = false;
  #done: ReturnType<typeof deferred<void>> | undefined;
  #writing = false;
  #scheduled = false;
  #closeError: MqttError | undefined;
  #onWritten: () => void;
  #onFailed: (error: ConnectionClosedError) => void;
  #log: Logger;
  /**
   * Called as each batch is taken, in the same synchronous step; the batch is written once the
   * promise it returns resolves (the client's durability barrier: the session's changes saved
   * before the packets depending on them). A rejection fails the write.
   */
  beforeWrite: (() => Promise<void> | undefined) | undefined;

  /**
   * A batch that reports each completed write to `onWritten` and a failed one to `onFailed`
   * (which should close the connection).
   */
  constructor(
    onWritten: () => void,
    onFailed: (error: ConnectionClosedError) => void,
    log: Logger,
  ) {
    this.#onWritten = onWritten;
    this.#onFailed = onFailed;
    this.#log = log;
  }

  /**
   * Starts writing to a new connection (through `direct` when given). `reuse`: the connection no
   * longer holds a chunk's bytes once its write settles, so a batch's buffer may be reused after
   * its write; by default only through `direct` (a {@linkcode DirectConnection} must not keep
   * the bytes it was given once its write settles).
   */
  attach(
    writer: WritableStreamDefaultWriter<Uint8Array>,
    direct: DirectConnection | undefined,
    reuse: boolean = direct !== undefined,
  ): void {
    this.#writer = writer;
    this.#direct = direct;
    this.#reuse = reuse;
    this.#spare = undefined;
    this.#sealed = [];
    this.#batch = [];
    this.#open = EMPTY;
    this.#openLength = this.#openBytes = 0;
    this.#done = undefined;
    this.#writing = this.#scheduled = false;
    this.#closeError = undefined;
  }

  /** Encodes `packet` into the batch and schedules the batch's write; see {@linkcode Output}. */
  write(packet: Packet, options: EncodeOptions): void {
    if (this.#writer === undefined) {
      throw this.#closeError ?? new NotConnectedError("Cannot send: the connection is closed");
    }
    let at = this.#openLength;
    let size = encodeIntoIfFits(packet, this.#open, at, options);
    if (size < 0) {
      if (-size > MAX_SMALL) {
        this.#seal();
        if (packet.type === PacketType.Publish) {
          // The header in a buffer of its own, the payload as it is: no copy of a large payload.
          const head = encodePublishHead(packet, options);
          this.#batch.push(head, packet.payload);
          if (this.#log.isEnabledFor("trace")) tracePacket(this.#log, "->", packet);
        } else {
          const bytes = encode(packet, options);
          this.#batch.push(bytes);
          if (this.#log.isEnabledFor("trace")) {
            tracePacket(this.#log, "->", bytes, options.protocolVersion);
          }
        }
        this.#schedule();
        return;
      }
      this.#room(-size);
      at = this.#openLength;
      size = encodeIntoIfFits(packet, this.#open, at, options);
    }
    this.#openLength = at + size;
    this.#openBytes += size;
    if (this.#log.isEnabledFor("trace")) {
      tracePacket(this.#log, "->", this.#open.subarray(at, at + size), options.protocolVersion);
    }
    this.#schedule();
  }

  /**
   * The promise of the batch being queued: it settles when the batch is written (rejecting with
   * the connection's error if that fails). Already settled when nothing is queued.
   */
  get written(): Promise<void> {
    return this.#done?.promise ?? Promise.resolve();
  }

  /** Writes what is queued now instead of at the end of the turn; settles when it is written. */
  flush(): Promise<void> {
    const done = this.written;
    if (!this.#writing) void this.#flush();
    return done;
  }

  /** Ends writing: what is queued is dropped, and its promise rejects with `error`. */
  close(error: MqttError): void {
    this.#closeError ??= error;
    const done = this.#done;
    this.#done = undefined;
    this.#batch = [];
    this.#sealed = [];
    this.#spare = undefined;
    this.#open = EMPTY;
    this.#openLength = this.#openBytes = 0;
    done?.reject(this.#closeError);
    const writer = this.#writer;
    this.#writer = undefined;
    try {
      writer?.releaseLock();
    } catch {
      // A write is pending; closing the transport ends it.
    }
  }

  #schedule(): void {
    if (this.#done === undefined) {
      const done = this.#done = deferred<void>();
      // Replies are queued without waiting: a failed write must not be unhandled.
      done.promise.then(undefined, ignore);
    }
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      afterTurn(this.#flushNow);
    }
  }

  /** The end of the turn's flush (one function for every batch, not one per batch). */
  #flushNow = (): void => {
    this.#scheduled = false;
    void this.#flush();
  };

  /**
   * Makes room for `n` bytes in the open buffer: grows it (one copy of what it holds) up to
   * 256 KiB, so that a turn's small packets stay one write (over WebSocket, one frame); past that,
   * seals it and opens another.
   */
  #room(n: number): void {
    const need = this.#openLength + n;
    if (need <= this.#open.length) return;
    if (this.#openLength > 0 && need <= MAX_OPEN) {
      const grown = new Uint8Array(Math.min(MAX_OPEN, Math.max(need, 2 * this.#open.length)));
      grown.set(this.#open.subarray(0, this.#openLength));
      this.#open = grown;
      return;
    }
    if (this.#openLength > 0) this.#openSize = Math.min(MAX_OPEN, this.#openSize * 2);
    this.#seal();
    const size = Math.max(this.#openSize, n);
    const spare = this.#spare;
    if (spare !== undefined && spare.length >= size) {
      // Its bytes were written and the connection let go of them: overwritten from the start.
      this.#spare = undefined;
      this.#open = spare;
    } else {
      this.#open = new Uint8Array(size);
    }
  }

  /** Moves what the open buffer holds to the batch as a chunk. */
  #seal(): void {
    if (this.#openLength === 0) return;
    this.#batch.push(this.#open.subarray(0, this.#openLength));
    if (this.#reuse) this.#sealed.push(this.#open);
    this.#open = EMPTY;
    this.#openLength = 0;
  }

  async #flush(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    const writer = this.#writer;
    try {
      while ((this.#batch.length > 0 || this.#openLength > 0) && writer === this.#writer) {
        // The next batch's open buffer: about the size of this one's small packets.
        const used = this.#openBytes;
        this.#openSize = used <= MIN_OPEN
          ? MIN_OPEN
          : Math.min(MAX_OPEN, 2 ** Math.ceil(Math.log2(used)));
        this.#openBytes = 0;
        this.#seal();
        const batch = this.#batch;
        const sealed = this.#sealed;
        const done = this.#done!;
        this.#batch = [];
        if (sealed.length > 0) this.#sealed = [];
        this.#done = undefined;
        let saving = false;
        try {
          const barrier = this.beforeWrite?.();
          if (barrier !== undefined) {
            saving = true;
            await barrier;
            saving = false;
            if (writer !== this.#writer) {
              // Closed while saving: nothing of the batch is written.
              done.reject(this.#closeError);
              return;
            }
          }
          // Usually one chunk; several after a large packet or an open buffer that filled up.
          const direct = this.#direct;
          if (direct === undefined) {
            for (const chunk of batch) await writer!.write(chunk);
          } else {
            for (const chunk of batch) {
              for (let at = 0; at < chunk.length;) at += await direct.write(chunk.subarray(at));
            }
          }
          // Written in full, and the connection let go of the bytes: the largest buffer is kept
          // for a later batch (not one closed meanwhile: a new connection starts afresh).
          if (writer === this.#writer) {
            for (const buffer of sealed) {
              if (buffer.length > (this.#spare?.length ?? 0)) this.#spare = buffer;
            }
          }
          this.#onWritten();
          done.resolve();
        } catch (e) {
          const error = new ConnectionClosedError(
            `${saving ? "Saving the session" : "Writing to the connection"} failed: ${
              e instanceof Error ? e.message : String(e)
            }`,
            { cause: e },
          );
          // The client closes first, so the write's promise rejects with the connection's error
          // (which says whether the session can be resumed).
          this.#onFailed(error);
          done.reject(this.#closeError ?? error);
          return;
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
