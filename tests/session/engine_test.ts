// The protocol engine's connection: CONNECT, CONNACK, DISCONNECT both ways, and whether the
// session can be resumed. Every test runs with no permissions at all, which proves the engine does
// no I/O.

import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { type Packet, PacketType } from "../../src/codec/mod.ts";
import {
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  type ConnectOptions,
  Engine,
  NotConnectedError,
  ProtocolViolationError,
  Session,
} from "../../src/session/mod.ts";
import {
  bytesOf,
  connack,
  connackPacket,
  connected,
  connecting,
  drain,
  feed,
  like,
  none,
  publish,
  type Row,
  runRows,
  sent,
  T0,
  thrown,
} from "./_engine.ts";

/** The bytes of an ASCII text, one per character. */
function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** A session with one QoS 1 flight in it, as a previous connection left it. */
function sessionWithFlight(): Session {
  return new Session({
    clientId: "c1",
    nextPacketId: 2,
    outgoing: [{
      packetId: 1,
      state: "awaiting-puback",
      publication: { topic: "t", payload: new Uint8Array([1]), qos: 1, retain: false },
    }],
  });
}

Deno.test("Engine.connect() writes CONNECT field by field", none, () => {
  const engine = new Engine();
  engine.connect(
    { clientId: "c1", cleanStart: false, keepAlive: 30, sessionExpiryInterval: 3600 },
    0,
  );
  equal(engine.state, "connecting");
  deepStrictEqual(
    engine.takeOutput(),
    new Uint8Array([
      0x10, // CONNECT (type 1), flags 0000 (3.1.1)
      0x14, // Remaining Length 20 (2.1.4)
      0x00,
      0x04, // Protocol Name length 4 (3.1.2.1)
      ...ascii("MQTT"), // Protocol Name (3.1.2.1)
      0x05, // Protocol Version 5 (3.1.2.2)
      0x00, // Connect Flags: Clean Start 0, no will, no User Name, no Password (3.1.2.3)
      0x00,
      0x1e, // Keep Alive 30 s (3.1.2.10)
      0x05, // Property Length 5 (3.1.2.11.1)
      0x11, // Session Expiry Interval (3.1.2.11.2) ...
      0x00,
      0x00,
      0x0e,
      0x10, // ... 3600 s
      0x00,
      0x02, // Client Identifier length 2 (3.1.3.1)
      ...ascii("c1"), // Client Identifier
    ]),
  );
});

Deno.test("Engine.connect() puts each option in the CONNECT", none, async (t) => {
  const rows: { name: string; options: ConnectOptions; session?: Session; expected: object }[] = [
    {
      name: "defaults: Clean Start 1, Keep Alive 60, no properties (section 3.1.2)",
      options: { clientId: "c1" },
      expected: { cleanStart: true, keepAlive: 60, clientId: "c1", properties: undefined },
    },
    {
      name: "Clean Start 0 with a Session Expiry Interval (sections 3.1.2.4, 3.1.2.11.2)",
      options: { clientId: "c1", cleanStart: false, sessionExpiryInterval: 0xffffffff },
      expected: { cleanStart: false, properties: { sessionExpiryInterval: 0xffffffff } },
    },
    {
      name: "Keep Alive 0 turns keep alive off (section 3.1.2.10)",
      options: { clientId: "c1", keepAlive: 0 },
      expected: { keepAlive: 0 },
    },
    {
      name: "a will with its QoS, RETAIN and properties [MQTT-3.1.2-9]",
      options: {
        clientId: "c1",
        will: {
          topic: "w/1",
          payload: "bye",
          qos: 1,
          retain: true,
          properties: { willDelayInterval: 5 },
        },
      },
      expected: {
        will: {
          topic: "w/1",
          payload: new TextEncoder().encode("bye"),
          qos: 1,
          retain: true,
          properties: { willDelayInterval: 5 },
        },
      },
    },
    {
      name: "an Authentication Method and Data (section 4.12)",
      options: {
        clientId: "c1",
        authenticationMethod: "SCRAM-SHA-1",
        authenticationData: new Uint8Array([1, 2]),
      },
      expected: {
        properties: {
          authenticationMethod: "SCRAM-SHA-1",
          authenticationData: new Uint8Array([1, 2]),
        },
      },
    },
    {
      name: "the client's limits and requests (section 3.1.2.11)",
      options: {
        clientId: "c1",
        receiveMaximum: 10,
        maximumPacketSize: 1000,
        topicAliasMaximum: 4,
        requestResponseInformation: true,
        requestProblemInformation: false,
        userProperties: [["k", "v"]],
      },
      expected: {
        properties: {
          receiveMaximum: 10,
          maximumPacketSize: 1000,
          topicAliasMaximum: 4,
          requestResponseInformation: 1,
          requestProblemInformation: 0,
          userProperties: [["k", "v"]],
        },
      },
    },
    {
      name: "User Name and Password [MQTT-3.1.2-17] [MQTT-3.1.2-19]",
      options: { clientId: "c1", username: "u", password: "p" },
      expected: { username: "u", password: new Uint8Array([0x70]) },
    },
    {
      name: "no Client Identifier given: the session's",
      options: {},
      session: new Session({ clientId: "kept" }),
      expected: { clientId: "kept" },
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const engine = new Engine(row.session ? { session: row.session } : {});
      engine.connect(row.options, 0);
      like(sent(engine), [{ type: PacketType.Connect, ...row.expected }]);
    });
  }
});

