// The client against a scripted fake server, for what no real broker does on request: protocol
// violations, odd CONNACKs, AUTH exchanges, duplicates and acknowledgement order. Every test
// checks the bytes the client sent, decoded with the codec.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  type Connack,
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
import { connectTcp } from "../../src/transport/mod.ts";
import { type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { nextEvent, text } from "./_client.ts";

const te = new TextEncoder();

/** A client connected to a fake server that answered CONNECT with `connack`. */
class Harness implements AsyncDisposable {
  constructor(
    readonly peer: Peer,
    readonly client: Client,
    readonly conn: PeerConnection,
    readonly connect: Packet,
    readonly result: ConnectResult,
  ) {}

  /** The next packet the client sent, decoded. */
  async sent(): Promise<Packet> {
    return decode(await this.conn.readPacket());
  }

  /** Sends a packet to the client. */
  send(packet: Packet | Uint8Array): Promise<void> {
    return this.conn.write(packet instanceof Uint8Array ? packet : encode(packet));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.client.abort();
    await this.peer[Symbol.asyncDispose]();
  }
}

async function open(
  options: ConnectOptions = {},
  clientOptions: ClientOptions = {},
  connack: Partial<Connack> = {},
  peer?: Peer,
): Promise<Harness> {
  peer ??= await startPeer();
  const client = new Client(clientOptions);
  const connecting = client.connect(
    await connectTcp({ hostname: peer.hostname, port: peer.port }),
    { clientId: "peer-test", ...options },
  );
  const conn = await peer.accept();
  const connect = decode(await conn.readPacket());
  equal(connect.type, PacketType.Connect);
  await conn.write(
    encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0, ...connack }),
  );
  return new Harness(peer, client, conn, connect, await connecting);
}

/**
 * Asserts that `action` throws ProtocolViolationError with `reasonCode`, that the client sent
 * DISCONNECT with that code, and that it closed the connection afterwards.
 */
async function assertViolation(
  conn: PeerConnection,
  action: Promise<unknown>,
  reasonCode: number,
  statement?: string,
): Promise<void> {
  await rejects(action, (e: unknown) => {
    ok(e instanceof ProtocolViolationError, String(e));
    equal(e.reasonCode, reasonCode);
    equal(e.recoverable, false);
    if (statement !== undefined) equal(e.statement, statement);
    return true;
  });
  deepStrictEqual(decode(await conn.readPacket()), { type: PacketType.Disconnect, reasonCode });
  equal((await conn.readUntilClosed()).length, 0, "nothing after DISCONNECT");
}

function publish(
  topic: string,
  payload: string,
  qos: 0 | 1 | 2,
  packetId?: number,
  extra: Partial<Packet & { type: 3 }> = {},
): Packet {
  return {
    type: PacketType.Publish,
    topic,
    payload: te.encode(payload),
    qos,
    ...(packetId !== undefined ? { packetId } : {}),
    ...extra,
  } as Packet;
}

Deno.test({
  name:
    "Client.poll() answers a malformed packet with DISCONNECT 0x81 and throws ProtocolViolationError",
  async fn() {
    await using h = await open();
    // PUBLISH with both QoS bits set (QoS 3): topic "a", packet id 1, no properties.
    await h.send(new Uint8Array([0x36, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00]));
    await assertViolation(h.conn, h.client.poll(), 0x81);
    equal(h.client.state, "closed");
    await rejects(h.client.poll(), NotConnectedError);
  },
});

Deno.test({
  name: "Client.poll() answers a second CONNACK with DISCONNECT 0x82 [MQTT-3.2.0-2]",
  async fn() {
    await using h = await open();
    await h.send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
    await assertViolation(h.conn, h.client.poll(), 0x82, "MQTT-3.2.0-2");
  },
});

Deno.test({
  name: "Client.connect() answers a packet before CONNACK with DISCONNECT 0x82 [MQTT-3.2.0-1]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "early" },
    );
    const conn = await peer.accept();
    equal(decode(await conn.readPacket()).type, PacketType.Connect);
    await conn.write(encode(publish("t", "too early", 0)));
    await assertViolation(conn, connecting, 0x82, "MQTT-3.2.0-1");
    equal(client.state, "closed");
  },
});

