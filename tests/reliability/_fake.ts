// An in-memory transport for the client: a byte stream that hands the client scripted chunks
// (each BYOB read is answered from one chunk only, so the chunking is exactly the script's), and
// a writable that keeps every byte the client writes. No I/O, no timers. Also: decoding what the
// client wrote, and checking that a session is well formed.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { decode, DecodeError, frame, type Packet } from "../../src/codec/mod.ts";
import { Session, type SessionSnapshot } from "../../src/session/mod.ts";
import type { Transport } from "../../src/transport/mod.ts";

/** Options of {@linkcode scriptedTransport}. */
export interface ScriptOptions {
  /**
   * What happens once every chunk is read: `"eof"` ends the stream; `"stall"` leaves the read
   * pending (a server that says nothing more) and calls `onStall`.
   * @default {"eof"}
   */
  end?: "eof" | "stall";
  /** Called when a read finds nothing left in `"stall"` mode. */
  onStall?: () => void;
  /**
   * After this many writes, writes never complete (a server that stopped reading) until the
   * transport is closed, and `onStuck` is called at the first of them.
   * @default {Infinity}
   */
  stuckAfter?: number;
  /** Called when the first write gets stuck. */
  onStuck?: () => void;
}

/** A transport over scripted chunks, and what the client did with it. */
export interface ScriptedTransport {
  /** The transport to hand to `Client.connect()`. */
  readonly transport: Transport;
  /** Every byte the client wrote, in order. */
  written(): Uint8Array;
  /** Bytes written after `close()` was called: a client must write nothing then. */
  readonly writtenAfterClose: number;
  /** Whether the client closed the transport. */
  readonly closed: boolean;
  /** The bytes handed to the client so far. */
  readonly fed: number;
  /** The largest buffer the client offered a read: what it allocated to read into. */
  readonly largestReadBuffer: number;
  /** Adds chunks to the script (for a stalled stream, they are read at once). */
  push(...chunks: Uint8Array[]): void;
}

/** A transport whose readable gives the client `chunks`, one read per chunk at most. */
export function scriptedTransport(
  chunks: Uint8Array[],
  options: ScriptOptions = {},
): ScriptedTransport {
  const queue = chunks.filter((c) => c.length > 0).map((c) => c.slice());
  const out: Uint8Array[] = [];
  let closed = false;
  let writtenAfterClose = 0;
  let fed = 0;
  let largest = 0;
  let controller!: ReadableByteStreamController;
  let stalled = false;

  function answer(c: ReadableByteStreamController): boolean {
    const request = c.byobRequest;
    const chunk = queue[0];
    if (chunk === undefined) return false;
    if (request?.view) {
      const view = new Uint8Array(
        request.view.buffer,
        request.view.byteOffset,
        request.view.byteLength,
      );
      const n = Math.min(view.length, chunk.length);
      view.set(chunk.subarray(0, n));
      if (n === chunk.length) queue.shift();
      else queue[0] = chunk.subarray(n);
      fed += n;
      request.respond(n);
    } else {
      queue.shift();
      fed += chunk.length;
      c.enqueue(chunk);
    }
    return true;
  }

  const readable = new ReadableStream({
    type: "bytes",
    start(c) {
      controller = c;
    },
    pull(c) {
      const request = c.byobRequest;
      if (request?.view) largest = Math.max(largest, request.view.buffer.byteLength);
      if (answer(c)) return;
      if (options.end === "stall") {
        stalled = true;
        options.onStall?.();
        return;
      }
      c.close();
      c.byobRequest?.respond(0);
    },
  });
  let writes = 0;
  const unstuck = Promise.withResolvers<void>();
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (closed) {
        writtenAfterClose += chunk.length;
        throw new Error("The transport is closed");
      }
      if (++writes > (options.stuckAfter ?? Infinity)) {
        if (writes === options.stuckAfter! + 1) options.onStuck?.();
        await unstuck.promise;
        throw new Error("The transport is closed");
      }
      out.push(chunk.slice());
    },
  });
  return {
    transport: {
      readable,
      writable,
      close() {
        if (closed) return;
        closed = true;
        unstuck.resolve();
        try {
          controller.close();
          controller.byobRequest?.respond(0);
        } catch {
          // Already closed or errored.
        }
      },
    },
    written: () => concat(out),
    get writtenAfterClose() {
      return writtenAfterClose;
    },
    get closed() {
      return closed;
    },
    get fed() {
      return fed;
    },
    get largestReadBuffer() {
      return largest;
    },
    push(...more) {
      queue.push(...more.filter((c) => c.length > 0).map((c) => c.slice()));
      if (stalled && !closed) {
        stalled = false;
        answer(controller);
      }
    },
  };
}

/** The bytes of `parts` back to back. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

/**
 * Splits a byte stream into whole packets and decodes each with the codec; throws (with the
 * offset) when the bytes are not a sequence of valid packets.
 */
export function decodeAll(
  bytes: Uint8Array,
  options: { maximumPacketSize?: number; strict?: boolean } = {},
): Packet[] {
  const packets: Packet[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const f = frame(bytes, options, offset);
    if (!f.complete) {
      throw new DecodeError(`A partial packet at the end of what was written`, 0x81, offset);
    }
    packets.push(decode(bytes.subarray(offset, offset + f.length), options));
    offset += f.length;
  }
  return packets;
}

/** The session is well formed: ids unique and in range, the index agrees with the list. */
export function checkSession(session: Session): void {
  const s = session.state;
  const ids = s.outgoing.map((f) => f.packetId);
  equal(new Set(ids).size, ids.length, "outgoing ids are unique");
  for (const f of s.outgoing) {
    ok(f.packetId >= 1 && f.packetId <= 0xffff);
    equal(session.flight(f.packetId), f, "the index agrees with the list");
    ok(["awaiting-puback", "awaiting-pubrec", "awaiting-pubcomp"].includes(f.state));
    equal(f.publication === undefined, f.state === "awaiting-pubcomp");
  }
  equal(new Set(s.incoming).size, s.incoming.length, "incoming ids are unique");
  ok(s.incoming.every((i) => Number.isInteger(i) && i >= 1 && i <= 0xffff));
  const again = Session.fromSnapshot(
    JSON.parse(JSON.stringify(session.snapshot())) as SessionSnapshot,
  );
  deepStrictEqual(again.state, s, "the session survives JSON");
}
