// The engine's journal: each transition of the session yields its SessionChange, in order, taken
// in the same step as the bytes that depend on it (a driver saves the changes, then writes the
// bytes). Engine tests: no permissions, no I/O.

import { deepStrictEqual, equal } from "node:assert/strict";
import { type Packet, PacketType } from "../../src/codec/mod.ts";
import { Engine, type SessionChange } from "../../src/session/mod.ts";
import { connack, connected, none, packetsOf, T0 } from "../session/_engine.ts";

/** What a driver takes in one synchronous step: the changes, then the bytes, decoded. */
function take(engine: Engine, now?: number): { changes: SessionChange[]; packets: Packet[] } {
  const changes = engine.takeChanges(now);
  return { changes, packets: packetsOf(engine.takeOutput()) };
}

/** The changes' ops and ids, and the packets' types and ids. */
function brief(step: { changes: SessionChange[]; packets: Packet[] }) {
  return {
    changes: step.changes.map((c) => `${c.op}${"packetId" in c ? ` ${c.packetId}` : ""}`),
    packets: step.packets.map((p) =>
      `${p.type}${"packetId" in p && p.packetId !== undefined ? ` ${p.packetId}` : ""}`
    ),
  };
}

const { Publish, Puback, Pubrec, Pubrel, Pubcomp } = PacketType;

Deno.test({
  name: "Engine.takeChanges() gives a QoS 1 publication with its PUBLISH, then its completion",
  ...none,
  fn() {
    const engine = connected({ journal: true });
    engine.takeChanges();
    engine.publish({ topic: "j/1", qos: 1 }, "a");
    const sent = take(engine);
    deepStrictEqual(brief(sent), { changes: ["publish 1"], packets: [`${Publish} 1`] });
    const change = sent.changes[0] as Extract<SessionChange, { op: "publish" }>;
    equal(change.publication.topic, "j/1");
    deepStrictEqual(Array.from(change.publication.payload), [0x61]);
    engine.handle({ type: Puback, packetId: 1 }, T0);
    deepStrictEqual(brief(take(engine)), { changes: ["completed 1"], packets: [] });
  },
});

Deno.test({
  name:
    "Engine.takeChanges() gives a QoS 2 publication before its PUBLISH, its release before PUBREL, its completion",
  ...none,
  fn() {
    const engine = connected({ journal: true });
    engine.takeChanges();
    engine.publish({ topic: "j/2", qos: 2 }, "a");
    deepStrictEqual(brief(take(engine)), { changes: ["publish 1"], packets: [`${Publish} 1`] });
    engine.handle({ type: Pubrec, packetId: 1 }, T0);
    deepStrictEqual(brief(take(engine)), { changes: ["released 1"], packets: [`${Pubrel} 1`] });
    engine.handle({ type: Pubcomp, packetId: 1 }, T0);
    deepStrictEqual(brief(take(engine)), { changes: ["completed 1"], packets: [] });
  },
});

Deno.test({
  name:
    "Engine.takeChanges() gives an incoming QoS 2 id before its PUBREC and its end before PUBCOMP",
  ...none,
  fn() {
    const engine = connected({ journal: true });
    engine.takeChanges();
    engine.handle(
      { type: Publish, topic: "in", payload: new Uint8Array(), qos: 2, packetId: 7 },
      T0,
    );
    deepStrictEqual(brief(take(engine)), { changes: ["incoming 7"], packets: [`${Pubrec} 7`] });
    // The same PUBLISH again: PUBREC again, nothing changes.
    engine.handle(
      { type: Publish, topic: "in", payload: new Uint8Array(), qos: 2, packetId: 7, dup: true },
      T0,
    );
    deepStrictEqual(brief(take(engine)), { changes: [], packets: [`${Pubrec} 7`] });
    engine.handle({ type: Pubrel, packetId: 7 }, T0);
    deepStrictEqual(brief(take(engine)), {
      changes: ["incoming-done 7"],
      packets: [`${Pubcomp} 7`],
    });
    // An incoming QoS 1 publication changes nothing in the session.
    engine.handle(
      { type: Publish, topic: "in", payload: new Uint8Array(), qos: 1, packetId: 8 },
      T0,
    );
    deepStrictEqual(brief(take(engine)), { changes: [], packets: [`${Puback} 8`] });
  },
});

