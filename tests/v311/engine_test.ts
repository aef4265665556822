// The protocol engine on an MQTT 3.1.1 connection (protocolVersion: 4): CONNECT, CONNACK and its
// return codes, violations (closed without DISCONNECT), Clean Session and sessionResumable, the
// first and last packets of a connection, and every MQTT 5.0-only option refused before anything
// is queued. Every test runs with no permissions at all, which proves the engine does no I/O.

import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { EncodeError, type Packet, PacketType } from "../../src/codec/mod.ts";
import {
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  type ConnectOptions,
  Engine,
  NotConnectedError,
  ProtocolVersionError,
  Session,
} from "../../src/session/mod.ts";
import {
  ack4,
  connack4,
  connected4,
  connecting4,
  drain,
  feed4,
  like,
  none,
  publish4,
  refused,
  type Row4,
  runRows4,
  sent4,
  sessionWith,
  T0,
  thrown,
  violation4,
} from "./_engine.ts";

/** The bytes of an ASCII text, one per character. */
function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

Deno.test(
  "Engine.connect() with protocolVersion 4 writes a 3.1.1 CONNECT field by field",
  none,
  async (t) => {
    await t.step(
      "Clean Session 0, a will, User Name and Password, in payload order " +
        "[v3.1.1 MQTT-3.1.2-9] [v3.1.1 MQTT-3.1.2-19] [v3.1.1 MQTT-3.1.2-21] [v3.1.1 MQTT-3.1.3-1]",
      () => {
        const engine = new Engine();
        engine.connect({
          protocolVersion: 4,
          clientId: "c1",
          cleanStart: false,
          keepAlive: 30,
          will: { topic: "w", payload: "b", qos: 1, retain: true },
          username: "u",
          password: "p",
        }, 0);
        equal(engine.state, "connecting");
        equal(engine.protocolVersion, 4);
        deepStrictEqual(
          engine.takeOutput(),
          new Uint8Array([
            0x10, // CONNECT (type 1), flags 0000 (2.2.2)
            0x1a, // Remaining Length 26 (2.2.3)
            0x00,
            0x04, // Protocol Name length 4 (3.1.2.1)
            ...ascii("MQTT"), // Protocol Name
            0x04, // Protocol Level 4: MQTT 3.1.1 (3.1.2.2)
            0xec, // Connect Flags 1110 1100: User Name, Password, Will Retain, Will QoS 01, Will
            //       Flag; Clean Session 0; reserved 0 (3.1.2.3)
            0x00,
            0x1e, // Keep Alive 30 s (3.1.2.10); no properties follow in 3.1.1
            0x00,
            0x02, // Client Identifier length 2 (3.1.3.1)
            ...ascii("c1"), // Client Identifier
            0x00,
            0x01, // Will Topic length 1 (3.1.3.2)
            ...ascii("w"), // Will Topic
            0x00,
            0x01, // Will Message length 1 (3.1.3.3)
            ...ascii("b"), // Will Message
            0x00,
            0x01, // User Name length 1 (3.1.3.4)
            ...ascii("u"), // User Name
            0x00,
            0x01, // Password length 1 (3.1.3.5)
            ...ascii("p"), // Password
          ]),
        );
      },
    );

    await t.step(
      "the defaults: Clean Session 1, Keep Alive 60, no will, no User Name or Password " +
        "[v3.1.1 MQTT-3.1.2-11] [v3.1.1 MQTT-3.1.2-18] [v3.1.1 MQTT-3.1.2-20]",
      () => {
        const engine = new Engine();
        engine.connect({ protocolVersion: 4, clientId: "c1" }, 0);
        deepStrictEqual(
          engine.takeOutput(),
          new Uint8Array([
            0x10, // CONNECT
            0x0e, // Remaining Length 14
            0x00,
            0x04,
            ...ascii("MQTT"), // Protocol Name
            0x04, // Protocol Level 4
            0x02, // Connect Flags 0000 0010: Clean Session 1; no will, User Name or Password
            0x00,
            0x3c, // Keep Alive 60 s
            0x00,
            0x02,
            ...ascii("c1"), // Client Identifier
          ]),
        );
      },
    );
  },
);