Deno.test({
  name:
    "Client.connect() refuses Session Present 1 on a clean start with DISCONNECT 0x82 [MQTT-3.2.2-4]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "clean", cleanStart: true },
    );
    const conn = await peer.accept();
    const connect = decode(await conn.readPacket());
    ok(connect.type === PacketType.Connect && connect.cleanStart === true);
    await conn.write(encode({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0 }));
    // A server accepting a clean start must say Session Present 0 [MQTT-3.2.2-2]: the client
    // holds it to that.
    await assertViolation(conn, connecting, 0x82, "MQTT-3.2.2-4");
  },
});

Deno.test({
  name:
    "Client.poll() answers a Topic Alias above its maximum, or one never set, with DISCONNECT 0x94 [MQTT-3.3.2-11]",
  async fn() {
    {
      await using h = await open({ topicAliasMaximum: 3 });
      ok(h.connect.type === PacketType.Connect);
      equal(h.connect.properties?.topicAliasMaximum, 3);
      // Alias 2 set with its topic, then used alone: the topic is resolved.
      await h.send(publish("alias/two", "a", 0, undefined, { properties: { topicAlias: 2 } }));
      await h.send(publish("", "b", 0, undefined, { properties: { topicAlias: 2 } }));
      const first = await nextEvent(h.client);
      const second = await nextEvent(h.client);
      ok(first.type === "message" && second.type === "message");
      deepStrictEqual([first.topic, second.topic], ["alias/two", "alias/two"]);
      equal(text(second.payload), "b");
      await h.send(publish("alias/four", "c", 0, undefined, { properties: { topicAlias: 4 } }));
      await assertViolation(h.conn, h.client.poll(), 0x94, "MQTT-3.3.2-11");
    }
    {
      await using h = await open({ topicAliasMaximum: 3 });
      await h.send(publish("", "x", 0, undefined, { properties: { topicAlias: 1 } }));
      await assertViolation(h.conn, h.client.poll(), 0x94);
    }
  },
});

Deno.test({
  name:
    "Client.poll() answers more QoS 1/2 publications than its Receive Maximum with DISCONNECT 0x93 [MQTT-3.3.4-9]",
  async fn() {
    {
      // Automatic mode: QoS 2 publications count until their PUBREL.
      await using h = await open({ receiveMaximum: 2 });
      ok(h.connect.type === PacketType.Connect);
      equal(h.connect.properties?.receiveMaximum, 2);
      for (const id of [1, 2]) {
        await h.send(publish("t", `m${id}`, 2, id));
        equal((await nextEvent(h.client)).type, "message");
        deepStrictEqual(await h.sent(), { type: PacketType.Pubrec, packetId: id, reasonCode: 0 });
      }
      await h.send(publish("t", "m3", 2, 3));
      await assertViolation(h.conn, h.client.poll(), 0x93, "MQTT-3.3.4-9");
    }
    {
      // Manual mode: unacknowledged QoS 1 publications count, and a QoS 2 one released but not
      // yet completed counts once.
      await using h = await open({ receiveMaximum: 2 }, { manualAck: true });
      await h.send(publish("t", "q2", 2, 10));
      const m = await nextEvent(h.client);
      ok(m.type === "message");
      await h.client.acknowledge(10);
      deepStrictEqual(await h.sent(), { type: PacketType.Pubrec, packetId: 10, reasonCode: 0 });
      await h.send({ type: PacketType.Pubrel, packetId: 10 });
      equal((await nextEvent(h.client)).type, "released");
      await h.send(publish("t", "q1", 1, 11));
      equal((await nextEvent(h.client)).type, "message", "two in flight: accepted");
      await h.send(publish("t", "q1b", 1, 12));
      await assertViolation(h.conn, h.client.poll(), 0x93, "MQTT-3.3.4-9");
    }
  },
});

Deno.test({
  name:
    "Client.poll() answers a packet over its Maximum Packet Size with DISCONNECT 0x95 [MQTT-3.1.2-24]",
  async fn() {
    await using h = await open({ maximumPacketSize: 100 });
    ok(h.connect.type === PacketType.Connect);
    equal(h.connect.properties?.maximumPacketSize, 100);
    const fits = encode(publish("t", "x".repeat(100 - 6), 0));
    equal(fits.length, 100);
    await h.send(fits);
    equal((await nextEvent(h.client)).type, "message");
    await h.send(publish("t", "x".repeat(100 - 5), 0));
    await assertViolation(h.conn, h.client.poll(), 0x95, "MQTT-3.1.2-24");
  },
});

