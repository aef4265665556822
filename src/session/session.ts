/**
 * The session: protocol state without I/O, as plain data the user can inspect, keep and hand to a
 * new client after a network failure. The {@linkcode Session} is read-only to the application;
 * the protocol engine makes its transitions.
 *
 * @module
 */

import type { PublishProperties, QoS, RetainHandling } from "../codec/mod.ts";
import { SessionData } from "./_store.ts";

/**
 * Where an outgoing QoS 1 or 2 publication stands (section 4.3), and what recovery does with it
 * after a reconnect with the session (section 4.4):
 * - `awaiting-puback` (QoS 1): PUBLISH sent (or about to be), no PUBACK yet; recovery republishes
 *   it with DUP set.
 * - `awaiting-pubrec` (QoS 2): PUBLISH sent, no PUBREC yet; recovery republishes it with DUP set.
 * - `awaiting-pubcomp` (QoS 2): PUBREC received and PUBREL sent, no PUBCOMP yet; recovery sends
 *   the PUBREL again (re-release) and never the PUBLISH [MQTT-4.3.3-6].
 */
export type OutgoingState = "awaiting-puback" | "awaiting-pubrec" | "awaiting-pubcomp";

/** A publication kept for a possible republish: the full topic, never a topic alias. */
export interface StoredPublication {
  /** The topic name. */
  topic: string;
  /** The payload. */
  payload: Uint8Array;
  /** The QoS: 1 or 2. */
  qos: 1 | 2;
  /** The RETAIN flag. */
  retain: boolean;
  /** The publication properties, without a Topic Alias (aliases do not survive a connection). */
  properties?: PublishProperties;
  /**
   * When the publication was made durable, in the driver's clock (`Date.now()` milliseconds):
   * set by `Engine.takeChanges()` when given the time. After a restart it says how long
   * the publication waited, which its Message Expiry Interval counts against (see `loadSession`
   * of `@scope/mqtt5/store`). Absent without a store.
   */
  storedAt?: number;
}

/** One outgoing QoS 1 or 2 publication in flight. */
export interface OutgoingFlight {
  /** Its Packet Identifier. */
  packetId: number;
  /** Where it stands. */
  state: OutgoingState;
  /** The publication, kept while it may have to be republished (absent once PUBREC came). */
  publication?: StoredPublication;
}

/** A subscription the client made, as last acknowledged by the server. */
export interface SubscriptionRecord {
  /** The topic filter. */
  filter: string;
  /** The QoS requested. */
  qos: QoS;
  /** The QoS the server granted (from SUBACK). */
  grantedQoS: QoS;
  /** No Local. */
  noLocal: boolean;
  /** Retain As Published. */
  retainAsPublished: boolean;
  /** Retain Handling. */
  retainHandling: RetainHandling;
  /** The Subscription Identifier sent with it, if any. */
  subscriptionIdentifier?: number;
}

/**
 * The session state: plain data. Every field may be read; only the protocol engine changes it
 * (the application sees it read-only through {@linkcode Session.state}).
 */
export interface SessionState {
  /** The client identifier the session belongs to (the assigned one once known). */
  clientId: string;
  /** The next Packet Identifier to try (1 to 65535). */
  nextPacketId: number;
  /** Outgoing QoS 1 and 2 publications in flight, in the order they were first sent. */
  outgoing: OutgoingFlight[];
  /**
   * Incoming QoS 2 Packet Identifiers whose PUBREC was sent (in manual mode: given by the
   * application, though perhaps still held for order) and whose PUBREL has not come yet.
   */
  incoming: number[];
  /** The subscriptions made, by filter. */
  subscriptions: SubscriptionRecord[];
}