Deno.test("Engine.connect() puts each 3.1.1 option in the CONNECT", none, async (t) => {
  const rows: { name: string; options: ConnectOptions; session?: Session; expected: object }[] = [
    {
      name: "Keep Alive 0 turns keep alive off (3.1.2.10)",
      options: { keepAlive: 0 },
      expected: { keepAlive: 0, cleanStart: true },
    },
    {
      name: "a will at QoS 2, not retained, with a binary payload (3.1.2.6, 3.1.2.7)",
      options: { will: { topic: "w/1", payload: new Uint8Array([0, 0xff]), qos: 2 } },
      expected: {
        will: { topic: "w/1", payload: new Uint8Array([0, 0xff]), qos: 2, retain: false },
      },
    },
    {
      name: "a User Name without a Password [v3.1.1 MQTT-3.1.2-19] [v3.1.1 MQTT-3.1.2-20]",
      options: { username: "u" },
      expected: { username: "u", password: undefined },
    },
    {
      name: "a binary Password (3.1.3.5)",
      options: { username: "u", password: new Uint8Array([1, 2, 3]) },
      expected: { username: "u", password: new Uint8Array([1, 2, 3]) },
    },
    {
      name: "an empty Client Identifier with Clean Session 1 (3.1.3.1)",
      options: { clientId: "" },
      expected: { clientId: "", cleanStart: true },
    },
    {
      name: "no Client Identifier given: the session's, which names the session " +
        "[v3.1.1 MQTT-3.1.3-2]",
      options: { cleanStart: false },
      session: new Session({ clientId: "kept" }),
      expected: { clientId: "kept", cleanStart: false },
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const engine = new Engine(row.session ? { session: row.session } : {});
      engine.connect({
        ...(row.session ? {} : { clientId: "c1" }),
        ...row.options,
        protocolVersion: 4,
      }, 0);
      like(sent4(engine), [{
        type: PacketType.Connect,
        protocolVersion: 4,
        properties: undefined,
        ...row.expected,
      }]);
    });
  }
});

Deno.test(
  "Engine.connect() refuses an invalid 3.1.1 CONNECT with nothing queued and stays disconnected",
  none,
  async (t) => {
    await t.step(
      "an empty Client Identifier with Clean Session 0 [v3.1.1 MQTT-3.1.3-7]",
      () => {
        const engine = new Engine();
        const error = refused(
          engine,
          () => engine.connect({ protocolVersion: 4, clientId: "", cleanStart: false }, 0),
          EncodeError,
        );
        equal(error.statement, "v3.1.1 MQTT-3.1.3-7");
        equal(engine.state, "disconnected");
      },
    );
    await t.step("maximumInflight outside 1..65535: RangeError", () => {
      for (const maximumInflight of [0, 65_536, 1.5]) {
        const engine = new Engine();
        refused(
          engine,
          () => engine.connect({ protocolVersion: 4, clientId: "c1", maximumInflight }, 0),
          RangeError,
        );
      }
    });
    await t.step("maximumInflight on a 5.0 connection: TypeError", () => {
      const engine = new Engine();
      refused(engine, () => engine.connect({ clientId: "c1", maximumInflight: 5 }, 0), TypeError);
    });
  },
);

