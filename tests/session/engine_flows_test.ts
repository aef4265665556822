// The protocol engine's outgoing publications: PUBLISH bytes, Packet Identifiers, the server's
// limits, topic aliases, the QoS 1 and 2 flows, and recovery after a reconnect with the session.
// Every test runs with no permissions at all, which proves the engine does no I/O.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { EncodeError, type Packet, PacketType, type Publish } from "../../src/codec/mod.ts";
import {
  ClientStateError,
  type Engine,
  type OutgoingFlight,
  QuotaExceededError,
  ServerCapabilityError,
  Session,
} from "../../src/session/mod.ts";
import {
  connack,
  connackPacket,
  connected,
  connecting,
  feed,
  like,
  none,
  type Row,
  runRows,
  sent,
  T0,
  thrown,
} from "./_engine.ts";

const ack = (
  type: typeof PacketType.Puback | typeof PacketType.Pubrec | typeof PacketType.Pubcomp,
  packetId: number,
  reasonCode = 0,
): Packet => ({ type, packetId, reasonCode });
const puback = (id: number, rc = 0) => ack(PacketType.Puback, id, rc);
const pubrec = (id: number, rc = 0) => ack(PacketType.Pubrec, id, rc);
const pubcomp = (id: number, rc = 0) => ack(PacketType.Pubcomp, id, rc);

/** Asserts that `fn` throws `type` and that the engine queued and recorded nothing. */
function refused<E extends Error>(
  engine: Engine,
  fn: () => unknown,
  type: abstract new (...a: never[]) => E,
): E {
  const before = JSON.stringify(engine.session.snapshot());
  const error = thrown(fn);
  ok(error instanceof type, `expected ${type.name}, got ${error}`);
  equal(engine.takeOutput(), undefined, "nothing queued");
  equal(JSON.stringify(engine.session.snapshot()), before, "the session is unchanged");
  return error;
}

Deno.test("Engine.publish() writes PUBLISH field by field at QoS 0, 1 and 2", none, async (t) => {
  const rows: [
    qos: 0 | 1 | 2,
    retain: boolean,
    first: number,
    id: number[],
    returns: number | undefined,
  ][] = [
    [0, false, 0x30, [], undefined],
    [0, true, 0x31, [], undefined],
    [1, false, 0x32, [0x00, 0x01], 1],
    [2, false, 0x34, [0x00, 0x01], 1],
  ];
  for (const [qos, retain, first, id, returns] of rows) {
    await t.step(
      `QoS ${qos}${retain ? ", RETAIN" : ""}: DUP 0 on the first transmission ` +
        "[MQTT-4.3.2-2] [MQTT-4.3.3-2] [MQTT-3.3.1-2]",
      () => {
        const engine = connected();
        equal(engine.publish({ topic: "a/b", qos, retain }, "hi"), returns);
        deepStrictEqual(
          engine.takeOutput(),
          new Uint8Array([
            first, // PUBLISH (type 3): DUP 0, QoS, RETAIN (3.3.1)
            0x08 + id.length, // Remaining Length (2.1.4)
            0x00,
            0x03, // Topic Name length 3 (3.3.2.1)
            0x61,
            0x2f,
            0x62, // Topic Name "a/b"
            ...id, // Packet Identifier, at QoS 1 and 2 only (3.3.2.2)
            0x00, // Property Length 0 (3.3.2.3.1)
            0x68,
            0x69, // Payload "hi" (3.3.3)
          ]),
        );
        equal(engine.session.state.outgoing.length, qos === 0 ? 0 : 1, "QoS 1/2 in flight");
      },
    );
  }
});