/**
 * One transition of a session, as the engine journals it for a durable store (see
 * {@linkcode SessionStore}), tagged by `op`:
 * - `publish`: a QoS 1/2 publication is in flight as `packetId` (durable before its PUBLISH);
 * - `released`: PUBREC came for QoS 2 flight `packetId`, now awaiting PUBCOMP, its publication
 *   dropped (durable before its PUBREL);
 * - `completed`: the flight `packetId` is over (PUBACK, PUBCOMP, a rejection, or expired);
 * - `incoming`: an incoming QoS 2 id awaits PUBREL (durable before its PUBREC);
 * - `incoming-done`: PUBREL came for that id (durable before its PUBCOMP);
 * - `subscribed` / `unsubscribed`: subscriptions recorded or forgotten;
 * - `clear`: everything but the client id forgotten (Clean Start, or no session on the server);
 * - `client-id`: the client identifier set (assigned by the server, or connected with).
 *
 * Plain data, structured-clone safe (IndexedDB stores it as it is); the payload is a
 * `Uint8Array`, so a store appending changes as JSON encodes it (as {@linkcode Session.snapshot}
 * does). Replaying the changes on the last snapshot gives the session, except `nextPacketId`,
 * which any free id serves.
 */
export type SessionChange =
  | { op: "publish"; packetId: number; publication: StoredPublication }
  | { op: "released"; packetId: number }
  | { op: "completed"; packetId: number }
  | { op: "incoming"; packetId: number }
  | { op: "incoming-done"; packetId: number }
  | { op: "subscribed"; records: SubscriptionRecord[] }
  | { op: "unsubscribed"; filters: string[] }
  | { op: "clear" }
  | { op: "client-id"; clientId: string };

/**
 * Where a session is kept so that it survives the process: a file, IndexedDB, a database. The
 * client calls {@linkcode SessionStore.save} before each write that carries packets depending
 * on a change (a QoS 1/2 PUBLISH, a PUBREC, a PUBREL, a PUBCOMP), with all the changes since the
 * last save, and writes nothing until it resolves: under load one save covers many packets. A
 * failed save closes the connection as a failed write does, with nothing of it written.
 *
 * Implementations: `MemorySessionStore` and `FileSessionStore` in `@scope/mqtt5/store`; any
 * other (SQLite, Redis, Deno KV) implements these three methods. A store refuses what it cannot
 * read safely with a `SessionStoreError` (reason `"corrupt"`, `"version"` or `"locked"`), never
 * loading another session in its place.
 *
 * @example A store backed by Deno KV
 * ```ts ignore
 * import type { SessionSnapshot, SessionStore } from "@scope/mqtt5/session";
 * const kv = await Deno.openKv();
 * const store: SessionStore = {
 *   async load() {
 *     return (await kv.get<SessionSnapshot>(["mqtt", "session"])).value ?? undefined;
 *   },
 *   async save(_changes, session) {
 *     await kv.set(["mqtt", "session"], session.snapshot());
 *   },
 *   async clear() {
 *     await kv.delete(["mqtt", "session"]);
 *   },
 * };
 * ```
 */
export interface SessionStore {
  /**
   * The session last saved, or `undefined` when none is. Rejects with a `SessionStoreError` for
   * what cannot be read safely (a torn file, a format of a later version).
   */
  load(): Promise<SessionSnapshot | undefined>;
  /**
   * Makes `changes` durable: resolves once they survive a crash of the process (and, for a
   * file, of the machine). `session` is the session after them: a store may write its
   * {@linkcode Session.snapshot} whole, or append the changes. Take the snapshot (or copy the
   * changes) before the first `await`: the session moves on while the save runs.
   */
  save(changes: readonly SessionChange[], session: Session): Promise<void>;
  /** Forgets the stored session. */
  clear(): Promise<void>;
  /** Releases what the store holds (a lock, a handle). Optional. */
  close?(): Promise<void>;
}

/** A JSON-safe copy of a {@linkcode SessionState}: binary fields as `{ base64 }`. */
export type SessionSnapshot = {
  /** The snapshot format version. */
  version: 1;
  /** The state, with every `Uint8Array` replaced by `{ base64: string }`. */
  state: unknown;
};

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toJsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { base64: toBase64(value) };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}

function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "base64") {
      return fromBase64((value as { base64: string }).base64);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromJsonSafe(v);
    return out;
  }
  return value;
}