Deno.test("Engine handles a 3.1.1 CONNACK", none, async (t) => {
  await runRows4(t, [
    {
      name: "return code 0: connected, with the client's own limits and Keep Alive " +
        "[v3.1.1 MQTT-3.1.4-4]",
      setup: () => connecting4({ keepAlive: 30 }),
      input: connack4(0),
      events: [{
        type: "connected",
        sessionPresent: false,
        clientId: "c1",
        keepAlive: 30,
        sessionExpiryInterval: 0,
        limits: {
          receiveMaximum: 20,
          maximumQoS: 2,
          retainAvailable: true,
          maximumPacketSize: undefined,
          topicAliasMaximum: 0,
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifierAvailable: false,
          sharedSubscriptionAvailable: true,
        },
        connack: { type: PacketType.Connack, sessionPresent: false, reasonCode: 0 },
      }],
      then: (e) => {
        equal(e.state, "connected");
        equal(e.protocolVersion, 4);
        equal(e.sendQuota, 20, "maximumInflight defaults to 20");
      },
    },
    {
      name: "maximumInflight is the send quota",
      setup: () => connecting4({ maximumInflight: 3 }),
      input: connack4(0),
      events: [{ type: "connected" }],
      then: (e) => {
        equal(e.limits.receiveMaximum, 3);
        equal(e.sendQuota, 3);
      },
    },
    {
      name: "Session Present 1 on Clean Session 0 keeps the session [v3.1.1 MQTT-3.2.2-2]",
      setup: () => connecting4({ cleanStart: false }, { session: sessionWith([1]) }),
      input: connack4(0, true),
      events: [{ type: "connected", sessionPresent: true, discarded: [] }],
      then: (e) => deepStrictEqual(e.heldBack, [1]),
    },
    {
      name: "Session Present 0 on Clean Session 0: the server has no session, so the client's " +
        "flights are discarded and reported [v3.1.1 MQTT-3.2.2-3]",
      setup: () => connecting4({ cleanStart: false }, { session: sessionWith([1]) }),
      input: connack4(0, false),
      events: [{
        type: "connected",
        sessionPresent: false,
        discarded: [{
          packetId: 1,
          state: "awaiting-puback",
          publication: { topic: "t", payload: new Uint8Array([1]), qos: 1, retain: false },
        }],
      }],
      then: (e) => {
        ok(e.session.isEmpty);
        deepStrictEqual(e.resend(), []);
      },
    },
    {
      name: "Session Present 1 on Clean Session 1: a violation, closed without DISCONNECT " +
        "[v3.1.1 MQTT-3.2.2-1] [v3.1.1 MQTT-4.8.0-1]",
      setup: () => connecting4({ cleanStart: true }),
      input: connack4(0, true),
      violation: 0x82,
      statement: "v3.1.1 MQTT-3.2.2-1",
    },
  ]);
});

Deno.test(
  "Engine refuses the connection on a 3.1.1 CONNACK return code from 1 to 5, with the 5.0 " +
    "reason code of the same meaning and nothing queued [v3.1.1 MQTT-3.2.2-5]",
  none,
  async (t) => {
    const rows: [returnCode: number, reasonCode: number, name: string][] = [
      [1, 0x84, "unacceptable protocol version [v3.1.1 MQTT-3.1.2-2]"],
      [2, 0x85, "identifier rejected [v3.1.1 MQTT-3.1.3-9]"],
      [3, 0x88, "server unavailable"],
      [4, 0x86, "bad user name or password"],
      [5, 0x87, "not authorized"],
    ];
    for (const [returnCode, reasonCode, name] of rows) {
      await t.step(`${returnCode}: ${name} -> 0x${reasonCode.toString(16)}`, () => {
        const engine = connecting4();
        const error = thrown(() => engine.receive(connack4(returnCode), T0));
        ok(error instanceof ConnectionRefusedError, String(error));
        equal(error.returnCode, returnCode);
        equal(error.reasonCode, reasonCode);
        equal(error.recoverable, false);
        ok(error.message.includes(`MQTT 3.1.1 return code ${returnCode}`), error.message);
        equal(engine.state, "closed");
        equal(engine.closeError, error);
        equal(engine.takeOutput(), undefined, "no DISCONNECT after a refusal");
        equal(engine.nextEvent(), undefined, "no connected event");
        // The server closes after a refusal: nothing it sent after it is handled.
        engine.receive(bytesAfter(), T0);
        equal(engine.nextEvent(), undefined);
        equal(engine.takeOutput(), undefined);
        throws(() => engine.publish({ topic: "t" }), NotConnectedError);
      });
    }
  },
);

/** A QoS 1 PUBLISH: what a server might (wrongly) send after ending the connection. */
function bytesAfter(): Uint8Array {
  return new Uint8Array([0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01]);
}

