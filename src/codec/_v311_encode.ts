// The encoder of MQTT 3.1.1: measure311 checks a packet against the rules of 3.1.1 and measures
// it, write311 writes it; encode.ts calls them instead of its own when `protocolVersion` is 4.

import { PacketType, packetTypeName } from "./constants.ts";
import { EncodeError } from "./errors.ts";
import type { Connect, Packet, Publish, Subscribe } from "./packets.ts";
import {
  checkedBinaryLength,
  checkedUtf8Length,
  checkInteger,
  writeConnectHeader,
  type Writer,
} from "./_io.ts";
import { filterProblem, nameProblem, packetIdStatements, V } from "./_v311.ts";

function refuse(type: number, message: string, reasonCode = 0x82, statement?: string): never {
  throw new EncodeError(
    `Cannot encode ${packetTypeName[type as PacketType] ?? "packet"} for MQTT 3.1.1: ${message}`,
    reasonCode,
    statement,
  );
}

/** Refuses the 5.0-only fields of an ack or DISCONNECT: properties and a non-zero reason code. */
function checkNo5Fields(p: { type: number; properties?: unknown; reasonCode?: number }): void {
  if (p.properties !== undefined) refuse(p.type, "properties are MQTT 5.0 only", 0x81);
  if (p.reasonCode !== undefined && p.reasonCode !== 0) {
    refuse(p.type, `reason code ${p.reasonCode} is MQTT 5.0 only`, 0x81);
  }
}

function checkPacketId(type: number, id: number | undefined): void {
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) {
    refuse(
      type,
      `a Packet Identifier from 1 to 65535 is required, got ${id}`,
      0x82,
      packetIdStatements[type],
    );
  }
}

function measureConnect(p: Connect, strict: boolean): number {
  if (p.protocolVersion !== undefined && p.protocolVersion !== 4) {
    refuse(1, `its protocolVersion is ${p.protocolVersion}, not 4`, 0x84);
  }
  if (p.properties !== undefined) refuse(1, "properties are MQTT 5.0 only", 0x81);
  checkInteger(p.keepAlive ?? 0, 0xffff, "Keep Alive");
  const idLength = checkedUtf8Length(p.clientId, "Client Identifier", strict, 4);
  if (idLength === 0 && !p.cleanStart) {
    refuse(
      1,
      "a zero-length Client Identifier needs cleanStart: true (Clean Session 1)",
      0x85,
      V + "MQTT-3.1.3-7",
    );
  }
  let size = 12 + idLength;
  const will = p.will;
  if (will !== undefined) {
    const qos = will.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      refuse(1, `Will QoS must be 0, 1 or 2, got ${qos}`, 0x81, V + "MQTT-3.1.2-14");
    }
    if (will.properties !== undefined) refuse(1, "will properties are MQTT 5.0 only", 0x81);
    const problem = nameProblem(will.topic, V + "MQTT-4.7.1-1");
    if (problem) {
      refuse(
        1,
        `Will Topic ${JSON.stringify(will.topic)}: ${problem.reason}`,
        0x82,
        problem.statement,
      );
    }
    size += 2 + checkedUtf8Length(will.topic, "Will Topic", strict, 4);
    size += 2 + checkedBinaryLength(will.payload, "Will Message");
  }
  if (p.username !== undefined) size += 2 + checkedUtf8Length(p.username, "User Name", strict, 4);
  if (p.password !== undefined) {
    if (p.username === undefined) {
      refuse(1, "a Password needs a User Name", 0x81, V + "MQTT-3.1.2-22");
    }
    size += 2 + checkedBinaryLength(p.password, "Password");
  }
  return size;
}

function measurePublish(p: Publish, strict: boolean): number {
  const qos = p.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    refuse(3, `QoS must be 0, 1 or 2, got ${qos}`, 0x81, V + "MQTT-3.3.1-4");
  }
  if (qos === 0) {
    if (p.dup) refuse(3, "DUP must be 0 on a QoS 0 PUBLISH", 0x82, V + "MQTT-3.3.1-2");
    if (p.packetId !== undefined) {
      refuse(3, "a QoS 0 PUBLISH carries no Packet Identifier", 0x82, V + "MQTT-2.3.1-5");
    }
  } else {
    checkPacketId(3, p.packetId);
  }
  if (p.properties !== undefined) refuse(3, "properties are MQTT 5.0 only", 0x81);
  const problem = nameProblem(p.topic, V + "MQTT-3.3.2-2");
  if (problem) {
    refuse(3, `Topic Name ${JSON.stringify(p.topic)}: ${problem.reason}`, 0x82, problem.statement);
  }
  if (!(p.payload instanceof Uint8Array)) {
    throw new TypeError("PUBLISH payload must be a Uint8Array");
  }
  return 2 + checkedUtf8Length(p.topic, "Topic Name", strict, 4) + (qos > 0 ? 2 : 0) +
    p.payload.length;
}

function measureFilter(type: number, filter: string, strict: boolean): number {
  const problem = filterProblem(filter);
  if (problem) {
    refuse(
      type,
      `Topic Filter ${JSON.stringify(filter)}: ${problem.reason}`,
      0x82,
      problem.statement,
    );
  }
  return 2 + checkedUtf8Length(filter, "Topic Filter", strict, 4);
}

function refuseOption(filter: string, option: string): never {
  refuse(8, `${option} (on ${JSON.stringify(filter)}) is MQTT 5.0 only`, 0x81);
}

