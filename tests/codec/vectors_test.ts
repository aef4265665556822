// Byte-exact vectors: every packet type and the data types of section 1.5, written by hand from
// the layout tables of the specification (see _vectors.ts), checked in both directions.

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  decode,
  encode,
  encodedLength,
  EncodeError,
  encodeInto,
  encodePublishHead,
  frame,
  type Packet,
  type Publish,
} from "../../src/codec/mod.ts";
import { ascii, longVectors, publishOfRemainingLength, u8, vectors } from "./_vectors.ts";

Deno.test("encode() writes the bytes of the specification's layout for every packet type", {
  permissions: "none",
}, async (t) => {
  for (const v of vectors) {
    await t.step(v.name, () => {
      deepStrictEqual(encode(v.packet), new Uint8Array(v.bytes));
      equal(encodedLength(v.packet), v.bytes.length);
    });
  }
});

Deno.test("decode() reads every packet type from the specification's layout", {
  permissions: "none",
}, async (t) => {
  for (const v of vectors) {
    await t.step(v.name, () => {
      deepStrictEqual(decode(new Uint8Array(v.bytes)), v.decoded);
    });
  }
});

Deno.test("the vectors cover all 15 packet types", { permissions: "none" }, () => {
  const types = new Set(vectors.map((v) => v.packet.type));
  deepStrictEqual([...types].sort((a, b) => a - b), [
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
  ]);
});

Deno.test("encodeInto() writes the same bytes at an offset and refuses a target too small", {
  permissions: "none",
}, async (t) => {
  for (const v of vectors) {
    await t.step(v.name, () => {
      const target = new Uint8Array(v.bytes.length + 7).fill(0xee);
      equal(encodeInto(v.packet, target, 3), v.bytes.length);
      deepStrictEqual(target.subarray(3, 3 + v.bytes.length), new Uint8Array(v.bytes));
      equal(target[2], 0xee);
      equal(target[3 + v.bytes.length], 0xee);
      const small = new Uint8Array(v.bytes.length - 1).fill(0xee);
      throws(() => encodeInto(v.packet, small, 0), RangeError);
      deepStrictEqual(small, new Uint8Array(v.bytes.length - 1).fill(0xee)); // nothing written
    });
  }
});

Deno.test("decode() of a vector keeps its payload and binary fields as views of the input", {
  permissions: "none",
}, () => {
  const v = vectors.find((v) => v.packet.type === 3 && v.packet.qos === 1)!;
  const bytes = new Uint8Array(v.bytes);
  const p = decode(bytes);
  if (p.type !== 3) throw new Error("expected PUBLISH");
  equal(p.payload.buffer, bytes.buffer);
  equal(p.properties?.correlationData?.buffer, bytes.buffer);
});

// Variable Byte Integer (1.5.5), through the Remaining Length (2.1.4): the boundaries of the
// table in 1.5.5, each in its shortest encoding [MQTT-1.5.5-1].
const vbiBoundaries: { value: number; bytes: number[] }[] = [
  { value: 0, bytes: [0x00] },
  { value: 127, bytes: [0x7f] },
  { value: 128, bytes: [0x80, 0x01] },
  { value: 16_383, bytes: [0xff, 0x7f] },
  { value: 16_384, bytes: [0x80, 0x80, 0x01] },
  { value: 2_097_151, bytes: [0xff, 0xff, 0x7f] },
  { value: 2_097_152, bytes: [0x80, 0x80, 0x80, 0x01] },
  { value: 268_435_455, bytes: [0xff, 0xff, 0xff, 0x7f] },
];