Deno.test({
  name:
    "Client.poll() refuses a Reason String on PUBACK after Request Problem Information 0 with DISCONNECT 0x82 [MQTT-3.1.2-29]",
  async fn() {
    await using h = await open({ requestProblemInformation: false });
    ok(h.connect.type === PacketType.Connect);
    equal(h.connect.properties?.requestProblemInformation, 0);
    // On PUBLISH a Reason String is not at issue, and User Properties are allowed.
    await h.send(publish("t", "m", 0, undefined, { properties: { userProperties: [["k", "v"]] } }));
    equal((await nextEvent(h.client)).type, "message");
    const id = await h.client.publish({ topic: "t", qos: 1 }, "x");
    const sent = await h.sent();
    ok(sent.type === PacketType.Publish && sent.packetId === id);
    await h.send({
      type: PacketType.Puback,
      packetId: id!,
      reasonCode: 0,
      properties: { reasonString: "fine" },
    });
    await assertViolation(h.conn, h.client.poll(), 0x82, "MQTT-3.1.2-29");
    equal(h.client.session.flight(id!)?.state, "awaiting-puback", "the flight stays for recovery");
  },
});

Deno.test({
  name:
    "Client.poll() refuses a Session Expiry Interval in the server's DISCONNECT with DISCONNECT 0x82 [MQTT-3.14.2-2]",
  async fn() {
    await using h = await open({ sessionExpiryInterval: 60 });
    // DISCONNECT 0x00 with property 0x11 (Session Expiry Interval) = 10, written by hand.
    await h.send(new Uint8Array([0xe0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0a]));
    await assertViolation(h.conn, h.client.poll(), 0x82, "MQTT-3.14.2-2");
  },
});

Deno.test({
  name:
    "a QoS 2 PUBLISH repeated before PUBREL is answered with PUBREC and reported as duplicate, not delivered twice [MQTT-4.3.3-10] [MQTT-4.3.3-11]",
  async fn() {
    await using h = await open();
    await h.send(publish("q2", "once", 2, 7));
    const m = await nextEvent(h.client);
    ok(m.type === "message");
    equal(text(m.payload), "once");
    deepStrictEqual(await h.sent(), { type: PacketType.Pubrec, packetId: 7, reasonCode: 0 });

    await h.send(publish("q2", "once", 2, 7, { dup: true }));
    deepStrictEqual(await nextEvent(h.client), { type: "duplicate", packetId: 7, topic: "q2" });
    deepStrictEqual(await h.sent(), { type: PacketType.Pubrec, packetId: 7, reasonCode: 0 });

    await h.send({ type: PacketType.Pubrel, packetId: 7 });
    deepStrictEqual(await nextEvent(h.client), {
      type: "released",
      packetId: 7,
      reasonCode: 0,
      known: true,
    });
    deepStrictEqual(await h.sent(), { type: PacketType.Pubcomp, packetId: 7, reasonCode: 0 });
    equal(h.client.session.state.incoming.length, 0);

    // After PUBCOMP the id is free: a PUBLISH with it is a new message.
    await h.send(publish("q2", "again", 2, 7));
    const again = await nextEvent(h.client);
    ok(again.type === "message");
    equal(text(again.payload), "again");
    // A PUBREL for an id the client does not know is still completed, with 0x92.
    await h.send({ type: PacketType.Pubrel, packetId: 99 });
    deepStrictEqual(await h.sent(), { type: PacketType.Pubrec, packetId: 7, reasonCode: 0 });
    deepStrictEqual(await nextEvent(h.client), {
      type: "released",
      packetId: 99,
      reasonCode: 0,
      known: false,
    });
    deepStrictEqual(await h.sent(), { type: PacketType.Pubcomp, packetId: 99, reasonCode: 0x92 });
  },
});

