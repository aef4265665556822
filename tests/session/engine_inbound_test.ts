// The protocol engine's incoming side: publications at QoS 0, 1 and 2 with their automatic and
// manual acknowledgements, the client's Receive Maximum, incoming topic aliases, Request Problem
// Information, and SUBACK / UNSUBACK. Every test runs with no permissions at all, which proves the
// engine does no I/O.

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { type Packet, PacketType } from "../../src/codec/mod.ts";
import {
  ClientStateError,
  type Engine,
  type EngineOptions,
  ServerCapabilityError,
} from "../../src/session/mod.ts";
import {
  connack,
  connected,
  feed,
  like,
  none,
  publish,
  type Row,
  runRows,
  sent,
  T0,
  violation,
} from "./_engine.ts";

const pubrel = (packetId: number): Packet => ({ type: PacketType.Pubrel, packetId });
const manual = (options: EngineOptions = {}) => connected({ manualAck: true, ...options });

Deno.test("Engine answers incoming publications", none, async (t) => {
  const rows: Row[] = [
    {
      name: "QoS 0: a message, nothing sent [MQTT-3.3.4-1]",
      input: publish("a/b", 0),
      events: [{ type: "message", topic: "a/b", qos: 0, packetId: undefined }],
    },
    {
      name: "QoS 1: PUBACK with its Packet Identifier [MQTT-4.3.2-4] [MQTT-3.3.4-1]",
      input: publish("a/b", 1, 7),
      out: [{ type: PacketType.Puback, packetId: 7, reasonCode: 0 }],
      events: [{
        type: "message",
        topic: "a/b",
        qos: 1,
        packetId: 7,
        payload: new Uint8Array([0x68, 0x69]),
      }],
    },
    {
      name: "QoS 1 again with the same id after PUBACK: a new message [MQTT-4.3.2-5]",
      input: [publish("a/b", 1, 7), publish("a/b", 1, 7)],
      out: [{ type: PacketType.Puback, packetId: 7 }, { type: PacketType.Puback, packetId: 7 }],
      events: [{ type: "message" }, { type: "message" }],
    },
    {
      name: "QoS 2: PUBREC, the id awaits PUBREL [MQTT-4.3.3-8] [MQTT-3.3.4-1]",
      input: publish("a/b", 2, 8),
      out: [{ type: PacketType.Pubrec, packetId: 8, reasonCode: 0 }],
      events: [{ type: "message", qos: 2, packetId: 8 }],
      then: (e) => deepStrictEqual(e.session.state.incoming, [8]),
    },
    {
      name: "QoS 2 again before PUBREL: PUBREC again, not delivered twice [MQTT-4.3.3-10]",
      input: [publish("a/b", 2, 8), { ...publish("a/b", 2, 8), dup: true }],
      out: [{ type: PacketType.Pubrec, packetId: 8 }, { type: PacketType.Pubrec, packetId: 8 }],
      events: [{ type: "message" }, { type: "duplicate", packetId: 8, topic: "a/b" }],
    },
    {
      name: "PUBREL: PUBCOMP with its Packet Identifier [MQTT-4.3.3-11]",
      input: [publish("a/b", 2, 8), pubrel(8)],
      out: [
        { type: PacketType.Pubrec, packetId: 8 },
        { type: PacketType.Pubcomp, packetId: 8, reasonCode: 0 },
      ],
      events: [{ type: "message" }, { type: "released", packetId: 8, known: true }],
      then: (e) => deepStrictEqual(e.session.state.incoming, []),
    },
    {
      name: "QoS 2 with the same id after PUBCOMP: a new message [MQTT-4.3.3-12]",
      input: [publish("a/b", 2, 8), pubrel(8), publish("a/b", 2, 8)],
      out: [
        { type: PacketType.Pubrec },
        { type: PacketType.Pubcomp },
        { type: PacketType.Pubrec, packetId: 8 },
      ],
      events: [{ type: "message" }, { type: "released" }, { type: "message", packetId: 8 }],
    },
    {
      name: "PUBREL for an unknown id: PUBCOMP 0x92 (section 4.3.3)",
      input: pubrel(5),
      out: [{ type: PacketType.Pubcomp, packetId: 5, reasonCode: 0x92 }],
      events: [{ type: "released", packetId: 5, known: false }],
    },
    ...([1, 2] as const).map((qos): Row => ({
      name: `QoS ${qos} with a payload that is not the UTF-8 it claims: ${
        qos === 1 ? "PUBACK" : "PUBREC"
      } 0x99, not delivered (section 3.3.2.3.2)`,
      input: publish("a/b", qos, 3, { payloadFormatIndicator: 1 }, new Uint8Array([0xff, 0xfe])),
      out: [{
        type: qos === 1 ? PacketType.Puback : PacketType.Pubrec,
        packetId: 3,
        reasonCode: 0x99,
      }],
      events: [{ type: "refused", topic: "a/b", qos, packetId: 3, reasonCode: 0x99 }],
      then: (e) => deepStrictEqual(e.session.state.incoming, []),
    })),
    {
      name: "QoS 0 with a payload that is not the UTF-8 it claims: refused, nothing sent",
      input: publish("a/b", 0, undefined, { payloadFormatIndicator: 1 }, new Uint8Array([0xc0])),
      events: [{ type: "refused", qos: 0, reasonCode: 0x99 }],
    },
    {
      name: "QoS 2 beyond the client's Receive Maximum: 0x93 [MQTT-3.3.4-9]",
      setup: () => connected({}, {}, { receiveMaximum: 2 }),
      input: [publish("t", 2, 1), publish("t", 2, 2), publish("t", 2, 3)],
      out: [{ type: PacketType.Pubrec, packetId: 1 }, { type: PacketType.Pubrec, packetId: 2 }],
      events: [{ type: "message" }, { type: "message" }],
      violation: 0x93,
      statement: "MQTT-3.3.4-9",
    },
    {
      name: "within the client's Receive Maximum once PUBREL frees an id [MQTT-3.3.4-9]",
      setup: () => connected({}, {}, { receiveMaximum: 2 }),
      input: [publish("t", 2, 1), publish("t", 2, 2), pubrel(1), publish("t", 2, 3)],
      out: [
        { type: PacketType.Pubrec, packetId: 1 },
        { type: PacketType.Pubrec, packetId: 2 },
        { type: PacketType.Pubcomp, packetId: 1 },
        { type: PacketType.Pubrec, packetId: 3 },
      ],
      events: [{ type: "message" }, { type: "message" }, { type: "released" }, {
        type: "message",
      }],
    },
    {
      name: "manual: QoS 1 beyond the client's Receive Maximum: 0x93 [MQTT-3.3.4-9]",
      setup: () => connected({ manualAck: true }, {}, { receiveMaximum: 2 }),
      input: [publish("t", 1, 1), publish("t", 1, 2), publish("t", 1, 3)],
      events: [{ type: "message" }, { type: "message" }],
      violation: 0x93,
      statement: "MQTT-3.3.4-9",
    },
    {
      name: "manual: an id reused before the client acknowledged it: 0x82 [MQTT-2.2.1-4]",
      setup: manual,
      input: [publish("t", 1, 4), publish("t", 1, 4)],
      events: [{ type: "message" }],
      violation: 0x82,
      statement: "MQTT-2.2.1-4",
    },
  ];
  await runRows(t, rows);
});