Deno.test("Remaining Length is a Variable Byte Integer in its shortest encoding [MQTT-1.5.5-1]", {
  permissions: "none",
}, async (t) => {
  for (const { value, bytes } of vbiBoundaries) {
    await t.step(`${value} is ${bytes.length} byte(s)`, () => {
      if (value === 0) {
        deepStrictEqual(encode({ type: 12 }), u8(0xc0, ...bytes)); // PINGREQ (3.12.1)
        return;
      }
      const { packet, payloadLength } = publishOfRemainingLength(value);
      const total = 1 + bytes.length + value;
      equal(encodedLength(packet), total);
      const encoded = encode(packet);
      equal(encoded.length, total);
      deepStrictEqual(
        encoded.subarray(0, 1 + bytes.length + 4),
        u8(
          0x30, // PUBLISH QoS 0 (3.3.1)
          ...bytes, // Remaining Length (2.1.4, 1.5.5)
          0x00,
          0x01,
          ...ascii("a"), // Topic Name "a" (3.3.2.1)
          0x00, // Property Length 0 (3.3.2.3.1)
        ),
      );
      deepStrictEqual(frame(encoded.subarray(0, 1 + bytes.length)), {
        complete: false,
        needed: value,
        length: total,
      });
      deepStrictEqual(frame(encoded), {
        complete: true,
        length: total,
        headerLength: 1 + bytes.length,
      });
      const p = decode(encoded);
      if (p.type !== 3) throw new Error("expected PUBLISH");
      equal(p.payload.length, payloadLength);
    });
  }
  await t.step("268,435,456 does not fit a Variable Byte Integer: refused with 0x95", () => {
    const { packet } = publishOfRemainingLength(268_435_456);
    throws(
      () => encodedLength(packet),
      (e) => e instanceof EncodeError && e.reasonCode === 0x95,
    );
  });
});

Deno.test(
  "encodePublishHead() writes a PUBLISH up to its payload, the Remaining Length counting it (3.3)",
  { permissions: "none" },
  () => {
    const payload = new Uint8Array(200).fill(0x78);
    const packet: Publish = {
      type: 3,
      topic: "a/b",
      payload,
      qos: 1,
      packetId: 0x0102,
      properties: { payloadFormatIndicator: 1 },
    };
    const head = [
      0x32, // PUBLISH, QoS 1 (3.3.1)
      0xd2,
      0x01, // Remaining Length 210 = 0x52 + 1 * 128, the 200-byte payload counted (2.1.4)
      0x00,
      0x03,
      ...ascii("a/b"), // Topic Name "a/b" (3.3.2.1)
      0x01,
      0x02, // Packet Identifier 258 (3.3.2.2)
      0x02, // Property Length 2 (3.3.2.3.1)
      0x01, // Payload Format Indicator identifier (3.3.2.3.2)
      0x01, // 1: the payload is UTF-8
    ]; // then the payload (3.3.3), not part of the head
    deepStrictEqual(encodePublishHead(packet), new Uint8Array(head));
    deepStrictEqual(encode(packet), new Uint8Array([...head, ...payload]));
    equal(encodedLength(packet), head.length + payload.length);
  },
);

Deno.test(
  "Two Byte and Four Byte Integers are big-endian (1.5.2, 1.5.3)",
  { permissions: "none" },
  () => {
    const packet: Packet = {
      type: 3,
      topic: "t",
      payload: u8(),
      qos: 1,
      packetId: 0xfffe,
      properties: { messageExpiryInterval: 0x12345678, topicAlias: 0xffff },
    };
    const bytes = [
      0x32, // PUBLISH QoS 1 (3.3.1)
      0x0e, // Remaining Length 14
      0x00,
      0x01,
      ...ascii("t"), // Topic Name "t" (3.3.2.1)
      0xff,
      0xfe, // Packet Identifier 65534: Two Byte Integer, high byte first (1.5.2)
      0x08, // Property Length 8 (3.3.2.3.1)
      0x02, // Message Expiry Interval identifier (3.3.2.3.3)
      0x12,
      0x34,
      0x56,
      0x78, // 0x12345678: Four Byte Integer, high byte first (1.5.3)
      0x23, // Topic Alias identifier (3.3.2.3.4)
      0xff,
      0xff, // 65535, the largest Two Byte Integer (1.5.2)
    ];
    deepStrictEqual(encode(packet), new Uint8Array(bytes));
    deepStrictEqual(decode(new Uint8Array(bytes)), { ...packet, retain: false, dup: false });
    // 0xFFFFFFFF reads back as an unsigned 4,294,967,295, not -1.
    const connack = decode(u8(0x20, 0x08, 0x00, 0x00, 0x05, 0x11, 0xff, 0xff, 0xff, 0xff));
    deepStrictEqual(connack, {
      type: 2,
      sessionPresent: false,
      reasonCode: 0,
      properties: { sessionExpiryInterval: 4_294_967_295 },
    });
  },
);

