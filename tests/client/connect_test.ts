// Client.connect() against a scripted peer, checked on the bytes the client wrote: what comes first
// on a connection and how it is laid out, what the client refuses to send before CONNACK,
// authentication, refused and failed connections, the Assigned Client Identifier, Clean Start, and
// what goes out last.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  type ConnectOptions,
  type ConnectResult,
  decode,
  encode,
  NotConnectedError,
  type Packet,
  PacketType,
  ProtocolViolationError,
  Session,
} from "../../mod.ts";
import { connectTcp, type Transport } from "../../src/transport/mod.ts";
import { type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { specReasonCodes } from "../codec/_vectors.ts";
import { readConnect, utf8 } from "../_util/wire.ts";
import { nextEvent } from "./_client.ts";

const te = new TextEncoder();

/** A connect() under way to the peer: its connection there and the CONNECT bytes it read. */
interface Connecting {
  client: Client;
  conn: PeerConnection;
  /** The client's first packet, as written. */
  first: Uint8Array;
  result: Promise<ConnectResult>;
}

/** Starts `client.connect()` to the peer and reads the client's first packet. */
function begin(
  peer: Peer,
  options: ConnectOptions = {},
  client: Client = new Client(),
): Promise<Connecting> {
  return beginExactly(peer, { clientId: "connect-test", ...options }, client);
}

/** {@linkcode begin} with `options` as they are (no default Client Identifier). */
async function beginExactly(
  peer: Peer,
  options: ConnectOptions,
  client: Client,
): Promise<Connecting> {
  const result = client.connect(
    await connectTcp({ hostname: peer.hostname, port: peer.port }),
    // A client that waits for a CONNACK that never comes fails the test instead of hanging it.
    { signal: AbortSignal.timeout(5000), ...options },
  );
  // A rejection is the test's to check; keep it from being reported as unhandled meanwhile.
  result.catch(() => {});
  const conn = await peer.accept();
  return { client, conn, first: await conn.readPacket(), result };
}

function connack(properties: Record<string, unknown> = {}, sessionPresent = false): Uint8Array {
  return encode({ type: PacketType.Connack, sessionPresent, reasonCode: 0, properties });
}

/** Lets the client's end-of-turn writes happen, so that bytes it queued would have arrived. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 30));
}

/** Expects ProtocolViolationError with `reasonCode`, then DISCONNECT with it, then the close. */
async function assertViolation(
  conn: PeerConnection,
  action: Promise<unknown>,
  reasonCode: number,
): Promise<void> {
  await rejects(action, (e: unknown) => {
    ok(e instanceof ProtocolViolationError, String(e));
    equal(e.reasonCode, reasonCode);
    return true;
  });
  deepStrictEqual(decode(await conn.readPacket()), { type: PacketType.Disconnect, reasonCode });
  equal((await conn.readUntilClosed()).length, 0, "nothing after DISCONNECT");
}

Deno.test({
  name:
    "Client.connect() sends CONNECT first, its payload fields in the order of 3.1.3 [MQTT-3.1.0-1] [MQTT-3.1.3-1]",
  async fn(t) {
    await using peer = await startPeer();
    await t.step(
      "no user name, password or will: the Client Identifier alone [MQTT-3.1.2-16] [MQTT-3.1.2-18]",
      async () => {
        const c = await begin(peer, { clientId: "客户端-é" });
        // The first packet on the new connection is CONNECT [MQTT-3.1.0-1].
        equal(c.first[0], 0x10);
        const wire = readConnect(c.first);
        // The Client Identifier is the first field and a UTF-8 Encoded String [MQTT-3.1.3-3]
        // [MQTT-3.1.3-4]; no User Name field [MQTT-3.1.2-16], no Password field
        // [MQTT-3.1.2-18]: readConnect throws on any byte after the last announced field.
        deepStrictEqual(wire.payload.map((f) => f.name), ["clientId"]);
        equal(wire.flags & 0xc0, 0);
        equal(wire.payload[0]!.length, te.encode("客户端-é").length);
        equal(utf8(wire.payload[0]!.bytes), "客户端-é");
        await c.conn.write(connack());
        await c.result;
        c.client.abort();
      },
    );
    await t.step(
      "every field: client id, will, user name, password, in that order [MQTT-3.1.3-11] [MQTT-3.1.3-12]",
      async () => {
        const c = await begin(peer, {
          clientId: "",
          username: "用户",
          password: new Uint8Array([0, 0xff]),
          will: { topic: "遗嘱/t", payload: "bye", qos: 1, properties: { willDelayInterval: 2 } },
        });
        equal(c.first[0], 0x10);
        const wire = readConnect(c.first);
        deepStrictEqual(wire.payload.map((f) => f.name), [
          "clientId",
          "willProperties",
          "willTopic",
          "willPayload",
          "username",
          "password",
        ]);
        // Mandatory even when empty, and first [MQTT-3.1.3-3].
        equal(wire.payload[0]!.length, 0);
        // The Will Topic and the User Name are UTF-8 Encoded Strings [MQTT-3.1.3-11]
        // [MQTT-3.1.3-12].
        equal(utf8(wire.payload[2]!.bytes), "遗嘱/t");
        equal(wire.payload[2]!.length, te.encode("遗嘱/t").length);
        equal(utf8(wire.payload[4]!.bytes), "用户");
        equal(wire.payload[4]!.length, te.encode("用户").length);
        deepStrictEqual(wire.payload[5]!.bytes, new Uint8Array([0, 0xff]));
        await c.conn.write(connack({ assignedClientIdentifier: "srv-1" }));
        await c.result;
        c.client.abort();
      },
    );
  },
});

Deno.test({
  name:
    "Client.connect() is refused while connecting or connected: one CONNECT per connection [MQTT-3.1.0-2]",
  async fn() {
    await using peer = await startPeer();
    const c = await begin(peer);
    let written = 0;
    const spare: Transport = {
      readable: new ReadableStream(),
      writable: new WritableStream({ write: () => void written++ }),
      close() {},
    };
    await rejects(c.client.connect(spare, { clientId: "again" }), ClientStateError);
    await c.conn.write(connack());
    await c.result;
    await rejects(c.client.connect(spare, { clientId: "again" }), ClientStateError);
    equal(written, 0, "nothing went to the other transport");
    // The next packet on the connection is the PINGREQ: no second CONNECT came before it.
    await c.client.ping();
    deepStrictEqual(Array.from(await c.conn.readPacket()), [0xc0, 0x00]);
    equal(c.client.state, "connected");
    c.client.abort();
  },
});

Deno.test({
  name:
    "Client sends nothing after CONNECT until the CONNACK: publish, subscribe, unsubscribe and ping are refused while connecting [MQTT-3.1.4-6]",
  async fn() {
    await using peer = await startPeer();
    const c = await begin(peer);
    equal(c.client.state, "connecting");
    await rejects(c.client.publish({ topic: "t", qos: 1 }, "early"), NotConnectedError);
    await rejects(c.client.publish({ topic: "t" }, "early"), NotConnectedError);
    await rejects(c.client.subscribe({ filter: "t" }), NotConnectedError);
    await rejects(c.client.unsubscribe("t"), NotConnectedError);
    await rejects(c.client.ping(), NotConnectedError);
    await settle();
    equal(c.conn.received, c.first.length, "only the CONNECT arrived");
    equal(c.client.session.state.outgoing.length, 0, "no flight was recorded");
    await c.conn.write(connack());
    await c.result;
    await c.client.ping();
    deepStrictEqual(Array.from(await c.conn.readPacket()), [0xc0, 0x00]);
    c.client.abort();
  },
});

Deno.test({
  name:
    "Client.connect() with an Authentication Method sends only AUTH until the CONNACK, even from onAuth [MQTT-3.1.2-30]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const refusals: unknown[] = [];
    const c = await begin(peer, {
      authenticationMethod: "TEST-CHALLENGE",
      async onAuth() {
        // The application tries to send from the middle of the exchange.
        await client.publish({ topic: "t", qos: 1 }, "early").catch((e) => refusals.push(e));
        await client.subscribe({ filter: "t" }).catch((e) => refusals.push(e));
        await client.ping().catch((e) => refusals.push(e));
        return { authenticationData: te.encode("answer") };
      },
    }, client);
    equal(readConnect(c.first).payload[0]!.name, "clientId");
    await rejects(client.publish({ topic: "t" }, "early"), NotConnectedError);
    await c.conn.write(encode({
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: "TEST-CHALLENGE" },
    }));
    const auth = await c.conn.readPacket();
    equal(auth[0], 0xf0, "the packet after CONNECT is AUTH");
    await settle();
    // Nothing else arrived: CONNECT and AUTH are every byte the peer has [MQTT-3.1.2-30].
    equal(c.conn.received, c.first.length + auth.length);
    equal(refusals.length, 3);
    ok(refusals.every((e) => e instanceof NotConnectedError), String(refusals));
    await c.conn.write(connack({ authenticationMethod: "TEST-CHALLENGE" }));
    await c.result;
    await client.publish({ topic: "t" }, "now");
    equal((await c.conn.readPacket())[0], 0x30, "after CONNACK the PUBLISH goes out");
    client.abort();
  },
});

