/**
 * Starting from a store: the stored session, checked and migrated, with the publications whose
 * Message Expiry Interval passed while they waited taken out.
 *
 * @module
 */

import {
  type OutgoingFlight,
  Session,
  type SessionChange,
  type SessionSnapshot,
  type SessionState,
  type SessionStore,
} from "../session/mod.ts";
import { SessionStoreError } from "./errors.ts";

/** The snapshot version this mqtt5 writes (see {@linkcode SessionSnapshot}). */
export const SNAPSHOT_VERSION = 1;

/**
 * Checks a stored snapshot and migrates one of an earlier version to the current one. Refuses
 * one of a later version with {@linkcode SessionStoreError} reason `version`, and anything that
 * is not a snapshot with reason `corrupt`: it is never read as something else.
 *
 * @example
 * ```ts
 * import { Session } from "../session/mod.ts";
 * import { migrateSnapshot } from "./load.ts";
 * console.log(migrateSnapshot(new Session().snapshot()).version); // 1
 * ```
 */
export function migrateSnapshot(snapshot: unknown): SessionSnapshot {
  const version = (snapshot as { version?: unknown } | null)?.version;
  const state = (snapshot as { state?: unknown } | null)?.state;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new SessionStoreError("corrupt", "The stored session is not a session snapshot");
  }
  if (version > SNAPSHOT_VERSION) {
    throw new SessionStoreError(
      "version",
      `The stored session is of snapshot version ${version}, newer than this mqtt5 reads (${SNAPSHOT_VERSION}): upgrade mqtt5, or clear the store to start afresh`,
    );
  }
  if (state === null || typeof state !== "object") {
    throw new SessionStoreError("corrupt", "The stored session snapshot has no state");
  }
  // Version 1 is the only one so far; a later version migrates the earlier ones here, step by
  // step, so that a store written by an older mqtt5 is read, never misread.
  return snapshot as SessionSnapshot;
}

/**
 * Replays `changes` (as the engine journals them, see {@linkcode SessionChange}) on `snapshot`:
 * the session a store that appends changes holds. The next Packet Identifier follows the last
 * publication replayed (any free id serves, and the engine skips ids in flight). Replaying is
 * idempotent where the engine's transitions are: a completion of a flight not in the session, a
 * second record of an incoming id, change nothing. Refuses a snapshot that is not a session with
 * {@linkcode SessionStoreError} reason `corrupt`.
 *
 * @example A publication, then its completion
 * ```ts
 * import { Session } from "../session/mod.ts";
 * import { applyChanges } from "./load.ts";
 * const publication = { topic: "t", payload: new Uint8Array([1]), qos: 1 as const, retain: false };
 * const sent = applyChanges(new Session().snapshot(), [{ op: "publish", packetId: 1, publication }]);
 * console.log(Session.fromSnapshot(sent).state.outgoing.length); // 1
 * const done = applyChanges(sent, [{ op: "completed", packetId: 1 }]);
 * console.log(Session.fromSnapshot(done).state.outgoing.length); // 0
 * ```
 */
export function applyChanges(
  snapshot: SessionSnapshot,
  changes: readonly SessionChange[],
): SessionSnapshot {
  let state: SessionState;
  try {
    // A fresh deep copy, owned here: changed in place, then snapshot again.
    state = Session.fromSnapshot(migrateSnapshot(snapshot)).state as unknown as SessionState;
  } catch (e) {
    if (e instanceof SessionStoreError) throw e;
    throw new SessionStoreError("corrupt", `The stored session is not a valid session: ${e}`, {
      cause: e,
    });
  }
  for (const change of changes) {
    switch (change.op) {
      case "publish": {
        const flight: OutgoingFlight = {
          packetId: change.packetId,
          state: change.publication.qos === 1 ? "awaiting-puback" : "awaiting-pubrec",
          publication: change.publication,
        };
        const i = state.outgoing.findIndex((f) => f.packetId === change.packetId);
        if (i >= 0) state.outgoing[i] = flight;
        else state.outgoing.push(flight);
        state.nextPacketId = change.packetId === 0xffff ? 1 : change.packetId + 1;
        break;
      }
      case "released": {
        const flight = state.outgoing.find((f) => f.packetId === change.packetId);
        if (flight !== undefined) {
          flight.state = "awaiting-pubcomp";
          delete flight.publication;
        }
        break;
      }
      case "completed": {
        // Acknowledgements mostly come in order: the flight is usually the first.
        const i = state.outgoing[0]?.packetId === change.packetId
          ? 0
          : state.outgoing.findIndex((f) => f.packetId === change.packetId);
        if (i >= 0) state.outgoing.splice(i, 1);
        break;
      }
      case "incoming":
        if (!state.incoming.includes(change.packetId)) state.incoming.push(change.packetId);
        break;
      case "incoming-done": {
        const i = state.incoming.indexOf(change.packetId);
        if (i >= 0) state.incoming.splice(i, 1);
        break;
      }
      case "subscribed":
        for (const r of change.records) {
          const i = state.subscriptions.findIndex((s) => s.filter === r.filter);
          if (i >= 0) state.subscriptions[i] = r;
          else state.subscriptions.push(r);
        }
        break;
      case "unsubscribed":
        state.subscriptions = state.subscriptions.filter((s) => !change.filters.includes(s.filter));
        break;
      case "clear":
        state.outgoing = [];
        state.incoming = [];
        state.subscriptions = [];
        break;
      case "client-id":
        state.clientId = change.clientId;
        break;
      default:
        throw new SessionStoreError(
          "corrupt",
          `The stored session's changes hold an unknown one: ${JSON.stringify(change)}`,
        );
    }
  }
  return new Session(state).snapshot();
}

