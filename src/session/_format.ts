/**
 * One-line, human-readable forms of packets for the client's trace log (a logger made by
 * `withPacketTrace()` carries {@linkcode formatPacket} under {@linkcode packetFormatter}), e.g.
 * `PUBLISH id=3 qos=1 topic="a/b" retain=false dup=false props={messageExpiryInterval:60} payload=12B "hello world!"`.
 *
 * Pure and synchronous. Secrets never appear: a CONNECT's Password and every Authentication Data
 * show as `<redacted N bytes>`, and payloads (of PUBLISH and of the will) are cut to a short
 * prefix.
 *
 * @module
 */

import {
  describeReasonCode,
  type Packet,
  PacketType,
  packetTypeName,
  type Properties,
  type Subscription,
} from "../codec/mod.ts";

/**
 * The key under which a logger made by `withPacketTrace()` carries its packet formatter; the
 * client's trace lines show whole packets only through it, so that an application that never
 * asks for them bundles no formatter.
 */
export const packetFormatter: unique symbol = Symbol("mqtt5.packetFormatter");

/** A logger that formats packets for its trace lines. */
export interface PacketFormatting {
  /** The one-line form of a packet (secrets redacted, payloads cut). */
  [packetFormatter]?: (packet: Packet) => string;
}

/** Options of {@linkcode formatPacket}. */
export interface FormatOptions {
  /**
   * How many bytes of a payload (PUBLISH, will) or of Correlation Data are shown.
   * @default {32}
   */
  payloadPrefix?: number;
}

/** The default number of payload bytes shown. */
export const PAYLOAD_PREFIX = 32;

/** `<redacted N bytes>`: the length of a secret, never its bytes. */
export function redacted(bytes: Uint8Array): string {
  return `<redacted ${bytes.length} bytes>`;
}

/** `0x00`, or `0x87 (Not authorized)` for a non-zero code. */
function reason(code: number | undefined): string {
  return code === undefined || code === 0 ? "0x00" : describeReasonCode(code);
}

