/**
 * The in-memory session store, for tests.
 *
 * @module
 */

import type { Session, SessionChange, SessionSnapshot, SessionStore } from "../session/mod.ts";

/**
 * A {@linkcode SessionStore} in memory: it keeps the last snapshot as JSON text (a copy, as a
 * real store would), and counts the saves and changes. It survives a client, not the process:
 * for tests, and for programs that want the barrier's ordering without a disk.
 *
 * @example A client and its restart, in one process
 * ```ts
 * import { loadSession, MemorySessionStore } from "./mod.ts";
 * const store = new MemorySessionStore();
 * const { session } = await loadSession(store);
 * console.log(session.isEmpty); // true
 * ```
 */
export class MemorySessionStore implements SessionStore {
  #text: string | undefined;
  /** The number of saves so far. */
  saves = 0;
  /** The number of changes saved so far. */
  changes = 0;

  /** The session last saved, or `undefined`. */
  load(): Promise<SessionSnapshot | undefined> {
    return Promise.resolve(
      this.#text === undefined ? undefined : JSON.parse(this.#text) as SessionSnapshot,
    );
  }

  /** Keeps `session`'s snapshot (the changes are counted, not kept). */
  save(changes: readonly SessionChange[], session: Session): Promise<void> {
    this.#text = JSON.stringify(session.snapshot());
    this.saves++;
    this.changes += changes.length;
    return Promise.resolve();
  }

  /** Forgets the session. */
  clear(): Promise<void> {
    this.#text = undefined;
    return Promise.resolve();
  }
}