Deno.test(
  "Engine.connect() with Clean Start clears the client's session; without it keeps it [MQTT-3.1.2-4]",
  none,
  () => {
    const clean = new Engine({ session: sessionWithFlight() });
    clean.connect({ clientId: "c1" }, 0);
    ok(clean.session.isEmpty);
    const resume = new Engine({ session: sessionWithFlight() });
    resume.connect({ clientId: "c1", cleanStart: false }, 0);
    equal(resume.session.state.outgoing.length, 1);
  },
);

Deno.test(
  "Engine.connect() refuses while connecting or connected, with nothing queued",
  none,
  () => {
    const engine = connecting();
    throws(() => engine.connect({ clientId: "c1" }, T0), ClientStateError);
    equal(engine.takeOutput(), undefined);
    const up = connected();
    throws(() => up.connect({ clientId: "c1" }, T0), ClientStateError);
    equal(up.takeOutput(), undefined);
  },
);

Deno.test("Engine handles the CONNACK", none, async (t) => {
  const rows: Row[] = [
    {
      name: "the server's limits, with the specification's defaults for the rest (section 3.2.2.3)",
      setup: () => connecting(),
      input: connackPacket({
        receiveMaximum: 5,
        maximumQoS: 1,
        retainAvailable: 0,
        maximumPacketSize: 1000,
        topicAliasMaximum: 3,
        wildcardSubscriptionAvailable: 0,
        sharedSubscriptionAvailable: 0,
      }),
      events: [{
        type: "connected",
        sessionPresent: false,
        limits: {
          receiveMaximum: 5,
          maximumQoS: 1,
          retainAvailable: false,
          maximumPacketSize: 1000,
          topicAliasMaximum: 3,
          wildcardSubscriptionAvailable: false,
          subscriptionIdentifierAvailable: true,
          sharedSubscriptionAvailable: false,
        },
      }],
      then: (e) => {
        equal(e.state, "connected");
        equal(e.limits.receiveMaximum, 5);
        equal(e.sendQuota, 5);
      },
    },
    {
      name: "the Assigned Client Identifier becomes the session's [MQTT-3.1.3-7]",
      setup: () => connecting({ clientId: "" }),
      input: connackPacket({ assignedClientIdentifier: "srv-42" }),
      events: [{ type: "connected", clientId: "srv-42", assignedClientIdentifier: "srv-42" }],
      then: (e) => {
        equal(e.session.state.clientId, "srv-42");
        e.connectionLost("test");
        e.connect({}, T0);
        like(sent(e), [{ type: PacketType.Connect, clientId: "srv-42" }], "the next CONNECT");
      },
    },
    {
      name: "Response Information that was requested (section 3.1.2.11.6)",
      setup: () => connecting({ requestResponseInformation: true }),
      input: connackPacket({ responseInformation: "reply/c1" }),
      events: [{ type: "connected", responseInformation: "reply/c1" }],
    },
    {
      name: "Session Present 1 on a resume keeps the session and discards nothing",
      setup: () => connecting({ cleanStart: false }, { session: sessionWithFlight() }),
      input: connackPacket({}, true),
      events: [{ type: "connected", sessionPresent: true, discarded: [] }],
      then: (e) => equal(e.session.state.outgoing.length, 1),
    },
    {
      name: "Session Present 0 on a resume: the flights are discarded and reported [MQTT-3.2.2-5]",
      setup: () => connecting({ cleanStart: false }, { session: sessionWithFlight() }),
      input: connackPacket({}, false),
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
      name: "Session Present 1 after Clean Start: DISCONNECT 0x82 [MQTT-3.2.2-4]",
      setup: () => connecting({ cleanStart: true }),
      input: connackPacket({}, true),
      violation: 0x82,
      statement: "MQTT-3.2.2-4",
    },
    {
      name: "an Authentication Method the client did not send: 0x82 [MQTT-4.12.0-6]",
      setup: () => connecting(),
      input: connackPacket({ authenticationMethod: "SCRAM-SHA-1" }),
      violation: 0x82,
      statement: "MQTT-4.12.0-6",
    },
    {
      name: "an Authentication Method other than the CONNECT's: 0x82 [MQTT-4.12.0-5]",
      setup: () => connecting({ authenticationMethod: "A" }),
      input: connackPacket({ authenticationMethod: "B" }),
      violation: 0x82,
      statement: "MQTT-4.12.0-5",
    },
    {
      name: "Response Information not requested: 0x82 [MQTT-3.1.2-28]",
      setup: () => connecting(),
      input: connackPacket({ responseInformation: "reply/c1" }),
      violation: 0x82,
      statement: "MQTT-3.1.2-28",
    },
    {
      name: "a second CONNACK: 0x82 [MQTT-3.2.0-2]",
      input: connackPacket(),
      violation: 0x82,
      statement: "MQTT-3.2.0-2",
    },
    ...([
      ["PUBLISH", publish("t", 0)],
      ["PINGRESP", { type: PacketType.Pingresp }],
      ["SUBACK", { type: PacketType.Suback, packetId: 1, reasonCodes: [0] }],
      ["DISCONNECT", { type: PacketType.Disconnect, reasonCode: 0x80 }],
      ["AUTH without an Authentication Method", {
        type: PacketType.Auth,
        reasonCode: 0x18,
        properties: { authenticationMethod: "A" },
      }],
    ] as [string, Packet][]).map(([name, packet]): Row => ({
      name: `${name} before CONNACK: 0x82 [MQTT-3.2.0-1]`,
      setup: () => connecting(),
      input: packet,
      violation: 0x82,
      statement: "MQTT-3.2.0-1",
    })),
  ];
  await runRows(t, rows);
});

