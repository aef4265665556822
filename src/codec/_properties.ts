// Properties (section 2.2.2): the table of which packet may carry which property, and their codec.
// Over 500 lines because the table (27 properties, each with its packets and limits) and the one
// reader and writer that walk it belong together.

import { PacketType, packetTypeName } from "./constants.ts";
import { DecodeError, EncodeError } from "./errors.ts";
import type { Properties, UserProperty } from "./packets.ts";
import {
  checkedBinaryLength,
  checkedUtf8Length,
  checkInteger,
  type Reader,
  sendableUtf8Length,
  vbiLength,
  type Writer,
} from "./_io.ts";

/** The data type of a property's value. */
const enum Kind {
  /** A Byte that must be 0 or 1. */
  Flag,
  U16,
  U32,
  Vbi,
  Utf8,
  Binary,
  Pair,
}

/** The pseudo packet type of Will Properties in the allowed masks. */
export const WILL = 0;

/** The identifier of Topic Alias, whose 0 is answered with 0x94 Topic Alias invalid (3.3.2.3.4). */
const TOPIC_ALIAS = 0x23;

interface PropertyInfo {
  id: number;
  key: keyof Properties;
  name: string;
  kind: Kind;
  /** Bit `1 << type` set for each packet type (and WILL) that may carry it. */
  mask: number;
  /** The smallest allowed value of a numeric property. */
  min: number;
  /** This property's bit in the set of properties a decoder has seen (`1 << table index`). */
  seenBit: number;
}

const bit = (...types: number[]) => types.reduce((m, t) => m | (1 << t), 0);
const P = PacketType;

/** The names of the properties whose key does not spell them (a plural, an acronym). */
const specNames: Record<string, string> = {
  subscriptionIdentifiers: "Subscription Identifier",
  maximumQoS: "Maximum QoS",
  userProperties: "User Property",
};

/** `topicAliasMaximum` as "Topic Alias Maximum". */
function words(key: string): string {
  return key[0]!.toUpperCase() + key.slice(1).replace(/[A-Z]/g, " $&");
}

/**
 * The properties (section 2.2.2.2): identifier, key in {@linkcode Properties}, data type, the
 * packets that may carry it, and its smallest value. Messages name a property by its key in words
 * (`topicAliasMaximum`: "Topic Alias Maximum"), or as {@linkcode specNames} gives it.
 */
const table: PropertyInfo[] = [
  [0x01, "payloadFormatIndicator", Kind.Flag, bit(P.Publish, WILL), 0],
  [0x02, "messageExpiryInterval", Kind.U32, bit(P.Publish, WILL), 0],
  [0x03, "contentType", Kind.Utf8, bit(P.Publish, WILL), 0],
  [0x08, "responseTopic", Kind.Utf8, bit(P.Publish, WILL), 0],
  [0x09, "correlationData", Kind.Binary, bit(P.Publish, WILL), 0],
  [0x0b, "subscriptionIdentifiers", Kind.Vbi, bit(P.Publish, P.Subscribe), 1],
  [0x11, "sessionExpiryInterval", Kind.U32, bit(P.Connect, P.Connack, P.Disconnect), 0],
  [0x12, "assignedClientIdentifier", Kind.Utf8, bit(P.Connack), 0],
  [0x13, "serverKeepAlive", Kind.U16, bit(P.Connack), 0],
  [0x15, "authenticationMethod", Kind.Utf8, bit(P.Connect, P.Connack, P.Auth), 0],
  [0x16, "authenticationData", Kind.Binary, bit(P.Connect, P.Connack, P.Auth), 0],
  [0x17, "requestProblemInformation", Kind.Flag, bit(P.Connect), 0],
  [0x18, "willDelayInterval", Kind.U32, bit(WILL), 0],
  [0x19, "requestResponseInformation", Kind.Flag, bit(P.Connect), 0],
  [0x1a, "responseInformation", Kind.Utf8, bit(P.Connack), 0],
  [0x1c, "serverReference", Kind.Utf8, bit(P.Connack, P.Disconnect), 0],
  [
    0x1f,
    "reasonString",
    Kind.Utf8,
    bit(
      P.Connack,
      P.Puback,
      P.Pubrec,
      P.Pubrel,
      P.Pubcomp,
      P.Suback,
      P.Unsuback,
      P.Disconnect,
      P.Auth,
    ),
    0,
  ],
  [0x21, "receiveMaximum", Kind.U16, bit(P.Connect, P.Connack), 1],
  [0x22, "topicAliasMaximum", Kind.U16, bit(P.Connect, P.Connack), 0],
  [0x23, "topicAlias", Kind.U16, bit(P.Publish), 1],
  [0x24, "maximumQoS", Kind.Flag, bit(P.Connack), 0],
  [0x25, "retainAvailable", Kind.Flag, bit(P.Connack), 0],
  [
    0x26,
    "userProperties",
    Kind.Pair,
    bit(
      P.Connect,
      P.Connack,
      P.Publish,
      WILL,
      P.Puback,
      P.Pubrec,
      P.Pubrel,
      P.Pubcomp,
      P.Subscribe,
      P.Suback,
      P.Unsubscribe,
      P.Unsuback,
      P.Disconnect,
      P.Auth,
    ),
    0,
  ],
  [0x27, "maximumPacketSize", Kind.U32, bit(P.Connect, P.Connack), 1],
  [0x28, "wildcardSubscriptionAvailable", Kind.Flag, bit(P.Connack), 0],
  [0x29, "subscriptionIdentifierAvailable", Kind.Flag, bit(P.Connack), 0],
  [0x2a, "sharedSubscriptionAvailable", Kind.Flag, bit(P.Connack), 0],
].map(([id, key, kind, mask, min], index) =>
  ({
    id,
    key,
    name: specNames[key as string] ?? words(key as string),
    kind,
    mask,
    min,
    seenBit: 1 << index,
  }) as PropertyInfo
);

