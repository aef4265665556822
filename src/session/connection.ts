/**
 * Connecting: the CONNECT a client's options make, the rules a CONNACK must keep, and the AUTH
 * exchange of enhanced authentication (section 4.12), before and after CONNACK.
 *
 * @module
 */

import {
  type Auth,
  type Connack,
  type Connect,
  describeReasonCode,
  PacketType,
} from "../codec/mod.ts";
import { Violation } from "./_violation.ts";
import type { AuthEvent, ConnectOptions } from "./types.ts";

const textEncoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** A payload as bytes: a string is UTF-8 encoded. */
export function toBytes(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return EMPTY;
  if (typeof payload === "string") return textEncoder.encode(payload);
  if (payload instanceof Uint8Array) return payload;
  throw new TypeError("payload must be a Uint8Array or a string");
}

/** The CONNECT for `options`; the Client Identifier defaults to the session's. */
export function buildConnect(
  options: ConnectOptions,
  cleanStart: boolean,
  sessionClientId: string,
): Connect {
  const props: NonNullable<Connect["properties"]> = {};
  if (options.sessionExpiryInterval) props.sessionExpiryInterval = options.sessionExpiryInterval;
  if (options.receiveMaximum !== undefined && options.receiveMaximum !== 65_535) {
    props.receiveMaximum = options.receiveMaximum;
  }
  if (options.maximumPacketSize !== undefined) {
    props.maximumPacketSize = options.maximumPacketSize;
  }
  if (options.topicAliasMaximum) props.topicAliasMaximum = options.topicAliasMaximum;
  if (options.requestResponseInformation) props.requestResponseInformation = 1;
  if (options.requestProblemInformation === false) props.requestProblemInformation = 0;
  if (options.userProperties?.length) props.userProperties = options.userProperties;
  if (options.authenticationMethod !== undefined) {
    props.authenticationMethod = options.authenticationMethod;
  }
  if (options.authenticationData !== undefined) {
    props.authenticationData = options.authenticationData;
  }
  const connect: Connect = {
    type: PacketType.Connect,
    cleanStart,
    keepAlive: options.keepAlive ?? 60,
    clientId: options.clientId ?? sessionClientId,
  };
  // No properties section at all when there is nothing in it (MQTT 3.1.1 has none).
  if (Object.keys(props).length > 0) connect.properties = props;
  if (options.username !== undefined) connect.username = options.username;
  if (options.password !== undefined) connect.password = toBytes(options.password);
  if (options.will !== undefined) {
    const w = options.will;
    connect.will = {
      topic: w.topic,
      payload: toBytes(w.payload),
      qos: w.qos ?? 0,
      retain: w.retain ?? false,
      // An empty properties object is no properties (MQTT 3.1.1 has none to send).
      ...(w.properties && Object.keys(w.properties).length > 0 ? { properties: w.properties } : {}),
    };
  }
  return connect;
}

/**
 * Checks a successful CONNACK against the CONNECT it answers; throws a {@linkcode Violation} for a
 * broken rule.
 */
export function checkConnack(packet: Connack, connect: Connect): void {
  if (packet.sessionPresent && connect.cleanStart) {
    throw new Violation(
      "The server says a session is present although the client asked for a clean start",
      0x82,
      "MQTT-3.2.2-4",
    );
  }
  const p = packet.properties ?? {};
  const method = connect.properties?.authenticationMethod;
  if (method !== undefined && p.authenticationMethod !== method) {
    throw new Violation(
      "The CONNACK does not repeat the Authentication Method of the CONNECT",
      0x82,
      "MQTT-4.12.0-5",
    );
  }
  if (method === undefined && p.authenticationMethod !== undefined) {
    throw new Violation(
      "The CONNACK names an Authentication Method the client did not ask for",
      0x82,
      "MQTT-4.12.0-6",
    );
  }
  if (
    connect.properties?.requestResponseInformation !== 1 && p.responseInformation !== undefined
  ) {
    throw new Violation(
      "The CONNACK carries Response Information the client did not request",
      0x82,
      "MQTT-3.1.2-28",
    );
  }
}

/** Checks an AUTH before CONNACK: the connection's method [MQTT-4.12.0-5], reason 0x18 only. */
export function checkConnectAuth(packet: Auth, method: string): AuthEvent {
  const props = packet.properties ?? {};
  if (props.authenticationMethod !== method) {
    throw new Violation(
      `The server's AUTH names method ${JSON.stringify(props.authenticationMethod)}, not ${
        JSON.stringify(method)
      }`,
      0x82,
      "MQTT-4.12.0-5",
    );
  }
  if (packet.reasonCode !== 0x18) {
    throw new Violation(
      `The server sent AUTH ${describeReasonCode(packet.reasonCode ?? 0)} before CONNACK`,
      0x82,
    );
  }
  return { type: "auth", reasonCode: 0x18, properties: props };
}

/**
 * Checks an AUTH after CONNACK: the connection used a method [MQTT-4.12.0-6], the same one
 * [MQTT-4.12.0-5], and a re-authentication the client started [MQTT-4.12.1-1].
 */
export function checkAuth(
  packet: Auth,
  method: string | undefined,
  authenticating: boolean,
): AuthEvent {
  if (method === undefined) {
    throw new Violation(
      "The server sent AUTH although the client used no Authentication Method",
      0x82,
      "MQTT-4.12.0-6",
    );
  }
  if (packet.properties?.authenticationMethod !== method) {
    throw new Violation(
      "The server's AUTH does not repeat the connection's Authentication Method",
      0x82,
      "MQTT-4.12.0-5",
    );
  }
  const reasonCode = packet.reasonCode ?? 0;
  if (!authenticating || reasonCode === 0x19) {
    throw new Violation(
      `The server sent AUTH ${
        describeReasonCode(reasonCode)
      } although the client started no re-authentication`,
      0x82,
      "MQTT-4.12.1-1",
    );
  }
  return { type: "auth", reasonCode, properties: packet.properties };
}