Deno.test("UTF-8 Encoded Strings (1.5.4)", { permissions: "none" }, async (t) => {
  const cases: { name: string; text: string; utf8: number[] }[] = [
    {
      name: "a leading BOM EF BB BF is kept, not stripped [MQTT-1.5.4-3]",
      text: "\uFEFFa",
      utf8: [0xef, 0xbb, 0xbf, 0x61], // U+FEFF ZERO WIDTH NO-BREAK SPACE, then "a"
    },
    {
      name: "a BOM in the middle is kept [MQTT-1.5.4-3]",
      text: "a\uFEFF\uFEFFb",
      utf8: [0x61, 0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x62],
    },
    {
      name: "two- and three-byte sequences",
      text: "é/€",
      utf8: [0xc3, 0xa9, 0x2f, 0xe2, 0x82, 0xac], // U+00E9, "/", U+20AC
    },
    {
      name: "a surrogate pair is one four-byte sequence",
      text: "😀/\u{10FFFD}",
      utf8: [0xf0, 0x9f, 0x98, 0x80, 0x2f, 0xf4, 0x8f, 0xbf, 0xbd], // U+1F600, "/", U+10FFFD
    },
    {
      name: "U+FFFD and U+0800, U+07FF boundaries",
      text: "\uFFFD\u0800\u07FF",
      utf8: [0xef, 0xbf, 0xbd, 0xe0, 0xa0, 0x80, 0xdf, 0xbf],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const packet: Packet = { type: 3, topic: c.text, payload: u8(), qos: 0 };
      const bytes = new Uint8Array([
        0x30, // PUBLISH QoS 0 (3.3.1)
        2 + c.utf8.length + 1, // Remaining Length
        0x00,
        c.utf8.length, // string length in bytes, not in characters (1.5.4)
        ...c.utf8, // the UTF-8 bytes (1.5.4)
        0x00, // Property Length 0
      ]);
      deepStrictEqual(encode(packet), bytes);
      deepStrictEqual(decode(bytes), { ...packet, retain: false, dup: false });
    });
  }
  await t.step("a string of 65,535 bytes, the most a string holds (1.5.4)", () => {
    const text = "€".repeat(21_845); // 3 bytes each: 65,535 bytes
    const encoded = encode({ type: 10, packetId: 1, filters: [text] });
    deepStrictEqual(encoded.subarray(0, 8), u8(0xa2, 0x84, 0x80, 0x04, 0x00, 0x01, 0x00, 0xff));
    // Remaining Length 65,540 = 0x04 + 0x00 * 128 + 0x04 * 128^2; then Packet Identifier 1,
    // Property Length 0, string length 0xFFFF
    equal(encoded[8], 0xff);
    const p = decode(encoded);
    if (p.type !== 10) throw new Error("expected UNSUBSCRIBE");
    equal(p.filters[0], text);
  });
});

Deno.test(
  "UTF-8 String Pair: name and value each a UTF-8 string (1.5.7)",
  { permissions: "none" },
  () => {
    const packet: Packet = {
      type: 10,
      packetId: 1,
      filters: ["f"],
      properties: { userProperties: [["名", "値"], ["", "v"]] },
    };
    const bytes = new Uint8Array([
      0xa2, // UNSUBSCRIBE, flags 0010 (3.10.1)
      0x17, // Remaining Length 23
      0x00,
      0x01, // Packet Identifier 1 (3.10.2)
      0x11, // Property Length 17 (3.10.2.1.1)
      0x26, // User Property identifier (3.10.2.1.2)
      0x00,
      0x03,
      0xe5,
      0x90,
      0x8d, // name "名" U+540D (1.5.7)
      0x00,
      0x03,
      0xe5,
      0x80,
      0xa4, // value "値" U+5024 (1.5.7)
      0x26, // User Property identifier again (3.10.2.1.2)
      0x00,
      0x00, // name "" (1.5.7)
      0x00,
      0x01,
      ...ascii("v"), // value "v"
      0x00,
      0x01,
      ...ascii("f"), // Topic Filter "f" (3.10.3)
    ]);
    deepStrictEqual(encode(packet), bytes);
    deepStrictEqual(decode(bytes), packet);
  },
);