Deno.test(
  "Engine.publish() gives Packet Identifiers not in use [MQTT-2.2.1-3]",
  none,
  async (t) => {
    await t.step("skipping the ids of flights resumed with the session", () => {
      const flight = (packetId: number): OutgoingFlight => ({
        packetId,
        state: "awaiting-puback",
        publication: { topic: "t", payload: new Uint8Array(), qos: 1, retain: false },
      });
      const session = new Session({ clientId: "c1", outgoing: [flight(2), flight(3), flight(5)] });
      const engine = connecting({ cleanStart: false }, { session });
      feed(engine, connackPacket({}, true));
      const ids = [
        engine.publish({ topic: "t", qos: 1 }),
        engine.subscribe({ filter: "t" }),
        engine.publish({ topic: "t", qos: 2 }),
        engine.unsubscribe("t"),
      ];
      deepStrictEqual(ids, [1, 4, 6, 7]);
    });

    await t.step("skipping the id of a SUBSCRIBE awaiting its SUBACK, after wrapping", () => {
      const engine = connected({ session: new Session({ nextPacketId: 65_535 }) });
      equal(engine.subscribe({ filter: "t" }), 65_535);
      for (let id = 1; id <= 65_534; id++) {
        const got = engine.publish({ topic: "t", qos: 1 });
        if (got !== id) equal(got, id);
        engine.handle({ type: PacketType.Puback, packetId: id }, T0);
        engine.takeOutput();
      }
      equal(engine.publish({ topic: "t", qos: 1 }), 1, "65535 is the SUBSCRIBE's");
    });

    await t.step(
      "never an id in use, over any sequence of publications and acks (property)",
      () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 65_535 }),
            fc.array(fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat({ max: 30 })), {
              maxLength: 60,
            }),
            (start, ops) => {
              const engine = connected({ session: new Session({ nextPacketId: start }) });
              const inUse = new Set<number>();
              for (const op of ops) {
                if (op < 0) {
                  const id = op === -1
                    ? engine.publish({ topic: "t", qos: 1 })!
                    : engine.subscribe({ filter: "t" });
                  ok(id >= 1 && id <= 65_535 && !inUse.has(id), `id ${id} is in use`);
                  inUse.add(id);
                } else if (inUse.size > 0) {
                  const id = [...inUse][op % inUse.size]!;
                  const flight = engine.session.flight(id);
                  engine.handle(
                    flight
                      ? { type: PacketType.Puback, packetId: id }
                      : { type: PacketType.Suback, packetId: id, reasonCodes: [0] },
                    T0,
                  );
                  inUse.delete(id);
                }
                engine.takeOutput();
              }
            },
          ),
        );
      },
    );
  },
);

Deno.test(
  "Engine.publish() refuses what the server does not accept, with nothing queued",
  none,
  async (t) => {
    await t.step("a QoS above the server's Maximum QoS: 0x9B [MQTT-3.2.2-11]", () => {
      const engine = connected({}, { maximumQoS: 1 });
      const error = refused(
        engine,
        () => engine.publish({ topic: "t", qos: 2 }),
        ServerCapabilityError,
      );
      equal(error.reasonCode, 0x9b);
      equal(engine.session.state.nextPacketId, 1, "no Packet Identifier used");
      equal(engine.publish({ topic: "t", qos: 1 }), 1);
    });

    await t.step("RETAIN when the server has no retained messages: 0x9A [MQTT-3.2.2-14]", () => {
      const engine = connected({}, { retainAvailable: 0 });
      const error = refused(
        engine,
        () => engine.publish({ topic: "t", qos: 1, retain: true }),
        ServerCapabilityError,
      );
      equal(error.reasonCode, 0x9a);
      engine.publish({ topic: "t", retain: false });
      like(sent(engine), [{ type: PacketType.Publish, retain: false }]);
    });

    await t.step("a Topic Alias above the server's maximum: 0x94 [MQTT-3.3.2-9]", () => {
      const engine = connected({}, { topicAliasMaximum: 2 });
      const error = refused(
        engine,
        () => engine.publish({ topic: "t", properties: { topicAlias: 3 } }),
        ServerCapabilityError,
      );
      equal(error.reasonCode, 0x94);
      engine.publish({ topic: "t", properties: { topicAlias: 2 } });
      like(sent(engine), [{ type: PacketType.Publish, properties: { topicAlias: 2 } }]);
    });

    await t.step("any Topic Alias when the server allows none [MQTT-3.2.2-18]", () => {
      const engine = connected();
      refused(
        engine,
        () => engine.publish({ topic: "t", properties: { topicAlias: 1 } }),
        ServerCapabilityError,
      );
    });

    await t.step("a Subscription Identifier [MQTT-3.3.4-6]", () => {
      const engine = connected();
      refused(
        engine,
        () => engine.publish({ topic: "t", properties: { subscriptionIdentifiers: [1] } }),
        EncodeError,
      );
    });

    await t.step("an empty topic with an alias not set on this connection", () => {
      const engine = connected({}, { topicAliasMaximum: 2 });
      refused(
        engine,
        () => engine.publish({ topic: "", properties: { topicAlias: 1 } }),
        ClientStateError,
      );
    });
  },
);

