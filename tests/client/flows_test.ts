// The QoS 0, 1 and 2 flows of section 4.3, both ways, against a scripted peer: the flags and Packet
// Identifiers the client writes (read from the raw bytes), what it keeps until which
// acknowledgement, the order of its acknowledgements (4.6), and when an incoming Packet Identifier
// starts a new message.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  decode,
  type IncomingMessageEvent,
  PacketType,
  type PublishOptions,
  Session,
} from "../../mod.ts";
import {
  assertViolation,
  nextEvent,
  openPeer,
  type PeerHarness,
  publishPacket,
  text,
} from "../features/_features.ts";
import { startPeer } from "../_util/peer.ts";
import { readPublish } from "../_util/wire.ts";
import { sessionStore } from "../../src/session/session.ts";

/** The next event, which must be a message. */
async function message(h: PeerHarness): Promise<IncomingMessageEvent> {
  const event = await nextEvent(h.client);
  equal(event.type, "message", `expected a message, got ${JSON.stringify(event)}`);
  return event as IncomingMessageEvent;
}

/** The next packet's bytes, as the client wrote them. */
function raw(h: PeerHarness): Promise<number[]> {
  return h.conn.readPacket().then((bytes) => Array.from(bytes));
}

/** An acknowledgement as the codec decodes it. */
function ack(
  type:
    | typeof PacketType.Puback
    | typeof PacketType.Pubrec
    | typeof PacketType.Pubrel
    | typeof PacketType.Pubcomp,
  packetId: number,
  reasonCode = 0,
) {
  return { type, packetId, reasonCode };
}

Deno.test({
  name: "Client.publish() at QoS 0 sends PUBLISH with QoS 0 and DUP 0 [MQTT-4.3.1-1]",
  async fn() {
    await using h = await openPeer();
    equal(await h.client.publish({ topic: "q0" }, "a"), undefined);
    await h.client.publish({ topic: "q0", retain: true }, "b");
    await h.client.publish({ topic: "q0", qos: 0 }, "c");
    const first = await h.conn.readPacket();
    // 0x30: PUBLISH, DUP 0, QoS 0, RETAIN 0; no Packet Identifier at QoS 0.
    equal(first[0], 0x30);
    deepStrictEqual(readPublish(first), {
      dup: false,
      qos: 0,
      retain: false,
      topic: "q0",
      packetId: undefined,
    });
    equal((await h.conn.readPacket())[0], 0x31, "RETAIN alone is set");
    equal((await h.conn.readPacket())[0], 0x30);
    equal(h.client.session.state.outgoing.length, 0, "nothing is kept at QoS 0");
  },
});

Deno.test({
  name:
    "Client.publish() gives each new QoS 1 or 2 message a Packet Identifier no flight or subscription uses [MQTT-4.3.2-1] [MQTT-4.3.3-1]",
  async fn(t) {
    await t.step("on one connection", async () => {
      await using h = await openPeer();
      const sub = await h.client.subscribe({ filter: "s/#" });
      const ids: number[] = [sub];
      for (let i = 0; i < 6; i++) {
        const id = await h.client.publish({ topic: "p", qos: (1 + i % 2) as 1 | 2 }, `m${i}`);
        ok(id !== undefined && id > 0);
        ok(!ids.includes(id), `Packet Identifier ${id} was handed out twice: ${ids}`);
        ids.push(id);
      }
      // The wire carries the ids publish() returned.
      equal(decode(await h.conn.readPacket()).type, PacketType.Subscribe);
      for (const id of ids.slice(1)) equal(readPublish(await h.conn.readPacket()).packetId, id);
      // The counter comes round to the SUBSCRIBE's id, still awaiting its SUBACK (as after
      // 65,535 allocations): that id is in use, so the next message gets another.
      sessionStore(h.client.session).state.nextPacketId = sub;
      const next = await h.client.publish({ topic: "p", qos: 1 }, "after the wrap");
      ok(next !== undefined && !ids.includes(next), `${next} is in use: ${ids}`);
    });
    await t.step("with ids still in flight from the session", async () => {
      await using peer = await startPeer();
      // The next id to try is 3, but 3 and 4 are flights of the session being resumed.
      const session = new Session({
        clientId: "resume",
        nextPacketId: 3,
        outgoing: [
          {
            packetId: 3,
            state: "awaiting-puback",
            publication: { topic: "old", payload: new Uint8Array(1), qos: 1, retain: false },
          },
          { packetId: 4, state: "awaiting-pubcomp" },
        ],
      });
      await using h = await openPeer({
        peer,
        client: { session },
        connect: { clientId: "resume", cleanStart: false, sessionExpiryInterval: 60 },
        connack: { sessionPresent: true },
      });
      const q1 = await h.client.publish({ topic: "p", qos: 1 }, "new");
      const q2 = await h.client.publish({ topic: "p", qos: 2 }, "new");
      deepStrictEqual([q1, q2], [5, 6]);
      deepStrictEqual(session.state.outgoing.map((f) => f.packetId), [3, 4, 5, 6]);
    });
  },
});

