// The file store's log: applyChanges() against what the engine journals; a round trip through
// many saves of a seeded workload and a reopen; a real log cut at every offset of its committed
// part or with any byte flipped, refused as corrupt; an uncommitted tail (a whole record without
// its commit, a torn one) left out, then dropped; a log older than the snapshot read as empty, a
// later one refused; compaction; a version-1 store file migrated; a failed save, or a change the
// store was not given, answered by writing the session whole.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { PacketType } from "../../src/codec/mod.ts";
import { type Engine, Session, type SessionSnapshot } from "../../src/session/mod.ts";
import { FileSessionStore, SessionStoreError } from "../../src/store/mod.ts";
import { openFileStore } from "../../src/store/file.ts";
import { applyChanges } from "../../src/store/load.ts";
import { decodeLogHeader, encodeLogHeader, LOG_HEADER } from "../../src/store/_log.ts";
import { type FileSystem, fileSystem, nodeFileSystem } from "../../src/store/_fs.ts";
import { crc32 } from "../../src/store/_crc32.ts";
import { connected, none, T0 } from "../session/_engine.ts";

const { Publish, Puback, Pubrec, Pubcomp, Pubrel, Suback, Unsuback } = PacketType;

/** A folder of its own under `.broker` (the tests' writable place), removed at the end. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  await Deno.mkdir(".broker", { recursive: true });
  const path = await Deno.makeTempDir({ dir: ".broker", prefix: "log-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** A small seeded generator (mulberry32), so that a failing workload can be replayed. */
