/**
 * The IndexedDB session store, for browsers: one database per session, each save one durable
 * transaction, locked to one tab with the Web Locks API.
 *
 * @module
 */

import type { Session, SessionChange, SessionSnapshot, SessionStore } from "../session/mod.ts";
import { SessionStoreError } from "./errors.ts";
import { decodeSessionFile, encodeSessionFile } from "./file.ts";

/**
 * The part of the platform's `IDBFactory` (`globalThis.indexedDB`) the store uses: `open`, whose
 * result it uses as an `IDBOpenDBRequest`. Declared here so that the store type-checks without
 * the DOM library; a browser's `indexedDB` is one.
 */
export interface IndexedDbFactory {
  /** Opens the database `name` at `version`: an `IDBOpenDBRequest`. */
  open(name: string, version?: number): unknown;
}

/**
 * The part of the platform's `LockManager` (`navigator.locks`) the store uses: a request with
 * `ifAvailable`, whose callback gets the lock or `null` and holds the lock until the promise it
 * returns settles. A browser's `navigator.locks` is one.
 */
export interface WebLockManager {
  /** Requests the lock `name`; the callback gets `null` when it is taken and `ifAvailable` is set. */
  request(
    name: string,
    options: { ifAvailable: boolean },
    callback: (lock: unknown) => Promise<void> | undefined,
  ): Promise<unknown>;
}

/** Options of {@linkcode IndexedDbSessionStore.open}. */
export interface IndexedDbStoreOptions {
  /**
   * The IndexedDB to open the database in.
   * @default {globalThis.indexedDB}
   */
  indexedDB?: IndexedDbFactory;
  /**
   * The lock manager that keeps the session to one store at a time, across tabs and workers of
   * the origin. `null` opens without a lock (only where nothing else can open the same name).
   * @default {globalThis.navigator.locks}
   */
  locks?: WebLockManager | null;
}

// The IndexedDB the store uses, structurally (the DOM library is not part of a Deno check).
interface IdbEventTarget {
  onerror: ((event: unknown) => void) | null;
}
interface IdbRequest<T> extends IdbEventTarget {
  readonly result: T;
  readonly error: unknown;
  onsuccess: ((event: unknown) => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: ((event: unknown) => void) | null;
}
interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(
    store: string,
    mode: "readonly" | "readwrite",
    options?: { durability: "strict" | "relaxed" | "default" },
  ): IdbTransaction;
  close(): void;
}
interface IdbTransaction extends IdbEventTarget {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStore;
  oncomplete: ((event: unknown) => void) | null;
  onabort: ((event: unknown) => void) | null;
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
}

/** The database version this mqtt5 creates and reads. */
const DB_VERSION = 1;
/** The object store of the database. */
const OBJECT_STORE = "session";
/** The key of the one record: the snapshot, encoded as {@linkcode encodeSessionFile} does. */
const KEY = "snapshot";
/** The prefix of the Web Lock's name. */
const LOCK_PREFIX = "mqtt5-session:";

/** Runs `transaction`, resolving on `complete` and rejecting with its error on `abort`. */
function completion(transaction: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    // A request's error aborts the transaction (nothing here prevents it): onabort reports it.
    transaction.onabort = () =>
      reject(transaction.error ?? new Error("The IndexedDB transaction was aborted"));
  });
}

/**
 * A {@linkcode SessionStore} in IndexedDB, for browsers (and workers). The session is one
 * record in the database `name`: the snapshot with the checked header of the file store
 * ({@linkcode encodeSessionFile}), so a damaged record is refused with
 * {@linkcode SessionStoreError} reason `corrupt` and one written by a later mqtt5 with reason
 * `version`, never loaded as another session. Each save is one `readwrite` transaction with
 * durability `"strict"` (the browser flushes it to disk before `complete`; a browser without
 * the option ignores it) and resolves on `complete`; saves complete in the order they were made.
 *
 * Opening takes the Web Lock `mqtt5-session:<name>` for the store's life, so that two tabs (or
 * workers) of the origin never share one session: a second store of the same name is refused
 * with reason `locked` until the first is closed or its page goes away (a closed or crashed tab
 * releases its locks).
 *
 * @example A page whose QoS 2 publications survive a reload
 * ```ts ignore
 * import { Client, connectWebSocket } from "@scope/mqtt5";
 * import { IndexedDbSessionStore, loadSession } from "@scope/mqtt5/store";
 *
 * const store = await IndexedDbSessionStore.open("dashboard"); // refused in a second tab
 * const { session } = await loadSession(store); // empty on the first visit
 * const client = new Client({ session, store });
 * const result = await client.connect(await connectWebSocket("wss://broker.example/mqtt"), {
 *   clientId: session.state.clientId || `dashboard-${crypto.randomUUID()}`,
 *   cleanStart: false,
 *   sessionExpiryInterval: 86_400,
 * });
 * if (result.sessionPresent) await client.resend(); // what the last visit left in flight
 * await client.publish({ topic: "orders", qos: 2 }, "order 1"); // saved before it is written
 * ```
 */
export class IndexedDbSessionStore implements SessionStore, AsyncDisposable {
  /** The database's name. */
  readonly name: string;
  #db: IdbDatabase;
  #release: (() => void) | undefined;
  /** The last save or clear made: transactions complete in order, so it is the last to. */
  #last: Promise<void> = Promise.resolve();

  // Made by open() alone, with no static block: a bundler keeps a class that has one even when
  // nothing uses it.
  private constructor(name: string, db: IdbDatabase, release: () => void) {
    this.name = name;
    this.#db = db;
    this.#release = release;
  }

