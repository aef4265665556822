// The one-line packet forms of the trace log: every packet type, secrets redacted, payloads cut.

import { equal, ok } from "node:assert/strict";
import { type Packet, PacketType } from "../../src/codec/mod.ts";
import { formatPacket, formatPayload } from "../../src/session/_format.ts";

const te = new TextEncoder();

const cases: [name: string, packet: Packet, line: string][] = [
  [
    "CONNECT redacts the password and the authentication data, cuts the will payload",
    {
      type: PacketType.Connect,
      clientId: "c1",
      cleanStart: true,
      keepAlive: 60,
      username: "user",
      password: te.encode("pw-secret"),
      will: { topic: "w", payload: te.encode("bye"), qos: 1, properties: { willDelayInterval: 5 } },
      properties: { authenticationMethod: "SCRAM", authenticationData: te.encode("auth-secret") },
    },
    'CONNECT clientId="c1" cleanStart=true keepAlive=60 username="user" ' +
    "password=<redacted 9 bytes> " +
    'will={topic:"w",qos:1,retain:false,props:{willDelayInterval:5},payload:3B "bye"} ' +
    'props={authenticationMethod:"SCRAM",authenticationData:<redacted 11 bytes>}',
  ],
  [
    "CONNACK with a failing reason code names it",
    { type: PacketType.Connack, sessionPresent: false, reasonCode: 0x87 },
    "CONNACK reason=0x87 (Not authorized) sessionPresent=false",
  ],
  [
    "CONNACK redacts authentication data too",
    {
      type: PacketType.Connack,
      sessionPresent: true,
      reasonCode: 0,
      properties: { receiveMaximum: 20, authenticationData: new Uint8Array(4) },
    },
    "CONNACK reason=0x00 sessionPresent=true props={receiveMaximum:20,authenticationData:<redacted 4 bytes>}",
  ],
  [
    "PUBLISH at QoS 1 with properties",
    {
      type: PacketType.Publish,
      packetId: 3,
      qos: 1,
      topic: "a/b",
      payload: te.encode("hello world!"),
      properties: { messageExpiryInterval: 60 },
    },
    'PUBLISH id=3 qos=1 topic="a/b" retain=false dup=false props={messageExpiryInterval:60} ' +
    'payload=12B "hello world!"',
  ],
  [
    "PUBLISH at QoS 0 with a binary payload shows hex",
    { type: PacketType.Publish, qos: 0, topic: "t", payload: new Uint8Array([0, 1, 0xff]) },
    'PUBLISH qos=0 topic="t" retain=false dup=false payload=3B 0x0001ff',
  ],
  [
    "PUBACK",
    { type: PacketType.Puback, packetId: 3 },
    "PUBACK id=3 reason=0x00",
  ],
  [
    "PUBREC with a failing reason code and a Reason String",
    { type: PacketType.Pubrec, packetId: 4, reasonCode: 0x87, properties: { reasonString: "no" } },
    'PUBREC id=4 reason=0x87 (Not authorized) props={reasonString:"no"}',
  ],
  [
    "SUBSCRIBE lists its filters and options",
    {
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [{ filter: "a/#", qos: 1 }, {
        filter: "b",
        qos: 2,
        noLocal: true,
        retainAsPublished: true,
        retainHandling: 2,
      }],
      properties: { subscriptionIdentifiers: [5] },
    },
    'SUBSCRIBE id=1 subscriptions=["a/#" qos=1, "b" qos=2 noLocal retainAsPublished retainHandling=2] props={subscriptionIdentifiers:[5]}',
  ],
  [
    "SUBACK",
    { type: PacketType.Suback, packetId: 1, reasonCodes: [1, 0x80] },
    "SUBACK id=1 reasons=[0x01,0x80]",
  ],
  [
    "UNSUBSCRIBE",
    { type: PacketType.Unsubscribe, packetId: 2, filters: ["a/#", "b"] },
    'UNSUBSCRIBE id=2 filters=["a/#","b"]',
  ],
  [
    "UNSUBACK",
    { type: PacketType.Unsuback, packetId: 2, reasonCodes: [0, 0x11] },
    "UNSUBACK id=2 reasons=[0x00,0x11]",
  ],
  ["PINGREQ", { type: PacketType.Pingreq }, "PINGREQ"],
  ["PINGRESP", { type: PacketType.Pingresp }, "PINGRESP"],
  [
    "DISCONNECT",
    { type: PacketType.Disconnect, properties: { sessionExpiryInterval: 0 } },
    "DISCONNECT reason=0x00 props={sessionExpiryInterval:0}",
  ],
  [
    "AUTH redacts the authentication data",
    {
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: "SCRAM", authenticationData: te.encode("s3cret") },
    },
    'AUTH reason=0x18 (Continue authentication) props={authenticationMethod:"SCRAM",authenticationData:<redacted 6 bytes>}',
  ],
];

for (const [name, packet, line] of cases) {
  Deno.test({
    name: `formatPacket(): ${name}`,
    permissions: "none",
    fn() {
      equal(formatPacket(packet), line);
    },
  });
}

Deno.test({
  name: "formatPayload() cuts a long payload to its prefix and marks the cut",
  permissions: "none",
  fn() {
    const payload = te.encode("0123456789".repeat(10));
    equal(formatPayload(payload), `100B "${"0123456789".repeat(4).slice(0, 32)}"…`);
    equal(formatPayload(payload, 4), '100B "0123"…');
    equal(formatPayload(new Uint8Array(0)), "0B");
  },
});

Deno.test({
  name: "formatPayload() does not split a UTF-8 character at the cut",
  permissions: "none",
  fn() {
    // "é" is two bytes: a cut after its first byte backs off to before it.
    const payload = te.encode("abé-tail");
    equal(formatPayload(payload, 3), '9B "ab"…');
    equal(formatPayload(payload, 4), '9B "abé"…');
    const line = formatPayload(te.encode("€".repeat(20)), 32);
    ok(!line.includes("\ufffd"), line);
  },
});

Deno.test({
  name: "formatPacket() shows no payload byte beyond the prefix",
  permissions: "none",
  fn() {
    const secret = "PAYLOAD-SECRET-" + "x".repeat(40) + "-TAIL";
    const line = formatPacket({
      type: PacketType.Publish,
      qos: 0,
      topic: "t",
      payload: te.encode(secret),
    }, { payloadPrefix: 8 });
    ok(line.includes('"PAYLOAD-"…'), line);
    ok(!line.includes("SECRET"), line);
  },
});