Deno.test(
  "Engine refuses the connection on a CONNACK with a failing reason code (section 3.2.2.2)",
  none,
  () => {
    const engine = connecting();
    let error: unknown;
    try {
      engine.receive(
        bytesOf({
          type: PacketType.Connack,
          sessionPresent: false,
          reasonCode: 0x9c,
          properties: { reasonString: "moved", serverReference: "other:1883" },
        }),
        T0,
      );
    } catch (e) {
      error = e;
    }
    ok(error instanceof ConnectionRefusedError, String(error));
    equal(error.reasonCode, 0x9c);
    equal(error.reasonString, "moved");
    equal(error.serverReference, "other:1883");
    equal(engine.state, "closed");
    equal(engine.closeError, error);
    equal(engine.takeOutput(), undefined, "no DISCONNECT after a refusal");
    throws(() => engine.publish({ topic: "t" }), NotConnectedError);
  },
);

Deno.test("Engine handles a DISCONNECT from the server", none, async (t) => {
  await runRows(t, [
    {
      name: "a `disconnected` event; the state is closed and nothing is sent back (section 3.14)",
      input: {
        type: PacketType.Disconnect,
        reasonCode: 0x8e,
        properties: { reasonString: "taken over" },
      },
      events: [{ type: "disconnected", reasonCode: 0x8e, reasonString: "taken over" }],
      then: (e) => {
        equal(e.state, "closed");
        ok(e.closeError instanceof ConnectionClosedError);
        equal(e.closeError.reasonCode, 0x8e);
        throws(() => e.publish({ topic: "t" }), NotConnectedError);
      },
    },
    {
      name: "with a Session Expiry Interval: DISCONNECT 0x82 with the server's reason kept " +
        "[MQTT-3.14.2-2]",
      input: {
        type: PacketType.Disconnect,
        reasonCode: 0x8b,
        properties: { sessionExpiryInterval: 0, reasonString: "Server shutting down" },
      },
      violation: 0x82,
      statement: "MQTT-3.14.2-2",
      then: (e) => {
        const error = e.closeError;
        ok(error instanceof ProtocolViolationError);
        equal(error.serverReasonCode, 0x8b);
        equal(error.serverReasonString, "Server shutting down");
      },
    },
  ]);
});