Deno.test(
  "Engine answers a violation on a 3.1.1 connection by closing, with no DISCONNECT queued " +
    "[v3.1.1 MQTT-4.8.0-1]",
  none,
  async (t) => {
    const before: [string, Packet][] = [
      ["PUBLISH", publish4("t", 0)],
      ["PINGRESP", { type: PacketType.Pingresp }],
      ["SUBACK", { type: PacketType.Suback, packetId: 1, reasonCodes: [0] }],
      ["UNSUBACK", ack4(PacketType.Unsuback, 1)],
    ];
    const rows: Row4[] = [
      {
        name: "a malformed packet: PUBLISH at QoS 3 [v3.1.1 MQTT-3.3.1-4]",
        // PUBLISH, QoS bits 11; topic "t", Packet Identifier 1.
        input: new Uint8Array([0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01]),
        violation: 0x81,
        statement: "v3.1.1 MQTT-3.3.1-4",
      },
      {
        name: "invalid fixed-header flags: PUBREL with flags 0000 [v3.1.1 MQTT-2.2.2-2]",
        input: new Uint8Array([0x60, 0x02, 0x00, 0x01]),
        violation: 0x81,
        statement: "v3.1.1 MQTT-3.6.1-1",
      },
      {
        name: "ill-formed UTF-8 in a Topic Name [v3.1.1 MQTT-1.5.3-1]",
        // PUBLISH QoS 0, topic 0xC3 0x28 (a broken two-byte sequence).
        input: new Uint8Array([0x30, 0x04, 0x00, 0x02, 0xc3, 0x28]),
        violation: 0x81,
      },
      {
        name: "packet type 15 (AUTH is MQTT 5.0 only)",
        input: new Uint8Array([0xf0, 0x00]),
        violation: 0x81,
      },
      {
        name: "DISCONNECT from the server (only a client sends it in 3.1.1)",
        input: new Uint8Array([0xe0, 0x00]),
        violation: 0x82,
      },
      {
        name: "PINGREQ from the server (only a client sends it)",
        input: new Uint8Array([0xc0, 0x00]),
        violation: 0x82,
      },
      {
        name: "SUBSCRIBE from the server (only a client sends it)",
        input: { type: PacketType.Subscribe, packetId: 1, subscriptions: [{ filter: "a" }] },
        violation: 0x82,
      },
      {
        name: "a second CONNACK",
        input: connack4(0),
        violation: 0x82,
      },
      {
        name: "a reused Packet Identifier: a QoS 1 PUBLISH again before its PUBACK (manual " +
          "acknowledgement) [v3.1.1 MQTT-2.3.1-4]",
        setup: () => connected4({}, { manualAck: true }),
        input: [publish4("t", 1, 7), publish4("t", 1, 7)],
        violation: 0x82,
        events: [{ type: "message", packetId: 7 }],
      },
      {
        name: "PUBACK for a Packet Identifier not in flight",
        input: ack4(PacketType.Puback, 9),
        violation: 0x82,
      },
      {
        name: "PUBCOMP for a Packet Identifier not awaiting it",
        input: ack4(PacketType.Pubcomp, 9),
        violation: 0x82,
      },
      {
        name: "SUBACK for a Packet Identifier no SUBSCRIBE has [v3.1.1 MQTT-3.8.4-2]",
        input: { type: PacketType.Suback, packetId: 9, reasonCodes: [0] },
        violation: 0x82,
      },
      {
        name: "a SUBACK without one return code per filter [v3.1.1 MQTT-3.8.4-5]",
        setup: () => {
          const e = connected4();
          e.subscribe([{ filter: "a" }, { filter: "b" }]);
          e.takeOutput();
          return e;
        },
        input: { type: PacketType.Suback, packetId: 1, reasonCodes: [0] },
        violation: 0x82,
      },
      {
        name: "UNSUBACK for a Packet Identifier no UNSUBSCRIBE has [v3.1.1 MQTT-3.10.4-4]",
        input: ack4(PacketType.Unsuback, 9),
        violation: 0x82,
      },
      {
        name: "what came before the violation is handled: PUBACK queued, message delivered",
        input: new Uint8Array([
          ...[0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01], // PUBLISH QoS 1 "t", id 1
          ...[0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x02], // PUBLISH QoS 3: malformed
        ]),
        violation: 0x81,
        out: [{ type: PacketType.Puback, packetId: 1 }],
        events: [{ type: "message", topic: "t", qos: 1, packetId: 1 }],
      },
      {
        name: "CONNACK return code 6 (reserved) [v3.1.1 MQTT-3.2.2-6]",
        setup: () => connecting4(),
        input: connack4(6),
        violation: 0x81,
        statement: "v3.1.1 MQTT-3.2.2-6",
      },
      {
        name: "CONNACK with Session Present and a non-zero return code [v3.1.1 MQTT-3.2.2-4]",
        setup: () => connecting4({ cleanStart: false }),
        input: connack4(5, true),
        violation: 0x81,
        statement: "v3.1.1 MQTT-3.2.2-4",
      },
      ...before.map(([name, packet]): Row4 => ({
        name: `${name} before CONNACK [v3.1.1 MQTT-3.2.0-1]`,
        setup: () => connecting4(),
        input: packet,
        violation: 0x82,
      })),
    ];
    await runRows4(
      t,
      rows.map((row) => ({
        ...row,
        then: (engine) => {
          // Closed: what the server sends next is dropped, and nothing more is sent.
          engine.receive(bytesAfter(), T0);
          equal(engine.nextEvent(), undefined);
          equal(engine.takeOutput(), undefined);
          throws(() => engine.publish({ topic: "t", qos: 1 }), NotConnectedError);
          equal(engine.takeOutput(), undefined);
        },
      })),
    );
  },
);

