// The Client on an MQTT 3.1.1 connection (protocolVersion: 4) against a scripted fake server, for
// what needs the socket: the exact 3.1.1 bytes the server sees, a violation answered by closing
// the TCP connection with no DISCONNECT, a CONNACK return code thrown as ConnectionRefusedError,
// and connections the server drops. The peer only frames packets: every byte both ways is written
// out here, so no codec code checks itself.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  ConnectionClosedError,
  ConnectionRefusedError,
  type ConnectOptions,
  type ConnectResult,
  NotConnectedError,
  ProtocolVersionError,
  ProtocolViolationError,
  Session,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { nextEvent } from "../client/_client.ts";

/** The bytes of an ASCII text, one per character. */
function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** The 3.1.1 CONNECT of client "v4" with Clean Session as given and Keep Alive 0. */
function connectBytes(cleanSession: boolean): Uint8Array {
  return new Uint8Array([
    0x10, // CONNECT
    0x0e, // Remaining Length 14
    0x00,
    0x04,
    ...ascii("MQTT"), // Protocol Name
    0x04, // Protocol Level 4
    cleanSession ? 0x02 : 0x00, // Connect Flags: Clean Session
    0x00,
    0x00, // Keep Alive 0
    0x00,
    0x02,
    ...ascii("v4"), // Client Identifier
  ]);
}

/** A 3.1.1 CONNACK. */
function connack(returnCode = 0, sessionPresent = false): Uint8Array {
  return new Uint8Array([0x20, 0x02, sessionPresent ? 1 : 0, returnCode]);
}

/** A client connected over 3.1.1 to a fake server. */
class Harness implements AsyncDisposable {
  constructor(
    readonly peer: Peer,
    readonly client: Client,
    readonly conn: PeerConnection,
    readonly result: ConnectResult,
  ) {}

  /** Asserts that the next packet the client sent is exactly `bytes`. */
  async expect(bytes: number[], what: string): Promise<void> {
    deepStrictEqual(await this.conn.readPacket(), new Uint8Array(bytes), what);
  }

