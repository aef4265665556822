// The client's Session State (4.1) against a scripted peer: kept whole while connected, whatever
// else happens on the connection, and kept after the connection closes when the Session Expiry
// Interval is above 0, however it closes, so that a resume picks up every flow where it stopped.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  ConnectionClosedError,
  decode,
  type DeepReadonly,
  PacketType,
  Session,
  type SessionState,
} from "../../mod.ts";
import {
  message,
  nextEvent,
  openPeer,
  type PeerHarness,
  publishPacket,
  text,
  waitFor,
} from "../features/_features.ts";
import { startPeer } from "../_util/peer.ts";
import { readPublish } from "../_util/wire.ts";

/**
 * Builds a session with one of each kind of state: a QoS 1 flight awaiting PUBACK, a QoS 2 flight
 * awaiting PUBCOMP, an incoming QoS 2 id awaiting PUBREL, and a subscription. Returns the ids.
 */
async function fill(h: PeerHarness): Promise<{ q1: number; q2: number; incoming: number }> {
  const q1 = (await h.client.publish({ topic: "state/q1", qos: 1 }, "one"))!;
  const q2 = (await h.client.publish({ topic: "state/q2", qos: 2 }, "two"))!;
  const sub = await h.client.subscribe({ filter: "state/#", qos: 2 });
  for (let i = 0; i < 3; i++) await h.conn.readPacket();
  await h.send({ type: PacketType.Pubrec, packetId: q2 });
  equal((await nextEvent(h.client)).type, "received");
  equal(decode(await h.conn.readPacket()).type, PacketType.Pubrel);
  await h.send({ type: PacketType.Suback, packetId: sub, reasonCodes: [2] });
  await waitFor(h.client, "subscribed");
  await h.send(publishPacket("state/in", "incoming", 2, 70));
  equal(text((await message(h.client)).payload), "incoming");
  equal(decode(await h.conn.readPacket()).type, PacketType.Pubrec);
  return { q1, q2, incoming: 70 };
}

/** The parts of the state that must not change, as comparable data. */
function shape(state: DeepReadonly<SessionState>): unknown {
  return {
    outgoing: state.outgoing.map((f) => ({
      packetId: f.packetId,
      state: f.state,
      payload: f.publication ? text(f.publication.payload) : undefined,
    })),
    incoming: [...state.incoming],
    subscriptions: state.subscriptions.map((s) => [s.filter, s.grantedQoS]),
  };
}

/** Checks on a resumed connection that every flow goes on from where it stopped. */
async function resumed(h: PeerHarness, ids: { q1: number; q2: number; incoming: number }) {
  deepStrictEqual(await h.client.resend(), [ids.q1, ids.q2]);
  const again = readPublish(await h.conn.readPacket());
  ok(again.dup && again.packetId === ids.q1 && again.topic === "state/q1");
  deepStrictEqual(decode(await h.conn.readPacket()), {
    type: PacketType.Pubrel,
    packetId: ids.q2,
    reasonCode: 0,
  });
  // The server sends the incoming QoS 2 message again: still known, not delivered twice.
  await h.send({ ...publishPacket("state/in", "incoming", 2, ids.incoming), dup: true });
  deepStrictEqual(await nextEvent(h.client), {
    type: "duplicate",
    packetId: ids.incoming,
    topic: "state/in",
  });
  equal(decode(await h.conn.readPacket()).type, PacketType.Pubrec);
  await h.send({ type: PacketType.Pubrel, packetId: ids.incoming });
  const released = await nextEvent(h.client);
  ok(released.type === "released" && released.known);
  await h.send({ type: PacketType.Puback, packetId: ids.q1 });
  await h.send({ type: PacketType.Pubcomp, packetId: ids.q2 });
  equal((await nextEvent(h.client)).type, "acknowledged");
  equal((await nextEvent(h.client)).type, "completed");
  deepStrictEqual(h.client.session.state.outgoing, []);
  deepStrictEqual(h.client.session.state.incoming, []);
}