Deno.test(
  "Engine.fail() on a 3.1.1 connection closes without queuing DISCONNECT [v3.1.1 MQTT-4.8.0-1]",
  none,
  () => {
    const engine = connected4();
    const error = engine.fail("the application gave up", 0x83);
    equal(error.reasonCode, 0x83);
    ok(error.message.includes("MQTT 3.1.1 has no DISCONNECT"), error.message);
    equal(engine.state, "closed");
    equal(engine.takeOutput(), undefined);
  },
);

Deno.test(
  "Engine on 3.1.1: Clean Session 1 starts the client's session afresh, Clean Session 0 keeps " +
    "it [v3.1.1 MQTT-3.1.2-4] [v3.1.1 MQTT-3.1.2-6] [v3.1.1 MQTT-4.1.0-1]",
  none,
  () => {
    const clean = new Engine({ session: sessionWith([1, 2]) });
    clean.connect({ protocolVersion: 4, clientId: "c1" }, 0);
    ok(clean.session.isEmpty);
    const kept = new Engine({ session: sessionWith([1, 2]) });
    kept.connect({ protocolVersion: 4, clientId: "c1", cleanStart: false }, 0);
    equal(kept.session.state.outgoing.length, 2);
    // Across connections: a flight of one connection is still in the session on the next.
    const engine = connected4({ cleanStart: false });
    engine.publish({ topic: "t", qos: 1 }, "x");
    engine.connectionLost("reset");
    engine.connect({ protocolVersion: 4, clientId: "c1", cleanStart: false }, T0);
    engine.takeOutput();
    like(feed4(engine, connack4(0, true)), [{ type: "connected", discarded: [] }]);
    deepStrictEqual(engine.heldBack, [1]);
  },
);

Deno.test(
  "Engine on 3.1.1: sessionResumable is exactly !cleanSession, however the connection ends " +
    "[v3.1.1 MQTT-3.1.2-4] [v3.1.1 MQTT-3.1.2-6] [v3.1.1 MQTT-4.1.0-2]",
  none,
  async (t) => {
    const end: Record<string, (e: Engine) => { sessionResumable: boolean } | undefined> = {
      "a violation": (e) => violation4(e, connack4(0)).error,
      "a lost connection": (e) => e.connectionLost("reset"),
      "disconnect()": (e) => {
        e.disconnect();
        return e.closeError;
      },
      "the keep-alive deadline": (e) => {
        const error = thrown(() => e.handleTimeout(T0 + 3_600_000));
        ok(error instanceof ConnectionClosedError, String(error));
        return error;
      },
    };
    for (const cleanStart of [true, false]) {
      for (const [how, fn] of Object.entries(end)) {
        await t.step(`Clean Session ${cleanStart ? 1 : 0}, ended by ${how}: ${!cleanStart}`, () => {
          const engine = connected4({ cleanStart, keepAlive: 10 });
          equal(engine.sessionResumable, !cleanStart, "while connected");
          // The session lasts at least as long as the connection: a flight is kept meanwhile.
          engine.publish({ topic: "t", qos: 1 }, "x");
          engine.takeOutput();
          equal(engine.session.state.outgoing.length, 1);
          const error = fn(engine);
          ok(error !== undefined);
          equal(error.sessionResumable, !cleanStart);
          equal(engine.sessionResumable, !cleanStart);
          equal(engine.state, "closed");
          drain(engine);
        });
      }
      await t.step(`Clean Session ${cleanStart ? 1 : 0}, refused by CONNACK 3`, () => {
        const engine = connecting4({ cleanStart });
        const error = thrown(() => engine.receive(connack4(3), T0));
        ok(error instanceof ConnectionRefusedError);
        equal(error.sessionResumable, !cleanStart);
      });
    }
  },
);