Deno.test({
  name:
    "Client.publish() sends the first transmission with its Packet Identifier, its QoS and DUP 0 [MQTT-4.3.2-2] [MQTT-4.3.3-2]",
  async fn() {
    await using h = await openPeer();
    const q1 = await h.client.publish({ topic: "first", qos: 1 }, "one");
    const q2 = await h.client.publish({ topic: "first", qos: 2, retain: true }, "two");
    const p1 = await h.conn.readPacket();
    const p2 = await h.conn.readPacket();
    // 0x32: PUBLISH, DUP 0, QoS 1; 0x35: PUBLISH, DUP 0, QoS 2, RETAIN.
    equal(p1[0], 0x32);
    equal(p2[0], 0x35);
    deepStrictEqual(readPublish(p1), {
      dup: false,
      qos: 1,
      retain: false,
      topic: "first",
      packetId: q1,
    });
    deepStrictEqual(readPublish(p2), {
      dup: false,
      qos: 2,
      retain: true,
      topic: "first",
      packetId: q2,
    });
  },
});

Deno.test({
  name:
    "Client keeps a QoS 1 PUBLISH until its own PUBACK, across a lost connection [MQTT-4.3.2-3]",
  async fn() {
    await using peer = await startPeer();
    const session = new Session();
    const connect = { clientId: "q1", sessionExpiryInterval: 60 };
    const h1 = await openPeer({ peer, client: { session }, connect });
    const a = await h1.client.publish({ topic: "keep", qos: 1 }, "a");
    const b = await h1.client.publish({ topic: "keep", qos: 1 }, "b");
    await h1.conn.readPacket();
    await h1.conn.readPacket();
    // The PUBACK of b ends b's flight only.
    await h1.send({ type: PacketType.Puback, packetId: b! });
    deepStrictEqual(await nextEvent(h1.client), {
      type: "acknowledged",
      packetId: b,
      reasonCode: 0,
      properties: {},
    });
    equal(session.flight(b!), undefined);
    equal(session.flight(a!)?.state, "awaiting-puback");
    equal(text(session.flight(a!)!.publication!.payload), "a");
    // The connection is lost before a's PUBACK: a is still unacknowledged, and goes out again.
    h1.client.abort();
    h1.conn.close();
    await using h2 = await openPeer({
      peer,
      reuse: h1.client,
      connect: { ...connect, cleanStart: false },
      connack: { sessionPresent: true },
    });
    equal(session.flight(a!)?.state, "awaiting-puback");
    await h2.client.republish(a!);
    const again = await h2.conn.readPacket();
    deepStrictEqual(readPublish(again), {
      dup: true,
      qos: 1,
      retain: false,
      topic: "keep",
      packetId: a,
    });
    await h2.send({ type: PacketType.Puback, packetId: a! });
    equal((await nextEvent(h2.client)).type, "acknowledged");
    equal(session.flight(a!), undefined, "the PUBACK ended it");
    ok(session.isEmpty);
  },
});

