// Byte-exact vectors of MQTT 5.0, written by hand from the layout tables of the specification
// (section numbers in the comments are those of MQTT Version 5.0, OASIS Standard, 7 March 2019).
// Shared by vectors_test.ts, framing_test.ts and fuzz_test.ts.

import type { Packet } from "../../src/codec/mod.ts";

/** One vector: what is given to `encode`, the bytes on the wire, and what `decode` returns. */
export interface Vector {
  /** What the vector shows. */
  name: string;
  /** The packet given to `encode`. */
  packet: Packet;
  /** The bytes `encode` must produce, annotated field by field. */
  bytes: number[];
  /** What `decode` must return for `bytes` (defaults filled in). */
  decoded: Packet;
}

/** The bytes of an ASCII text, one per character (written out by hand in the tables). */
export function ascii(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`ascii() got a non-ASCII character in ${text}`);
    out.push(c);
  }
  return out;
}

/** A Uint8Array of the given bytes. */
export function u8(...bytes: number[]): Uint8Array {
  return new Uint8Array(bytes);
}

export const vectors: Vector[] = [
  {
    name: "CONNECT, minimal: empty Client Identifier, Property Length 0 [MQTT-2.2.2-1]",
    packet: { type: 1, clientId: "" },
    bytes: [
      0x10, // CONNECT (type 1), flags 0000 (2.1.2, 3.1.1)
      0x0d, // Remaining Length 13 (2.1.4)
      0x00,
      0x04, // Protocol Name length 4 (3.1.2.1)
      ...ascii("MQTT"), // Protocol Name "MQTT" (3.1.2.1)
      0x05, // Protocol Version 5 (3.1.2.2)
      0x00, // Connect Flags: all 0 (3.1.2.3)
      0x00,
      0x00, // Keep Alive 0: disabled (3.1.2.10)
      0x00, // Property Length 0: no properties (3.1.2.11.1) [MQTT-2.2.2-1]
      0x00,
      0x00, // Client Identifier length 0 (3.1.3.1)
    ],
    decoded: { type: 1, protocolVersion: 5, cleanStart: false, keepAlive: 0, clientId: "" },
  },
  {
    name: "CONNECT with properties, a Will with properties, User Name and Password",
    packet: {
      type: 1,
      cleanStart: true,
      keepAlive: 60,
      clientId: "cid",
      username: "user",
      password: u8(0x70, 0x77),
      will: {
        topic: "w/t",
        payload: u8(0x62, 0x79, 0x65),
        qos: 1,
        retain: true,
        properties: { willDelayInterval: 10, payloadFormatIndicator: 1 },
      },
      properties: {
        sessionExpiryInterval: 3600,
        receiveMaximum: 20,
        userProperties: [["k", "v"]],
      },
    },
    bytes: [
      0x10, // CONNECT (type 1), flags 0000 (3.1.1)
      0x3b, // Remaining Length 59 = 26 variable header + 33 payload (2.1.4)
      // Variable header (3.1.2)
      0x00,
      0x04, // Protocol Name length 4 (3.1.2.1)
      ...ascii("MQTT"), // Protocol Name (3.1.2.1)
      0x05, // Protocol Version 5 (3.1.2.2)
      0xee, // Connect Flags 1110 1110: User Name 1, Password 1, Will Retain 1, Will QoS 01,
      //       Will Flag 1, Clean Start 1, Reserved 0 (3.1.2.3 - 3.1.2.9)
      0x00,
      0x3c, // Keep Alive 60 s, Two Byte Integer (3.1.2.10)
      0x0f, // Property Length 15 (3.1.2.11.1)
      0x11, // Session Expiry Interval identifier (3.1.2.11.2)
      0x00,
      0x00,
      0x0e,
      0x10, // 3600 s, Four Byte Integer
      0x21, // Receive Maximum identifier (3.1.2.11.3)
      0x00,
      0x14, // 20, Two Byte Integer
      0x26, // User Property identifier (3.1.2.11.8)
      0x00,
      0x01,
      ...ascii("k"), // name "k" (1.5.7)
      0x00,
      0x01,
      ...ascii("v"), // value "v" (1.5.7)
      // Payload (3.1.3)
      0x00,
      0x03,
      ...ascii("cid"), // Client Identifier "cid" (3.1.3.1)
      0x07, // Will Property Length 7 (3.1.3.2.1)
      0x18, // Will Delay Interval identifier (3.1.3.2.2)
      0x00,
      0x00,
      0x00,
      0x0a, // 10 s, Four Byte Integer
      0x01, // Payload Format Indicator identifier (3.1.3.2.3)
      0x01, // 1: UTF-8 character data
      0x00,
      0x03,
      ...ascii("w/t"), // Will Topic "w/t" (3.1.3.3)
      0x00,
      0x03,
      ...ascii("bye"), // Will Payload, Binary Data of 3 bytes (3.1.3.4)
      0x00,
      0x04,
      ...ascii("user"), // User Name "user" (3.1.3.5)
      0x00,
      0x02,
      0x70,
      0x77, // Password, Binary Data of 2 bytes (3.1.3.6)
    ],
    decoded: {
      type: 1,
      protocolVersion: 5,
      cleanStart: true,
      keepAlive: 60,
      clientId: "cid",
      properties: {
        sessionExpiryInterval: 3600,
        receiveMaximum: 20,
        userProperties: [["k", "v"]],
      },
      will: {
        topic: "w/t",
        payload: u8(0x62, 0x79, 0x65),
        qos: 1,
        retain: true,
        properties: { willDelayInterval: 10, payloadFormatIndicator: 1 },
      },
      username: "user",
      password: u8(0x70, 0x77),
    },
  },
  {
    name: "CONNECT with a Password and no User Name, authentication properties, QoS 2 Will",
    packet: {
      type: 1,
      keepAlive: 0x1234,
      clientId: "c",
      password: u8(),
      will: { topic: "t", payload: u8(), qos: 2 },
      properties: {
        maximumPacketSize: 0x00010000,
        topicAliasMaximum: 0,
        requestResponseInformation: 1,
        requestProblemInformation: 0,
        authenticationMethod: "M",
        authenticationData: u8(0xab),
      },
    },
    bytes: [
      0x10, // CONNECT, flags 0000 (3.1.1)
      0x2a, // Remaining Length 42 = 31 variable header + 11 payload (2.1.4)
      0x00,
      0x04,
      ...ascii("MQTT"), // Protocol Name (3.1.2.1)
      0x05, // Protocol Version 5 (3.1.2.2)
      0x54, // Connect Flags 0101 0100: User Name 0, Password 1, Will Retain 0, Will QoS 10,
      //       Will Flag 1, Clean Start 0, Reserved 0 (3.1.2.3)
      0x12,
      0x34, // Keep Alive 0x1234, most significant byte first (1.5.2, 3.1.2.10)
      0x14, // Property Length 20 (3.1.2.11.1)
      0x27, // Maximum Packet Size identifier (3.1.2.11.4)
      0x00,
      0x01,
      0x00,
      0x00, // 65536, Four Byte Integer, most significant byte first (1.5.3)
      0x22, // Topic Alias Maximum identifier (3.1.2.11.5)
      0x00,
      0x00, // 0: no aliases
      0x19, // Request Response Information identifier (3.1.2.11.6)
      0x01, // 1
      0x17, // Request Problem Information identifier (3.1.2.11.7)
      0x00, // 0
      0x15, // Authentication Method identifier (3.1.2.11.9)
      0x00,
      0x01,
      ...ascii("M"), // "M"
      0x16, // Authentication Data identifier (3.1.2.11.10)
      0x00,
      0x01,
      0xab, // Binary Data of 1 byte (1.5.6)
      0x00,
      0x01,
      ...ascii("c"), // Client Identifier "c" (3.1.3.1)
      0x00, // Will Property Length 0 (3.1.3.2.1) [MQTT-2.2.2-1]
      0x00,
      0x01,
      ...ascii("t"), // Will Topic "t" (3.1.3.3)
      0x00,
      0x00, // Will Payload, empty Binary Data (3.1.3.4)
      0x00,
      0x00, // Password, empty Binary Data (3.1.3.6)
    ],
    decoded: {
      type: 1,
      protocolVersion: 5,
      cleanStart: false,
      keepAlive: 0x1234,
      clientId: "c",
      properties: {
        maximumPacketSize: 0x00010000,
        topicAliasMaximum: 0,
        requestResponseInformation: 1,
        requestProblemInformation: 0,
        authenticationMethod: "M",
        authenticationData: u8(0xab),
      },
      will: { topic: "t", payload: u8(), qos: 2, retain: false },
      password: u8(),
    },
  },
  {
    name: "CONNACK, Session Present, with properties",
    packet: {
      type: 2,
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        receiveMaximum: 10,
        maximumQoS: 1,
        retainAvailable: 0,
        maximumPacketSize: 1_048_576,
        assignedClientIdentifier: "auto-1",
        topicAliasMaximum: 5,
        serverKeepAlive: 30,
      },
    },
    bytes: [
      0x20, // CONNACK (type 2), flags 0000 (3.2.1)
      0x1e, // Remaining Length 30 (2.1.4)
      0x01, // Connect Acknowledge Flags: Session Present 1 (3.2.2.1.1)
      0x00, // Connect Reason Code 0x00 Success (3.2.2.2)
      0x1b, // Property Length 27 (3.2.2.3.1)
      0x21, // Receive Maximum identifier (3.2.2.3.3)
      0x00,
      0x0a, // 10
      0x24, // Maximum QoS identifier (3.2.2.3.4)
      0x01, // 1
      0x25, // Retain Available identifier (3.2.2.3.5)
      0x00, // 0: not available
      0x27, // Maximum Packet Size identifier (3.2.2.3.6)
      0x00,
      0x10,
      0x00,
      0x00, // 1,048,576
      0x12, // Assigned Client Identifier identifier (3.2.2.3.7)
      0x00,
      0x06,
      ...ascii("auto-1"), // "auto-1"
      0x22, // Topic Alias Maximum identifier (3.2.2.3.8)
      0x00,
      0x05, // 5
      0x13, // Server Keep Alive identifier (3.2.2.3.14)
      0x00,
      0x1e, // 30 s
    ],
    decoded: {
      type: 2,
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        receiveMaximum: 10,
        maximumQoS: 1,
        retainAvailable: 0,
        maximumPacketSize: 1_048_576,
        assignedClientIdentifier: "auto-1",
        topicAliasMaximum: 5,
        serverKeepAlive: 30,
      },
    },
  },
  {
    name: "CONNACK refusing with 0x87, Property Length 0 [MQTT-2.2.2-1]",
    packet: { type: 2, sessionPresent: false, reasonCode: 0x87 },
    bytes: [
      0x20, // CONNACK, flags 0000 (3.2.1)
      0x03, // Remaining Length 3 (2.1.4)
      0x00, // Connect Acknowledge Flags: Session Present 0 (3.2.2.1.1)
      0x87, // Connect Reason Code 0x87 Not authorized (3.2.2.2)
      0x00, // Property Length 0 (3.2.2.3.1) [MQTT-2.2.2-1]
    ],
    decoded: { type: 2, sessionPresent: false, reasonCode: 0x87 },
  },
  {
    name: "CONNACK with the other server properties",
    packet: {
      type: 2,
      sessionPresent: false,
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0xffff_ffff,
        reasonString: "r",
        userProperties: [["a", "b"]],
        wildcardSubscriptionAvailable: 0,
        subscriptionIdentifierAvailable: 1,
        sharedSubscriptionAvailable: 0,
        responseInformation: "ri",
        serverReference: "s",
        authenticationMethod: "m",
        authenticationData: u8(),
      },
    },
    bytes: [
      0x20, // CONNACK, flags 0000 (3.2.1)
      0x29, // Remaining Length 41 (2.1.4)
      0x00, // Session Present 0 (3.2.2.1.1)
      0x9c, // Connect Reason Code 0x9C Use another server (3.2.2.2)
      0x26, // Property Length 38 (3.2.2.3.1)
      0x11, // Session Expiry Interval identifier (3.2.2.3.2)
      0xff,
      0xff,
      0xff,
      0xff, // 0xFFFFFFFF: never expires (1.5.3)
      0x1f, // Reason String identifier (3.2.2.3.9)
      0x00,
      0x01,
      ...ascii("r"), // "r"
      0x26, // User Property identifier (3.2.2.3.10)
      0x00,
      0x01,
      ...ascii("a"), // name "a"
      0x00,
      0x01,
      ...ascii("b"), // value "b"
      0x28, // Wildcard Subscription Available identifier (3.2.2.3.11)
      0x00, // 0
      0x29, // Subscription Identifier Available identifier (3.2.2.3.12)
      0x01, // 1
      0x2a, // Shared Subscription Available identifier (3.2.2.3.13)
      0x00, // 0
      0x1a, // Response Information identifier (3.2.2.3.15)
      0x00,
      0x02,
      ...ascii("ri"), // "ri"
      0x1c, // Server Reference identifier (3.2.2.3.16)
      0x00,
      0x01,
      ...ascii("s"), // "s"
      0x15, // Authentication Method identifier (3.2.2.3.17)
      0x00,
      0x01,
      ...ascii("m"), // "m"
      0x16, // Authentication Data identifier (3.2.2.3.18)
      0x00,
      0x00, // empty Binary Data (1.5.6)
    ],
    decoded: {
      type: 2,
      sessionPresent: false,
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0xffff_ffff,
        reasonString: "r",
        userProperties: [["a", "b"]],
        wildcardSubscriptionAvailable: 0,
        subscriptionIdentifierAvailable: 1,
        sharedSubscriptionAvailable: 0,
        responseInformation: "ri",
        serverReference: "s",
        authenticationMethod: "m",
        authenticationData: u8(),
      },
    },
  },
  {
    name: "PUBLISH QoS 0, no Packet Identifier [MQTT-2.2.1-2], Property Length 0",
    packet: { type: 3, topic: "a/b", payload: u8(0x68, 0x69), qos: 0 },
    bytes: [
      0x30, // PUBLISH (type 3), flags 0000: DUP 0, QoS 00, RETAIN 0 (3.3.1)
      0x08, // Remaining Length 8 (2.1.4)
      0x00,
      0x03,
      ...ascii("a/b"), // Topic Name "a/b" (3.3.2.1)
      0x00, // Property Length 0 (3.3.2.3.1) [MQTT-2.2.2-1]
      0x68,
      0x69, // Payload "hi" (3.3.3)
    ],
    decoded: {
      type: 3,
      topic: "a/b",
      payload: u8(0x68, 0x69),
      qos: 0,
      retain: false,
      dup: false,
    },
  },
  {
    name: "PUBLISH QoS 1, RETAIN, every PUBLISH property, repeated User Property and " +
      "Subscription Identifier",
    packet: {
      type: 3,
      topic: "t",
      payload: u8(1, 2, 3),
      qos: 1,
      retain: true,
      packetId: 10,
      properties: {
        payloadFormatIndicator: 0,
        messageExpiryInterval: 60,
        topicAlias: 2,
        responseTopic: "r",
        correlationData: u8(0xca, 0xfe),
        userProperties: [["a", "1"], ["a", "2"]],
        subscriptionIdentifiers: [1, 200],
        contentType: "text/plain",
      },
    },
    bytes: [
      0x33, // PUBLISH, flags 0011: DUP 0, QoS 01, RETAIN 1 (3.3.1.1 - 3.3.1.3)
      0x3c, // Remaining Length 60 (3.3.1.4)
      0x00,
      0x01,
      ...ascii("t"), // Topic Name "t" (3.3.2.1)
      0x00,
      0x0a, // Packet Identifier 10 (3.3.2.2)
      0x33, // Property Length 51 (3.3.2.3.1)
      0x01, // Payload Format Indicator identifier (3.3.2.3.2)
      0x00, // 0: unspecified bytes
      0x02, // Message Expiry Interval identifier (3.3.2.3.3)
      0x00,
      0x00,
      0x00,
      0x3c, // 60 s
      0x23, // Topic Alias identifier (3.3.2.3.4)
      0x00,
      0x02, // 2
      0x08, // Response Topic identifier (3.3.2.3.5)
      0x00,
      0x01,
      ...ascii("r"), // "r"
      0x09, // Correlation Data identifier (3.3.2.3.6)
      0x00,
      0x02,
      0xca,
      0xfe, // Binary Data of 2 bytes
      0x26, // User Property identifier (3.3.2.3.7)
      0x00,
      0x01,
      ...ascii("a"), // name "a"
      0x00,
      0x01,
      ...ascii("1"), // value "1"
      0x26, // User Property identifier again: it may repeat, in order (3.3.2.3.7)
      0x00,
      0x01,
      ...ascii("a"), // name "a"
      0x00,
      0x01,
      ...ascii("2"), // value "2"
      0x0b, // Subscription Identifier identifier (3.3.2.3.8)
      0x01, // 1, Variable Byte Integer (1.5.5)
      0x0b, // Subscription Identifier again (3.3.2.3.8, [MQTT-3.3.4-4])
      0xc8,
      0x01, // 200 = 0x48 + 1 * 128, Variable Byte Integer of 2 bytes (1.5.5)
      0x03, // Content Type identifier (3.3.2.3.9)
      0x00,
      0x0a,
      ...ascii("text/plain"), // "text/plain"
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
      properties: {
        payloadFormatIndicator: 0,
        messageExpiryInterval: 60,
        topicAlias: 2,
        responseTopic: "r",
        correlationData: u8(0xca, 0xfe),
        userProperties: [["a", "1"], ["a", "2"]],
        subscriptionIdentifiers: [1, 200],
        contentType: "text/plain",
      },
    },
  },
  {
    name: "PUBLISH QoS 2 with DUP, empty payload",
    packet: { type: 3, topic: "x/y", payload: u8(), qos: 2, dup: true, packetId: 0x1234 },
    bytes: [
      0x3c, // PUBLISH, flags 1100: DUP 1, QoS 10, RETAIN 0 (3.3.1)
      0x08, // Remaining Length 8 (3.3.1.4)
      0x00,
      0x03,
      ...ascii("x/y"), // Topic Name "x/y" (3.3.2.1)
      0x12,
      0x34, // Packet Identifier 0x1234 (3.3.2.2)
      0x00, // Property Length 0 (3.3.2.3.1)
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
  {
    name: "PUBLISH with an empty Topic Name and a Topic Alias [MQTT-3.3.2-1]",
    packet: { type: 3, topic: "", payload: u8(0), qos: 0, properties: { topicAlias: 1 } },
    bytes: [
      0x30, // PUBLISH, flags 0000 (3.3.1)
      0x07, // Remaining Length 7 (3.3.1.4)
      0x00,
      0x00, // Topic Name: zero length, the alias stands for it (3.3.2.1)
      0x03, // Property Length 3 (3.3.2.3.1)
      0x23, // Topic Alias identifier (3.3.2.3.4)
      0x00,
      0x01, // 1
      0x00, // Payload: one byte 0x00 (3.3.3)
    ],
    decoded: {
      type: 3,
      topic: "",
      payload: u8(0),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 1 },
    },
  },
  {
    name: "PUBACK, short form: Reason Code 0 and no properties omitted (3.4.2.1)",
    packet: { type: 4, packetId: 1 },
    bytes: [
      0x40, // PUBACK (type 4), flags 0000 (3.4.1)
      0x02, // Remaining Length 2: the Packet Identifier only (3.4.2.1)
      0x00,
      0x01, // Packet Identifier 1 (3.4.2)
    ],
    decoded: { type: 4, packetId: 1, reasonCode: 0 },
  },
  {
    name: "PUBACK with a Reason Code and no properties: Property Length omitted (3.4.2.2.1)",
    packet: { type: 4, packetId: 1, reasonCode: 0x10 },
    bytes: [
      0x40, // PUBACK, flags 0000 (3.4.1)
      0x03, // Remaining Length 3 (3.4.2.2.1: Property Length omitted when < 4)
      0x00,
      0x01, // Packet Identifier 1 (3.4.2)
      0x10, // PUBACK Reason Code 0x10 No matching subscribers (3.4.2.1)
    ],
    decoded: { type: 4, packetId: 1, reasonCode: 0x10 },
  },
  {
    name: "PUBACK, long form with Reason String and User Property",
    packet: {
      type: 4,
      packetId: 0x0102,
      reasonCode: 0x87,
      properties: { reasonString: "no", userProperties: [["x", "y"]] },
    },
    bytes: [
      0x40, // PUBACK, flags 0000 (3.4.1)
      0x10, // Remaining Length 16 (2.1.4)
      0x01,
      0x02, // Packet Identifier 0x0102 (3.4.2)
      0x87, // PUBACK Reason Code 0x87 Not authorized (3.4.2.1)
      0x0c, // Property Length 12 (3.4.2.2.1)
      0x1f, // Reason String identifier (3.4.2.2.2)
      0x00,
      0x02,
      ...ascii("no"), // "no"
      0x26, // User Property identifier (3.4.2.2.3)
      0x00,
      0x01,
      ...ascii("x"), // name
      0x00,
      0x01,
      ...ascii("y"), // value
    ],
    decoded: {
      type: 4,
      packetId: 0x0102,
      reasonCode: 0x87,
      properties: { reasonString: "no", userProperties: [["x", "y"]] },
    },
  },
  {
    name: "PUBACK Success with a property: the Reason Code byte is written",
    packet: { type: 4, packetId: 5, properties: { reasonString: "ok" } },
    bytes: [
      0x40, // PUBACK, flags 0000 (3.4.1)
      0x09, // Remaining Length 9 (2.1.4)
      0x00,
      0x05, // Packet Identifier 5 (3.4.2)
      0x00, // PUBACK Reason Code 0x00 Success (3.4.2.1)
      0x05, // Property Length 5 (3.4.2.2.1)
      0x1f, // Reason String identifier (3.4.2.2.2)
      0x00,
      0x02,
      ...ascii("ok"), // "ok"
    ],
    decoded: { type: 4, packetId: 5, reasonCode: 0, properties: { reasonString: "ok" } },
  },
  {
    name: "PUBREC, short form",
    packet: { type: 5, packetId: 7 },
    bytes: [
      0x50, // PUBREC (type 5), flags 0000 (3.5.1)
      0x02, // Remaining Length 2 (3.5.2.1)
      0x00,
      0x07, // Packet Identifier 7 (3.5.2)
    ],
    decoded: { type: 5, packetId: 7, reasonCode: 0 },
  },
  {
    name: "PUBREC with Reason Code and User Property",
    packet: {
      type: 5,
      packetId: 7,
      reasonCode: 0x91,
      properties: { userProperties: [["k", ""]] },
    },
    bytes: [
      0x50, // PUBREC, flags 0000 (3.5.1)
      0x0a, // Remaining Length 10 (2.1.4)
      0x00,
      0x07, // Packet Identifier 7 (3.5.2)
      0x91, // PUBREC Reason Code 0x91 Packet Identifier in use (3.5.2.1)
      0x06, // Property Length 6 (3.5.2.2.1)
      0x26, // User Property identifier (3.5.2.2.3)
      0x00,
      0x01,
      ...ascii("k"), // name "k"
      0x00,
      0x00, // value "": empty string (1.5.4)
    ],
    decoded: {
      type: 5,
      packetId: 7,
      reasonCode: 0x91,
      properties: { userProperties: [["k", ""]] },
    },
  },
  {
    name: "PUBREL, flags 0010 [MQTT-3.6.1-1], short form",
    packet: { type: 6, packetId: 7 },
    bytes: [
      0x62, // PUBREL (type 6), flags 0010 (3.6.1) [MQTT-3.6.1-1]
      0x02, // Remaining Length 2 (3.6.2.1)
      0x00,
      0x07, // Packet Identifier 7 (3.6.2)
    ],
    decoded: { type: 6, packetId: 7, reasonCode: 0 },
  },
  {
    name: "PUBREL with Reason Code 0x92",
    packet: { type: 6, packetId: 0xffff, reasonCode: 0x92 },
    bytes: [
      0x62, // PUBREL, flags 0010 (3.6.1)
      0x03, // Remaining Length 3 (3.6.2.2.1)
      0xff,
      0xff, // Packet Identifier 65535 (3.6.2)
      0x92, // PUBREL Reason Code 0x92 Packet Identifier not found (3.6.2.1)
    ],
    decoded: { type: 6, packetId: 0xffff, reasonCode: 0x92 },
  },
  {
    name: "PUBCOMP, short form",
    packet: { type: 7, packetId: 7 },
    bytes: [
      0x70, // PUBCOMP (type 7), flags 0000 (3.7.1)
      0x02, // Remaining Length 2 (3.7.2.1)
      0x00,
      0x07, // Packet Identifier 7 (3.7.2)
    ],
    decoded: { type: 7, packetId: 7, reasonCode: 0 },
  },
  {
    name: "PUBCOMP with Reason Code 0x92 and Reason String",
    packet: { type: 7, packetId: 8, reasonCode: 0x92, properties: { reasonString: "gone" } },
    bytes: [
      0x70, // PUBCOMP, flags 0000 (3.7.1)
      0x0b, // Remaining Length 11 (2.1.4)
      0x00,
      0x08, // Packet Identifier 8 (3.7.2)
      0x92, // PUBCOMP Reason Code 0x92 Packet Identifier not found (3.7.2.1)
      0x07, // Property Length 7 (3.7.2.2.1)
      0x1f, // Reason String identifier (3.7.2.2.2)
      0x00,
      0x04,
      ...ascii("gone"), // "gone"
    ],
    decoded: { type: 7, packetId: 8, reasonCode: 0x92, properties: { reasonString: "gone" } },
  },
  {
    name: "SUBSCRIBE, flags 0010 [MQTT-3.8.1-1], three filters with options and properties",
    packet: {
      type: 8,
      packetId: 10,
      properties: { subscriptionIdentifiers: [5], userProperties: [["u", "v"]] },
      subscriptions: [
        { filter: "a/+", qos: 1 },
        { filter: "b/#", qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { filter: "$share/g/c", retainHandling: 1 },
      ],
    },
    bytes: [
      0x82, // SUBSCRIBE (type 8), flags 0010 (3.8.1) [MQTT-3.8.1-1]
      0x25, // Remaining Length 37 (2.1.4)
      0x00,
      0x0a, // Packet Identifier 10 (3.8.2)
      0x09, // Property Length 9 (3.8.2.1.1)
      0x0b, // Subscription Identifier identifier (3.8.2.1.2)
      0x05, // 5, Variable Byte Integer
      0x26, // User Property identifier (3.8.2.1.3)
      0x00,
      0x01,
      ...ascii("u"), // name
      0x00,
      0x01,
      ...ascii("v"), // value
      0x00,
      0x03,
      ...ascii("a/+"), // Topic Filter "a/+" (3.8.3)
      0x01, // Subscription Options: Retain Handling 00, RAP 0, NL 0, QoS 01 (3.8.3.1)
      0x00,
      0x03,
      ...ascii("b/#"), // Topic Filter "b/#" (3.8.3)
      0x2e, // Subscription Options 0010 1110: Retain Handling 10, RAP 1, NL 1, QoS 10 (3.8.3.1)
      0x00,
      0x0a,
      ...ascii("$share/g/c"), // Topic Filter "$share/g/c": a shared subscription (4.8.2)
      0x10, // Subscription Options 0001 0000: Retain Handling 01, QoS 00 (3.8.3.1)
    ],
    decoded: {
      type: 8,
      packetId: 10,
      properties: { subscriptionIdentifiers: [5], userProperties: [["u", "v"]] },
      subscriptions: [
        { filter: "a/+", qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { filter: "b/#", qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        {
          filter: "$share/g/c",
          qos: 0,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 1,
        },
      ],
    },
  },
  {
    name: "SUBACK with properties and three reason codes",
    packet: {
      type: 9,
      packetId: 10,
      reasonCodes: [0x01, 0x02, 0x80],
      properties: { reasonString: "r" },
    },
    bytes: [
      0x90, // SUBACK (type 9), flags 0000 (3.9.1)
      0x0a, // Remaining Length 10 (2.1.4)
      0x00,
      0x0a, // Packet Identifier 10 (3.9.2)
      0x04, // Property Length 4 (3.9.2.1.1)
      0x1f, // Reason String identifier (3.9.2.1.2)
      0x00,
      0x01,
      ...ascii("r"), // "r"
      0x01, // Reason Code 0x01 Granted QoS 1 (3.9.3)
      0x02, // Reason Code 0x02 Granted QoS 2 (3.9.3)
      0x80, // Reason Code 0x80 Unspecified error (3.9.3)
    ],
    decoded: {
      type: 9,
      packetId: 10,
      properties: { reasonString: "r" },
      reasonCodes: [0x01, 0x02, 0x80],
    },
  },
  {
    name: "SUBACK without properties",
    packet: { type: 9, packetId: 11, reasonCodes: [0x00] },
    bytes: [
      0x90, // SUBACK, flags 0000 (3.9.1)
      0x04, // Remaining Length 4 (2.1.4)
      0x00,
      0x0b, // Packet Identifier 11 (3.9.2)
      0x00, // Property Length 0 (3.9.2.1.1) [MQTT-2.2.2-1]
      0x00, // Reason Code 0x00 Granted QoS 0 (3.9.3)
    ],
    decoded: { type: 9, packetId: 11, reasonCodes: [0x00] },
  },
  {
    name: "UNSUBSCRIBE, flags 0010 [MQTT-3.10.1-1], two filters and a User Property",
    packet: {
      type: 10,
      packetId: 11,
      filters: ["a/+", "b"],
      properties: { userProperties: [["k", "v"]] },
    },
    bytes: [
      0xa2, // UNSUBSCRIBE (type 10), flags 0010 (3.10.1) [MQTT-3.10.1-1]
      0x12, // Remaining Length 18 (2.1.4)
      0x00,
      0x0b, // Packet Identifier 11 (3.10.2)
      0x07, // Property Length 7 (3.10.2.1.1)
      0x26, // User Property identifier (3.10.2.1.2)
      0x00,
      0x01,
      ...ascii("k"), // name
      0x00,
      0x01,
      ...ascii("v"), // value
      0x00,
      0x03,
      ...ascii("a/+"), // Topic Filter "a/+" (3.10.3)
      0x00,
      0x01,
      ...ascii("b"), // Topic Filter "b" (3.10.3)
    ],
    decoded: {
      type: 10,
      packetId: 11,
      properties: { userProperties: [["k", "v"]] },
      filters: ["a/+", "b"],
    },
  },
  {
    name: "UNSUBACK with two reason codes",
    packet: { type: 11, packetId: 11, reasonCodes: [0x00, 0x11] },
    bytes: [
      0xb0, // UNSUBACK (type 11), flags 0000 (3.11.1)
      0x05, // Remaining Length 5 (2.1.4)
      0x00,
      0x0b, // Packet Identifier 11 (3.11.2)
      0x00, // Property Length 0 (3.11.2.1.1) [MQTT-2.2.2-1]
      0x00, // Reason Code 0x00 Success (3.11.3)
      0x11, // Reason Code 0x11 No subscription existed (3.11.3)
    ],
    decoded: { type: 11, packetId: 11, reasonCodes: [0x00, 0x11] },
  },
  {
    name: "PINGREQ",
    packet: { type: 12 },
    bytes: [
      0xc0, // PINGREQ (type 12), flags 0000 (3.12.1)
      0x00, // Remaining Length 0: no variable header, no payload (3.12.1)
    ],
    decoded: { type: 12 },
  },
  {
    name: "PINGRESP",
    packet: { type: 13 },
    bytes: [
      0xd0, // PINGRESP (type 13), flags 0000 (3.13.1)
      0x00, // Remaining Length 0 (3.13.1)
    ],
    decoded: { type: 13 },
  },
  {
    name: "DISCONNECT, empty: Reason Code 0x00 and no properties omitted (3.14.2.1)",
    packet: { type: 14 },
    bytes: [
      0xe0, // DISCONNECT (type 14), flags 0000 (3.14.1) [MQTT-3.14.1-1]
      0x00, // Remaining Length 0 (3.14.2.1)
    ],
    decoded: { type: 14, reasonCode: 0 },
  },
  {
    name: "DISCONNECT with a Reason Code only: Property Length omitted (3.14.2.2.1)",
    packet: { type: 14, reasonCode: 0x04 },
    bytes: [
      0xe0, // DISCONNECT, flags 0000 (3.14.1)
      0x01, // Remaining Length 1 (3.14.2.2.1)
      0x04, // Disconnect Reason Code 0x04 Disconnect with Will Message (3.14.2.1)
    ],
    decoded: { type: 14, reasonCode: 0x04 },
  },
  {
    name: "DISCONNECT Normal with Session Expiry Interval and Reason String",
    packet: { type: 14, properties: { sessionExpiryInterval: 120, reasonString: "bye" } },
    bytes: [
      0xe0, // DISCONNECT, flags 0000 (3.14.1)
      0x0d, // Remaining Length 13 (2.1.4)
      0x00, // Disconnect Reason Code 0x00 Normal disconnection (3.14.2.1)
      0x0b, // Property Length 11 (3.14.2.2.1)
      0x11, // Session Expiry Interval identifier (3.14.2.2.2)
      0x00,
      0x00,
      0x00,
      0x78, // 120 s
      0x1f, // Reason String identifier (3.14.2.2.3)
      0x00,
      0x03,
      ...ascii("bye"), // "bye"
    ],
    decoded: {
      type: 14,
      reasonCode: 0,
      properties: { sessionExpiryInterval: 120, reasonString: "bye" },
    },
  },
  {
    name: "DISCONNECT 0x9C with Server Reference and User Property",
    packet: {
      type: 14,
      reasonCode: 0x9c,
      properties: { serverReference: "s2", userProperties: [["a", "b"]] },
    },
    bytes: [
      0xe0, // DISCONNECT, flags 0000 (3.14.1)
      0x0e, // Remaining Length 14 (2.1.4)
      0x9c, // Disconnect Reason Code 0x9C Use another server (3.14.2.1)
      0x0c, // Property Length 12 (3.14.2.2.1)
      0x1c, // Server Reference identifier (3.14.2.2.5)
      0x00,
      0x02,
      ...ascii("s2"), // "s2"
      0x26, // User Property identifier (3.14.2.2.4)
      0x00,
      0x01,
      ...ascii("a"), // name
      0x00,
      0x01,
      ...ascii("b"), // value
    ],
    decoded: {
      type: 14,
      reasonCode: 0x9c,
      properties: { serverReference: "s2", userProperties: [["a", "b"]] },
    },
  },
  {
    name: "AUTH, empty: Reason Code 0x00 and no properties omitted (3.15.2.1)",
    packet: { type: 15 },
    bytes: [
      0xf0, // AUTH (type 15), flags 0000 (3.15.1) [MQTT-3.15.1-1]
      0x00, // Remaining Length 0 (3.15.2.1)
    ],
    decoded: { type: 15, reasonCode: 0 },
  },
  {
    name: "AUTH Continue authentication with method, data, Reason String, User Property",
    packet: {
      type: 15,
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "SCRAM",
        authenticationData: u8(1, 2),
        reasonString: "c",
        userProperties: [["p", "q"]],
      },
    },
    bytes: [
      0xf0, // AUTH, flags 0000 (3.15.1)
      0x1a, // Remaining Length 26 (2.1.4)
      0x18, // Authenticate Reason Code 0x18 Continue authentication (3.15.2.1)
      0x18, // Property Length 24 (3.15.2.2.1)
      0x15, // Authentication Method identifier (3.15.2.2.2)
      0x00,
      0x05,
      ...ascii("SCRAM"), // "SCRAM"
      0x16, // Authentication Data identifier (3.15.2.2.3)
      0x00,
      0x02,
      0x01,
      0x02, // Binary Data of 2 bytes
      0x1f, // Reason String identifier (3.15.2.2.4)
      0x00,
      0x01,
      ...ascii("c"), // "c"
      0x26, // User Property identifier (3.15.2.2.5)
      0x00,
      0x01,
      ...ascii("p"), // name
      0x00,
      0x01,
      ...ascii("q"), // value
    ],
    decoded: {
      type: 15,
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "SCRAM",
        authenticationData: u8(1, 2),
        reasonString: "c",
        userProperties: [["p", "q"]],
      },
    },
  },
];

/**
 * A QoS 0 PUBLISH to topic "a" whose Remaining Length is `remainingLength` (at least 4): the
 * topic takes 3 bytes, the Property Length 1, the payload the rest.
 */
export function publishOfRemainingLength(remainingLength: number): {
  packet: Packet;
  payloadLength: number;
} {
  const payloadLength = remainingLength - 4;
  return {
    packet: { type: 3, topic: "a", payload: new Uint8Array(payloadLength), qos: 0 },
    payloadLength,
  };
}

/** Vectors whose Remaining Length takes 2 and 3 bytes, for the framing tests. */
export const longVectors: { name: string; bytes: Uint8Array }[] = [
  {
    name: "PUBLISH of Remaining Length 200 (2-byte Remaining Length)",
    bytes: new Uint8Array([
      0x30, // PUBLISH QoS 0 (3.3.1)
      0xc8,
      0x01, // Remaining Length 200 = 0x48 + 1 * 128 (1.5.5)
      0x00,
      0x01,
      ...ascii("a"), // Topic Name "a"
      0x00, // Property Length 0
      ...new Array<number>(196).fill(0x5a), // Payload of 196 bytes
    ]),
  },
  {
    name: "PUBLISH of Remaining Length 16384 (3-byte Remaining Length)",
    bytes: new Uint8Array([
      0x30, // PUBLISH QoS 0 (3.3.1)
      0x80,
      0x80,
      0x01, // Remaining Length 16384 = 1 * 128^2 (1.5.5)
      0x00,
      0x01,
      ...ascii("a"), // Topic Name "a"
      0x00, // Property Length 0
      ...new Array<number>(16380).fill(0xa5), // Payload of 16380 bytes
    ]),
  },
];

/**
 * The reason codes each packet type may carry, copied from the tables of the specification
 * (3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1), independently
 * of the codec's own table.
 */
export const specReasonCodes: Readonly<Record<number, readonly number[]>> = {
  // CONNACK: Success, Unspecified error, Malformed Packet, Protocol Error, Implementation specific
  // error, Unsupported Protocol Version, Client Identifier not valid, Bad User Name or Password,
  // Not authorized, Server unavailable, Server busy, Banned, Bad authentication method, Topic Name
  // invalid, Packet too large, Quota exceeded, Payload format invalid, Retain not supported, QoS
  // not supported, Use another server, Server moved, Connection rate exceeded.
  2: [
    0x00,
    0x80,
    0x81,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x8c,
    0x90,
    0x95,
    0x97,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9f,
  ],
  // PUBACK and PUBREC: Success, No matching subscribers, Unspecified error, Implementation specific
  // error, Not authorized, Topic Name invalid, Packet identifier in use, Quota exceeded, Payload
  // format invalid.
  4: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  5: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  // PUBREL and PUBCOMP: Success, Packet Identifier not found.
  6: [0x00, 0x92],
  7: [0x00, 0x92],
  // SUBACK: Granted QoS 0, 1, 2, Unspecified error, Implementation specific error, Not authorized,
  // Topic Filter invalid, Packet Identifier in use, Quota exceeded, Shared Subscriptions not
  // supported, Subscription Identifiers not supported, Wildcard Subscriptions not supported.
  9: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
  // UNSUBACK: Success, No subscription existed, Unspecified error, Implementation specific error,
  // Not authorized, Topic Filter invalid, Packet Identifier in use.
  11: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
  // DISCONNECT: Normal disconnection, Disconnect with Will Message, Unspecified error, Malformed
  // Packet, Protocol Error, Implementation specific error, Not authorized, Server busy, Server
  // shutting down, Keep Alive timeout, Session taken over, Topic Filter invalid, Topic Name
  // invalid, Receive Maximum exceeded, Topic Alias invalid, Packet too large, Message rate too
  // high, Quota exceeded, Administrative action, Payload format invalid, Retain not supported, QoS
  // not supported, Use another server, Server moved, Shared Subscriptions not supported,
  // Connection rate exceeded, Maximum connect time, Subscription Identifiers not supported,
  // Wildcard Subscriptions not supported.
  14: [
    0x00,
    0x04,
    0x80,
    0x81,
    0x82,
    0x83,
    0x87,
    0x89,
    0x8b,
    0x8d,
    0x8e,
    0x8f,
    0x90,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9e,
    0x9f,
    0xa0,
    0xa1,
    0xa2,
  ],
  // AUTH: Success, Continue authentication, Re-authenticate.
  15: [0x00, 0x18, 0x19],
};
