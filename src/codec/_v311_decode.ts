// The decoder of MQTT 3.1.1: decodeBody311, which decodeBody calls when `protocolVersion` is
// not 5.

import { PacketType, packetTypeName, type QoS } from "./constants.ts";
import type { Connect, Packet, Publish, Subscription, Will } from "./packets.ts";
import { Reader } from "./_io.ts";
import { filterProblem, nameProblem, packetIdStatements, V } from "./_v311.ts";

// The statement invalid fixed-header flags break, per type (3.1.1 section 2.2.2).
const flagStatements: Partial<Record<number, string>> = {
  6: V + "MQTT-3.6.1-1",
  8: V + "MQTT-3.8.1-1",
  10: V + "MQTT-3.10.1-1",
  14: V + "MQTT-3.14.1-1",
};

/**
 * Decodes a 3.1.1 packet: what decodeBody does when `protocolVersion` is 4. A RangeError for a
 * `version` other than 4 or 5, which decodeBody hands over unchecked.
 */
export function decodeBody311(
  bytes: Uint8Array,
  headerLength: number,
  strict: boolean,
  version: number,
): Packet {
  if (version !== 4) {
    throw new RangeError(`protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), got ${version}`);
  }
  const first = bytes[0]!;
  const type = first >> 4;
  const flags = first & 0x0f;
  const r = new Reader(bytes, headerLength, bytes.length, strict, 4);
  const name = packetTypeName[type as PacketType];
  if (type === 0 || type === PacketType.Auth) {
    r.pos = 0;
    r.malformed(`Packet type ${type} is reserved${type === 15 ? " (AUTH is MQTT 5.0 only)" : ""}`);
  }
  if (type !== PacketType.Publish) {
    const expected = type === 6 || type === 8 || type === 10 ? 2 : 0;
    if (flags !== expected) {
      r.pos = 0;
      r.malformed(
        `${name} fixed header flags must be ${expected}, got ${flags}`,
        flagStatements[type] ?? V + "MQTT-2.2.2-2",
      );
    }
  }
  let packet: Packet;
  switch (type) {
    case PacketType.Connect:
      packet = decodeConnect(r);
      break;
    case PacketType.Connack: {
      const ackFlags = r.u8("Connect Acknowledge Flags");
      if (ackFlags & 0xfe) {
        r.pos--;
        r.malformed("CONNACK Acknowledge Flags bits 7-1 are reserved and must be 0");
      }
      const reasonCode = r.u8("Connect Return Code");
      if (reasonCode > 5) {
        r.pos--;
        r.malformed(`CONNACK return code ${reasonCode} is reserved`, V + "MQTT-3.2.2-6");
      }
      const sessionPresent = ackFlags === 1;
      if (sessionPresent && reasonCode !== 0) {
        r.pos -= 2;
        r.malformed("CONNACK has Session Present with a non-zero return code", V + "MQTT-3.2.2-4");
      }
      packet = { type, sessionPresent, reasonCode };
      break;
    }
    case PacketType.Publish:
      packet = decodePublish(r, flags);
      break;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      packet = { type, packetId: packetId(r, type) } as Packet;
      break;
    case PacketType.Subscribe: {
      const id = packetId(r, type);
      const subscriptions: Subscription[] = [];
      while (r.pos < r.end) {
        const filter = readFilter(r);
        const qos = r.u8("Requested QoS");
        if (qos > 2) {
          r.pos--;
          r.malformed(
            `Requested QoS byte is ${qos}: its upper 6 bits must be 0 and the QoS 0, 1 or 2`,
            V + "MQTT-3.8.3-4", // printed in the specification as [MQTT-3-8.3-4]
          );
        }
        subscriptions.push({ filter, qos: qos as QoS });
      }
      if (subscriptions.length === 0) {
        r.protocol("SUBSCRIBE has no Topic Filter", V + "MQTT-3.8.3-3");
      }
      packet = { type, packetId: id, subscriptions };
      break;
    }
    case PacketType.Suback: {
      const id = packetId(r, type);
      const reasonCodes: number[] = [];
      while (r.pos < r.end) {
        const code = r.u8("Return Code");
        if (code > 2 && code !== 0x80) {
          r.pos--;
          r.malformed(`SUBACK return code ${code} is reserved`, V + "MQTT-3.9.3-2");
        }
        reasonCodes.push(code);
      }
      if (reasonCodes.length === 0) r.protocol("SUBACK carries no return code");
      packet = { type, packetId: id, reasonCodes };
      break;
    }
    case PacketType.Unsubscribe: {
      const id = packetId(r, type);
      const filters: string[] = [];
      while (r.pos < r.end) filters.push(readFilter(r));
      if (filters.length === 0) {
        r.protocol("UNSUBSCRIBE has no Topic Filter", V + "MQTT-3.10.3-2");
      }
      packet = { type, packetId: id, filters };
      break;
    }
    case PacketType.Unsuback:
      packet = { type, packetId: packetId(r, type), reasonCodes: [] };
      break;
    default: // PINGREQ, PINGRESP, DISCONNECT: no variable header
      packet = { type } as Packet;
  }
  if (r.pos !== r.end) {
    r.malformed(
      `${name} has ${r.end - r.pos} bytes beyond its content (Remaining Length does not match; ` +
        "3.1.1 packets carry no reason code or properties)",
    );
  }
  return packet;
}

