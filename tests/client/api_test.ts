// The Client's newer API against real peers: the Packet Identifier a publication carries at once
// (`PublishPromise.packetId`), `waitForQuota()`, `sendQuota` and `heldBack`, `take()`, `flush()`,
// `sessionResumable` on every error, the answer to a server DISCONNECT that breaks a rule, and
// large payloads written without a copy. The scripted peer shows the bytes the client wrote; the
// Mosquitto of this module (with `max_inflight_messages 2`, so a Receive Maximum of 2) shows what
// a broker accepted and delivered.

import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  type ClientOptions,
  ClientStateError,
  type Connack,
  ConnectionClosedError,
  type ConnectOptions,
  decode,
  encode,
  encodePublishHead,
  MqttError,
  NotConnectedError,
  PacketType,
  ProtocolViolationError,
  type Publish,
  type PublishPromise,
  QuotaExceededError,
  Session,
} from "../../mod.ts";
import type { Transport } from "../../src/transport/mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { startPeer } from "../_util/peer.ts";
import { readPublish } from "../_util/wire.ts";
import {
  clientsOf,
  message,
  nextEvent,
  openPeer,
  PeerHarness,
  subscribed,
  text,
  uniqueTopic,
  waitFor,
  waitForLog,
} from "../features/_features.ts";

const te = new TextEncoder();

/**
 * A TCP transport that keeps every chunk the client writes as the very object written (so that a
 * test can tell a payload that went out uncopied), and can hold writes from settling while their
 * bytes go out at once.
 */
class RecordingTcp {
  /** The chunks written, in order: the objects the client handed over, not copies. */
  readonly chunks: Uint8Array[] = [];
  /** The transport to give the client. */
  readonly transport: Transport;
  #gate: PromiseWithResolvers<void> | undefined;

  private constructor(conn: Deno.TcpConn) {
    const writer = conn.writable.getWriter();
    let closed = false;
    this.transport = {
      readable: conn.readable,
      writable: new WritableStream<Uint8Array>({
        write: (chunk) => {
          this.chunks.push(chunk);
          const written = writer.write(chunk);
          const gate = this.#gate?.promise;
          return gate === undefined ? written : Promise.all([written, gate]).then(() => {});
        },
      }),
      close() {
        if (closed) return;
        closed = true;
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      },
    };
  }

  /** Connects to `address`. */
  static async connect(address: { hostname: string; port: number }): Promise<RecordingTcp> {
    const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
    conn.setNoDelay(true);
    return new RecordingTcp(conn);
  }

  /** From now on, writes settle only once {@linkcode RecordingTcp.release} is called. */
  hold(): void {
    this.#gate ??= Promise.withResolvers();
  }

  /** Lets held writes settle, and later ones settle at once. */
  release(): void {
    this.#gate?.resolve();
    this.#gate = undefined;
  }
}

/**
 * A client connected over `recording` to `peer` (which the caller disposes), answered with
 * `connack`.
 */
async function openPeerOver(
  recording: RecordingTcp,
  peer: Awaited<ReturnType<typeof startPeer>>,
  options: { connect?: ConnectOptions; connack?: Partial<Connack>; client?: ClientOptions } = {},
): Promise<PeerHarness> {
  const client = new Client(options.client);
  const connecting = client.connect(recording.transport, {
    clientId: "api-test",
    ...options.connect,
  });
  const conn = await peer.accept();
  const connect = decode(await conn.readPacket());
  ok(connect.type === PacketType.Connect, "the first packet is CONNECT");
  await conn.write(
    encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0, ...options.connack }),
  );
  return new PeerHarness(peer, client, conn, connect, await connecting, false);
}

/** `n` random bytes. */
function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let at = 0; at < n; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(n, at + 65_536)));
  }
  return bytes;
}

