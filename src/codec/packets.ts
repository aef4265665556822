/**
 * The packets of MQTT 5.0 and 3.1.1 as typed objects: a union tagged by `type`. MQTT 3.1.1 uses
 * the same objects without properties, reason codes (but the CONNACK and SUBACK return codes, in
 * `reasonCode` and `reasonCodes`), the 5.0 subscription options, and AUTH.
 *
 * Payloads and binary fields are `Uint8Array`. A decoded packet's payload and binary fields are
 * views into the bytes given to {@linkcode decode}: copy them if those bytes are reused.
 *
 * @module
 */

import type { PacketType, ProtocolVersion, QoS, RetainHandling } from "./constants.ts";

/** A User Property: a name and a value; order and repeats are kept. */
export type UserProperty = [name: string, value: string];

/**
 * Every property of MQTT 5.0, by its name in the specification. Each packet type allows a subset,
 * named by its own properties type (for example {@linkcode PublishProperties}).
 */
export interface Properties {
  /** 0x01 Payload Format Indicator: 0 unspecified bytes, 1 UTF-8 encoded character data. */
  payloadFormatIndicator?: 0 | 1;
  /** 0x02 Message Expiry Interval, in seconds. */
  messageExpiryInterval?: number;
  /** 0x03 Content Type. */
  contentType?: string;
  /** 0x08 Response Topic (a topic name: no wildcards). */
  responseTopic?: string;
  /** 0x09 Correlation Data. */
  correlationData?: Uint8Array;
  /** 0x0B Subscription Identifiers: several on a PUBLISH, at most one on a SUBSCRIBE. */
  subscriptionIdentifiers?: number[];
  /** 0x11 Session Expiry Interval, in seconds (0xFFFFFFFF: never expires). */
  sessionExpiryInterval?: number;
  /** 0x12 Assigned Client Identifier. */
  assignedClientIdentifier?: string;
  /** 0x13 Server Keep Alive, in seconds. */
  serverKeepAlive?: number;
  /** 0x15 Authentication Method. */
  authenticationMethod?: string;
  /** 0x16 Authentication Data. */
  authenticationData?: Uint8Array;
  /** 0x17 Request Problem Information. */
  requestProblemInformation?: 0 | 1;
  /** 0x18 Will Delay Interval, in seconds. */
  willDelayInterval?: number;
  /** 0x19 Request Response Information. */
  requestResponseInformation?: 0 | 1;
  /** 0x1A Response Information. */
  responseInformation?: string;
  /** 0x1C Server Reference. */
  serverReference?: string;
  /** 0x1F Reason String. */
  reasonString?: string;
  /** 0x21 Receive Maximum (1 to 65,535). */
  receiveMaximum?: number;
  /** 0x22 Topic Alias Maximum. */
  topicAliasMaximum?: number;
  /** 0x23 Topic Alias (1 to 65,535). */
  topicAlias?: number;
  /** 0x24 Maximum QoS (0 or 1; absent means 2). */
  maximumQoS?: 0 | 1;
  /** 0x25 Retain Available. */
  retainAvailable?: 0 | 1;
  /** 0x26 User Properties, in order, with repeats. */
  userProperties?: UserProperty[];
  /** 0x27 Maximum Packet Size (1 to 4,294,967,295). */
  maximumPacketSize?: number;
  /** 0x28 Wildcard Subscription Available. */
  wildcardSubscriptionAvailable?: 0 | 1;
  /** 0x29 Subscription Identifier Available. */
  subscriptionIdentifierAvailable?: 0 | 1;
  /** 0x2A Shared Subscription Available. */
  sharedSubscriptionAvailable?: 0 | 1;
}

/** The properties a CONNECT may carry (section 3.1.2.11). */
export type ConnectProperties = Pick<
  Properties,
  | "sessionExpiryInterval"
  | "receiveMaximum"
  | "maximumPacketSize"
  | "topicAliasMaximum"
  | "requestResponseInformation"
  | "requestProblemInformation"
  | "userProperties"
  | "authenticationMethod"
  | "authenticationData"
>;

/** The properties of a Will Message (section 3.1.3.2). */
export type WillProperties = Pick<
  Properties,
  | "willDelayInterval"
  | "payloadFormatIndicator"
  | "messageExpiryInterval"
  | "contentType"
  | "responseTopic"
  | "correlationData"
  | "userProperties"
>;