Deno.test({
  name:
    "Client keeps a QoS 2 PUBLISH until PUBREC, answers it with PUBREL of the same id, and keeps the PUBREL until PUBCOMP [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.3.3-5]",
  async fn() {
    await using peer = await startPeer();
    const session = new Session();
    const connect = { clientId: "q2", sessionExpiryInterval: 60 };
    const h1 = await openPeer({ peer, client: { session }, connect });
    const a = await h1.client.publish({ topic: "keep", qos: 2 }, "a");
    const b = await h1.client.publish({ topic: "keep", qos: 2 }, "b");
    await h1.conn.readPacket();
    await h1.conn.readPacket();
    equal(session.flight(a!)?.state, "awaiting-pubrec");
    // PUBREC for b: PUBREL for b, with b's id; a is untouched [MQTT-4.3.3-4].
    await h1.send({ type: PacketType.Pubrec, packetId: b! });
    equal((await nextEvent(h1.client)).type, "received");
    deepStrictEqual(decode(await h1.conn.readPacket()), ack(PacketType.Pubrel, b!));
    equal(
      session.flight(a!)?.state,
      "awaiting-pubrec",
      "a waits for its own PUBREC [MQTT-4.3.3-3]",
    );
    equal(text(session.flight(a!)!.publication!.payload), "a");
    equal(session.flight(b!)?.state, "awaiting-pubcomp");
    // Lost before a's PUBREC and b's PUBCOMP.
    h1.client.abort();
    h1.conn.close();
    await using h2 = await openPeer({
      peer,
      reuse: h1.client,
      connect: { ...connect, cleanStart: false },
      connack: { sessionPresent: true },
    });
    deepStrictEqual(await h2.client.resend(), [a, b]);
    // a's PUBLISH again, with DUP; b's PUBREL again, the PUBREL still unacknowledged [MQTT-4.3.3-5].
    deepStrictEqual(readPublish(await h2.conn.readPacket()), {
      dup: true,
      qos: 2,
      retain: false,
      topic: "keep",
      packetId: a,
    });
    deepStrictEqual(decode(await h2.conn.readPacket()), ack(PacketType.Pubrel, b!));
    await h2.send({ type: PacketType.Pubcomp, packetId: b! });
    equal((await nextEvent(h2.client)).type, "completed");
    equal(session.flight(b!), undefined);
    await h2.send({ type: PacketType.Pubrec, packetId: a! });
    equal((await nextEvent(h2.client)).type, "received");
    deepStrictEqual(decode(await h2.conn.readPacket()), ack(PacketType.Pubrel, a!));
    equal(session.flight(a!)?.state, "awaiting-pubcomp");
    await h2.send({ type: PacketType.Pubcomp, packetId: a! });
    equal((await nextEvent(h2.client)).type, "completed");
    ok(session.isEmpty);
    // A failing PUBREC ends the flight with no PUBREL [MQTT-4.3.3-4]: the next packet is the ping.
    const c = await h2.client.publish({ topic: "keep", qos: 2 }, "c");
    await h2.conn.readPacket();
    await h2.send({ type: PacketType.Pubrec, packetId: c!, reasonCode: 0x80 });
    equal((await nextEvent(h2.client)).type, "rejected");
    await h2.client.ping();
    deepStrictEqual(await raw(h2), [0xc0, 0x00]);
  },
});

Deno.test({
  name: "Client sends its PUBRELs in the order the PUBRECs arrived [MQTT-4.6.0-4]",
  async fn() {
    await using h = await openPeer();
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await h.client.publish({ topic: "t", qos: 2 }, `${i}`))!);
    for (const _ of ids) await h.conn.readPacket();
    const order = [ids[2]!, ids[0]!, ids[3]!, ids[1]!];
    // All four PUBRECs in one write, so the client handles them in one read.
    await h.send(
      new Uint8Array(order.flatMap((id) => [0x50, 0x02, id >> 8, id & 0xff])),
    );
    for (const id of order) {
      deepStrictEqual(await nextEvent(h.client), {
        type: "received",
        packetId: id,
        reasonCode: 0,
        properties: {},
      });
    }
    for (const id of order) {
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrel, id));
    }
  },
});