const byId: (PropertyInfo | undefined)[] = [];
const byKey = new Map<string, PropertyInfo>();
for (const info of table) {
  byId[info.id] = info;
  byKey.set(info.key, info);
}

/** The name of the packet type (or Will) for messages. */
function where(type: number): string {
  return type === WILL ? "Will Properties" : packetTypeName[type as PacketType];
}

/** A property on a packet type, for messages: `Topic Alias on PUBLISH`. Only built to throw. */
function whatOf(info: PropertyInfo, type: number): string {
  return `${info.name} on ${where(type)}`;
}

/** The name and id of a property, for messages: `Topic Alias (0x23)`. */
function label(info: PropertyInfo): string {
  return `${info.name} (0x${info.id.toString(16).padStart(2, "0")})`;
}

function maxOf(kind: Kind): number {
  return kind === Kind.Flag
    ? 1
    : kind === Kind.U16
    ? 0xffff
    : kind === Kind.U32
    ? 0xffff_ffff
    : 268_435_455;
}

/**
 * Measures the properties of a packet of `type` (the bytes after the Property Length), checking
 * every value; throws {@linkcode EncodeError}, `TypeError` or `RangeError` for what may not be sent.
 */
export function measureProperties(
  props: Properties | undefined,
  type: number,
  strict: boolean,
): number {
  if (props === undefined) return 0;
  let size = 0;
  for (const key in props) {
    const value = (props as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const info = byKey.get(key);
    if (info === undefined) {
      throw new TypeError(`Unknown property "${key}" on ${where(type)}`);
    }
    if ((info.mask & (1 << type)) === 0) {
      throw new EncodeError(
        `Cannot send ${label(info)} on ${where(type)}: that packet may not carry it`,
        0x81,
      );
    }
    // The checks take a fast path first; the messages (`whatOf`) are only built to throw.
    switch (info.kind) {
      case Kind.Flag:
      case Kind.U16:
      case Kind.U32:
        checkNumber(info, value as number, type);
        size += 1 + (info.kind === Kind.Flag ? 1 : info.kind === Kind.U16 ? 2 : 4);
        break;
      case Kind.Vbi: {
        const ids = value as number[];
        if (!Array.isArray(ids)) {
          throw new TypeError(`${whatOf(info, type)} must be an array of numbers`);
        }
        if (type === PacketType.Subscribe && ids.length > 1) {
          throw new EncodeError(
            "Cannot send more than one Subscription Identifier on SUBSCRIBE",
            0x82,
          );
        }
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i]!;
          checkNumber(info, id, type);
          size += 1 + vbiLength(id);
        }
        break;
      }
      case Kind.Utf8: {
        const len = sendableUtf8Length(value, strict);
        size += 3 +
          (len >= 0 ? len : checkedUtf8Length(value as string, whatOf(info, type), strict));
        break;
      }
      case Kind.Binary:
        size += 3 +
          (value instanceof Uint8Array && value.length <= 65_535
            ? value.length
            : checkedBinaryLength(value as Uint8Array, whatOf(info, type)));
        break;
      case Kind.Pair: {
        const pairs = value as UserProperty[];
        if (!Array.isArray(pairs)) {
          throw new TypeError(`${whatOf(info, type)} must be an array of [name, value]`);
        }
        for (let i = 0; i < pairs.length; i++) {
          const pair = pairs[i];
          if (!Array.isArray(pair) || pair.length !== 2) {
            throw new TypeError(`${whatOf(info, type)} must be an array of [name, value] pairs`);
          }
          const name = pair[0];
          const val = pair[1];
          let n = sendableUtf8Length(name, strict);
          if (n < 0) n = checkedUtf8Length(name, `${whatOf(info, type)} name`, strict);
          let v = sendableUtf8Length(val, strict);
          if (v < 0) v = checkedUtf8Length(val, `${whatOf(info, type)} value`, strict);
          size += 5 + n + v;
        }
        break;
      }
    }
  }
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    throw new EncodeError(
      `Cannot send Authentication Data on ${where(type)} without an Authentication Method`,
      0x82,
    );
  }
  return size;
}

