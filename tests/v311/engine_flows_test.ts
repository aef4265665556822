// The protocol engine's flows on an MQTT 3.1.1 connection (protocolVersion: 4): PUBLISH and its
// acknowledgements both ways (no reason codes, no properties), SUBSCRIBE/SUBACK and
// UNSUBSCRIBE/UNSUBACK, Packet Identifiers, maximumInflight in place of a Receive Maximum,
// recovery with Clean Session 0, acknowledgement order and keep alive. Every test runs with no
// permissions at all, which proves the engine does no I/O.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { PacketType } from "../../src/codec/mod.ts";
import {
  ClientStateError,
  ConnectionClosedError,
  Engine,
  type OutgoingFlight,
  QuotaExceededError,
  Session,
  type SessionState,
} from "../../src/session/mod.ts";
import {
  ack4,
  connack4,
  connected4,
  feed4,
  like,
  none,
  publish4,
  refused,
  runRows4,
  sent4,
  T0,
  thrown,
} from "./_engine.ts";

const PUBACK = PacketType.Puback;
const PUBREC = PacketType.Pubrec;
const PUBREL = PacketType.Pubrel;
const PUBCOMP = PacketType.Pubcomp;

/** The bytes of a 3.1.1 acknowledgement: type and flags, Remaining Length 2, Packet Identifier. */
function ackBytes(first: number, packetId: number): number[] {
  return [first, 0x02, packetId >> 8, packetId & 0xff];
}

/** An engine resumed (Clean Session 0, Session Present 1) with `flights` in its session. */
function resumed(flights: OutgoingFlight[], maximumInflight?: number, nextPacketId = 1): Engine {
  const session = new Session({ clientId: "c1", nextPacketId, outgoing: flights });
  return connected4(
    { cleanStart: false, ...(maximumInflight !== undefined ? { maximumInflight } : {}) },
    { session },
    true,
  );
}

function flight(packetId: number, state: OutgoingFlight["state"]): OutgoingFlight {
  if (state === "awaiting-pubcomp") return { packetId, state };
  return {
    packetId,
    state,
    publication: {
      topic: "t",
      payload: new Uint8Array([packetId]),
      qos: state === "awaiting-puback" ? 1 : 2,
      retain: false,
    },
  };
}

Deno.test(
  "Engine.publish() on 3.1.1 writes PUBLISH field by field at QoS 0, 1 and 2, with no " +
    "properties: DUP 0 on the first transmission, a Packet Identifier at QoS 1 and 2 only " +
    "[v3.1.1 MQTT-3.3.2-1] [v3.1.1 MQTT-3.3.1-3] [v3.1.1 MQTT-4.3.1-1] [v3.1.1 MQTT-4.3.2-1] " +
    "[v3.1.1 MQTT-4.3.3-1] [v3.1.1 MQTT-2.3.1-1] [v3.1.1 MQTT-2.3.1-5]",
  none,
  async (t) => {
    const rows: [qos: 0 | 1 | 2, retain: boolean, first: number, id: number[]][] = [
      [0, false, 0x30, []],
      [0, true, 0x31, []],
      [1, false, 0x32, [0x00, 0x01]],
      [2, true, 0x35, [0x00, 0x01]],
    ];
    for (const [qos, retain, first, id] of rows) {
      await t.step(`QoS ${qos}${retain ? ", RETAIN" : ""}`, () => {
        const engine = connected4();
        equal(engine.publish({ topic: "a/b", qos, retain }, "hi"), qos === 0 ? undefined : 1);
        deepStrictEqual(
          engine.takeOutput(),
          new Uint8Array([
            first, // PUBLISH (type 3): DUP 0, QoS, RETAIN (3.3.1)
            0x07 + id.length, // Remaining Length (2.2.3)
            0x00,
            0x03, // Topic Name length 3 (3.3.2.1)
            0x61,
            0x2f,
            0x62, // Topic Name "a/b"
            ...id, // Packet Identifier, at QoS 1 and 2 only (3.3.2.2); no properties in 3.1.1
            0x68,
            0x69, // Payload "hi" (3.3.3)
          ]),
        );
        equal(engine.session.state.outgoing.length, qos === 0 ? 0 : 1, "QoS 1/2 in flight");
      });
    }
  },
);

