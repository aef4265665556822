/**
 * Byte helpers of the packet reader's tests: test payloads, packets back to back, chunkings, and
 * in-memory streams (byte and plain) that hand the reader given chunks.
 *
 * @module
 */

import type { Packet } from "../../src/codec/mod.ts";
import type { PacketReader } from "../../src/client/_io.ts";

/** `length` bytes of a pattern that `seed` tells apart. */
export function pattern(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + seed) & 0xff);
}

/** The parts' bytes back to back. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `bytes` cut into chunks of `size` (the last may be shorter). */
export function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** A byte stream that hands out the given chunks, one per pull, then closes (unless not). */
export function byteStream(all: Uint8Array[], close = true): ReadableStream<Uint8Array> {
  // A byte stream cannot enqueue an empty chunk.
  const chunks = all.filter((c) => c.length > 0);
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      const chunk = chunks[i++];
      if (chunk !== undefined) c.enqueue(chunk.slice());
      else if (close) {
        c.close();
        // A pending BYOB read ends only once its request is answered.
        c.byobRequest?.respond(0);
      }
    },
  });
}

/** A plain (not byte) stream of the given chunks. */
export function plainStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      const chunk = chunks[i++];
      if (chunk !== undefined) c.enqueue(chunk.slice());
      else c.close();
    },
  });
}

/** The next `count` packets of `reader`. */
export async function readAll(reader: PacketReader, count: number): Promise<Packet[]> {
  const out: Packet[] = [];
  for (let i = 0; i < count; i++) out.push(await reader.next());
  return out;
}