function random(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * A connected engine journaling, and a step of a seeded workload: publications at QoS 1 and 2
 * (binary payloads, some with properties), their acknowledgements in or out of order, incoming
 * QoS 2 ids and their releases, subscriptions made and dropped.
 */
function workload(seed: number): { engine: Engine; step: () => void } {
  const engine = connected({ journal: true });
  const rnd = random(seed);
  let incoming = 100;
  const step = () => {
    const s = engine.session.state;
    switch (rnd(8)) {
      case 0:
      case 1:
      case 2: {
        const payload = new Uint8Array(rnd(40)).map(() => rnd(256));
        const properties = rnd(3) === 0
          ? {
            messageExpiryInterval: 60 + rnd(100),
            correlationData: new Uint8Array([rnd(256), 0, 255]),
            userProperties: [["k", `v${rnd(9)}`]] as [string, string][],
          }
          : {};
        engine.publish({ topic: `log/${rnd(5)}`, qos: rnd(2) === 0 ? 1 : 2, properties }, payload);
        break;
      }
      case 3:
      case 4: {
        const flight = s.outgoing[rnd(2) === 0 ? 0 : rnd(s.outgoing.length)];
        if (flight === undefined) break;
        const type = flight.state === "awaiting-puback"
          ? Puback
          : flight.state === "awaiting-pubrec"
          ? Pubrec
          : Pubcomp;
        engine.handle({ type, packetId: flight.packetId }, T0);
        break;
      }
      case 5: {
        const packetId = incoming++;
        engine.handle({
          type: Publish,
          topic: "in",
          payload: new Uint8Array([1]),
          qos: 2,
          packetId,
        }, T0);
        break;
      }
      case 6: {
        const packetId = s.incoming[rnd(s.incoming.length)];
        if (packetId !== undefined) engine.handle({ type: Pubrel, packetId }, T0);
        break;
      }
      case 7: {
        const filter = `f/${rnd(4)}`;
        if (s.subscriptions.some((r) => r.filter === filter) && rnd(2) === 0) {
          const id = engine.unsubscribe(filter);
          engine.handle({ type: Unsuback, packetId: id, reasonCodes: [0] }, T0);
        } else {
          const id = engine.subscribe({ filter, qos: 1 });
          engine.handle({ type: Suback, packetId: id, reasonCodes: [1] }, T0);
        }
        break;
      }
    }
    engine.takeOutput();
  };
  return { engine, step };
}

/** A snapshot as JSON data, without the next Packet Identifier (which the changes do not carry). */
function normal(snapshot: SessionSnapshot | undefined): unknown {
  const state = JSON.parse(JSON.stringify(snapshot)).state;
  delete state.nextPacketId;
  return state;
}

function reason(expected: string) {
  return (e: unknown) => {
    ok(e instanceof SessionStoreError, `expected a SessionStoreError, got ${e}`);
    equal(e.reason, expected, e.message);
    return true;
  };
}

/** The generation a store file names (format 2: the body's first four bytes). */
async function generationOf(path: string): Promise<number> {
  const bytes = await Deno.readFile(path);
  equal(new DataView(bytes.buffer).getUint16(4), 2, "format version 2");
  return new DataView(bytes.buffer).getUint32(16);
}

async function logHeader(path: string) {
  return decodeLogHeader(await Deno.readFile(`${path}.log`), `${path}.log`);
}

Deno.test({
  name: "applyChanges() on the last snapshot gives the session the engine's journal leads to",
  ...none,
  fn() {
    for (const seed of [1, 2, 3]) {
      const { engine, step } = workload(seed);
      let snapshot = engine.session.snapshot();
      engine.takeChanges();
      for (let i = 0; i < 400; i++) {
        step();
        if (i % 3 !== 0) continue;
        snapshot = applyChanges(snapshot, engine.takeChanges(T0 + i));
        deepStrictEqual(normal(snapshot), normal(engine.session.snapshot()), `seed ${seed}, ${i}`);
      }
      ok(engine.session.state.outgoing.length > 0, "flights left in the end");
    }
    // Clean Start's clear, then the client identifier the server assigned.
    const before = new Session(
      { clientId: "a", outgoing: [{ packetId: 1, state: "awaiting-pubcomp" }], incoming: [3] },
    ).snapshot();
    const after = applyChanges(before, [{ op: "clear" }, { op: "client-id", clientId: "b" }]);
    deepStrictEqual(normal(after), {
      clientId: "b",
      outgoing: [],
      incoming: [],
      subscriptions: [],
    });
  },
});

/** Saves `saves` steps of a seeded workload to a store at `path`; returns the engine. */
async function saveWorkload(
  store: FileSessionStore,
  seed: number,
  saves: number,
): Promise<{ engine: Engine; snapshots: SessionSnapshot[] }> {
  const { engine, step } = workload(seed);
  const snapshots: SessionSnapshot[] = [];
  for (let i = 0; i < saves; i++) {
    for (let n = 0; n < 3; n++) step();
    await store.save(engine.takeChanges(T0 + i), engine.session);
    snapshots.push(engine.session.snapshot());
  }
  return { engine, snapshots };
}

Deno.test("FileSessionStore in log mode keeps the session through many saves and a reopen", async (t) => {
  await using dir = await tempDir();
  for (const [name, fs] of [["Deno", fileSystem()], ["node:fs", nodeFileSystem()]] as const) {
    await t.step(`on ${name}'s file system`, async () => {
      const path = `${dir.path}/${name}.session`;
      let expected: SessionSnapshot;
      {
        await using store = await openFileStore(path, fs);
        const { engine, snapshots } = await saveWorkload(store, 7, 300);
        expected = engine.session.snapshot();
        // The first save wrote the snapshot; each later one appended a record.
        equal((await logHeader(path)).count, 299);
        deepStrictEqual(normal(await store.load()), normal(expected), "loaded while open");
        equal(snapshots.length, 300);
      }
      await using store = await openFileStore(path, fs);
      deepStrictEqual(normal(await store.load()), normal(expected), "after a reopen");
    });
  }
});

/** A store after 12 saves, and the bytes of its files. */
async function realLog(dir: string) {
  const path = `${dir}/real.session`;
  const store = await FileSessionStore.open(path);
  const { engine, step } = workload(11);
  for (let i = 0; i < 12; i++) {
    for (let n = 0; n < 3; n++) step();
    await store.save(engine.takeChanges(T0 + i), engine.session);
  }
  const snapshot = await Deno.readFile(path);
  const log = await Deno.readFile(`${path}.log`);
  const header = decodeLogHeader(log, path);
  equal(header.count, 11);
  const committed = log.subarray(0, LOG_HEADER + header.length);
  ok(log.subarray(committed.length).every((b) => b === 0), "past the records: the room, zeros");
  return {
    path,
    store,
    snapshot,
    log,
    header,
    committed,
    engine,
    step,
    expected: engine.session.snapshot(),
  };
}

Deno.test("FileSessionStore refuses a log cut at any offset of its committed part, or with any byte altered, as corrupt", async () => {
  await using dir = await tempDir();
  const { path, store, log, committed, expected } = await realLog(dir.path);
  await using _ = store;
  ok(committed.length > 1000, `${committed.length} bytes`);
  for (let cut = 0; cut < committed.length; cut++) {
    await Deno.writeFile(`${path}.log`, log.subarray(0, cut));
    await rejects(store.load(), reason("corrupt"), `cut at ${cut}`);
  }
  for (let at = 0; at < committed.length; at++) {
    for (const mask of [0x01, 0xff]) {
      const bytes = committed.slice();
      bytes[at]! ^= mask;
      await Deno.writeFile(`${path}.log`, bytes);
      await rejects(store.load(), reason("corrupt"), `byte ${at} ^ ${mask}`);
    }
  }
  await Deno.writeFile(`${path}.log`, log);
  deepStrictEqual(normal(await store.load()), normal(expected), "intact again");
});

Deno.test("FileSessionStore leaves out an append whose commit never happened, whole or torn, and drops it", async () => {
  await using dir = await tempDir();
  const { path, store, header, engine, step, expected } = await realLog(dir.path);
  // A 13th save; then its commit undone: the 12th save's header over the 13th save's log.
  for (let n = 0; n < 3; n++) step();
  await store.save(engine.takeChanges(T0), engine.session);
  await store.close();
  const longer = await Deno.readFile(`${path}.log`);
  const snapshot = await Deno.readFile(path);
  const end = LOG_HEADER + decodeLogHeader(longer, path).length;
  const whole = longer.subarray(0, end).slice();
  whole.set(encodeLogHeader(header));
  const torn = whole.subarray(0, Math.floor((LOG_HEADER + header.length + end) / 2));
  for (const [name, bytes] of [["a whole record", whole], ["a torn record", torn]] as const) {
    await Deno.writeFile(path, snapshot);
    await Deno.writeFile(`${path}.log`, bytes);
    await using s = await FileSessionStore.open(path);
    const loaded = await s.load();
    deepStrictEqual(normal(loaded), normal(expected), `${name} left out`);
    // The next save starts a new generation: the tail is gone.
    await s.save([], Session.fromSnapshot(loaded!));
    const after = await Deno.readFile(`${path}.log`);
    equal(decodeLogHeader(after, path).length, 0);
    ok(after.subarray(LOG_HEADER).every((b) => b === 0), `${name} dropped`);
    deepStrictEqual(normal(await s.load()), normal(expected));
  }
});

Deno.test("FileSessionStore reads a log older than the snapshot as empty, and refuses a later one", async () => {
  await using dir = await tempDir();
  const { path, store, log, snapshot, expected } = await realLog(dir.path);
  await store.close();
  // A crash between the new snapshot's rename and the log's reset: the log of the generation
  // before, whose records the new snapshot holds.
  {
    await using s = await FileSessionStore.open(path);
    const session = Session.fromSnapshot((await s.load())!);
    await s.save([], session);
    equal(await generationOf(path), 2);
  }
  await Deno.writeFile(`${path}.log`, log);
  {
    await using s = await FileSessionStore.open(path);
    deepStrictEqual(normal(await s.load()), normal(expected), "the snapshot alone");
    // The next generation is numbered above both.
    await s.save([], Session.fromSnapshot((await s.load())!));
    equal(await generationOf(path), 3);
    equal((await logHeader(path)).generation, 3);
  }
  // The snapshot of generation 1 put back under the log of generation 3: refused.
  await Deno.writeFile(path, snapshot);
  await using s = await FileSessionStore.open(path);
  await rejects(s.load(), reason("corrupt"));
});

Deno.test("FileSessionStore writes a new snapshot once the log passes compactBytes, and reopens it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/compact.session`;
  let expected: SessionSnapshot;
  {
    await using store = await FileSessionStore.open(path, { compactBytes: 4000 });
    const { engine } = await saveWorkload(store, 5, 200);
    expected = engine.session.snapshot();
    const generation = await generationOf(path);
    ok(generation > 3, `generation ${generation}: compacted several times`);
    const header = await logHeader(path);
    equal(header.generation, generation);
    ok(header.length < 4000 + 2000, `${header.length} bytes of records`);
    deepStrictEqual(normal(await store.load()), normal(expected));
  }
  await using store = await FileSessionStore.open(path);
  deepStrictEqual(normal(await store.load()), normal(expected), "after a reopen");
});