Deno.test(
  "Engine on 3.1.1: outgoing QoS 1 and 2 flows, with acknowledgements that carry no reason code",
  none,
  async (t) => {
    const qos1 = () => {
      const e = connected4();
      e.publish({ topic: "t", qos: 1 }, "x");
      e.takeOutput();
      return e;
    };
    const qos2 = () => {
      const e = connected4();
      e.publish({ topic: "t", qos: 2 }, "x");
      e.takeOutput();
      return e;
    };
    const released = () => {
      const e = qos2();
      feed4(e, ack4(PUBREC, 1));
      e.takeOutput();
      return e;
    };
    await runRows4(t, [
      {
        name: "PUBACK ends a QoS 1 flight: acknowledged, reason code 0 [v3.1.1 MQTT-4.3.2-1] " +
          "[v3.1.1 MQTT-2.3.1-6]",
        setup: qos1,
        input: new Uint8Array(ackBytes(0x40, 1)),
        events: [{ type: "acknowledged", packetId: 1, reasonCode: 0, properties: {} }],
        then: (e) => {
          ok(e.session.isEmpty);
          equal(e.sendQuota, 20);
        },
      },
      {
        name: "PUBREC: a bare PUBREL (flags 0010) is queued at once and the PUBLISH is never " +
          "sent again [v3.1.1 MQTT-4.3.3-1] [v3.1.1 MQTT-3.6.1-1] [v3.1.1 MQTT-2.3.1-6]",
        setup: qos2,
        input: new Uint8Array(ackBytes(0x50, 1)),
        out: [{ type: PUBREL, packetId: 1 }],
        events: [{ type: "received", packetId: 1, reasonCode: 0 }],
        then: (e) => {
          equal(e.session.flight(1)?.state, "awaiting-pubcomp");
          equal(e.session.flight(1)?.publication, undefined, "the publication is let go");
        },
      },
      {
        name: "PUBCOMP ends a QoS 2 flight: completed [v3.1.1 MQTT-4.3.3-1]",
        setup: released,
        input: new Uint8Array(ackBytes(0x70, 1)),
        events: [{ type: "completed", packetId: 1, reasonCode: 0 }],
        then: (e) => ok(e.session.isEmpty),
      },
      {
        name: "PUBREC again for a flight awaiting PUBCOMP: PUBREL again, no event",
        setup: released,
        input: ack4(PUBREC, 1),
        out: [{ type: PUBREL, packetId: 1 }],
        then: (e) => equal(e.session.flight(1)?.state, "awaiting-pubcomp"),
      },
      {
        name: "PUBREC for a Packet Identifier not in flight: a plain PUBREL (3.1.1 has no 0x92)",
        input: ack4(PUBREC, 9),
        out: [{ type: PUBREL, packetId: 9 }],
        then: (e) => equal(e.state, "connected"),
      },
    ]);

    await t.step("the PUBREL of an unknown PUBREC is exactly 62 02 00 09", () => {
      const engine = connected4();
      feed4(engine, ack4(PUBREC, 9));
      deepStrictEqual(engine.takeOutput(), new Uint8Array(ackBytes(0x62, 9)));
    });
  },
);

