// The protocol engine's enhanced authentication (section 4.12): AUTH before CONNACK and
// re-authentication after it. Every test runs with no permissions at all, which proves the engine
// does no I/O.

import { equal, throws } from "node:assert/strict";
import { type Packet, PacketType } from "../../src/codec/mod.ts";
import { ClientStateError, NotConnectedError } from "../../src/session/mod.ts";
import {
  connackPacket,
  connected,
  connecting,
  feed,
  like,
  none,
  runRows,
  sent,
  violation,
} from "./_engine.ts";

Deno.test(
  "Engine during enhanced authentication: AUTH 0x18 both ways before CONNACK [MQTT-4.12.0-3] [MQTT-4.12.0-5]",
  none,
  () => {
    const engine = connecting({
      authenticationMethod: "A",
      authenticationData: new Uint8Array([1]),
    });
    like(
      feed(engine, {
        type: PacketType.Auth,
        reasonCode: 0x18,
        properties: { authenticationMethod: "A", authenticationData: new Uint8Array([2]) },
      }),
      [{ type: "auth", reasonCode: 0x18 }],
    );
    engine.auth({ reasonCode: 0x18, authenticationData: new Uint8Array([3]) });
    like(sent(engine), [{
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: "A", authenticationData: new Uint8Array([3]) },
    }]);
    like(feed(engine, connackPacket({ authenticationMethod: "A" })), [{ type: "connected" }]);
    equal(engine.state, "connected");

    const wrong = connecting({ authenticationMethod: "A" });
    const { error } = violation(wrong, {
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: "B" },
    });
    equal(error.statement, "MQTT-4.12.0-5");
  },
);

Deno.test("Engine.auth() re-authenticates", none, async (t) => {
  const withMethod = () =>
    connected({}, { authenticationMethod: "A" }, { authenticationMethod: "A" });
  const auth = (reasonCode: number, method = "A"): Packet => ({
    type: PacketType.Auth,
    reasonCode,
    properties: { authenticationMethod: method },
  });

  await t.step(
    "AUTH 0x19, server 0x18, client 0x18, server 0x00 [MQTT-4.12.1-1] [MQTT-4.12.0-3]",
    () => {
      const engine = withMethod();
      engine.auth({ authenticationData: new Uint8Array([1]) });
      like(sent(engine), [{
        type: PacketType.Auth,
        reasonCode: 0x19,
        properties: { authenticationMethod: "A", authenticationData: new Uint8Array([1]) },
      }]);
      like(feed(engine, auth(0x18)), [{ type: "auth", reasonCode: 0x18 }]);
      engine.auth({ reasonCode: 0x18, authenticationData: new Uint8Array([2]) });
      like(sent(engine), [{
        type: PacketType.Auth,
        reasonCode: 0x18,
        properties: { authenticationMethod: "A", authenticationData: new Uint8Array([2]) },
      }]);
      like(feed(engine, auth(0x00)), [{ type: "auth", reasonCode: 0x00 }]);
      equal(engine.state, "connected");
      // The exchange is over: the server may not continue it.
      const { error } = violation(engine, auth(0x18));
      equal(error.statement, "MQTT-4.12.1-1");
    },
  );

  await runRows(t, [
    {
      name: "AUTH from the server with no re-authentication started: 0x82 [MQTT-4.12.1-1]",
      setup: withMethod,
      input: auth(0x18),
      violation: 0x82,
      statement: "MQTT-4.12.1-1",
    },
    {
      name: "AUTH 0x19 from the server: 0x82 [MQTT-4.12.1-1]",
      setup: withMethod,
      input: auth(0x19),
      violation: 0x82,
      statement: "MQTT-4.12.1-1",
    },
    {
      name: "AUTH with another Authentication Method: 0x82 [MQTT-4.12.0-5]",
      setup: () => {
        const e = withMethod();
        e.auth();
        sent(e);
        return e;
      },
      input: auth(0x18, "B"),
      violation: 0x82,
      statement: "MQTT-4.12.0-5",
    },
    {
      name: "AUTH on a connection without an Authentication Method: 0x82 [MQTT-4.12.0-6]",
      input: auth(0x18),
      violation: 0x82,
      statement: "MQTT-4.12.0-6",
    },
    {
      name: "a failed re-authentication: the server's DISCONNECT 0x87 closes [MQTT-4.12.1-2]",
      setup: () => {
        const e = withMethod();
        e.auth();
        sent(e);
        return e;
      },
      input: { type: PacketType.Disconnect, reasonCode: 0x87 },
      events: [{ type: "disconnected", reasonCode: 0x87 }],
      then: (e) => {
        equal(e.state, "closed");
        throws(() => e.auth({ reasonCode: 0x18 }), NotConnectedError);
      },
    },
  ]);

  await t.step(
    "refused with nothing queued on a connection without an Authentication Method [MQTT-4.12.0-7]",
    () => {
      const engine = connected();
      throws(() => engine.auth(), ClientStateError);
      throws(() => engine.auth({ reasonCode: 0x18 }), ClientStateError);
      equal(engine.takeOutput(), undefined);
    },
  );

  await t.step("0x18 refused with nothing queued when no re-authentication is under way", () => {
    const engine = withMethod();
    throws(() => engine.auth({ reasonCode: 0x18 }), ClientStateError);
    equal(engine.takeOutput(), undefined);
  });

  await t.step("0x19 refused before CONNACK [MQTT-4.12.1-1]", () => {
    const engine = connecting({ authenticationMethod: "A" });
    throws(() => engine.auth(), NotConnectedError);
    equal(engine.takeOutput(), undefined);
  });
});
