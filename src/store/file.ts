/**
 * The file session store: a checked snapshot (`path`) and a log of the changes since
 * (`path.log`), checked whole at each load, locked to one process. Deno, Node and Bun.
 *
 * **The files.** `path` holds the snapshot ({@linkcode encodeSessionFile}'s format, version 2:
 * its body starts with the snapshot's generation), replaced atomically (write `path.tmp`, sync,
 * rename, sync the folder) only when a new generation starts: at the first save of an open
 * store, when the log passes its size (compaction), and after a failed save. `path.log` holds the
 * changes saved since, in records behind a 32-byte header (see `_log.ts`) that names the
 * generation it follows and how many records, of what total length, are committed. It too is
 * created or reset by atomic replace (`path.log.tmp`), so it never exists without its header,
 * and with room for its records written ahead as zeros (up to 1 MiB + 64 KiB): an append then
 * overwrites blocks the file already has, so its data sync need not record a new size (measured
 * about a tenth cheaper per save on ext4).
 *
 * **A save** (the same session as the last one, its changes since) appends one record at the
 * committed end, syncs its data, then rewrites the header with the new count and length and
 * syncs again: two data syncs, no rename, no folder sync. The client writes the packets
 * depending on the changes only once the save resolved, so a record not committed is one whose
 * packets never left.
 *
 * **A load** checks the snapshot, then the log: its header's CRC-32, its generation against the
 * snapshot's, its committed length against the file's, each committed record's CRC-32. Any
 * failure refuses the whole store as `corrupt`; a generation older than the snapshot's means the
 * log is already in it (empty); bytes past the committed length are an append whose commit never
 * happened: ignored, and gone at the next generation. The records' changes are replayed on the
 * snapshot ({@linkcode applyChanges}).
 *
 * **Crash points**, and what a load then sees:
 * - mid-append, or after the record's sync and before the header's: the header still names the
 *   records before; the new one is an uncommitted tail, ignored, and its packets were not sent.
 * - mid-header-write: a 32-byte write at offset 0 lies in one disk sector, which the disk writes
 *   whole. If it were torn all the same, the CRC-32 refuses the store (never a wrong session).
 * - after the header's sync: the record is committed; the save may not have resolved, so its
 *   packets may or may not have left: the session has it either way (a resend).
 * - a new generation g+1 (snapshot, then log): with `path.tmp` written, the old snapshot and log
 *   stand (the `.tmp` is removed at the next open); after the rename, the log of generation g
 *   is older than the snapshot, which holds all of it: read as empty; with `path.log.tmp`
 *   written, the same (removed at the next open); after its rename, the empty log of g+1.
 * - `clear()` removes the snapshot, then the log: a log without a snapshot is a leftover,
 *   ignored, and the next generation is numbered above it.
 * - a log whose header is damaged when a generation starts is replaced by the new one; a crash
 *   before that leaves it refused, as it was already.
 * A log of a generation later than the snapshot's (a snapshot restored from an older backup) is
 * refused as `corrupt`. A store file of format version 1 (before the log) is a snapshot whose log
 * is empty, whatever `path.log` holds.
 *
 * @module
 */

import type { Session, SessionChange, SessionSnapshot, SessionStore } from "../session/mod.ts";
import { crc32 } from "./_crc32.ts";
import { type FileSystem, fileSystem, type WritableFile } from "./_fs.ts";
import {
  decodeLogHeader,
  decodeRecords,
  encodeLogHeader,
  encodeRecord,
  LOG_HEADER,
} from "./_log.ts";
import { SessionStoreError } from "./errors.ts";
import { applyChanges, migrateSnapshot } from "./load.ts";

/** The file's first four bytes: "MQSS" (MQtt Session Store). */
const MAGIC = [0x4d, 0x51, 0x53, 0x53];
/**
 * The file format version this mqtt5 writes (and the latest it reads): 2, whose body starts with
 * the snapshot's generation (u32) before the JSON; version 1 (the JSON alone) is read too.
 */