  /** Sends raw bytes to the client. */
  send(bytes: number[] | Uint8Array): Promise<void> {
    return this.conn.write(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.client.abort();
    await this.peer[Symbol.asyncDispose]();
  }
}

/** Connects a client with `protocolVersion: 4` (client id "v4", Keep Alive 0) to a new peer. */
async function open(
  options: ConnectOptions = {},
  clientOptions: ClientOptions = {},
  sessionPresent = false,
): Promise<Harness> {
  const peer = await startPeer();
  const client = new Client(clientOptions);
  const connecting = client.connect(
    await connectTcp({ hostname: peer.hostname, port: peer.port }),
    { clientId: "v4", keepAlive: 0, ...options, protocolVersion: 4 },
  );
  const conn = await peer.accept();
  deepStrictEqual(
    await conn.readPacket(),
    connectBytes(options.cleanStart ?? true),
    "the 3.1.1 CONNECT",
  );
  await conn.write(connack(0, sessionPresent));
  return new Harness(peer, client, conn, await connecting);
}

/**
 * Asserts that `action` rejects with ProtocolViolationError and that the client then closed the
 * TCP connection having sent nothing more: no DISCONNECT on 3.1.1 [v3.1.1 MQTT-4.8.0-1].
 */
async function assertClosedWithoutDisconnect(
  conn: PeerConnection,
  action: Promise<unknown>,
): Promise<ProtocolViolationError> {
  let error: unknown;
  await rejects(action, (e: unknown) => {
    error = e;
    return e instanceof ProtocolViolationError;
  });
  ok(error instanceof ProtocolViolationError);
  equal(error.recoverable, false);
  ok(error.message.includes("MQTT 3.1.1 has no DISCONNECT"), error.message);
  const rest = await conn.readUntilClosed();
  deepStrictEqual(rest, new Uint8Array(), "nothing after the violation: no DISCONNECT");
  return error;
}

Deno.test({
  // The peer speaks nothing but the 3.1.1 packets, byte for byte: a client that needed an
  // extension (a property, a broker's own packet or flag) to complete these exchanges fails here.
  name: "Client on 3.1.1: the server sees exactly the 3.1.1 bytes of every exchange " +
    "[v3.1.1 MQTT-3.1.0-1] [v3.1.1 MQTT-7.1.2-1] [v3.1.1 MQTT-7.0.0-2]",
  async fn() {
    await using h = await open();
    equal(h.result.sessionPresent, false);
    equal(h.result.limits.receiveMaximum, 20);
    equal(h.client.state, "connected");

    // Outgoing QoS 1: PUBLISH "t" id 1 "x", then PUBACK 1.
    const id = await h.client.publish({ topic: "t", qos: 1 }, "x");
    equal(id, 1);
    await h.expect([0x32, 0x06, 0x00, 0x01, 0x74, 0x00, 0x01, 0x78], "PUBLISH QoS 1");
    await h.send([0x40, 0x02, 0x00, 0x01]);
    deepStrictEqual(await nextEvent(h.client), {
      type: "acknowledged",
      packetId: 1,
      reasonCode: 0,
      properties: {},
    });

    // Outgoing QoS 2: PUBLISH id 2, PUBREC -> PUBREL, PUBCOMP.
    await h.client.publish({ topic: "t", qos: 2 }, "y");
    await h.expect([0x34, 0x06, 0x00, 0x01, 0x74, 0x00, 0x02, 0x79], "PUBLISH QoS 2");
    await h.send([0x50, 0x02, 0x00, 0x02]);
    equal((await nextEvent(h.client)).type, "received");
    await h.expect([0x62, 0x02, 0x00, 0x02], "PUBREL 2, flags 0010 [v3.1.1 MQTT-3.6.1-1]");
    await h.send([0x70, 0x02, 0x00, 0x02]);
    equal((await nextEvent(h.client)).type, "completed");

    // SUBSCRIBE "a/#" QoS 2 (id 3), SUBACK granting 2.
    equal(await h.client.subscribe({ filter: "a/#", qos: 2 }), 3);
    await h.expect([0x82, 0x08, 0x00, 0x03, 0x00, 0x03, 0x61, 0x2f, 0x23, 0x02], "SUBSCRIBE");
    await h.send([0x90, 0x03, 0x00, 0x03, 0x02]);
    const subscribed = await nextEvent(h.client);
    ok(subscribed.type === "subscribed");
    deepStrictEqual(subscribed.reasonCodes, [2]);

    // Incoming QoS 2: PUBLISH "a/b" id 9 -> PUBREC, PUBREL -> PUBCOMP.
    await h.send([0x34, 0x08, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x09, 0x7a]);
    const message = await nextEvent(h.client);
    ok(message.type === "message");
    deepStrictEqual([message.topic, message.qos, message.packetId], ["a/b", 2, 9]);
    deepStrictEqual(message.payload, new Uint8Array([0x7a]));
    await h.expect([0x50, 0x02, 0x00, 0x09], "PUBREC 9");
    await h.send([0x62, 0x02, 0x00, 0x09]);
    equal((await nextEvent(h.client)).type, "released");
    await h.expect([0x70, 0x02, 0x00, 0x09], "PUBCOMP 9");

    // UNSUBSCRIBE (id 4); UNSUBACK carries no reason codes.
    equal(await h.client.unsubscribe("a/#"), 4);
    await h.expect([0xa2, 0x07, 0x00, 0x04, 0x00, 0x03, 0x61, 0x2f, 0x23], "UNSUBSCRIBE");
    await h.send([0xb0, 0x02, 0x00, 0x04]);
    const unsubscribed = await nextEvent(h.client);
    ok(unsubscribed.type === "unsubscribed");
    deepStrictEqual(unsubscribed.reasonCodes, [0]);

    // PINGREQ, PINGRESP.
    await h.client.ping();
    await h.expect([0xc0, 0x00], "PINGREQ");
    await h.send([0xd0, 0x00]);
    equal((await nextEvent(h.client)).type, "pong");
  },
});

Deno.test({
  name: "Client.disconnect() on 3.1.1 sends a bare DISCONNECT and closes the connection " +
    "[v3.1.1 MQTT-3.14.4-1] [v3.1.1 MQTT-3.14.4-2]",
  async fn() {
    await using h = await open();
    await h.client.disconnect();
    equal(h.client.state, "closed");
    deepStrictEqual(
      await h.conn.readUntilClosed(),
      new Uint8Array([0xe0, 0x00]),
      "DISCONNECT, then the end of the stream",
    );
    await rejects(h.client.publish({ topic: "t" }, "x"), NotConnectedError);
  },
});

Deno.test({
  name: "Client on 3.1.1 answers a violation by closing the TCP connection without DISCONNECT " +
    "[v3.1.1 MQTT-4.8.0-1]",
  async fn(t) {
    const rows: [name: string, bytes: number[], statement?: string][] = [
      [
        "a malformed packet: PUBLISH at QoS 3 [v3.1.1 MQTT-3.3.1-4]",
        [0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01],
        "v3.1.1 MQTT-3.3.1-4",
      ],
      ["packet type 15 (AUTH is MQTT 5.0 only)", [0xf0, 0x00]],
      ["DISCONNECT from the server", [0xe0, 0x00]],
      ["a second CONNACK", [0x20, 0x02, 0x00, 0x00]],
      ["PUBACK for a Packet Identifier not in flight", [0x40, 0x02, 0x00, 0x07]],
      [
        "invalid fixed-header flags: PUBREL with 0000 [v3.1.1 MQTT-2.2.2-2]",
        [0x60, 0x02, 0x00, 0x01],
        "v3.1.1 MQTT-3.6.1-1",
      ],
    ];
    for (const [name, bytes, statement] of rows) {
      await t.step(name, async () => {
        await using h = await open();
        await h.send(bytes);
        const error = await assertClosedWithoutDisconnect(h.conn, h.client.poll());
        if (statement !== undefined) equal(error.statement, statement);
        equal(h.client.state, "closed");
        await rejects(h.client.poll(), NotConnectedError);
      });
    }

    await t.step(
      "Session Present 1 on Clean Session 1, in connect() [v3.1.1 MQTT-3.2.2-1]",
      async () => {
        await using peer = await startPeer();
        const client = new Client();
        const connecting = client.connect(
          await connectTcp({ hostname: peer.hostname, port: peer.port }),
          { clientId: "v4", keepAlive: 0, protocolVersion: 4 },
        );
        const conn = await peer.accept();
        deepStrictEqual(await conn.readPacket(), connectBytes(true));
        await conn.write(connack(0, true));
        const error = await assertClosedWithoutDisconnect(conn, connecting);
        equal(error.statement, "v3.1.1 MQTT-3.2.2-1");
        equal(client.state, "closed");
      },
    );

    await t.step("a PUBLISH before CONNACK [v3.1.1 MQTT-3.2.0-1]", async () => {
      await using peer = await startPeer();
      const client = new Client();
      const connecting = client.connect(
        await connectTcp({ hostname: peer.hostname, port: peer.port }),
        { clientId: "v4", keepAlive: 0, protocolVersion: 4 },
      );
      const conn = await peer.accept();
      await conn.readPacket();
      await conn.write(new Uint8Array([0x30, 0x03, 0x00, 0x01, 0x74]));
      await assertClosedWithoutDisconnect(conn, connecting);
    });

    await t.step(
      "what came before the violation is answered first: PUBACK, then the close",
      async () => {
        await using h = await open();
        await h.send([
          ...[0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x05], // PUBLISH QoS 1 "t" id 5
          ...[0xf0, 0x00], // type 15
        ]);
        equal((await nextEvent(h.client)).type, "message");
        await h.expect([0x40, 0x02, 0x00, 0x05], "PUBACK 5");
        await assertClosedWithoutDisconnect(h.conn, h.client.poll());
      },
    );
  },
});

Deno.test({
  name: "Client.connect() on 3.1.1 throws ConnectionRefusedError for return codes 1 to 5 and " +
    "closes the connection without sending anything more [v3.1.1 MQTT-3.2.2-5]",
  async fn(t) {
    const rows: [returnCode: number, reasonCode: number][] = [
      [1, 0x84],
      [2, 0x85],
      [3, 0x88],
      [4, 0x86],
      [5, 0x87],
    ];
    for (const [returnCode, reasonCode] of rows) {
      await t.step(
        `return code ${returnCode}: reason code 0x${reasonCode.toString(16)}`,
        async () => {
          await using peer = await startPeer();
          const client = new Client();
          const connecting = client.connect(
            await connectTcp({ hostname: peer.hostname, port: peer.port }),
            { clientId: "v4", keepAlive: 0, protocolVersion: 4 },
          );
          const conn = await peer.accept();
          deepStrictEqual(await conn.readPacket(), connectBytes(true));
          await conn.write(connack(returnCode));
          await rejects(connecting, (e: unknown) => {
            ok(e instanceof ConnectionRefusedError, String(e));
            equal(e.returnCode, returnCode);
            equal(e.reasonCode, reasonCode);
            equal(e.recoverable, false);
            return true;
          });
          deepStrictEqual(await conn.readUntilClosed(), new Uint8Array(), "closed, nothing sent");
          equal(client.state, "closed");
        },
      );
    }
  },
});

Deno.test({
  name: "Client.connect() on 3.1.1 fails with ConnectionClosedError when the server closes " +
    "without CONNACK [v3.1.1 MQTT-3.1.4-1]",
  async fn() {
    await using peer = await startPeer();
    const client = new Client();
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "v4", keepAlive: 0, protocolVersion: 4 },
    );
    const conn = await peer.accept();
    await conn.readPacket();
    conn.close();
    await rejects(connecting, ConnectionClosedError);
    equal(client.state, "closed");
  },
});