function packetId(r: Reader, type: number): number {
  const id = r.u16("Packet Identifier");
  if (id === 0) {
    r.pos -= 2;
    r.protocol(
      `${packetTypeName[type as PacketType]} has Packet Identifier 0, which is never used`,
      packetIdStatements[type],
    );
  }
  return id;
}

function readFilter(r: Reader): string {
  const at = r.pos;
  const filter = r.utf8("Topic Filter");
  const problem = filterProblem(filter);
  if (problem) {
    r.pos = at;
    r.protocol(`Topic Filter ${JSON.stringify(filter)}: ${problem.reason}`, problem.statement);
  }
  return filter;
}

function decodePublish(r: Reader, flags: number): Publish {
  const qos = (flags >> 1) & 3;
  if (qos === 3) {
    r.pos = 0;
    r.malformed("PUBLISH has QoS 3", V + "MQTT-3.3.1-4");
  }
  const dup = (flags & 8) !== 0;
  if (dup && qos === 0) {
    r.pos = 0;
    r.malformed("PUBLISH at QoS 0 has DUP set", V + "MQTT-3.3.1-2");
  }
  const at = r.pos;
  const topic = r.utf8("Topic Name");
  const problem = nameProblem(topic, V + "MQTT-3.3.2-2");
  if (problem) {
    r.pos = at;
    // As in 5.0: a wildcard is malformed, an empty Topic Name a Protocol Error.
    r.fail(
      `Topic Name ${JSON.stringify(topic)}: ${problem.reason}`,
      topic.length === 0 ? 0x82 : 0x81,
      problem.statement,
    );
  }
  const id = qos > 0 ? packetId(r, 3) : undefined;
  const p: Publish = {
    type: PacketType.Publish,
    topic,
    payload: r.buf.subarray(r.pos, r.end),
    qos: qos as QoS,
    retain: (flags & 1) !== 0,
    dup,
  };
  r.pos = r.end;
  if (id !== undefined) p.packetId = id;
  return p;
}

function decodeConnect(r: Reader): Connect {
  const namePos = r.pos;
  const name = r.utf8("Protocol Name");
  if (name !== "MQTT") {
    r.pos = namePos;
    r.malformed(`Protocol Name must be "MQTT", got ${JSON.stringify(name)}`, V + "MQTT-3.1.2-1");
  }
  const level = r.u8("Protocol Level");
  if (level !== 4) {
    r.pos--;
    r.fail(
      `Protocol Level ${level} is not 4${level === 5 ? " (it is MQTT 5.0)" : ""}`,
      0x84,
      V + "MQTT-3.1.2-2",
    );
  }
  const flags = r.u8("Connect Flags");
  const willFlag = (flags & 0x04) !== 0;
  const willQoS = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const problem = flags & 1
    ? ["Connect Flags reserved bit 0 is set", "MQTT-3.1.2-3"]
    : !willFlag && willQoS !== 0
    ? ["Will QoS is set without the Will Flag", "MQTT-3.1.2-13"]
    : !willFlag && willRetain
    ? ["Will Retain is set without the Will Flag", "MQTT-3.1.2-15"]
    : willQoS === 3
    ? ["Will QoS is 3", "MQTT-3.1.2-14"]
    : (flags & 0xc0) === 0x40
    ? ["Password Flag is set without the User Name Flag", "MQTT-3.1.2-22"]
    : undefined;
  if (problem) {
    r.pos--;
    r.malformed(problem[0]!, V + problem[1]);
  }
  const cleanStart = (flags & 2) !== 0;
  const keepAlive = r.u16("Keep Alive");
  const idPos = r.pos;
  const clientId = r.utf8("Client Identifier");
  if (clientId.length === 0 && !cleanStart) {
    r.pos = idPos;
    // The server answers CONNACK 0x02 (Identifier rejected): 0x85 is its 5.0 counterpart.
    r.fail("a zero-length Client Identifier needs Clean Session 1", 0x85, V + "MQTT-3.1.3-8");
  }
  const p: Connect = {
    type: PacketType.Connect,
    protocolVersion: 4,
    cleanStart,
    keepAlive,
    clientId,
  };
  if (willFlag) {
    const topicPos = r.pos;
    const topic = r.utf8("Will Topic");
    const bad = nameProblem(topic, V + "MQTT-4.7.1-1");
    if (bad) {
      r.pos = topicPos;
      r.protocol(`Will Topic ${JSON.stringify(topic)}: ${bad.reason}`, bad.statement);
    }
    const will: Will = {
      topic,
      payload: r.binary("Will Message"),
      qos: willQoS as QoS,
      retain: willRetain,
    };
    p.will = will;
  }
  if (flags & 0x80) p.username = r.utf8("User Name");
  if (flags & 0x40) p.password = r.binary("Password");
  return p;
}