Deno.test({
  name:
    "in manual mode PUBACKs go out in arrival order even when acknowledged out of order [MQTT-4.6.0-2]",
  async fn() {
    await using h = await open({}, { manualAck: true });
    for (const id of [1, 2, 3]) await h.send(publish("t", `m${id}`, 1, id));
    for (const id of [1, 2, 3]) {
      const m = await nextEvent(h.client);
      ok(m.type === "message" && m.packetId === id);
    }
    await h.client.acknowledge(3);
    await h.client.acknowledge(1);
    await h.client.acknowledge(2, { reasonCode: 0x80 });
    // Nothing was sent for 3 until 1 and 2 were given: the first PUBACK on the wire is 1's.
    deepStrictEqual(await h.sent(), { type: PacketType.Puback, packetId: 1, reasonCode: 0 });
    deepStrictEqual(await h.sent(), { type: PacketType.Puback, packetId: 2, reasonCode: 0x80 });
    deepStrictEqual(await h.sent(), { type: PacketType.Puback, packetId: 3, reasonCode: 0 });
    await rejects(h.client.acknowledge(3), /No incoming publication 3/);
  },
});

Deno.test({
  name:
    "Client.connect() takes the CONNACK's Server Keep Alive instead of the one it asked for [MQTT-3.2.2-21]",
  async fn() {
    const before = Date.now();
    await using h = await open({ keepAlive: 60 }, {}, { properties: { serverKeepAlive: 5 } });
    ok(h.connect.type === PacketType.Connect);
    equal(h.connect.keepAlive, 60);
    equal(h.result.keepAlive, 5);
    const ka = h.client.keepAlive;
    equal(ka.interval, 5);
    ok(
      ka.pingDueAt !== undefined && ka.pingDueAt >= before + 5000 &&
        ka.pingDueAt <= Date.now() + 5000,
    );
    // No PINGREQ outstanding: the server counts as gone one interval after the next one is due.
    equal(ka.deadline, ka.pingDueAt + 5000);
  },
});

Deno.test({
  name:
    "Client.connect() with Session Present 0 on a resume drops the session's flights and reports them in discarded [MQTT-3.2.2-5]",
  async fn() {
    await using peer = await startPeer();
    const session = new Session();
    let id: number | undefined;
    {
      const h = await open({ sessionExpiryInterval: 60 }, { session }, {}, peer);
      id = await h.client.publish({ topic: "lost", qos: 1 }, "gone");
      ok((await h.sent()).type === PacketType.Publish);
      h.client.abort();
      h.conn.close();
    }
    equal(session.flight(id!)?.state, "awaiting-puback");
    const h = await open(
      { sessionExpiryInterval: 60, cleanStart: false },
      { session },
      { sessionPresent: false },
      peer,
    );
    ok(h.connect.type === PacketType.Connect && h.connect.cleanStart === false);
    equal(h.result.sessionPresent, false);
    equal(h.result.discarded.length, 1);
    equal(h.result.discarded[0]!.packetId, id);
    equal(text(h.result.discarded[0]!.publication!.payload), "gone");
    ok(session.isEmpty);
    equal(session.flight(id!), undefined);
    await rejects(h.client.republish(id!), /not in flight/);
    h.client.abort();
  },
});

Deno.test({
  name: "Client.connect() throws ConnectionRefusedError with the CONNACK's reason code and closes",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "refused", username: "u", password: "wrong" },
    );
    const conn = await peer.accept();
    const connect = decode(await conn.readPacket());
    ok(connect.type === PacketType.Connect);
    equal(connect.username, "u");
    deepStrictEqual(connect.password, te.encode("wrong"));
    await conn.write(encode({
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x86,
      properties: { reasonString: "bad password" },
    }));
    await rejects(connecting, (e: unknown) => {
      ok(e instanceof ConnectionRefusedError);
      equal(e.reasonCode, 0x86);
      equal(e.reasonString, "bad password");
      return true;
    });
    equal((await conn.readUntilClosed()).length, 0, "the client sent nothing more and closed");
    equal(client.state, "closed");
  },
});