Deno.test("Engine resolves incoming topic aliases", none, async (t) => {
  const aliases = (max: number) => () => connected({}, {}, { topicAliasMaximum: max });
  await runRows(t, [
    {
      name: "an alias set with a topic stands for it on later PUBLISHes [MQTT-3.3.2-10]",
      setup: aliases(2),
      input: [
        publish("a/b", 0, undefined, { topicAlias: 2 }),
        publish("", 1, 1, { topicAlias: 2 }),
        publish("c", 0, undefined, { topicAlias: 2 }),
        publish("", 0, undefined, { topicAlias: 2 }),
      ],
      out: [{ type: PacketType.Puback, packetId: 1 }],
      events: [
        { type: "message", topic: "a/b" },
        { type: "message", topic: "a/b" },
        { type: "message", topic: "c" },
        { type: "message", topic: "c" },
      ],
    },
    {
      name: "an alias above the client's Topic Alias Maximum: 0x94 [MQTT-3.3.2-11]",
      setup: aliases(2),
      input: publish("a", 0, undefined, { topicAlias: 3 }),
      violation: 0x94,
      statement: "MQTT-3.3.2-11",
    },
    {
      name: "any alias when the client allowed none: 0x94 [MQTT-3.1.2-27]",
      input: publish("a", 0, undefined, { topicAlias: 1 }),
      violation: 0x94,
      statement: "MQTT-3.1.2-27",
    },
    {
      name: "an alias never set: 0x94 (section 3.3.2.3.4)",
      setup: aliases(2),
      input: publish("", 0, undefined, { topicAlias: 1 }),
      violation: 0x94,
    },
    {
      name: "Topic Alias 0: 0x94 (section 3.3.2.3.4) [MQTT-3.3.2-8]",
      setup: aliases(2),
      input: new Uint8Array([
        0x30, // PUBLISH, QoS 0
        0x07, // Remaining Length 7
        0x00,
        0x01, // Topic Name length 1
        0x61, // "a"
        0x03, // Property Length 3
        0x23, // Topic Alias ...
        0x00,
        0x00, // ... 0
      ]),
      violation: 0x94,
    },
    {
      name: "an alias of the previous connection: 0x94 [MQTT-3.3.2-7]",
      setup: () => {
        const engine = aliases(2)();
        feed(engine, publish("a", 0, undefined, { topicAlias: 1 }));
        engine.connectionLost("reset");
        engine.connect({ clientId: "c1", keepAlive: 0, topicAliasMaximum: 2 }, T0);
        engine.takeOutput();
        feed(engine, connack());
        return engine;
      },
      input: publish("", 0, undefined, { topicAlias: 1 }),
      violation: 0x94,
    },
  ]);
});