Deno.test(
  "Engine on 3.1.1: incoming publications are acknowledged per QoS, at once, with plain " +
    "acknowledgements [v3.1.1 MQTT-3.3.4-1] [v3.1.1 MQTT-4.5.0-2]",
  none,
  async (t) => {
    const owningQoS2 = () => {
      const e = connected4();
      feed4(e, publish4("t", 2, 5));
      e.takeOutput();
      return e;
    };
    await runRows4(t, [
      {
        name: "QoS 0: delivered, nothing sent",
        input: publish4("t", 0),
        events: [{ type: "message", topic: "t", qos: 0, packetId: undefined, dup: false }],
      },
      {
        name: "QoS 1: PUBACK with its Packet Identifier [v3.1.1 MQTT-4.3.2-2] " +
          "[v3.1.1 MQTT-2.3.1-6]",
        input: publish4("t", 1, 5),
        out: [{ type: PUBACK, packetId: 5 }],
        events: [{ type: "message", qos: 1, packetId: 5 }],
      },
      {
        name: "QoS 1 again with the same id after its PUBACK: a new publication, whatever DUP " +
          "says [v3.1.1 MQTT-4.3.2-2]",
        setup: () => {
          const e = connected4();
          feed4(e, publish4("t", 1, 5));
          e.takeOutput();
          return e;
        },
        input: publish4("t", 1, 5, true),
        out: [{ type: PUBACK, packetId: 5 }],
        events: [{ type: "message", packetId: 5, dup: true }],
      },
      {
        name: "QoS 2: PUBREC with its Packet Identifier; the id awaits PUBREL " +
          "[v3.1.1 MQTT-4.3.3-2] [v3.1.1 MQTT-2.3.1-6]",
        input: publish4("t", 2, 5),
        out: [{ type: PUBREC, packetId: 5 }],
        events: [{ type: "message", qos: 2, packetId: 5 }],
        then: (e) => deepStrictEqual(e.session.state.incoming, [5]),
      },
      {
        name: "QoS 2 again before PUBREL: PUBREC again, not delivered twice " +
          "[v3.1.1 MQTT-4.3.3-2]",
        setup: owningQoS2,
        input: publish4("t", 2, 5, true),
        out: [{ type: PUBREC, packetId: 5 }],
        events: [{ type: "duplicate", packetId: 5, topic: "t" }],
      },
      {
        name: "PUBREL: PUBCOMP with its Packet Identifier; the id is new again " +
          "[v3.1.1 MQTT-4.3.3-2] [v3.1.1 MQTT-2.3.1-6]",
        setup: owningQoS2,
        input: [ack4(PUBREL, 5), publish4("t", 2, 5)],
        out: [{ type: PUBCOMP, packetId: 5 }, { type: PUBREC, packetId: 5 }],
        events: [
          { type: "released", packetId: 5, reasonCode: 0, known: true },
          { type: "message", packetId: 5 },
        ],
      },
      {
        name: "PUBREL for an id awaiting none: a plain PUBCOMP (3.1.1 has no 0x92)",
        input: ack4(PUBREL, 9),
        out: [{ type: PUBCOMP, packetId: 9 }],
        events: [{ type: "released", packetId: 9, reasonCode: 0, known: false }],
      },
    ]);

    await t.step("the acknowledgements are exactly 40/50/70 02 and the id", () => {
      const engine = connected4();
      feed4(engine, [publish4("t", 1, 1), publish4("t", 2, 2), ack4(PUBREL, 2), ack4(PUBREL, 3)]);
      deepStrictEqual(
        engine.takeOutput(),
        new Uint8Array([
          ...ackBytes(0x40, 1), // PUBACK 1
          ...ackBytes(0x50, 2), // PUBREC 2
          ...ackBytes(0x70, 2), // PUBCOMP 2
          ...ackBytes(0x70, 3), // PUBCOMP 3, unknown: still no reason code
        ]),
      );
    });

    await t.step("queued before the application takes the event", () => {
      const engine = connected4();
      engine.receive(new Uint8Array([0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x07]), T0);
      deepStrictEqual(engine.takeOutput(), new Uint8Array(ackBytes(0x40, 7)));
      equal(engine.nextEvent()?.type, "message");
    });
  },
);