/** The properties a CONNACK may carry (section 3.2.2.3). */
export type ConnackProperties = Pick<
  Properties,
  | "sessionExpiryInterval"
  | "receiveMaximum"
  | "maximumQoS"
  | "retainAvailable"
  | "maximumPacketSize"
  | "assignedClientIdentifier"
  | "topicAliasMaximum"
  | "reasonString"
  | "userProperties"
  | "wildcardSubscriptionAvailable"
  | "subscriptionIdentifierAvailable"
  | "sharedSubscriptionAvailable"
  | "serverKeepAlive"
  | "responseInformation"
  | "serverReference"
  | "authenticationMethod"
  | "authenticationData"
>;

/** The properties a PUBLISH may carry (section 3.3.2.3). */
export type PublishProperties = Pick<
  Properties,
  | "payloadFormatIndicator"
  | "messageExpiryInterval"
  | "topicAlias"
  | "responseTopic"
  | "correlationData"
  | "userProperties"
  | "subscriptionIdentifiers"
  | "contentType"
>;

/** The properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK. */
export type AckProperties = Pick<Properties, "reasonString" | "userProperties">;

/** The properties a SUBSCRIBE may carry (section 3.8.2.1). */
export type SubscribeProperties = Pick<Properties, "subscriptionIdentifiers" | "userProperties">;

/** The properties an UNSUBSCRIBE may carry (section 3.10.2.1). */
export type UnsubscribeProperties = Pick<Properties, "userProperties">;

/** The properties a DISCONNECT may carry (section 3.14.2.2). */
export type DisconnectProperties = Pick<
  Properties,
  "sessionExpiryInterval" | "reasonString" | "userProperties" | "serverReference"
>;

/** The properties an AUTH may carry (section 3.15.2.2). */
export type AuthProperties = Pick<
  Properties,
  "authenticationMethod" | "authenticationData" | "reasonString" | "userProperties"
>;

/** A Will Message carried by CONNECT. */
export interface Will {
  /** The topic the server publishes the will to. */
  topic: string;
  /** The will's payload. */
  payload: Uint8Array;
  /** The QoS of the will. @default {0} */
  qos?: QoS;
  /** Whether the will is retained. @default {false} */
  retain?: boolean;
  /** The will properties. */
  properties?: WillProperties;
}

/** CONNECT (section 3.1). */
export interface Connect {
  /** The packet type. */
  type: typeof PacketType.Connect;
  /**
   * The protocol version: 5 (MQTT 5.0) or 4 (MQTT 3.1.1); it must be the version encoded for,
   * which decides the Protocol Version byte. A decoded CONNECT has the version it was read as.
   * @default {the version encoded for}
   */
  protocolVersion?: ProtocolVersion;
  /** Clean Start (Clean Session in MQTT 3.1.1). @default {false} */
  cleanStart?: boolean;
  /** Keep Alive in seconds (0 disables it). @default {0} */
  keepAlive?: number;
  /** The Client Identifier; empty asks the server to assign one. */
  clientId: string;
  /** The User Name. */
  username?: string;
  /** The Password. */
  password?: Uint8Array;
  /** The Will Message. */
  will?: Will;
  /** The CONNECT properties. */
  properties?: ConnectProperties;
}

/** CONNACK (section 3.2). */
export interface Connack {
  /** The packet type. */
  type: typeof PacketType.Connack;
  /** Session Present. */
  sessionPresent: boolean;
  /** The Connect Reason Code; in MQTT 3.1.1 the Connect Return Code (0 to 5). */
  reasonCode: number;
  /** The CONNACK properties. */
  properties?: ConnackProperties;
}

/** PUBLISH (section 3.3). */
export interface Publish {
  /** The packet type. */
  type: typeof PacketType.Publish;
  /** The Topic Name; empty only when a Topic Alias stands for it. */
  topic: string;
  /** The Application Message. */
  payload: Uint8Array;
  /** The QoS level. */
  qos: QoS;
  /** The RETAIN flag. @default {false} */
  retain?: boolean;
  /** The DUP flag: set on a re-delivery; always false at QoS 0. @default {false} */
  dup?: boolean;
  /** The Packet Identifier: required at QoS 1 and 2, absent at QoS 0. */
  packetId?: number;
  /** The PUBLISH properties. */
  properties?: PublishProperties;
}

/** PUBACK (section 3.4). */
export interface Puback {
  /** The packet type. */
  type: typeof PacketType.Puback;
  /** The Packet Identifier of the PUBLISH acknowledged. */
  packetId: number;
  /** The PUBACK Reason Code (none in MQTT 3.1.1). @default {0} */
  reasonCode?: number;
  /** The properties. */
  properties?: AckProperties;
}

