// One case per validation rule of the codec, decode side then encode side. Each case names the
// statement it covers, asserts the error class, its reason code, its statement id (undefined
// where the codec names none) and, when decoding, the offset of the offending byte. Where a case
// has an `ok` twin (the same bytes or packet with the rule respected), the twin must pass, so the
// case fails as soon as the codec stops checking that rule.

import { deepStrictEqual, equal, fail, ok as assert } from "node:assert/strict";
import {
  decode,
  DecodeError,
  type DecodeError as DecodeErrorType,
  type DecodeOptions,
  encode,
  EncodeError,
  encodeInto,
  type EncodeOptions,
  encodePublishHead,
  frame,
  type Packet,
  type Publish,
} from "../../src/codec/mod.ts";
import { ascii, specReasonCodes, u8, vectors } from "./_vectors.ts";

/** What a decode rejection must carry. */
interface DecodeCase {
  name: string;
  bytes: number[];
  reasonCode: number;
  statement?: string;
  offset: number;
  options?: DecodeOptions;
  /** The same packet with the rule respected: must decode. */
  ok?: number[];
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return fail("expected an error, but nothing was thrown");
}

function assertDecodeRejects(c: DecodeCase): DecodeErrorType {
  const e = caught(() => decode(new Uint8Array(c.bytes), c.options));
  assert(e instanceof DecodeError, `expected DecodeError, got ${e}`);
  equal(e.reasonCode, c.reasonCode, e.message);
  equal(e.statement, c.statement, e.message);
  equal(e.offset, c.offset, e.message);
  equal(e.recoverable, false);
  if (c.ok) decode(new Uint8Array(c.ok), c.options);
  return e;
}

async function decodeCases(t: Deno.TestContext, cases: DecodeCase[]): Promise<void> {
  for (const c of cases) {
    await t.step(c.name, () => void assertDecodeRejects(c));
  }
}

// A valid PUBLISH QoS 0 to "a" with no properties and no payload, and variants.
const publish0 = [0x30, 0x04, 0x00, 0x01, 0x61, 0x00];
// A minimal valid CONNECT (Client Identifier ""), Connect Flags at offset 9.
const connect = [
  0x10,
  0x0d,
  0x00,
  0x04,
  ...ascii("MQTT"),
  0x05,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
];
// A valid CONNECT with a Will (topic "w", empty payload), Connect Flags at offset 9.
const connectWill = (flags: number) => [
  0x10,
  0x13,
  0x00,
  0x04,
  ...ascii("MQTT"),
  0x05,
  flags,
  0x00,
  0x00, // Keep Alive
  0x00, // Property Length
  0x00,
  0x00, // Client Identifier ""
  0x00, // Will Property Length
  0x00,
  0x01,
  0x77, // Will Topic "w"
  0x00,
  0x00, // Will Payload
];
const withByte = (bytes: number[], at: number, value: number) =>
  bytes.map((b, i) => i === at ? value : b);

// ---------------------------------------------------------------------------------------------
// Decode side
// ---------------------------------------------------------------------------------------------

Deno.test("decode() refuses reserved fixed-header flag values for every type [MQTT-2.1.3-1]", {
  permissions: "none",
}, async (t) => {
  const perType: Record<number, string> = {
    6: "MQTT-3.6.1-1",
    8: "MQTT-3.8.1-1",
    10: "MQTT-3.10.1-1",
    14: "MQTT-3.14.1-1",
    15: "MQTT-3.15.1-1",
  };
  for (const type of [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]) {
    const v = vectors.find((v) => v.packet.type === type)!;
    const right = v.bytes[0]! & 0x0f;
    const statement = perType[type] ?? "MQTT-2.1.3-1";
    await t.step(`${v.name.split(",")[0]}: only flags ${right} [${statement}]`, () => {
      decode(new Uint8Array(v.bytes)); // the flags of the specification's table pass
      for (let flags = 0; flags < 16; flags++) {
        if (flags === right) continue;
        assertDecodeRejects({
          name: "",
          bytes: [(type << 4) | flags, ...v.bytes.slice(1)],
          reasonCode: 0x81,
          statement,
          offset: 0,
        });
      }
    });
  }
});

Deno.test("decode() refuses fixed-header and PUBLISH rules", { permissions: "none" }, async (t) => {
  await decodeCases(t, [
    {
      name: "packet type 0 is reserved (2.1.2)",
      bytes: [0x00, 0x00],
      reasonCode: 0x81,
      offset: 0,
    },
    {
      name: "PUBLISH with QoS 3 is malformed [MQTT-3.3.1-4]",
      bytes: [0x36, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00],
      ok: [0x34, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00],
      reasonCode: 0x81,
      statement: "MQTT-3.3.1-4",
      offset: 0,
    },
    {
      name: "PUBLISH with QoS 3 and DUP is malformed [MQTT-3.3.1-4]",
      bytes: [0x3e, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00],
      ok: [0x3c, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00],
      reasonCode: 0x81,
      statement: "MQTT-3.3.1-4",
      offset: 0,
    },
    {
      name: "PUBLISH QoS 0 with DUP set [MQTT-3.3.1-2]",
      bytes: [0x38, ...publish0.slice(1)],
      ok: publish0,
      reasonCode: 0x81,
      statement: "MQTT-3.3.1-2",
      offset: 0,
    },
    {
      name: "PUBLISH QoS 0 with DUP and RETAIN set [MQTT-3.3.1-2]",
      bytes: [0x39, ...publish0.slice(1)],
      ok: [0x31, ...publish0.slice(1)],
      reasonCode: 0x81,
      statement: "MQTT-3.3.1-2",
      offset: 0,
    },
    {
      name: "PUBLISH Topic Name with + [MQTT-3.3.2-2]",
      bytes: [0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x00],
      ok: [0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00],
      reasonCode: 0x81,
      statement: "MQTT-3.3.2-2",
      offset: 2,
    },
    {
      name: "PUBLISH Topic Name with # [MQTT-3.3.2-2]",
      bytes: [0x30, 0x04, 0x00, 0x01, 0x23, 0x00],
      ok: publish0,
      reasonCode: 0x81,
      statement: "MQTT-3.3.2-2",
      offset: 2,
    },
    {
      name: "PUBLISH with an empty Topic Name and no Topic Alias [MQTT-3.3.2-1]",
      bytes: [0x30, 0x03, 0x00, 0x00, 0x00],
      ok: [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01],
      reasonCode: 0x82,
      statement: "MQTT-3.3.2-1",
      offset: 2,
    },
  ]);
});