function measureSubscribe(p: Subscribe, strict: boolean): number {
  checkPacketId(8, p.packetId);
  if (p.properties !== undefined) refuse(8, "properties are MQTT 5.0 only", 0x81);
  const subs = p.subscriptions;
  if (!Array.isArray(subs) || subs.length === 0) {
    refuse(8, "it needs at least one Topic Filter", 0x82, V + "MQTT-3.8.3-3");
  }
  let size = 2;
  for (const s of subs) {
    const qos = s.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      refuse(
        8,
        `Requested QoS of ${JSON.stringify(s.filter)} must be 0, 1 or 2, got ${qos}`,
        0x81,
        V + "MQTT-3.8.3-4",
      );
    }
    if (s.noLocal) refuseOption(s.filter, "No Local");
    if (s.retainAsPublished) refuseOption(s.filter, "Retain As Published");
    if (s.retainHandling) refuseOption(s.filter, "Retain Handling");
    size += 1 + measureFilter(8, s.filter, strict);
  }
  return size;
}

/** The Remaining Length of a 3.1.1 packet, after checking it. */
export function measure311(p: Packet, strict: boolean): number {
  switch (p.type) {
    case PacketType.Connect:
      return measureConnect(p, strict);
    case PacketType.Connack: {
      if (p.properties !== undefined) refuse(2, "properties are MQTT 5.0 only", 0x81);
      const code = p.reasonCode;
      if (!Number.isInteger(code) || code < 0 || code > 5) {
        refuse(
          2,
          `return code ${code} is not a Connect Return Code (0 to 5; the reason codes of 5.0 ` +
            "do not exist in 3.1.1)",
          0x81,
          V + "MQTT-3.2.2-6",
        );
      }
      if (p.sessionPresent && code !== 0) {
        refuse(
          2,
          "Session Present must be 0 with a non-zero return code",
          0x81,
          V + "MQTT-3.2.2-4",
        );
      }
      return 2;
    }
    case PacketType.Publish:
      return measurePublish(p, strict);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      checkPacketId(p.type, p.packetId);
      checkNo5Fields(p);
      return 2;
    case PacketType.Subscribe:
      return measureSubscribe(p, strict);
    case PacketType.Suback: {
      checkPacketId(9, p.packetId);
      if (p.properties !== undefined) refuse(9, "properties are MQTT 5.0 only", 0x81);
      if (!Array.isArray(p.reasonCodes) || p.reasonCodes.length === 0) {
        refuse(9, "it needs at least one return code", 0x82);
      }
      for (const code of p.reasonCodes) {
        if (code !== 0 && code !== 1 && code !== 2 && code !== 0x80) {
          refuse(
            9,
            `return code ${code} is not 0x00, 0x01, 0x02 or 0x80`,
            0x81,
            V + "MQTT-3.9.3-2",
          );
        }
      }
      return 2 + p.reasonCodes.length;
    }
    case PacketType.Unsubscribe: {
      checkPacketId(10, p.packetId);
      if (p.properties !== undefined) refuse(10, "properties are MQTT 5.0 only", 0x81);
      if (!Array.isArray(p.filters) || p.filters.length === 0) {
        refuse(10, "it needs at least one Topic Filter", 0x82, V + "MQTT-3.10.3-2");
      }
      let size = 2;
      for (const f of p.filters) size += measureFilter(10, f, strict);
      return size;
    }
    case PacketType.Unsuback:
      checkPacketId(11, p.packetId);
      if (p.properties !== undefined) refuse(11, "properties are MQTT 5.0 only", 0x81);
      if (!Array.isArray(p.reasonCodes) || p.reasonCodes.length > 0) {
        refuse(11, "reason codes are MQTT 5.0 only; give reasonCodes: []", 0x81);
      }
      return 2;
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return 0;
    case PacketType.Disconnect:
      checkNo5Fields(p);
      return 0;
    case PacketType.Auth:
      return refuse(15, "AUTH is MQTT 5.0 only", 0x81);
    default:
      throw new TypeError(`Unknown packet type ${(p as { type: unknown }).type}`);
  }
}

/** Writes a 3.1.1 PUBLISH up to its payload; `rem` counts the payload. */
export function writePublishHead311(w: Writer, p: Publish, rem: number): void {
  w.u8(0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0));
  w.vbi(rem);
  w.utf8(p.topic);
  if (p.qos > 0) w.u16(p.packetId!);
}

function writeConnect(w: Writer, p: Connect): void {
  writeConnectHeader(w, p, 4);
  const will = p.will;
  w.utf8(p.clientId);
  if (will !== undefined) {
    w.utf8(will.topic);
    w.binary(will.payload);
  }
  if (p.username !== undefined) w.utf8(p.username);
  if (p.password !== undefined) w.binary(p.password);
}

/** Writes a 3.1.1 packet measured by {@linkcode measure311} as `rem` bytes after its header. */
export function write311(w: Writer, p: Packet, rem: number): void {
  if (p.type === PacketType.Publish) {
    writePublishHead311(w, p, rem);
    w.bytes(p.payload);
    return;
  }
  const type = p.type;
  w.u8((type << 4) | (type === 6 || type === 8 || type === 10 ? 2 : 0));
  w.vbi(rem);
  switch (p.type) {
    case PacketType.Connect:
      return writeConnect(w, p);
    case PacketType.Connack:
      w.u8(p.sessionPresent ? 1 : 0);
      w.u8(p.reasonCode);
      return;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
    case PacketType.Unsuback:
      w.u16(p.packetId);
      return;
    case PacketType.Subscribe:
      w.u16(p.packetId);
      for (const s of p.subscriptions) {
        w.utf8(s.filter);
        w.u8(s.qos ?? 0);
      }
      return;
    case PacketType.Suback:
      w.u16(p.packetId);
      for (const code of p.reasonCodes) w.u8(code);
      return;
    case PacketType.Unsubscribe:
      w.u16(p.packetId);
      for (const f of p.filters) w.utf8(f);
      return;
  }
}