/** Asserts that two byte arrays are equal, naming the first offset where they differ. */
function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** Several packets as the bytes of one write, so that they arrive in one read. */
function concat(...packets: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(packets.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of packets) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

/** Whether `promise` has settled, after the timers and I/O of `ms` milliseconds had their turn. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return settled;
}

/** Asserts that the peer receives nothing from the client for `ms` milliseconds. */
async function assertNothingSent(h: PeerHarness, ms = 200): Promise<void> {
  await rejects(
    h.conn.readPacket({ timeoutMs: ms }),
    /sent no complete packet/,
    "the client wrote nothing",
  );
}

/**
 * A server DISCONNECT 0x8B that carries a Session Expiry Interval, which only a client may send
 * [MQTT-3.14.2-2], written byte by byte (not by the codec under test).
 */
const disconnectWithExpiry = new Uint8Array([
  0xe0, // DISCONNECT
  0x1e, // Remaining Length 30
  0x8b, // Reason Code 0x8B Server shutting down
  0x1c, // Property Length 28
  0x11, // Session Expiry Interval
  ...[0x00, 0x00, 0x00, 0x1e], // 30 seconds
  0x1f, // Reason String
  ...[0x00, 0x14], // length 20
  ...te.encode("Server shutting down"),
]);

Deno.test({
  name: "Client.publish() returns a PublishPromise that knows its Packet Identifier at once",
  async fn(t) {
    await t.step(
      "packetId is the id of the PUBLISH on the wire, known before the write settles; its PUBACK can be polled before the promise settles [MQTT-2.2.1-3]",
      async () => {
        await using peer = await startPeer();
        const recording = await RecordingTcp.connect(peer);
        await using h = await openPeerOver(recording, peer);
        recording.hold();
        const published: PublishPromise = h.client.publish({ topic: "id/q1", qos: 1 }, "one");
        const id = published.packetId;
        ok(typeof id === "number" && id > 0, `a Packet Identifier at once, got ${id}`);
        // The bytes go out, but the write does not settle while the transport holds it.
        const bytes = await h.conn.readPacket();
        deepStrictEqual(readPublish(bytes), {
          dup: false,
          qos: 1,
          retain: false,
          topic: "id/q1",
          packetId: id,
        });
        equal(await settledWithin(published, 20), false, "the write has not settled");
        await h.send({ type: PacketType.Puback, packetId: id });
        const ack = await nextEvent(h.client);
        deepStrictEqual(ack, {
          type: "acknowledged",
          packetId: id,
          reasonCode: 0,
          properties: {},
        });
        equal(await settledWithin(published, 0), false, "acknowledged before the write settled");
        recording.release();
        equal(await published, id);
      },
    );

    await t.step(
      "QoS 2 publications get their own ids, QoS 0 ones none (packetId undefined, resolving to undefined)",
      async () => {
        await using h = await openPeer();
        const q2 = h.client.publish({ topic: "id/q2", qos: 2 }, "two");
        const q0 = h.client.publish({ topic: "id/q0" }, "zero");
        const q1 = h.client.publish({ topic: "id/q1", qos: 1 }, "one");
        equal(q0.packetId, undefined);
        ok(q2.packetId !== undefined && q1.packetId !== undefined);
        ok(q2.packetId !== q1.packetId, "distinct ids");
        deepStrictEqual(
          [readPublish(await h.conn.readPacket()), readPublish(await h.conn.readPacket())]
            .map((p) => [p.qos, p.packetId]),
          [[2, q2.packetId], [0, undefined]],
        );
        equal(readPublish(await h.conn.readPacket()).packetId, q1.packetId);
        deepStrictEqual(await Promise.all([q2, q0, q1]), [q2.packetId, undefined, q1.packetId]);
      },
    );

    await t.step(
      "a publication refused before sending rejects, with no packetId and nothing on the wire",
      async () => {
        await using h = await openPeer({ connack: { properties: { receiveMaximum: 1 } } });
        const first = h.client.publish({ topic: "id/quota", qos: 1 }, "fits");
        const refused = h.client.publish({ topic: "id/quota", qos: 1 }, "over the quota");
        equal(refused.packetId, undefined);
        await rejects(refused, QuotaExceededError);
        equal(readPublish(await h.conn.readPacket()).packetId, first.packetId);
        await assertNothingSent(h);
      },
    );
  },
});

Deno.test({
  name:
    "Client.waitForQuota() against a peer whose CONNACK says Receive Maximum 2 [MQTT-3.3.4-7] [MQTT-4.9.0-2]",
  async fn(t) {
    await t.step(
      "resolves at once while the quota admits a publication; once it is used up, the next PUBLISH is written only after a polled PUBACK frees a slot",
      async () => {
        await using h = await openPeer({ connack: { properties: { receiveMaximum: 2 } } });
        const { client } = h;
        equal(client.sendQuota, 2);
        await client.waitForQuota();
        const a = client.publish({ topic: "quota", qos: 1 }, "a");
        equal(client.sendQuota, 1);
        await client.waitForQuota();
        const b = client.publish({ topic: "quota", qos: 1 }, "b");
        equal(client.sendQuota, 0);
        await Promise.all([a, b]);
        deepStrictEqual(
          [readPublish(await h.conn.readPacket()), readPublish(await h.conn.readPacket())]
            .map((p) => p.packetId),
          [a.packetId, b.packetId],
        );

        const polling = nextEvent(client);
        let inFlightWhenWoken: number[] | undefined;
        let third: PublishPromise | undefined;
        const publisher = (async () => {
          await client.waitForQuota({ signal: AbortSignal.timeout(5000) });
          inFlightWhenWoken = client.session.state.outgoing.map((f) => f.packetId);
          third = client.publish({ topic: "quota", qos: 1 }, "c");
          return await third;
        })();
        await assertNothingSent(h, 300);
        equal(third, undefined, "still waiting for quota");

        await h.send({ type: PacketType.Puback, packetId: a.packetId! });
        deepStrictEqual(await polling, {
          type: "acknowledged",
          packetId: a.packetId,
          reasonCode: 0,
          properties: {},
        });
        const id = await publisher;
        deepStrictEqual(inFlightWhenWoken, [b.packetId], "woken once the PUBACK was handled");
        // The first packet written after the PUBACK is the third PUBLISH.
        const sent = readPublish(await h.conn.readPacket());
        deepStrictEqual([sent.topic, sent.packetId], ["quota", id]);
        equal(third!.packetId, id);
        equal(client.sendQuota, 0);
      },
    );

    await t.step(
      "a PUBREC frees no slot (the flight awaits PUBCOMP); PUBCOMP and a failing PUBREC do",
      async () => {
        await using h = await openPeer({ connack: { properties: { receiveMaximum: 2 } } });
        const { client } = h;
        const a = client.publish({ topic: "quota2", qos: 2 }, "a");
        const b = client.publish({ topic: "quota2", qos: 2 }, "b");
        await Promise.all([a, b]);
        await h.sent();
        await h.sent();

        let waiting = client.waitForQuota({ signal: AbortSignal.timeout(5000) });
        await h.send({ type: PacketType.Pubrec, packetId: a.packetId! });
        equal((await nextEvent(client)).type, "received");
        deepStrictEqual(await h.sent(), {
          type: PacketType.Pubrel,
          packetId: a.packetId,
          reasonCode: 0,
        });
        equal(await settledWithin(waiting, 50), false, "a flight awaiting PUBCOMP is outstanding");
        equal(client.sendQuota, 0);

        await h.send({ type: PacketType.Pubcomp, packetId: a.packetId! });
        equal((await nextEvent(client)).type, "completed");
        await waiting;
        equal(client.sendQuota, 1);
        const c = client.publish({ topic: "quota2", qos: 2 }, "c");
        await c;
        equal((await h.sent()).type, PacketType.Publish);

        waiting = client.waitForQuota({ signal: AbortSignal.timeout(5000) });
        await h.send({ type: PacketType.Pubrec, packetId: b.packetId!, reasonCode: 0x97 });
        const rejected = await nextEvent(client);
        deepStrictEqual([rejected.type, "packetId" in rejected && rejected.packetId], [
          "rejected",
          b.packetId,
        ]);
        await waiting;
        equal(client.sendQuota, 1);
        // No PUBREL after a failing PUBREC: nothing was written.
        await assertNothingSent(h);
      },
    );

    await t.step(
      "rejects with the connection's error when the connection ends, and with the signal's reason on abort",
      async () => {
        await using h = await openPeer({
          connect: { sessionExpiryInterval: 60 },
          connack: { properties: { receiveMaximum: 1 } },
        });
        const { client } = h;
        await client.publish({ topic: "quota3", qos: 1 }, "a");
        await h.sent();

        const controller = new AbortController();
        const aborted = client.waitForQuota({ signal: controller.signal });
        controller.abort(new Error("stop waiting"));
        await rejects(aborted, /stop waiting/);

        const waiting = client.waitForQuota();
        const polling = client.poll();
        h.conn.close();
        await rejects(polling, ConnectionClosedError);
        await rejects(waiting, (e: unknown) => {
          ok(e instanceof ConnectionClosedError, String(e));
          equal(e.sessionResumable, true);
          return true;
        });
        await rejects(client.waitForQuota(), (e: unknown) => {
          ok(e instanceof NotConnectedError, String(e));
          equal(e.sessionResumable, true);
          return true;
        });

        // The application dropping the connection ends the wait as well.
        await using again = await openPeer({ connack: { properties: { receiveMaximum: 1 } } });
        await again.client.publish({ topic: "quota3", qos: 1 }, "a");
        equal((await again.sent()).type, PacketType.Publish);
        const dropped = again.client.waitForQuota();
        again.client.abort();
        await rejects(dropped, ConnectionClosedError);
        await again.assertClosedQuietly();
      },
    );

    await t.step(
      "with a signal already aborted it returns a rejected promise, as publish() does",
      async () => {
        await using h = await openPeer({ connack: { properties: { receiveMaximum: 2 } } });
        const signal = AbortSignal.abort(new Error("aborted before"));
        const published = h.client.publish({ topic: "quota4", qos: 1, signal }, "x");
        await rejects(published, /aborted before/);
        let waiting: Promise<void> | undefined;
        try {
          waiting = h.client.waitForQuota({ signal });
        } catch (e) {
          throw new Error(`waitForQuota() threw synchronously instead of rejecting: ${e}`);
        }
        await rejects(waiting, /aborted before/);
      },
    );
  },
});

Deno.test({
  name:
    "Client.heldBack lists the session's flights not sent on this connection; resend() sends as many as the Receive Maximum admits [MQTT-3.3.4-7] [MQTT-4.4.0-1] [MQTT-4.6.0-1]",
  async fn() {
    const publication = (n: number) => ({
      topic: "held",
      payload: te.encode(`m${n}`),
      qos: 1 as const,
      retain: false,
    });
    const session = new Session({
      clientId: "held-back",
      nextPacketId: 10,
      outgoing: [
        { packetId: 1, state: "awaiting-puback", publication: publication(1) },
        { packetId: 2, state: "awaiting-puback", publication: publication(2) },
        { packetId: 3, state: "awaiting-pubcomp" },
        { packetId: 4, state: "awaiting-puback", publication: publication(4) },
        { packetId: 5, state: "awaiting-puback", publication: publication(5) },
      ],
    });
    const client = new Client({ session });
    deepStrictEqual(client.heldBack, [], "nothing is held back while not connected");
    await using h = await openPeer({
      reuse: client,
      connect: { clientId: "held-back", cleanStart: false, sessionExpiryInterval: 60 },
      connack: { sessionPresent: true, properties: { receiveMaximum: 2 } },
    });
    deepStrictEqual(client.heldBack, [1, 2, 3, 4, 5], "none sent on this connection yet");
    equal(client.sendQuota, 0, "five flights, a Receive Maximum of 2");

    deepStrictEqual(await client.resend(), [1, 2, 3]);
    deepStrictEqual(client.heldBack, [4, 5]);
    const wire = async () => {
      const bytes = await h.conn.readPacket();
      const packet = decode(bytes);
      return packet.type === PacketType.Publish
        ? ["PUBLISH", packet.packetId, packet.dup === true]
        : [packet.type, "packetId" in packet ? packet.packetId : undefined];
    };
    deepStrictEqual(
      [await wire(), await wire(), await wire()],
      [["PUBLISH", 1, true], ["PUBLISH", 2, true], [PacketType.Pubrel, 3]],
    );
    deepStrictEqual(await client.resend(), [], "the quota is used up");
    await assertNothingSent(h);

    await h.send({ type: PacketType.Puback, packetId: 1 });
    equal((await nextEvent(client)).type, "acknowledged");
    // Flight 3 awaits its PUBCOMP: still outstanding, so no slot for 4 yet.
    deepStrictEqual(await client.resend(), []);
    deepStrictEqual(client.heldBack, [4, 5]);
    await h.send({ type: PacketType.Pubcomp, packetId: 3 });
    equal((await nextEvent(client)).type, "completed");
    deepStrictEqual(await client.resend(), [4]);
    deepStrictEqual(client.heldBack, [5]);
    deepStrictEqual(await wire(), ["PUBLISH", 4, true]);

    await h.send({ type: PacketType.Puback, packetId: 2 });
    equal((await nextEvent(client)).type, "acknowledged");
    deepStrictEqual(await client.resend(), [5]);
    deepStrictEqual(client.heldBack, []);
    const last = decode(await h.conn.readPacket());
    ok(last.type === PacketType.Publish && last.packetId === 5 && last.dup === true);
    equal(text(last.payload), "m5");
    client.abort();
    deepStrictEqual(client.heldBack, [], "nothing is held back once closed");
  },
});

Deno.test({
  name: "Client.take() returns the events of what was read already, without reading",
  async fn(t) {
    await t.step(
      "drains several packets that arrived in one read, acknowledging each in order [MQTT-4.6.0-2] [MQTT-4.6.0-3]",
      async () => {
        await using h = await openPeer();
        const { client } = h;
        equal(client.take(), undefined, "nothing read yet");
        const publish = (topic: string, qos: 0 | 1 | 2, packetId?: number): Publish => ({
          type: PacketType.Publish,
          topic,
          payload: te.encode(topic),
          qos,
          ...(packetId !== undefined ? { packetId } : {}),
        });
        await h.send(concat(
          encode(publish("m1", 1, 1)),
          encode(publish("m2", 2, 2)),
          encode(publish("m3", 0)),
          encode(publish("m4", 1, 3)),
        ));
        const first = await nextEvent(client);
        ok(first.type === "message" && first.topic === "m1");
        const taken: ClientEvent[] = [];
        for (let e = client.take(); e !== undefined; e = client.take()) taken.push(e);
        deepStrictEqual(
          taken.map((e) => e.type === "message" && [e.topic, e.qos, e.packetId]),
          [["m2", 2, 2], ["m3", 0, undefined], ["m4", 1, 3]],
        );
        equal(client.take(), undefined);
        deepStrictEqual(
          [await h.sent(), await h.sent(), await h.sent()],
          [
            { type: PacketType.Puback, packetId: 1, reasonCode: 0 },
            { type: PacketType.Pubrec, packetId: 2, reasonCode: 0 },
            { type: PacketType.Puback, packetId: 3, reasonCode: 0 },
          ],
        );
      },
    );

    await t.step(
      "throws ClientStateError while poll() runs, NotConnectedError once closed",
      async () => {
        await using h = await openPeer();
        const controller = new AbortController();
        const polling = h.client.poll({ signal: controller.signal });
        throws(() => h.client.take(), ClientStateError);
        controller.abort(new Error("done polling"));
        await rejects(polling, /done polling/);
        equal(h.client.take(), undefined, "usable again once poll() is over");
        h.client.abort();
        throws(() => h.client.take(), NotConnectedError);
      },
    );

    await t.step(
      "a server DISCONNECT carrying a Session Expiry Interval, read with a PUBLISH, throws from take(); DISCONNECT 0x82 follows in the background [MQTT-3.14.2-2]",
      async () => {
        await using h = await openPeer({ connect: { sessionExpiryInterval: 60 } });
        await h.send(concat(
          encode({ type: PacketType.Publish, topic: "t", payload: te.encode("x"), qos: 0 }),
          disconnectWithExpiry,
        ));
        equal((await nextEvent(h.client)).type, "message");
        throws(() => h.client.take(), (e: unknown) => {
          ok(e instanceof ProtocolViolationError, String(e));
          equal(e.reasonCode, 0x82);
          equal(e.statement, "MQTT-3.14.2-2");
          equal(e.serverReasonCode, 0x8b);
          equal(e.serverReasonString, "Server shutting down");
          equal(e.sessionResumable, true);
          return true;
        });
        deepStrictEqual(await h.sent(), { type: PacketType.Disconnect, reasonCode: 0x82 });
        await h.assertClosedQuietly();
        equal(h.client.state, "closed");
      },
    );
  },
});

Deno.test({
  name:
    "disconnect() while a poll's read completes in the same turn: DISCONNECT is written, nothing after it, and the connection closed [MQTT-3.14.4-1] [MQTT-3.14.4-2]",
  permissions: "none",
  async fn() {
    // A transport whose reads the test completes by hand: the CONNACK at once, then a PUBREL
    // (which a connected client answers with PUBCOMP) when the test says so.
    let deliver: ((bytes: number[]) => void) | undefined;
    const replies: number[][] = [[0x20, 0x03, 0x00, 0x00, 0x00]];
    const written: number[] = [];
    let closed = false;
    const transport: Transport = {
      readable: new ReadableStream({
        type: "bytes",
        pull(c) {
          const give = (bytes: number[]) => {
            new Uint8Array(c.byobRequest!.view!.buffer, c.byobRequest!.view!.byteOffset).set(bytes);
            c.byobRequest!.respond(bytes.length);
          };
          const next = replies.shift();
          if (next !== undefined) return give(next);
          return new Promise<void>((resolve) => {
            deliver = (bytes) => {
              give(bytes);
              resolve();
            };
          });
        },
      }),
      writable: new WritableStream({
        write(chunk) {
          written.push(...chunk);
        },
      }),
      close() {
        closed = true;
      },
    };
    const client = new Client();
    await client.connect(transport, { clientId: "disconnect-race" });
    const polling = client.poll();
    await new Promise((resolve) => setTimeout(resolve, 10));
    ok(deliver !== undefined, "the poll is reading");
    written.length = 0;
    // DISCONNECT is queued for the end of the turn; the PUBREL's read completes before that.
    const disconnecting = client.disconnect();
    deliver!([0x62, 0x02, 0x00, 0x07]);
    await rejects(polling, (e: unknown) => {
      ok(e instanceof ConnectionClosedError, String(e));
      return true;
    });
    await disconnecting;
    deepStrictEqual(
      written,
      [0xe0, 0x00],
      "the server got DISCONNECT 0x00, and no PUBCOMP after it",
    );
    ok(closed, "then the transport was closed");
    equal(client.state, "closed");
  },
});

Deno.test({
  name: "Client.flush() writes what is queued now instead of at the end of the turn",
  async fn(t) {
    await t.step(
      "without flush() packets queued in one turn go out in one write at its end; flush() writes them at once",
      async () => {
        await using peer = await startPeer();
        const recording = await RecordingTcp.connect(peer);
        await using h = await openPeerOver(recording, peer);
        const { client } = h;
        const before = recording.chunks.length;

        const a = client.publish({ topic: "batch" }, "a");
        const b = client.publish({ topic: "batch" }, "b");
        await Promise.resolve();
        equal(recording.chunks.length, before, "nothing is written within the turn");
        await Promise.all([a, b]);
        equal(recording.chunks.length, before + 1, "one write for both");

        const c = client.publish({ topic: "flush" }, "c");
        const flushed = client.flush();
        equal(recording.chunks.length, before + 2, "written at once, within the turn");
        const d = client.publish({ topic: "flush" }, "d");
        await flushed;
        await Promise.all([c, d]);
        equal(recording.chunks.length, before + 3, "d went in a write of its own");
        deepStrictEqual(
          recording.chunks.slice(before).map((chunk) => chunk.length),
          [
            encode({ type: PacketType.Publish, topic: "batch", payload: te.encode("a"), qos: 0 })
              .length * 2,
            encode({ type: PacketType.Publish, topic: "flush", payload: te.encode("c"), qos: 0 })
              .length,
            encode({ type: PacketType.Publish, topic: "flush", payload: te.encode("d"), qos: 0 })
              .length,
          ],
        );
        const topics: string[] = [];
        for (let i = 0; i < 4; i++) {
          const p = decode(await h.conn.readPacket());
          ok(p.type === PacketType.Publish);
          topics.push(`${p.topic}:${text(p.payload)}`);
        }
        deepStrictEqual(topics, ["batch:a", "batch:b", "flush:c", "flush:d"]);
      },
    );

    await t.step("resolves at once with nothing queued; an aborted signal rejects", async () => {
      await using h = await openPeer();
      await h.client.flush();
      await h.client.flush({ signal: AbortSignal.timeout(1000) });
      const signal = AbortSignal.abort(new Error("not waiting"));
      h.client.publish({ topic: "t" }, "still sent").catch(() => {});
      await rejects(h.client.flush({ signal }), /not waiting/);
      // The abort only stopped the wait: the packet goes out.
      const p = decode(await h.conn.readPacket());
      ok(p.type === PacketType.Publish && text(p.payload) === "still sent");
    });
  },
});

Deno.test({
  name: "MqttError.sessionResumable says whether the session can be resumed [MQTT-3.1.2-23]",
  async fn(t) {
    for (const expiry of [60, 0]) {
      await t.step(
        `ConnectionClosedError when the peer closes the socket, Session Expiry Interval ${expiry}; NotConnectedError afterwards carries the same`,
        async () => {
          await using h = await openPeer({ connect: { sessionExpiryInterval: expiry } });
          h.conn.close();
          let closed: ConnectionClosedError | undefined;
          await rejects(h.client.poll(), (e: unknown) => {
            ok(e instanceof ConnectionClosedError, String(e));
            equal(e.recoverable, false);
            equal(e.sessionResumable, expiry > 0);
            closed = e;
            return true;
          });
          for (
            const call of [
              () => h.client.publish({ topic: "t", qos: 1 }, "x"),
              () => h.client.poll(),
              () => h.client.waitForQuota(),
              () => h.client.subscribe({ filter: "t" }),
            ]
          ) {
            await rejects(call(), (e: unknown) => {
              ok(e instanceof NotConnectedError, String(e));
              equal(e.recoverable, true);
              equal(e.sessionResumable, expiry > 0);
              ok(e.message.includes(closed!.message), `${e.message} says why`);
              return true;
            });
          }
          throws(() => h.client.take(), (e: unknown) => {
            ok(e instanceof NotConnectedError);
            equal(e.sessionResumable, expiry > 0);
            return true;
          });
        },
      );
    }

    await t.step(
      "the CONNACK's Session Expiry Interval decides: 0 from the server overrides the client's 60",
      async () => {
        await using h = await openPeer({
          connect: { sessionExpiryInterval: 60 },
          connack: { properties: { sessionExpiryInterval: 0 } },
        });
        h.conn.close();
        await rejects(h.client.poll(), (e: unknown) => {
          ok(e instanceof ConnectionClosedError);
          equal(e.sessionResumable, false);
          return true;
        });
      },
    );

    for (const expiry of [60, 0]) {
      await t.step(
        `ProtocolViolationError (a second CONNACK), Session Expiry Interval ${expiry} [MQTT-3.2.0-2]`,
        async () => {
          await using h = await openPeer({ connect: { sessionExpiryInterval: expiry } });
          await h.send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
          await rejects(h.client.poll(), (e: unknown) => {
            ok(e instanceof ProtocolViolationError, String(e));
            equal(e.reasonCode, 0x82);
            equal(e.sessionResumable, expiry > 0);
            equal(e.serverReasonCode, undefined, "not about a server DISCONNECT");
            return true;
          });
          deepStrictEqual(await h.sent(), { type: PacketType.Disconnect, reasonCode: 0x82 });
          await rejects(h.client.publish({ topic: "t" }, "x"), (e: unknown) => {
            ok(e instanceof NotConnectedError);
            equal(e.sessionResumable, expiry > 0);
            return true;
          });
        },
      );
    }

    await t.step(
      "after the client's DISCONNECT: resumable with the expiry in force, not once DISCONNECT set it to 0",
      async () => {
        {
          await using h = await openPeer({ connect: { sessionExpiryInterval: 60 } });
          await h.client.disconnect();
          deepStrictEqual(await h.sent(), { type: PacketType.Disconnect, reasonCode: 0 });
          await rejects(h.client.publish({ topic: "t" }, "x"), (e: unknown) => {
            ok(e instanceof NotConnectedError);
            equal(e.sessionResumable, true);
            return true;
          });
        }
        {
          await using h = await openPeer({ connect: { sessionExpiryInterval: 60 } });
          await h.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
          deepStrictEqual(await h.sent(), {
            type: PacketType.Disconnect,
            reasonCode: 0,
            properties: { sessionExpiryInterval: 0 },
          });
          await rejects(h.client.publish({ topic: "t" }, "x"), (e: unknown) => {
            ok(e instanceof NotConnectedError);
            equal(e.sessionResumable, false);
            return true;
          });
        }
      },
    );

    await t.step(
      "errors that end no connection say false: QuotaExceededError, ClientStateError, NotConnectedError before any connect",
      async () => {
        const fresh = new Client();
        await rejects(fresh.publish({ topic: "t" }, "x"), (e: unknown) => {
          ok(e instanceof NotConnectedError);
          equal(e.sessionResumable, false);
          return true;
        });
        await using h = await openPeer({
          connect: { sessionExpiryInterval: 60 },
          connack: { properties: { receiveMaximum: 1 } },
        });
        await h.client.publish({ topic: "t", qos: 1 }, "fits");
        await rejects(h.client.publish({ topic: "t", qos: 1 }, "over"), (e: unknown) => {
          ok(e instanceof QuotaExceededError && e instanceof MqttError);
          equal(e.recoverable, true);
          equal(e.sessionResumable, false);
          return true;
        });
        const polling = h.client.poll({ signal: AbortSignal.timeout(200) });
        await rejects(h.client.poll(), (e: unknown) => {
          ok(e instanceof ClientStateError);
          equal(e.sessionResumable, false);
          return true;
        });
        await rejects(polling);
      },
    );
  },
});

Deno.test({
  name:
    "Client.poll() answers a server DISCONNECT carrying a Session Expiry Interval with DISCONNECT 0x82, keeping the server's reason [MQTT-3.14.2-2] [MQTT-3.14.4-1] [MQTT-3.14.4-2]",
  async fn(t) {
    await t.step("the DISCONNECT 0x8B with a Session Expiry Interval", async () => {
      await using h = await openPeer({ connect: { sessionExpiryInterval: 60 } });
      await h.send(disconnectWithExpiry);
      await rejects(h.client.poll(), (e: unknown) => {
        ok(e instanceof ProtocolViolationError, String(e));
        equal(e.reasonCode, 0x82);
        equal(e.statement, "MQTT-3.14.2-2");
        equal(e.serverReasonCode, 0x8b);
        equal(e.serverReasonString, "Server shutting down");
        equal(e.recoverable, false);
        equal(e.sessionResumable, true);
        return true;
      });
      // DISCONNECT, Remaining Length 1, Reason Code 0x82 Protocol Error; then only the close.
      deepStrictEqual(Array.from(await h.conn.readPacket()), [0xe0, 0x01, 0x82]);
      await h.assertClosedQuietly();
      equal(h.client.state, "closed");
      await rejects(h.client.poll(), (e: unknown) => {
        ok(e instanceof NotConnectedError);
        equal(e.sessionResumable, true);
        return true;
      });
    });

    await t.step(
      "the same DISCONNECT without it is an event, and nothing is sent back",
      async () => {
        await using h = await openPeer({ connect: { sessionExpiryInterval: 60 } });
        await h.send(
          new Uint8Array([
            0xe0, // DISCONNECT
            0x19, // Remaining Length 25
            0x8b, // Reason Code 0x8B Server shutting down
            0x17, // Property Length 23
            0x1f, // Reason String
            ...[0x00, 0x14], // length 20
            ...te.encode("Server shutting down"),
          ]),
        );
        const event = await nextEvent(h.client);
        ok(event.type === "disconnected", JSON.stringify(event));
        deepStrictEqual([event.reasonCode, event.reasonString], [0x8b, "Server shutting down"]);
        await h.assertClosedQuietly();
        await rejects(h.client.poll(), (e: unknown) => {
          ok(e instanceof NotConnectedError);
          ok(e.message.includes("Server shutting down"), e.message);
          equal(e.sessionResumable, true);
          return true;
        });
      },
    );
  },
});

Deno.test({
  name:
    "Client.publish() writes a payload of 16 KiB or more as the PUBLISH header and the payload itself, uncopied",
  async fn(t) {
    for (const size of [16 * 1024, 64 * 1024, 1024 * 1024]) {
      await t.step(
        `${size / 1024} KiB at QoS 1: the peer receives encode() of the packet`,
        async () => {
          await using peer = await startPeer();
          const recording = await RecordingTcp.connect(peer);
          await using h = await openPeerOver(recording, peer);
          const payload = randomBytes(size);
          const before = recording.chunks.length;
          const published = h.client.publish({ topic: "big/one", qos: 1 }, payload);
          const packet: Publish = {
            type: PacketType.Publish,
            topic: "big/one",
            payload,
            qos: 1,
            packetId: published.packetId!,
          };
          const received = await h.conn.readPacket({ timeoutMs: 10_000 });
          assertBytes(received, encode(packet), "the PUBLISH on the wire");
          equal(await published, packet.packetId);
          const chunks = recording.chunks.slice(before);
          equal(chunks.length, 2, "the header and the payload");
          ok(chunks[1] === payload, "the payload itself was written");
          assertBytes(chunks[0]!, encodePublishHead(packet), "the header");
          equal(payload.byteLength, size, "the payload is left as it was (not transferred)");
        },
      );
    }

    await t.step(
      "a smaller packet is copied into the batch; small packets around a large one keep their order",
      async () => {
        await using peer = await startPeer();
        const recording = await RecordingTcp.connect(peer);
        await using h = await openPeerOver(recording, peer);
        const small = randomBytes(8 * 1024);
        const large = randomBytes(100 * 1024);
        const before = recording.chunks.length;
        const sends = [
          h.client.publish({ topic: "order/1" }, small),
          h.client.publish({ topic: "order/2", qos: 1 }, large),
          h.client.publish({ topic: "order/3" }, "after"),
        ];
        const id = sends[1]!.packetId!;
        await Promise.all(sends);
        const chunks = recording.chunks.slice(before);
        ok(!chunks.includes(small), "the 8 KiB payload was copied into the batch");
        ok(chunks.includes(large), "the 100 KiB payload was not");
        const expected = [
          encode({ type: PacketType.Publish, topic: "order/1", payload: small, qos: 0 }),
          encode({
            type: PacketType.Publish,
            topic: "order/2",
            payload: large,
            qos: 1,
            packetId: id,
          }),
          encode({
            type: PacketType.Publish,
            topic: "order/3",
            payload: te.encode("after"),
            qos: 0,
          }),
        ];
        for (const [i, bytes] of expected.entries()) {
          assertBytes(await h.conn.readPacket(), bytes, `packet ${i + 1}`);
        }
      },
    );
  },
});

Deno.test({
  name: "The Client API against Mosquitto with max_inflight_messages 2",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({
      verbose: true,
      config: ["max_inflight_messages 2"],
    });

    await t.step(
      "waitForQuota() paces 20 QoS 1/2 publications to Mosquitto's Receive Maximum of 2 while a concurrent poll() handles the acknowledgements: none refused, each delivered once [MQTT-3.3.4-7] [MQTT-4.9.0-2]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("wait-for-quota");
        const total = 20;
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 2 });
        const { client: pub, result } = await clients.connect();
        equal(result.limits.receiveMaximum, 2);
        const quota = (): number => pub.sendQuota;
        equal(quota(), 2);

        const signal = AbortSignal.timeout(10_000);
        const events: ClientEvent[] = [];
        const polling = (async () => {
          let done = 0;
          while (done < total) {
            const e = await pub.poll({ signal });
            events.push(e);
            if (e.type === "acknowledged" || e.type === "completed" || e.type === "rejected") {
              done++;
            }
          }
        })();
        let waited = 0;
        let most = 0;
        const ids: number[] = [];
        for (let i = 0; i < total; i++) {
          if (quota() === 0) waited++;
          await pub.waitForQuota({ signal });
          ok(quota() > 0, "quota admits a publication once waitForQuota() resolves");
          const published = pub.publish({ topic, qos: i % 2 === 0 ? 1 : 2 }, `m${i}`);
          ids.push(published.packetId!);
          most = Math.max(most, pub.session.state.outgoing.length);
          await published;
        }
        await polling;
        ok(waited > 0, "the quota was used up at least once");
        equal(most, 2, "never more than 2 in flight");
        deepStrictEqual(events.filter((e) => e.type === "rejected"), [], "Mosquitto refused none");
        deepStrictEqual(
          events.filter((e) => e.type === "acknowledged" || e.type === "completed")
            .map((e) => "packetId" in e && e.packetId).sort(),
          [...ids].sort(),
        );
        const got: string[] = [];
        for (let i = 0; i < total; i++) got.push(text((await waitFor(sub, "message")).payload));
        // Mosquitto forwards a QoS 2 message once it is released, so the order may differ.
        deepStrictEqual(
          got.sort(),
          Array.from({ length: total }, (_, i) => `m${i}`).sort(),
        );
      },
    );

    await t.step(
      "64 KiB and 1 MiB QoS 1 publications reach a subscriber byte for byte; Mosquitto logs the packetId and size publish() gave",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("large");
        const { client: sub } = await clients.connect();
        await subscribed(sub, { filter: topic, qos: 1 });
        const clientId = `large-${crypto.randomUUID().slice(0, 8)}`;
        const recording = await RecordingTcp.connect(broker);
        const { client: pub } = await clients.connect(
          { clientId },
          undefined,
          recording.transport,
        );
        for (const size of [64 * 1024, 1024 * 1024]) {
          const payload = randomBytes(size);
          const published = pub.publish({ topic, qos: 1 }, payload);
          const id = published.packetId;
          equal(await published, id);
          ok(recording.chunks.includes(payload), "the payload was written uncopied");
          const ack = await waitFor(pub, "acknowledged");
          deepStrictEqual([ack.packetId, ack.reasonCode], [id, 0]);
          const received = await message(sub, 10_000);
          equal(received.topic, topic);
          assertBytes(received.payload, payload, `the ${size}-byte payload delivered`);
          await waitForLog(
            broker,
            new RegExp(
              `Received PUBLISH from ${clientId} \\(d0, q1, r0, m${id}, '${topic}', \\.\\.\\. \\(${size} bytes\\)\\)`,
            ),
          );
        }
      },
    );
  },
});