Deno.test({
  name:
    "Client sends PUBACKs and PUBRECs in the order the PUBLISHes arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3]",
  async fn(t) {
    const arrivals: [id: number, qos: 1 | 2][] = [[10, 1], [11, 2], [12, 2], [13, 1], [14, 2]];
    const expected = arrivals.map(([id, qos]) =>
      ack(qos === 1 ? PacketType.Puback : PacketType.Pubrec, id)
    );
    await t.step("automatic acknowledgement", async () => {
      await using h = await openPeer();
      for (const [id, qos] of arrivals) await h.send(publishPacket("t", `${id}`, qos, id));
      for (const [id] of arrivals) equal((await message(h)).packetId, id);
      for (const e of expected) deepStrictEqual(decode(await h.conn.readPacket()), e);
    });
    await t.step("manual acknowledgement given out of order", async () => {
      await using h = await openPeer({ client: { manualAck: true } });
      for (const [id, qos] of arrivals) await h.send(publishPacket("t", `${id}`, qos, id));
      for (const [id] of arrivals) equal((await message(h)).packetId, id);
      for (const id of [14, 12, 11, 13, 10]) await h.client.acknowledge(id);
      for (const e of expected) deepStrictEqual(decode(await h.conn.readPacket()), e);
    });
  },
});

Deno.test({
  name:
    "Client's PUBACK, PUBREC, PUBREL and PUBCOMP carry the Packet Identifier of their PUBLISH, byte for byte [MQTT-2.2.1-5] [MQTT-4.3.2-4] [MQTT-4.3.3-8] [MQTT-4.3.3-11]",
  async fn() {
    await using h = await openPeer();
    // Identifiers whose two bytes differ, so a swapped or truncated one shows.
    await h.send(publishPacket("t", "q1", 1, 0x1234));
    await h.send(publishPacket("t", "q2", 2, 0xfffe));
    equal((await message(h)).packetId, 0x1234);
    equal((await message(h)).packetId, 0xfffe);
    // PUBACK 0x1234 [MQTT-4.3.2-4]; PUBREC 0xfffe [MQTT-4.3.3-8].
    deepStrictEqual(await raw(h), [0x40, 0x02, 0x12, 0x34]);
    deepStrictEqual(await raw(h), [0x50, 0x02, 0xff, 0xfe]);
    await h.send({ type: PacketType.Pubrel, packetId: 0xfffe });
    equal((await nextEvent(h.client)).type, "released");
    // PUBCOMP 0xfffe [MQTT-4.3.3-11].
    deepStrictEqual(await raw(h), [0x70, 0x02, 0xff, 0xfe]);
    // The client's own QoS 2 flight: its PUBREL repeats the id of the PUBLISH and PUBREC.
    const id = (await h.client.publish({ topic: "t", qos: 2 }, "x"))!;
    equal(readPublish(await h.conn.readPacket()).packetId, id);
    await h.send(new Uint8Array([0x50, 0x02, id >> 8, id & 0xff]));
    equal((await nextEvent(h.client)).type, "received");
    deepStrictEqual(await raw(h), [0x62, 0x02, id >> 8, id & 0xff]);
  },
});

Deno.test({
  name:
    "a QoS 1 PUBLISH reusing a Packet Identifier after the client's PUBACK is a new message, whatever its DUP flag [MQTT-4.3.2-5]",
  async fn(t) {
    await t.step("automatic acknowledgement", async () => {
      await using h = await openPeer();
      for (const [payload, dup] of [["one", false], ["two", true], ["three", false]] as const) {
        await h.send({ ...publishPacket("t", payload, 1, 5), dup });
        const m = await message(h);
        equal(text(m.payload), payload, "delivered as a new message");
        equal(m.dup, dup);
        deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Puback, 5));
      }
    });
    await t.step("manual acknowledgement", async () => {
      await using h = await openPeer({ client: { manualAck: true } });
      await h.send(publishPacket("t", "one", 1, 5));
      equal(text((await message(h)).payload), "one");
      await h.client.acknowledge(5);
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Puback, 5));
      await h.send({ ...publishPacket("t", "two", 1, 5), dup: true });
      equal(text((await message(h)).payload), "two");
      await h.client.acknowledge(5);
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Puback, 5));
    });
  },
});