Deno.test("Engine on 3.1.1: SUBSCRIBE and SUBACK, UNSUBSCRIBE and UNSUBACK", none, async (t) => {
  await t.step(
    "SUBSCRIBE field by field: flags 0010, Packet Identifier, filters with their QoS " +
      "[v3.1.1 MQTT-3.8.1-1] [v3.1.1 MQTT-2.3.1-1]",
    () => {
      const engine = connected4();
      equal(engine.subscribe([{ filter: "a/+", qos: 1 }, { filter: "#", qos: 2 }]), 1);
      deepStrictEqual(
        engine.takeOutput(),
        new Uint8Array([
          0x82, // SUBSCRIBE (type 8), flags 0010 (3.8.1)
          0x0c, // Remaining Length 12
          0x00,
          0x01, // Packet Identifier 1 (3.8.2); no properties in 3.1.1
          0x00,
          0x03,
          0x61,
          0x2f,
          0x2b, // Topic Filter "a/+" (3.8.3)
          0x01, // Requested QoS 1
          0x00,
          0x01,
          0x23, // Topic Filter "#"
          0x02, // Requested QoS 2
        ]),
      );
    },
  );

  await t.step(
    "SUBACK: one return code per filter, in order, 0x80 a failure; the session records what " +
      "was granted [v3.1.1 MQTT-3.8.4-4] [v3.1.1 MQTT-3.9.3-1] [v3.1.1 MQTT-3.8.3-2]",
    () => {
      const engine = connected4();
      engine.subscribe([{ filter: "a", qos: 2 }, { filter: "b/+", qos: 1 }, { filter: "c" }]);
      engine.takeOutput();
      // SUBACK 1: granted QoS 1, failure, granted QoS 0.
      const events = feed4(engine, new Uint8Array([0x90, 0x05, 0x00, 0x01, 0x01, 0x80, 0x00]));
      like(events, [{
        type: "subscribed",
        packetId: 1,
        reasonCodes: [0x01, 0x80, 0x00],
        filters: ["a", "b/+", "c"],
      }]);
      deepStrictEqual(
        engine.session.state.subscriptions.map((s) => [s.filter, s.grantedQoS]),
        [["a", 1], ["c", 0]],
      );
      equal(engine.takeOutput(), undefined);
    },
  );

  await t.step(
    "UNSUBSCRIBE field by field (flags 0010); UNSUBACK carries no codes, so every filter " +
      "reads 0x00 [v3.1.1 MQTT-3.10.1-1] [v3.1.1 MQTT-3.10.4-4] [v3.1.1 MQTT-3.10.4-5] " +
      "[v3.1.1 MQTT-3.10.4-6]",
    () => {
      const engine = connected4();
      engine.subscribe([{ filter: "a" }, { filter: "b" }]);
      feed4(engine, { type: PacketType.Suback, packetId: 1, reasonCodes: [0, 0] });
      engine.takeOutput();
      equal(engine.unsubscribe(["a", "b", "never"]), 2);
      deepStrictEqual(
        engine.takeOutput(),
        new Uint8Array([
          0xa2, // UNSUBSCRIBE (type 10), flags 0010 (3.10.1)
          0x0f, // Remaining Length 15
          0x00,
          0x02, // Packet Identifier 2 (3.10.2)
          0x00,
          0x01,
          0x61, // "a"
          0x00,
          0x01,
          0x62, // "b"
          0x00,
          0x05,
          0x6e,
          0x65,
          0x76,
          0x65,
          0x72, // "never"
        ]),
      );
      // UNSUBACK 2: Remaining Length 2, the Packet Identifier alone (3.11).
      like(feed4(engine, new Uint8Array([0xb0, 0x02, 0x00, 0x02])), [{
        type: "unsubscribed",
        packetId: 2,
        reasonCodes: [0, 0, 0],
        filters: ["a", "b", "never"],
        properties: {},
      }]);
      deepStrictEqual(engine.session.state.subscriptions, []);
    },
  );

  await t.step("SUBACK and UNSUBACK are matched by Packet Identifier, in any order", () => {
    const engine = connected4();
    engine.subscribe({ filter: "a" });
    engine.unsubscribe("b");
    engine.subscribe({ filter: "c", qos: 1 });
    engine.takeOutput();
    const events = feed4(engine, [
      { type: PacketType.Suback, packetId: 3, reasonCodes: [1] },
      ack4(PacketType.Unsuback, 2),
      { type: PacketType.Suback, packetId: 1, reasonCodes: [0] },
    ]);
    like(events, [
      { type: "subscribed", packetId: 3, filters: ["c"] },
      { type: "unsubscribed", packetId: 2, filters: ["b"], reasonCodes: [0] },
      { type: "subscribed", packetId: 1, filters: ["a"] },
    ]);
  });

  await t.step(
    "a QoS 1 publication that comes after UNSUBSCRIBE is still acknowledged " +
      "[v3.1.1 MQTT-3.10.4-3]",
    () => {
      const engine = connected4();
      engine.unsubscribe("t");
      engine.takeOutput();
      const events = feed4(engine, [publish4("t", 1, 4), ack4(PacketType.Unsuback, 1)]);
      like(events, [{ type: "message", packetId: 4 }, { type: "unsubscribed", packetId: 1 }]);
      like(sent4(engine), [{ type: PUBACK, packetId: 4 }]);
    },
  );
});

