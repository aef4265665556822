// One case per MQTT 3.1.1 rule of the codec, decode side then encode side, all with
// `protocolVersion: 4`. Each case names the 3.1.1 statement it covers ([v3.1.1 MQTT-x]: the two
// specifications reuse ids), asserts the error class, its reason code, its statement id (undefined
// where 3.1.1 names none), the byte offset when decoding, and that the message names MQTT 3.1.1.
// Where a case has an `ok` twin (the rule respected), the twin must pass, so the case fails as
// soon as the codec stops checking that rule.

import { equal, fail, match, ok as assert, throws } from "node:assert/strict";
import {
  decode,
  decodeBody,
  DecodeError,
  type DecodeOptions,
  encode,
  encodedLength,
  EncodeError,
  encodeInto,
  encodeIntoIfFits,
  type EncodeOptions,
  encodePublishHead,
  type Packet,
  type Publish,
} from "../../src/codec/mod.ts";
import { ascii, u8, vectors } from "./_vectors.ts";
import { V311, vectorsV311 } from "./_vectors_v311.ts";

const V = "v3.1.1 ";

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return fail("expected an error, but nothing was thrown");
}

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

function assertDecodeRejects(c: DecodeCase): void {
  const options = { ...V311, ...c.options };
  const e = caught(() => decode(new Uint8Array(c.bytes), options));
  assert(e instanceof DecodeError, `expected DecodeError, got ${e}`);
  equal(e.reasonCode, c.reasonCode, e.message);
  equal(e.statement, c.statement, e.message);
  equal(e.offset, c.offset, e.message);
  equal(e.recoverable, false);
  match(e.message, /^MQTT 3\.1\.1: /);
  if (c.ok) decode(new Uint8Array(c.ok), options);
}

async function decodeCases(t: Deno.TestContext, cases: DecodeCase[]): Promise<void> {
  for (const c of cases) await t.step(c.name, () => assertDecodeRejects(c));
}

/** A fixed header with a one-byte Remaining Length, then `body`. */
const packet = (first: number, ...body: number[]) => [first, body.length, ...body];
/** A UTF-8 Encoded String of ASCII text: two-byte length, then the bytes. */
const str = (text: string) => [0x00, text.length, ...ascii(text)];

/** A CONNECT of level 4: `flags`, Keep Alive 0, Client Identifier `id`, then `payload`. */
const connect = (flags: number, id = "", ...payload: number[]) =>
  packet(0x10, ...str("MQTT"), 0x04, flags, 0x00, 0x00, ...str(id), ...payload);
/** A CONNECT with a Will (Will Topic `topic`, empty Will Message) and Clean Session 1. */
const connectWill = (flags: number, topic = "w") => connect(flags, "", ...str(topic), 0x00, 0x00);

// ---------------------------------------------------------------------------------------------
// Decode side
// ---------------------------------------------------------------------------------------------