Deno.test(
  "Engine with Request Problem Information 0: a Reason String or User Property only on PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]",
  none,
  async (t) => {
    const quiet = () => {
      const e = connected({}, {}, { requestProblemInformation: false, sessionExpiryInterval: 60 });
      e.publish({ topic: "t", qos: 1 });
      e.subscribe({ filter: "t" });
      sent(e);
      return e;
    };
    await runRows(t, [
      {
        name: "PUBACK with a Reason String: 0x82",
        setup: quiet,
        input: { type: PacketType.Puback, packetId: 1, properties: { reasonString: "why" } },
        violation: 0x82,
        statement: "MQTT-3.1.2-29",
      },
      {
        name: "SUBACK with a User Property: 0x82",
        setup: quiet,
        input: {
          type: PacketType.Suback,
          packetId: 2,
          reasonCodes: [0],
          properties: { userProperties: [["k", "v"]] },
        },
        violation: 0x82,
        statement: "MQTT-3.1.2-29",
      },
      {
        name: "PUBLISH with a User Property: delivered",
        setup: quiet,
        input: publish("t", 0, undefined, { userProperties: [["k", "v"]] }),
        events: [{ type: "message", properties: { userProperties: [["k", "v"]] } }],
      },
      {
        name: "DISCONNECT with a Reason String: a `disconnected` event",
        setup: quiet,
        input: {
          type: PacketType.Disconnect,
          reasonCode: 0x8b,
          properties: { reasonString: "bye" },
        },
        events: [{ type: "disconnected", reasonCode: 0x8b, reasonString: "bye" }],
      },
      {
        name: "PUBACK without them: acknowledged",
        setup: quiet,
        input: { type: PacketType.Puback, packetId: 1 },
        events: [{ type: "acknowledged", packetId: 1 }],
      },
    ]);
  },
);