/** Options of {@linkcode loadSession}. */
export interface LoadSessionOptions {
  /** The time now, in `Date.now()` milliseconds. @default {Date.now()} */
  now?: number;
}

/** What {@linkcode loadSession} gives: the session, and the publications that expired. */
export interface LoadedSession {
  /** The stored session (empty when the store is). */
  session: Session;
  /**
   * The outgoing publications taken out of the session because their Message Expiry Interval
   * passed while they waited in the store: they are not sent (tell whoever is owed them).
   */
  expired: OutgoingFlight[];
}

interface JsonFlight {
  packetId: number;
  state: string;
  publication?: { storedAt?: number; properties?: { messageExpiryInterval?: number } };
}

/**
 * Loads the session of `store` for a restart, checked ({@linkcode migrateSnapshot}). A stored
 * publication not yet acknowledged (PUBACK or PUBREC) whose Message Expiry Interval passed since
 * it was stored is taken out (the removal saved) and returned in `expired`; one still valid
 * keeps the rest of its interval, which its resent PUBLISH carries. A QoS 2 flight already
 * released (awaiting PUBCOMP) is the server's now and never expires here.
 *
 * The pattern: load, make the client with the session and the store, connect with
 * `cleanStart: false` and the stored client identifier, and resend what the server's session
 * still expects.
 *
 * @example Restarting from a file
 * ```ts ignore
 * import { Client, connectTcp } from "@scope/mqtt5";
 * import { FileSessionStore, loadSession } from "@scope/mqtt5/store";
 * const store = await FileSessionStore.open("sensor-1.session");
 * const { session, expired } = await loadSession(store);
 * for (const flight of expired) console.warn("not sent, expired:", flight.publication?.topic);
 * const client = new Client({ session, store });
 * const result = await client.connect(await connectTcp({ port: 1883 }), {
 *   clientId: session.state.clientId || "sensor-1",
 *   cleanStart: false,
 *   sessionExpiryInterval: 0xffffffff,
 * });
 * if (result.sessionPresent) await client.resend();
 * ```
 */
export async function loadSession(
  store: SessionStore,
  options: LoadSessionOptions = {},
): Promise<LoadedSession> {
  const stored = await store.load();
  if (stored === undefined) return { session: new Session(), expired: [] };
  const snapshot = migrateSnapshot(stored);
  const now = options.now ?? Date.now();
  const state = { ...(snapshot.state as { outgoing?: JsonFlight[] }) };
  const kept: JsonFlight[] = [];
  const gone: JsonFlight[] = [];
  for (const flight of state.outgoing ?? []) {
    const pub = flight.publication;
    const interval = pub?.properties?.messageExpiryInterval;
    if (pub === undefined || interval === undefined || pub.storedAt === undefined) {
      kept.push(flight);
      continue;
    }
    const waited = Math.max(0, Math.floor((now - pub.storedAt) / 1000));
    if (waited >= interval) {
      gone.push(flight);
      continue;
    }
    // The rest of its interval from now: the resent PUBLISH carries it.
    kept.push({
      ...flight,
      publication: {
        ...pub,
        storedAt: now,
        properties: { ...pub.properties, messageExpiryInterval: interval - waited },
      },
    });
  }
  let session: Session;
  let expired: OutgoingFlight[];
  try {
    session = Session.fromSnapshot({ ...snapshot, state: { ...state, outgoing: kept } });
    expired = gone.length === 0 ? [] : Session.fromSnapshot({
      version: 1,
      state: { outgoing: gone },
    }).state.outgoing as OutgoingFlight[];
  } catch (e) {
    throw new SessionStoreError("corrupt", `The stored session is not a valid session: ${e}`, {
      cause: e,
    });
  }
  if (expired.length > 0) {
    await store.save(expired.map((f) => ({ op: "completed", packetId: f.packetId })), session);
  }
  return { session, expired };
}