Deno.test({
  name: "Client.poll() on 3.1.1 fails with ConnectionClosedError when the server drops the " +
    "connection (as on a takeover), resumable exactly with Clean Session 0 " +
    "[v3.1.1 MQTT-3.1.4-2] [v3.1.1 MQTT-3.1.2-4] [v3.1.1 MQTT-3.1.2-6]",
  async fn(t) {
    for (const cleanStart of [true, false]) {
      await t.step(`Clean Session ${cleanStart ? 1 : 0}`, async () => {
        await using h = await open({ cleanStart });
        h.conn.close();
        await rejects(h.client.poll(), (e: unknown) => {
          ok(e instanceof ConnectionClosedError, String(e));
          equal(e.sessionResumable, !cleanStart);
          return true;
        });
        equal(h.client.state, "closed");
      });
    }
  },
});

Deno.test({
  name: "Client on 3.1.1 resends a flight with DUP and its Packet Identifier after reconnecting " +
    "with Clean Session 0 [v3.1.1 MQTT-4.4.0-1] [v3.1.1 MQTT-3.3.1-1] [v3.1.1 MQTT-2.3.1-3]",
  async fn() {
    const session = new Session();
    {
      await using h = await open({ cleanStart: false }, { session });
      await h.client.publish({ topic: "t", qos: 1 }, "x");
      await h.expect([0x32, 0x06, 0x00, 0x01, 0x74, 0x00, 0x01, 0x78], "PUBLISH, DUP 0");
      h.conn.close();
      await rejects(h.client.poll(), ConnectionClosedError);
    }
    // A new connection (to a new peer): the same Client Identifier, the kept session.
    await using h = await open({ cleanStart: false }, { session }, true);
    equal(h.result.sessionPresent, true);
    deepStrictEqual(await h.client.resend(), [1]);
    await h.expect([0x3a, 0x06, 0x00, 0x01, 0x74, 0x00, 0x01, 0x78], "PUBLISH again, DUP 1");
    await h.send([0x40, 0x02, 0x00, 0x01]);
    equal((await nextEvent(h.client)).type, "acknowledged");
    ok(session.isEmpty);
  },
});