Deno.test("Binary Data: a two-byte length then the bytes, zeros included (1.5.6)", {
  permissions: "none",
}, () => {
  const packet: Packet = {
    type: 3,
    topic: "t",
    payload: u8(0x00, 0x00),
    qos: 0,
    properties: { correlationData: u8(0x00, 0xff, 0x00) },
  };
  const bytes = new Uint8Array([
    0x30, // PUBLISH QoS 0 (3.3.1)
    0x0c, // Remaining Length 12
    0x00,
    0x01,
    ...ascii("t"), // Topic Name "t" (3.3.2.1)
    0x06, // Property Length 6 (3.3.2.3.1)
    0x09, // Correlation Data identifier (3.3.2.3.6)
    0x00,
    0x03, // Binary Data length 3 (1.5.6)
    0x00,
    0xff,
    0x00, // the bytes
    0x00,
    0x00, // Payload: two zero bytes, no length prefix (3.3.3)
  ]);
  deepStrictEqual(encode(packet), bytes);
  deepStrictEqual(decode(bytes), { ...packet, retain: false, dup: false });
});

Deno.test("Property Length 0 is written when there are no properties [MQTT-2.2.2-1]", {
  permissions: "none",
}, async (t) => {
  const cases: { name: string; packet: Packet; at: number; bytes: number[] }[] = [
    {
      name: "CONNECT",
      packet: { type: 1, clientId: "a" },
      at: 12, // after fixed header (2), Protocol Name (6), Version, Flags, Keep Alive (4)
      bytes: [0x10, 0x0e, 0x00, 0x04, ...ascii("MQTT"), 5, 0, 0, 0, 0x00, 0x00, 0x01, 0x61],
    },
    {
      name: "Will Properties of CONNECT",
      packet: { type: 1, clientId: "", will: { topic: "w", payload: u8() } },
      at: 15, // after the Client Identifier
      bytes: [
        0x10,
        0x13,
        0x00,
        0x04,
        ...ascii("MQTT"),
        5,
        0x04, // Will Flag
        0,
        0,
        0x00, // Property Length 0
        0x00,
        0x00, // Client Identifier ""
        0x00, // Will Property Length 0
        0x00,
        0x01,
        0x77, // Will Topic "w"
        0x00,
        0x00, // Will Payload, empty
      ],
    },
    {
      name: "CONNACK",
      packet: { type: 2, sessionPresent: false, reasonCode: 0 },
      at: 4,
      bytes: [0x20, 0x03, 0x00, 0x00, 0x00],
    },
    {
      name: "PUBLISH",
      packet: { type: 3, topic: "a", payload: u8(), qos: 0 },
      at: 5,
      bytes: [0x30, 0x04, 0x00, 0x01, 0x61, 0x00],
    },
    {
      name: "SUBSCRIBE",
      packet: { type: 8, packetId: 1, subscriptions: [{ filter: "a" }] },
      at: 4,
      bytes: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00],
    },
    {
      name: "SUBACK",
      packet: { type: 9, packetId: 1, reasonCodes: [0] },
      at: 4,
      bytes: [0x90, 0x04, 0x00, 0x01, 0x00, 0x00],
    },
    {
      name: "UNSUBSCRIBE",
      packet: { type: 10, packetId: 1, filters: ["a"] },
      at: 4,
      bytes: [0xa2, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61],
    },
    {
      name: "UNSUBACK",
      packet: { type: 11, packetId: 1, reasonCodes: [0] },
      at: 4,
      bytes: [0xb0, 0x04, 0x00, 0x01, 0x00, 0x00],
    },
    {
      name: "PUBACK with an empty properties object takes the short form (3.4.2.1)",
      packet: { type: 4, packetId: 1, properties: {} },
      at: -1,
      bytes: [0x40, 0x02, 0x00, 0x01],
    },
    {
      name: "DISCONNECT with empty user properties takes the short form (3.14.2.1)",
      packet: { type: 14, reasonCode: 0x80, properties: { userProperties: [] } },
      at: -1,
      bytes: [0xe0, 0x01, 0x80],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const encoded = encode(c.packet);
      deepStrictEqual(encoded, new Uint8Array(c.bytes));
      if (c.at >= 0) equal(encoded[c.at], 0x00);
      const p = decode(encoded) as unknown as Record<string, unknown>;
      equal("properties" in p, false);
    });
  }
});

Deno.test("Remaining Length of the long framing vectors", { permissions: "none" }, () => {
  for (const v of longVectors) {
    const p = decode(v.bytes);
    if (p.type !== 3) throw new Error("expected PUBLISH");
    deepStrictEqual(encode(p), v.bytes);
  }
});
