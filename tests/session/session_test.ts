// The session without I/O: Packet Identifier allocation, flight transitions, snapshots. Every test
// runs with no permissions at all, which proves the session does no I/O.

import { deepStrictEqual, equal, notStrictEqual, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { Session, type SessionSnapshot, type StoredPublication } from "../../src/session/mod.ts";
// The session's transitions are the engine's (private to the session layer): tested on the store.
import { sessionStore } from "../../src/session/session.ts";

const none = { permissions: "none" } as const;

function pub(qos: 1 | 2, payload: number[] = [1, 2, 3]): StoredPublication {
  return { topic: "t/1", payload: new Uint8Array(payload), qos, retain: false };
}

/** A snapshot as it comes back from storage: through JSON text. */
function throughJson(session: Session): Session {
  return Session.fromSnapshot(JSON.parse(JSON.stringify(session.snapshot())) as SessionSnapshot);
}

Deno.test({
  ...none,
  name:
    "sessionStore(Session).allocatePacketId() skips ids in flight and ids the caller marks in use [MQTT-2.2.1-3]",
  fn() {
    const s = new Session();
    sessionStore(s).addPublication(1, pub(1));
    sessionStore(s).addPublication(2, pub(2));
    // 3 is taken by a pending SUBSCRIBE, known only to the caller.
    equal(sessionStore(s).allocatePacketId((id) => id === 3), 4);
    equal(sessionStore(s).allocatePacketId(), 5);
    sessionStore(s).removeFlight(1);
    sessionStore(s).state.nextPacketId = 1;
    equal(sessionStore(s).allocatePacketId(), 1, "a freed id is used again");
    equal(sessionStore(s).allocatePacketId(), 3, "2 is still in flight");
  },
});

Deno.test({
  ...none,
  name:
    "sessionStore(Session).allocatePacketId() wraps from 65535 to 1 and never gives 0 [MQTT-2.2.1-3]",
  fn() {
    const s = new Session({ nextPacketId: 65_534 });
    equal(sessionStore(s).allocatePacketId(), 65_534);
    equal(sessionStore(s).allocatePacketId(), 65_535);
    equal(s.state.nextPacketId, 1);
    equal(sessionStore(s).allocatePacketId(), 1);

    const t = new Session({ nextPacketId: 65_535 });
    sessionStore(t).addPublication(65_535, pub(1));
    equal(sessionStore(t).allocatePacketId(), 1, "65535 in flight: wraps to 1");
    equal(t.state.nextPacketId, 2);
  },
});

Deno.test({
  ...none,
  name: "sessionStore(Session).allocatePacketId() returns undefined when all 65,535 ids are in use",
  fn() {
    const s = new Session({ nextPacketId: 40_000 });
    for (let id = 1; id <= 65_535; id++) if (id !== 777) sessionStore(s).addPublication(id, pub(1));
    equal(
      sessionStore(s).allocatePacketId(),
      777,
      "the only free id is found wherever the search starts",
    );
    sessionStore(s).addPublication(777, pub(1));
    equal(sessionStore(s).allocatePacketId(), undefined);
    equal(sessionStore(new Session()).allocatePacketId(() => true), undefined);
  },
});

Deno.test({
  ...none,
  name:
    "sessionStore(Session).allocatePacketId() never hands out an id in use, over any sequence (property)",
  fn() {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65_535 }),
        fc.array(fc.oneof(fc.constant("allocate" as const), fc.nat({ max: 40 })), {
          maxLength: 200,
        }),
        (start, ops) => {
          const s = new Session({ nextPacketId: start });
          const inUse: number[] = [];
          for (const op of ops) {
            if (op === "allocate") {
              const id = sessionStore(s).allocatePacketId();
              ok(id !== undefined && id >= 1 && id <= 65_535);
              ok(!inUse.includes(id), `id ${id} handed out twice`);
              sessionStore(s).addPublication(id, pub(1));
              inUse.push(id);
            } else if (inUse.length > 0) {
              const [id] = inUse.splice(op % inUse.length, 1);
              notStrictEqual(sessionStore(s).removeFlight(id!), undefined);
            }
          }
          deepStrictEqual(s.state.outgoing.map((f) => f.packetId).sort(), inUse.slice().sort());
        },
      ),
    );
  },
});

Deno.test({
  ...none,
  name:
    "Session flights: QoS 1 awaits PUBACK; QoS 2 awaits PUBREC, then PUBCOMP without its PUBLISH",
  fn() {
    const s = new Session();
    const a = sessionStore(s).addPublication(10, pub(1));
    const b = sessionStore(s).addPublication(11, pub(2));
    const c = sessionStore(s).addPublication(12, pub(2));
    equal(a.state, "awaiting-puback");
    equal(b.state, "awaiting-pubrec");
    equal(s.flight(11), b);
    deepStrictEqual(b.publication, pub(2));

    sessionStore(s).released(b);
    equal(s.flight(11)?.state, "awaiting-pubcomp");
    equal(s.flight(11)?.publication, undefined, "the PUBLISH is never sent again [MQTT-4.3.3-6]");
    deepStrictEqual(s.state.outgoing.map((f) => [f.packetId, f.state]), [
      [10, "awaiting-puback"],
      [11, "awaiting-pubcomp"],
      [12, "awaiting-pubrec"],
    ]);

    equal(sessionStore(s).removeFlight(11), b);
    equal(sessionStore(s).removeFlight(11), undefined);
    equal(s.flight(11), undefined);
    equal(sessionStore(s).removeFlight(10), a);
    deepStrictEqual(s.state.outgoing, [c], "the order of the rest is kept");
  },
});

