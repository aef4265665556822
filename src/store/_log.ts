/**
 * The file store's log (`path.log`): the changes saved since the snapshot, as checked records
 * behind a fixed header that says how many of them are committed. Pure encoding and decoding;
 * the file store does the I/O and the crash reasoning (see `file.ts`).
 *
 * The header, 32 bytes at offset 0, rewritten in place at each commit:
 * ```
 *  0  magic "MQSL" (MQtt Session Log)
 *  4  u16 log format version (1)        6  u16 flags (0)
 *  8  u32 generation: the snapshot's this log follows
 * 12  u32 committed records            16  u32 their total length in bytes
 * 20  8 bytes, zero                     28  u32 CRC-32 of bytes 0 to 27
 * ```
 * Then the records, each `[u32 body length][u32 CRC-32 of the length's 4 bytes and the body]`
 * and the body: `[u32 JSON length][JSON of the changes][their bytes]`, where every `Uint8Array`
 * of the changes (payloads, correlation data) stands in the JSON as `{"$b": [offset, length]}`
 * into the bytes that follow. All integers big-endian. Past the committed length: zeros (the
 * room written ahead), or an append whose commit never happened; both are ignored.
 *
 * @module
 */

import type { SessionChange } from "../session/mod.ts";
import { crc32 } from "./_crc32.ts";
import { SessionStoreError } from "./errors.ts";

/** The log's first four bytes: "MQSL". */
const MAGIC = [0x4d, 0x51, 0x53, 0x4c];
/** The log format version this mqtt5 writes and reads. */
export const LOG_FORMAT_VERSION = 1;
/** The header's length. */
export const LOG_HEADER = 32;
/** A record's framing: body length and CRC-32. */
const RECORD_HEADER = 8;

/** What the log header says. */
export interface LogHeader {
  /** The generation of the snapshot the log follows. */
  generation: number;
  /** The records committed. */
  count: number;
  /** Their total length in bytes (framing included), from offset {@linkcode LOG_HEADER}. */
  length: number;
}

/** The header block of a log. */
export function encodeLogHeader(header: LogHeader): Uint8Array {
  const bytes = new Uint8Array(LOG_HEADER);
  bytes.set(MAGIC);
  const view = new DataView(bytes.buffer);
  view.setUint16(4, LOG_FORMAT_VERSION);
  view.setUint32(8, header.generation);
  view.setUint32(12, header.count);
  view.setUint32(16, header.length);
  view.setUint32(28, crc32(bytes.subarray(0, 28)));
  return bytes;
}

/** The refusal of a damaged log. */
export function corruptLog(path: string, why: string, cause?: unknown): SessionStoreError {
  return new SessionStoreError(
    "corrupt",
    `The session store's log ${path} is damaged (${why}): nothing of the store is loaded; restore it from a backup, or clear the store to start afresh`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads and checks a log's header: refused as `corrupt` when short, not a log, or its CRC-32
 * fails; as `version` when of a later log format.
 */
export function decodeLogHeader(bytes: Uint8Array, path: string): LogHeader {
  if (bytes.length < LOG_HEADER) {
    throw corruptLog(path, `${bytes.length} bytes, shorter than its header`);
  }
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw corruptLog(path, "not a log");
  const view = new DataView(bytes.buffer, bytes.byteOffset, LOG_HEADER);
  if (crc32(bytes.subarray(0, 28)) !== view.getUint32(28)) {
    throw corruptLog(path, "its header's CRC-32 does not match");
  }
  const version = view.getUint16(4);
  if (version > LOG_FORMAT_VERSION) {
    throw new SessionStoreError(
      "version",
      `The session store's log ${path} is of format version ${version}, newer than this mqtt5 reads (${LOG_FORMAT_VERSION}): upgrade mqtt5, or clear the store to start afresh`,
    );
  }
  if (version === 0) throw corruptLog(path, "format version 0");
  return {
    generation: view.getUint32(8),
    count: view.getUint32(12),
    length: view.getUint32(16),
  };
}

/** One record of `changes`: framing, then the JSON and the bytes, allocated once. */
export function encodeRecord(changes: readonly SessionChange[]): Uint8Array {
  const blobs: Uint8Array[] = [];
  let blobLength = 0;
  const json = JSON.stringify(changes, (_key, value) => {
    if (!(value instanceof Uint8Array)) return value;
    blobs.push(value);
    const at = blobLength;
    blobLength += value.length;
    return { $b: [at, value.length] };
  });
  const text = new TextEncoder().encode(json);
  const bodyLength = 4 + text.length + blobLength;
  const bytes = new Uint8Array(RECORD_HEADER + bodyLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bodyLength);
  view.setUint32(8, text.length);
  bytes.set(text, 12);
  let at = 12 + text.length;
  for (const blob of blobs) {
    bytes.set(blob, at);
    at += blob.length;
  }
  view.setUint32(4, crc32(bytes.subarray(8), crc32(bytes.subarray(0, 4))));
  return bytes;
}

/**
 * The changes of the committed records of a log file (`bytes`, header included), in order.
 * Refused as `corrupt` when the file is shorter than the header's committed length, when a
 * record's CRC-32 fails or its framing does not add up to the header's count and length; the
 * bytes past the committed length (an append whose commit never happened) are ignored.
 */
export function decodeRecords(bytes: Uint8Array, header: LogHeader, path: string): SessionChange[] {
  const end = LOG_HEADER + header.length;
  if (bytes.length < end) {
    throw corruptLog(
      path,
      `${bytes.length - LOG_HEADER} bytes of records, ${header.length} committed`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const changes: SessionChange[] = [];
  let at = LOG_HEADER;
  for (let n = 0; n < header.count; n++) {
    if (end - at < RECORD_HEADER) throw corruptLog(path, `record ${n + 1} is cut`);
    const length = view.getUint32(at);
    const bodyAt = at + RECORD_HEADER;
    if (length < 4 || length > end - bodyAt) throw corruptLog(path, `record ${n + 1} is cut`);
    const body = bytes.subarray(bodyAt, bodyAt + length);
    if (crc32(body, crc32(bytes.subarray(at, at + 4))) !== view.getUint32(at + 4)) {
      throw corruptLog(path, `record ${n + 1}'s CRC-32 does not match`);
    }
    for (const change of decodeBody(body, path, n + 1)) changes.push(change);
    at = bodyAt + length;
  }
  if (at !== end) {
    throw corruptLog(path, `its ${header.count} records end at ${at}, committed up to ${end}`);
  }
  return changes;
}

function decodeBody(body: Uint8Array, path: string, n: number): SessionChange[] {
  const textLength = new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
  if (textLength > body.length - 4) throw corruptLog(path, `record ${n}'s JSON is cut`);
  const blobs = body.subarray(4 + textLength);
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(body.subarray(4, 4 + textLength));
    const changes = JSON.parse(text, (_key, value) => {
      const ref = (value as { $b?: unknown } | null)?.$b;
      if (!Array.isArray(ref)) return value;
      const [offset, length] = ref as number[];
      if (
        !Number.isInteger(offset) || !Number.isInteger(length) || offset! < 0 || length! < 0 ||
        offset! + length! > blobs.length
      ) {
        throw new RangeError(`bytes out of range: ${offset}+${length} of ${blobs.length}`);
      }
      return blobs.slice(offset!, offset! + length!);
    });
    if (!Array.isArray(changes)) throw new TypeError("not a list of changes");
    return changes as SessionChange[];
  } catch (e) {
    throw corruptLog(path, `record ${n} is not a list of changes: ${e}`, e);
  }
}