Deno.test({
  name:
    "a server DISCONNECT 0x8E comes as a disconnected event; the client closes and keeps its session",
  async fn() {
    await using h = await open({ sessionExpiryInterval: 60 });
    const id = await h.client.publish({ topic: "t", qos: 1 }, "x");
    equal((await h.sent()).type, PacketType.Publish);
    await h.send({
      type: PacketType.Disconnect,
      reasonCode: 0x8e,
      properties: { reasonString: "taken over" },
    });
    deepStrictEqual(await nextEvent(h.client), {
      type: "disconnected",
      reasonCode: 0x8e,
      reasonString: "taken over",
      serverReference: undefined,
      properties: { reasonString: "taken over" },
    });
    // The client's side of a session taken over: closed, no reply, session kept [MQTT-3.1.4-3].
    equal(h.client.state, "closed");
    equal((await h.conn.readUntilClosed()).length, 0, "no DISCONNECT in reply");
    equal(h.client.session.flight(id!)?.state, "awaiting-puback");
    await rejects(h.client.poll(), NotConnectedError);
  },
});

Deno.test({
  name:
    "Client.connect() answers the server's AUTH with AUTH 0x18 and the same method [MQTT-4.12.0-3] [MQTT-4.12.0-5]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const seen: unknown[] = [];
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      {
        clientId: "auth",
        authenticationMethod: "TEST-CHALLENGE",
        authenticationData: te.encode("hello"),
        onAuth(auth) {
          seen.push(auth);
          return { authenticationData: te.encode("answer") };
        },
      },
    );
    const conn = await peer.accept();
    const connect = decode(await conn.readPacket());
    ok(connect.type === PacketType.Connect);
    equal(connect.properties?.authenticationMethod, "TEST-CHALLENGE");
    deepStrictEqual(connect.properties?.authenticationData, te.encode("hello"));

    await conn.write(encode({
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: "TEST-CHALLENGE", authenticationData: te.encode("q?") },
    }));
    deepStrictEqual(decode(await conn.readPacket()), {
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "TEST-CHALLENGE",
        authenticationData: te.encode("answer"),
      },
    });
    deepStrictEqual(seen, [{
      type: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: "TEST-CHALLENGE", authenticationData: te.encode("q?") },
    }]);
    await conn.write(encode({
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0,
      properties: { authenticationMethod: "TEST-CHALLENGE", authenticationData: te.encode("ok") },
    }));
    const result = await connecting;
    deepStrictEqual(result.authenticationData, te.encode("ok"));
    equal(client.state, "connected");
    client.abort();
  },
});

Deno.test({
  name:
    "Client.connect() answers an AUTH naming another method with DISCONNECT 0x82 [MQTT-4.12.0-5]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    let asked = 0;
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      {
        clientId: "auth",
        authenticationMethod: "TEST-CHALLENGE",
        onAuth() {
          asked++;
          return {};
        },
      },
    );
    const conn = await peer.accept();
    equal(decode(await conn.readPacket()).type, PacketType.Connect);
    await conn.write(encode({
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: "OTHER" },
    }));
    await assertViolation(conn, connecting, 0x82, "MQTT-4.12.0-5");
    equal(asked, 0);
  },
});

Deno.test({
  name:
    "Client.connect() answers a CONNACK naming an Authentication Method the client did not ask for with DISCONNECT 0x82 [MQTT-4.12.0-6]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "no-auth" },
    );
    const conn = await peer.accept();
    const connect = decode(await conn.readPacket());
    ok(connect.type === PacketType.Connect);
    equal(connect.properties?.authenticationMethod, undefined, "the CONNECT names no method");
    // A successful CONNACK in every other respect.
    await conn.write(encode({
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0,
      properties: { authenticationMethod: "TEST-CHALLENGE" },
    }));
    await assertViolation(conn, connecting, 0x82, "MQTT-4.12.0-6");
    equal(client.state, "closed");
  },
});

Deno.test({
  name: "a PUBCOMP 0x92 (Packet Identifier not found) completes the QoS 2 flight",
  async fn() {
    await using h = await open();
    const id = await h.client.publish({ topic: "t", qos: 2 }, "x");
    equal((await h.sent()).type, PacketType.Publish);
    await h.send({ type: PacketType.Pubrec, packetId: id! });
    equal((await nextEvent(h.client)).type, "received");
    deepStrictEqual(await h.sent(), { type: PacketType.Pubrel, packetId: id, reasonCode: 0 });
    await h.send({ type: PacketType.Pubcomp, packetId: id!, reasonCode: 0x92 });
    deepStrictEqual(await nextEvent(h.client), {
      type: "completed",
      packetId: id,
      reasonCode: 0x92,
      properties: {},
    });
    equal(h.client.session.flight(id!), undefined);
  },
});
