// The protocol engine's keep alive (section 3.1.2.10), with the time passed in: when PINGREQ is
// due, when the server counts as gone, and the Server Keep Alive. Every test runs with no
// permissions at all, which proves the engine does no I/O.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { type Packet, PacketType } from "../../src/codec/mod.ts";
import { ConnectionClosedError, Engine, type EngineOptions } from "../../src/session/mod.ts";
import {
  connackPacket,
  connected,
  feed,
  like,
  none,
  publish,
  sent,
  T0,
  thrown,
} from "./_engine.ts";

Deno.test("Engine keep alive, with the time passed in", none, async (t) => {
  const up = (connackProps = {}, engineOptions: EngineOptions = {}) =>
    connected(engineOptions, connackProps, { keepAlive: 10 });

  await t.step("PINGREQ due at the last write plus the interval [MQTT-3.1.2-20]", () => {
    const engine = up();
    deepStrictEqual(engine.keepAlive, {
      interval: 10,
      pingDueAt: T0 + 10_000,
      deadline: T0 + 20_000,
    });
    equal(engine.timeout, T0 + 10_000);
    engine.publish({ topic: "t" }, "x");
    engine.takeOutput(T0 + 3_000);
    equal(engine.keepAlive.pingDueAt, T0 + 13_000, "a write moves it");
    engine.written(T0 + 4_000);
    equal(engine.keepAlive.pingDueAt, T0 + 14_000, "written() moves it");
    feed(engine, publish("t", 0), T0 + 5_000);
    equal(engine.keepAlive.pingDueAt, T0 + 14_000, "receiving does not");
  });

  await t.step("handleTimeout() queues PINGREQ once due, not before [MQTT-3.1.2-20]", () => {
    const engine = up();
    engine.handleTimeout(T0 + 9_999);
    equal(engine.takeOutput(), undefined);
    engine.handleTimeout(T0 + 10_000);
    deepStrictEqual(sent(engine, T0 + 10_000), [{ type: PacketType.Pingreq }]);
    equal(engine.keepAlive.pingDueAt, T0 + 20_000);
  });

  await t.step("the deadline: the PINGREQ's time plus the interval, or the ping timeout", () => {
    const engine = up();
    engine.handleTimeout(T0 + 10_000);
    sent(engine, T0 + 10_000);
    equal(engine.keepAlive.deadline, T0 + 20_000);
    const short = up({}, { pingTimeout: 2_500 });
    equal(short.keepAlive.deadline, T0 + 12_500, "no PINGREQ out: due time plus ping timeout");
    short.ping(T0 + 4_000);
    sent(short, T0 + 4_000);
    equal(short.keepAlive.deadline, T0 + 6_500);
    equal(short.timeout, T0 + 6_500);
  });

  await t.step("receiving anything clears the deadline", () => {
    for (const packet of [{ type: PacketType.Pingresp }, publish("t", 0)] as Packet[]) {
      const engine = up({}, { pingTimeout: 2_000 });
      engine.ping(T0 + 1_000);
      sent(engine, T0 + 1_000);
      equal(engine.keepAlive.deadline, T0 + 3_000);
      feed(engine, packet, T0 + 1_500);
      equal(engine.keepAlive.deadline, T0 + 13_000, "back to the due time plus the timeout");
      engine.handleTimeout(T0 + 3_000);
      equal(engine.state, "connected");
    }
    const engine = up();
    engine.ping(T0);
    like(feed(engine, { type: PacketType.Pingresp }), [{ type: "pong" }]);
  });

  await t.step("handleTimeout() after the deadline throws ConnectionClosedError", () => {
    const engine = up({ sessionExpiryInterval: 60 }, { pingTimeout: 2_000 });
    engine.handleTimeout(T0 + 10_000);
    sent(engine, T0 + 10_000);
    engine.handleTimeout(T0 + 11_999);
    equal(engine.state, "connected");
    const error = thrown(() => engine.handleTimeout(T0 + 12_000));
    ok(error instanceof ConnectionClosedError, String(error));
    ok(error.sessionResumable);
    equal(engine.state, "closed");
    equal(engine.closeError, error);
    equal(engine.takeOutput(), undefined, "no DISCONNECT: the server is gone");
  });

  await t.step(
    "the Server Keep Alive replaces the client's [MQTT-3.2.2-21] [MQTT-3.1.2-21]",
    () => {
      const engine = new Engine();
      engine.connect({ clientId: "c1", keepAlive: 60 }, T0);
      engine.takeOutput(T0);
      like(feed(engine, connackPacket({ serverKeepAlive: 5 })), [{
        type: "connected",
        keepAlive: 5,
      }]);
      equal(engine.keepAlive.interval, 5);
      equal(engine.keepAlive.pingDueAt, T0 + 5_000);
      const off = up({ serverKeepAlive: 0 });
      deepStrictEqual(off.keepAlive, { interval: 0, pingDueAt: undefined, deadline: undefined });
    },
  );

  await t.step("Keep Alive 0: nothing timed", () => {
    const engine = connected();
    equal(engine.timeout, undefined);
    engine.handleTimeout(T0 + 86_400_000);
    equal(engine.takeOutput(), undefined);
    equal(engine.state, "connected");
  });
});