Deno.test({
  name:
    "a QoS 2 PUBLISH reusing a Packet Identifier after a PUBREC of 0x80 or more is a new message [MQTT-4.3.3-9]",
  async fn(t) {
    await t.step("refused by the application (manual acknowledgement)", async () => {
      await using h = await openPeer({ client: { manualAck: true } });
      await h.send(publishPacket("t", "refused", 2, 6));
      equal(text((await message(h)).payload), "refused");
      await h.client.acknowledge(6, { reasonCode: 0x80 });
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrec, 6, 0x80));
      equal(h.client.session.hasIncoming(6), false);
      await h.send({ ...publishPacket("t", "accepted", 2, 6), dup: true });
      // A message, not a duplicate.
      equal(text((await message(h)).payload), "accepted");
      await h.client.acknowledge(6);
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrec, 6));
      // Now it is owned: the same id again is a duplicate until PUBREL.
      await h.send({ ...publishPacket("t", "accepted", 2, 6), dup: true });
      deepStrictEqual(await nextEvent(h.client), { type: "duplicate", packetId: 6, topic: "t" });
    });
    await t.step("refused by the client: a payload that is not UTF-8 (PUBREC 0x99)", async () => {
      await using h = await openPeer();
      await h.send(
        publishPacket("t", new Uint8Array([0xff]), 2, 8, { payloadFormatIndicator: 1 }),
      );
      equal((await nextEvent(h.client)).type, "refused");
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrec, 8, 0x99));
      await h.send({ ...publishPacket("t", "fine", 2, 8), dup: true });
      equal(text((await message(h)).payload), "fine");
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrec, 8));
    });
  },
});

Deno.test({
  name:
    "a QoS 2 PUBLISH reusing a Packet Identifier after the client's PUBCOMP is a new message [MQTT-4.3.3-12]",
  async fn(t) {
    for (const manualAck of [false, true]) {
      await t.step(`${manualAck ? "manual" : "automatic"} acknowledgement`, async () => {
        await using h = await openPeer({ client: { manualAck } });
        await h.send(publishPacket("t", "first", 2, 7));
        equal(text((await message(h)).payload), "first");
        if (manualAck) await h.client.acknowledge(7);
        deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrec, 7));
        await h.send({ type: PacketType.Pubrel, packetId: 7 });
        equal((await nextEvent(h.client)).type, "released");
        if (manualAck) await h.client.acknowledge(7);
        deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubcomp, 7));
        // After PUBCOMP: new, even with DUP set.
        await h.send({ ...publishPacket("t", "second", 2, 7), dup: true });
        equal(text((await message(h)).payload), "second");
        if (manualAck) await h.client.acknowledge(7);
        deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubrec, 7));
      });
    }
  },
});

Deno.test({
  name:
    "Client completes the QoS 2 acknowledgements of a message whose Message Expiry Interval has passed [MQTT-4.3.3-13]",
  async fn() {
    await using auto = await openPeer();
    await using manual = await openPeer({ client: { manualAck: true } });
    for (const h of [auto, manual]) {
      await h.send(publishPacket("t", "short-lived", 2, 3, { messageExpiryInterval: 1 }));
      equal((await message(h)).properties.messageExpiryInterval, 1);
    }
    deepStrictEqual(decode(await auto.conn.readPacket()), ack(PacketType.Pubrec, 3));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Expired now: the manual PUBREC still goes out, and both PUBRELs are completed.
    await manual.client.acknowledge(3);
    deepStrictEqual(decode(await manual.conn.readPacket()), ack(PacketType.Pubrec, 3));
    for (const h of [auto, manual]) {
      await h.send({ type: PacketType.Pubrel, packetId: 3 });
      const released = await nextEvent(h.client);
      ok(released.type === "released" && released.known);
      if (h === manual) await h.client.acknowledge(3);
      deepStrictEqual(decode(await h.conn.readPacket()), ack(PacketType.Pubcomp, 3));
    }
  },
});