Deno.test("Engine.acknowledge() in manual mode", none, async (t) => {
  await t.step("nothing is sent until the application acknowledges", () => {
    const engine = manual();
    like(feed(engine, [publish("t", 1, 1), publish("t", 2, 2)]), [
      { type: "message", packetId: 1 },
      { type: "message", packetId: 2 },
    ]);
    equal(engine.takeOutput(), undefined);
    engine.acknowledge(1);
    engine.acknowledge(2, { reasonCode: 0x10 });
    like(sent(engine), [
      { type: PacketType.Puback, packetId: 1, reasonCode: 0 },
      { type: PacketType.Pubrec, packetId: 2, reasonCode: 0x10 },
    ]);
    deepStrictEqual(engine.session.state.incoming, [2]);
    like(feed(engine, pubrel(2)), [{ type: "released", packetId: 2, known: true }]);
    equal(engine.takeOutput(), undefined, "PUBCOMP waits for the application");
    engine.acknowledge(2);
    like(sent(engine), [{ type: PacketType.Pubcomp, packetId: 2, reasonCode: 0 }]);
    deepStrictEqual(engine.session.state.incoming, []);
    throws(() => engine.acknowledge(2), ClientStateError, "owed no more");
    equal(engine.takeOutput(), undefined);
  });

  await t.step(
    "PUBACKs and PUBRECs go out in the order the PUBLISHes came [MQTT-4.6.0-2] [MQTT-4.6.0-3]",
    () => {
      const engine = manual();
      feed(engine, [publish("t", 1, 1), publish("t", 2, 2), publish("t", 1, 3)]);
      engine.acknowledge(3);
      equal(engine.takeOutput(), undefined, "3 waits for 1 and 2");
      engine.acknowledge(1);
      like(sent(engine), [{ type: PacketType.Puback, packetId: 1 }]);
      engine.acknowledge(2);
      like(sent(engine), [
        { type: PacketType.Pubrec, packetId: 2 },
        { type: PacketType.Puback, packetId: 3 },
      ]);
    },
  );

  await t.step(
    "in arrival order whatever order the application acknowledges in (property) " +
      "[MQTT-4.6.0-2] [MQTT-4.6.0-3]",
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom<1 | 2>(1, 2), { minLength: 1, maxLength: 12 }).chain((qos) =>
            fc.tuple(
              fc.constant(qos),
              fc.shuffledSubarray(qos.map((_, i) => i), { minLength: qos.length }),
            )
          ),
          ([qos, order]) => {
            const engine = manual();
            feed(engine, qos.map((q, i) => publish("t", q, i + 1)));
            const given = new Set<number>();
            let out: Packet[] = [];
            for (const i of order) {
              engine.acknowledge(i + 1);
              given.add(i);
              out = out.concat(sent(engine));
              // Sent so far: exactly the longest run from the first arrival all acknowledged.
              let prefix = 0;
              while (given.has(prefix)) prefix++;
              deepStrictEqual(
                out.map((p) => [p.type, (p as { packetId: number }).packetId]),
                qos.slice(0, prefix).map((q, j) => [
                  q === 1 ? PacketType.Puback : PacketType.Pubrec,
                  j + 1,
                ]),
              );
            }
          },
        ),
      );
    },
  );

  await t.step(
    "a PUBACK owed is sent once given, whatever PUBCOMP is owed before it " +
      "[MQTT-4.3.2-4] [MQTT-4.6.0-2]",
    () => {
      const engine = manual();
      feed(engine, publish("t", 2, 1));
      engine.acknowledge(1);
      like(sent(engine), [{ type: PacketType.Pubrec, packetId: 1 }]);
      // PUBREL 1 (PUBCOMP now owed), then a QoS 1 PUBLISH 2, acknowledged.
      feed(engine, [pubrel(1), publish("t", 1, 2)]);
      engine.acknowledge(2);
      const afterPuback = sent(engine);
      engine.acknowledge(1);
      const afterPubcomp = sent(engine);
      // The ordering rules bind PUBACKs and PUBRECs, not PUBCOMP: both must be out by now.
      like(
        [...afterPuback, ...afterPubcomp].sort((a, b) => a.type - b.type),
        [{ type: PacketType.Puback, packetId: 2 }, { type: PacketType.Pubcomp, packetId: 1 }],
        `sent after acknowledge(2): ${JSON.stringify(afterPuback)}; ` +
          `after acknowledge(1): ${JSON.stringify(afterPubcomp)}`,
      );
    },
  );

  await t.step(
    "a refusal (0x80) ends a QoS 2 flow: the id may be used again [MQTT-4.3.3-9]",
    () => {
      const engine = manual();
      feed(engine, publish("t", 2, 1));
      engine.acknowledge(1, { reasonCode: 0x80 });
      like(sent(engine), [{ type: PacketType.Pubrec, packetId: 1, reasonCode: 0x80 }]);
      deepStrictEqual(engine.session.state.incoming, []);
      like(feed(engine, publish("t", 2, 1)), [{ type: "message", packetId: 1 }]);
    },
  );

  await t.step("refused with nothing sent for an id that awaits no acknowledgement", () => {
    const engine = manual();
    throws(() => engine.acknowledge(1), ClientStateError);
    feed(engine, publish("t", 1, 1));
    throws(() => engine.acknowledge(1, { reasonCode: 0x04 }), Error, "not a PUBACK code");
    equal(engine.takeOutput(), undefined);
    engine.acknowledge(1);
    like(sent(engine), [{ type: PacketType.Puback, packetId: 1 }]);
  });
});