Deno.test("FileSessionStore reads a store file of format 1 as a snapshot with an empty log, and writes format 2", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/v1.session`;
  const session = new Session({ clientId: "old", incoming: [4] });
  // Format 1: the header, then the JSON alone.
  const json = new TextEncoder().encode(JSON.stringify(session.snapshot()));
  const v1 = new Uint8Array(16 + json.length);
  v1.set([0x4d, 0x51, 0x53, 0x53]);
  const view = new DataView(v1.buffer);
  view.setUint16(4, 1);
  view.setUint32(8, json.length);
  v1.set(json, 16);
  view.setUint32(12, crc32(json, crc32(v1.subarray(4, 12))));
  await Deno.writeFile(path, v1);
  // A leftover log (from a later mqtt5, cleared by an older one) is not read with it.
  const { log } = await realLog(dir.path);
  await Deno.writeFile(`${path}.log`, log);
  await using store = await FileSessionStore.open(path);
  deepStrictEqual(await store.load(), session.snapshot());
  const loaded = Session.fromSnapshot((await store.load())!);
  await store.save([], loaded);
  ok((await generationOf(path)) > 1);
  deepStrictEqual(await store.load(), session.snapshot());
});

/** A file system whose log data syncs fail while `fail` is set. */
function failing(): FileSystem & { fail: boolean } {
  const fs = fileSystem();
  const wrapped = {
    ...fs,
    fail: false,
    async openForWrite(path: string) {
      const file = await fs.openForWrite(path);
      return {
        ...file,
        write: (bytes: Uint8Array, at: number) => file.write(bytes, at),
        syncData: () => wrapped.fail ? Promise.reject(new Error("EIO")) : file.syncData(),
        syncDataNow: () => {
          if (wrapped.fail) throw new Error("EIO");
          file.syncDataNow();
        },
      };
    },
  };
  return wrapped;
}

Deno.test("FileSessionStore writes the session whole after a failed save, or when given a session changed without it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/fail.session`;
  const fs = failing();
  await using store = await openFileStore(path, fs);
  const { engine, step } = workload(3);
  await store.save(engine.takeChanges(T0), engine.session);
  for (let i = 0; i < 5; i++) step();
  await store.save(engine.takeChanges(T0), engine.session);
  equal((await logHeader(path)).count, 1);
  // A failed save: its changes are lost to the log; the next save writes the session whole.
  fs.fail = true;
  for (let i = 0; i < 5; i++) step();
  await rejects(store.save(engine.takeChanges(T0), engine.session), /EIO/);
  fs.fail = false;
  for (let i = 0; i < 5; i++) step();
  await store.save(engine.takeChanges(T0), engine.session);
  equal(await generationOf(path), 2);
  equal((await logHeader(path)).count, 0);
  deepStrictEqual(normal(await store.load()), normal(engine.session.snapshot()));
  // Changes the store was not given (the engine's publication taken away): written whole.
  engine.publish({ topic: "lost", qos: 1 }, "x");
  engine.takeChanges(T0);
  engine.publish({ topic: "kept", qos: 1 }, "y");
  await store.save(engine.takeChanges(T0), engine.session);
  equal(await generationOf(path), 3);
  deepStrictEqual(normal(await store.load()), normal(engine.session.snapshot()));
});