Deno.test({
  name:
    "Client.poll() answers a PUBLISH reusing a Packet Identifier it has not acknowledged yet with DISCONNECT 0x82 [MQTT-2.2.1-4]",
  async fn() {
    await using h = await openPeer({ client: { manualAck: true } });
    await h.send(publishPacket("t", "one", 1, 4));
    equal(text((await message(h)).payload), "one");
    // The id is still in use: the client owes its PUBACK.
    await h.send(publishPacket("t", "two", 2, 4));
    await assertViolation(h, h.client.poll(), 0x82);
  },
});

Deno.test({
  name:
    "Client.publish() sets DUP only on its own retransmissions, never from an incoming PUBLISH [MQTT-3.3.1-3]",
  async fn() {
    await using peer = await startPeer();
    const session = new Session();
    const connect = { clientId: "dup", sessionExpiryInterval: 60 };
    const h1 = await openPeer({ peer, client: { session }, connect });
    // The server's retransmissions arrive with DUP 1.
    await h1.send({ ...publishPacket("in", "q1", 1, 21), dup: true });
    await h1.send({ ...publishPacket("in", "q2", 2, 22), dup: true });
    const forwarded: number[] = [];
    for (const qos of [1, 2] as const) {
      const m = await message(h1);
      ok(m.dup);
      // The acknowledgement: PUBACK 0x40 / PUBREC 0x50, flags 0.
      deepStrictEqual(await raw(h1), [qos === 1 ? 0x40 : 0x50, 0x02, 0x00, 20 + qos]);
      // The application forwards the message event as it came, dup included.
      const options = { ...m, topic: "out", qos } as unknown as PublishOptions;
      forwarded.push((await h1.client.publish(options, m.payload))!);
      const out = readPublish(await h1.conn.readPacket());
      deepStrictEqual(out, {
        dup: false,
        qos,
        retain: false,
        topic: "out",
        packetId: forwarded.at(-1),
      });
    }
    // A retransmission after a reconnect is the one case with DUP 1.
    h1.client.abort();
    h1.conn.close();
    await using h2 = await openPeer({
      peer,
      reuse: h1.client,
      connect: { ...connect, cleanStart: false },
      connack: { sessionPresent: true },
    });
    deepStrictEqual(await h2.client.resend(), forwarded);
    for (const id of forwarded) {
      const again = readPublish(await h2.conn.readPacket());
      ok(again.dup && again.packetId === id);
    }
    // New messages on this connection: DUP 0 again.
    const fresh = await h2.client.publish({ topic: "out", qos: 1 }, "new");
    const p = readPublish(await h2.conn.readPacket());
    ok(!p.dup && p.packetId === fresh);
  },
});

Deno.test({
  name:
    "Client.publish() may use every Topic Alias from 1 to the server's Topic Alias Maximum [MQTT-3.3.2-12]",
  async fn(t) {
    await t.step("explicit aliases", async () => {
      await using h = await openPeer({ connack: { properties: { topicAliasMaximum: 3 } } });
      for (const alias of [1, 2, 3]) {
        await h.client.publish({ topic: `alias/${alias}`, properties: { topicAlias: alias } }, "x");
        const p = decode(await h.conn.readPacket());
        ok(p.type === PacketType.Publish);
        equal(p.properties?.topicAlias, alias);
      }
      await h.client.publish({ topic: "", properties: { topicAlias: 3 } }, "by alias");
      const p = decode(await h.conn.readPacket());
      ok(p.type === PacketType.Publish && p.topic === "" && p.properties?.topicAlias === 3);
    });
    await t.step("automatic aliases", async () => {
      await using h = await openPeer({
        client: { topicAliases: "auto" },
        connack: { properties: { topicAliasMaximum: 3 } },
      });
      const seen: (number | undefined)[] = [];
      for (const topic of ["a", "b", "c", "d"]) {
        await h.client.publish({ topic }, "x");
        const p = decode(await h.conn.readPacket());
        ok(p.type === PacketType.Publish);
        seen.push(p.properties?.topicAlias);
      }
      // The three aliases the server allows, then none for the fourth topic.
      deepStrictEqual(seen, [1, 2, 3, undefined]);
    });
  },
});