Deno.test(
  "Engine on 3.1.1: the first packet of a connection is CONNECT, sent once " +
    "[v3.1.1 MQTT-3.1.0-1] [v3.1.1 MQTT-3.1.0-2] [v3.1.1 MQTT-3.1.4-5]",
  none,
  () => {
    const commands = (engine: Engine): [string, () => unknown][] => [
      ["publish", () => engine.publish({ topic: "t", qos: 1 }, "x")],
      ["subscribe", () => engine.subscribe({ filter: "t" })],
      ["unsubscribe", () => engine.unsubscribe("t")],
      ["ping", () => engine.ping(T0)],
      ["acknowledge", () => engine.acknowledge(1)],
      ["resend", () => engine.resend()],
      ["disconnect", () => engine.disconnect()],
    ];
    // Before connect(): nothing at all goes out.
    const engine = new Engine({ session: sessionWith([1, 2]) });
    for (const [name, call] of commands(engine)) throws(call, NotConnectedError, name);
    equal(engine.takeOutput(), undefined);
    // connect() queues CONNECT alone, even with flights in the session to resume.
    engine.connect({ protocolVersion: 4, clientId: "c1", cleanStart: false }, T0);
    deepStrictEqual(sent4(engine).map((p) => p.type), [PacketType.Connect]);
    // Until CONNACK nothing else is sent (a server ignores what follows a refused CONNECT).
    for (const [name, call] of commands(engine)) throws(call, NotConnectedError, name);
    throws(
      () => engine.connect({ protocolVersion: 4, clientId: "c1" }, T0),
      ClientStateError,
      "a second CONNECT",
    );
    equal(engine.takeOutput(), undefined);
    // A new connection after a lost one starts with CONNECT again.
    feed4(engine, connack4(0, true));
    engine.connectionLost("reset");
    engine.connect({ protocolVersion: 4, clientId: "c1", cleanStart: false }, T0);
    deepStrictEqual(sent4(engine).map((p) => p.type), [PacketType.Connect]);
  },
);

Deno.test(
  "Engine.disconnect() on 3.1.1 queues a bare DISCONNECT and then nothing else " +
    "[v3.1.1 MQTT-3.14.4-1] [v3.1.1 MQTT-3.14.4-2] [v3.1.1 MQTT-3.14.1-1]",
  none,
  () => {
    const engine = connected4({ keepAlive: 10 });
    engine.publish({ topic: "t", qos: 1 }, "x");
    engine.takeOutput();
    engine.disconnect();
    // DISCONNECT (type 14), flags 0000, Remaining Length 0: no reason code in 3.1.1.
    deepStrictEqual(engine.takeOutput(), new Uint8Array([0xe0, 0x00]));
    equal(engine.state, "closed");
    ok(engine.closeError instanceof ConnectionClosedError);
    const calls: [string, () => unknown][] = [
      ["publish", () => engine.publish({ topic: "t", qos: 1 }, "x")],
      ["subscribe", () => engine.subscribe({ filter: "t" })],
      ["unsubscribe", () => engine.unsubscribe("t")],
      ["ping", () => engine.ping(T0)],
      ["acknowledge", () => engine.acknowledge(1)],
      ["resend", () => engine.resend()],
      ["republish", () => engine.republish(1)],
      ["disconnect", () => engine.disconnect()],
    ];
    for (const [name, call] of calls) throws(call, NotConnectedError, name);
    equal(engine.timeout, undefined, "keep alive stops");
    engine.handleTimeout(T0 + 3_600_000);
    // The PUBACK the server sends late is not answered and makes no event.
    engine.receive(new Uint8Array([0x40, 0x02, 0x00, 0x01]), T0);
    equal(engine.nextEvent(), undefined);
    equal(engine.takeOutput(), undefined, "nothing was queued after the DISCONNECT");
  },
);

/** One MQTT 5.0-only option: the call that uses it and the name the error gives it. */
interface V5Only {
  /** The engine method called. */
  method: string;
  /** The option's name, as `ProtocolVersionError.option` gives it. */
  option: string;
  /** The call. */
  call: (engine: Engine) => unknown;
  /** The engine to call it on. @default {connected4()} */
  setup?: () => Engine;
}