Deno.test({
  name:
    "Client without an Authentication Method never sends AUTH: the server's AUTH is answered with DISCONNECT 0x82 [MQTT-4.12.0-7]",
  async fn(t) {
    await using peer = await startPeer();
    let asked = 0;
    const onAuth = () => {
      asked++;
      return { authenticationData: te.encode("x") };
    };
    await t.step("an AUTH before CONNACK", async () => {
      const c = await begin(peer, { onAuth });
      // No Authentication Method in the CONNECT's properties: the client uses none.
      const connect = decode(c.first);
      ok(connect.type === PacketType.Connect);
      equal(connect.properties?.authenticationMethod, undefined);
      await c.conn.write(encode({
        type: PacketType.Auth,
        reasonCode: 0x18,
        properties: { authenticationMethod: "TEST-CHALLENGE" },
      }));
      // DISCONNECT, not AUTH, and nothing after it.
      await assertViolation(c.conn, c.result, 0x82);
      equal(asked, 0);
    });
    await t.step("an AUTH after CONNACK", async () => {
      const c = await begin(peer, { onAuth });
      await c.conn.write(connack());
      await c.result;
      await c.conn.write(encode({
        type: PacketType.Auth,
        reasonCode: 0x19,
        properties: { authenticationMethod: "TEST-CHALLENGE" },
      }));
      await assertViolation(c.conn, c.client.poll(), 0x82);
      equal(asked, 0);
    });
  },
});

