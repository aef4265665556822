/**
 * The server's limits, as its CONNACK announced them, and the checks that keep what the client
 * sends within them: refused before a byte is written, with the reason code the server would have
 * answered.
 *
 * @module
 */

import {
  type ConnackProperties,
  hasWildcard,
  isSharedFilter,
  type QoS,
  type Subscription,
} from "../codec/mod.ts";
import { ServerCapabilityError } from "./errors.ts";
import type { ServerLimits } from "./types.ts";

/** The specification's defaults, in force until a CONNACK says otherwise. */
export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  receiveMaximum: 65_535,
  maximumQoS: 2,
  retainAvailable: true,
  maximumPacketSize: undefined,
  topicAliasMaximum: 0,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifierAvailable: true,
  sharedSubscriptionAvailable: true,
});

/** The limits a CONNACK announces, with the specification's defaults for what it leaves out. */
export function limitsOf(p: ConnackProperties): ServerLimits {
  return {
    receiveMaximum: p.receiveMaximum ?? 65_535,
    maximumQoS: p.maximumQoS ?? 2,
    retainAvailable: (p.retainAvailable ?? 1) === 1,
    maximumPacketSize: p.maximumPacketSize,
    topicAliasMaximum: p.topicAliasMaximum ?? 0,
    wildcardSubscriptionAvailable: (p.wildcardSubscriptionAvailable ?? 1) === 1,
    subscriptionIdentifierAvailable: (p.subscriptionIdentifierAvailable ?? 1) === 1,
    sharedSubscriptionAvailable: (p.sharedSubscriptionAvailable ?? 1) === 1,
  };
}

/** Refuses a publication at a QoS, or with RETAIN, beyond the server's limits. */
export function checkPublish(limits: ServerLimits, qos: QoS, retain: boolean | undefined): void {
  if (qos > limits.maximumQoS) {
    throw new ServerCapabilityError(
      `Cannot publish at QoS ${qos}: the server's Maximum QoS is ${limits.maximumQoS}; publish at a lower QoS`,
      0x9b,
      "MQTT-3.2.2-11",
    );
  }
  if (retain && !limits.retainAvailable) {
    throw new ServerCapabilityError(
      "Cannot publish with RETAIN: the server does not support retained messages",
      0x9a,
      "MQTT-3.2.2-14",
    );
  }
}

/** Refuses a republish at a QoS the server no longer accepts. */
export function checkRepublish(limits: ServerLimits, packetId: number, qos: QoS): void {
  if (qos > limits.maximumQoS) {
    throw new ServerCapabilityError(
      `Cannot republish ${packetId} at QoS ${qos}: the server's Maximum QoS is now ${limits.maximumQoS}`,
      0x9b,
      "MQTT-3.2.2-11",
    );
  }
}

/** Refuses a Topic Alias above the server's Topic Alias Maximum. */
export function checkTopicAlias(limits: ServerLimits, alias: number): void {
  const max = limits.topicAliasMaximum;
  if (alias > max) {
    throw new ServerCapabilityError(
      max === 0
        ? `Cannot use Topic Alias ${alias}: the server accepts no topic aliases`
        : `Cannot use Topic Alias ${alias}: the server's Topic Alias Maximum is ${max}`,
      0x94,
      max === 0 ? "MQTT-3.2.2-18" : "MQTT-3.3.2-9",
    );
  }
}

/** Refuses shared, wildcard or identified subscriptions the server does not support. */
export function checkSubscribe(
  limits: ServerLimits,
  subscriptions: readonly Subscription[],
  subscriptionIdentifier: number | undefined,
): void {
  for (const s of subscriptions) {
    if (!limits.sharedSubscriptionAvailable && isSharedFilter(s.filter)) {
      throw new ServerCapabilityError(
        `Cannot subscribe to ${
          JSON.stringify(s.filter)
        }: the server does not support shared subscriptions`,
        0x9e,
      );
    }
    if (!limits.wildcardSubscriptionAvailable && hasWildcard(s.filter)) {
      throw new ServerCapabilityError(
        `Cannot subscribe to ${
          JSON.stringify(s.filter)
        }: the server does not support wildcard subscriptions`,
        0xa2,
      );
    }
  }
  if (subscriptionIdentifier !== undefined && !limits.subscriptionIdentifierAvailable) {
    throw new ServerCapabilityError(
      "Cannot subscribe with a Subscription Identifier: the server does not support them",
      0xa1,
    );
  }
}