Deno.test(
  "decode() refuses reserved fixed-header flag values of MQTT 3.1.1 for every type " +
    "[v3.1.1 MQTT-2.2.2-2]",
  { permissions: "none" },
  async (t) => {
    const perType: Record<number, string> = {
      6: "MQTT-3.6.1-1",
      8: "MQTT-3.8.1-1",
      10: "MQTT-3.10.1-1",
      14: "MQTT-3.14.1-1",
    };
    for (const type of [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) {
      const v = vectorsV311.find((v) => v.packet.type === type)!;
      const right = v.bytes[0]! & 0x0f;
      const statement = V + (perType[type] ?? "MQTT-2.2.2-2");
      await t.step(`${v.name.split(/[,:]/)[0]}: only flags ${right} [${statement}]`, () => {
        for (let flags = 0; flags < 16; flags++) {
          if (flags === right) continue;
          assertDecodeRejects({
            name: "",
            bytes: [(type << 4) | flags, ...v.bytes.slice(1)],
            reasonCode: 0x81,
            statement,
            offset: 0,
            ok: v.bytes,
          });
        }
      });
    }
  },
);

Deno.test("decode() refuses packet types MQTT 3.1.1 reserves: 0, and 15 (AUTH is 5.0 only)", {
  permissions: "none",
}, async (t) => {
  await decodeCases(t, [
    { name: "type 0", bytes: [0x00, 0x00], reasonCode: 0x81, offset: 0, ok: [0xc0, 0x00] },
    { name: "type 15, empty", bytes: [0xf0, 0x00], reasonCode: 0x81, offset: 0 },
    ...vectors.filter((v) => v.packet.type === 15).map((v): DecodeCase => ({
      name: `the 5.0 vector ${v.name}`,
      bytes: v.bytes,
      reasonCode: 0x81,
      offset: 0,
    })),
  ]);
});

Deno.test("decode() refuses MQTT 3.1.1 PUBLISH rules", { permissions: "none" }, async (t) => {
  await decodeCases(t, [
    {
      name: "QoS 3 [v3.1.1 MQTT-3.3.1-4]",
      bytes: packet(0x36, ...str("a"), 0x00, 0x01),
      reasonCode: 0x81,
      statement: V + "MQTT-3.3.1-4",
      offset: 0,
      ok: packet(0x34, ...str("a"), 0x00, 0x01),
    },
    {
      name: "DUP at QoS 0 [v3.1.1 MQTT-3.3.1-2]",
      bytes: packet(0x38, ...str("a")),
      reasonCode: 0x81,
      statement: V + "MQTT-3.3.1-2",
      offset: 0,
      ok: packet(0x3a, ...str("a"), 0x00, 0x01),
    },
    ...["#", "+", "a/+", "a/#", "a+"].map((topic): DecodeCase => ({
      name: `Topic Name ${JSON.stringify(topic)}: no wildcards ` +
        "[v3.1.1 MQTT-3.3.2-2] [v3.1.1 MQTT-4.7.1-1]",
      bytes: packet(0x30, ...str(topic)),
      reasonCode: 0x81,
      statement: V + "MQTT-3.3.2-2",
      offset: 2,
      ok: packet(0x30, ...str("a/b")),
    })),
    {
      name: "empty Topic Name: no Topic Alias in 3.1.1 [v3.1.1 MQTT-4.7.3-1]",
      bytes: packet(0x30, 0x00, 0x00, 0x61),
      reasonCode: 0x82,
      statement: V + "MQTT-4.7.3-1",
      offset: 2,
      ok: packet(0x30, 0x00, 0x01, 0x61),
    },
    {
      name: "Packet Identifier 0 at QoS 1 [v3.1.1 MQTT-2.3.1-1]",
      bytes: packet(0x32, ...str("a"), 0x00, 0x00),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-1",
      offset: 5,
      ok: packet(0x32, ...str("a"), 0x00, 0x01),
    },
    {
      name: "Packet Identifier 0 at QoS 2 [v3.1.1 MQTT-2.3.1-1]",
      bytes: packet(0x34, ...str("a"), 0x00, 0x00, 0xff),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-1",
      offset: 5,
      ok: packet(0x34, ...str("a"), 0xff, 0xff, 0xff),
    },
    {
      name: "Topic Name longer than the packet",
      bytes: packet(0x30, 0x00, 0x05, 0x61),
      reasonCode: 0x81,
      offset: 4,
    },
    {
      name: "Packet Identifier cut short",
      bytes: packet(0x32, ...str("a"), 0x00),
      reasonCode: 0x81,
      offset: 5,
    },
  ]);
});

Deno.test("decode() refuses MQTT 3.1.1 strings that break 1.5.3", {
  permissions: "none",
}, async (t) => {
  const topic = (...utf8: number[]) => packet(0x30, 0x00, utf8.length, ...utf8);
  await decodeCases(t, [
    {
      name: "U+0000 in a Topic Name [v3.1.1 MQTT-1.5.3-2] [v3.1.1 MQTT-4.7.3-2]",
      bytes: topic(0x61, 0x00),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-2",
      offset: 4,
      ok: topic(0x61, 0x62),
    },
    ...([
      ["a UTF-16 surrogate U+D800 encoded in UTF-8", [0xed, 0xa0, 0x80]],
      ["a UTF-16 surrogate U+DFFF encoded in UTF-8", [0xed, 0xbf, 0xbf]],
      ["an overlong encoding of '/'", [0xc0, 0xaf]],
      ["a lone continuation byte", [0x80]],
      ["a truncated sequence", [0xe2, 0x82]],
      ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ] as const).map(([what, utf8]): DecodeCase => ({
      name: `${what} [v3.1.1 MQTT-1.5.3-1]`,
      bytes: topic(...utf8),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-1",
      offset: 4,
    })),
    {
      name: "ill-formed UTF-8 in a Client Identifier [v3.1.1 MQTT-1.5.3-1] [v3.1.1 MQTT-3.1.3-4]",
      bytes: packet(0x10, ...str("MQTT"), 0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 0xff),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-1",
      offset: 14,
      ok: packet(0x10, ...str("MQTT"), 0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61),
    },
    {
      name: "ill-formed UTF-8 in a User Name [v3.1.1 MQTT-1.5.3-1] [v3.1.1 MQTT-3.1.3-11]",
      bytes: connect(0x82, "", 0x00, 0x01, 0xc3),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-1",
      offset: 16,
      ok: connect(0x82, "", 0x00, 0x02, 0xc3, 0xa9),
    },
    {
      name: "U+0000 in a Will Topic [v3.1.1 MQTT-1.5.3-2] [v3.1.1 MQTT-3.1.3-10]",
      bytes: connect(0x06, "", 0x00, 0x01, 0x00, 0x00, 0x00),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-2",
      offset: 16,
      ok: connect(0x06, "", 0x00, 0x01, 0x77, 0x00, 0x00),
    },
    {
      name: "U+0000 in a Topic Filter [v3.1.1 MQTT-1.5.3-2] [v3.1.1 MQTT-3.8.3-1]",
      bytes: packet(0x82, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-2",
      offset: 6,
      ok: packet(0x82, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00),
    },
    {
      name: "ill-formed UTF-8 in an UNSUBSCRIBE Topic Filter [v3.1.1 MQTT-1.5.3-1] " +
        "[v3.1.1 MQTT-3.10.3-1]",
      bytes: packet(0xa2, 0x00, 0x01, 0x00, 0x01, 0xfe),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-1",
      offset: 6,
      ok: packet(0xa2, 0x00, 0x01, 0x00, 0x01, 0x61),
    },
    {
      name: "a control character U+0001: malformed when strict, kept with strict: false (1.5.3)",
      bytes: topic(0x61, 0x01),
      reasonCode: 0x81,
      offset: 4,
    },
  ]);
  await t.step("strict: false keeps the control character", () => {
    const p = decode(new Uint8Array(topic(0x61, 0x01)), { ...V311, strict: false }) as Publish;
    equal(p.topic, "a\u0001");
  });
});

Deno.test("decode() refuses MQTT 3.1.1 CONNECT rules", { permissions: "none" }, async (t) => {
  const ok = connect(0x02);
  await decodeCases(t, [
    {
      name: 'Protocol Name "MQIsdp" of MQTT 3.1 [v3.1.1 MQTT-3.1.2-1]',
      bytes: packet(0x10, ...str("MQIsdp"), 0x03, 0x02, 0x00, 0x00, ...str("c")),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-1",
      offset: 2,
      ok,
    },
    {
      name: 'Protocol Name "mqtt" [v3.1.1 MQTT-3.1.2-1]',
      bytes: packet(0x10, ...str("mqtt"), 0x04, 0x02, 0x00, 0x00, 0x00, 0x00),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-1",
      offset: 2,
      ok,
    },
    ...[0, 3, 5, 6, 0x84].map((level): DecodeCase => ({
      name: `Protocol Level ${level}: 0x84 Unsupported Protocol Version [v3.1.1 MQTT-3.1.2-2]`,
      bytes: ok.map((b, i) => i === 8 ? level : b),
      reasonCode: 0x84,
      statement: V + "MQTT-3.1.2-2",
      offset: 8,
      ok,
    })),
    ...vectors.filter((v) => v.packet.type === 1).map((v): DecodeCase => ({
      name: `the 5.0 vector ${v.name}: Protocol Version 5 [v3.1.1 MQTT-3.1.2-2]`,
      bytes: v.bytes,
      reasonCode: 0x84,
      statement: V + "MQTT-3.1.2-2",
      offset: 8,
    })),
    {
      name: "Connect Flags reserved bit 0 set [v3.1.1 MQTT-3.1.2-3]",
      bytes: connect(0x03),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-3",
      offset: 9,
      ok,
    },
    ...[0x0a, 0x12].map((flags): DecodeCase => ({
      name: `Will QoS ${flags >> 3} without the Will Flag ` +
        "[v3.1.1 MQTT-3.1.2-13] [v3.1.1 MQTT-3.1.2-11]",
      bytes: connect(flags),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-13",
      offset: 9,
      ok,
    })),
    {
      name: "Will Retain without the Will Flag [v3.1.1 MQTT-3.1.2-15] [v3.1.1 MQTT-3.1.2-11]",
      bytes: connect(0x22),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-15",
      offset: 9,
      ok,
    },
    {
      name: "Will QoS 3 [v3.1.1 MQTT-3.1.2-14]",
      bytes: connectWill(0x1e),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-14",
      offset: 9,
      ok: connectWill(0x16),
    },
    {
      name: "Password Flag without the User Name Flag [v3.1.1 MQTT-3.1.2-22]",
      bytes: connect(0x42, "", 0x00, 0x01, 0x70),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-22",
      offset: 9,
      ok: connect(0xc2, "", ...str("u"), 0x00, 0x01, 0x70),
    },
    {
      name: "zero-length Client Identifier with Clean Session 0: 0x85, for CONNACK 0x02 " +
        "[v3.1.1 MQTT-3.1.3-8] [v3.1.1 MQTT-3.1.3-7]",
      bytes: connect(0x00),
      reasonCode: 0x85,
      statement: V + "MQTT-3.1.3-8",
      offset: 12,
      ok: connect(0x00, "c"),
    },
    ...["#", "w/+", ""].map((topic): DecodeCase => ({
      name: `Will Topic ${JSON.stringify(topic)} ` +
        (topic ? "[v3.1.1 MQTT-4.7.1-1]" : "[v3.1.1 MQTT-4.7.3-1]"),
      bytes: connectWill(0x06, topic),
      reasonCode: 0x82,
      statement: V + (topic ? "MQTT-4.7.1-1" : "MQTT-4.7.3-1"),
      offset: 14,
      ok: connectWill(0x06, "w/x"),
    })),
    {
      name: "Will Flag without a Will Topic and Will Message [v3.1.1 MQTT-3.1.2-9]",
      bytes: connect(0x06),
      reasonCode: 0x81,
      offset: 14,
      ok: connectWill(0x06),
    },
    {
      name: "Will Flag with a Will Topic but no Will Message [v3.1.1 MQTT-3.1.2-9]",
      bytes: connect(0x06, "", ...str("w")),
      reasonCode: 0x81,
      offset: 17,
      ok: connectWill(0x06),
    },
    {
      name: "Will fields without the Will Flag [v3.1.1 MQTT-3.1.2-11]",
      bytes: connectWill(0x02),
      reasonCode: 0x81,
      offset: 14,
      ok: connectWill(0x06),
    },
    {
      name: "User Name Flag without a User Name [v3.1.1 MQTT-3.1.2-19]",
      bytes: connect(0x82),
      reasonCode: 0x81,
      offset: 14,
      ok: connect(0x82, "", ...str("u")),
    },
    {
      name: "a User Name without the User Name Flag [v3.1.1 MQTT-3.1.2-18]",
      bytes: connect(0x02, "", ...str("u")),
      reasonCode: 0x81,
      offset: 14,
      ok: connect(0x82, "", ...str("u")),
    },
    {
      name: "Password Flag without a Password [v3.1.1 MQTT-3.1.2-21]",
      bytes: connect(0xc2, "", ...str("u")),
      reasonCode: 0x81,
      offset: 17,
      ok: connect(0xc2, "", ...str("u"), 0x00, 0x00),
    },
    {
      name: "a Password without the Password Flag [v3.1.1 MQTT-3.1.2-20]",
      bytes: connect(0x82, "", ...str("u"), 0x00, 0x00),
      reasonCode: 0x81,
      offset: 17,
      ok: connect(0xc2, "", ...str("u"), 0x00, 0x00),
    },
    {
      name: "a 5.0 Property Length before the Client Identifier is not read as one",
      bytes: packet(0x10, ...str("MQTT"), 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00),
      reasonCode: 0x81,
      offset: 14,
      ok,
    },
    {
      name: "Keep Alive cut short",
      bytes: packet(0x10, ...str("MQTT"), 0x04, 0x02, 0x00),
      reasonCode: 0x81,
      offset: 10,
    },
  ]);
  await t.step(
    "the 5.0 decoder refuses a level 4 CONNECT with 0x84, as before [MQTT-3.1.2-2]",
    () => {
      const e = caught(() => decode(new Uint8Array(ok)));
      assert(e instanceof DecodeError);
      equal(e.reasonCode, 0x84);
      equal(e.statement, "MQTT-3.1.2-2");
      equal(e.offset, 8);
      match(e.message, /protocolVersion: 4/);
    },
  );
});

Deno.test("decode() refuses MQTT 3.1.1 CONNACK rules", { permissions: "none" }, async (t) => {
  await decodeCases(t, [
    ...[0x02, 0x80, 0xfe].map((flags): DecodeCase => ({
      name: `Connect Acknowledge Flags 0x${flags.toString(16)}: bits 7-1 reserved (3.2.2.1)`,
      bytes: packet(0x20, flags, 0x00),
      reasonCode: 0x81,
      offset: 2,
      ok: packet(0x20, 0x01, 0x00),
    })),
    ...[0x06, 0x80, 0x87, 0xff].map((code): DecodeCase => ({
      name: `return code 0x${code.toString(16)} is reserved [v3.1.1 MQTT-3.2.2-6]`,
      bytes: packet(0x20, 0x00, code),
      reasonCode: 0x81,
      statement: V + "MQTT-3.2.2-6",
      offset: 3,
      ok: packet(0x20, 0x00, 0x05),
    })),
    ...[1, 2, 3, 4, 5].map((code): DecodeCase => ({
      name: `Session Present 1 with return code ${code} [v3.1.1 MQTT-3.2.2-4]`,
      bytes: packet(0x20, 0x01, code),
      reasonCode: 0x81,
      statement: V + "MQTT-3.2.2-4",
      offset: 2,
      ok: packet(0x20, 0x00, code),
    })),
    {
      name: "a 5.0 CONNACK with a Property Length: Remaining Length 2 only",
      bytes: packet(0x20, 0x00, 0x00, 0x00),
      reasonCode: 0x81,
      offset: 4,
      ok: packet(0x20, 0x00, 0x00),
    },
    { name: "no return code", bytes: packet(0x20, 0x00), reasonCode: 0x81, offset: 3 },
  ]);
});

Deno.test("decode() refuses MQTT 3.1.1 acks other than a Packet Identifier", {
  permissions: "none",
}, async (t) => {
  // Packet Identifier 0 breaks [v3.1.1 MQTT-2.3.1-6] (PUBACK, PUBREC and PUBREL echo the non-zero
  // one of the PUBLISH) and [v3.1.1 MQTT-2.3.1-7] (UNSUBACK, that of the UNSUBSCRIBE).
  const acks: [number, string, number, string | undefined][] = [
    [4, "PUBACK", 0x40, "MQTT-2.3.1-6"],
    [5, "PUBREC", 0x50, "MQTT-2.3.1-6"],
    [6, "PUBREL", 0x62, "MQTT-2.3.1-6"],
    [7, "PUBCOMP", 0x70, undefined],
    [11, "UNSUBACK", 0xb0, "MQTT-2.3.1-7"],
  ];
  await decodeCases(
    t,
    acks.flatMap(([, name, first, statement]): DecodeCase[] => [
      {
        name: `${name} with a 5.0 reason code: Remaining Length 2 only`,
        bytes: packet(first, 0x00, 0x01, 0x00),
        reasonCode: 0x81,
        offset: 4,
        ok: packet(first, 0x00, 0x01),
      },
      {
        name: `${name} with a 5.0 reason code and properties`,
        bytes: packet(first, 0x00, 0x01, 0x10, 0x00),
        reasonCode: 0x81,
        offset: 4,
      },
      {
        name: `${name} with Packet Identifier 0` +
          (statement ? ` [${V}${statement}]` : " (3.7.2: it echoes a non-zero one)"),
        bytes: packet(first, 0x00, 0x00),
        reasonCode: 0x82,
        ...(statement ? { statement: V + statement } : {}),
        offset: 2,
        ok: packet(first, 0x00, 0x01),
      },
      {
        name: `${name} cut short`,
        bytes: packet(first, 0x00),
        reasonCode: 0x81,
        offset: 2,
      },
    ]),
  );
});

Deno.test("decode() refuses MQTT 3.1.1 SUBSCRIBE, SUBACK and UNSUBSCRIBE rules", {
  permissions: "none",
}, async (t) => {
  const subscribe = (filter: string, options = 0) =>
    packet(0x82, 0x00, 0x01, ...str(filter), options);
  const ok = subscribe("a/b", 2);
  // Filters that break [v3.1.1 MQTT-4.7.1-2] (# alone, last), [v3.1.1 MQTT-4.7.1-3] (+ fills its
  // level) or [v3.1.1 MQTT-4.7.3-1] (at least one character), with the statement each cites.
  const badFilters: [string, string][] = [
    ["a#", "MQTT-4.7.1-2"],
    ["a/#/b", "MQTT-4.7.1-2"],
    ["##", "MQTT-4.7.1-2"],
    ["a+", "MQTT-4.7.1-3"],
    ["+a/b", "MQTT-4.7.1-3"],
    ["", "MQTT-4.7.3-1"],
  ];
  await decodeCases(t, [
    {
      name: "SUBSCRIBE without a Topic Filter [v3.1.1 MQTT-3.8.3-3]",
      bytes: packet(0x82, 0x00, 0x01),
      reasonCode: 0x82,
      statement: V + "MQTT-3.8.3-3",
      offset: 4,
      ok,
    },
    {
      name: "SUBSCRIBE with Requested QoS 3 [v3.1.1 MQTT-3.8.3-4] (printed as MQTT-3-8.3-4)",
      bytes: subscribe("a/b", 3),
      reasonCode: 0x81,
      statement: V + "MQTT-3.8.3-4",
      offset: 9,
      ok,
    },
    ...[2, 3, 4, 5, 6, 7].map((bit): DecodeCase => ({
      name: `SUBSCRIBE with reserved bit ${bit} of Requested QoS set (a 5.0 subscription ` +
        "option) [v3.1.1 MQTT-3.8.3-4]",
      bytes: subscribe("a/b", 1 << bit),
      reasonCode: 0x81,
      statement: V + "MQTT-3.8.3-4",
      offset: 9,
      ok,
    })),
    ...badFilters.map(([filter, statement]): DecodeCase => ({
      name: `SUBSCRIBE Topic Filter ${JSON.stringify(filter)} [${V}${statement}]`,
      bytes: subscribe(filter),
      reasonCode: 0x82,
      statement: V + statement,
      offset: 4,
      ok,
    })),
    {
      name: "SUBSCRIBE with Packet Identifier 0 [v3.1.1 MQTT-2.3.1-1]",
      bytes: packet(0x82, 0x00, 0x00, ...str("a"), 0x00),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-1",
      offset: 2,
      ok,
    },
    {
      name: "SUBSCRIBE Topic Filter without its Requested QoS",
      bytes: packet(0x82, 0x00, 0x01, ...str("a")),
      reasonCode: 0x81,
      offset: 7,
      ok,
    },
    {
      name: "SUBACK without a return code (3.9.3)",
      bytes: packet(0x90, 0x00, 0x01),
      reasonCode: 0x82,
      offset: 4,
      ok: packet(0x90, 0x00, 0x01, 0x80),
    },
    {
      name: "SUBACK with Packet Identifier 0 [v3.1.1 MQTT-2.3.1-7]",
      bytes: packet(0x90, 0x00, 0x00, 0x00),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-7",
      offset: 2,
    },
    {
      name: "UNSUBSCRIBE without a Topic Filter [v3.1.1 MQTT-3.10.3-2]",
      bytes: packet(0xa2, 0x00, 0x01),
      reasonCode: 0x82,
      statement: V + "MQTT-3.10.3-2",
      offset: 4,
      ok: packet(0xa2, 0x00, 0x01, ...str("a/#")),
    },
    ...badFilters.map(([filter, statement]): DecodeCase => ({
      name: `UNSUBSCRIBE Topic Filter ${JSON.stringify(filter)} [${V}${statement}]`,
      bytes: packet(0xa2, 0x00, 0x01, ...str("a"), ...str(filter)),
      reasonCode: 0x82,
      statement: V + statement,
      offset: 7,
      ok: packet(0xa2, 0x00, 0x01, ...str("a"), ...str("b/+")),
    })),
    {
      name: "UNSUBSCRIBE with Packet Identifier 0 [v3.1.1 MQTT-2.3.1-1]",
      bytes: packet(0xa2, 0x00, 0x00, ...str("a")),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-1",
      offset: 2,
    },
  ]);
  await t.step(
    "SUBACK return codes other than 0x00, 0x01, 0x02, 0x80 [v3.1.1 MQTT-3.9.3-2]",
    () => {
      for (let code = 0; code < 256; code++) {
        const bytes = packet(0x90, 0x00, 0x01, 0x00, code);
        if (code <= 2 || code === 0x80) {
          decode(new Uint8Array(bytes), V311);
          continue;
        }
        assertDecodeRejects({
          name: "",
          bytes,
          reasonCode: 0x81,
          statement: V + "MQTT-3.9.3-2",
          offset: 5,
        });
      }
    },
  );
});

Deno.test("decode() refuses a body on MQTT 3.1.1 PINGREQ, PINGRESP and DISCONNECT", {
  permissions: "none",
}, async (t) => {
  await decodeCases(
    t,
    [[0xc0, "PINGREQ"], [0xd0, "PINGRESP"], [0xe0, "DISCONNECT"]].flatMap((
      [first, name],
    ): DecodeCase[] => [
      {
        name: `${name} with one byte (a 5.0 reason code)`,
        bytes: packet(first as number, 0x00),
        reasonCode: 0x81,
        offset: 2,
        ok: packet(first as number),
      },
      {
        name: `${name} with a reason code and a Property Length`,
        bytes: packet(first as number, 0x04, 0x00),
        reasonCode: 0x81,
        offset: 2,
      },
    ]),
  );
});

Deno.test("decode() and decodeBody() take protocolVersion 4 or 5 only", {
  permissions: "none",
}, () => {
  const bytes = new Uint8Array([0xc0, 0x00]);
  for (const version of [3, 6, 0, "4"]) {
    const options = { protocolVersion: version } as unknown as DecodeOptions;
    throws(() => decode(bytes, options), RangeError);
    throws(() => decodeBody(bytes, 2, true, version as 4), RangeError);
  }
});

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
  /** The message, when the case pins it. */
  message?: string;
  /** The same packet with the rule respected: must encode. */
  ok?: unknown;
}

function assertEncodeRejects(c: EncodeCase): void {
  const p = c.packet as Packet;
  const options = { ...V311, ...c.options };
  const e = caught(() => encode(p, options));
  const cls = c.error ?? EncodeError;
  assert(e instanceof cls, `expected ${cls.name}, got ${e}`);
  if (cls === EncodeError) {
    assert(e instanceof EncodeError);
    equal(e.reasonCode, c.reasonCode, e.message);
    equal(e.statement, c.statement, e.message);
    equal(e.recoverable, true);
    // Every refusal says what and which version.
    match(e.message, /^Cannot encode .+ for MQTT 3\.1\.1: /);
    if (c.statement) assert(e.message.endsWith(` [${c.statement}]`), e.message);
  } else {
    assert(!(e instanceof EncodeError), `expected a plain ${cls.name}, got ${e}`);
  }
  if (c.message !== undefined) equal((e as Error).message, c.message);
  // encodedLength, encodeInto and encodeIntoIfFits refuse the same way and write nothing.
  equal((caught(() => encodedLength(p, options)) as Error).message, (e as Error).message);
  const target = new Uint8Array(64).fill(0xee);
  equal((caught(() => encodeInto(p, target, 0, options)) as Error).message, (e as Error).message);
  equal(
    (caught(() => encodeIntoIfFits(p, target, 0, options)) as Error).message,
    (e as Error).message,
  );
  assert(target.every((b) => b === 0xee), "encodeInto wrote bytes before refusing");
  // encodePublishHead refuses a PUBLISH with the very same error.
  if (p?.type === 3) {
    const head = caught(() => encodePublishHead(p as Publish, options)) as Error;
    equal(head.constructor, (e as Error).constructor);
    equal(head.message, (e as Error).message);
  }
  if (c.ok !== undefined) encode(c.ok as Packet, options);
}

async function encodeCases(t: Deno.TestContext, cases: EncodeCase[]): Promise<void> {
  for (const c of cases) await t.step(c.name, () => assertEncodeRejects(c));
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
const conn = (extra: Record<string, unknown>) => ({
  type: 1,
  clientId: "c",
  cleanStart: true,
  ...extra,
});

Deno.test("encode() refuses what MQTT 3.1.1 cannot carry: properties, reason codes, AUTH", {
  permissions: "none",
}, async (t) => {
  const withProperties: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["CONNECT", conn({}), { sessionExpiryInterval: 10 }],
    ["CONNACK", { type: 2, sessionPresent: false, reasonCode: 0 }, { receiveMaximum: 5 }],
    ["PUBLISH", pub({}), { messageExpiryInterval: 60 }],
    ["PUBLISH", pub({}), {}],
    ["PUBACK", { type: 4, packetId: 1 }, { reasonString: "r" }],
    ["PUBREC", { type: 5, packetId: 1 }, { reasonString: "r" }],
    ["PUBREL", { type: 6, packetId: 1 }, { userProperties: [["k", "v"]] }],
    ["PUBCOMP", { type: 7, packetId: 1 }, { reasonString: "r" }],
    ["SUBSCRIBE", sub("a", { qos: 1 }), { subscriptionIdentifiers: [1] }],
    ["SUBACK", { type: 9, packetId: 1, reasonCodes: [0] }, { reasonString: "r" }],
    ["UNSUBSCRIBE", { type: 10, packetId: 1, filters: ["a"] }, { userProperties: [] }],
    ["UNSUBACK", { type: 11, packetId: 1, reasonCodes: [] }, { reasonString: "r" }],
    ["DISCONNECT", { type: 14 }, { sessionExpiryInterval: 0 }],
  ];
  await encodeCases(t, [
    ...withProperties.map(([name, packet, properties]): EncodeCase => ({
      name: `${name} with properties ${JSON.stringify(properties)}`,
      packet: { ...packet, properties },
      reasonCode: 0x81,
      message: `Cannot encode ${name} for MQTT 3.1.1: properties are MQTT 5.0 only`,
      ok: packet,
    })),
    {
      name: "a Will with properties",
      packet: conn({ will: { topic: "w", payload: u8(), properties: { willDelayInterval: 5 } } }),
      reasonCode: 0x81,
      ok: conn({ will: { topic: "w", payload: u8() } }),
    },
    ...([[4, 0x10], [5, 0x80], [6, 0x92], [7, 0x92]] as const).map((
      [type, code],
    ): EncodeCase => ({
      name: `${["PUBACK", "PUBREC", "PUBREL", "PUBCOMP"][type - 4]} with reason code ${code}`,
      packet: { type, packetId: 1, reasonCode: code },
      reasonCode: 0x81,
      ok: { type, packetId: 1, reasonCode: 0 },
    })),
    {
      name: "DISCONNECT with reason code 0x04 (Disconnect with Will Message)",
      packet: { type: 14, reasonCode: 4 },
      reasonCode: 0x81,
      ok: { type: 14, reasonCode: 0 },
    },
    {
      name: "UNSUBACK with reason codes",
      packet: { type: 11, packetId: 1, reasonCodes: [0] },
      reasonCode: 0x81,
      ok: { type: 11, packetId: 1, reasonCodes: [] },
    },
    ...(["noLocal", "retainAsPublished"] as const).map((option): EncodeCase => ({
      name: `SUBSCRIBE with ${option}`,
      packet: sub("a", { [option]: true }),
      reasonCode: 0x81,
      ok: sub("a", { [option]: false }),
    })),
    ...[1, 2].map((retainHandling): EncodeCase => ({
      name: `SUBSCRIBE with retainHandling ${retainHandling}`,
      packet: sub("a", { retainHandling }),
      reasonCode: 0x81,
      ok: sub("a", { retainHandling: 0 }),
    })),
    {
      name: "AUTH",
      packet: { type: 15 },
      reasonCode: 0x81,
      message: "Cannot encode AUTH for MQTT 3.1.1: AUTH is MQTT 5.0 only",
    },
  ]);
});

Deno.test("encode() refuses MQTT 3.1.1 CONNECT rules", { permissions: "none" }, async (t) => {
  await encodeCases(t, [
    {
      name: "protocolVersion 5 on a CONNECT encoded for 3.1.1: 0x84",
      packet: conn({ protocolVersion: 5 }),
      reasonCode: 0x84,
      ok: conn({ protocolVersion: 4 }),
    },
    {
      name: "a Password without a User Name [v3.1.1 MQTT-3.1.2-22]",
      packet: conn({ password: u8(1) }),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-22",
      ok: conn({ password: u8(1), username: "u" }),
    },
    {
      name: "a zero-length Client Identifier with cleanStart false [v3.1.1 MQTT-3.1.3-7]",
      packet: conn({ clientId: "", cleanStart: false }),
      reasonCode: 0x85,
      statement: V + "MQTT-3.1.3-7",
      ok: conn({ clientId: "", cleanStart: true }),
    },
    {
      name: "a zero-length Client Identifier with cleanStart left out [v3.1.1 MQTT-3.1.3-7]",
      packet: { type: 1, clientId: "" },
      reasonCode: 0x85,
      statement: V + "MQTT-3.1.3-7",
      ok: { type: 1, clientId: "c" },
    },
    {
      name: "Will QoS 3 [v3.1.1 MQTT-3.1.2-14]",
      packet: conn({ will: { topic: "w", payload: u8(), qos: 3 } }),
      reasonCode: 0x81,
      statement: V + "MQTT-3.1.2-14",
      ok: conn({ will: { topic: "w", payload: u8(), qos: 2 } }),
    },
    ...["w/#", "+", "a/b+"].map((topic): EncodeCase => ({
      name: `Will Topic ${JSON.stringify(topic)} [v3.1.1 MQTT-4.7.1-1]`,
      packet: conn({ will: { topic, payload: u8() } }),
      reasonCode: 0x82,
      statement: V + "MQTT-4.7.1-1",
      ok: conn({ will: { topic: "w/x", payload: u8() } }),
    })),
    {
      name: "empty Will Topic [v3.1.1 MQTT-4.7.3-1]",
      packet: conn({ will: { topic: "", payload: u8() } }),
      reasonCode: 0x82,
      statement: V + "MQTT-4.7.3-1",
      ok: conn({ will: { topic: "w", payload: u8() } }),
    },
    {
      name: "U+0000 in a Client Identifier [v3.1.1 MQTT-1.5.3-2] [v3.1.1 MQTT-3.1.3-4]",
      packet: conn({ clientId: "c\u0000" }),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-2",
      ok: conn({ clientId: "c0" }),
    },
    {
      name: "a lone surrogate in a User Name [v3.1.1 MQTT-1.5.3-1] [v3.1.1 MQTT-3.1.3-11]",
      packet: conn({ username: "u\ud800" }),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-1",
      ok: conn({ username: "u\u{10000}" }),
    },
    {
      name: "a lone surrogate in a Will Topic [v3.1.1 MQTT-1.5.3-1] [v3.1.1 MQTT-3.1.3-10]",
      packet: conn({ will: { topic: "\udc00", payload: u8() } }),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-1",
    },
    {
      name: "a control character in a Client Identifier when strict (1.5.3)",
      packet: conn({ clientId: "c\u0001" }),
      reasonCode: 0x81,
    },
    {
      name: "Keep Alive above 65535",
      packet: conn({ keepAlive: 65_536 }),
      error: RangeError,
      ok: conn({ keepAlive: 65_535 }),
    },
  ]);
  await t.step("the 5.0 encoder refuses protocolVersion 4 with 0x84, naming the option", () => {
    const e = caught(() => encode(conn({ protocolVersion: 4 }) as Packet));
    assert(e instanceof EncodeError);
    equal(e.reasonCode, 0x84);
    match(e.message, /protocolVersion: 4/);
  });
  await t.step("strict: false writes the control character", () => {
    encode(conn({ clientId: "c\u0001" }) as Packet, { ...V311, strict: false });
  });
});

Deno.test("encode() refuses MQTT 3.1.1 CONNACK rules", { permissions: "none" }, async (t) => {
  await encodeCases(t, [
    ...[6, 0x80, 0x87, -1, 1.5].map((code): EncodeCase => ({
      name: `return code ${code}: only 0 to 5 exist [v3.1.1 MQTT-3.2.2-6]`,
      packet: { type: 2, sessionPresent: false, reasonCode: code },
      reasonCode: 0x81,
      statement: V + "MQTT-3.2.2-6",
      ok: { type: 2, sessionPresent: false, reasonCode: 5 },
    })),
    ...[1, 5].map((code): EncodeCase => ({
      name: `Session Present with return code ${code} [v3.1.1 MQTT-3.2.2-4]`,
      packet: { type: 2, sessionPresent: true, reasonCode: code },
      reasonCode: 0x81,
      statement: V + "MQTT-3.2.2-4",
      ok: { type: 2, sessionPresent: true, reasonCode: 0 },
    })),
  ]);
});

Deno.test("encode() refuses MQTT 3.1.1 PUBLISH rules", { permissions: "none" }, async (t) => {
  await encodeCases(t, [
    {
      name: "QoS 3 [v3.1.1 MQTT-3.3.1-4]",
      packet: pub({ qos: 3, packetId: 1 }),
      reasonCode: 0x81,
      statement: V + "MQTT-3.3.1-4",
      ok: pub({ qos: 2, packetId: 1 }),
    },
    {
      name: "DUP at QoS 0 [v3.1.1 MQTT-3.3.1-2]",
      packet: pub({ dup: true }),
      reasonCode: 0x82,
      statement: V + "MQTT-3.3.1-2",
      ok: pub({ dup: true, qos: 1, packetId: 1 }),
    },
    {
      name: "a Packet Identifier at QoS 0 [v3.1.1 MQTT-2.3.1-5]",
      packet: pub({ packetId: 1 }),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-5",
      ok: pub({}),
    },
    ...[undefined, 0, 65_536, 1.5].map((packetId): EncodeCase => ({
      name: `QoS 1 with Packet Identifier ${packetId} [v3.1.1 MQTT-2.3.1-1]`,
      packet: pub({ qos: 1, ...(packetId === undefined ? {} : { packetId }) }),
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-1",
      ok: pub({ qos: 1, packetId: 65_535 }),
    })),
    ...["a/+", "+", "#", "a/#", "sport/tennis#"].map((topic): EncodeCase => ({
      name: `Topic Name ${JSON.stringify(topic)}: no wildcards ` +
        "[v3.1.1 MQTT-3.3.2-2] [v3.1.1 MQTT-4.7.1-1]",
      packet: pub({ topic }),
      reasonCode: 0x82,
      statement: V + "MQTT-3.3.2-2",
      ok: pub({ topic: "a/b" }),
    })),
    {
      name: "empty Topic Name [v3.1.1 MQTT-4.7.3-1]",
      packet: pub({ topic: "" }),
      reasonCode: 0x82,
      statement: V + "MQTT-4.7.3-1",
      ok: pub({ topic: "/" }),
    },
    {
      name: "U+0000 in a Topic Name [v3.1.1 MQTT-4.7.3-2] [v3.1.1 MQTT-1.5.3-2]",
      packet: pub({ topic: "a\u0000b" }),
      reasonCode: 0x81,
      statement: V + "MQTT-1.5.3-2",
      ok: pub({ topic: "a0b" }),
    },
    {
      name: "a Topic Name of 65,536 bytes [v3.1.1 MQTT-4.7.3-3]",
      packet: pub({ topic: "a".repeat(65_536) }),
      reasonCode: 0x81,
      statement: V + "MQTT-4.7.3-3",
      ok: pub({ topic: "a".repeat(65_535) }),
    },
    {
      name: "properties, with the message of the refusal",
      packet: pub({ properties: { contentType: "text/plain" } }),
      reasonCode: 0x81,
      message: "Cannot encode PUBLISH for MQTT 3.1.1: properties are MQTT 5.0 only",
    },
    { name: "a payload that is no Uint8Array", packet: pub({ payload: "x" }), error: TypeError },
    {
      name: "over maximumPacketSize: 0x95, no statement (3.1.1 has no Maximum Packet Size)",
      packet: pub({ payload: u8(1, 2, 3, 4) }),
      options: { maximumPacketSize: 8 },
      reasonCode: 0x95,
      message: "Cannot encode PUBLISH for MQTT 3.1.1: it is 9 bytes, more than the " +
        "receiver's Maximum Packet Size of 8; send a smaller packet",
      ok: pub({ payload: u8(1, 2, 3) }),
    },
  ]);
});

Deno.test("encode() refuses MQTT 3.1.1 SUBSCRIBE, SUBACK, UNSUBSCRIBE and ack rules", {
  permissions: "none",
}, async (t) => {
  // As on the decode side: [v3.1.1 MQTT-4.7.1-2], [v3.1.1 MQTT-4.7.1-3], [v3.1.1 MQTT-4.7.3-1].
  const badFilters: [string, string][] = [
    ["a/b#", "MQTT-4.7.1-2"],
    ["#/a", "MQTT-4.7.1-2"],
    ["a+", "MQTT-4.7.1-3"],
    ["a/+b", "MQTT-4.7.1-3"],
    ["$share/+x", "MQTT-4.7.1-3"],
    ["", "MQTT-4.7.3-1"],
  ];
  await encodeCases(t, [
    {
      name: "SUBSCRIBE without a subscription [v3.1.1 MQTT-3.8.3-3]",
      packet: { type: 8, packetId: 1, subscriptions: [] },
      reasonCode: 0x82,
      statement: V + "MQTT-3.8.3-3",
      ok: sub("a"),
    },
    {
      name: "SUBSCRIBE with Requested QoS 3 [v3.1.1 MQTT-3.8.3-4] (printed as MQTT-3-8.3-4)",
      packet: sub("a", { qos: 3 }),
      reasonCode: 0x81,
      statement: V + "MQTT-3.8.3-4",
      ok: sub("a", { qos: 2 }),
    },
    ...badFilters.map(([filter, statement]): EncodeCase => ({
      name: `SUBSCRIBE Topic Filter ${JSON.stringify(filter)} [${V}${statement}]`,
      packet: sub(filter),
      reasonCode: 0x82,
      statement: V + statement,
      ok: sub("a/#"),
    })),
    ...badFilters.map(([filter, statement]): EncodeCase => ({
      name: `UNSUBSCRIBE Topic Filter ${JSON.stringify(filter)} [${V}${statement}]`,
      packet: { type: 10, packetId: 1, filters: ["a", filter] },
      reasonCode: 0x82,
      statement: V + statement,
      ok: { type: 10, packetId: 1, filters: ["a", "+/+"] },
    })),
    {
      name: "UNSUBSCRIBE without a Topic Filter [v3.1.1 MQTT-3.10.3-2]",
      packet: { type: 10, packetId: 1, filters: [] },
      reasonCode: 0x82,
      statement: V + "MQTT-3.10.3-2",
      ok: { type: 10, packetId: 1, filters: ["#"] },
    },
    ...([[8, sub("a")], [10, { type: 10, packetId: 1, filters: ["a"] }]] as const).map((
      [type, p],
    ): EncodeCase => ({
      name: `${type === 8 ? "SUBSCRIBE" : "UNSUBSCRIBE"} with Packet Identifier 0 ` +
        "[v3.1.1 MQTT-2.3.1-1]",
      packet: { ...p, packetId: 0 },
      reasonCode: 0x82,
      statement: V + "MQTT-2.3.1-1",
      ok: p,
    })),
    ...[3, 0x83, 0x11, 0x8f].map((code): EncodeCase => ({
      name: `SUBACK return code 0x${code.toString(16)} [v3.1.1 MQTT-3.9.3-2]`,
      packet: { type: 9, packetId: 1, reasonCodes: [0, code] },
      reasonCode: 0x81,
      statement: V + "MQTT-3.9.3-2",
      ok: { type: 9, packetId: 1, reasonCodes: [0, 0x80] },
    })),
    {
      name: "SUBACK without a return code",
      packet: { type: 9, packetId: 1, reasonCodes: [] },
      reasonCode: 0x82,
      ok: { type: 9, packetId: 1, reasonCodes: [1] },
    },
    ...([[4, "MQTT-2.3.1-6"], [5, "MQTT-2.3.1-6"], [6, "MQTT-2.3.1-6"], [9, "MQTT-2.3.1-7"], [
      11,
      "MQTT-2.3.1-7",
    ]] as const).map(([type, statement]): EncodeCase => ({
      name: `type ${type} with Packet Identifier 0 [${V}${statement}]`,
      packet: { type, packetId: 0, reasonCodes: type === 9 ? [0] : [] },
      reasonCode: 0x82,
      statement: V + statement,
      ok: { type, packetId: 1, reasonCodes: type === 9 ? [0] : [] },
    })),
  ]);
});

Deno.test("encode() and its siblings take protocolVersion 4 or 5 only", {
  permissions: "none",
}, () => {
  const p: Publish = { type: 3, topic: "a", payload: u8(), qos: 0 };
  for (const version of [3, 6, 0, "4"]) {
    const options = { protocolVersion: version } as unknown as EncodeOptions;
    throws(() => encode(p, options), RangeError);
    throws(() => encodedLength(p, options), RangeError);
    throws(() => encodeInto(p, new Uint8Array(16), 0, options), RangeError);
    throws(() => encodeIntoIfFits(p, new Uint8Array(16), 0, options), RangeError);
    throws(() => encodePublishHead(p, options), RangeError);
  }
});