Deno.test(
  "Engine on 3.1.1 gives non-zero Packet Identifiers that are not in use, and frees them only " +
    "once the flow is over [v3.1.1 MQTT-2.3.1-1] [v3.1.1 MQTT-2.3.1-2] [v3.1.1 MQTT-2.3.1-3]",
  none,
  async (t) => {
    await t.step("skipping the ids of resumed flights and of a pending SUBSCRIBE", () => {
      const engine = resumed([flight(1, "awaiting-puback"), flight(3, "awaiting-pubcomp")]);
      const ids = [
        engine.publish({ topic: "t", qos: 1 }),
        engine.subscribe({ filter: "t" }),
        engine.publish({ topic: "t", qos: 2 }),
        engine.unsubscribe("t"),
      ];
      deepStrictEqual(ids, [2, 4, 5, 6]);
    });

    await t.step("never 0: after 65535 comes 1", () => {
      const engine = resumed([], undefined, 65_535);
      equal(engine.publish({ topic: "t", qos: 1 }), 65_535);
      equal(engine.subscribe({ filter: "t" }), 1);
      deepStrictEqual(
        sent4(engine).map((p) => (p as { packetId?: number }).packetId),
        [65_535, 1],
      );
    });

    await t.step(
      "an id is reused only after PUBACK, PUBCOMP, SUBACK or UNSUBACK; not after PUBREC",
      () => {
        const engine = resumed([], 10);
        const ids = [
          engine.publish({ topic: "t", qos: 1 }), // 1: PUBACK frees it
          engine.publish({ topic: "t", qos: 2 }), // 2: PUBREC does not free it
          engine.publish({ topic: "t", qos: 2 }), // 3: PUBCOMP frees it
          engine.subscribe({ filter: "t" }), // 4: SUBACK frees it
          engine.unsubscribe("t"), // 5: UNSUBACK frees it
          engine.subscribe({ filter: "u" }), // 6: no SUBACK yet
        ];
        deepStrictEqual(ids, [1, 2, 3, 4, 5, 6]);
        feed4(engine, [
          ack4(PUBACK, 1),
          ack4(PUBREC, 2),
          ack4(PUBREC, 3),
          ack4(PUBCOMP, 3),
          { type: PacketType.Suback, packetId: 4, reasonCodes: [0] },
          ack4(PacketType.Unsuback, 5),
        ]);
        engine.takeOutput();
        // The session carries on to a new connection from id 1 again: only 2 and 6 are in
        // use there (a SUBSCRIBE unanswered on the old connection is not).
        const again = new Engine({
          session: new Session({
            ...structuredClone(engine.session.state as SessionState),
            nextPacketId: 1,
          }),
        });
        again.connect({ protocolVersion: 4, clientId: "c1", cleanStart: false }, T0);
        feed4(again, connack4(0, true));
        again.takeOutput();
        const next = [1, 2, 3].map(() => again.subscribe({ filter: "t" }));
        deepStrictEqual(next, [1, 3, 4], "2 awaits PUBCOMP");
      },
    );

    await t.step("a resent PUBLISH and PUBREL keep their Packet Identifier", () => {
      const engine = resumed([flight(7, "awaiting-pubrec"), flight(9, "awaiting-pubcomp")]);
      deepStrictEqual(engine.resend(), [7, 9]);
      like(sent4(engine), [
        { type: PacketType.Publish, packetId: 7, dup: true, qos: 2 },
        { type: PUBREL, packetId: 9 },
      ]);
    });
  },
);