Deno.test({
  name:
    "Client.connect() answers an AUTH before CONNACK whose reason is not 0x18 (Continue authentication) with DISCONNECT 0x82 [MQTT-4.12.0-2]",
  async fn(t) {
    await using peer = await startPeer();
    for (const reasonCode of [0x00, 0x19]) {
      await t.step(`AUTH 0x${reasonCode.toString(16).padStart(2, "0")}`, async () => {
        let asked = 0;
        const c = await begin(peer, {
          authenticationMethod: "TEST-CHALLENGE",
          onAuth() {
            asked++;
            return {};
          },
        });
        await c.conn.write(encode({
          type: PacketType.Auth,
          reasonCode,
          properties: { authenticationMethod: "TEST-CHALLENGE" },
        }));
        await assertViolation(c.conn, c.result, 0x82);
        equal(asked, 0, "onAuth is not asked for an AUTH that continues nothing");
      });
    }
  },
});

Deno.test({
  name:
    "Client.connect() throws ConnectionRefusedError on a CONNACK of 0x80 or more, sends nothing more and closes [MQTT-3.2.2-7] [MQTT-4.13.2-1]",
  async fn(t) {
    await using peer = await startPeer();
    // Every failing Connect Reason Code of the specification's table (3.2.2.2).
    const codes = specReasonCodes[PacketType.Connack]!.filter((code) => code >= 0x80);
    /** Checks the refusal: the error, nothing more on the wire, the connection closed. */
    async function refused(c: Connecting, reasonCode: number): Promise<void> {
      await rejects(c.result, (e: unknown) => {
        ok(e instanceof ConnectionRefusedError, String(e));
        equal(e.reasonCode, reasonCode);
        equal(e.recoverable, false);
        return true;
      });
      equal(c.client.state, "closed");
      // The client closed the connection [MQTT-4.13.2-1] after sending nothing more
      // [MQTT-3.2.2-7].
      equal((await c.conn.readUntilClosed()).length, 0);
      await rejects(c.client.publish({ topic: "t" }, "x"), NotConnectedError);
    }
    await t.step("every failing CONNACK reason code", async () => {
      for (const reasonCode of codes) {
        const c = await begin(peer);
        await c.conn.write(
          encode({ type: PacketType.Connack, sessionPresent: false, reasonCode }),
        );
        await refused(c, reasonCode);
      }
    });
    await t.step("a refusal at the end of an AUTH exchange", async () => {
      for (const reasonCode of [0x87, 0x8c]) {
        const c = await begin(peer, {
          authenticationMethod: "TEST-CHALLENGE",
          onAuth: () => ({ authenticationData: te.encode("wrong") }),
        });
        await c.conn.write(encode({
          type: PacketType.Auth,
          reasonCode: 0x18,
          properties: { authenticationMethod: "TEST-CHALLENGE" },
        }));
        equal((await c.conn.readPacket())[0], 0xf0);
        await c.conn.write(encode({ type: PacketType.Connack, sessionPresent: false, reasonCode }));
        await refused(c, reasonCode);
      }
    });
  },
});

Deno.test({
  name:
    "Client.connect() throws ConnectionClosedError when the server closes before the CONNACK, and closes too [MQTT-3.1.4-1]",
  async fn(t) {
    await using peer = await startPeer();
    await t.step("closed right after the CONNECT", async () => {
      const c = await begin(peer);
      c.conn.close();
      await rejects(c.result, ConnectionClosedError);
      equal(c.client.state, "closed");
    });
    await t.step("closed in the middle of the CONNACK", async () => {
      const c = await begin(peer);
      await c.conn.write(connack().subarray(0, 2));
      c.conn.close();
      await rejects(c.result, ConnectionClosedError);
      equal(c.client.state, "closed");
      await rejects(c.client.ping(), NotConnectedError);
    });
  },
});

