/**
 * Durable sessions for mqtt5: stores that keep a client's session across a crash of the process,
 * not only a network failure. A client given a store (`new Client({ session, store })`) saves
 * the session's changes before writing the packets that depend on them: a QoS 1/2 publication
 * before its PUBLISH, an incoming QoS 2 id before its PUBREC, a release before its PUBREL, the
 * end of an incoming QoS 2 flow before its PUBCOMP. One save covers a whole write, so under load
 * one save serves many packets.
 *
 * - {@linkcode FileSessionStore}: a checked snapshot (replaced atomically when a generation
 *   starts) and a log beside it: each save appends one checked record and commits it by
 *   rewriting the log's header, each step synced. A load checks it all: a cut or altered file is
 *   refused, never loaded as another session. Locked to one process (Deno, Node, Bun).
 * - {@linkcode IndexedDbSessionStore}: for browsers; one checked record, each save one `strict`
 *   transaction, a Web Lock per session name.
 * - {@linkcode MemorySessionStore}: in memory, for tests.
 * - {@linkcode loadSession}: the stored session for a restart, with the publications whose
 *   Message Expiry Interval passed while they waited taken out.
 * - Any other backing (SQLite, Redis, Deno KV) implements the three methods of
 *   {@linkcode SessionStore}: `load()`, `save(changes, session)` (write `session.snapshot()`
 *   whole, or append the changes), `clear()`, and optionally `close()`. Check what you load
 *   with {@linkcode migrateSnapshot}, and refuse what you cannot read safely with
 *   {@linkcode SessionStoreError}.
 *
 * @example Restarting a publisher from its file
 * ```ts ignore
 * import { Client, connectTcp } from "@scope/mqtt5";
 * import { FileSessionStore, loadSession } from "@scope/mqtt5/store";
 *
 * await using store = await FileSessionStore.open("publisher.session"); // refused if in use
 * const { session, expired } = await loadSession(store); // empty on the first start
 * for (const f of expired) console.warn("expired while stored:", f.publication?.topic);
 * const client = new Client({ session, store });
 * const result = await client.connect(await connectTcp({ port: 1883 }), {
 *   clientId: session.state.clientId || "publisher-1", // the stored id once there is one
 *   cleanStart: false,
 *   sessionExpiryInterval: 0xffffffff,
 * });
 * if (result.sessionPresent) await client.resend(); // complete every stored flight
 * await client.publish({ topic: "readings", qos: 2 }, "21.5"); // saved before it is written
 * ```
 *
 * @module
 */

// The session's types the stores' API names, so that this entry point documents itself.
export type * from "../session/mod.ts";
export { SessionStoreError, type SessionStoreFailure } from "./errors.ts";
export { MemorySessionStore } from "./memory.ts";
export {
  type IndexedDbFactory,
  IndexedDbSessionStore,
  type IndexedDbStoreOptions,
  type WebLockManager,
} from "./indexeddb.ts";
export {
  decodeSessionFile,
  encodeSessionFile,
  FILE_FORMAT_VERSION,
  FileSessionStore,
} from "./file.ts";
export {
  type LoadedSession,
  loadSession,
  type LoadSessionOptions,
  migrateSnapshot,
  SNAPSHOT_VERSION,
} from "./load.ts";
