// Client.subscribe() and unsubscribe() against a scripted peer: the Topic Filters on the wire, the
// QoS the client asks for, how it matches SUBACK and UNSUBACK to what it sent, and the deliveries
// it still handles after an UNSUBSCRIBE.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { decode, encode, PacketType } from "../../mod.ts";
import {
  message,
  nextEvent,
  openPeer,
  publishPacket,
  text,
  waitFor,
} from "../features/_features.ts";
import { readSubscribe, readUnsubscribe, utf8 } from "../_util/wire.ts";

const te = new TextEncoder();
const filters = ["温度/+", "😀/#", "plain/x"];

Deno.test({
  name:
    "Client.subscribe() and unsubscribe() write each Topic Filter as a UTF-8 Encoded String [MQTT-3.8.3-1] [MQTT-3.10.3-1]",
  async fn() {
    await using h = await openPeer();
    const sub = await h.client.subscribe(filters.map((filter) => ({ filter, qos: 1 as const })));
    const wire = readSubscribe(await h.conn.readPacket());
    equal(wire.packetId, sub);
    // The length prefixes count UTF-8 bytes; the bytes are the filters in UTF-8 [MQTT-3.8.3-1].
    deepStrictEqual(wire.filters.map((f) => f.length), filters.map((f) => te.encode(f).length));
    deepStrictEqual(wire.filters.map((f) => utf8(f.bytes)), filters);
    const unsub = await h.client.unsubscribe(filters);
    const unwire = readUnsubscribe(await h.conn.readPacket());
    equal(unwire.packetId, unsub);
    // The same for UNSUBSCRIBE [MQTT-3.10.3-1].
    deepStrictEqual(unwire.filters.map((f) => f.length), filters.map((f) => te.encode(f).length));
    deepStrictEqual(unwire.filters.map((f) => utf8(f.bytes)), filters);
  },
});

Deno.test({
  name:
    "Client.subscribe() asks for QoS 2 even when the server's Maximum QoS is lower [MQTT-3.2.2-10]",
  async fn() {
    await using h = await openPeer({ connack: { properties: { maximumQoS: 1 } } });
    equal(h.client.limits.maximumQoS, 1);
    const id = await h.client.subscribe([{ filter: "a", qos: 2 }, { filter: "b", qos: 1 }]);
    const wire = readSubscribe(await h.conn.readPacket());
    // The QoS is bits 1-0 of the Subscription Options: not capped to the server's maximum.
    deepStrictEqual(wire.filters.map((f) => f.options! & 3), [2, 1]);
    // The server grants what it supports.
    await h.send({ type: PacketType.Suback, packetId: id, reasonCodes: [1, 1] });
    const suback = await waitFor(h.client, "subscribed");
    deepStrictEqual(suback.reasonCodes, [1, 1]);
    deepStrictEqual(h.client.session.state.subscriptions.map((s) => [s.qos, s.grantedQoS]), [
      [2, 1],
      [1, 1],
    ]);
  },
});

Deno.test({
  name:
    "Client matches each SUBACK and UNSUBACK to its request by Packet Identifier, answered in any order [MQTT-2.2.1-6]",
  async fn() {
    await using h = await openPeer();
    const first = await h.client.subscribe({ filter: "one", qos: 1 });
    const second = await h.client.subscribe([{ filter: "two", qos: 2 }, { filter: "three" }]);
    const third = await h.client.unsubscribe("gone");
    for (let i = 0; i < 3; i++) await h.conn.readPacket();
    // Answered last first.
    await h.send({ type: PacketType.Unsuback, packetId: third, reasonCodes: [0x11] });
    await h.send({ type: PacketType.Suback, packetId: second, reasonCodes: [2, 0] });
    await h.send({ type: PacketType.Suback, packetId: first, reasonCodes: [1] });
    const events = [
      await nextEvent(h.client),
      await nextEvent(h.client),
      await nextEvent(h.client),
    ];
    deepStrictEqual(
      events.map((e) =>
        e.type === "subscribed" || e.type === "unsubscribed"
          ? [e.type, e.packetId, e.filters, e.reasonCodes]
          : e.type
      ),
      [
        ["unsubscribed", third, ["gone"], [0x11]],
        ["subscribed", second, ["two", "three"], [2, 0]],
        ["subscribed", first, ["one"], [1]],
      ],
    );
    deepStrictEqual(
      h.client.session.state.subscriptions.map((s) => [s.filter, s.grantedQoS]),
      [["two", 2], ["three", 0], ["one", 1]],
    );
  },
});

