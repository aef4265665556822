/**
 * The script of the store test's page, run twice in one headless Chromium profile: a first load
 * (`phase: "crash"`) and, after the page navigates to itself, a second one (`phase: "restart"`).
 * Each POSTs a {@linkcode StoreReport} to `/report`.
 *
 * The first load checks the store's refusals (a second store of the same name, damaged records,
 * a database of a later version), then publishes four QoS 2 messages with an
 * `IndexedDbSessionStore` over Mosquitto's websockets listener and "crashes": `m1` completes;
 * `m2` gets its PUBREC and its PUBREL is written; `m3`'s PUBLISH is written; `m4` is saved, and
 * the client aborts (no DISCONNECT) as its save resolves, before its PUBLISH is written. The
 * store is never closed: the navigation drops the page's lock and database connection, as a
 * crashed tab's are.
 *
 * The second load opens the store again, loads the session with `loadSession`, reconnects with
 * Clean Start 0 and the stored client identifier, calls `resend()` and polls until each flight
 * completed.
 *
 * @module
 */

import {
  Client,
  connectWebSocket,
  encodeSessionFile,
  IndexedDbSessionStore,
  loadSession,
  Session,
  SessionStoreError,
} from "./_store_entry.ts";
import type { ClientEvent } from "../../mod.ts";
import type { SessionChange, SessionStore } from "../../src/store/mod.ts";

/** What the test passes to the page, as JSON in the `config` query parameter. */
export interface StoreConfig {
  /** Which load this is. */
  phase: "crash" | "restart";
  /** Mosquitto's websockets listener, `ws://127.0.0.1:<port>/`. */
  url: string;
  /** The broker's user. */
  username: string;
  /** That user's password. */
  password: string;
  /** The topic prefix: the messages go to `<topic>/m1` to `<topic>/m4`. */
  topic: string;
  /** The page client's Client Identifier. */
  clientId: string;
  /** The store's database name (the refusal checks use names derived from it). */
  db: string;
}

/** A flight of the session, as JSON keeps it. */
export interface FlightReport {
  /** The Packet Identifier. */
  packetId: number;
  /** Its state. */
  state: string;
  /** The topic of its publication, while the session keeps it. */
  topic?: string;
}

/** What the first load found. */
export interface CrashReport {
  /** The first load. */
  phase: "crash";
  /** Why each refusal check was refused (a `SessionStoreError`'s reason), or what happened. */
  refusals: Record<string, string>;
  /** The Packet Identifiers of the four publications, by name. */
  packetIds: Record<string, number>;
  /** The session's flights when the client aborted. */
  flights: FlightReport[];
  /** The changes of each save, by `op`, in order. */
  saves: string[][];
  /** What `m4`'s publish promise rejected with (its `name: message`). */
  m4Error: string;
}

/** What the second load found. */
export interface RestartReport {
  /** The second load. */
  phase: "restart";
  /** How many opens it took (a refusal as `locked` is retried for a while). */
  openAttempts: number;
  /** The client identifier of the loaded session. */
  clientId: string;
  /** The loaded session's flights. */
  loaded: FlightReport[];
  /** What `loadSession` took out as expired (none here). */
  expired: number;
  /** The CONNACK's Session Present. */
  sessionPresent: boolean;
  /** What `resend()` returned. */
  resent: number[];
  /** The acknowledgement events polled: `type packetId reasonCode`. */
  acks: string[];
  /** The flights left in the store once all completed and the store was reopened. */
  storedAfter: FlightReport[];
}

/** What the page POSTs to `/report`. */
export type StoreReport = CrashReport | RestartReport | {
  /** The load that failed. */
  phase: "failed";
  /** What failed, with the stack. */
  error: string;
};

/** How long each load may take. */
const DEADLINE_MS = 20_000;

// The raw IndexedDB the refusal checks write with, structurally (no DOM library in the check).
interface RawRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
  onupgradeneeded?: (() => void) | null;
}
interface RawDatabase {
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: "readwrite"): {
    objectStore(name: string): { put(value: unknown, key: string): unknown };
    oncomplete: (() => void) | null;
    onabort: (() => void) | null;
    error: unknown;
  };
  close(): void;
}
const rawIndexedDb = (globalThis as unknown as {
  indexedDB: { open(name: string, version?: number): RawRequest<RawDatabase> };
}).indexedDB;