Deno.test({
  name:
    "Client keeps its whole Session State while connected, whatever else the connection carries [MQTT-4.1.0-1]",
  async fn() {
    await using h = await openPeer({ connect: { sessionExpiryInterval: 0 } });
    const ids = await fill(h);
    const before = shape(h.client.session.state);
    // Unrelated traffic: messages at every QoS, a complete QoS 2 flow, other flights, a second
    // subscription and an unsubscription, a ping.
    await h.send(publishPacket("other", "q0", 0));
    await h.send(publishPacket("other", "q1", 1, 71));
    await h.send(publishPacket("other", "q2", 2, 72));
    await h.send({ type: PacketType.Pubrel, packetId: 72 });
    for (const type of ["message", "message", "message", "released"]) {
      equal((await nextEvent(h.client)).type, type);
    }
    const extra = (await h.client.publish({ topic: "other", qos: 1 }, "x"))!;
    const sub = await h.client.subscribe({ filter: "other/#" });
    const unsub = await h.client.unsubscribe("other/#");
    await h.client.ping();
    for (let i = 0; i < 3 + 3; i++) await h.conn.readPacket(); // PUBACK, PUBREC, PUBCOMP; ours
    equal((await h.conn.readPacket())[0], 0xc0);
    await h.send({ type: PacketType.Puback, packetId: extra });
    await h.send({ type: PacketType.Suback, packetId: sub, reasonCodes: [0] });
    await h.send({ type: PacketType.Unsuback, packetId: unsub, reasonCodes: [0] });
    await h.send(new Uint8Array([0xd0, 0x00]));
    for (const type of ["acknowledged", "subscribed", "unsubscribed", "pong"]) {
      equal((await nextEvent(h.client)).type, type);
    }
    // Nothing of the state built first was lost.
    deepStrictEqual(shape(h.client.session.state), before);
    // And it still works: the incoming id is known, the flights end with their acknowledgements.
    await h.send({ ...publishPacket("state/in", "incoming", 2, ids.incoming), dup: true });
    equal((await nextEvent(h.client)).type, "duplicate");
    await h.send({ type: PacketType.Puback, packetId: ids.q1 });
    await h.send({ type: PacketType.Pubcomp, packetId: ids.q2 });
    equal((await nextEvent(h.client)).type, "acknowledged");
    equal((await nextEvent(h.client)).type, "completed");
  },
});

Deno.test({
  name:
    "Client keeps its Session State after the connection closes when the Session Expiry Interval is above 0 [MQTT-3.1.2-23]",
  async fn(t) {
    await using peer = await startPeer();
    const connect = { clientId: "expiring", sessionExpiryInterval: 300 };
    const resume = { ...connect, cleanStart: false };

    await t.step("closed by Client.disconnect(); resumed from a JSON snapshot", async () => {
      const h1 = await openPeer({ peer, connect });
      const ids = await fill(h1);
      const before = shape(h1.client.session.state);
      await h1.client.disconnect();
      equal(decode(await h1.conn.readPacket()).type, PacketType.Disconnect);
      equal((await h1.conn.readUntilClosed()).length, 0);
      h1.conn.close();
      deepStrictEqual(shape(h1.client.session.state), before);
      const session = Session.fromSnapshot(
        JSON.parse(JSON.stringify(h1.client.session.snapshot())),
      );
      deepStrictEqual(shape(session.state), before);
      await using h2 = await openPeer({
        peer,
        client: { session },
        connect: resume,
        connack: { sessionPresent: true },
      });
      await resumed(h2, ids);
    });

    await t.step("closed by a network failure; resumed by the same client", async () => {
      const h1 = await openPeer({ peer, connect });
      const ids = await fill(h1);
      const before = shape(h1.client.session.state);
      h1.conn.close();
      await rejects(h1.client.poll(), ConnectionClosedError);
      equal(h1.client.state, "closed");
      deepStrictEqual(shape(h1.client.session.state), before);
      await using h2 = await openPeer({
        peer,
        reuse: h1.client,
        connect: resume,
        connack: { sessionPresent: true },
      });
      await resumed(h2, ids);
    });

    await t.step(
      "closed by the server's DISCONNECT 0x8E (Session taken over) [MQTT-3.1.4-3]",
      async () => {
        const h1 = await openPeer({ peer, connect });
        const ids = await fill(h1);
        const before = shape(h1.client.session.state);
        await h1.send({ type: PacketType.Disconnect, reasonCode: 0x8e });
        const event = await nextEvent(h1.client);
        ok(event.type === "disconnected" && event.reasonCode === 0x8e);
        equal(h1.client.state, "closed");
        equal((await h1.conn.readUntilClosed()).length, 0, "closed, with no DISCONNECT in reply");
        deepStrictEqual(shape(h1.client.session.state), before);
        await using h2 = await openPeer({
          peer,
          client: { session: h1.client.session },
          connect: resume,
          connack: { sessionPresent: true },
        });
        await resumed(h2, ids);
      },
    );
  },
});