Deno.test(
  "decode() refuses Packet Identifier 0 [MQTT-2.2.1-3]",
  { permissions: "none" },
  async (t) => {
    await decodeCases(t, [
      {
        name: "PUBLISH QoS 1 [MQTT-2.2.1-3]",
        bytes: [0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x00, 0x00],
        ok: [0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 5,
      },
      {
        name: "PUBACK [MQTT-2.2.1-3]",
        bytes: [0x40, 0x02, 0x00, 0x00],
        ok: [0x40, 0x02, 0x00, 0x01],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "PUBREC [MQTT-2.2.1-3]",
        bytes: [0x50, 0x02, 0x00, 0x00],
        ok: [0x50, 0x02, 0x01, 0x00],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "PUBREL [MQTT-2.2.1-3]",
        bytes: [0x62, 0x02, 0x00, 0x00],
        ok: [0x62, 0x02, 0x00, 0x01],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "PUBCOMP [MQTT-2.2.1-3]",
        bytes: [0x70, 0x02, 0x00, 0x00],
        ok: [0x70, 0x02, 0x00, 0x01],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "SUBSCRIBE [MQTT-2.2.1-3]",
        bytes: [0x82, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00],
        ok: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "SUBACK [MQTT-2.2.1-3]",
        bytes: [0x90, 0x04, 0x00, 0x00, 0x00, 0x00],
        ok: [0x90, 0x04, 0x00, 0x01, 0x00, 0x00],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "UNSUBSCRIBE [MQTT-2.2.1-3]",
        bytes: [0xa2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61],
        ok: [0xa2, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
      {
        name: "UNSUBACK [MQTT-2.2.1-3]",
        bytes: [0xb0, 0x04, 0x00, 0x00, 0x00, 0x00],
        ok: [0xb0, 0x04, 0x00, 0x01, 0x00, 0x00],
        reasonCode: 0x82,
        statement: "MQTT-2.2.1-3",
        offset: 2,
      },
    ]);
  },
);

Deno.test("decode() refuses a Remaining Length that does not match the bytes (2.1.4)", {
  permissions: "none",
}, async (t) => {
  await decodeCases(t, [
    {
      name: "more bytes given than the Remaining Length says",
      bytes: [0xc0, 0x00, 0x00],
      ok: [0xc0, 0x00],
      reasonCode: 0x81,
      offset: 2,
    },
    {
      name: "fewer bytes given than the Remaining Length says",
      bytes: [0x40, 0x03, 0x00, 0x01],
      ok: [0x40, 0x02, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 4,
    },
    {
      name: "only the first byte",
      bytes: [0x30],
      reasonCode: 0x81,
      offset: 1,
    },
    {
      name: "no bytes at all",
      bytes: [],
      reasonCode: 0x81,
      offset: 0,
    },
    {
      name: "Remaining Length too long: a CONNACK with a byte after its properties",
      bytes: [0x20, 0x04, 0x00, 0x00, 0x00, 0x00],
      ok: [0x20, 0x03, 0x00, 0x00, 0x00],
      reasonCode: 0x81,
      offset: 5,
    },
    {
      name: "Remaining Length too short: a CONNACK without its Property Length",
      bytes: [0x20, 0x02, 0x00, 0x00],
      ok: [0x20, 0x03, 0x00, 0x00, 0x00],
      reasonCode: 0x81,
      offset: 4,
    },
    {
      name: "Remaining Length too short: PUBACK of 1 byte cuts the Packet Identifier",
      bytes: [0x40, 0x01, 0x00],
      ok: [0x40, 0x02, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 2,
    },
    {
      name: "a string length running past the end of the packet",
      bytes: [0x30, 0x04, 0x00, 0x05, 0x61, 0x00],
      ok: publish0,
      reasonCode: 0x81,
      offset: 4,
    },
    {
      name: "a Property Length running past the end of the packet",
      bytes: [0x20, 0x04, 0x00, 0x00, 0x05, 0x11],
      ok: [0x20, 0x08, 0x00, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 5,
    },
    {
      name: "a property value running past the Property Length",
      bytes: [0x20, 0x07, 0x00, 0x00, 0x02, 0x11, 0x00, 0x00, 0x00],
      ok: [0x20, 0x08, 0x00, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 6,
    },
    {
      name: "PINGREQ with a body (3.12)",
      bytes: [0xc0, 0x01, 0x00],
      ok: [0xc0, 0x00],
      reasonCode: 0x81,
      offset: 2,
    },
    {
      name: "PINGRESP with a body (3.13)",
      bytes: [0xd0, 0x01, 0x00],
      ok: [0xd0, 0x00],
      reasonCode: 0x81,
      offset: 2,
    },
    {
      name: "User Name Flag set but no User Name [MQTT-3.1.2-17]",
      bytes: withByte(connect, 9, 0x80),
      ok: connect,
      reasonCode: 0x81,
      offset: 15,
    },
    {
      name: "Password Flag set but no Password [MQTT-3.1.2-19]",
      bytes: withByte(connect, 9, 0x40),
      ok: connect,
      reasonCode: 0x81,
      offset: 15,
    },
  ]);
});

Deno.test(
  "decode() refuses a Variable Byte Integer not in its shortest form [MQTT-1.5.5-1] or of 5 bytes (1.5.5)",
  { permissions: "none" },
  async (t) => {
    await decodeCases(t, [
      {
        name: "Remaining Length 0 written as 80 00 [MQTT-1.5.5-1]",
        bytes: [0xc0, 0x80, 0x00],
        ok: [0xc0, 0x00],
        reasonCode: 0x81,
        statement: "MQTT-1.5.5-1",
        offset: 2,
      },
      {
        name: "Remaining Length 4 written as 84 80 00 [MQTT-1.5.5-1]",
        bytes: [0x30, 0x84, 0x80, 0x00, 0x00, 0x01, 0x61, 0x00],
        ok: publish0,
        reasonCode: 0x81,
        statement: "MQTT-1.5.5-1",
        offset: 3,
      },
      {
        name: "Property Length 0 written as 80 00 [MQTT-1.5.5-1]",
        bytes: [0x20, 0x04, 0x00, 0x00, 0x80, 0x00],
        ok: [0x20, 0x03, 0x00, 0x00, 0x00],
        reasonCode: 0x81,
        statement: "MQTT-1.5.5-1",
        offset: 5,
      },
      {
        name: "Subscription Identifier 1 written as 81 00 [MQTT-1.5.5-1]",
        bytes: [0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x0b, 0x81, 0x00],
        ok: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x0b, 0x01],
        reasonCode: 0x81,
        statement: "MQTT-1.5.5-1",
        offset: 8,
      },
      {
        name: "Remaining Length of 5 bytes (1.5.5)",
        bytes: [0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
        reasonCode: 0x81,
        offset: 4,
      },
      {
        name: "Property Length of 5 bytes (1.5.5)",
        bytes: [0x20, 0x07, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x01],
        reasonCode: 0x81,
        offset: 7,
      },
    ]);
  },
);

Deno.test(
  "decode() and frame() refuse a packet over maximumPacketSize with 0x95 before its body [MQTT-3.1.2-24]",
  { permissions: "none" },
  async (t) => {
    await t.step("a fixed header alone claiming 256 MiB [MQTT-3.1.2-24]", () => {
      const header = u8(0x30, 0xff, 0xff, 0xff, 0x7f); // PUBLISH, Remaining Length 268,435,455
      for (
        const fn of [
          () => decode(header, { maximumPacketSize: 1024 }),
          () => frame(header, { maximumPacketSize: 1024 }),
        ]
      ) {
        const e = caught(fn);
        assert(e instanceof DecodeError);
        equal(e.reasonCode, 0x95);
        equal(e.statement, "MQTT-3.1.2-24");
        equal(e.offset, 0);
      }
      // Without a limit, the same header is only an incomplete packet.
      deepStrictEqual(frame(header), { complete: false, needed: 268_435_455, length: 268_435_460 });
    });
    await t.step(
      "one byte over the limit is refused, the limit itself is not [MQTT-3.1.2-24]",
      () => {
        // Remaining Length 1021 (FD 07): 1 + 2 + 1021 = 1024 bytes.
        deepStrictEqual(frame(u8(0x30, 0xfd, 0x07), { maximumPacketSize: 1024 }), {
          complete: false,
          needed: 1021,
          length: 1024,
        });
        const e = caught(() => frame(u8(0x30, 0xfe, 0x07), { maximumPacketSize: 1024 }));
        assert(e instanceof DecodeError);
        equal(e.reasonCode, 0x95);
        const atLimit = encode({ type: 3, topic: "a", payload: new Uint8Array(1017), qos: 0 });
        equal(atLimit.length, 1024);
        decode(atLimit, { maximumPacketSize: 1024 });
        assertDecodeRejects({
          name: "",
          bytes: [...atLimit],
          options: { maximumPacketSize: 1023 },
          reasonCode: 0x95,
          statement: "MQTT-3.1.2-24",
          offset: 0,
        });
      },
    );
  },
);

Deno.test("decode() refuses property rules (2.2.2)", { permissions: "none" }, async (t) => {
  await decodeCases(t, [
    ...[0x00, 0x04, 0x2b, 0x7f, 0xff].map((id): DecodeCase => ({
      name: `unknown property identifier 0x${id.toString(16)} is malformed (2.2.2.2)`,
      bytes: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, id, 0x00],
      ok: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x01, 0x00],
      reasonCode: 0x81,
      offset: 6,
    })),
    {
      name: "Topic Alias on CONNACK is not allowed there: malformed (2.2.2.2)",
      bytes: [0x20, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01],
      ok: [0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 5,
    },
    {
      name: "Will Delay Interval on PUBLISH: malformed (2.2.2.2)",
      bytes: [0x30, 0x09, 0x00, 0x01, 0x61, 0x05, 0x18, 0x00, 0x00, 0x00, 0x01],
      ok: [0x30, 0x09, 0x00, 0x01, 0x61, 0x05, 0x02, 0x00, 0x00, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 6,
    },
    {
      name: "Session Expiry Interval on PUBLISH: malformed (2.2.2.2)",
      bytes: [0x30, 0x09, 0x00, 0x01, 0x61, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
      ok: [0x30, 0x09, 0x00, 0x01, 0x61, 0x05, 0x02, 0x00, 0x00, 0x00, 0x01],
      reasonCode: 0x81,
      offset: 6,
    },
    {
      name: "Subscription Identifier on PUBACK: malformed (2.2.2.2)",
      bytes: [0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x0b, 0x01],
      ok: [0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x1f, 0x00, 0x01, 0x61],
      reasonCode: 0x81,
      offset: 6,
    },
    {
      name: "Reason String on SUBSCRIBE: malformed (2.2.2.2)",
      bytes: [0x82, 0x0b, 0x00, 0x01, 0x04, 0x1f, 0x00, 0x01, 0x61, 0x00, 0x01, 0x61, 0x00],
      ok: [0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x01, 0x00, 0x01, 0x61, 0x00],
      reasonCode: 0x81,
      offset: 5,
    },
    {
      name: "Payload Format Indicator in CONNECT properties (only in Will Properties): malformed",
      bytes: [
        0x10,
        0x0f,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x02,
        0x01,
        0x01,
        0x00,
        0x00,
      ],
      ok: [
        0x10,
        0x0f,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x02,
        0x17,
        0x01,
        0x00,
        0x00,
      ],
      reasonCode: 0x81,
      offset: 13,
    },
    {
      name: "Will Delay Interval in CONNECT properties (only in Will Properties): malformed",
      bytes: [
        0x10,
        0x12,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x05,
        0x18,
        0,
        0,
        0,
        1,
        0x00,
        0x00,
      ],
      ok: [
        0x10,
        0x12,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x05,
        0x11,
        0,
        0,
        0,
        1,
        0x00,
        0x00,
      ],
      reasonCode: 0x81,
      offset: 13,
    },
    {
      name: "Message Expiry Interval twice on PUBLISH: Protocol Error (3.3.2.3.3)",
      bytes: [0x30, 0x0e, 0x00, 0x01, 0x61, 0x0a, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2],
      ok: [0x30, 0x0e, 0x00, 0x01, 0x61, 0x0a, 0x02, 0, 0, 0, 1, 0x26, 0, 0, 0, 0],
      reasonCode: 0x82,
      offset: 11,
    },
    {
      name: "Topic Alias twice on PUBLISH: Protocol Error (3.3.2.3.4)",
      bytes: [0x30, 0x0a, 0x00, 0x01, 0x61, 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x01],
      reasonCode: 0x82,
      offset: 9,
    },
    {
      name: "Payload Format Indicator twice on PUBLISH: Protocol Error (3.3.2.3.2)",
      bytes: [0x30, 0x08, 0x00, 0x01, 0x61, 0x04, 0x01, 0x00, 0x01, 0x00],
      reasonCode: 0x82,
      offset: 8,
    },
    {
      name: "Reason String twice on PUBACK: Protocol Error (3.4.2.2.2)",
      bytes: [0x40, 0x0c, 0x00, 0x01, 0x00, 0x08, 0x1f, 0x00, 0x01, 0x61, 0x1f, 0x00, 0x01, 0x62],
      ok: [
        0x40,
        0x0f,
        0x00,
        0x01,
        0x00,
        0x0b,
        0x1f,
        0x00,
        0x01,
        0x61,
        0x26,
        0,
        1,
        0x62,
        0,
        1,
        0x62,
      ],
      reasonCode: 0x82,
      offset: 10,
    },
    {
      name: "Authentication Method twice on AUTH: Protocol Error (3.15.2.2.2)",
      bytes: [0xf0, 0x0a, 0x18, 0x08, 0x15, 0x00, 0x01, 0x61, 0x15, 0x00, 0x01, 0x61],
      reasonCode: 0x82,
      offset: 8,
    },
    {
      name: "Subscription Identifier twice on SUBSCRIBE: Protocol Error (3.8.2.1.2)",
      bytes: [0x82, 0x0b, 0x00, 0x01, 0x04, 0x0b, 0x01, 0x0b, 0x02, 0x00, 0x01, 0x61, 0x00],
      ok: [0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x01, 0x00, 0x01, 0x61, 0x00],
      reasonCode: 0x82,
      offset: 7,
    },
    {
      name: "Topic Alias 0: Topic Alias invalid 0x94, not 0x82 (3.3.2.3.4) [MQTT-3.3.2-8]",
      bytes: [0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x23, 0x00, 0x00],
      ok: [0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x23, 0x00, 0x01],
      reasonCode: 0x94,
      statement: "MQTT-3.3.2-8",
      offset: 6,
    },
    {
      name: "Receive Maximum 0 on CONNACK: Protocol Error (3.2.2.3.3)",
      bytes: [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00],
      ok: [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x01],
      reasonCode: 0x82,
      offset: 5,
    },
    {
      name: "Receive Maximum 0 on CONNECT: Protocol Error (3.1.2.11.3)",
      bytes: [
        0x10,
        0x10,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x03,
        0x21,
        0x00,
        0x00,
        0x00,
        0x00,
      ],
      ok: [
        0x10,
        0x10,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x03,
        0x21,
        0x00,
        0x01,
        0x00,
        0x00,
      ],
      reasonCode: 0x82,
      offset: 13,
    },
    {
      name: "Maximum Packet Size 0 on CONNACK: Protocol Error (3.2.2.3.6)",
      bytes: [0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00],
      ok: [0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x01],
      reasonCode: 0x82,
      offset: 5,
    },
    {
      name: "Subscription Identifier 0 on PUBLISH: Protocol Error (3.3.2.3.8)",
      bytes: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x0b, 0x00],
      ok: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x0b, 0x01],
      reasonCode: 0x82,
      offset: 6,
    },
    {
      name: "Subscription Identifier 0 on SUBSCRIBE: Protocol Error (3.8.2.1.2)",
      bytes: [0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 0x61, 0x00],
      ok: [0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x01, 0x00, 0x01, 0x61, 0x00],
      reasonCode: 0x82,
      offset: 5,
    },
    {
      name: "Payload Format Indicator 2: Protocol Error (2.2.2.2)",
      bytes: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x01, 0x02],
      ok: [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x01, 0x01],
      reasonCode: 0x82,
      offset: 7,
    },
    {
      name: "Maximum QoS 2 on CONNACK: Protocol Error (3.2.2.3.4)",
      bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
      ok: [0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x01],
      reasonCode: 0x82,
      offset: 6,
    },
    {
      name: "Retain Available 0xFF on CONNACK: Protocol Error (3.2.2.3.5)",
      bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0xff],
      ok: [0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x00],
      reasonCode: 0x82,
      offset: 6,
    },
    {
      name: "Request Problem Information 2 on CONNECT: Protocol Error (3.1.2.11.7)",
      bytes: [
        0x10,
        0x0f,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x02,
        0x17,
        0x02,
        0x00,
        0x00,
      ],
      ok: [
        0x10,
        0x0f,
        0x00,
        0x04,
        ...ascii("MQTT"),
        0x05,
        0x00,
        0x00,
        0x00,
        0x02,
        0x17,
        0x00,
        0x00,
        0x00,
      ],
      reasonCode: 0x82,
      offset: 14,
    },
    {
      name:
        "Authentication Data without Authentication Method on AUTH: Protocol Error (3.15.2.2.3)",
      bytes: [0xf0, 0x06, 0x18, 0x04, 0x16, 0x00, 0x01, 0xaa],
      ok: [0xf0, 0x0a, 0x18, 0x08, 0x15, 0x00, 0x01, 0x61, 0x16, 0x00, 0x01, 0xaa],
      reasonCode: 0x82,
      offset: 8,
    },
    {
      name:
        "Authentication Data without Authentication Method on CONNACK: Protocol Error (3.2.2.3.18)",
      bytes: [0x20, 0x07, 0x00, 0x00, 0x04, 0x16, 0x00, 0x01, 0xaa],
      ok: [0x20, 0x0b, 0x00, 0x00, 0x08, 0x15, 0x00, 0x01, 0x61, 0x16, 0x00, 0x01, 0xaa],
      reasonCode: 0x82,
      offset: 9,
    },
  ]);
  await t.step("User Property may repeat, in order, interleaved with others (3.3.2.3.7)", () => {
    const p = decode(
      u8(
        0x30,
        0x14,
        0x00,
        0x01,
        0x61, // PUBLISH QoS 0 to "a"
        0x10, // Property Length 16
        0x26,
        0x00,
        0x01,
        0x6b,
        0x00,
        0x01,
        0x31, // User Property k=1
        0x01,
        0x01, // Payload Format Indicator 1
        0x26,
        0x00,
        0x01,
        0x6b,
        0x00,
        0x01,
        0x32, // User Property k=2
      ),
    );
    deepStrictEqual(p, {
      type: 3,
      topic: "a",
      payload: u8(),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: [["k", "1"], ["k", "2"]], payloadFormatIndicator: 1 },
    });
  });
  await t.step("Subscription Identifier may repeat on PUBLISH [MQTT-3.3.4-4]", () => {
    const p = decode(u8(0x30, 0x08, 0x00, 0x01, 0x61, 0x04, 0x0b, 0x02, 0x0b, 0x01));
    deepStrictEqual(p, {
      type: 3,
      topic: "a",
      payload: u8(),
      qos: 0,
      retain: false,
      dup: false,
      properties: { subscriptionIdentifiers: [2, 1] },
    });
  });
});

// The reason codes of each packet type (copied from the specification in _vectors.ts).
const reasonCodeTables: {
  type: number;
  name: string;
  statement: string;
  codes: readonly number[];
  bytes: (code: number) => number[];
  offset: number;
}[] = [
  {
    type: 2,
    name: "CONNACK (3.2.2.2)",
    statement: "MQTT-3.2.2-8",
    codes: specReasonCodes[2]!,
    bytes: (code) => [0x20, 0x03, 0x00, code, 0x00],
    offset: 3,
  },
  {
    type: 4,
    name: "PUBACK (3.4.2.1)",
    statement: "MQTT-3.4.2-1",
    codes: specReasonCodes[4]!,
    bytes: (code) => [0x40, 0x03, 0x00, 0x01, code],
    offset: 4,
  },
  {
    type: 5,
    name: "PUBREC (3.5.2.1)",
    statement: "MQTT-3.5.2-1",
    codes: specReasonCodes[5]!,
    bytes: (code) => [0x50, 0x03, 0x00, 0x01, code],
    offset: 4,
  },
  {
    type: 6,
    name: "PUBREL (3.6.2.1)",
    statement: "MQTT-3.6.2-1",
    codes: specReasonCodes[6]!,
    bytes: (code) => [0x62, 0x03, 0x00, 0x01, code],
    offset: 4,
  },
  {
    type: 7,
    name: "PUBCOMP (3.7.2.1)",
    statement: "MQTT-3.7.2-1",
    codes: specReasonCodes[7]!,
    bytes: (code) => [0x70, 0x03, 0x00, 0x01, code],
    offset: 4,
  },
  {
    type: 9,
    name: "SUBACK (3.9.3)",
    statement: "MQTT-3.9.3-2",
    codes: specReasonCodes[9]!,
    bytes: (code) => [0x90, 0x05, 0x00, 0x01, 0x00, 0x00, code],
    offset: 6,
  },
  {
    type: 11,
    name: "UNSUBACK (3.11.3)",
    statement: "MQTT-3.11.3-2",
    codes: specReasonCodes[11]!,
    bytes: (code) => [0xb0, 0x05, 0x00, 0x01, 0x00, 0x00, code],
    offset: 6,
  },
  {
    type: 14,
    name: "DISCONNECT (3.14.2.1)",
    statement: "MQTT-3.14.2-1",
    codes: specReasonCodes[14]!,
    bytes: (code) => [0xe0, 0x01, code],
    offset: 2,
  },
  {
    type: 15,
    name: "AUTH (3.15.2.1)",
    statement: "MQTT-3.15.2-1",
    codes: specReasonCodes[15]!,
    bytes: (code) => [0xf0, 0x01, code],
    offset: 2,
  },
];

Deno.test("decode() accepts exactly the reason codes of each packet's table", {
  permissions: "none",
}, async (t) => {
  for (const table of reasonCodeTables) {
    await t.step(`${table.name} [${table.statement}]`, () => {
      for (let code = 0; code < 256; code++) {
        if (table.codes.includes(code)) {
          const p = decode(new Uint8Array(table.bytes(code))) as unknown as {
            reasonCode?: number;
            reasonCodes?: number[];
          };
          equal(p.reasonCode ?? p.reasonCodes?.[1], code);
        } else {
          assertDecodeRejects({
            name: "",
            bytes: table.bytes(code),
            reasonCode: 0x82,
            statement: table.statement,
            offset: table.offset,
          });
        }
      }
    });
  }
});

Deno.test("decode() refuses CONNACK rules", { permissions: "none" }, async (t) => {
  await decodeCases(t, [
    ...[0x02, 0x80, 0xfe, 0xff].map((flags): DecodeCase => ({
      name: `Connect Acknowledge Flags 0x${flags.toString(16)}: bits 7-1 reserved [MQTT-3.2.2-1]`,
      bytes: [0x20, 0x03, flags, 0x00, 0x00],
      ok: [0x20, 0x03, flags & 1, 0x00, 0x00],
      reasonCode: 0x81,
      statement: "MQTT-3.2.2-1",
      offset: 2,
    })),
    {
      name: "Session Present with a non-zero Reason Code [MQTT-3.2.2-6]",
      bytes: [0x20, 0x03, 0x01, 0x80, 0x00],
      ok: [0x20, 0x03, 0x00, 0x80, 0x00],
      reasonCode: 0x82,
      statement: "MQTT-3.2.2-6",
      offset: 2,
    },
  ]);
});

Deno.test("decode() refuses CONNECT rules", { permissions: "none" }, async (t) => {
  await decodeCases(t, [
    {
      name: 'Protocol Name "MQTS" [MQTT-3.1.2-1]',
      bytes: [...connect.slice(0, 4), ...ascii("MQTS"), ...connect.slice(8)],
      ok: connect,
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-1",
      offset: 2,
    },
    {
      name: 'Protocol Name "MQIsdp" of MQTT 3.1 [MQTT-3.1.2-1]',
      bytes: [0x10, 0x0f, 0x00, 0x06, ...ascii("MQIsdp"), 0x03, ...connect.slice(9)],
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-1",
      offset: 2,
    },
    ...[0, 3, 4, 6, 0xff].map((version): DecodeCase => ({
      name: `Protocol Version ${version}: Unsupported Protocol Version 0x84 [MQTT-3.1.2-2]`,
      bytes: withByte(connect, 8, version),
      ok: connect,
      reasonCode: 0x84,
      statement: "MQTT-3.1.2-2",
      offset: 8,
    })),
    {
      name: "Connect Flags reserved bit 0 set [MQTT-3.1.2-3]",
      bytes: withByte(connect, 9, 0x01),
      ok: connect,
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-3",
      offset: 9,
    },
    {
      name: "Will QoS 1 without the Will Flag [MQTT-3.1.2-11]",
      bytes: withByte(connect, 9, 0x08),
      ok: connectWill(0x0c),
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-11",
      offset: 9,
    },
    {
      name: "Will QoS 2 without the Will Flag [MQTT-3.1.2-11]",
      bytes: withByte(connect, 9, 0x10),
      ok: connectWill(0x14),
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-11",
      offset: 9,
    },
    {
      name: "Will Retain without the Will Flag [MQTT-3.1.2-13]",
      bytes: withByte(connect, 9, 0x20),
      ok: connectWill(0x24),
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-13",
      offset: 9,
    },
    {
      name: "Will QoS 3 [MQTT-3.1.2-12]",
      bytes: connectWill(0x1c),
      ok: connectWill(0x14),
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-12",
      offset: 9,
    },
    {
      name: "Will Topic with a wildcard [MQTT-3.1.3-11, MQTT-4.7.0-1]",
      bytes: connectWill(0x04).map((b, i) => i === 18 ? 0x23 : b),
      ok: connectWill(0x04),
      reasonCode: 0x82,
      offset: 16,
    },
    {
      name: "empty Will Topic [MQTT-4.7.3-1]",
      bytes: [0x10, 0x12, ...connectWill(0x04).slice(2, 16), 0x00, 0x00, 0x00, 0x00],
      ok: connectWill(0x04),
      reasonCode: 0x82,
      offset: 16,
    },
  ]);
});

Deno.test("decode() refuses SUBSCRIBE, UNSUBSCRIBE, SUBACK and UNSUBACK rules", {
  permissions: "none",
}, async (t) => {
  const subscribe = (options: number) => [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, options];
  const shared = (
    options: number,
  ) => [0x82, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0a, ...ascii("$share/g/a"), options];
  await decodeCases(t, [
    ...[0x40, 0x80, 0xc0].map((options): DecodeCase => ({
      name: `Subscription Options 0x${options.toString(16)}: bits 7-6 reserved [MQTT-3.8.3-5]`,
      bytes: subscribe(options),
      ok: subscribe(0x3e & ~0x30),
      reasonCode: 0x81,
      statement: "MQTT-3.8.3-5",
      offset: 8,
    })),
    {
      name: "Subscription Options Maximum QoS 3: Protocol Error (3.8.3.1)",
      bytes: subscribe(0x03),
      ok: subscribe(0x02),
      reasonCode: 0x82,
      offset: 8,
    },
    {
      name: "Subscription Options Retain Handling 3: Protocol Error (3.8.3.1)",
      bytes: subscribe(0x30),
      ok: subscribe(0x20),
      reasonCode: 0x82,
      offset: 8,
    },
    {
      name: "SUBSCRIBE with no Topic Filter [MQTT-3.8.3-2]",
      bytes: [0x82, 0x03, 0x00, 0x01, 0x00],
      ok: subscribe(0x00),
      reasonCode: 0x82,
      statement: "MQTT-3.8.3-2",
      offset: 5,
    },
    {
      name: "SUBSCRIBE Topic Filter without its Subscription Options",
      bytes: [0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61],
      ok: subscribe(0x00),
      reasonCode: 0x81,
      offset: 8,
    },
    {
      name: "No Local on a shared subscription [MQTT-3.8.3-4]",
      bytes: shared(0x04),
      ok: shared(0x08),
      reasonCode: 0x82,
      statement: "MQTT-3.8.3-4",
      offset: 5,
    },
    {
      name: "UNSUBSCRIBE with no Topic Filter [MQTT-3.10.3-2]",
      bytes: [0xa2, 0x03, 0x00, 0x01, 0x00],
      ok: [0xa2, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61],
      reasonCode: 0x82,
      statement: "MQTT-3.10.3-2",
      offset: 5,
    },
    {
      name: "SUBACK without a reason code [MQTT-3.8.4-6]",
      bytes: [0x90, 0x03, 0x00, 0x01, 0x00],
      ok: [0x90, 0x04, 0x00, 0x01, 0x00, 0x00],
      reasonCode: 0x82,
      offset: 5,
    },
    {
      name: "UNSUBACK without a reason code (3.11.3)",
      bytes: [0xb0, 0x03, 0x00, 0x01, 0x00],
      ok: [0xb0, 0x04, 0x00, 0x01, 0x00, 0x00],
      reasonCode: 0x82,
      offset: 5,
    },
  ]);
  await t.step("No Local on a non-shared filter is fine (3.8.3.1)", () => {
    decode(new Uint8Array(subscribe(0x04)));
  });
});

/** A PUBLISH QoS 0 whose Topic Name is the given UTF-8 bytes. */
function publishTopic(utf8: number[]): number[] {
  return [0x30, 2 + utf8.length + 1, 0x00, utf8.length, ...utf8, 0x00];
}

Deno.test(
  "decode() refuses what breaks the UTF-8 string rules (1.5.4)",
  { permissions: "none" },
  async (t) => {
    const malformed = (name: string, utf8: number[], statement: string): DecodeCase => ({
      name,
      bytes: publishTopic(utf8),
      ok: publishTopic([0x61]),
      reasonCode: 0x81,
      statement,
      offset: 4,
    });
    await decodeCases(t, [
      malformed("a lone byte FF: ill-formed [MQTT-1.5.4-1]", [0xff], "MQTT-1.5.4-1"),
      malformed(
        "a continuation byte alone: ill-formed [MQTT-1.5.4-1]",
        [0x61, 0x80],
        "MQTT-1.5.4-1",
      ),
      malformed("an overlong '/' C0 AF: ill-formed [MQTT-1.5.4-1]", [0xc0, 0xaf], "MQTT-1.5.4-1"),
      malformed("an overlong U+0000 C0 80 [MQTT-1.5.4-1]", [0xc0, 0x80], "MQTT-1.5.4-1"),
      malformed("a truncated sequence E2 82 [MQTT-1.5.4-1]", [0xe2, 0x82], "MQTT-1.5.4-1"),
      malformed(
        "a code point above U+10FFFF [MQTT-1.5.4-1]",
        [0xf4, 0x90, 0x80, 0x80],
        "MQTT-1.5.4-1",
      ),
      malformed(
        "an encoded surrogate ED A0 80 (U+D800) [MQTT-1.5.4-1]",
        [0xed, 0xa0, 0x80],
        "MQTT-1.5.4-1",
      ),
      malformed(
        "an encoded surrogate ED BF BF (U+DFFF) [MQTT-1.5.4-1]",
        [0x61, 0xed, 0xbf, 0xbf],
        "MQTT-1.5.4-1",
      ),
      malformed(
        "an encoded surrogate pair ED A0 BD ED B8 80 (CESU-8) [MQTT-1.5.4-1]",
        [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
        "MQTT-1.5.4-1",
      ),
      malformed("U+0000 [MQTT-1.5.4-2]", [0x00], "MQTT-1.5.4-2"),
      malformed("U+0000 after other characters [MQTT-1.5.4-2]", [0x61, 0x2f, 0x00], "MQTT-1.5.4-2"),
      malformed(
        "U+0000 after a multi-byte character [MQTT-1.5.4-2]",
        [0xc3, 0xa9, 0x00],
        "MQTT-1.5.4-2",
      ),
      {
        name: "U+0000 is refused with strict: false too [MQTT-1.5.4-2]",
        bytes: publishTopic([0x61, 0x00]),
        options: { strict: false },
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-2",
        offset: 4,
      },
      {
        name: "U+0000 in a User Property value [MQTT-1.5.4-2, MQTT-1.5.7-1]",
        bytes: [0x30, 0x0b, 0x00, 0x01, 0x61, 0x07, 0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x00],
        ok: [0x30, 0x0b, 0x00, 0x01, 0x61, 0x07, 0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76],
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-2",
        offset: 12,
      },
      {
        name: "an encoded surrogate in a User Property name [MQTT-1.5.4-1, MQTT-1.5.7-1]",
        bytes: [
          0x30,
          0x0d,
          0x00,
          0x01,
          0x61,
          0x09,
          0x26,
          0x00,
          0x03,
          0xed,
          0xa0,
          0x80,
          0x00,
          0x01,
          0x76,
        ],
        ok: [
          0x30,
          0x0d,
          0x00,
          0x01,
          0x61,
          0x09,
          0x26,
          0x00,
          0x03,
          0xe2,
          0x82,
          0xac,
          0x00,
          0x01,
          0x76,
        ],
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-1",
        offset: 9,
      },
    ]);
    // Control characters and non-characters SHOULD NOT be sent (1.5.4) and a receiver MAY treat them
    // as malformed: refused in strict mode (the default), kept with strict: false.
    const discouraged: { name: string; utf8: number[]; text: string }[] = [
      { name: "U+0001", utf8: [0x01], text: "\u0001" },
      { name: "U+001F", utf8: [0x1f], text: "\u001f" },
      { name: "U+007F", utf8: [0x7f], text: "\u007f" },
      { name: "U+0080", utf8: [0xc2, 0x80], text: "\u0080" },
      { name: "U+009F", utf8: [0xc2, 0x9f], text: "\u009f" },
      {
        name: "U+001F after 70 ASCII characters",
        utf8: [...ascii("b".repeat(70)), 0x1f],
        text: "b".repeat(70) + "\u001f",
      },
      {
        name: "U+0085 after 70 ASCII characters",
        utf8: [...ascii("b".repeat(70)), 0xc2, 0x85],
        text: "b".repeat(70) + "\u0085",
      },
      { name: "non-character U+FDD0", utf8: [0xef, 0xb7, 0x90], text: "\ufdd0" },
      { name: "non-character U+FDEF", utf8: [0xef, 0xb7, 0xaf], text: "\ufdef" },
      { name: "non-character U+FFFE", utf8: [0xef, 0xbf, 0xbe], text: "\ufffe" },
      { name: "non-character U+FFFF", utf8: [0xef, 0xbf, 0xbf], text: "\uffff" },
      { name: "non-character U+1FFFE", utf8: [0xf0, 0x9f, 0xbf, 0xbe], text: "\u{1fffe}" },
      { name: "non-character U+10FFFF", utf8: [0xf4, 0x8f, 0xbf, 0xbf], text: "\u{10ffff}" },
    ];
    for (const d of discouraged) {
      await t.step(`${d.name}: malformed when strict, kept with strict: false (1.5.4)`, () => {
        assertDecodeRejects({ name: "", bytes: publishTopic(d.utf8), reasonCode: 0x81, offset: 4 });
        const p = decode(new Uint8Array(publishTopic(d.utf8)), { strict: false });
        equal((p as { topic: string }).topic, d.text);
      });
    }
    await t.step("neighbours of the discouraged ranges are accepted when strict (1.5.4)", () => {
      for (
        const [utf8, text] of [
          [[0x20, 0x7e], " ~"],
          [[0xc2, 0xa0], "\u00a0"],
          [[0xef, 0xb7, 0x8f], "\ufdcf"],
          [[0xef, 0xb7, 0xb0], "\ufdf0"],
          [[0xef, 0xbf, 0xbd], "\ufffd"],
          [[0xf0, 0x9f, 0xbf, 0xbd], "\u{1fffd}"],
        ] as [number[], string][]
      ) {
        equal((decode(new Uint8Array(publishTopic(utf8))) as { topic: string }).topic, text);
      }
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Encode side
// ---------------------------------------------------------------------------------------------

/** What an encode refusal must carry. */
interface EncodeCase {
  name: string;
  packet: unknown;
  error?: typeof EncodeError | typeof TypeError | typeof RangeError;
  reasonCode?: number;
  statement?: string;
  options?: EncodeOptions;
  /** The same packet with the rule respected: must encode. */
  ok?: unknown;
}

function assertEncodeRejects(c: EncodeCase): void {
  const packet = c.packet as Packet;
  const e = caught(() => encode(packet, c.options));
  const cls = c.error ?? EncodeError;
  assert(e instanceof cls, `expected ${cls.name}, got ${e}`);
  if (cls === EncodeError) {
    assert(e instanceof EncodeError);
    equal(e.reasonCode, c.reasonCode, e.message);
    equal(e.statement, c.statement, e.message);
    equal(e.recoverable, true);
  } else {
    assert(!(e instanceof EncodeError), `expected a plain ${cls.name}, got ${e}`);
  }
  // encodeInto refuses the same way and writes nothing.
  const target = new Uint8Array(64).fill(0xee);
  const e2 = caught(() => encodeInto(packet, target, 0, c.options));
  equal((e2 as Error).constructor, (e as Error).constructor);
  assert(target.every((b) => b === 0xee), "encodeInto wrote bytes before refusing");
  // encodePublishHead refuses a PUBLISH with the very same error.
  if ((packet as Packet | null)?.type === 3) assertSameRefusal(e, packet as Publish, c.options);
  if (c.ok !== undefined) encode(c.ok as Packet, c.options);
}

/** Asserts that `encodePublishHead(packet)` throws what encode() threw, `e`. */
function assertSameRefusal(e: unknown, packet: Publish, options?: EncodeOptions): void {
  const head = caught(() => encodePublishHead(packet, options)) as Error;
  equal(head.constructor, (e as Error).constructor, head.message);
  equal(head.message, (e as Error).message);
  if (e instanceof EncodeError) {
    assert(head instanceof EncodeError);
    equal(head.reasonCode, e.reasonCode);
    equal(head.statement, e.statement);
    equal(head.recoverable, true);
  }
}

async function encodeCases(t: Deno.TestContext, cases: EncodeCase[]): Promise<void> {
  for (const c of cases) {
    await t.step(c.name, () => assertEncodeRejects(c));
  }
}

const pub = (extra: Record<string, unknown>) => ({
  type: 3,
  topic: "a",
  payload: u8(),
  qos: 0,
  ...extra,
});
const sub = (filter: string, extra: Record<string, unknown> = {}) => ({
  type: 8,
  packetId: 1,
  subscriptions: [{ filter, ...extra }],
});
const unsub = (filter: string) => ({ type: 10, packetId: 1, filters: [filter] });

Deno.test(
  "encode() refuses Topic Names that break the rules",
  { permissions: "none" },
  async (t) => {
    await encodeCases(t, [
      ...["a/+", "+", "#", "a/#", "a/b+", "sport/tennis#"].map((topic): EncodeCase => ({
        name: `Topic Name ${JSON.stringify(topic)}: no wildcards [MQTT-3.3.2-2, MQTT-4.7.0-1]`,
        packet: pub({ topic }),
        ok: pub({ topic: "a/b" }),
        reasonCode: 0x82,
        statement: "MQTT-3.3.2-2",
      })),
      {
        name: "empty Topic Name without a Topic Alias [MQTT-3.3.2-1]",
        packet: pub({ topic: "" }),
        ok: pub({ topic: "", properties: { topicAlias: 1 } }),
        reasonCode: 0x82,
        statement: "MQTT-3.3.2-1",
      },
      {
        name: "Will Topic with a wildcard [MQTT-3.3.2-2]",
        packet: { type: 1, clientId: "", will: { topic: "w/#", payload: u8() } },
        ok: { type: 1, clientId: "", will: { topic: "w/x", payload: u8() } },
        reasonCode: 0x82,
        statement: "MQTT-3.3.2-2",
      },
      {
        name: "empty Will Topic [MQTT-4.7.3-1]",
        packet: { type: 1, clientId: "", will: { topic: "", payload: u8() } },
        ok: { type: 1, clientId: "", will: { topic: "w", payload: u8() } },
        reasonCode: 0x82,
        statement: "MQTT-4.7.3-1",
      },
      ...["a/+", "#", ""].map((responseTopic): EncodeCase => ({
        name: `Response Topic ${JSON.stringify(responseTopic)} [MQTT-3.3.2-14]`,
        packet: pub({ properties: { responseTopic } }),
        ok: pub({ properties: { responseTopic: "r/1" } }),
        reasonCode: 0x82,
        statement: "MQTT-3.3.2-14",
      })),
    ]);
  },
);

Deno.test("encode() refuses invalid Topic Filters in SUBSCRIBE and UNSUBSCRIBE", {
  permissions: "none",
}, async (t) => {
  const bad: [string, string][] = [
    ["a/b#", "MQTT-4.7.1-1"],
    ["#/a", "MQTT-4.7.1-1"],
    ["a/#/", "MQTT-4.7.1-1"],
    ["##", "MQTT-4.7.1-1"],
    ["a+", "MQTT-4.7.1-2"],
    ["+a", "MQTT-4.7.1-2"],
    ["a/+b/c", "MQTT-4.7.1-2"],
    ["++", "MQTT-4.7.1-2"],
    ["", "MQTT-4.7.3-1"],
    ["$share/", "MQTT-4.8.2-1"],
    ["$share//a", "MQTT-4.8.2-1"],
    ["$share/g", "MQTT-4.8.2-2"],
    ["$share/g/", "MQTT-4.8.2-2"],
    ["$share/g+/a", "MQTT-4.8.2-2"],
    ["$share/#/a", "MQTT-4.8.2-2"],
    ["$share/g/a#", "MQTT-4.7.1-1"],
  ];
  for (const [filter, statement] of bad) {
    await t.step(`${JSON.stringify(filter)} [${statement}]`, () => {
      assertEncodeRejects({
        name: "",
        packet: sub(filter),
        reasonCode: 0x82,
        statement,
        ok: sub("a/b"),
      });
      assertEncodeRejects({
        name: "",
        packet: unsub(filter),
        reasonCode: 0x82,
        statement,
        ok: unsub("a/b"),
      });
    });
  }
  await t.step(
    "valid filters pass [MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.8.2-1, MQTT-4.8.2-2]",
    () => {
      for (
        const filter of [
          "#",
          "+",
          "a/#",
          "a/+/b",
          "+/+",
          "/",
          "a//b",
          "$SYS/#",
          "$share/g/a/#",
          "$share/g/+",
          "$share",
        ]
      ) {
        encode(sub(filter) as Packet);
        encode(unsub(filter) as Packet);
      }
    },
  );
});

Deno.test("encode() refuses Packet Identifier rules", { permissions: "none" }, async (t) => {
  await encodeCases(t, [
    {
      name: "QoS 0 PUBLISH with a Packet Identifier [MQTT-2.2.1-2]",
      packet: pub({ packetId: 1 }),
      ok: pub({}),
      reasonCode: 0x82,
      statement: "MQTT-2.2.1-2",
    },
    ...[undefined, 0, 65_536, 1.5, -1].map((packetId): EncodeCase => ({
      name: `QoS 1 PUBLISH with Packet Identifier ${packetId} [MQTT-2.2.1-3]`,
      packet: pub({ qos: 1, ...(packetId === undefined ? {} : { packetId }) }),
      ok: pub({ qos: 1, packetId: 65_535 }),
      reasonCode: 0x82,
      statement: "MQTT-2.2.1-3",
    })),
    {
      name: "QoS 2 PUBLISH without a Packet Identifier [MQTT-2.2.1-3]",
      packet: pub({ qos: 2 }),
      ok: pub({ qos: 2, packetId: 1 }),
      reasonCode: 0x82,
      statement: "MQTT-2.2.1-3",
    },
    ...[
      { type: 8, subscriptions: [{ filter: "a" }] },
      { type: 10, filters: ["a"] },
      { type: 4 },
      { type: 5 },
      { type: 6 },
      { type: 7 },
      { type: 9, reasonCodes: [0] },
      { type: 11, reasonCodes: [0] },
    ].map((packet): EncodeCase => ({
      name: `type ${packet.type} without a Packet Identifier [MQTT-2.2.1-3]`,
      packet,
      ok: { ...packet, packetId: 1 },
      reasonCode: 0x82,
      statement: "MQTT-2.2.1-3",
    })),
  ]);
});

Deno.test("encode() refuses PUBLISH and property rules", { permissions: "none" }, async (t) => {
  await encodeCases(t, [
    {
      name: "QoS 3 [MQTT-3.3.1-4]",
      packet: pub({ qos: 3, packetId: 1 }),
      ok: pub({ qos: 2, packetId: 1 }),
      reasonCode: 0x81,
      statement: "MQTT-3.3.1-4",
    },
    {
      name: "DUP on a QoS 0 PUBLISH [MQTT-3.3.1-2]",
      packet: pub({ dup: true }),
      ok: pub({ dup: false }),
      reasonCode: 0x82,
      statement: "MQTT-3.3.1-2",
    },
    {
      name: "Topic Alias 0: Topic Alias invalid 0x94 (3.3.2.3.4) [MQTT-3.3.2-8]",
      packet: pub({ properties: { topicAlias: 0 } }),
      ok: pub({ properties: { topicAlias: 1 } }),
      reasonCode: 0x94,
      statement: "MQTT-3.3.2-8",
    },
    {
      name: "Session Expiry Interval on PUBLISH: not allowed there (2.2.2.2)",
      packet: pub({ properties: { sessionExpiryInterval: 1 } }),
      ok: pub({ properties: { messageExpiryInterval: 1 } }),
      reasonCode: 0x81,
    },
    {
      name: "Will Delay Interval in CONNECT properties: only in Will Properties (3.1.2.11)",
      packet: { type: 1, clientId: "", properties: { willDelayInterval: 1 } },
      ok: {
        type: 1,
        clientId: "",
        will: { topic: "w", payload: u8(), properties: { willDelayInterval: 1 } },
      },
      reasonCode: 0x81,
    },
    {
      name: "Session Expiry Interval in Will Properties (3.1.3.2)",
      packet: {
        type: 1,
        clientId: "",
        will: { topic: "w", payload: u8(), properties: { sessionExpiryInterval: 1 } },
      },
      ok: { type: 1, clientId: "", properties: { sessionExpiryInterval: 1 } },
      reasonCode: 0x81,
    },
    {
      name: "Topic Alias on CONNACK (3.2.2.3)",
      packet: { type: 2, sessionPresent: false, reasonCode: 0, properties: { topicAlias: 1 } },
      ok: { type: 2, sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 1 } },
      reasonCode: 0x81,
    },
    {
      name: "Reason String on SUBSCRIBE (3.8.2.1)",
      packet: { ...sub("a"), properties: { reasonString: "r" } },
      ok: { ...sub("a"), properties: { userProperties: [["r", "r"]] } },
      reasonCode: 0x81,
    },
    {
      name: "Subscription Identifier on UNSUBSCRIBE (3.10.2.1)",
      packet: { ...unsub("a"), properties: { subscriptionIdentifiers: [1] } },
      ok: { ...sub("a"), properties: { subscriptionIdentifiers: [1] } },
      reasonCode: 0x81,
    },
    {
      name: "Server Reference on PUBACK (3.4.2.2)",
      packet: { type: 4, packetId: 1, properties: { serverReference: "s" } },
      ok: { type: 4, packetId: 1, properties: { reasonString: "s" } },
      reasonCode: 0x81,
    },
    {
      name: "two Subscription Identifiers on SUBSCRIBE: Protocol Error (3.8.2.1.2)",
      packet: { ...sub("a"), properties: { subscriptionIdentifiers: [1, 2] } },
      ok: { ...sub("a"), properties: { subscriptionIdentifiers: [1] } },
      reasonCode: 0x82,
    },
    {
      name: "Subscription Identifier 0: Protocol Error (3.8.2.1.2)",
      packet: { ...sub("a"), properties: { subscriptionIdentifiers: [0] } },
      ok: { ...sub("a"), properties: { subscriptionIdentifiers: [268_435_455] } },
      reasonCode: 0x82,
    },
    {
      name: "Receive Maximum 0: Protocol Error (3.1.2.11.3)",
      packet: { type: 1, clientId: "", properties: { receiveMaximum: 0 } },
      ok: { type: 1, clientId: "", properties: { receiveMaximum: 1 } },
      reasonCode: 0x82,
    },
    {
      name: "Maximum Packet Size 0: Protocol Error (3.1.2.11.4)",
      packet: { type: 1, clientId: "", properties: { maximumPacketSize: 0 } },
      ok: { type: 1, clientId: "", properties: { maximumPacketSize: 1 } },
      reasonCode: 0x82,
    },
    {
      name: "Authentication Data without Authentication Method on CONNECT (3.1.2.11.10)",
      packet: { type: 1, clientId: "", properties: { authenticationData: u8(1) } },
      ok: {
        type: 1,
        clientId: "",
        properties: { authenticationMethod: "m", authenticationData: u8(1) },
      },
      reasonCode: 0x82,
    },
    {
      name: "Authentication Data without Authentication Method on AUTH (3.15.2.2.3)",
      packet: { type: 15, reasonCode: 0x18, properties: { authenticationData: u8(1) } },
      ok: {
        type: 15,
        reasonCode: 0x18,
        properties: { authenticationMethod: "m", authenticationData: u8(1) },
      },
      reasonCode: 0x82,
    },
  ]);
  await t.step(
    "a Subscription Identifier on a PUBLISH is encoded: the codec serves servers too; " +
      "the client layer refuses it [MQTT-3.3.4-6]",
    () => {
      const p = pub({ properties: { subscriptionIdentifiers: [1, 268_435_455] } }) as Packet;
      deepStrictEqual(decode(encode(p)), { ...p, retain: false, dup: false });
    },
  );
});

Deno.test("encode() refuses CONNECT, CONNACK, SUBSCRIBE, UNSUBSCRIBE and SUBACK rules", {
  permissions: "none",
}, async (t) => {
  await encodeCases(t, [
    {
      name: "Will QoS 3 [MQTT-3.1.2-12]",
      packet: { type: 1, clientId: "", will: { topic: "w", payload: u8(), qos: 3 } },
      ok: { type: 1, clientId: "", will: { topic: "w", payload: u8(), qos: 2 } },
      reasonCode: 0x81,
      statement: "MQTT-3.1.2-12",
    },
    {
      name: "Protocol Version 4: Unsupported Protocol Version [MQTT-3.1.2-2]",
      packet: { type: 1, clientId: "", protocolVersion: 4 },
      ok: { type: 1, clientId: "", protocolVersion: 5 },
      reasonCode: 0x84,
    },
    {
      name: "Session Present with a non-zero Reason Code [MQTT-3.2.2-6]",
      packet: { type: 2, sessionPresent: true, reasonCode: 0x80 },
      ok: { type: 2, sessionPresent: false, reasonCode: 0x80 },
      reasonCode: 0x82,
      statement: "MQTT-3.2.2-6",
    },
    {
      name: "SUBSCRIBE with no Topic Filter [MQTT-3.8.3-2]",
      packet: { type: 8, packetId: 1, subscriptions: [] },
      ok: sub("a"),
      reasonCode: 0x82,
      statement: "MQTT-3.8.3-2",
    },
    {
      name: "No Local on a shared subscription [MQTT-3.8.3-4]",
      packet: sub("$share/g/a", { noLocal: true }),
      ok: sub("$share/g/a", { noLocal: false }),
      reasonCode: 0x82,
      statement: "MQTT-3.8.3-4",
    },
    {
      name: "Subscription Options Maximum QoS 3: Protocol Error (3.8.3.1)",
      packet: sub("a", { qos: 3 }),
      ok: sub("a", { qos: 2 }),
      reasonCode: 0x82,
    },
    {
      name: "Retain Handling 3: Protocol Error (3.8.3.1)",
      packet: sub("a", { retainHandling: 3 }),
      ok: sub("a", { retainHandling: 2 }),
      reasonCode: 0x82,
    },
    {
      name: "UNSUBSCRIBE with no Topic Filter [MQTT-3.10.3-2]",
      packet: { type: 10, packetId: 1, filters: [] },
      ok: unsub("a"),
      reasonCode: 0x82,
      statement: "MQTT-3.10.3-2",
    },
    {
      name: "SUBACK without a reason code [MQTT-3.8.4-6]",
      packet: { type: 9, packetId: 1, reasonCodes: [] },
      ok: { type: 9, packetId: 1, reasonCodes: [0] },
      reasonCode: 0x82,
    },
    {
      name: "UNSUBACK without a reason code (3.11.3)",
      packet: { type: 11, packetId: 1, reasonCodes: [] },
      ok: { type: 11, packetId: 1, reasonCodes: [0] },
      reasonCode: 0x82,
    },
  ]);
});

Deno.test("encode() accepts exactly the reason codes of each packet's table", {
  permissions: "none",
}, async (t) => {
  const packetOf = (type: number, code: number): unknown =>
    type === 2
      ? { type, sessionPresent: false, reasonCode: code }
      : type === 9 || type === 11
      ? { type, packetId: 1, reasonCodes: [0, code] }
      : type === 14 || type === 15
      ? { type, reasonCode: code }
      : { type, packetId: 1, reasonCode: code };
  for (const table of reasonCodeTables) {
    await t.step(`${table.name} [${table.statement}]`, () => {
      for (let code = 0; code < 256; code++) {
        const packet = packetOf(table.type, code);
        if (table.codes.includes(code)) {
          // Success (0) takes the short form on the acks, DISCONNECT and AUTH: compare decoded.
          deepStrictEqual(
            decode(encode(packet as Packet)),
            decode(new Uint8Array(table.bytes(code))),
          );
        } else {
          assertEncodeRejects({ name: "", packet, reasonCode: 0x82, statement: table.statement });
        }
      }
    });
  }
});

Deno.test(
  "encode() refuses strings that break the UTF-8 rules (1.5.4)",
  { permissions: "none" },
  async (t) => {
    await encodeCases(t, [
      ...["a\ud800", "\udc00a", "a\ud83d", "\ude00\ud83d"].map((topic): EncodeCase => ({
        name: `lone surrogate in ${JSON.stringify(topic)} [MQTT-1.5.4-1]`,
        packet: pub({ topic }),
        ok: pub({ topic: "a\ud83d\ude00" }),
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-1",
      })),
      {
        name: "lone surrogate in a Client Identifier [MQTT-1.5.4-1]",
        packet: { type: 1, clientId: "\ud800" },
        ok: { type: 1, clientId: "\u{10000}" },
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-1",
      },
      {
        name: "lone surrogate in a User Property name [MQTT-1.5.4-1, MQTT-1.5.7-1]",
        packet: pub({ properties: { userProperties: [["\udfff", "v"]] } }),
        ok: pub({ properties: { userProperties: [["k", "v"]] } }),
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-1",
      },
      {
        name: "lone surrogate with strict: false [MQTT-1.5.4-1]",
        packet: pub({ topic: "\ud800" }),
        options: { strict: false },
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-1",
      },
      {
        name: "U+0000 in a Topic Name [MQTT-1.5.4-2, MQTT-4.7.3-2]",
        packet: pub({ topic: "a\u0000" }),
        ok: pub({ topic: "a" }),
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-2",
      },
      {
        name: "U+0000 in a Topic Filter [MQTT-1.5.4-2, MQTT-4.7.3-2]",
        packet: sub("\u0000"),
        ok: sub("a"),
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-2",
      },
      {
        name: "U+0000 with strict: false [MQTT-1.5.4-2]",
        packet: { type: 1, clientId: "\u0000" },
        options: { strict: false },
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-2",
      },
      {
        name: "U+0000 in a User Property value [MQTT-1.5.4-2, MQTT-1.5.7-1]",
        packet: { type: 14, properties: { userProperties: [["k", "\u0000"]] } },
        ok: { type: 14, properties: { userProperties: [["k", ""]] } },
        reasonCode: 0x81,
        statement: "MQTT-1.5.4-2",
      },
      {
        name: "a Topic Name of 65,536 bytes [MQTT-4.7.3-3]",
        packet: pub({ topic: "a".repeat(65_536) }),
        ok: pub({ topic: "a".repeat(65_535) }),
        reasonCode: 0x81,
        statement: "MQTT-4.7.3-3",
      },
      {
        name: "a Topic Filter of 65,538 bytes in 21,846 characters [MQTT-4.7.3-3]",
        packet: sub("€".repeat(21_846)),
        ok: sub("€".repeat(21_845)),
        reasonCode: 0x81,
        statement: "MQTT-4.7.3-3",
      },
      {
        name: "a User Property value of 65,536 bytes (1.5.4)",
        packet: { type: 14, properties: { userProperties: [["k", "v".repeat(65_536)]] } },
        ok: { type: 14, properties: { userProperties: [["k", "v".repeat(65_535)]] } },
        reasonCode: 0x81,
        statement: "MQTT-4.7.3-3",
      },
    ]);
    const discouraged = [
      "\u0001",
      "\u001f",
      "\u007f",
      "\u0080",
      "\u009f",
      "\ufdd0",
      "\ufdef",
      "\ufffe",
      "\uffff",
      "\u{1fffe}",
      "\u{10ffff}",
    ];
    for (const c of discouraged) {
      const hex = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      await t.step(`${hex}: refused when strict, sent with strict: false (1.5.4)`, () => {
        assertEncodeRejects({ name: "", packet: pub({ topic: `a${c}` }), reasonCode: 0x81 });
        const bytes = encode(pub({ topic: `a${c}` }) as Packet, { strict: false });
        equal((decode(bytes, { strict: false }) as { topic: string }).topic, `a${c}`);
      });
    }
  },
);

Deno.test("encode() refuses a packet over maximumPacketSize with 0x95 [MQTT-3.2.2-15]", {
  permissions: "none",
}, async (t) => {
  const packet = pub({ payload: new Uint8Array(100) }) as Packet; // 2 + 3 + 1 + 100 = 106 bytes
  await encodeCases(t, [
    {
      name: "one byte over [MQTT-3.2.2-15]",
      packet,
      options: { maximumPacketSize: 105 },
      reasonCode: 0x95,
      statement: "MQTT-3.2.2-15",
    },
    {
      name: "a CONNACK over a tiny limit [MQTT-3.2.2-15]",
      packet: { type: 2, sessionPresent: false, reasonCode: 0 },
      options: { maximumPacketSize: 4 },
      reasonCode: 0x95,
      statement: "MQTT-3.2.2-15",
    },
  ]);
  await t.step("exactly at the limit is sent [MQTT-3.2.2-15]", () => {
    equal(encode(packet, { maximumPacketSize: 106 }).length, 106);
  });
});

Deno.test("encodePublishHead() refuses what encode() refuses, with the same error", {
  permissions: "none",
}, async (t) => {
  // The head of this packet is 6 bytes; the whole packet, its payload counted, 106.
  const big = pub({ payload: new Uint8Array(100) }) as Publish;
  const cases: { name: string; packet: Publish; options?: EncodeOptions; reasonCode: number }[] = [
    {
      name: "a wildcard in the Topic Name [MQTT-3.3.2-2]",
      packet: pub({ topic: "a/+" }) as Publish,
      reasonCode: 0x82,
    },
    {
      name: "a QoS 0 PUBLISH with a Packet Identifier [MQTT-2.2.1-2]",
      packet: pub({ packetId: 1 }) as Publish,
      reasonCode: 0x82,
    },
    {
      name: "Topic Alias 0 [MQTT-3.3.2-8]",
      packet: pub({ properties: { topicAlias: 0 } }) as Publish,
      reasonCode: 0x94,
    },
    {
      name: "one byte over maximumPacketSize, the payload counted [MQTT-3.2.2-15]",
      packet: big,
      options: { maximumPacketSize: 105 },
      reasonCode: 0x95,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const e = caught(() => encode(c.packet, c.options));
      assert(e instanceof EncodeError);
      equal(e.reasonCode, c.reasonCode);
      assertSameRefusal(e, c.packet, c.options);
    });
  }
  await t.step("exactly at maximumPacketSize, the head is written [MQTT-3.2.2-15]", () => {
    equal(encodePublishHead(big, { maximumPacketSize: 106 }).length, 6);
  });
  await t.step("a packet that is not a PUBLISH is a TypeError", () => {
    for (const packet of [{ type: 12 }, { type: 4, packetId: 1 }, null, undefined]) {
      const e = caught(() => encodePublishHead(packet as unknown as Publish));
      assert(e instanceof TypeError && !(e instanceof EncodeError), `${e}`);
    }
  });
});

Deno.test(
  "encodeInto() refuses an offset that is not a whole index with RangeError, writing nothing",
  { permissions: "none" },
  () => {
    for (const offset of [NaN, 1.5, -1, Infinity, 7]) {
      const target = new Uint8Array(8).fill(0xee);
      const e = caught(() => encodeInto({ type: 12 }, target, offset));
      assert(e instanceof RangeError, `offset ${offset}: ${e}`);
      deepStrictEqual(target, new Uint8Array(8).fill(0xee));
    }
    equal(encodeInto({ type: 12 }, new Uint8Array(8), 6), 2);
  },
);

Deno.test("encode() throws TypeError or RangeError for a wrong shape, before writing", {
  permissions: "none",
}, async (t) => {
  await encodeCases(t, [
    { name: "packet null", packet: null, error: TypeError },
    { name: "unknown packet type 0", packet: { type: 0 }, error: TypeError },
    { name: "unknown packet type 16", packet: { type: 16 }, error: TypeError },
    { name: "payload as a string", packet: pub({ payload: "hi" }), error: TypeError, ok: pub({}) },
    { name: "Client Identifier as a number", packet: { type: 1, clientId: 1 }, error: TypeError },
    {
      name: "unknown property key",
      packet: pub({ properties: { colour: "red" } }),
      error: TypeError,
    },
    {
      name: "User Property not a pair",
      packet: pub({ properties: { userProperties: [["k"]] } }),
      error: TypeError,
    },
    {
      name: "Keep Alive 65,536",
      packet: { type: 1, clientId: "", keepAlive: 65_536 },
      error: RangeError,
    },
    { name: "Keep Alive -1", packet: { type: 1, clientId: "", keepAlive: -1 }, error: RangeError },
    {
      name: "Message Expiry Interval 2^32",
      packet: pub({ properties: { messageExpiryInterval: 2 ** 32 } }),
      error: RangeError,
      ok: pub({ properties: { messageExpiryInterval: 2 ** 32 - 1 } }),
    },
    {
      name: "Message Expiry Interval 1.5",
      packet: pub({ properties: { messageExpiryInterval: 1.5 } }),
      error: RangeError,
    },
    {
      name: "Payload Format Indicator 2",
      packet: pub({ properties: { payloadFormatIndicator: 2 } }),
      error: RangeError,
    },
    {
      name: "Topic Alias 65,536",
      packet: pub({ properties: { topicAlias: 65_536 } }),
      error: RangeError,
    },
    {
      name: "Subscription Identifier 268,435,456",
      packet: { ...sub("a"), properties: { subscriptionIdentifiers: [268_435_456] } },
      error: RangeError,
    },
    {
      name: "Correlation Data of 65,536 bytes (1.5.6)",
      packet: pub({ properties: { correlationData: new Uint8Array(65_536) } }),
      error: RangeError,
      ok: pub({ properties: { correlationData: new Uint8Array(65_535) } }),
    },
    {
      name: "Password of 65,536 bytes (1.5.6)",
      packet: { type: 1, clientId: "", password: new Uint8Array(65_536) },
      error: RangeError,
    },
  ]);
});