Deno.test({
  name:
    "Client reads the UNSUBACK's reason codes in the order of its Topic Filters [MQTT-3.11.3-1]",
  async fn() {
    await using h = await openPeer();
    const sub = await h.client.subscribe([{ filter: "a" }, { filter: "b" }, { filter: "c" }]);
    await h.conn.readPacket();
    await h.send({ type: PacketType.Suback, packetId: sub, reasonCodes: [0, 0, 0] });
    await waitFor(h.client, "subscribed");
    const unsub = await h.client.unsubscribe(["a", "b", "c"]);
    deepStrictEqual(readUnsubscribe(await h.conn.readPacket()).filters.map((f) => utf8(f.bytes)), [
      "a",
      "b",
      "c",
    ]);
    // "c" is refused, "a" and "b" removed: only "c" stays in the session.
    await h.send({ type: PacketType.Unsuback, packetId: unsub, reasonCodes: [0x00, 0x11, 0x87] });
    const event = await waitFor(h.client, "unsubscribed");
    deepStrictEqual(event.filters, ["a", "b", "c"]);
    deepStrictEqual(event.reasonCodes, [0x00, 0x11, 0x87]);
    deepStrictEqual(h.client.session.state.subscriptions.map((s) => s.filter), ["c"]);
  },
});

Deno.test({
  name:
    "Client still completes QoS 1 and 2 deliveries for a filter after unsubscribing from it [MQTT-3.10.4-3]",
  async fn() {
    await using h = await openPeer();
    const sub = await h.client.subscribe({ filter: "u/#", qos: 2 });
    await h.conn.readPacket();
    await h.send({ type: PacketType.Suback, packetId: sub, reasonCodes: [2] });
    await waitFor(h.client, "subscribed");
    // A QoS 2 delivery started before the UNSUBSCRIBE.
    await h.send(publishPacket("u/1", "started", 2, 40));
    equal(text((await message(h.client)).payload), "started");
    deepStrictEqual(decode(await h.conn.readPacket()), {
      type: PacketType.Pubrec,
      packetId: 40,
      reasonCode: 0,
    });
    const unsub = await h.client.unsubscribe("u/#");
    await h.conn.readPacket();
    // The server sends what it had started or buffered, before and after the UNSUBACK, and
    // releases the QoS 2 message.
    await h.conn.write(
      new Uint8Array([
        ...encode(publishPacket("u/2", "in flight", 1, 41)),
        ...encode({ type: PacketType.Unsuback, packetId: unsub, reasonCodes: [0] }),
        ...encode(publishPacket("u/3", "buffered", 2, 42)),
        ...encode({ type: PacketType.Pubrel, packetId: 40 }),
      ]),
    );
    equal(text((await message(h.client)).payload), "in flight");
    equal((await nextEvent(h.client)).type, "unsubscribed");
    equal(h.client.session.state.subscriptions.length, 0);
    equal(text((await message(h.client)).payload), "buffered");
    const released = await nextEvent(h.client);
    ok(released.type === "released" && released.packetId === 40 && released.known);
    deepStrictEqual(
      [decode(await h.conn.readPacket()), decode(await h.conn.readPacket())],
      [
        { type: PacketType.Puback, packetId: 41, reasonCode: 0 },
        { type: PacketType.Pubrec, packetId: 42, reasonCode: 0 },
      ],
    );
    deepStrictEqual(decode(await h.conn.readPacket()), {
      type: PacketType.Pubcomp,
      packetId: 40,
      reasonCode: 0,
    });
  },
});
