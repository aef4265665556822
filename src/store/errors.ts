/**
 * The error of the durable session stores.
 *
 * @module
 */

/**
 * Why a store refused: `corrupt` (what is stored is torn, truncated or altered: nothing of it
 * is loaded), `version` (stored by a later version of mqtt5: upgrade, or clear the store),
 * `locked` (another process, or another store in this one, uses the session).
 */
export type SessionStoreFailure = "corrupt" | "version" | "locked";

/**
 * A session store refused to load, save or open: the {@linkcode SessionStoreError.reason} says
 * why, the message what to do. Nothing is loaded in place of a session it cannot read safely.
 *
 * @example Telling a corrupt store from a locked one
 * ```ts ignore
 * try {
 *   const store = await FileSessionStore.open("session.mqtt");
 * } catch (e) {
 *   if (e instanceof SessionStoreError && e.reason === "locked") console.error(e.message);
 * }
 * ```
 */
export class SessionStoreError extends Error {
  /** Why the store refused. */
  readonly reason: SessionStoreFailure;

  /** Creates the error; `cause` is the underlying error, if any. */
  constructor(reason: SessionStoreFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SessionStoreError";
    this.reason = reason;
  }
}