/** PUBREC (section 3.5). */
export interface Pubrec {
  /** The packet type. */
  type: typeof PacketType.Pubrec;
  /** The Packet Identifier of the PUBLISH received. */
  packetId: number;
  /** The PUBREC Reason Code (none in MQTT 3.1.1). @default {0} */
  reasonCode?: number;
  /** The properties. */
  properties?: AckProperties;
}

/** PUBREL (section 3.6). */
export interface Pubrel {
  /** The packet type. */
  type: typeof PacketType.Pubrel;
  /** The Packet Identifier of the PUBLISH released. */
  packetId: number;
  /** The PUBREL Reason Code (none in MQTT 3.1.1). @default {0} */
  reasonCode?: number;
  /** The properties. */
  properties?: AckProperties;
}

/** PUBCOMP (section 3.7). */
export interface Pubcomp {
  /** The packet type. */
  type: typeof PacketType.Pubcomp;
  /** The Packet Identifier of the PUBLISH completed. */
  packetId: number;
  /** The PUBCOMP Reason Code (none in MQTT 3.1.1). @default {0} */
  reasonCode?: number;
  /** The properties. */
  properties?: AckProperties;
}

/** One Topic Filter of a SUBSCRIBE with its Subscription Options (section 3.8.3). */
export interface Subscription {
  /** The Topic Filter (wildcards allowed; `$share/{name}/{filter}` for a shared subscription). */
  filter: string;
  /** The maximum QoS. @default {0} */
  qos?: QoS;
  /** No Local: do not receive this client's own publications. @default {false} */
  noLocal?: boolean;
  /** Retain As Published: keep the RETAIN flag of forwarded messages. @default {false} */
  retainAsPublished?: boolean;
  /** Retain Handling. @default {0} */
  retainHandling?: RetainHandling;
}

/** SUBSCRIBE (section 3.8). */
export interface Subscribe {
  /** The packet type. */
  type: typeof PacketType.Subscribe;
  /** The Packet Identifier. */
  packetId: number;
  /** The subscriptions, at least one. */
  subscriptions: Subscription[];
  /** The properties. */
  properties?: SubscribeProperties;
}

/** SUBACK (section 3.9). */
export interface Suback {
  /** The packet type. */
  type: typeof PacketType.Suback;
  /** The Packet Identifier of the SUBSCRIBE acknowledged. */
  packetId: number;
  /** One reason code per subscription, in order (the return codes in MQTT 3.1.1). */
  reasonCodes: number[];
  /** The properties. */
  properties?: AckProperties;
}

/** UNSUBSCRIBE (section 3.10). */
export interface Unsubscribe {
  /** The packet type. */
  type: typeof PacketType.Unsubscribe;
  /** The Packet Identifier. */
  packetId: number;
  /** The Topic Filters, at least one. */
  filters: string[];
  /** The properties. */
  properties?: UnsubscribeProperties;
}

/** UNSUBACK (section 3.11). */
export interface Unsuback {
  /** The packet type. */
  type: typeof PacketType.Unsuback;
  /** The Packet Identifier of the UNSUBSCRIBE acknowledged. */
  packetId: number;
  /** One reason code per filter, in order (none in MQTT 3.1.1: `[]`). */
  reasonCodes: number[];
  /** The properties. */
  properties?: AckProperties;
}

/** PINGREQ (section 3.12). */
export interface Pingreq {
  /** The packet type. */
  type: typeof PacketType.Pingreq;
}

/** PINGRESP (section 3.13). */
export interface Pingresp {
  /** The packet type. */
  type: typeof PacketType.Pingresp;
}

/** DISCONNECT (section 3.14). */
export interface Disconnect {
  /** The packet type. */
  type: typeof PacketType.Disconnect;
  /** The Disconnect Reason Code (none in MQTT 3.1.1). @default {0} */
  reasonCode?: number;
  /** The properties. */
  properties?: DisconnectProperties;
}

/** AUTH (section 3.15). */
export interface Auth {
  /** The packet type. */
  type: typeof PacketType.Auth;
  /** The Authenticate Reason Code. @default {0} */
  reasonCode?: number;
  /** The properties. */
  properties?: AuthProperties;
}

/** Any MQTT 5.0 or 3.1.1 Control Packet, tagged by `type`. */
export type Packet =
  | Connect
  | Connack
  | Publish
  | Puback
  | Pubrec
  | Pubrel
  | Pubcomp
  | Subscribe
  | Suback
  | Unsubscribe
  | Unsuback
  | Pingreq
  | Pingresp
  | Disconnect
  | Auth;
