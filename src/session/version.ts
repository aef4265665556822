/**
 * MQTT 3.1.1 beside 5.0: the options a 3.1.1 connection refuses (each an MQTT 5.0 feature, named
 * in a `ProtocolVersionError` before anything is sent), the limits in force without a Receive
 * Maximum, and the CONNACK return codes with the 5.0 reason codes of the same meaning.
 *
 * @module
 */

import type { ServerLimits } from "./types.ts";
import { ProtocolVersionError } from "./errors.ts";
import type {
  AcknowledgeOptions,
  ConnectOptions,
  DisconnectOptions,
  PublishOptions,
  SubscribeOptions,
  SubscribeRequest,
  UnsubscribeOptions,
} from "./types.ts";

/** The default in-flight limit of a 3.1.1 connection (Mosquitto's default Receive Maximum). */
export const DEFAULT_MAXIMUM_INFLIGHT = 20;

/** The limits of a 3.1.1 connection: no CONNACK properties, so the client's own. */
export function limitsV311(maximumInflight: number): ServerLimits {
  return {
    receiveMaximum: maximumInflight,
    maximumQoS: 2,
    retainAvailable: true,
    maximumPacketSize: undefined,
    topicAliasMaximum: 0,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifierAvailable: false,
    sharedSubscriptionAvailable: true,
  };
}

/**
 * The 5.0 reason code of a 3.1.1 CONNACK return code (section 3.2.2.3): 1 unacceptable protocol
 * version, 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not
 * authorized.
 */
export function reasonCodeOfReturnCode(returnCode: number): number {
  return [0x00, 0x84, 0x85, 0x88, 0x86, 0x87][returnCode] ?? 0x80;
}

function refuse(option: string): never {
  throw new ProtocolVersionError(option, 4);
}

function refuseProperties(properties: object | undefined, prefix = "properties"): void {
  if (properties === undefined) return;
  for (const [key, value] of Object.entries(properties)) {
    if (value !== undefined) refuse(`${prefix}.${key}`);
  }
}

/** Refuses the 5.0-only options of a CONNECT on a 3.1.1 connection. */
export function checkConnectV311(options: ConnectOptions): void {
  const v5Only = [
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumPacketSize",
    "topicAliasMaximum",
    "requestResponseInformation",
    "requestProblemInformation",
    "userProperties",
    "authenticationMethod",
    "authenticationData",
    "onAuth",
  ] as const;
  for (const key of v5Only) if (options[key] !== undefined) refuse(key);
  refuseProperties(options.will?.properties, "will.properties");
}

/** Refuses the 5.0-only options of a publication on a 3.1.1 connection. */
export function checkPublishV311(options: PublishOptions): void {
  refuseProperties(options.properties);
}

/** Refuses the 5.0-only options of a subscription on a 3.1.1 connection. */
export function checkSubscribeV311(
  list: readonly SubscribeRequest[],
  options: SubscribeOptions,
): void {
  if (options.subscriptionIdentifier !== undefined) refuse("subscriptionIdentifier");
  if (options.userProperties !== undefined) refuse("userProperties");
  for (const s of list) {
    if (s.noLocal) refuse("noLocal");
    if (s.retainAsPublished) refuse("retainAsPublished");
    if (s.retainHandling) refuse("retainHandling");
  }
}

/** Refuses the 5.0-only options of an unsubscription on a 3.1.1 connection. */
export function checkUnsubscribeV311(options: UnsubscribeOptions): void {
  if (options.userProperties !== undefined) refuse("userProperties");
}

/** Refuses a reason code or properties on an acknowledgement on a 3.1.1 connection. */
export function checkAcknowledgeV311(options: AcknowledgeOptions): void {
  if (options.reasonCode) refuse("reasonCode");
  refuseProperties(options.properties);
}

/** Refuses a reason code or properties on DISCONNECT on a 3.1.1 connection. */
export function checkDisconnectV311(options: DisconnectOptions): void {
  if (options.reasonCode) refuse("reasonCode");
  refuseProperties(options.properties);
}

/** Refuses AUTH (enhanced authentication) on a 3.1.1 connection. */
export function refuseAuthV311(): never {
  refuse("auth() (enhanced authentication)");
}

/** The 3.1.1 statements of the same rules as the 5.0 ones a violation names. */
const STATEMENTS_V311: Readonly<Record<string, string | undefined>> = {
  "MQTT-3.2.0-1": "v3.1.1 MQTT-3.2.0-1",
  "MQTT-3.2.0-2": undefined, // 3.1.1 numbers no rule on a second CONNACK
  "MQTT-2.2.1-4": "v3.1.1 MQTT-2.3.1-4",
  "MQTT-3.8.4-2": "v3.1.1 MQTT-3.8.4-2",
  "MQTT-3.8.4-6": "v3.1.1 MQTT-3.8.4-5",
};

/**
 * The statement a violation names on a 3.1.1 connection: the 3.1.1 statement of the same rule
 * (`v3.1.1 MQTT-…`), or none where 3.1.1 numbers none.
 */
export function statementV311(statement: string | undefined): string | undefined {
  if (statement === undefined || statement.startsWith("v3.1.1 ")) return statement;
  return STATEMENTS_V311[statement];
}