Deno.test("Engine matches SUBACK and UNSUBACK to their requests", none, async (t) => {
  /** SUBSCRIBE 1 (a/#, b), SUBSCRIBE 2 (c, with Subscription Identifier 7), UNSUBSCRIBE 3 (a/#). */
  const pending = (): Engine => {
    const engine = connected();
    equal(engine.subscribe([{ filter: "a/#", qos: 1 }, { filter: "b", qos: 2, noLocal: true }]), 1);
    equal(engine.subscribe({ filter: "c" }, { subscriptionIdentifier: 7 }), 2);
    equal(engine.unsubscribe("a/#"), 3);
    like(sent(engine), [
      { type: PacketType.Subscribe, packetId: 1 },
      {
        type: PacketType.Subscribe,
        packetId: 2,
        properties: { subscriptionIdentifiers: [7] },
      },
      { type: PacketType.Unsubscribe, packetId: 3, filters: ["a/#"] },
    ]);
    return engine;
  };
  const suback = (packetId: number, ...reasonCodes: number[]): Packet => ({
    type: PacketType.Suback,
    packetId,
    reasonCodes,
  });
  const unsuback = (packetId: number, ...reasonCodes: number[]): Packet => ({
    type: PacketType.Unsuback,
    packetId,
    reasonCodes,
  });
  await runRows(t, [
    {
      name: "in any order, by Packet Identifier [MQTT-2.2.1-6]",
      setup: pending,
      input: [suback(2, 0), unsuback(3, 0), suback(1, 1, 0x80)],
      events: [
        { type: "subscribed", packetId: 2, filters: ["c"], reasonCodes: [0] },
        { type: "unsubscribed", packetId: 3, filters: ["a/#"], reasonCodes: [0] },
        { type: "subscribed", packetId: 1, filters: ["a/#", "b"], reasonCodes: [1, 0x80] },
      ],
    },
    {
      name: "the session records what was granted, not what was refused (section 3.9.3)",
      setup: pending,
      input: [suback(1, 1, 0x80), suback(2, 0)],
      events: [{ type: "subscribed" }, { type: "subscribed" }],
      then: (e) =>
        deepStrictEqual(e.session.state.subscriptions, [
          {
            filter: "a/#",
            qos: 1,
            grantedQoS: 1,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
          },
          {
            filter: "c",
            qos: 0,
            grantedQoS: 0,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
            subscriptionIdentifier: 7,
          },
        ]),
    },
    {
      name: "UNSUBACK removes what it unsubscribed (section 3.11.3)",
      setup: pending,
      input: [suback(1, 1, 2), unsuback(3, 0)],
      events: [{ type: "subscribed" }, { type: "unsubscribed" }],
      then: (e) => deepStrictEqual(e.session.state.subscriptions.map((s) => s.filter), ["b"]),
    },
    {
      name: "UNSUBACK 0x11 No subscription existed: an event [MQTT-3.10.4-5]",
      setup: pending,
      input: unsuback(3, 0x11),
      events: [{ type: "unsubscribed", reasonCodes: [0x11] }],
    },
    {
      name: "SUBACK for no SUBSCRIBE: 0x82 [MQTT-3.8.4-2]",
      setup: pending,
      input: suback(9, 0),
      violation: 0x82,
      statement: "MQTT-3.8.4-2",
    },
    {
      name: "SUBACK with an UNSUBSCRIBE's id: 0x82 [MQTT-3.8.4-2]",
      setup: pending,
      input: suback(3, 0),
      violation: 0x82,
    },
    {
      name: "UNSUBACK for no UNSUBSCRIBE: 0x82 [MQTT-2.2.1-6]",
      setup: pending,
      input: unsuback(1, 0, 0),
      violation: 0x82,
    },
    {
      name: "SUBACK answered twice: 0x82 [MQTT-3.8.4-2]",
      setup: pending,
      input: [suback(2, 0), suback(2, 0)],
      events: [{ type: "subscribed" }],
      violation: 0x82,
    },
    {
      name: "SUBACK with a reason code per filter too few: 0x82 [MQTT-3.8.4-6]",
      setup: pending,
      input: suback(1, 0),
      violation: 0x82,
      statement: "MQTT-3.8.4-6",
    },
    {
      name: "SUBACK with too many: 0x82 [MQTT-3.8.4-6]",
      setup: pending,
      input: suback(2, 0, 0),
      violation: 0x82,
      statement: "MQTT-3.8.4-6",
    },
    {
      name: "UNSUBACK with the wrong count: 0x82 [MQTT-3.11.3-1]",
      setup: pending,
      input: unsuback(3, 0, 0),
      violation: 0x82,
    },
  ]);

  await t.step("a SUBACK of the previous connection's request: 0x82 [MQTT-3.8.4-2]", () => {
    const engine = pending();
    engine.connectionLost("reset");
    engine.connect({ clientId: "c1", cleanStart: false, keepAlive: 0 }, T0);
    engine.takeOutput();
    feed(engine, connack({}, true));
    equal(violation(engine, suback(1, 1, 0)).error.reasonCode, 0x82);
  });

  await t.step(
    "refused with nothing sent where the server has no support (section 3.2.2.3)",
    () => {
      const engine = connected({}, {
        wildcardSubscriptionAvailable: 0,
        sharedSubscriptionAvailable: 0,
        subscriptionIdentifierAvailable: 0,
      });
      const cases: [() => unknown, number][] = [
        [() => engine.subscribe({ filter: "a/+" }), 0xa2],
        [() => engine.subscribe({ filter: "$share/g/a" }), 0x9e],
        [() => engine.subscribe({ filter: "a" }, { subscriptionIdentifier: 1 }), 0xa1],
      ];
      for (const [call, code] of cases) {
        throws(call, (e) => e instanceof ServerCapabilityError && e.reasonCode === code);
      }
      equal(engine.takeOutput(), undefined);
      equal(engine.subscribe({ filter: "a" }), 1, "no Packet Identifier was used");
    },
  );
});