function hex(bytes: Uint8Array): string {
  let s = "0x";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * A payload as `12B "hello world!"`: its length, then at most `prefix` bytes, as a quoted string
 * when they are printable UTF-8 and as hex otherwise, with `…` when cut.
 */
export function formatPayload(payload: Uint8Array, prefix: number = PAYLOAD_PREFIX): string {
  const size = `${payload.length}B`;
  if (payload.length === 0) return size;
  let end = Math.min(payload.length, Math.max(0, prefix));
  const cut = end < payload.length;
  // Do not split a UTF-8 sequence: back off over continuation bytes (at most 3).
  if (cut) {
    let back = end;
    while (back > end - 3 && back > 0 && (payload[back]! & 0xc0) === 0x80) back--;
    if ((payload[back]! & 0xc0) !== 0x80) end = back;
  }
  const head = payload.subarray(0, end);
  const text = new TextDecoder().decode(head);
  // deno-lint-ignore no-control-regex
  const printable = !/[\u0000-\u0008\u000e-\u001f\u007f\ufffd]/.test(text);
  const shown = printable ? JSON.stringify(text) : hex(head);
  return `${size} ${shown}${cut ? "…" : ""}`;
}

function formatValue(key: string, value: unknown, prefix: number): string {
  if (value instanceof Uint8Array) {
    return key === "authenticationData" ? redacted(value) : formatPayload(value, prefix);
  }
  return JSON.stringify(value) ?? String(value);
}

/** Properties as `{messageExpiryInterval:60,contentType:"text/plain"}`, or `""` when none. */
export function formatProperties(
  properties: Partial<Properties> | undefined,
  prefix: number = PAYLOAD_PREFIX,
): string {
  if (properties === undefined) return "";
  const parts: string[] = [];
  for (const [key, value] of Object.entries(properties)) {
    if (value === undefined) continue;
    parts.push(`${key}:${formatValue(key, value, prefix)}`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function props(properties: Partial<Properties> | undefined, prefix: number): string {
  const s = formatProperties(properties, prefix);
  return s === "" ? "" : ` props=${s}`;
}

function subscription(s: Subscription): string {
  let out = `${JSON.stringify(s.filter)} qos=${s.qos ?? 0}`;
  if (s.noLocal) out += " noLocal";
  if (s.retainAsPublished) out += " retainAsPublished";
  if (s.retainHandling) out += ` retainHandling=${s.retainHandling}`;
  return out;
}

function codes(list: readonly number[]): string {
  return `[${list.map((c) => "0x" + c.toString(16).padStart(2, "0")).join(",")}]`;
}

/**
 * A packet on one line, for the trace log. Passwords and Authentication Data are redacted and
 * payloads cut to `options.payloadPrefix` bytes, so the line is safe to log.
 *
 * @example
 * ```ts
 * import { formatPacket } from "./_format.ts";
 * const line = formatPacket({ type: 4, packetId: 3 });
 * console.log(line); // PUBACK id=3 reason=0x00
 * ```
 */
export function formatPacket(packet: Packet, options: FormatOptions = {}): string {
  const prefix = options.payloadPrefix ?? PAYLOAD_PREFIX;
  switch (packet.type) {
    case PacketType.Connect: {
      let s = `CONNECT clientId=${JSON.stringify(packet.clientId)} cleanStart=${
        packet.cleanStart ?? false
      } keepAlive=${packet.keepAlive ?? 0}`;
      if (packet.username !== undefined) s += ` username=${JSON.stringify(packet.username)}`;
      if (packet.password !== undefined) s += ` password=${redacted(packet.password)}`;
      const will = packet.will;
      if (will !== undefined) {
        s += ` will={topic:${JSON.stringify(will.topic)},qos:${will.qos ?? 0},retain:${
          will.retain ?? false
        }${will.properties ? `,props:${formatProperties(will.properties, prefix)}` : ""},payload:${
          formatPayload(will.payload, prefix)
        }}`;
      }
      return s + props(packet.properties, prefix);
    }
    case PacketType.Connack:
      return `CONNACK reason=${reason(packet.reasonCode)} sessionPresent=${packet.sessionPresent}${
        props(packet.properties, prefix)
      }`;
    case PacketType.Publish:
      return `PUBLISH${
        packet.packetId !== undefined ? ` id=${packet.packetId}` : ""
      } qos=${packet.qos} topic=${JSON.stringify(packet.topic)} retain=${
        packet.retain ?? false
      } dup=${packet.dup ?? false}${props(packet.properties, prefix)} payload=${
        formatPayload(packet.payload, prefix)
      }`;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return `${packetTypeName[packet.type]} id=${packet.packetId} reason=${
        reason(packet.reasonCode)
      }${props(packet.properties, prefix)}`;
    case PacketType.Subscribe:
      return `SUBSCRIBE id=${packet.packetId} subscriptions=[${
        packet.subscriptions.map(subscription).join(", ")
      }]${props(packet.properties, prefix)}`;
    case PacketType.Suback:
    case PacketType.Unsuback:
      return `${packetTypeName[packet.type]} id=${packet.packetId} reasons=${
        codes(packet.reasonCodes)
      }${props(packet.properties, prefix)}`;
    case PacketType.Unsubscribe:
      return `UNSUBSCRIBE id=${packet.packetId} filters=${JSON.stringify(packet.filters)}${
        props(packet.properties, prefix)
      }`;
    case PacketType.Pingreq:
      return "PINGREQ";
    case PacketType.Pingresp:
      return "PINGRESP";
    case PacketType.Disconnect:
    case PacketType.Auth:
      return `${packetTypeName[packet.type]} reason=${reason(packet.reasonCode)}${
        props(packet.properties, prefix)
      }`;
  }
}