Deno.test(
  "Engine on 3.1.1: maximumInflight is the send quota for QoS 1 and 2 publications",
  none,
  async (t) => {
    await t.step("the next one is refused with nothing queued until an ack frees a slot", () => {
      const engine = connected4({ maximumInflight: 2 });
      equal(engine.publish({ topic: "t", qos: 1 }), 1);
      equal(engine.publish({ topic: "t", qos: 2 }), 2);
      engine.takeOutput();
      equal(engine.sendQuota, 0);
      const error = refused(
        engine,
        () => engine.publish({ topic: "t", qos: 1 }),
        QuotaExceededError,
      );
      equal(error.receiveMaximum, 2);
      equal(error.recoverable, true);
      equal(engine.publish({ topic: "t", qos: 0 }), undefined, "QoS 0 is not counted");
      engine.takeOutput();
      feed4(engine, ack4(PUBREC, 2));
      engine.takeOutput();
      equal(engine.sendQuota, 0, "a flight awaiting PUBCOMP still counts");
      feed4(engine, ack4(PUBACK, 1));
      equal(engine.sendQuota, 1);
      equal(engine.publish({ topic: "t", qos: 1 }), 3);
    });

    await t.step(
      "resend() after a resume: PUBRELs never held back, PUBLISHes with DUP as the quota " +
        "allows, in their original order, the rest in heldBack [v3.1.1 MQTT-4.4.0-1] " +
        "[v3.1.1 MQTT-4.6.0-1] [v3.1.1 MQTT-3.3.1-1]",
      () => {
        const engine = resumed(
          [
            flight(1, "awaiting-puback"),
            flight(2, "awaiting-pubcomp"),
            flight(3, "awaiting-pubrec"),
            flight(4, "awaiting-puback"),
          ],
          1,
        );
        deepStrictEqual(engine.heldBack, [1, 2, 3, 4]);
        deepStrictEqual(engine.resend(), [1, 2]);
        like(sent4(engine), [
          {
            type: PacketType.Publish,
            packetId: 1,
            qos: 1,
            dup: true,
            payload: new Uint8Array([1]),
          },
          { type: PUBREL, packetId: 2 },
        ]);
        deepStrictEqual(engine.heldBack, [3, 4]);
        refused(engine, () => engine.republish(3), QuotaExceededError);
        feed4(engine, ack4(PUBACK, 1));
        deepStrictEqual(engine.resend(), [], "the PUBREL still uses the one slot");
        feed4(engine, ack4(PUBCOMP, 2));
        deepStrictEqual(engine.resend(), [3]);
        like(sent4(engine), [{ type: PacketType.Publish, packetId: 3, qos: 2, dup: true }]);
        deepStrictEqual(engine.heldBack, [4]);
        feed4(engine, ack4(PUBREC, 3));
        like(sent4(engine), [{ type: PUBREL, packetId: 3 }]);
        deepStrictEqual(engine.resend(), []);
        feed4(engine, ack4(PUBCOMP, 3));
        deepStrictEqual(engine.resend(), [4]);
        like(sent4(engine), [{ type: PacketType.Publish, packetId: 4, dup: true }]);
        deepStrictEqual(engine.heldBack, []);
        equal(engine.sendQuota, 0);
      },
    );

    await t.step(
      "a flight awaiting PUBCOMP is released again, never published again " +
        "[v3.1.1 MQTT-4.3.3-1]",
      () => {
        const engine = resumed([flight(2, "awaiting-pubcomp")]);
        const error = thrown(() => engine.republish(2));
        ok(error instanceof ClientStateError, String(error));
        equal(engine.takeOutput(), undefined);
        engine.rerelease(2);
        deepStrictEqual(engine.takeOutput(), new Uint8Array(ackBytes(0x62, 2)));
      },
    );

    await t.step("a flight sent on this connection is not sent again on it", () => {
      const engine = connected4({ cleanStart: false });
      engine.publish({ topic: "t", qos: 1 });
      engine.takeOutput();
      refused(engine, () => engine.republish(1), ClientStateError);
      deepStrictEqual(engine.resend(), []);
    });
  },
);