Deno.test("Engine.publish() keeps within the server's Receive Maximum [MQTT-3.3.4-7]", none, () => {
  const engine = connected({}, { receiveMaximum: 2 });
  equal(engine.sendQuota, 2);
  engine.publish({ topic: "t", qos: 1 });
  equal(engine.sendQuota, 1);
  engine.publish({ topic: "t", qos: 2 });
  equal(engine.sendQuota, 0);
  sent(engine);
  const error = refused(engine, () => engine.publish({ topic: "t", qos: 1 }), QuotaExceededError);
  equal(error.receiveMaximum, 2);
  equal(error.recoverable, true);
  engine.publish({ topic: "t", qos: 0 });
  equal(sent(engine).length, 1, "QoS 0 is not counted");

  feed(engine, pubrec(2));
  equal(engine.sendQuota, 0, "a QoS 2 flight awaiting PUBCOMP still counts");
  feed(engine, puback(1));
  equal(engine.sendQuota, 1, "PUBACK frees a slot");
  equal(engine.publish({ topic: "t", qos: 2 }), 3);
  feed(engine, pubcomp(2));
  equal(engine.sendQuota, 1, "PUBCOMP frees a slot");
  feed(engine, pubrec(3, 0x80));
  equal(engine.sendQuota, 2, "a failing acknowledgement frees a slot");
});

Deno.test("Engine.publish() with the automatic topic alias policy", none, async (t) => {
  const topicsOf = (packets: Packet[]) =>
    packets.map((p) => {
      const pub = p as Publish;
      return [pub.topic, pub.properties?.topicAlias];
    });

  await t.step(
    "the first topics get the aliases the server allows; later sends the alias alone [MQTT-3.2.2-17]",
    () => {
      const engine = connected({ topicAliases: "auto" }, { topicAliasMaximum: 2 });
      for (const topic of ["a", "a", "b", "c", "b", "a"]) engine.publish({ topic }, "x");
      deepStrictEqual(topicsOf(sent(engine)), [
        ["a", 1],
        ["", 1],
        ["b", 2],
        ["c", undefined],
        ["", 2],
        ["", 1],
      ]);
    },
  );

  await t.step("the session keeps the full topic, never the alias", () => {
    const engine = connected({ topicAliases: "auto" }, { topicAliasMaximum: 1 });
    engine.publish({ topic: "a", qos: 1 });
    engine.publish({ topic: "a", qos: 1, properties: { contentType: "text/plain" } });
    deepStrictEqual(topicsOf(sent(engine)), [["a", 1], ["", 1]]);
    deepStrictEqual(engine.session.flight(2)?.publication?.topic, "a");
    deepStrictEqual(engine.session.flight(2)?.publication?.properties, {
      contentType: "text/plain",
    });
  });

  await t.step("aliases do not outlive the connection [MQTT-3.3.2-7]", () => {
    const engine = connected({ topicAliases: "auto" }, { topicAliasMaximum: 1 });
    engine.publish({ topic: "a" });
    engine.connectionLost("reset");
    engine.connect({ clientId: "c1", keepAlive: 0 }, T0);
    engine.takeOutput();
    feed(engine, connack({ topicAliasMaximum: 1 }));
    engine.publish({ topic: "a" });
    deepStrictEqual(topicsOf(sent(engine)), [["a", 1]]);
  });

  await t.step("no alias when the server allows none [MQTT-3.2.2-18]", () => {
    const engine = connected({ topicAliases: "auto" });
    engine.publish({ topic: "a" });
    engine.publish({ topic: "a" });
    deepStrictEqual(topicsOf(sent(engine)), [["a", undefined], ["a", undefined]]);
  });
});

