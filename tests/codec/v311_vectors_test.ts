// Byte-exact vectors of MQTT 3.1.1 (see _vectors_v311.ts), checked in both directions with
// `protocolVersion: 4`, and what sets 3.1.1 apart from 5.0 on the same packet objects.

import { deepStrictEqual, equal, ok as assert, throws } from "node:assert/strict";
import {
  decode,
  decodeBody,
  encode,
  encodedLength,
  EncodeError,
  encodeInto,
  encodeIntoIfFits,
  encodePublishHead,
  type Packet,
  ProtocolVersion,
  type Publish,
} from "../../src/codec/mod.ts";
import { ascii, u8 } from "./_vectors.ts";
import { longVectorV311, V311, vectorsV311 } from "./_vectors_v311.ts";

Deno.test(
  "encode() writes the bytes of the MQTT 3.1.1 layout for every packet type [v3.1.1 MQTT-2.2.2-1]",
  {
    permissions: "none",
  },
  async (t) => {
    for (const v of vectorsV311) {
      await t.step(v.name, () => {
        deepStrictEqual(encode(v.packet, V311), new Uint8Array(v.bytes));
        equal(encodedLength(v.packet, V311), v.bytes.length);
      });
    }
  },
);

Deno.test("decode() reads every MQTT 3.1.1 packet type from its layout", {
  permissions: "none",
}, async (t) => {
  for (const v of vectorsV311) {
    await t.step(v.name, () => {
      const bytes = new Uint8Array(v.bytes);
      deepStrictEqual(decode(bytes, V311), v.decoded);
      // decodeBody after framing reads the same; the fixed header is 2 bytes in every vector.
      deepStrictEqual(decodeBody(bytes, 2, true, 4), v.decoded);
    });
  }
});

Deno.test("the MQTT 3.1.1 vectors cover its 14 packet types and every CONNACK return code", {
  permissions: "none",
}, () => {
  const types = new Set(vectorsV311.map((v) => v.packet.type));
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
  ]);
  const codes = vectorsV311.flatMap((v) => v.packet.type === 2 ? [v.packet.reasonCode] : []);
  deepStrictEqual([...new Set(codes)].sort(), [0, 1, 2, 3, 4, 5]);
  equal(ProtocolVersion.Mqtt311, 4);
  equal(ProtocolVersion.Mqtt5, 5);
});

Deno.test("a decoded MQTT 3.1.1 packet has no properties key and its acks no reasonCode", {
  permissions: "none",
}, () => {
  for (const v of vectorsV311) {
    const p = decode(new Uint8Array(v.bytes), V311);
    assert(!Object.hasOwn(p, "properties"), v.name);
    if (p.type === 1 && p.will) assert(!Object.hasOwn(p.will, "properties"), v.name);
    if (p.type >= 4 && p.type <= 7 || p.type === 14) {
      assert(!Object.hasOwn(p, "reasonCode"), v.name);
    }
  }
});

Deno.test("encodeInto() and encodeIntoIfFits() write MQTT 3.1.1 at an offset, or nothing", {
  permissions: "none",
}, async (t) => {
  for (const v of vectorsV311) {
    await t.step(v.name, () => {
      const target = new Uint8Array(v.bytes.length + 7).fill(0xee);
      equal(encodeInto(v.packet, target, 3, V311), v.bytes.length);
      deepStrictEqual(target.subarray(3, 3 + v.bytes.length), new Uint8Array(v.bytes));
      equal(target[2], 0xee);
      equal(target[3 + v.bytes.length], 0xee);
      const small = new Uint8Array(v.bytes.length - 1).fill(0xee);
      throws(() => encodeInto(v.packet, small, 0, V311), RangeError);
      equal(encodeIntoIfFits(v.packet, small, 0, V311), -v.bytes.length);
      deepStrictEqual(small, new Uint8Array(v.bytes.length - 1).fill(0xee)); // nothing written
      const fits = new Uint8Array(v.bytes.length);
      equal(encodeIntoIfFits(v.packet, fits, 0, V311), v.bytes.length);
      deepStrictEqual(fits, new Uint8Array(v.bytes));
    });
  }
});

