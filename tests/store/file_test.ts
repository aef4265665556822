// The file store: a session round trip byte for byte, the lock (a second store on the path is
// refused; a lock left by a dead process is taken over), corruption (a real store file cut at
// every byte offset, or with a byte flipped at every offset, is refused as corrupt, never loaded
// as another session), a later format or snapshot version refused as such, and a restart from
// the file against Mosquitto, with a publication expired while stored taken out.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Client, Session, type SessionState } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import {
  decodeSessionFile,
  encodeSessionFile,
  FileSessionStore,
  loadSession,
  SessionStoreError,
} from "../../src/store/mod.ts";
import { openFileStore } from "../../src/store/file.ts";
import { nodeFileSystem } from "../../src/store/_fs.ts";
import { crc32 } from "../../src/store/_crc32.ts";
import { brokerAvailable, brokerIgnoreReason, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";
import { Clients, text, uniqueTopic, waitFor } from "../client/_client.ts";

/** A folder of its own under `.broker` (the tests' writable place), removed at the end. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  await Deno.mkdir(".broker", { recursive: true });
  const path = await Deno.makeTempDir({ dir: ".broker", prefix: "store-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** A session with something of every kind: flights in each state, binary fields, ids, filters. */
function fullState(): SessionState {
  return {
    clientId: "store-test",
    nextPacketId: 9,
    outgoing: [
      {
        packetId: 3,
        state: "awaiting-puback",
        publication: {
          topic: "a/b",
          payload: new Uint8Array([0, 1, 2, 255]),
          qos: 1,
          retain: true,
          properties: { messageExpiryInterval: 60, correlationData: new Uint8Array([7, 8]) },
          storedAt: 1_700_000_000_000,
        },
      },
      {
        packetId: 5,
        state: "awaiting-pubrec",
        publication: { topic: "ü/€", payload: new Uint8Array(300).fill(42), qos: 2, retain: false },
      },
      { packetId: 7, state: "awaiting-pubcomp" },
    ],
    incoming: [11, 12],
    subscriptions: [{
      filter: "x/#",
      qos: 2,
      grantedQoS: 1,
      noLocal: true,
      retainAsPublished: false,
      retainHandling: 1,
      subscriptionIdentifier: 4,
    }],
  };
}

function reason(expected: string) {
  return (e: unknown) => {
    ok(e instanceof SessionStoreError, `expected a SessionStoreError, got ${e}`);
    equal(e.reason, expected, e.message);
    return true;
  };
}

Deno.test("FileSessionStore saves and loads a session byte for byte", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.session`;
  const session = new Session(fullState());
  {
    await using store = await FileSessionStore.open(path);
    equal(await store.load(), undefined, "no file yet: an empty store");
    equal((await loadSession(store)).session.isEmpty, true);
    await store.save([], session);
  }
  await using store = await FileSessionStore.open(path);
  const loaded = await store.load();
  deepStrictEqual(loaded, JSON.parse(JSON.stringify(session.snapshot())));
  deepStrictEqual(Session.fromSnapshot(loaded!).state, fullState());
  const { session: restored, expired } = await loadSession(store, {
    now: 1_700_000_000_000 + 10_500,
  });
  deepStrictEqual(expired, []);
  equal(
    restored.flight(3)?.publication?.properties?.messageExpiryInterval,
    50,
    "60 s less the 10 s it waited",
  );
  await store.clear();
  equal(await store.load(), undefined);
  const names = [];
  for await (const e of Deno.readDir(dir.path)) names.push(e.name);
  deepStrictEqual(names.sort(), ["s.session.lock"], "no temporary file left");
});

Deno.test("FileSessionStore.open() refuses a second store on the same path until the first closes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.session`;
  const first = await FileSessionStore.open(path);
  await rejects(FileSessionStore.open(path), reason("locked"));
  await first.close();
  await rejects(first.load(), reason("locked"), "a closed store is not used");
  await using again = await FileSessionStore.open(path);
  // A lock file a killed Deno process left (its flock went with it) is taken over.
  await using dir2 = await tempDir();
  await Deno.writeTextFile(`${dir2.path}/t.session.lock`, "deno 4194301\n");
  await using taken = await FileSessionStore.open(`${dir2.path}/t.session`);
  equal(await Deno.readTextFile(`${dir2.path}/t.session.lock`), `deno ${Deno.pid}\n`);
  void again;
  void taken;
});

const runGranted = Deno.permissions.querySync({ name: "run" }).state === "granted";