Deno.test({
  name:
    "Engine.takeChanges() in manual mode gives an incoming QoS 2 id when the application gives its PUBREC, even one held for order",
  ...none,
  fn() {
    const engine = connected({ journal: true, manualAck: true });
    engine.takeChanges();
    for (const packetId of [1, 2]) {
      engine.handle(
        { type: Publish, topic: "in", payload: new Uint8Array(), qos: 2, packetId },
        T0,
      );
    }
    deepStrictEqual(brief(take(engine)), { changes: [], packets: [] });
    engine.acknowledge(2); // held behind 1
    deepStrictEqual(brief(take(engine)), { changes: ["incoming 2"], packets: [] });
    engine.acknowledge(1);
    deepStrictEqual(brief(take(engine)), {
      changes: ["incoming 1"],
      packets: [`${Pubrec} 1`, `${Pubrec} 2`],
    });
  },
});

Deno.test({
  name:
    "Engine.takeChanges() gives subscriptions, Clean Start's clear and the client identifier, in order",
  ...none,
  fn() {
    const engine = new Engine({ journal: true });
    engine.connect({ clientId: "", keepAlive: 0, cleanStart: true }, T0);
    engine.receive(connack({ assignedClientIdentifier: "given-1" }), T0);
    deepStrictEqual(engine.takeChanges(), [{ op: "clear" }, {
      op: "client-id",
      clientId: "given-1",
    }]);
    engine.takeOutput();
    engine.subscribe({ filter: "a/#", qos: 1 });
    engine.handle({ type: PacketType.Suback, packetId: 1, reasonCodes: [1] }, T0);
    engine.unsubscribe("a/#");
    engine.handle({ type: PacketType.Unsuback, packetId: 2, reasonCodes: [0] }, T0);
    deepStrictEqual(engine.takeChanges().map((c) => c.op), ["subscribed", "unsubscribed"]);
    deepStrictEqual(engine.takeChanges(), [], "taken once");
  },
});

Deno.test({
  name:
    "Engine.takeChanges(now) stamps the publications with storedAt; without the journal option it is always empty",
  ...none,
  fn() {
    const engine = connected({ journal: true });
    engine.takeChanges();
    engine.publish({ topic: "t", qos: 1 }, "a");
    engine.takeChanges(5_000);
    equal(engine.session.flight(1)?.publication?.storedAt, 5_000);
    engine.publish({ topic: "t", qos: 1 }, "b");
    engine.takeChanges();
    equal(engine.session.flight(2)?.publication?.storedAt, undefined, "no time given");

    const plain = connected();
    plain.publish({ topic: "t", qos: 2 }, "a");
    plain.handle({ type: Pubrec, packetId: 1 }, T0);
    deepStrictEqual(plain.takeChanges(), []);
  },
});

Deno.test({
  name:
    "Engine without the journal option turns the session's journal off: a later journaled engine gets only its own changes",
  ...none,
  fn() {
    const first = connected({ journal: true });
    first.takeChanges();
    first.publish({ topic: "j/handed", qos: 1 }, "a");
    deepStrictEqual(brief(take(first)).changes, ["publish 1"]);
    const session = first.session;
    // Handed to an engine with no store: its transitions are not journaled.
    const plain = connected({ session });
    plain.publish({ topic: "j/plain", qos: 1 }, "b");
    equal(plain.takeChanges().length, 0);
    // Handed back to a journaled engine: its first changes are its own CONNECT's, and nothing
    // of what the engine without a store did.
    const again = connected({ session, journal: true });
    again.publish({ topic: "j/again", qos: 1 }, "c");
    const topics = take(again).changes.flatMap((c) =>
      c.op === "publish" ? [c.publication.topic] : []
    );
    deepStrictEqual(topics, ["j/again"]);
  },
});