Deno.test({
  name:
    "Client.connect() answers a DISCONNECT before the CONNACK with DISCONNECT 0x82 [MQTT-3.14.0-1]",
  async fn() {
    await using peer = await startPeer();
    const c = await begin(peer);
    await c.conn.write(encode({ type: PacketType.Disconnect, reasonCode: 0x87 }));
    await assertViolation(c.conn, c.result, 0x82);
    equal(c.client.state, "closed");
  },
});

Deno.test({
  name:
    "Client.connect() takes the CONNACK's Assigned Client Identifier, and the next connect uses it [MQTT-3.1.3-7]",
  async fn() {
    await using peer = await startPeer();
    const session = new Session();
    const first = await begin(peer, { clientId: "" }, new Client({ session }));
    equal(utf8(readConnect(first.first).payload[0]!.bytes), "");
    await first.conn.write(connack({ assignedClientIdentifier: "auto-7f3a" }));
    const result = await first.result;
    equal(result.clientId, "auto-7f3a");
    equal(result.assignedClientIdentifier, "auto-7f3a");
    equal(session.state.clientId, "auto-7f3a");
    first.client.abort();
    // A new client with the session, and no clientId given: the assigned one goes out.
    const again = await beginExactly(
      peer,
      { cleanStart: false, sessionExpiryInterval: 60 },
      new Client({ session }),
    );
    equal(utf8(readConnect(again.first).payload[0]!.bytes), "auto-7f3a");
    await again.conn.write(connack());
    equal((await again.result).clientId, "auto-7f3a");
    again.client.abort();
  },
});

Deno.test({
  name:
    "Client.connect() with Clean Start 1 clears the client's session: flights, incoming ids and subscriptions [MQTT-3.1.2-4]",
  async fn() {
    await using peer = await startPeer();
    const session = new Session({
      clientId: "clean",
      nextPacketId: 5,
      outgoing: [
        {
          packetId: 3,
          state: "awaiting-puback",
          publication: { topic: "old", payload: te.encode("x"), qos: 1, retain: false },
        },
        { packetId: 4, state: "awaiting-pubcomp" },
      ],
      incoming: [9],
      subscriptions: [{
        filter: "old/#",
        qos: 1,
        grantedQoS: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      }],
    });
    const c = await begin(peer, { clientId: "clean", cleanStart: true }, new Client({ session }));
    // Clean Start is bit 1 of the Connect Flags.
    equal(readConnect(c.first).flags & 0x02, 0x02);
    // Gone already, before the server answers.
    ok(session.isEmpty);
    await c.conn.write(connack());
    const result = await c.result;
    equal(result.sessionPresent, false);
    ok(session.isEmpty);
    equal(session.flight(3), undefined);
    await rejects(c.client.republish(3), /not in flight/);
    await rejects(c.client.rerelease(4), /not in flight/);
    // Incoming id 9 is forgotten: a QoS 2 PUBLISH with it is a new message, not a duplicate.
    await c.conn.write(encode({
      type: PacketType.Publish,
      topic: "new",
      payload: te.encode("fresh"),
      qos: 2,
      packetId: 9,
    }));
    const event = await nextEvent(c.client);
    equal(event.type, "message");
    deepStrictEqual(decode(await c.conn.readPacket()), {
      type: PacketType.Pubrec,
      packetId: 9,
      reasonCode: 0,
    });
    c.client.abort();
  },
});

Deno.test({
  name:
    "Client.disconnect() sends DISCONNECT last, then nothing, and closes the connection [MQTT-3.14.4-1] [MQTT-3.14.4-2]",
  async fn() {
    await using peer = await startPeer();
    const c = await begin(peer, { sessionExpiryInterval: 60 });
    await c.conn.write(connack());
    await c.result;
    // Queued in the same turn as the DISCONNECT: it goes out before it.
    const published = c.client.publish({ topic: "t" }, "last words");
    await c.client.disconnect();
    await published;
    const packets: Packet[] = [];
    packets.push(decode(await c.conn.readPacket()), decode(await c.conn.readPacket()));
    equal(packets[0]!.type, PacketType.Publish);
    deepStrictEqual(packets[1], { type: PacketType.Disconnect, reasonCode: 0 });
    // Nothing after the DISCONNECT [MQTT-3.14.4-1], and the connection is closed
    // [MQTT-3.14.4-2]: readUntilClosed() returns once the client closed its side.
    equal((await c.conn.readUntilClosed()).length, 0);
    equal(c.client.state, "closed");
    await rejects(c.client.publish({ topic: "t" }, "too late"), NotConnectedError);
    await rejects(c.client.ping(), NotConnectedError);
    await rejects(c.client.disconnect(), NotConnectedError);
  },
});