Deno.test("FileSessionStore in snapshot mode replaces the snapshot at each save, above any log", async () => {
  await using dir = await tempDir();
  const { path, store, expected } = await realLog(dir.path);
  await store.close();
  await using snap = await FileSessionStore.open(path, { mode: "snapshot" });
  const session = Session.fromSnapshot((await snap.load())!);
  deepStrictEqual(normal(session.snapshot()), normal(expected));
  const log = await Deno.readFile(`${path}.log`);
  const { engine } = await saveWorkload(snap, 21, 5);
  deepStrictEqual(await Deno.readFile(`${path}.log`), log, "the log untouched");
  equal(await generationOf(path), 2, "one generation above the log, for every save");
  deepStrictEqual(normal(await snap.load()), normal(engine.session.snapshot()));
});

Deno.test("FileSessionStore.clear() removes the snapshot, then the log; a log left alone is not read", async () => {
  await using dir = await tempDir();
  const { path, store, log } = await realLog(dir.path);
  await store.clear();
  await rejects(Deno.stat(path), Deno.errors.NotFound);
  await rejects(Deno.stat(`${path}.log`), Deno.errors.NotFound);
  // A crash between the two removals: the log alone.
  await Deno.writeFile(`${path}.log`, log);
  equal(await store.load(), undefined);
  await store.save([], new Session({ clientId: "new" }));
  equal(await generationOf(path), 2, "numbered above the log left");
  deepStrictEqual(normal(await store.load()), normal(new Session({ clientId: "new" }).snapshot()));
  await store.close();
});