Deno.test(
  "Engine on 3.1.1 sends its acknowledgements in the order the publications and PUBRECs came " +
    "[v3.1.1 MQTT-4.6.0-2] [v3.1.1 MQTT-4.6.0-3] [v3.1.1 MQTT-4.6.0-4]",
  none,
  async (t) => {
    const manual = () => connected4({}, { manualAck: true });

    await t.step("PUBACKs in arrival order: one given early waits for those before it", () => {
      const engine = manual();
      feed4(engine, [publish4("t", 1, 1), publish4("t", 1, 2), publish4("t", 1, 3)]);
      equal(engine.takeOutput(), undefined, "manual: nothing yet");
      engine.acknowledge(3);
      engine.acknowledge(1);
      like(sent4(engine), [{ type: PUBACK, packetId: 1 }]);
      engine.acknowledge(2);
      like(sent4(engine), [{ type: PUBACK, packetId: 2 }, { type: PUBACK, packetId: 3 }]);
    });

    await t.step("PUBRECs in arrival order, mixed with PUBACKs", () => {
      const engine = manual();
      feed4(engine, [publish4("t", 2, 1), publish4("t", 1, 2), publish4("t", 2, 3)]);
      engine.acknowledge(3);
      engine.acknowledge(2);
      equal(engine.takeOutput(), undefined, "all wait for 1");
      engine.acknowledge(1);
      like(sent4(engine), [
        { type: PUBREC, packetId: 1 },
        { type: PUBACK, packetId: 2 },
        { type: PUBREC, packetId: 3 },
      ]);
    });

    await t.step("a PUBCOMP owed holds no PUBACK back", () => {
      const engine = manual();
      feed4(engine, publish4("t", 2, 1));
      engine.acknowledge(1);
      feed4(engine, [ack4(PUBREL, 1), publish4("t", 1, 2)]);
      like(sent4(engine), [{ type: PUBREC, packetId: 1 }]);
      engine.acknowledge(2);
      like(sent4(engine), [{ type: PUBACK, packetId: 2 }]);
      engine.acknowledge(1);
      like(sent4(engine), [{ type: PUBCOMP, packetId: 1 }]);
    });

    await t.step("automatic mode: PUBACKs and PUBRECs as the publications come", () => {
      const engine = connected4();
      feed4(engine, [publish4("t", 1, 3), publish4("t", 2, 1), publish4("t", 1, 2)]);
      like(sent4(engine), [
        { type: PUBACK, packetId: 3 },
        { type: PUBREC, packetId: 1 },
        { type: PUBACK, packetId: 2 },
      ]);
    });

    await t.step("PUBRELs in the order the PUBRECs came, not the order published", () => {
      const engine = connected4();
      for (let i = 0; i < 3; i++) engine.publish({ topic: "t", qos: 2 });
      engine.takeOutput();
      feed4(engine, [ack4(PUBREC, 2), ack4(PUBREC, 3), ack4(PUBREC, 1)]);
      like(sent4(engine), [
        { type: PUBREL, packetId: 2 },
        { type: PUBREL, packetId: 3 },
        { type: PUBREL, packetId: 1 },
      ]);
    });
  },
);

