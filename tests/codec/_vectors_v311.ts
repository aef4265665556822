// Byte-exact vectors of MQTT 3.1.1 (protocol level 4), written by hand from the layout tables of
// the specification (section numbers in the comments are those of MQTT Version 3.1.1 Plus Errata
// 01, OASIS Standard, 10 December 2015). Shared by v311_vectors_test.ts, framing_test.ts,
// v311_property_test.ts and v311_fuzz_test.ts. Every one is encoded and decoded with
// `protocolVersion: 4`.

import { ascii, u8, type Vector } from "./_vectors.ts";

/** The options that select MQTT 3.1.1. */
export const V311 = { protocolVersion: 4 } as const;

const connackNames = [
  "Connection Accepted",
  "Connection Refused, unacceptable protocol version",
  "Connection Refused, identifier rejected",
  "Connection Refused, Server unavailable",
  "Connection Refused, bad user name or password",
  "Connection Refused, not authorized",
];

export const vectorsV311: Vector[] = [
  {
    name: "CONNECT, minimal: empty Client Identifier, as the first payload field, with Clean " +
      "Session 1 [v3.1.1 MQTT-3.1.3-3] [v3.1.1 MQTT-3.1.3-7]",
    packet: { type: 1, clientId: "", cleanStart: true },
    bytes: [
      0x10, // CONNECT (type 1), flags 0000 (2.2.1, 2.2.2)
      0x0c, // Remaining Length 12 (2.2.3)
      0x00,
      0x04, // Protocol Name length 4 (3.1.2.1)
      ...ascii("MQTT"), // Protocol Name "MQTT" (3.1.2.1)
      0x04, // Protocol Level 4: MQTT 3.1.1 (3.1.2.2)
      0x02, // Connect Flags 0000 0010: Clean Session 1, Reserved 0 (3.1.2.3, 3.1.2.4)
      0x00,
      0x00, // Keep Alive 0: disabled (3.1.2.10)
      // No properties: the payload follows the Keep Alive (3.1.3)
      0x00,
      0x00, // Client Identifier length 0 (3.1.3.1)
    ],
    decoded: { type: 1, protocolVersion: 4, cleanStart: true, keepAlive: 0, clientId: "" },
  },
  {
    name: "CONNECT with a Will, User Name and Password, in the order of 3.1.3 " +
      "[v3.1.1 MQTT-3.1.3-1] [v3.1.1 MQTT-3.1.2-9] [v3.1.1 MQTT-3.1.2-19] [v3.1.1 MQTT-3.1.2-21]",
    packet: {
      type: 1,
      protocolVersion: 4,
      keepAlive: 60,
      clientId: "cid",
      username: "user",
      password: u8(0x70, 0x77),
      will: { topic: "w/t", payload: u8(0x62, 0x79, 0x65), qos: 1, retain: true },
    },
    bytes: [
      0x10, // CONNECT (type 1), flags 0000 (3.1.1)
      0x23, // Remaining Length 35 = 10 variable header + 25 payload (2.2.3)
      // Variable header (3.1.2)
      0x00,
      0x04, // Protocol Name length 4 (3.1.2.1)
      ...ascii("MQTT"), // Protocol Name (3.1.2.1)
      0x04, // Protocol Level 4 (3.1.2.2)
      0xec, // Connect Flags 1110 1100: User Name 1, Password 1, Will Retain 1, Will QoS 01,
      //       Will Flag 1, Clean Session 0, Reserved 0 (3.1.2.3 - 3.1.2.9)
      0x00,
      0x3c, // Keep Alive 60 s (3.1.2.10)
      // Payload (3.1.3)
      0x00,
      0x03,
      ...ascii("cid"), // Client Identifier "cid" (3.1.3.1)
      0x00,
      0x03,
      ...ascii("w/t"), // Will Topic "w/t" (3.1.3.2)
      0x00,
      0x03,
      ...ascii("bye"), // Will Message: two-byte length, then 3 bytes (3.1.3.3)
      0x00,
      0x04,
      ...ascii("user"), // User Name "user" (3.1.3.4)
      0x00,
      0x02,
      0x70,
      0x77, // Password: two-byte length, then 2 bytes (3.1.3.5)
    ],
    decoded: {
      type: 1,
      protocolVersion: 4,
      cleanStart: false,
      keepAlive: 60,
      clientId: "cid",
      will: { topic: "w/t", payload: u8(0x62, 0x79, 0x65), qos: 1, retain: true },
      username: "user",
      password: u8(0x70, 0x77),
    },
  },
  {
    name: "CONNECT with a Will at QoS 2, a User Name and no Password " +
      "[v3.1.1 MQTT-3.1.2-20]",
    packet: {
      type: 1,
      cleanStart: true,
      keepAlive: 0x0102,
      clientId: "c",
      username: "u",
      will: { topic: "w", payload: u8(), qos: 2 },
    },
    bytes: [
      0x10, // CONNECT (3.1.1)
      0x15, // Remaining Length 21 = 10 variable header + 11 payload (2.2.3)
      0x00,
      0x04,
      ...ascii("MQTT"), // Protocol Name (3.1.2.1)
      0x04, // Protocol Level 4 (3.1.2.2)
      0x96, // Connect Flags 1001 0110: User Name 1, Password 0, Will Retain 0, Will QoS 10,
      //       Will Flag 1, Clean Session 1, Reserved 0 (3.1.2.3 - 3.1.2.9)
      0x01,
      0x02, // Keep Alive 258 s, most significant byte first (3.1.2.10)
      0x00,
      0x01,
      ...ascii("c"), // Client Identifier "c" (3.1.3.1)
      0x00,
      0x01,
      ...ascii("w"), // Will Topic "w" (3.1.3.2)
      0x00,
      0x00, // Will Message: zero length (3.1.3.3)
      0x00,
      0x01,
      ...ascii("u"), // User Name "u" (3.1.3.4); no Password (3.1.3.5)
    ],
    decoded: {
      type: 1,
      protocolVersion: 4,
      cleanStart: true,
      keepAlive: 0x0102,
      clientId: "c",
      will: { topic: "w", payload: u8(), qos: 2, retain: false },
      username: "u",
    },
  },
  ...connackNames.map((text, code): Vector => ({
    name: `CONNACK, return code 0x0${code}: ${text} (3.2.2.3)`,
    packet: { type: 2, sessionPresent: false, reasonCode: code },
    bytes: [
      0x20, // CONNACK (type 2), flags 0000 (3.2.1)
      0x02, // Remaining Length 2 (3.2.1)
      0x00, // Connect Acknowledge Flags: Session Present 0, bits 7-1 reserved 0 (3.2.2.1, 3.2.2.2)
      code, // Connect Return Code (3.2.2.3)
    ],
    decoded: { type: 2, sessionPresent: false, reasonCode: code },
  })),
  {
    name: "CONNACK with Session Present 1 and return code 0 (3.2.2.2)",
    packet: { type: 2, sessionPresent: true, reasonCode: 0 },
    bytes: [
      0x20, // CONNACK (3.2.1)
      0x02, // Remaining Length 2
      0x01, // Connect Acknowledge Flags: Session Present 1 (3.2.2.2)
      0x00, // Connect Return Code 0x00: Connection Accepted (3.2.2.3)
    ],
    decoded: { type: 2, sessionPresent: true, reasonCode: 0 },
  },
  {
    name: "PUBLISH QoS 0: no Packet Identifier [v3.1.1 MQTT-2.3.1-5]",
    packet: { type: 3, topic: "a/b", payload: u8(0x68, 0x69), qos: 0 },
    bytes: [
      0x30, // PUBLISH (type 3), flags 0000: DUP 0, QoS 00, RETAIN 0 (3.3.1)
      0x07, // Remaining Length 7 (2.2.3)
      0x00,
      0x03,
      ...ascii("a/b"), // Topic Name "a/b" (3.3.2.1)
      0x68,
      0x69, // Payload "hi": no properties before it (3.3.3)
    ],
    decoded: { type: 3, topic: "a/b", payload: u8(0x68, 0x69), qos: 0, retain: false, dup: false },
  },
  {
    name: "PUBLISH QoS 1 with RETAIN",
    packet: { type: 3, topic: "t", payload: u8(1, 2, 3), qos: 1, retain: true, packetId: 10 },
    bytes: [
      0x33, // PUBLISH, flags 0011: DUP 0, QoS 01, RETAIN 1 (3.3.1.1 - 3.3.1.3)
      0x08, // Remaining Length 8 (3.3.1.4)
      0x00,
      0x01,
      ...ascii("t"), // Topic Name "t" (3.3.2.1)
      0x00,
      0x0a, // Packet Identifier 10 (3.3.2.2)
      0x01,
      0x02,
      0x03, // Payload (3.3.3)
    ],
    decoded: {
      type: 3,
      topic: "t",
      payload: u8(1, 2, 3),
      qos: 1,
      retain: true,
      dup: false,
      packetId: 10,
    },
  },
  {
    name: "PUBLISH QoS 2 with DUP, empty payload",
    packet: { type: 3, topic: "x/y", payload: u8(), qos: 2, dup: true, packetId: 0x1234 },
    bytes: [
      0x3c, // PUBLISH, flags 1100: DUP 1, QoS 10, RETAIN 0 (3.3.1)
      0x07, // Remaining Length 7 (3.3.1.4)
      0x00,
      0x03,
      ...ascii("x/y"), // Topic Name "x/y" (3.3.2.1)
      0x12,
      0x34, // Packet Identifier 0x1234 (3.3.2.2)
      // Payload: empty (3.3.3)
    ],
    decoded: {
      type: 3,
      topic: "x/y",
      payload: u8(),
      qos: 2,
      retain: false,
      dup: true,
      packetId: 0x1234,
    },
  },
  ...([
    [4, "PUBACK", 0x40, "3.4"],
    [5, "PUBREC", 0x50, "3.5"],
    [6, "PUBREL", 0x62, "3.6"],
    [7, "PUBCOMP", 0x70, "3.7"],
  ] as const).map(([type, name, first, section]): Vector => ({
    name: `${name}: the Packet Identifier only, no reason code (${section}.2)` +
      (type === 6 ? " [v3.1.1 MQTT-3.6.1-1]" : ""),
    packet: { type, packetId: 0x0102 },
    bytes: [
      first, // the packet type, then flags 0000 (0010 for PUBREL) (2.2.2; 3.4.1 - 3.7.1)
      0x02, // Remaining Length 2 (3.4.1 - 3.7.1)
      0x01,
      0x02, // Packet Identifier 258, most significant byte first (3.4.2 - 3.7.2)
    ],
    decoded: { type, packetId: 0x0102 },
  })),
  {
    name: "SUBSCRIBE with three filters, one Requested QoS byte each [v3.1.1 MQTT-3.8.1-1]",
    packet: {
      type: 8,
      packetId: 10,
      subscriptions: [{ filter: "a/b" }, { filter: "c/+", qos: 1 }, { filter: "#", qos: 2 }],
    },
    bytes: [
      0x82, // SUBSCRIBE (type 8), flags 0010 (3.8.1)
      0x12, // Remaining Length 18 (3.8.1)
      0x00,
      0x0a, // Packet Identifier 10 (3.8.2); no properties follow
      0x00,
      0x03,
      ...ascii("a/b"), // Topic Filter "a/b" (3.8.3)
      0x00, // Requested QoS 0, bits 7-2 reserved 0 (3.8.3.1)
      0x00,
      0x03,
      ...ascii("c/+"), // Topic Filter "c/+" (3.8.3)
      0x01, // Requested QoS 1 (3.8.3.1)
      0x00,
      0x01,
      ...ascii("#"), // Topic Filter "#" (3.8.3)
      0x02, // Requested QoS 2 (3.8.3.1)
    ],
    decoded: {
      type: 8,
      packetId: 10,
      subscriptions: [{ filter: "a/b", qos: 0 }, { filter: "c/+", qos: 1 }, {
        filter: "#",
        qos: 2,
      }],
    },
  },
  {
    name: "SUBACK with return codes 0x00, 0x01, 0x02 and 0x80 Failure [v3.1.1 MQTT-3.9.3-2]",
    packet: { type: 9, packetId: 10, reasonCodes: [0x00, 0x01, 0x02, 0x80] },
    bytes: [
      0x90, // SUBACK (type 9), flags 0000 (3.9.1)
      0x06, // Remaining Length 6 (3.9.1)
      0x00,
      0x0a, // Packet Identifier 10 (3.9.2)
      0x00, // Success - Maximum QoS 0 (3.9.3)
      0x01, // Success - Maximum QoS 1
      0x02, // Success - Maximum QoS 2
      0x80, // Failure
    ],
    decoded: { type: 9, packetId: 10, reasonCodes: [0x00, 0x01, 0x02, 0x80] },
  },
  {
    name: "UNSUBSCRIBE with two filters [v3.1.1 MQTT-3.10.1-1]",
    packet: { type: 10, packetId: 11, filters: ["a/b", "c/#"] },
    bytes: [
      0xa2, // UNSUBSCRIBE (type 10), flags 0010 (3.10.1)
      0x0c, // Remaining Length 12 (3.10.1)
      0x00,
      0x0b, // Packet Identifier 11 (3.10.2)
      0x00,
      0x03,
      ...ascii("a/b"), // Topic Filter "a/b" (3.10.3)
      0x00,
      0x03,
      ...ascii("c/#"), // Topic Filter "c/#", packed right after the first (3.10.3)
    ],
    decoded: { type: 10, packetId: 11, filters: ["a/b", "c/#"] },
  },
  {
    name: "UNSUBACK: the Packet Identifier only, no reason codes (3.11.2)",
    packet: { type: 11, packetId: 11, reasonCodes: [] },
    bytes: [
      0xb0, // UNSUBACK (type 11), flags 0000 (3.11.1)
      0x02, // Remaining Length 2 (3.11.1)
      0x00,
      0x0b, // Packet Identifier 11 (3.11.2); no payload (3.11.3)
    ],
    decoded: { type: 11, packetId: 11, reasonCodes: [] },
  },
  {
    name: "PINGREQ (3.12)",
    packet: { type: 12 },
    bytes: [
      0xc0, // PINGREQ (type 12), flags 0000 (3.12.1)
      0x00, // Remaining Length 0 (3.12.1)
    ],
    decoded: { type: 12 },
  },
  {
    name: "PINGRESP (3.13)",
    packet: { type: 13 },
    bytes: [
      0xd0, // PINGRESP (type 13), flags 0000 (3.13.1)
      0x00, // Remaining Length 0 (3.13.1)
    ],
    decoded: { type: 13 },
  },
  {
    name: "DISCONNECT: no reason code, no properties [v3.1.1 MQTT-3.14.1-1]",
    packet: { type: 14 },
    bytes: [
      0xe0, // DISCONNECT (type 14), flags 0000 (3.14.1)
      0x00, // Remaining Length 0 (3.14.1)
    ],
    decoded: { type: 14 },
  },
];

/** A 3.1.1 PUBLISH whose Remaining Length takes two bytes, for the framing tests. */
export const longVectorV311: { name: string; bytes: Uint8Array } = {
  name: "MQTT 3.1.1 PUBLISH of Remaining Length 200 (2-byte Remaining Length)",
  bytes: new Uint8Array([
    0x30, // PUBLISH QoS 0 (3.3.1)
    0xc8,
    0x01, // Remaining Length 200 = 0x48 + 1 * 128 (2.2.3)
    0x00,
    0x01,
    ...ascii("a"), // Topic Name "a" (3.3.2.1)
    ...new Array<number>(197).fill(0x5a), // Payload of 197 bytes (3.3.3)
  ]),
};