/** Opens `name` at `version` with the raw API, creating the object store `session` if asked. */
function rawOpen(name: string, version: number, create: boolean): Promise<RawDatabase> {
  return new Promise((resolve, reject) => {
    const request = rawIndexedDb.open(name, version);
    request.onupgradeneeded = () => {
      if (create) request.result.createObjectStore("session");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Writes `value` as the record `snapshot` of `name`'s object store `session` (version 1). */
async function rawPut(name: string, value: unknown): Promise<void> {
  const db = await rawOpen(name, 1, true);
  try {
    const transaction = db.transaction("session", "readwrite");
    transaction.objectStore("session").put(value, "snapshot");
    await new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

/** The reason of the `SessionStoreError` that `action` rejects with, or what happened instead. */
async function refusal(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
    return "accepted";
  } catch (e) {
    return e instanceof SessionStoreError ? e.reason : `${e}`;
  }
}

/** Opens `name`, loads it and closes it. */
async function openAndLoad(name: string): Promise<unknown> {
  const store = await IndexedDbSessionStore.open(name);
  try {
    return await store.load();
  } finally {
    await store.close();
  }
}

async function refusals(config: StoreConfig, held: SessionStore): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  // A second store of a name this page holds.
  result.secondOpen = await refusal(() => IndexedDbSessionStore.open(config.db));
  // A record whose body has one byte altered, one cut short by a byte, one not bytes at all.
  const good = encodeSessionFile(new Session({ clientId: "refusals" }).snapshot());
  const altered = good.slice();
  altered[altered.length - 2] = altered[altered.length - 2]! ^ 0x01;
  await rawPut(`${config.db}-altered`, altered);
  result.altered = await refusal(() => openAndLoad(`${config.db}-altered`));
  await rawPut(`${config.db}-truncated`, good.slice(0, -1));
  result.truncated = await refusal(() => openAndLoad(`${config.db}-truncated`));
  await rawPut(`${config.db}-text`, "not a session");
  result.text = await refusal(() => openAndLoad(`${config.db}-text`));
  // The same bytes unaltered are loaded: the checks above refuse the damage, not the record.
  await rawPut(`${config.db}-good`, good);
  const loaded = await openAndLoad(`${config.db}-good`) as { state?: { clientId?: string } };
  result.good = loaded?.state?.clientId === "refusals" ? "loaded" : JSON.stringify(loaded);
  // A database of a later version.
  (await rawOpen(`${config.db}-later`, 2, true)).close();
  result.laterDatabase = await refusal(() => openAndLoad(`${config.db}-later`));
  // The store this page holds still works after the second open was refused.
  result.heldLoads = await refusal(() => held.load());
  return result;
}

function flights(session: Session): FlightReport[] {
  return session.state.outgoing.map((f) => ({
    packetId: f.packetId,
    state: f.state,
    ...(f.publication ? { topic: f.publication.topic } : {}),
  }));
}

async function pollUntil(
  client: Client,
  signal: AbortSignal,
  done: (event: ClientEvent) => boolean,
): Promise<ClientEvent[]> {
  const events: ClientEvent[] = [];
  for (;;) {
    const event = await client.poll({ signal });
    events.push(event);
    if (done(event)) return events;
  }
}

async function crash(config: StoreConfig): Promise<CrashReport> {
  const signal = AbortSignal.timeout(DEADLINE_MS);
  const store = await IndexedDbSessionStore.open(config.db);
  const refused = await refusals(config, store);
  const { session } = await loadSession(store);
  // The store as the client sees it: every save recorded; once armed, the save of a PUBLISH
  // aborts the client as it completes, before the batch is written: the crash.
  const saves: string[][] = [];
  let armed = false;
  const crashing: SessionStore = {
    load: () => store.load(),
    clear: () => store.clear(),
    async save(changes: readonly SessionChange[], s: Session) {
      saves.push(changes.map((c) => c.op));
      await store.save(changes, s);
      if (armed && changes.some((c) => c.op === "publish")) client.abort();
    },
  };
  const client = new Client({ session, store: crashing });
  const transport = await connectWebSocket(config.url, { signal });
  await client.connect(transport, {
    clientId: config.clientId,
    username: config.username,
    password: config.password,
    cleanStart: true,
    sessionExpiryInterval: 3600,
    signal,
  });
  const publish = (name: string) =>
    client.publish({ topic: `${config.topic}/${name}`, qos: 2 }, `${name} from the page`);
  const m1 = await publish("m1");
  await pollUntil(client, signal, (e) => e.type === "completed" && e.packetId === m1);
  const m2 = await publish("m2");
  await pollUntil(client, signal, (e) => e.type === "received" && e.packetId === m2);
  await client.flush({ signal }); // its PUBREL written; the PUBCOMP is never read
  const m3 = await publish("m3"); // its PUBLISH written; the PUBREC is never read
  armed = true;
  const m4 = publish("m4");
  let m4Error = "resolved";
  try {
    await m4;
  } catch (e) {
    m4Error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  await transport.closed;
  return {
    phase: "crash",
    refusals: refused,
    packetIds: { m1: m1!, m2: m2!, m3: m3!, m4: m4.packetId! },
    flights: flights(client.session),
    saves,
    m4Error,
  };
}

async function restart(config: StoreConfig): Promise<RestartReport> {
  const signal = AbortSignal.timeout(DEADLINE_MS);
  // The first load's lock goes with its document; give the browser a moment if it is not yet.
  let store: IndexedDbSessionStore | undefined;
  let openAttempts = 0;
  while (store === undefined) {
    openAttempts++;
    try {
      store = await IndexedDbSessionStore.open(config.db);
    } catch (e) {
      if (!(e instanceof SessionStoreError && e.reason === "locked") || openAttempts >= 50) throw e;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const { session, expired } = await loadSession(store);
  const loaded = flights(session);
  const client = new Client({ session, store });
  const transport = await connectWebSocket(config.url, { signal });
  try {
    const result = await client.connect(transport, {
      clientId: session.state.clientId,
      username: config.username,
      password: config.password,
      cleanStart: false,
      sessionExpiryInterval: 3600,
      signal,
    });
    const resent = await client.resend({ signal });
    const pending = new Set(loaded.map((f) => f.packetId));
    const acks: string[] = [];
    if (pending.size > 0) {
      await pollUntil(client, signal, (e) => {
        if (e.type === "received" || e.type === "completed" || e.type === "rejected") {
          acks.push(`${e.type} ${e.packetId} ${e.reasonCode}`);
          if (e.type !== "received") pending.delete(e.packetId);
        }
        return pending.size === 0;
      });
    }
    await client.disconnect({ signal });
    await store.close();
    const again = await IndexedDbSessionStore.open(config.db);
    const after = await loadSession(again);
    await again.close();
    return {
      phase: "restart",
      openAttempts,
      clientId: session.state.clientId,
      loaded,
      expired: expired.length,
      sessionPresent: result.sessionPresent,
      resent,
      acks,
      storedAfter: flights(after.session),
    };
  } finally {
    transport.close();
    await transport.closed;
    await store.close();
  }
}

function report(body: StoreReport): Promise<Response> {
  return fetch("/report", { method: "POST", body: JSON.stringify(body) });
}

const config = JSON.parse(
  new URLSearchParams(location.search).get("config") ?? "",
) as StoreConfig;
try {
  if (config.phase === "crash") {
    await report(await crash(config));
    // The restart: the same page loaded again, in the same profile.
    const next = new URL(location.href);
    next.searchParams.set("config", JSON.stringify({ ...config, phase: "restart" }));
    location.replace(next.href);
  } else {
    await report(await restart(config));
  }
} catch (e) {
  await report({
    phase: "failed",
    // V8's stack starts with the name and the message.
    error: e instanceof Error ? e.stack ?? `${e.name}: ${e.message}` : String(e),
  });
}