Deno.test(
  "Engine moves outgoing flights on with the server's acknowledgements",
  none,
  async (t) => {
    const publication = {
      topic: "t",
      payload: new TextEncoder().encode("x"),
      qos: 1 as const,
      retain: false,
    };
    /** An engine with flight 1 at QoS 1 and flight 2 at QoS 2, both sent. */
    const inFlight = () => {
      const engine = connected();
      engine.publish({ topic: "t", qos: 1 }, "x");
      engine.publish({ topic: "t", qos: 2 }, "x");
      sent(engine);
      return engine;
    };
    const rows: Row[] = [
      {
        name: "PUBACK ends a QoS 1 flight (section 4.3.2)",
        setup: inFlight,
        input: puback(1),
        events: [{ type: "acknowledged", packetId: 1, reasonCode: 0 }],
        then: (e) => equal(e.session.flight(1), undefined),
      },
      {
        name: "PUBACK 0x10 No matching subscribers is a success",
        setup: inFlight,
        input: puback(1, 0x10),
        events: [{ type: "acknowledged", packetId: 1, reasonCode: 0x10 }],
      },
      {
        name: "PUBACK 0x80 or above: a `rejected` event with the publication [MQTT-4.4.0-2]",
        setup: inFlight,
        input: puback(1, 0x97),
        events: [{ type: "rejected", packetId: 1, reasonCode: 0x97, publication }],
        then: (e) => equal(e.session.flight(1), undefined),
      },
      {
        name: "PUBREC: PUBREL queued, the flight awaits PUBCOMP, the publication dropped " +
          "[MQTT-4.3.3-4] [MQTT-4.3.3-6]",
        setup: inFlight,
        input: pubrec(2),
        out: [{ type: PacketType.Pubrel, packetId: 2, reasonCode: 0 }],
        events: [{ type: "received", packetId: 2, reasonCode: 0 }],
        then: (e) =>
          deepStrictEqual(e.session.flight(2), { packetId: 2, state: "awaiting-pubcomp" }),
      },
      {
        name: "PUBREC 0x80 or above ends the flight, no PUBREL [MQTT-4.4.0-2]",
        setup: inFlight,
        input: pubrec(2, 0x87),
        events: [{
          type: "rejected",
          packetId: 2,
          reasonCode: 0x87,
          publication: { ...publication, qos: 2 as const },
        }],
        then: (e) => equal(e.session.flight(2), undefined),
      },
      {
        name: "PUBCOMP ends a QoS 2 flight (section 4.3.3)",
        setup: inFlight,
        input: [pubrec(2), pubcomp(2)],
        out: [{ type: PacketType.Pubrel, packetId: 2 }],
        events: [{ type: "received" }, { type: "completed", packetId: 2, reasonCode: 0 }],
        then: (e) => equal(e.session.flight(2), undefined),
      },
      {
        name: "PUBCOMP 0x92 ends the flight too (section 4.3.3)",
        setup: inFlight,
        input: [pubrec(2), pubcomp(2, 0x92)],
        out: [{ type: PacketType.Pubrel, packetId: 2 }],
        events: [{ type: "received" }, { type: "completed", packetId: 2, reasonCode: 0x92 }],
        then: (e) => {
          equal(e.session.flight(2), undefined);
          equal(e.sendQuota, 65_534);
        },
      },
      {
        name: "acknowledgements in any order",
        setup: inFlight,
        input: [pubrec(2), puback(1), pubcomp(2)],
        out: [{ type: PacketType.Pubrel, packetId: 2 }],
        events: [{ type: "received" }, { type: "acknowledged" }, { type: "completed" }],
        then: (e) => ok(e.session.isEmpty),
      },
      {
        name: "PUBREC for an id not in flight: PUBREL 0x92 (section 4.3.3)",
        setup: inFlight,
        input: pubrec(9),
        out: [{ type: PacketType.Pubrel, packetId: 9, reasonCode: 0x92 }],
      },
      {
        name: "PUBACK for an id not in flight: 0x82",
        setup: inFlight,
        input: puback(9),
        violation: 0x82,
      },
      {
        name: "PUBACK for a QoS 2 flight: 0x82",
        setup: inFlight,
        input: puback(2),
        violation: 0x82,
      },
      {
        name: "PUBCOMP for a flight awaiting PUBREC: 0x82",
        setup: inFlight,
        input: pubcomp(2),
        violation: 0x82,
      },
    ];
    await runRows(t, rows);
  },
);