Deno.test("Engine keep alive on 3.1.1, with the time passed in", none, async (t) => {
  const up = (pingTimeout?: number) =>
    connected4({ keepAlive: 10 }, pingTimeout === undefined ? {} : { pingTimeout });

  await t.step(
    "PINGREQ is due Keep Alive seconds after the last packet sent, well within the server's " +
      "1.5 times [v3.1.1 MQTT-3.1.2-23] [v3.1.1 MQTT-3.1.2-24]",
    () => {
      const engine = up();
      deepStrictEqual(engine.keepAlive, {
        interval: 10,
        pingDueAt: T0 + 10_000,
        deadline: T0 + 20_000,
      });
      engine.publish({ topic: "t" }, "x");
      engine.takeOutput(T0 + 3_000);
      equal(engine.keepAlive.pingDueAt, T0 + 13_000, "a write moves it");
      feed4(engine, publish4("t", 0), T0 + 5_000);
      equal(engine.keepAlive.pingDueAt, T0 + 13_000, "receiving does not");
      engine.handleTimeout(T0 + 12_999);
      equal(engine.takeOutput(), undefined, "not before it is due");
      engine.handleTimeout(T0 + 13_000);
      // PINGREQ (type 12), Remaining Length 0.
      deepStrictEqual(engine.takeOutput(T0 + 13_000), new Uint8Array([0xc0, 0x00]));
      equal(engine.keepAlive.pingDueAt, T0 + 23_000);
    },
  );

  await t.step(
    "a loop that sleeps until engine.timeout never leaves more than Keep Alive between " +
      "packets sent [v3.1.1 MQTT-3.1.2-23]",
    () => {
      const engine = up();
      const writes = [T0];
      let now = T0;
      for (let i = 0; i < 20; i++) {
        // The application publishes now and then; keep alive fills the silences.
        if (i % 7 === 3) {
          engine.publish({ topic: "t" }, "x");
          engine.takeOutput(now + 1_234);
          writes.push(now + 1_234);
        }
        now = engine.timeout!;
        engine.handleTimeout(now);
        const out = engine.takeOutput(now);
        if (out !== undefined) {
          deepStrictEqual(out, new Uint8Array([0xc0, 0x00]));
          writes.push(now);
          feed4(engine, { type: PacketType.Pingresp }, now + 50);
        }
      }
      const gaps = writes.slice(1).map((w, i) => w - writes[i]!);
      ok(gaps.every((g) => g <= 10_000), `gaps ${gaps}`);
      ok(writes.length > 15, `${writes.length} writes`);
    },
  );

  await t.step("PINGRESP makes a pong event [v3.1.1 MQTT-3.12.4-1]", () => {
    const engine = up();
    engine.ping(T0);
    deepStrictEqual(engine.takeOutput(T0), new Uint8Array([0xc0, 0x00]));
    like(feed4(engine, new Uint8Array([0xd0, 0x00]), T0 + 10), [{ type: "pong" }]);
  });

  await t.step(
    "no answer by the deadline: ConnectionClosedError, and no DISCONNECT queued",
    () => {
      const engine = up(2_000);
      engine.handleTimeout(T0 + 10_000);
      engine.takeOutput(T0 + 10_000);
      engine.handleTimeout(T0 + 11_999);
      equal(engine.state, "connected");
      const error = thrown(() => engine.handleTimeout(T0 + 12_000));
      ok(error instanceof ConnectionClosedError, String(error));
      equal(engine.state, "closed");
      equal(engine.takeOutput(), undefined);
    },
  );

  await t.step("Keep Alive 0: nothing timed", () => {
    const engine = connected4({ keepAlive: 0 });
    equal(engine.timeout, undefined);
    engine.handleTimeout(T0 + 86_400_000);
    equal(engine.takeOutput(), undefined);
    equal(engine.state, "connected");
  });
});