  /**
   * Opens the store of the database `name` (created, empty, if it does not exist), taking its
   * Web Lock; refused with {@linkcode SessionStoreError} reason `locked` while another store
   * (in this page, another tab or a worker) holds it, and with reason `version` when the
   * database was created by a later mqtt5. A `TypeError` when there is no IndexedDB or no Web
   * Locks API (pass them in the options, or `locks: null`).
   *
   * @example
   * ```ts ignore
   * const store = await IndexedDbSessionStore.open("sensor-1");
   * ```
   */
  static async open(
    name: string,
    options: IndexedDbStoreOptions = {},
  ): Promise<IndexedDbSessionStore> {
    const scope = globalThis as {
      indexedDB?: IndexedDbFactory;
      navigator?: { locks?: WebLockManager };
    };
    const factory = options.indexedDB ?? scope.indexedDB;
    if (factory === undefined) {
      throw new TypeError(
        "Cannot open an IndexedDB session store: this runtime has no indexedDB; pass one as the indexedDB option, or use FileSessionStore outside browsers",
      );
    }
    const locks = options.locks === undefined ? scope.navigator?.locks : options.locks;
    if (locks === undefined) {
      throw new TypeError(
        "Cannot open an IndexedDB session store: this runtime has no navigator.locks to keep the session to one tab; pass a lock manager as the locks option, or locks: null",
      );
    }
    const release = locks === null ? () => {} : await lock(locks, name);
    try {
      return new IndexedDbSessionStore(name, await openDatabase(factory, name), release);
    } catch (e) {
      release();
      throw e;
    }
  }

  #open(): IdbDatabase {
    if (this.#release === undefined) {
      throw new SessionStoreError(
        "locked",
        `The session store ${this.name} is closed: open it again to use it`,
      );
    }
    return this.#db;
  }

  /** The stored session, checked ({@linkcode decodeSessionFile}); `undefined` if none. */
  async load(): Promise<SessionSnapshot | undefined> {
    const transaction = this.#open().transaction(OBJECT_STORE, "readonly");
    const request = transaction.objectStore(OBJECT_STORE).get(KEY);
    await completion(transaction);
    const value = request.result;
    if (value === undefined) return undefined;
    if (!(value instanceof Uint8Array)) {
      throw new SessionStoreError(
        "corrupt",
        `The session store ${this.name} holds a record that is not a session (${typeof value}): nothing of it is loaded; clear the store to start afresh`,
      );
    }
    return decodeSessionFile(value);
  }

  /**
   * Replaces the record with `session`'s snapshot (the changes are in it) in one `readwrite`
   * transaction of durability `"strict"`; resolves on its `complete`, rejects with its error
   * (a `QuotaExceededError`, say) when it aborts.
   */
  save(_changes: readonly SessionChange[], session: Session): Promise<void> {
    // Encoded now: the session changes once this returns.
    const bytes = encodeSessionFile(session.snapshot());
    return this.#write((store) => store.put(bytes, KEY));
  }

  /** Removes the record: the store is empty. */
  clear(): Promise<void> {
    return this.#write((store) => store.delete(KEY));
  }

  #write(change: (store: IdbObjectStore) => void): Promise<void> {
    let done: Promise<void>;
    try {
      const transaction = this.#open().transaction(OBJECT_STORE, "readwrite", {
        durability: "strict",
      });
      change(transaction.objectStore(OBJECT_STORE));
      done = completion(transaction);
    } catch (e) {
      done = Promise.reject(e);
    }
    this.#last = done.catch(() => {});
    return done;
  }

  /**
   * Closes the database (after the saves under way) and releases the lock; the store can no
   * longer be used.
   */
  async close(): Promise<void> {
    const release = this.#release;
    if (release === undefined) return;
    this.#release = undefined;
    await this.#last;
    this.#db.close();
    release();
  }

  /** Closes the store at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Takes the Web Lock of `name` for as long as the returned release is not called. */
async function lock(locks: WebLockManager, name: string): Promise<() => void> {
  const held = Promise.withResolvers<boolean>();
  const released = Promise.withResolvers<void>();
  locks.request(LOCK_PREFIX + name, { ifAvailable: true }, (lock) => {
    held.resolve(lock !== null);
    return lock === null ? undefined : released.promise;
  }).catch((e) => held.reject(e));
  if (!await held.promise) {
    throw new SessionStoreError(
      "locked",
      `The session store ${name} is in use by another tab, worker or store of this page: close that one first, or open another name`,
    );
  }
  return () => released.resolve();
}

/** Opens the database `name`, creating its object store on the first open. */
function openDatabase(factory: IndexedDbFactory, name: string): Promise<IdbDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, DB_VERSION) as IdbOpenRequest;
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(OBJECT_STORE)) db.createObjectStore(OBJECT_STORE);
    };
    request.onsuccess = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(OBJECT_STORE)) {
        db.close();
        reject(
          new SessionStoreError(
            "corrupt",
            `The IndexedDB database ${name} is not an mqtt5 session store (it has no "${OBJECT_STORE}" object store): open another name`,
          ),
        );
        return;
      }
      resolve(db);
    };
    request.onerror = () => {
      const error = request.error as { name?: string } | null;
      if (error?.name === "VersionError") {
        reject(
          new SessionStoreError(
            "version",
            `The IndexedDB database ${name} was created by a later mqtt5 (a version above ${DB_VERSION}): upgrade mqtt5, or delete the database to start afresh`,
            { cause: error },
          ),
        );
      } else {
        reject(error ?? new Error(`Opening the IndexedDB database ${name} failed`));
      }
    };
  });
}
