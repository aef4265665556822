/**
 * The file session store: one file per session, replaced atomically and durably at each save,
 * checked whole at each load, locked to one process. Deno, Node and Bun.
 *
 * @module
 */

import type { Session, SessionChange, SessionSnapshot, SessionStore } from "../session/mod.ts";
import { crc32 } from "./_crc32.ts";
import { type FileSystem, fileSystem } from "./_fs.ts";
import { SessionStoreError } from "./errors.ts";
import { migrateSnapshot } from "./load.ts";

/** The file's first four bytes: "MQSS" (MQtt Session Store). */
const MAGIC = [0x4d, 0x51, 0x53, 0x53];
/** The file format version this mqtt5 writes and reads. */
export const FILE_FORMAT_VERSION = 1;
/** The header's length: magic, version, flags, body length, CRC-32. */
const HEADER = 16;

/**
 * Encodes a snapshot as a store file: a 16-byte header, then the snapshot as UTF-8 JSON. The
 * header: the magic `MQSS`, the format version (u16, big-endian), flags (u16, 0), the body's
 * length (u32), and the CRC-32 of header bytes 4 to 11 (version, flags, length) and the body
 * (u32). Every format version keeps these 16 bytes, so a file of a later version is told from a
 * damaged one.
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
  const body = new TextEncoder().encode(JSON.stringify(snapshot));
  const bytes = new Uint8Array(HEADER + body.length);
  bytes.set(MAGIC);
  const view = new DataView(bytes.buffer);
  view.setUint16(4, FILE_FORMAT_VERSION);
  view.setUint16(6, 0);
  view.setUint32(8, body.length);
  bytes.set(body, HEADER);
  view.setUint32(12, crc32(body, crc32(bytes.subarray(4, 12))));
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
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (e) {
    throw new SessionStoreError("corrupt", `The session store file is damaged: ${e}`, {
      cause: e,
    });
  }
  return migrateSnapshot(snapshot);
}

let make: (path: string, fs: FileSystem, release: () => Promise<void>) => FileSessionStore;

/**
 * A {@linkcode SessionStore} in one file, for Deno, Node and Bun. Each save writes the whole
 * snapshot to `path.tmp` with a checked header ({@linkcode encodeSessionFile}), syncs it to
 * disk, renames it over `path` and syncs the folder: the file is always either the last session
 * saved or the one before, never a mix. Each load checks the file whole: a torn, truncated or
 * altered file is refused with {@linkcode SessionStoreError} reason `corrupt`, a later format
 * with reason `version`.
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
  /** The file's path. */
  readonly path: string;
  #fs: FileSystem;
  #release: (() => Promise<void>) | undefined;
  /** The save under way: saves run one after another. */
  #last: Promise<void> = Promise.resolve();

  static {
    make = (path, fs, release) => new FileSessionStore(path, fs, release);
  }

  private constructor(path: string, fs: FileSystem, release: () => Promise<void>) {
    this.path = path;
    this.#fs = fs;
    this.#release = release;
  }

  /**
   * Opens the store of `path` (the file need not exist: the store is then empty), taking its
   * lock; refused with {@linkcode SessionStoreError} reason `locked` while another store holds
   * it. A `path.tmp` left by a save that was cut off is removed.
   *
   * @example
   * ```ts ignore
   * const store = await FileSessionStore.open("sensor-1.session");
   * ```
   */
  static open(path: string): Promise<FileSessionStore> {
    return openFileStore(path, fileSystem());
  }

  #open(): void {
    if (this.#release === undefined) {
      throw new SessionStoreError(
        "locked",
        `The session store ${this.path} is closed: open it again to use it`,
      );
    }
  }

  /** The session in the file, checked ({@linkcode decodeSessionFile}); `undefined` if none. */
  async load(): Promise<SessionSnapshot | undefined> {
    this.#open();
    const bytes = await this.#fs.read(this.path);
    return bytes === undefined ? undefined : decodeSessionFile(bytes);
  }

  /** Replaces the file with `session`'s snapshot, durably (the changes are in it). */
  save(_changes: readonly SessionChange[], session: Session): Promise<void> {
    this.#open();
    const bytes = encodeSessionFile(session.snapshot());
    const done = this.#last.catch(() => {}).then(() => this.#fs.replace(this.path, bytes));
    this.#last = done;
    return done;
  }

  /** Removes the file: the store is empty. */
  async clear(): Promise<void> {
    this.#open();
    await this.#last.catch(() => {});
    await this.#fs.remove(this.path);
  }

  /** Releases the lock (after the save under way); the store can no longer be used. */
  async close(): Promise<void> {
    const release = this.#release;
    if (release === undefined) return;
    this.#release = undefined;
    await this.#last.catch(() => {});
    await release();
  }

  /** Closes the store at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Opens a file store over `fs` (the runtime's, or Node's file system on Deno in tests). */
export async function openFileStore(path: string, fs: FileSystem): Promise<FileSessionStore> {
  const release = await fs.lock(path);
  try {
    await fs.remove(path + ".tmp");
  } catch (e) {
    await release();
    throw e;
  }
  return make(path, fs, release);
}