export const FILE_FORMAT_VERSION = 2;
/** The header's length: magic, version, flags, body length, CRC-32. */
const HEADER = 16;

/**
 * Encodes a snapshot as a store file: a 16-byte header, then the body: the snapshot's generation
 * (u32, 0 here: the file store numbers its own) and the snapshot as UTF-8 JSON. The header: the
 * magic `MQSS`, the format version (u16, big-endian), flags (u16, 0), the body's length (u32),
 * and the CRC-32 of header bytes 4 to 11 (version, flags, length) and the body (u32). Every
 * format version keeps these 16 bytes, so a file of a later version is told from a damaged one.
 *
 * @example
 * ```ts
 * import { Session } from "../session/mod.ts";
 * import { decodeSessionFile, encodeSessionFile } from "./file.ts";
 * const bytes = encodeSessionFile(new Session({ clientId: "a" }).snapshot());
 * console.log(decodeSessionFile(bytes).version); // 1
 * ```
 */
export function encodeSessionFile(snapshot: SessionSnapshot): Uint8Array {
  return encodeStoreFile(snapshot, 0);
}

/** {@linkcode encodeSessionFile} with the snapshot's generation. */
function encodeStoreFile(snapshot: SessionSnapshot, generation: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(snapshot));
  const length = 4 + json.length;
  const bytes = new Uint8Array(HEADER + length);
  bytes.set(MAGIC);
  const view = new DataView(bytes.buffer);
  view.setUint16(4, FILE_FORMAT_VERSION);
  view.setUint16(6, 0);
  view.setUint32(8, length);
  view.setUint32(HEADER, generation);
  bytes.set(json, HEADER + 4);
  view.setUint32(12, crc32(bytes.subarray(HEADER), crc32(bytes.subarray(4, 12))));
  return bytes;
}

function corrupt(why: string): SessionStoreError {
  return new SessionStoreError(
    "corrupt",
    `The session store file is damaged (${why}): nothing of it is loaded; restore it from a backup, or clear the store to start afresh`,
  );
}

/**
 * Decodes a store file, checked whole: magic, length and CRC-32 (a torn, truncated or altered
 * file is refused with {@linkcode SessionStoreError} reason `corrupt`), then the format version
 * and the snapshot's (a later one is refused with reason `version`).
 *
 * @example
 * ```ts
 * import { decodeSessionFile } from "./file.ts";
 * try {
 *   decodeSessionFile(new Uint8Array([0x4d, 0x51]));
 * } catch (e) {
 *   console.log((e as { reason?: string }).reason); // "corrupt"
 * }
 * ```
 */
export function decodeSessionFile(bytes: Uint8Array): SessionSnapshot {
  return decodeStoreFile(bytes).snapshot;
}

/** A decoded store file: the snapshot, its generation (0 in version 1) and format version. */
interface StoreFile {
  snapshot: SessionSnapshot;
  generation: number;
  version: number;
}

