// The layout of the CONNECT payload and of the Topic Filters of SUBSCRIBE and UNSUBSCRIBE, as
// encode() writes them: read back by the specification's own order with tests/_util/wire.ts, which
// shares no code with the codec, for every combination of the optional CONNECT fields.

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { type Connect, encode, PacketType } from "../../mod.ts";
import { readConnect, readSubscribe, readUnsubscribe, utf8 } from "../_util/wire.ts";

const te = new TextEncoder();

Deno.test("encode() lays out the CONNECT payload fields in the order of 3.1.3", {
  permissions: "none",
}, async (t) => {
  // "" is the zero-length identifier a server may assign; the last one needs 2- and 3-byte
  // UTF-8 sequences, so a length counted in UTF-16 units or a Latin-1 encoding shows.
  for (const clientId of ["", "sensor-1", "客户端-é"]) {
    for (const will of [false, true]) {
      for (const username of [undefined, "用户-ü"]) {
        for (const password of [undefined, new Uint8Array([0, 1, 0xff])]) {
          const packet: Connect = {
            type: PacketType.Connect,
            cleanStart: true,
            keepAlive: 30,
            clientId,
            properties: { sessionExpiryInterval: 10 },
          };
          if (will) {
            packet.will = {
              topic: "遗嘱/topic",
              payload: te.encode("bye"),
              qos: 1,
              retain: false,
              properties: { willDelayInterval: 5 },
            };
          }
          if (username !== undefined) packet.username = username;
          if (password !== undefined) packet.password = password;
          const name = `client id ${JSON.stringify(clientId)}, ${will ? "" : "no "}will, ${
            username === undefined ? "no " : ""
          }user name, ${password === undefined ? "no " : ""}password`;
          await t.step(name, () => {
            // readConnect reads the fields the flags announce in the order of 3.1.3 and throws on
            // bytes left over: a field out of place or one not announced fails here.
            const wire = readConnect(encode(packet));
            const expected = [
              "clientId",
              ...(will ? ["willProperties", "willTopic", "willPayload"] : []),
              ...(username !== undefined ? ["username"] : []),
              ...(password !== undefined ? ["password"] : []),
            ];
            // Client Identifier, Will Properties, Will Topic, Will Payload, User Name, Password,
            // each only when present [MQTT-3.1.3-1].
            deepStrictEqual(wire.payload.map((f) => f.name), expected);
            // The Client Identifier is always there, first, even with zero length [MQTT-3.1.3-3],
            // as a UTF-8 Encoded String: its length prefix counts UTF-8 bytes [MQTT-3.1.3-4].
            const id = wire.payload[0]!;
            equal(id.length, te.encode(clientId).length);
            equal(utf8(id.bytes), clientId);
            if (will) {
              const topic = wire.payload.find((f) => f.name === "willTopic")!;
              // The Will Topic is a UTF-8 Encoded String [MQTT-3.1.3-11].
              equal(topic.length, te.encode("遗嘱/topic").length);
              equal(utf8(topic.bytes), "遗嘱/topic");
              deepStrictEqual(
                wire.payload.find((f) => f.name === "willPayload")!.bytes,
                te.encode("bye"),
              );
            }
            if (username === undefined) {
              // User Name Flag 0: no User Name field [MQTT-3.1.2-16].
              equal(wire.flags & 0x80, 0);
              equal(wire.payload.some((f) => f.name === "username"), false);
            } else {
              // User Name Flag 1: the User Name comes next, after the Client Identifier and any
              // will fields, as a UTF-8 Encoded String [MQTT-3.1.3-12].
              const i = wire.payload.findIndex((f) => f.name === "username");
              equal(i, will ? 4 : 1);
              equal(wire.payload[i]!.length, te.encode(username).length);
              equal(utf8(wire.payload[i]!.bytes), username);
            }
            if (password === undefined) {
              // Password Flag 0: no Password field [MQTT-3.1.2-18].
              equal(wire.flags & 0x40, 0);
              equal(wire.payload.some((f) => f.name === "password"), false);
            } else {
              deepStrictEqual(wire.payload.at(-1)!.bytes, password);
            }
          });
        }
      }
    }
  }
});

Deno.test("encode() writes the zero-length Client Identifier as its own field [MQTT-3.1.3-3]", {
  permissions: "none",
}, () => {
  const bytes = encode({ type: PacketType.Connect, cleanStart: true, keepAlive: 0, clientId: "" });
  deepStrictEqual(
    Array.from(bytes),
    [
      0x10,
      0x0d, // CONNECT, Remaining Length 13
      0x00,
      0x04,
      0x4d,
      0x51,
      0x54,
      0x54, // Protocol Name "MQTT"
      0x05, // Protocol Version 5
      0x02, // Connect Flags: Clean Start; no will, User Name or Password
      0x00,
      0x00, // Keep Alive 0
      0x00, // Property Length 0
      0x00,
      0x00, // the payload: a Client Identifier of length 0, and nothing after it
    ],
  );
});

Deno.test("the wire reader used by the layout tests refuses what it does not expect", {
  permissions: "none",
}, () => {
  // User Name Flag 0, but a User Name field after the Client Identifier: bytes left over.
  throws(
    () =>
      readConnect(
        new Uint8Array([
          0x10,
          0x10,
          0x00,
          0x04,
          0x4d,
          0x51,
          0x54,
          0x54,
          0x05,
          0x02,
          0x00,
          0x00,
          0x00,
          0x00,
          0x00, // Client Identifier ""
          0x00,
          0x01,
          0x75, // a User Name "u" the flags do not announce
        ]),
      ),
    /left over/,
  );
  // A Remaining Length that does not match.
  throws(() => readConnect(new Uint8Array([0x10, 0x05, 0x00])), /does not match/);
});

const filters = ["a/+", "温度/#", "$share/グループ/x/y", "😀/z"];

Deno.test(
  "encode() writes each SUBSCRIBE Topic Filter as a UTF-8 Encoded String [MQTT-3.8.3-1]",
  { permissions: "none" },
  () => {
    const wire = readSubscribe(encode({
      type: PacketType.Subscribe,
      packetId: 7,
      subscriptions: filters.map((filter, i) => ({ filter, qos: (i % 3) as 0 | 1 | 2 })),
    }));
    equal(wire.packetId, 7);
    // Each length prefix counts UTF-8 bytes (the emoji is 4 bytes, 2 UTF-16 units) and the bytes
    // are well-formed UTF-8 of the filter.
    deepStrictEqual(wire.filters.map((f) => f.length), filters.map((f) => te.encode(f).length));
    deepStrictEqual(wire.filters.map((f) => utf8(f.bytes)), filters);
    deepStrictEqual(wire.filters.map((f) => f.options), [0, 1, 2, 0]);
  },
);

Deno.test(
  "encode() writes each UNSUBSCRIBE Topic Filter as a UTF-8 Encoded String [MQTT-3.10.3-1]",
  { permissions: "none" },
  () => {
    const wire = readUnsubscribe(encode({ type: PacketType.Unsubscribe, packetId: 9, filters }));
    equal(wire.packetId, 9);
    deepStrictEqual(wire.filters.map((f) => f.length), filters.map((f) => te.encode(f).length));
    deepStrictEqual(wire.filters.map((f) => utf8(f.bytes)), filters);
  },
);