Deno.test({
  ...none,
  name: "Session incoming QoS 2 ids: recorded once, known until released",
  fn() {
    const s = new Session();
    sessionStore(s).addIncoming(5);
    sessionStore(s).addIncoming(5);
    sessionStore(s).addIncoming(9);
    deepStrictEqual(s.state.incoming, [5, 9]);
    ok(s.hasIncoming(5));
    equal(sessionStore(s).removeIncoming(5), true);
    equal(sessionStore(s).removeIncoming(5), false);
    ok(!s.hasIncoming(5));
    deepStrictEqual(s.state.incoming, [9]);
  },
});

Deno.test({
  ...none,
  name:
    "Session subscriptions: a filter subscribed again replaces its record; unsubscribe forgets it",
  fn() {
    const s = new Session();
    const rec = {
      qos: 1 as const,
      grantedQoS: 1 as const,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0 as const,
    };
    sessionStore(s).recordSubscriptions([{ filter: "a/#", ...rec }, { filter: "b", ...rec }]);
    sessionStore(s).recordSubscriptions([{ filter: "a/#", ...rec, qos: 2, grantedQoS: 2 }]);
    deepStrictEqual(s.state.subscriptions.map((r) => [r.filter, r.grantedQoS]), [["a/#", 2], [
      "b",
      1,
    ]]);
    sessionStore(s).forgetSubscriptions(["a/#", "nope"]);
    deepStrictEqual(s.state.subscriptions.map((r) => r.filter), ["b"]);
  },
});

Deno.test({
  ...none,
  name: "Session.snapshot() survives JSON text with payload and binary properties byte for byte",
  fn() {
    const s = new Session({ clientId: "sensor-1", nextPacketId: 65_535 });
    const allBytes = Array.from({ length: 256 }, (_, i) => i);
    const big = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    sessionStore(s).addPublication(3, {
      ...pub(1, allBytes),
      retain: true,
      properties: {
        correlationData: new Uint8Array([0, 0xff, 0x80]),
        userProperties: [["k", "v"]],
        messageExpiryInterval: 60,
      },
    });
    sessionStore(s).released(sessionStore(s).addPublication(4, pub(2)));
    sessionStore(s).addPublication(5, { topic: "big", payload: big, qos: 2, retain: false });
    sessionStore(s).addPublication(6, {
      topic: "empty",
      payload: new Uint8Array(0),
      qos: 1,
      retain: false,
    });
    sessionStore(s).addIncoming(77);
    sessionStore(s).recordSubscriptions([{
      filter: "x/+",
      qos: 2,
      grantedQoS: 1,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 2,
      subscriptionIdentifier: 42,
    }]);

    const r = throughJson(s);
    deepStrictEqual(r.state, s.state);
    ok(r.flight(5)?.publication?.payload instanceof Uint8Array);
    deepStrictEqual(r.flight(5)?.publication?.payload, big);
    equal(r.flight(4)?.state, "awaiting-pubcomp");
    equal(r.flight(4)?.publication, undefined);
    // The restored session is a working one: its index and allocator go on from the same state.
    equal(sessionStore(r).allocatePacketId(), 65_535);
    equal(sessionStore(r).allocatePacketId(), 1);
    equal(sessionStore(r).allocatePacketId(), 2);
    equal(sessionStore(r).allocatePacketId(), 7, "3 to 6 are in flight in the restored session");
    sessionStore(r).released(sessionStore(r).flight(5)!);
    equal(s.flight(5)?.state, "awaiting-pubrec", "the copy is independent of the original");
  },
});

Deno.test({
  ...none,
  name: "Session.snapshot() is a copy: later changes do not reach a snapshot taken before",
  fn() {
    const s = new Session({ clientId: "c" });
    sessionStore(s).addPublication(1, pub(1, [9]));
    const snap = s.snapshot();
    s.flight(1)!.publication!.payload[0] = 0;
    sessionStore(s).removeFlight(1);
    const r = Session.fromSnapshot(snap);
    deepStrictEqual(r.flight(1)?.publication?.payload, new Uint8Array([9]));
  },
});

Deno.test({
  ...none,
  name: "Session.fromSnapshot() and the constructor refuse what is not a session",
  fn() {
    throws(() => Session.fromSnapshot({ version: 2 } as unknown as SessionSnapshot), TypeError);
    throws(() => Session.fromSnapshot(null as unknown as SessionSnapshot), TypeError);
    throws(() => new Session({ nextPacketId: 0 }), RangeError);
    throws(() => new Session({ nextPacketId: 65_536 }), RangeError);
  },
});

Deno.test({
  ...none,
  name:
    "sessionStore(Session).clear() forgets flights, incoming ids and subscriptions but keeps the client id",
  fn() {
    const s = new Session({ clientId: "keep-me" });
    sessionStore(s).addPublication(1, pub(1));
    sessionStore(s).addIncoming(2);
    sessionStore(s).recordSubscriptions([{
      filter: "a",
      qos: 0,
      grantedQoS: 0,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
    }]);
    ok(!s.isEmpty);
    sessionStore(s).clear();
    ok(s.isEmpty);
    equal(s.state.clientId, "keep-me");
    equal(s.flight(1), undefined);
    equal(sessionStore(s).allocatePacketId(() => false) !== undefined, true);
    sessionStore(s).state.nextPacketId = 1;
    equal(sessionStore(s).allocatePacketId(), 1, "the cleared id is free");
  },
});