/**
 * An engine whose session holds flights 1 (QoS 1), 2 (QoS 2 awaiting PUBREC), 3 (QoS 2 awaiting
 * PUBCOMP) and 4 (QoS 1), all sent on a connection that was then lost, reconnected with the
 * session and the server's `receiveMaximum`.
 */
function resumed(receiveMaximum?: number): Engine {
  const engine = connected({}, {}, { sessionExpiryInterval: 3600 });
  engine.publish({ topic: "a", qos: 1 }, "1");
  engine.publish({ topic: "b", qos: 2, properties: { contentType: "c" } }, "2");
  engine.publish({ topic: "c", qos: 2 }, "3");
  engine.publish({ topic: "d", qos: 1, retain: true }, "4");
  feed(engine, pubrec(3));
  sent(engine);
  engine.connectionLost("reset");
  engine.connect({ clientId: "c1", cleanStart: false, keepAlive: 0 }, T0);
  engine.takeOutput();
  feed(engine, connack(receiveMaximum === undefined ? {} : { receiveMaximum }, true));
  return engine;
}

Deno.test("Engine.resend() after a reconnect with the session", none, async (t) => {
  const text = (s: string) => new TextEncoder().encode(s);

  await t.step(
    "PUBLISH again with DUP, PUBREL for what awaits PUBCOMP, in the original order " +
      "[MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-3.3.1-1] [MQTT-4.3.3-6]",
    () => {
      const engine = resumed();
      deepStrictEqual(engine.heldBack, [1, 2, 3, 4], "nothing sent on this connection yet");
      deepStrictEqual(engine.resend(), [1, 2, 3, 4]);
      like(sent(engine), [
        {
          type: PacketType.Publish,
          packetId: 1,
          topic: "a",
          dup: true,
          qos: 1,
          payload: text("1"),
        },
        {
          type: PacketType.Publish,
          packetId: 2,
          topic: "b",
          dup: true,
          qos: 2,
          properties: { contentType: "c" },
        },
        { type: PacketType.Pubrel, packetId: 3, reasonCode: 0 },
        { type: PacketType.Publish, packetId: 4, topic: "d", dup: true, retain: true },
      ]);
      deepStrictEqual(engine.heldBack, []);
      deepStrictEqual(engine.resend(), [], "once only");
      equal(engine.takeOutput(), undefined);
    },
  );

  await t.step(
    "the Receive Maximum holds PUBLISHes back in order, never a PUBREL " +
      "[MQTT-3.3.4-7] [MQTT-3.3.4-8] [MQTT-4.6.0-1]",
    () => {
      const engine = resumed(1);
      deepStrictEqual(engine.resend(), [1, 3]);
      like(sent(engine), [
        { type: PacketType.Publish, packetId: 1, dup: true },
        { type: PacketType.Pubrel, packetId: 3 },
      ]);
      deepStrictEqual(engine.heldBack, [2, 4]);
      feed(engine, puback(1));
      deepStrictEqual(engine.resend(), [], "flight 3 awaiting PUBCOMP still uses the quota");
      feed(engine, pubcomp(3));
      deepStrictEqual(engine.resend(), [2]);
      like(sent(engine), [{ type: PacketType.Publish, packetId: 2, dup: true }]);
      deepStrictEqual(engine.heldBack, [4]);
      feed(engine, pubrec(2));
      like(sent(engine), [{ type: PacketType.Pubrel, packetId: 2 }]);
      feed(engine, pubcomp(2));
      deepStrictEqual(engine.resend(), [4]);
      like(sent(engine), [{ type: PacketType.Publish, packetId: 4, dup: true }]);
      deepStrictEqual(engine.heldBack, []);
    },
  );

  await t.step("a rejected publication is not sent again [MQTT-4.4.0-2]", () => {
    const engine = connected({}, {}, { sessionExpiryInterval: 3600 });
    engine.publish({ topic: "a", qos: 1 });
    engine.publish({ topic: "b", qos: 1 });
    feed(engine, puback(1, 0x80));
    engine.connectionLost("reset");
    engine.connect({ clientId: "c1", cleanStart: false }, T0);
    engine.takeOutput();
    feed(engine, connack({}, true));
    deepStrictEqual(engine.resend(), [2]);
  });

  await t.step("a topic alias is not carried over: the full topic [MQTT-3.3.2-7]", () => {
    const engine = connected({}, { topicAliasMaximum: 1 }, { sessionExpiryInterval: 60 });
    engine.publish({ topic: "a", qos: 1, properties: { topicAlias: 1 } });
    engine.publish({ topic: "", qos: 1, properties: { topicAlias: 1 } });
    engine.connectionLost("reset");
    engine.connect({ clientId: "c1", cleanStart: false }, T0);
    engine.takeOutput();
    feed(engine, connack({}, true));
    engine.resend();
    like(sent(engine), [
      { type: PacketType.Publish, topic: "a", properties: undefined },
      { type: PacketType.Publish, topic: "a", properties: undefined },
    ]);
  });

  await t.step(
    "republish() refuses a flight already sent on this connection [MQTT-4.4.0-1]",
    () => {
      const engine = resumed();
      engine.republish(1);
      sent(engine);
      refused(engine, () => engine.republish(1), ClientStateError);
      const fresh = connected();
      fresh.publish({ topic: "t", qos: 1 });
      sent(fresh);
      refused(fresh, () => fresh.republish(1), ClientStateError);
      deepStrictEqual(fresh.resend(), [], "resend() leaves out what this connection sent");
      equal(fresh.takeOutput(), undefined);
    },
  );

  await t.step("republish() refuses a flight awaiting PUBCOMP [MQTT-4.3.3-6]", () => {
    const engine = resumed();
    refused(engine, () => engine.republish(3), ClientStateError);
    refused(engine, () => engine.rerelease(2), ClientStateError);
    refused(engine, () => engine.republish(99), ClientStateError);
    engine.rerelease(3);
    like(sent(engine), [{ type: PacketType.Pubrel, packetId: 3 }]);
  });

  await t.step("republish() keeps within the Receive Maximum [MQTT-3.3.4-7]", () => {
    const engine = resumed(1);
    engine.republish(2);
    sent(engine);
    refused(engine, () => engine.republish(1), QuotaExceededError);
  });
});