Deno.test("encodePublishHead() for MQTT 3.1.1: the head, then the payload, are the packet", {
  permissions: "none",
}, () => {
  const publishes = vectorsV311.filter((v) => v.packet.type === 3);
  equal(publishes.length, 3);
  for (const v of publishes) {
    const p = v.packet as Publish;
    const head = encodePublishHead(p, V311);
    deepStrictEqual(head, new Uint8Array(v.bytes.slice(0, v.bytes.length - p.payload.length)));
  }
  const long = decode(longVectorV311.bytes, V311) as Publish;
  equal(long.payload.length, 197);
  deepStrictEqual(encode(long, V311), longVectorV311.bytes);
  equal(encodePublishHead(long, V311).length, 6); // 2-byte Remaining Length, Topic Name "a"
});

Deno.test("the same packet object encodes to the layout of the version asked for", {
  permissions: "none",
}, () => {
  const publish: Packet = { type: 3, topic: "a/b", payload: u8(0x68, 0x69), qos: 0 };
  // 5.0 writes a Property Length 0 between the Topic Name and the payload; 3.1.1 has none.
  deepStrictEqual(encode(publish), u8(0x30, 0x08, 0x00, 0x03, ...ascii("a/b"), 0x00, 0x68, 0x69));
  deepStrictEqual(
    encode(publish, V311),
    u8(0x30, 0x07, 0x00, 0x03, ...ascii("a/b"), 0x68, 0x69),
  );
  deepStrictEqual(encode(publish, { protocolVersion: 5 }), encode(publish));
  // CONNECT: Protocol Version 5 and a Property Length, or Protocol Level 4 and none.
  const connect: Packet = { type: 1, clientId: "c", cleanStart: true };
  deepStrictEqual(encode(connect).subarray(8, 13), u8(0x05, 0x02, 0x00, 0x00, 0x00));
  deepStrictEqual(encode(connect, V311).subarray(8, 12), u8(0x04, 0x02, 0x00, 0x00));
  // A decoded 5.0 CONNECT says 5, a decoded 3.1.1 one says 4.
  equal((decode(encode(connect)) as { protocolVersion?: number }).protocolVersion, 5);
  equal((decode(encode(connect, V311), V311) as { protocolVersion?: number }).protocolVersion, 4);
});

Deno.test(
  "a byte order mark in an MQTT 3.1.1 string is kept, neither skipped nor stripped " +
    "[v3.1.1 MQTT-1.5.3-3]",
  { permissions: "none" },
  () => {
    const bytes = u8(0x30, 0x06, 0x00, 0x04, 0xef, 0xbb, 0xbf, 0x61); // Topic Name U+FEFF "a"
    const p = decode(bytes, V311) as Publish;
    equal(p.topic, "\ufeffa");
    deepStrictEqual(encode(p, V311), bytes);
  },
);

Deno.test(
  "$share/ starts an ordinary Topic Filter in MQTT 3.1.1, which has no shared subscriptions",
  {
    permissions: "none",
  },
  () => {
    for (const filter of ["$share//#", "$share/g", "$share/+/x", "$share/#"]) {
      const p: Packet = { type: 8, packetId: 1, subscriptions: [{ filter, qos: 1 }] };
      // 5.0 refuses each as a malformed shared subscription; 3.1.1 takes it as it is.
      throws(() => encode(p), EncodeError);
      const bytes = encode(p, V311);
      deepStrictEqual(decode(bytes, V311), {
        type: 8,
        packetId: 1,
        subscriptions: [{ filter, qos: 1 }],
      });
      deepStrictEqual(
        decode(encode({ type: 10, packetId: 1, filters: [filter] }, V311), V311),
        { type: 10, packetId: 1, filters: [filter] },
      );
    }
  },
);