Deno.test({
  name: "Client on 3.1.1 refuses MQTT 5.0-only options with ProtocolVersionError, writing nothing",
  async fn(t) {
    await t.step("connect(): the transport is left unwritten", async () => {
      await using peer = await startPeer();
      const client = new Client();
      const transport = await connectTcp({ hostname: peer.hostname, port: peer.port });
      const conn = await peer.accept();
      await rejects(
        client.connect(transport, {
          clientId: "v4",
          protocolVersion: 4,
          sessionExpiryInterval: 60,
        }),
        (e: unknown) => e instanceof ProtocolVersionError && e.option === "sessionExpiryInterval",
      );
      equal(client.state, "disconnected");
      transport.close();
      deepStrictEqual(await conn.readUntilClosed(), new Uint8Array(), "not a byte written");
    });

    await t.step("publish(), subscribe(), acknowledge(), disconnect(), auth()", async () => {
      await using h = await open({}, { manualAck: true });
      await h.send([0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01]); // PUBLISH QoS 1 "t" id 1
      equal((await nextEvent(h.client)).type, "message");
      const calls: [string, () => Promise<unknown>][] = [
        [
          "properties.topicAlias",
          () => h.client.publish({ topic: "t", properties: { topicAlias: 1 } }),
        ],
        ["noLocal", () => h.client.subscribe({ filter: "t", noLocal: true })],
        ["userProperties", () => h.client.unsubscribe("t", { userProperties: [["k", "v"]] })],
        ["reasonCode", () => h.client.acknowledge(1, { reasonCode: 0x80 })],
        ["reasonCode", () => h.client.disconnect({ reasonCode: 0x04 })],
        ["auth() (enhanced authentication)", () => h.client.auth()],
      ];
      for (const [option, call] of calls) {
        await rejects(
          call(),
          (e: unknown) => e instanceof ProtocolVersionError && e.option === option,
          option,
        );
      }
      equal(h.client.state, "connected");
      // Nothing was written: the next bytes the server sees are the plain PUBACK and PINGREQ.
      await h.client.acknowledge(1);
      await h.client.ping();
      await h.expect([0x40, 0x02, 0x00, 0x01], "PUBACK 1");
      await h.expect([0xc0, 0x00], "PINGREQ");
    });
  },
});