Deno.test({
  name:
    "FileSessionStore on Node's file system takes over the lock of a dead process, not a live one",
  ignore: !runGranted, // process.kill(pid, 0) needs --allow-run on Deno: deno test -P=runtimes
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/n.session`;
    const child = new Deno.Command("mosquitto", { args: ["-h"], stdout: "null", stderr: "null" })
      .spawn();
    const dead = child.pid;
    await child.status;
    await Deno.writeTextFile(`${path}.lock`, `node ${dead}\n`);
    const store = await openFileStore(path, nodeFileSystem());
    equal(await Deno.readTextFile(`${path}.lock`), `node ${Deno.pid}\n`);
    await rejects(openFileStore(path, nodeFileSystem()), reason("locked"));
    await rejects(FileSessionStore.open(path), reason("locked"), "Deno respects a live Node lock");
    await store.close();
    await rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound, "released: removed");
  },
});

Deno.test("FileSessionStore refuses a store file cut or altered at any byte, as corrupt", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/c.session`;
  await using store = await FileSessionStore.open(path);
  await store.save([], new Session(fullState()));
  const real = await Deno.readFile(path);
  ok(real.length > 500, `${real.length} bytes`);
  for (let cut = 0; cut < real.length; cut++) {
    await Deno.writeFile(path, real.subarray(0, cut));
    await rejects(store.load(), reason("corrupt"), `cut at ${cut}`);
  }
  for (let at = 0; at < real.length; at++) {
    for (const mask of [0x01, 0xff]) {
      const bytes = real.slice();
      bytes[at]! ^= mask;
      await Deno.writeFile(path, bytes);
      await rejects(store.load(), reason("corrupt"), `byte ${at} ^ ${mask}`);
    }
  }
  await Deno.writeFile(path, real);
  deepStrictEqual(Session.fromSnapshot((await store.load())!).state, fullState(), "intact again");
});

Deno.test("FileSessionStore refuses a later file format or snapshot version, as version", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/v.session`;
  await using store = await FileSessionStore.open(path);
  // Format version 3, with a valid CRC: a file of a later mqtt5.
  const later = encodeSessionFile(new Session().snapshot());
  const view = new DataView(later.buffer);
  view.setUint16(4, 3);
  view.setUint32(12, crc32(later.subarray(16), crc32(later.subarray(4, 12))));
  await Deno.writeFile(path, later);
  await rejects(store.load(), reason("version"));
  // Snapshot version 2 inside a valid file of format 2.
  const snapshot = { version: 2, state: {} } as unknown as ReturnType<Session["snapshot"]>;
  await Deno.writeFile(path, encodeSessionFile(snapshot));
  await rejects(store.load(), reason("version"));
  await rejects(loadSession(store), reason("version"));
  equal(decodeSessionFile(encodeSessionFile(new Session().snapshot())).version, 1);
});

Deno.test({
  name:
    "A client restarted from a FileSessionStore resends its stored flights, leaving out one expired while stored",
  ignore: !brokerAvailable,
  async fn() {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    await using dir = await tempDir();
    const path = `${dir.path}/r.session`;
    const login = { username: broker.username, password: broker.password };
    await using clients = new Clients(() => connectTcp(broker), login);
    const topic = uniqueTopic("restart");
    const { client: sub } = await clients.connect();
    await sub.subscribe({ filter: topic, qos: 1 });
    await waitFor(sub, "subscribed");
    const clientId = `restart-${crypto.randomUUID().slice(0, 8)}`;
    const connect = { clientId, sessionExpiryInterval: 300, ...login };

    // The first process: both publications are saved, then the connection drops before the
    // broker sees them (the proxy forwards nothing more), and the process ends.
    let storedAt: number;
    {
      await using store = await FileSessionStore.open(path);
      const { session } = await loadSession(store);
      const client = new Client({ session, store });
      await client.connect(await connectTcp(proxy), { ...connect, cleanStart: true });
      const wire = proxy.connections.at(-1)!;
      wire.cutAfter({ toServer: 0 });
      const kept = client.publish(
        { topic, qos: 1, properties: { messageExpiryInterval: 3600 } },
        "kept",
      );
      const gone = client.publish(
        { topic, qos: 1, properties: { messageExpiryInterval: 1 } },
        "expires",
      );
      await Promise.allSettled([kept, gone]);
      await wire.closed;
      client.abort();
      storedAt = client.session.flight(1)!.publication!.storedAt!;
      ok(storedAt > 0);
    }

    // The restart, 2.5 s later by the clock given to loadSession().
    await using store = await FileSessionStore.open(path);
    const { session, expired } = await loadSession(store, { now: storedAt + 2_500 });
    deepStrictEqual(expired.map((f) => f.packetId), [2]);
    equal(text(expired[0]!.publication!.payload), "expires");
    deepStrictEqual(session.state.outgoing.map((f) => f.packetId), [1]);
    equal(session.state.clientId, clientId);
    const client = new Client({ session, store });
    const result = await clients.connect(
      { ...connect, clientId: session.state.clientId, cleanStart: false },
      client,
    );
    equal(result.result.sessionPresent, true);
    deepStrictEqual(await client.resend(), [1]);
    await waitFor(client, "acknowledged");
    const message = await waitFor(sub, "message");
    equal(text(message.payload), "kept");
    ok(
      message.properties.messageExpiryInterval! <= 3598,
      `${message.properties.messageExpiryInterval}: the time it waited is subtracted`,
    );
    await client.disconnect(); // its write saves the completion
    deepStrictEqual(Session.fromSnapshot((await store.load())!).state.outgoing, []);
    await rejects(waitFor(sub, "message", 500), "the expired publication never comes");
  },
});
