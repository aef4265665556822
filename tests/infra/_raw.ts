// MQTT 5.0 packets written by hand, so that the tests of the test fixtures depend on nothing in
// src/: just the few packets they send, and a reader of CONNACK properties.

const encoder = new TextEncoder();

/** A Variable Byte Integer (1.5.5). */
export function vbi(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return bytes;
}

/** A UTF-8 Encoded String or Binary Data: 2-byte length, then the bytes (1.5.4, 1.5.6). */
export function str(value: string | Uint8Array): number[] {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** A whole packet: the fixed-header byte, the Remaining Length, the rest. */
export function packet(header: number, rest: number[]): Uint8Array {
  return new Uint8Array([header, ...vbi(rest.length), ...rest]);
}

/** CONNECT (3.1): protocol level 5, keep alive 60, no will. */
export function connect(options: {
  clientId: string;
  username?: string;
  password?: string;
  cleanStart?: boolean;
  sessionExpiryInterval?: number;
}): Uint8Array {
  const flags = (options.username !== undefined ? 0x80 : 0) |
    (options.password !== undefined ? 0x40 : 0) |
    (options.cleanStart ?? true ? 0x02 : 0);
  const expiry = options.sessionExpiryInterval;
  const properties = expiry === undefined
    ? []
    : [0x11, expiry >>> 24, (expiry >>> 16) & 0xff, (expiry >>> 8) & 0xff, expiry & 0xff];
  return packet(0x10, [
    ...str("MQTT"),
    5,
    flags,
    0,
    60,
    ...vbi(properties.length),
    ...properties,
    ...str(options.clientId),
    ...(options.username !== undefined ? str(options.username) : []),
    ...(options.password !== undefined ? str(options.password) : []),
  ]);
}

/** SUBSCRIBE (3.8) of one filter at a maximum QoS. */
export function subscribe(packetId: number, filter: string, qos: 0 | 1 | 2): Uint8Array {
  return packet(0x82, [packetId >> 8, packetId & 0xff, 0, ...str(filter), qos]);
}

/** PUBLISH (3.3) at QoS 0, or at QoS 1 with a packet id. */
export function publish(
  topic: string,
  payload: string,
  options: { packetId?: number; retain?: boolean } = {},
): Uint8Array {
  const { packetId } = options;
  const header = 0x30 | (packetId !== undefined ? 0x02 : 0) | (options.retain ? 0x01 : 0);
  return packet(header, [
    ...str(topic),
    ...(packetId !== undefined ? [packetId >> 8, packetId & 0xff] : []),
    0,
    ...encoder.encode(payload),
  ]);
}

/** PINGREQ (3.12). */
export const pingreq: Uint8Array = new Uint8Array([0xc0, 0x00]);
/** PINGRESP (3.13). */
export const pingresp: Uint8Array = new Uint8Array([0xd0, 0x00]);
/** DISCONNECT (3.14) with reason 0x00 and no properties, in its shortest form. */
export const disconnect: Uint8Array = new Uint8Array([0xe0, 0x00]);

/** The parts of a CONNACK (3.2) the tests look at. */
export interface Connack {
  sessionPresent: boolean;
  reasonCode: number;
  /** Numeric properties by identifier, e.g. 0x21 Receive Maximum. */
  properties: Map<number, number>;
}

const BYTE_PROPERTIES = new Set([0x24, 0x25, 0x28, 0x29, 0x2a]);
const TWO_BYTE_PROPERTIES = new Set([0x13, 0x21, 0x22]);
const FOUR_BYTE_PROPERTIES = new Set([0x11, 0x27]);
const STRING_PROPERTIES = new Set([0x12, 0x15, 0x16, 0x1a, 0x1c, 0x1f]);

/** Reads a CONNACK packet (whole, fixed header included); string properties are skipped. */
export function readConnack(bytes: Uint8Array): Connack {
  if (bytes[0] !== 0x20) throw new Error(`Not a CONNACK: first byte ${bytes[0]}`);
  let at = 2; // Remaining Length is 1 byte for every CONNACK here.
  const byte = () => {
    const value = bytes[at++];
    if (value === undefined) throw new Error("CONNACK too short");
    return value;
  };
  const sessionPresent = (byte() & 1) === 1;
  const reasonCode = byte();
  const properties = new Map<number, number>();
  const propertyLength = byte(); // 1 byte here too.
  const end = at + propertyLength;
  while (at < end) {
    const id = byte();
    if (BYTE_PROPERTIES.has(id)) properties.set(id, byte());
    else if (TWO_BYTE_PROPERTIES.has(id)) properties.set(id, byte() * 256 + byte());
    else if (FOUR_BYTE_PROPERTIES.has(id)) {
      properties.set(id, ((byte() * 256 + byte()) * 256 + byte()) * 256 + byte());
    } else if (STRING_PROPERTIES.has(id)) at += byte() * 256 + byte();
    else throw new Error(`Unexpected CONNACK property 0x${id.toString(16)}`);
  }
  return { sessionPresent, reasonCode, properties };
}