const connectRows: [string, ConnectOptions][] = [
  ["sessionExpiryInterval", { sessionExpiryInterval: 60 }],
  ["receiveMaximum", { receiveMaximum: 10 }],
  ["maximumPacketSize", { maximumPacketSize: 1000 }],
  ["topicAliasMaximum", { topicAliasMaximum: 5 }],
  ["requestResponseInformation", { requestResponseInformation: true }],
  ["requestProblemInformation", { requestProblemInformation: false }],
  ["userProperties", { userProperties: [["k", "v"]] }],
  ["authenticationMethod", { authenticationMethod: "SCRAM-SHA-1" }],
  ["authenticationData", { authenticationData: new Uint8Array([1]) }],
  ["onAuth", { onAuth: () => ({}) }],
  ["will.properties.willDelayInterval", {
    will: { topic: "w", properties: { willDelayInterval: 5 } },
  }],
  ["will.properties.userProperties", {
    will: { topic: "w", properties: { userProperties: [["k", "v"]] } },
  }],
];

const publishRows: [string, object][] = [
  ["properties.topicAlias", { topicAlias: 1 }],
  ["properties.payloadFormatIndicator", { payloadFormatIndicator: 1 }],
  ["properties.messageExpiryInterval", { messageExpiryInterval: 60 }],
  ["properties.responseTopic", { responseTopic: "r" }],
  ["properties.correlationData", { correlationData: new Uint8Array([1]) }],
  ["properties.userProperties", { userProperties: [["k", "v"]] }],
  ["properties.contentType", { contentType: "text/plain" }],
  ["properties.subscriptionIdentifiers", { subscriptionIdentifiers: [1] }],
];

/** A connected engine in manual mode owing PUBACK for publication 1. */
function owingPuback(): Engine {
  const engine = connected4({}, { manualAck: true });
  feed4(engine, publish4("t", 1, 1));
  equal(engine.takeOutput(), undefined);
  return engine;
}

const v5Only: V5Only[] = [
  ...connectRows.map(([option, extra]): V5Only => ({
    method: "connect()",
    option,
    setup: () => new Engine(),
    call: (e) => e.connect({ clientId: "c1", ...extra, protocolVersion: 4 }, T0),
  })),
  ...publishRows.map(([option, properties]): V5Only => ({
    method: "publish()",
    option,
    call: (e) => e.publish({ topic: "t", qos: 1, properties }, "x"),
  })),
  {
    method: "subscribe()",
    option: "subscriptionIdentifier",
    call: (e) => e.subscribe({ filter: "a" }, { subscriptionIdentifier: 1 }),
  },
  {
    method: "subscribe()",
    option: "userProperties",
    call: (e) => e.subscribe({ filter: "a" }, { userProperties: [["k", "v"]] }),
  },
  {
    method: "subscribe()",
    option: "noLocal",
    call: (e) => e.subscribe({ filter: "a", noLocal: true }),
  },
  {
    method: "subscribe()",
    option: "retainAsPublished",
    call: (e) => e.subscribe([{ filter: "a" }, { filter: "b", retainAsPublished: true }]),
  },
  {
    method: "subscribe()",
    option: "retainHandling",
    call: (e) => e.subscribe({ filter: "a", retainHandling: 2 }),
  },
  {
    method: "unsubscribe()",
    option: "userProperties",
    call: (e) => e.unsubscribe("a", { userProperties: [["k", "v"]] }),
  },
  {
    method: "acknowledge()",
    option: "reasonCode",
    setup: owingPuback,
    call: (e) => e.acknowledge(1, { reasonCode: 0x80 }),
  },
  {
    method: "acknowledge()",
    option: "properties.reasonString",
    setup: owingPuback,
    call: (e) => e.acknowledge(1, { properties: { reasonString: "no" } }),
  },
  {
    method: "acknowledge()",
    option: "properties.userProperties",
    setup: owingPuback,
    call: (e) => e.acknowledge(1, { properties: { userProperties: [["k", "v"]] } }),
  },
  { method: "disconnect()", option: "reasonCode", call: (e) => e.disconnect({ reasonCode: 0x04 }) },
  {
    method: "disconnect()",
    option: "properties.sessionExpiryInterval",
    call: (e) => e.disconnect({ properties: { sessionExpiryInterval: 0 } }),
  },
  {
    method: "disconnect()",
    option: "properties.reasonString",
    call: (e) => e.disconnect({ properties: { reasonString: "bye" } }),
  },
  {
    method: "auth()",
    option: "auth() (enhanced authentication)",
    call: (e) => e.auth({ authenticationData: new Uint8Array([1]) }),
  },
];