/** A read-only view of a value: what the application sees of the session's state. */
export type DeepReadonly<T> = T extends Uint8Array ? T
  : T extends (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
  : T;

let storeOf: (session: Session) => SessionData;

/**
 * The session of a client: Packet Identifiers, outgoing publications in flight, incoming QoS 2
 * publications awaiting release, and subscriptions. It is read-only: the protocol engine (driven
 * by the `Client`, or by the application's own loop) makes its transitions as packets go out and
 * come in. Keep it (or its {@linkcode Session.snapshot}) to recover after a network failure or a
 * restart, and hand it to a new client or engine.
 *
 * @example Keeping a session across clients
 * ```ts
 * import { Session } from "./session.ts";
 * const session = new Session({ clientId: "sensor-1" });
 * const saved = JSON.stringify(session.snapshot());
 * const restored = Session.fromSnapshot(JSON.parse(saved));
 * console.log(restored.state.clientId); // "sensor-1"
 * ```
 */
export class Session {
  #store: SessionData;

  static {
    storeOf = (session) => session.#store;
  }

  /**
   * Creates a session, empty or from a state the caller kept (taken over, not copied).
   *
   * @example A session for a client identifier
   * ```ts
   * import { Session } from "./session.ts";
   * console.log(new Session({ clientId: "a" }).isEmpty); // true
   * ```
   */
  constructor(state: Partial<SessionState> = {}) {
    const id = state.nextPacketId ?? 1;
    if (!Number.isInteger(id) || id < 1 || id > 0xffff) {
      throw new RangeError(`nextPacketId must be from 1 to 65535, got ${id}`);
    }
    this.#store = new SessionData({
      clientId: state.clientId ?? "",
      nextPacketId: id,
      outgoing: state.outgoing ?? [],
      incoming: state.incoming ?? [],
      subscriptions: state.subscriptions ?? [],
    });
  }

  /**
   * Rebuilds a session from {@linkcode Session.snapshot}'s output (after `JSON.parse`).
   *
   * @example Restoring
   * ```ts
   * import { Session } from "./session.ts";
   * const s = Session.fromSnapshot(new Session().snapshot());
   * console.log(s.state.outgoing.length); // 0
   * ```
   */
  static fromSnapshot(snapshot: SessionSnapshot): Session {
    if (snapshot?.version !== 1) {
      throw new TypeError("Not a session snapshot of version 1");
    }
    return new Session(fromJsonSafe(snapshot.state) as SessionState);
  }

  /**
   * The state, as plain data, read-only: the client identifier, the next Packet Identifier, the
   * outgoing flights in the order they were first sent, the incoming QoS 2 ids awaiting PUBREL,
   * and the subscriptions.
   */
  get state(): DeepReadonly<SessionState> {
    return this.#store.state;
  }

  /**
   * A JSON-safe deep copy of the state, for storage.
   *
   * @example Saving
   * ```ts
   * import { Session } from "./session.ts";
   * console.log(JSON.stringify(new Session({ clientId: "a" }).snapshot()).length > 0); // true
   * ```
   */
  snapshot(): SessionSnapshot {
    return { version: 1, state: toJsonSafe(this.#store.state) };
  }

  /** Whether the session holds any state worth resuming (flights, incoming ids or subscriptions). */
  get isEmpty(): boolean {
    return this.#store.isEmpty;
  }

  /**
   * The outgoing flight of a Packet Identifier, if it is in flight.
   *
   * @example Looking a flight up
   * ```ts
   * import { Session } from "./session.ts";
   * console.log(new Session().flight(1)); // undefined
   * ```
   */
  flight(packetId: number): DeepReadonly<OutgoingFlight> | undefined {
    return this.#store.flight(packetId);
  }

  /** Whether an incoming QoS 2 Packet Identifier awaits its PUBREL. */
  hasIncoming(packetId: number): boolean {
    return this.#store.hasIncoming(packetId);
  }
}

/**
 * The mutable data behind a session. Private to the session layer (the engine and its tests);
 * not exported from the package.
 *
 * @internal
 */
export function sessionStore(session: Session): SessionData {
  return storeOf(session);
}