Deno.test(
  "Engine.disconnect() queues DISCONNECT and then nothing else [MQTT-3.14.4-1]",
  none,
  () => {
    const engine = connected({}, {}, { keepAlive: 10, sessionExpiryInterval: 60 });
    engine.disconnect({ reasonCode: 0x04, properties: { reasonString: "bye" } });
    like(sent(engine), [{
      type: PacketType.Disconnect,
      reasonCode: 0x04,
      properties: { reasonString: "bye" },
    }]);
    equal(engine.state, "closed");
    ok(engine.closeError instanceof ConnectionClosedError);
    const calls: [string, () => unknown][] = [
      ["publish", () => engine.publish({ topic: "t", qos: 1 }, "x")],
      ["subscribe", () => engine.subscribe({ filter: "t" })],
      ["unsubscribe", () => engine.unsubscribe("t")],
      ["ping", () => engine.ping(T0)],
      ["auth", () => engine.auth()],
      ["acknowledge", () => engine.acknowledge(1)],
      ["resend", () => engine.resend()],
      ["republish", () => engine.republish(1)],
      ["rerelease", () => engine.rerelease(1)],
      ["disconnect", () => engine.disconnect()],
    ];
    for (const [name, call] of calls) throws(call, NotConnectedError, name);
    equal(engine.timeout, undefined, "keep alive stops");
    engine.handleTimeout(T0 + 3_600_000);
    equal(engine.takeOutput(), undefined, "nothing was queued after the DISCONNECT");
    const first = engine.closeError;
    engine.fail("late", 0x83);
    equal(engine.takeOutput(), undefined, "fail() once closed queues no DISCONNECT");
    equal(engine.closeError, first, "the first error stays the reason");
  },
);

Deno.test(
  "Engine.disconnect() refuses a non-zero Session Expiry Interval after connecting with 0, with nothing queued (section 3.14.2.2.2)",
  none,
  () => {
    const engine = connected();
    throws(
      () => engine.disconnect({ properties: { sessionExpiryInterval: 60 } }),
      ClientStateError,
    );
    equal(engine.takeOutput(), undefined);
    equal(engine.state, "connected");
  },
);

Deno.test(
  "Engine errors say whether the session can be resumed: Session Expiry Interval above 0 [MQTT-3.1.2-23]",
  none,
  async (t) => {
    const end: Record<string, (e: Engine) => { sessionResumable: boolean } | undefined> = {
      "a violation": (e) => {
        const error = thrown(() => e.receive(connack(), T0));
        ok(error instanceof ProtocolViolationError);
        return error;
      },
      "the server's DISCONNECT": (e) => {
        feed(e, { type: PacketType.Disconnect, reasonCode: 0x8b });
        return e.closeError;
      },
      "a lost connection": (e) => e.connectionLost("reset"),
      "disconnect()": (e) => {
        e.disconnect();
        return e.closeError;
      },
      "disconnect() with Session Expiry Interval 0": (e) => {
        e.disconnect({ properties: { sessionExpiryInterval: 0 } });
        return e.closeError;
      },
    };
    const rows: [
      connectExpiry: number,
      connackExpiry: number | undefined,
      how: string,
      resumable: boolean,
    ][] = [
      [3600, undefined, "a violation", true],
      [0, undefined, "a violation", false],
      [3600, undefined, "the server's DISCONNECT", true],
      [0, undefined, "the server's DISCONNECT", false],
      [3600, undefined, "a lost connection", true],
      [0, undefined, "a lost connection", false],
      [3600, undefined, "disconnect()", true],
      [3600, undefined, "disconnect() with Session Expiry Interval 0", false],
      // The CONNACK's Session Expiry Interval is the one in force (section 3.2.2.3.2).
      [3600, 0, "a lost connection", false],
      [0, 120, "a lost connection", true],
    ];
    for (const [connectExpiry, connackExpiry, how, resumable] of rows) {
      await t.step(
        `CONNECT ${connectExpiry}, CONNACK ${connackExpiry ?? "-"}, ended by ${how}: ${resumable}`,
        () => {
          const engine = connected(
            {},
            connackExpiry === undefined ? {} : { sessionExpiryInterval: connackExpiry },
            { sessionExpiryInterval: connectExpiry },
          );
          equal(engine.sessionResumable, (connackExpiry ?? connectExpiry) > 0, "while connected");
          const error = end[how]!(engine);
          ok(error !== undefined);
          equal(error.sessionResumable, resumable);
          equal(engine.sessionResumable, resumable);
          equal(engine.state, "closed");
          drain(engine);
        },
      );
    }
  },
);