Deno.test(
  "Engine on 3.1.1 refuses every MQTT 5.0-only option with ProtocolVersionError naming it, " +
    "nothing queued",
  none,
  async (t) => {
    for (const row of v5Only) {
      await t.step(`${row.method} ${row.option}`, () => {
        const engine = (row.setup ?? (() => connected4()))();
        const error = refused(engine, () => row.call(engine), ProtocolVersionError);
        equal(error.option, row.option);
        equal(error.protocolVersion, 4);
        equal(error.recoverable, true);
        ok(error.message.includes(row.option), error.message);
        equal(engine.takeOutput(), undefined, "takeOutput() is undefined");
      });
    }
  },
);

Deno.test(
  "Engine on 3.1.1 stays usable after refusing a 5.0-only option: the plain call goes through",
  none,
  () => {
    const fresh = new Engine();
    thrown(() => fresh.connect({ protocolVersion: 4, clientId: "c1", receiveMaximum: 5 }, T0));
    equal(fresh.state, "disconnected");
    fresh.connect({ protocolVersion: 4, clientId: "c1" }, T0);
    like(sent4(fresh), [{ type: PacketType.Connect, protocolVersion: 4 }]);

    const engine = owingPuback();
    thrown(() => engine.acknowledge(1, { reasonCode: 0x80 }));
    engine.acknowledge(1);
    deepStrictEqual(engine.takeOutput(), new Uint8Array([0x40, 0x02, 0x00, 0x01]), "PUBACK 1");
    thrown(() => engine.publish({ topic: "t", qos: 1, properties: { topicAlias: 1 } }));
    equal(engine.publish({ topic: "t", qos: 1 }), 1, "no Packet Identifier was used up");
    engine.takeOutput();
    thrown(() => engine.disconnect({ reasonCode: 0x04 }));
    equal(engine.state, "connected");
    engine.disconnect();
    deepStrictEqual(engine.takeOutput(), new Uint8Array([0xe0, 0x00]));
  },
);

Deno.test(
  "Engine on 3.1.1 accepts the 5.0 options' neutral values, which send nothing 5.0",
  none,
  async (t) => {
    await t.step("publish() with empty properties", () => {
      const engine = connected4();
      engine.publish({ topic: "t", properties: {} }, "x");
      deepStrictEqual(engine.takeOutput(), new Uint8Array([0x30, 0x04, 0x00, 0x01, 0x74, 0x78]));
    });
    await t.step("acknowledge() with reason code 0 and disconnect() with reason code 0", () => {
      const engine = owingPuback();
      engine.acknowledge(1, { reasonCode: 0 });
      engine.disconnect({ reasonCode: 0 });
      deepStrictEqual(
        engine.takeOutput(),
        new Uint8Array([0x40, 0x02, 0x00, 0x01, 0xe0, 0x00]),
        "PUBACK 1, DISCONNECT",
      );
    });
    await t.step("subscribe() with No Local, Retain As Published and Retain Handling off", () => {
      const engine = connected4();
      engine.subscribe({
        filter: "a",
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      });
      like(sent4(engine), [{
        type: PacketType.Subscribe,
        subscriptions: [{ filter: "a", qos: 1 }],
      }]);
    });
    // The version check lets an empty will.properties through (no property is set), as it does
    // publish()'s; the CONNECT must then carry no will properties rather than fail to encode.
    await t.step("connect() with a will whose properties are empty, as publish() allows", () => {
      const engine = new Engine();
      const error = thrown(() =>
        engine.connect(
          { protocolVersion: 4, clientId: "c1", will: { topic: "w", properties: {} } },
          T0,
        )
      );
      equal(error, undefined, `connect() threw ${error}`);
      like(sent4(engine), [{
        type: PacketType.Connect,
        will: { topic: "w", payload: new Uint8Array(), qos: 0, retain: false },
      }]);
    });
  },
);