function decodeStoreFile(bytes: Uint8Array): StoreFile {
  if (bytes.length < HEADER) throw corrupt(`${bytes.length} bytes, shorter than its header`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw corrupt("not a session file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(8);
  if (length !== bytes.length - HEADER) {
    throw corrupt(`its header says ${length} bytes follow, ${bytes.length - HEADER} do`);
  }
  const body = bytes.subarray(HEADER);
  if (crc32(body, crc32(bytes.subarray(4, 12))) !== view.getUint32(12)) {
    throw corrupt("its CRC-32 does not match");
  }
  const version = view.getUint16(4);
  if (version > FILE_FORMAT_VERSION) {
    throw new SessionStoreError(
      "version",
      `The session store file is of format version ${version}, newer than this mqtt5 reads (${FILE_FORMAT_VERSION}): upgrade mqtt5, or clear the store to start afresh`,
    );
  }
  if (version === 0) throw corrupt("format version 0");
  // Version 1: the JSON alone; version 2: the generation, then the JSON.
  if (version >= 2 && body.length < 4) throw corrupt("no generation");
  const generation = version >= 2 ? view.getUint32(HEADER) : 0;
  let snapshot: unknown;
  try {
    const json = body.subarray(version >= 2 ? 4 : 0);
    snapshot = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new SessionStoreError(
      "corrupt",
      `The session store file is damaged (its body is not the JSON its checksum vouched for: ${e}): nothing of it is loaded; restore it from a backup, or clear the store to start afresh`,
      { cause: e },
    );
  }
  return { snapshot: migrateSnapshot(snapshot), generation, version };
}

/** Options of {@linkcode FileSessionStore.open}. */
interface FileStoreOptions {
  mode?: "log" | "snapshot";
  compactBytes?: number;
}

/** The default size of the log past which a save starts a new generation: 1 MiB. */
const COMPACT_BYTES = 1 << 20;
/** The average data sync under which a sync holds the event loop (see `#sync`), in ms. */
const BLOCKING_SYNC_MS = 1;

/** The session a log follows: the ids and filters its saves' changes left, to check the next. */
interface Follow {
  session: Session;
  clientId: string;
  outgoing: Set<number>;
  incoming: Set<number>;
  filters: Set<string>;
  /** Set when a save of this generation failed: what it lost, the next save writes whole. */
  failed?: unknown;
}

let make: (
  path: string,
  fs: FileSystem,
  release: () => Promise<void>,
  options: FileStoreOptions,
) => FileSessionStore;

/**
 * A {@linkcode SessionStore} in two files, for Deno, Node and Bun: `path`, a checked snapshot
 * ({@linkcode encodeSessionFile}) replaced atomically, and `path.log`, the changes saved since,
 * in checked records. A save appends the changes it is given as one record and commits it by
 * rewriting the log's header: two data syncs, no rename (about 0.5 ms a save on the virtual disk
 * of our benchmarks, against 1.1 to 1.5 ms for a snapshot per save). The first save of an open
 * store, and a save once the log
 * passes `compactBytes`, write the whole session as a new snapshot instead (write `path.tmp`,
 * sync, rename, sync the folder), which empties the log. A crash at any point leaves either the
 * last session saved or the one before, never a mix (the module's documentation goes through
 * each point).
 *
 * Each load checks both files whole: a torn, truncated or altered snapshot or committed log is
 * refused with {@linkcode SessionStoreError} reason `corrupt`, a later format with reason
 * `version`; only an append whose commit never happened (a crash mid-save, its packets never
 * sent) is left out.
 *
 * Opening takes a lock (the file `path.lock`) so that two processes never share one session: on
 * Deno an exclusive `flock`, which the operating system drops when the process dies; on Node
 * and Bun the lock file created exclusively with the process id, taken over once that process
 * is dead. A second store on the same path is refused with reason `locked` until the first is
 * closed. Use one runtime per path at a time (a Deno and a Node process opening it at the same
 * instant could both get it).
 *
 * @example A publisher whose session survives a restart
 * ```ts ignore
 * import { Client, connectTcp } from "@scope/mqtt5";
 * import { FileSessionStore, loadSession } from "@scope/mqtt5/store";
 * await using store = await FileSessionStore.open("publisher.session");
 * const { session } = await loadSession(store);
 * const client = new Client({ session, store });
 * ```
 */
export class FileSessionStore implements SessionStore, AsyncDisposable {
  /** The snapshot's path (the log is `path.log`). */
  readonly path: string;
  #fs: FileSystem;
  #release: (() => Promise<void>) | undefined;
  #mode: "log" | "snapshot";
  #compactBytes: number;
  /** The saves, clears and loads under way: they run one after another. */
  #last: Promise<void> = Promise.resolve();
  /** The session the log follows; `undefined`: the next save writes a new generation. */
  #follow: Follow | undefined;
  /** The log's length once the saves queued are done (its records, without the header). */
  #planned = 0;
  /** The generation on disk (known once loaded or written). */
  #generation: number | undefined;
  /** Whether this store wrote a snapshot (and knows its generation is above the log's). */
  #wrote = false;
  /** The log, open for appends, and its committed records (after the saves done). */
  #log: WritableFile | undefined;
  #count = 0;
  #length = 0;
  /** The log's data syncs' moving average, in milliseconds. */
  #syncMs = 0;

  static {
    make = (path, fs, release, options) => new FileSessionStore(path, fs, release, options);
  }

  private constructor(
    path: string,
    fs: FileSystem,
    release: () => Promise<void>,
    options: FileStoreOptions,
  ) {
    this.path = path;
    this.#fs = fs;
    this.#release = release;
    this.#mode = options.mode ?? "log";
    this.#compactBytes = options.compactBytes ?? COMPACT_BYTES;
  }

  /**
   * Opens the store of `path` (the files need not exist: the store is then empty), taking its
   * lock; refused with {@linkcode SessionStoreError} reason `locked` while another store holds
   * it. A `path.tmp` or `path.log.tmp` left by a save that was cut off is removed.
   *
   * Options: `mode`, `"log"` (the default: a save appends its changes to `path.log`) or
   * `"snapshot"` (each save replaces `path` whole, about twice the cost at a few flights, more
   * with many; for comparison);
   * `compactBytes`, the log's size past which a save writes a new snapshot instead (default
   * 1 MiB, from 1 to 2^31 - 1).
   *
   * @example
   * ```ts ignore
   * const store = await FileSessionStore.open("sensor-1.session");
   * ```
   */
  static open(
    path: string,
    options: { mode?: "log" | "snapshot"; compactBytes?: number } = {},
  ): Promise<FileSessionStore> {
    return openFileStore(path, fileSystem(), options);
  }

  #open(): void {
    if (this.#release === undefined) {
      throw new SessionStoreError(
        "locked",
        `The session store ${this.path} is closed: open it again to use it`,
      );
    }
  }

  /** Runs `op` after the operations under way; a failure does not stop the next ones. */
  #queue<T>(op: () => Promise<T>): Promise<T> {
    const done = this.#last.catch(() => {}).then(op);
    this.#last = done.then(() => {}, () => {});
    return done;
  }

  /**
   * The session: the snapshot with the log's committed changes replayed, checked (see the
   * class); `undefined` if there is no snapshot.
   */
  async load(): Promise<SessionSnapshot | undefined> {
    this.#open();
    return await this.#queue(() => this.#load());
  }

  async #load(): Promise<SessionSnapshot | undefined> {
    const bytes = await this.#fs.read(this.path);
    if (bytes === undefined) return undefined; // A log without a snapshot is a leftover.
    const file = decodeStoreFile(bytes);
    this.#generation = Math.max(this.#generation ?? 0, file.generation);
    if (file.version < 2) return file.snapshot; // Written before the log existed.
    const logPath = this.path + ".log";
    const log = await this.#fs.read(logPath);
    if (log === undefined) return file.snapshot;
    const header = decodeLogHeader(log, logPath);
    this.#generation = Math.max(this.#generation, header.generation);
    if (header.generation < file.generation) return file.snapshot; // Already in the snapshot.
    if (header.generation > file.generation) {
      throw new SessionStoreError(
        "corrupt",
        `The session store's log ${logPath} follows generation ${header.generation}, the snapshot ${this.path} is of generation ${file.generation} (an older snapshot restored?): nothing of the store is loaded; restore both files together, or clear the store to start afresh`,
      );
    }
    const changes = decodeRecords(log, header, logPath);
    return changes.length === 0 ? file.snapshot : applyChanges(file.snapshot, changes);
  }

  /**
   * Makes `changes` durable: appends them to the log when `session` is the one the last save
   * had, else (the first save, a save after a failed one, a full log) writes `session` whole.
   */
  async save(changes: readonly SessionChange[], session: Session): Promise<void> {
    this.#open();
    const follow = this.#follow;
    if (
      this.#mode === "log" && follow !== undefined && follow.session === session &&
      follow.failed === undefined && this.#planned <= this.#compactBytes
    ) {
      const record = encodeRecord(changes);
      if (this.#follows(follow, changes, session)) {
        this.#planned += record.length;
        return await this.#queue(() => this.#append(record, follow));
      }
    }
    // The whole session, taken now: it moves on while the save waits.
    const snapshot = session.snapshot();
    const next = this.#followFrom(session);
    this.#planned = 0;
    return await this.#queue(() => this.#compact(snapshot, next));
  }

  /**
   * Applies `changes` to the ids and filters the log left; whether the result matches
   * `session`: a change the store was not given (a session changed without the store) makes the
   * next save write it whole.
   */
  #follows(follow: Follow, changes: readonly SessionChange[], session: Session): boolean {
    for (const c of changes) {
      switch (c.op) {
        case "publish":
          follow.outgoing.add(c.packetId);
          break;
        case "completed":
          follow.outgoing.delete(c.packetId);
          break;
        case "incoming":
          follow.incoming.add(c.packetId);
          break;
        case "incoming-done":
          follow.incoming.delete(c.packetId);
          break;
        case "subscribed":
          for (const r of c.records) follow.filters.add(r.filter);
          break;
        case "unsubscribed":
          for (const f of c.filters) follow.filters.delete(f);
          break;
        case "clear":
          follow.outgoing.clear();
          follow.incoming.clear();
          follow.filters.clear();
          break;
        case "client-id":
          follow.clientId = c.clientId;
          break;
        case "released":
          break;
      }
    }
    const s = session.state;
    return follow.clientId === s.clientId && follow.outgoing.size === s.outgoing.length &&
      follow.incoming.size === s.incoming.length && follow.filters.size === s.subscriptions.length;
  }

  #followFrom(session: Session): Follow {
    const s = session.state;
    const follow: Follow = {
      session,
      clientId: s.clientId,
      outgoing: new Set(s.outgoing.map((f) => f.packetId)),
      incoming: new Set(s.incoming),
      filters: new Set(s.subscriptions.map((r) => r.filter)),
    };
    this.#follow = follow;
    return follow;
  }

  /** Appends a record and commits it: record, data sync, header, data sync. */
  async #append(record: Uint8Array, follow: Follow): Promise<void> {
    // A save of this generation failed after this one was queued: the log lacks its changes.
    if (follow.failed !== undefined) throw follow.failed;
    try {
      const log = this.#log!;
      await log.write(record, LOG_HEADER + this.#length);
      await this.#sync(log);
      const header = {
        generation: this.#generation!,
        count: this.#count + 1,
        length: this.#length + record.length,
      };
      await log.write(encodeLogHeader(header), 0);
      await this.#sync(log);
      this.#count = header.count;
      this.#length = header.length;
    } catch (e) {
      follow.failed = e;
      if (this.#follow === follow) this.#follow = undefined;
      throw e;
    }
  }

  /**
   * A data sync of the log. While the disk answers fast (the moving average under
   * {@linkcode BLOCKING_SYNC_MS}) it holds the event loop for that long: handing it to the
   * runtime's thread pool and back costs about as much again on a loaded machine (measured in
   * `bench:store`: 0.68 -> 0.38 ms a save at Receive Maximum 20). On a slower disk the syncs go
   * to the thread pool, so the loop is never held long; their times keep the average, and a
   * faster disk brings the blocking syncs back.
   */
  async #sync(log: WritableFile): Promise<void> {
    const start = performance.now();
    if (this.#syncMs < BLOCKING_SYNC_MS) log.syncDataNow();
    else await log.syncData();
    this.#syncMs += (performance.now() - start - this.#syncMs) / 8;
  }

  /** Starts a new generation: the snapshot, then (in log mode) an empty log, both replaced. */
  async #compact(snapshot: SessionSnapshot, follow: Follow): Promise<void> {
    try {
      // In snapshot mode the log stays as it is: one generation above it serves every save.
      const generation = this.#mode === "snapshot" && this.#wrote
        ? this.#generation!
        : await this.#nextGeneration();
      await this.#fs.replace(this.path, encodeStoreFile(snapshot, generation));
      this.#generation = generation;
      this.#wrote = true;
      if (this.#mode === "snapshot") return;
      await this.#closeLog();
      const logPath = this.path + ".log";
      // The log's room, written ahead (zeros past the committed length are ignored): a record
      // then overwrites blocks already written, and its data sync leaves the file's size alone.
      const log = new Uint8Array(LOG_HEADER + Math.min(this.#compactBytes, COMPACT_BYTES) + 65536);
      log.set(encodeLogHeader({ generation, count: 0, length: 0 }));
      await this.#fs.replace(logPath, log);
      this.#count = 0;
      this.#length = 0;
      this.#log = await this.#fs.openForWrite(logPath);
    } catch (e) {
      follow.failed = e;
      if (this.#follow === follow) this.#follow = undefined;
      throw e;
    }
  }

  /**
   * A generation above the snapshot's and the log's, so that a log left behind reads as older.
   * Until this store wrote a snapshot, the log on disk may be of any generation: its header says.
   */
  async #nextGeneration(): Promise<number> {
    if (!this.#wrote) {
      const logPath = this.path + ".log";
      const log = await this.#fs.read(logPath);
      try {
        if (log !== undefined) {
          this.#generation = Math.max(
            this.#generation ?? 0,
            decodeLogHeader(log, logPath).generation,
          );
        }
      } catch {
        // A damaged log: the new one replaces it.
      }
    }
    return (this.#generation ?? 0) + 1;
  }

  async #closeLog(): Promise<void> {
    const log = this.#log;
    this.#log = undefined;
    await log?.close();
  }

  /** Removes the snapshot, then the log: the store is empty. */
  async clear(): Promise<void> {
    this.#open();
    this.#follow = undefined;
    this.#planned = 0;
    return await this.#queue(async () => {
      await this.#closeLog();
      await this.#fs.remove(this.path);
      await this.#fs.remove(this.path + ".log");
    });
  }

  /** Releases the lock (after the saves under way); the store can no longer be used. */
  async close(): Promise<void> {
    const release = this.#release;
    if (release === undefined) return;
    this.#release = undefined;
    await this.#last;
    await this.#closeLog().catch(() => {});
    await release();
  }

  /** Closes the store at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Opens a file store over `fs` (the runtime's, or Node's file system on Deno in tests). */
export async function openFileStore(
  path: string,
  fs: FileSystem,
  options: FileStoreOptions = {},
): Promise<FileSessionStore> {
  const { mode = "log", compactBytes = COMPACT_BYTES } = options;
  if (mode !== "log" && mode !== "snapshot") {
    throw new TypeError(`FileSessionStore mode must be "log" or "snapshot", got ${mode}`);
  }
  if (!Number.isInteger(compactBytes) || compactBytes < 1 || compactBytes > 0x7fffffff) {
    throw new RangeError(
      `FileSessionStore compactBytes must be an integer from 1 to 2147483647, got ${compactBytes}`,
    );
  }
  const release = await fs.lock(path);
  try {
    await fs.remove(path + ".tmp");
    await fs.remove(path + ".log.tmp");
  } catch (e) {
    await release();
    throw e;
  }
  return make(path, fs, release, { mode, compactBytes });
}