function checkNumber(info: PropertyInfo, value: number, type: number): void {
  if (
    typeof value === "number" && Number.isInteger(value) && value >= info.min &&
    value <= maxOf(info.kind)
  ) {
    return;
  }
  const what = whatOf(info, type);
  if (typeof value !== "number") throw new TypeError(`${what} must be a number`);
  if (value < info.min && Number.isInteger(value) && value >= 0) {
    if (info.id === TOPIC_ALIAS) {
      // What a receiver answers a Topic Alias of 0 with: 0x94 Topic Alias invalid (3.3.2.3.4).
      throw new EncodeError(
        `Cannot send ${info.name} ${value}: a Topic Alias is from 1 to the receiver's ` +
          "Topic Alias Maximum",
        0x94,
        "MQTT-3.3.2-8",
      );
    }
    throw new EncodeError(`Cannot send ${info.name} ${value}: it must not be 0`, 0x82);
  }
  checkInteger(value, maxOf(info.kind), what, info.min);
}

/** Writes properties measured by {@linkcode measureProperties}, in the order of their keys. */
export function writeProperties(w: Writer, props: Properties): void {
  for (const key in props) {
    const value = (props as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const info = byKey.get(key)!;
    switch (info.kind) {
      case Kind.Flag:
        w.u8(info.id);
        w.u8(value as number);
        break;
      case Kind.U16:
        w.u8(info.id);
        w.u16(value as number);
        break;
      case Kind.U32:
        w.u8(info.id);
        w.u32(value as number);
        break;
      case Kind.Vbi: {
        const ids = value as number[];
        for (let i = 0; i < ids.length; i++) {
          w.u8(info.id);
          w.vbi(ids[i]!);
        }
        break;
      }
      case Kind.Utf8:
        w.u8(info.id);
        w.utf8(value as string);
        break;
      case Kind.Binary:
        w.u8(info.id);
        w.binary(value as Uint8Array);
        break;
      case Kind.Pair: {
        const pairs = value as UserProperty[];
        for (let i = 0; i < pairs.length; i++) {
          const pair = pairs[i]!;
          w.u8(info.id);
          w.utf8(pair[0]);
          w.utf8(pair[1]);
        }
        break;
      }
    }
  }
}

/**
 * Reads a Property Length and the properties of a packet of `type`; `undefined` when there are
 * none. Rejects unknown or misplaced properties (0x81), duplicates and forbidden values (0x82),
 * a Topic Alias of 0 with 0x94.
 */
export function readProperties(r: Reader, type: number): Properties | undefined {
  const len = r.vbi("Property Length");
  if (len === 0) return undefined;
  const end = r.pos + len;
  if (end > r.end) r.malformed("Property Length runs past the end of the packet");
  const outerEnd = r.end;
  r.end = end;
  const props: Record<string, unknown> = {};
  let seenBits = 0;
  while (r.pos < end) {
    const idPos = r.pos;
    const id = r.u8("Property Identifier");
    const info = byId[id];
    if (info === undefined) {
      r.pos = idPos;
      r.malformed(`Unknown property identifier 0x${id.toString(16)} on ${where(type)}`);
    }
    if ((info.mask & (1 << type)) === 0) {
      r.pos = idPos;
      r.malformed(`${label(info)} is not allowed on ${where(type)}`);
    }
    const key = info.key;
    const seen = (seenBits & info.seenBit) !== 0;
    seenBits |= info.seenBit;
    if (
      seen && info.kind !== Kind.Pair && !(info.kind === Kind.Vbi && type === PacketType.Publish)
    ) {
      r.pos = idPos;
      r.protocol(`${label(info)} appears more than once on ${where(type)}`);
    }
    switch (info.kind) {
      case Kind.Flag: {
        const v = r.u8(info.name);
        if (v > 1) {
          r.pos--;
          r.protocol(`${label(info)} must be 0 or 1, got ${v}`);
        }
        props[key] = v;
        break;
      }
      case Kind.U16:
      case Kind.U32: {
        const v = info.kind === Kind.U16 ? r.u16(info.name) : r.u32(info.name);
        if (v < info.min) {
          r.pos = idPos;
          if (info.id === TOPIC_ALIAS) {
            // Answered with 0x94 Topic Alias invalid, not 0x82 (3.3.2.3.4).
            throw new DecodeError(
              `${label(info)} must not be 0`,
              0x94,
              idPos,
              "MQTT-3.3.2-8",
            );
          }
          r.protocol(`${label(info)} must not be 0`);
        }
        props[key] = v;
        break;
      }
      case Kind.Vbi: {
        const v = r.vbi(info.name);
        if (v === 0) {
          r.pos = idPos;
          r.protocol(`${label(info)} must not be 0`);
        }
        if (seen) (props[key] as number[]).push(v);
        else props[key] = [v];
        break;
      }
      case Kind.Utf8:
        props[key] = r.utf8(info.name);
        break;
      case Kind.Binary:
        props[key] = r.binary(info.name);
        break;
      case Kind.Pair: {
        const pair: UserProperty = [r.utf8("User Property name"), r.utf8("User Property value")];
        if (seen) (props[key] as UserProperty[]).push(pair);
        else props[key] = [pair];
        break;
      }
    }
  }
  r.end = outerEnd;
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    r.protocol(`Authentication Data without an Authentication Method on ${where(type)}`);
  }
  return props as Properties;
}
