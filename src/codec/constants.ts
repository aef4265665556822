/**
 * Enumerations of MQTT 5.0 and 3.1.1: protocol versions, packet types, QoS levels, reason codes
 * (and the return codes of a 3.1.1 CONNACK) and property identifiers.
 *
 * Each is an `as const` object with a type of the same name, so `PacketType.Publish` is the value
 * `3` and `PacketType` (the type) is the union of every value.
 *
 * @module
 */

/** The Control Packet types of MQTT 5.0 (section 2.1.2): the high nibble of the first byte. */
export const PacketType = {
  /** 1: Client request to connect to the server. */
  Connect: 1,
  /** 2: Connect acknowledgement. */
  Connack: 2,
  /** 3: Publish an Application Message. */
  Publish: 3,
  /** 4: Publish acknowledgement (QoS 1). */
  Puback: 4,
  /** 5: Publish received (QoS 2 delivery part 1). */
  Pubrec: 5,
  /** 6: Publish release (QoS 2 delivery part 2). */
  Pubrel: 6,
  /** 7: Publish complete (QoS 2 delivery part 3). */
  Pubcomp: 7,
  /** 8: Subscribe request. */
  Subscribe: 8,
  /** 9: Subscribe acknowledgement. */
  Suback: 9,
  /** 10: Unsubscribe request. */
  Unsubscribe: 10,
  /** 11: Unsubscribe acknowledgement. */
  Unsuback: 11,
  /** 12: PING request. */
  Pingreq: 12,
  /** 13: PING response. */
  Pingresp: 13,
  /** 14: Disconnect notification. */
  Disconnect: 14,
  /** 15: Authentication exchange. */
  Auth: 15,
} as const;
/** A Control Packet type value (1 to 15). */
export type PacketType = typeof PacketType[keyof typeof PacketType];

/** The names of the packet types, indexed by value, for messages and logs. */
export const packetTypeName: Readonly<Record<PacketType, string>> = {
  1: "CONNECT",
  2: "CONNACK",
  3: "PUBLISH",
  4: "PUBACK",
  5: "PUBREC",
  6: "PUBREL",
  7: "PUBCOMP",
  8: "SUBSCRIBE",
  9: "SUBACK",
  10: "UNSUBSCRIBE",
  11: "UNSUBACK",
  12: "PINGREQ",
  13: "PINGRESP",
  14: "DISCONNECT",
  15: "AUTH",
};

/** Quality of Service levels (section 4.3). */
export const QoS = {
  /** 0: At most once delivery. */
  AtMostOnce: 0,
  /** 1: At least once delivery. */
  AtLeastOnce: 1,
  /** 2: Exactly once delivery. */
  ExactlyOnce: 2,
} as const;
/** A QoS level: 0, 1 or 2. */
export type QoS = typeof QoS[keyof typeof QoS];

/** Retain Handling subscription option (section 3.8.3.1). */
export const RetainHandling = {
  /** 0: Send retained messages at the time of the subscribe. */
  SendOnSubscribe: 0,
  /** 1: Send retained messages only if the subscription does not currently exist. */
  SendOnNewSubscribe: 1,
  /** 2: Do not send retained messages at the time of the subscribe. */
  DoNotSend: 2,
} as const;
/** A Retain Handling value: 0, 1 or 2. */
export type RetainHandling = typeof RetainHandling[keyof typeof RetainHandling];

/**
 * The protocol versions the codec speaks: the Protocol Version (Protocol Level in 3.1.1) byte of
 * CONNECT. Encoding and decoding take it as `protocolVersion` (default 5).
 *
 * @example Decoding an MQTT 3.1.1 PUBACK
 * ```ts
 * import { decode, ProtocolVersion } from "./mod.ts";
 * const bytes = new Uint8Array([0x40, 0x02, 0x00, 0x07]);
 * const puback = decode(bytes, { protocolVersion: ProtocolVersion.Mqtt311 });
 * console.log(puback); // { type: 4, packetId: 7 }
 * ```
 */
export const ProtocolVersion = {
  /** 4: MQTT Version 3.1.1 (OASIS Standard, 29 October 2014). */
  Mqtt311: 4,
  /** 5: MQTT Version 5.0 (OASIS Standard, 7 March 2019). */
  Mqtt5: 5,
} as const;
/**
 * A protocol version: 4 (MQTT 3.1.1) or 5 (MQTT 5.0).
 *
 * @example Choosing the version of an encoding
 * ```ts
 * import { encode, PacketType, type ProtocolVersion } from "./mod.ts";
 * const version: ProtocolVersion = 4;
 * const bytes = encode({ type: PacketType.Disconnect }, { protocolVersion: version });
 * console.log(bytes); // Uint8Array(2) [ 224, 0 ]
 * ```
 */
export type ProtocolVersion = typeof ProtocolVersion[keyof typeof ProtocolVersion];

/**
 * The Connect Return Codes of an MQTT 3.1.1 CONNACK (section 3.2.2.3), which a decoded 3.1.1
 * CONNACK carries as its `reasonCode`, the wire value as is. Values 6 to 255 are reserved.
 *
 * @example Telling why a 3.1.1 server refused the connection
 * ```ts
 * import { ConnectReturnCode, decode } from "./mod.ts";
 * const connack = decode(new Uint8Array([0x20, 0x02, 0x00, 0x05]), { protocolVersion: 4 });
 * if (connack.type === 2) {
 *   console.log(connack.reasonCode === ConnectReturnCode.NotAuthorized); // true
 * }
 * ```
 */
export const ConnectReturnCode = {
  /** 0x00: Connection accepted. */
  Accepted: 0x00,
  /** 0x01: The server does not support the level of the MQTT protocol requested. */
  UnacceptableProtocolVersion: 0x01,
  /** 0x02: The Client Identifier is correct UTF-8 but not allowed by the server. */
  IdentifierRejected: 0x02,
  /** 0x03: The network connection was made but the MQTT service is unavailable. */
  ServerUnavailable: 0x03,
  /** 0x04: The data in the user name or password is malformed. */
  BadUserNameOrPassword: 0x04,
  /** 0x05: The client is not authorized to connect. */
  NotAuthorized: 0x05,
} as const;
/** A Connect Return Code of MQTT 3.1.1: 0x00 to 0x05. */
export type ConnectReturnCode = typeof ConnectReturnCode[keyof typeof ConnectReturnCode];

/**
 * Every reason code of MQTT 5.0 (section 2.4). Which packet may carry which code is in
 * {@linkcode allowedReasonCodes}. Values of 0x80 and above indicate failure.
 */
export const ReasonCode = {
  /** 0x00: Success (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH). */
  Success: 0x00,
  /** 0x00: Normal disconnection (DISCONNECT). */
  NormalDisconnection: 0x00,
  /** 0x00: Granted QoS 0 (SUBACK). */
  GrantedQoS0: 0x00,
  /** 0x01: Granted QoS 1 (SUBACK). */
  GrantedQoS1: 0x01,
  /** 0x02: Granted QoS 2 (SUBACK). */
  GrantedQoS2: 0x02,
  /** 0x04: Disconnect with Will Message: the client wants the server to publish its will. */
  DisconnectWithWillMessage: 0x04,
  /** 0x10: No matching subscribers: the message was accepted but nobody receives it. */
  NoMatchingSubscribers: 0x10,
  /** 0x11: No subscription existed (UNSUBACK). */
  NoSubscriptionExisted: 0x11,
  /** 0x18: Continue authentication (AUTH). */
  ContinueAuthentication: 0x18,
  /** 0x19: Re-authenticate (AUTH). */
  ReAuthenticate: 0x19,
  /** 0x80: Unspecified error. */
  UnspecifiedError: 0x80,
  /** 0x81: Malformed Packet: the packet could not be parsed according to the specification. */
  MalformedPacket: 0x81,
  /** 0x82: Protocol Error: the packet broke a rule of the protocol. */
  ProtocolError: 0x82,
  /** 0x83: Implementation specific error. */
  ImplementationSpecificError: 0x83,
  /** 0x84: Unsupported Protocol Version (CONNACK). */
  UnsupportedProtocolVersion: 0x84,
  /** 0x85: Client Identifier not valid (CONNACK). */
  ClientIdentifierNotValid: 0x85,
  /** 0x86: Bad User Name or Password (CONNACK). */
  BadUserNameOrPassword: 0x86,
  /** 0x87: Not authorized. */
  NotAuthorized: 0x87,
  /** 0x88: Server unavailable (CONNACK). */
  ServerUnavailable: 0x88,
  /** 0x89: Server busy. */
  ServerBusy: 0x89,
  /** 0x8A: Banned (CONNACK). */
  Banned: 0x8a,
  /** 0x8B: Server shutting down (DISCONNECT). */
  ServerShuttingDown: 0x8b,
  /** 0x8C: Bad authentication method. */
  BadAuthenticationMethod: 0x8c,
  /** 0x8D: Keep Alive timeout (DISCONNECT). */
  KeepAliveTimeout: 0x8d,
  /** 0x8E: Session taken over: another connection uses the same client identifier. */
  SessionTakenOver: 0x8e,
  /** 0x8F: Topic Filter invalid. */
  TopicFilterInvalid: 0x8f,
  /** 0x90: Topic Name invalid. */
  TopicNameInvalid: 0x90,
  /** 0x91: Packet Identifier in use. */
  PacketIdentifierInUse: 0x91,
  /** 0x92: Packet Identifier not found. */
  PacketIdentifierNotFound: 0x92,
  /** 0x93: Receive Maximum exceeded. */
  ReceiveMaximumExceeded: 0x93,
  /** 0x94: Topic Alias invalid. */
  TopicAliasInvalid: 0x94,
  /** 0x95: Packet too large. */
  PacketTooLarge: 0x95,
  /** 0x96: Message rate too high (DISCONNECT). */
  MessageRateTooHigh: 0x96,
  /** 0x97: Quota exceeded. */
  QuotaExceeded: 0x97,
  /** 0x98: Administrative action (DISCONNECT). */
  AdministrativeAction: 0x98,
  /** 0x99: Payload format invalid. */
  PayloadFormatInvalid: 0x99,
  /** 0x9A: Retain not supported. */
  RetainNotSupported: 0x9a,
  /** 0x9B: QoS not supported. */
  QoSNotSupported: 0x9b,
  /** 0x9C: Use another server (temporary redirect). */
  UseAnotherServer: 0x9c,
  /** 0x9D: Server moved (permanent redirect). */
  ServerMoved: 0x9d,
  /** 0x9E: Shared Subscriptions not supported. */
  SharedSubscriptionsNotSupported: 0x9e,
  /** 0x9F: Connection rate exceeded. */
  ConnectionRateExceeded: 0x9f,
  /** 0xA0: Maximum connect time (DISCONNECT). */
  MaximumConnectTime: 0xa0,
  /** 0xA1: Subscription Identifiers not supported. */
  SubscriptionIdentifiersNotSupported: 0xa1,
  /** 0xA2: Wildcard Subscriptions not supported. */
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;
/** A reason code value. */
export type ReasonCode = typeof ReasonCode[keyof typeof ReasonCode];

/** Readable names of reason codes, for error messages and logs. */
export const reasonCodeName: Readonly<Record<number, string>> = {
  0x00: "Success",
  0x01: "Granted QoS 1",
  0x02: "Granted QoS 2",
  0x04: "Disconnect with Will Message",
  0x10: "No matching subscribers",
  0x11: "No subscription existed",
  0x18: "Continue authentication",
  0x19: "Re-authenticate",
  0x80: "Unspecified error",
  0x81: "Malformed Packet",
  0x82: "Protocol Error",
  0x83: "Implementation specific error",
  0x84: "Unsupported Protocol Version",
  0x85: "Client Identifier not valid",
  0x86: "Bad User Name or Password",
  0x87: "Not authorized",
  0x88: "Server unavailable",
  0x89: "Server busy",
  0x8a: "Banned",
  0x8b: "Server shutting down",
  0x8c: "Bad authentication method",
  0x8d: "Keep Alive timeout",
  0x8e: "Session taken over",
  0x8f: "Topic Filter invalid",
  0x90: "Topic Name invalid",
  0x91: "Packet Identifier in use",
  0x92: "Packet Identifier not found",
  0x93: "Receive Maximum exceeded",
  0x94: "Topic Alias invalid",
  0x95: "Packet too large",
  0x96: "Message rate too high",
  0x97: "Quota exceeded",
  0x98: "Administrative action",
  0x99: "Payload format invalid",
  0x9a: "Retain not supported",
  0x9b: "QoS not supported",
  0x9c: "Use another server",
  0x9d: "Server moved",
  0x9e: "Shared Subscriptions not supported",
  0x9f: "Connection rate exceeded",
  0xa0: "Maximum connect time",
  0xa1: "Subscription Identifiers not supported",
  0xa2: "Wildcard Subscriptions not supported",
};

/**
 * Formats a reason code as `0x87 (Not authorized)`.
 *
 * @example Usage
 * ```ts
 * import { describeReasonCode } from "./constants.ts";
 * console.log(describeReasonCode(0x97)); // "0x97 (Quota exceeded)"
 * ```
 */
export function describeReasonCode(code: number): string {
  const hex = "0x" + code.toString(16).padStart(2, "0");
  const name = reasonCodeName[code];
  return name === undefined ? hex : `${hex} (${name})`;
}

/**
 * The reason codes each packet type may carry (sections 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1,
 * 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1). Packet types without a reason code are absent.
 */
export const allowedReasonCodes: Readonly<Partial<Record<PacketType, ReadonlySet<number>>>> = {
  [PacketType.Connack]: new Set([
    0x00,
    0x80,
    0x81,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x8c,
    0x90,
    0x95,
    0x97,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9f,
  ]),
  [PacketType.Puback]: new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
  [PacketType.Pubrec]: new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
  [PacketType.Pubrel]: new Set([0x00, 0x92]),
  [PacketType.Pubcomp]: new Set([0x00, 0x92]),
  [PacketType.Suback]: new Set([
    0x00,
    0x01,
    0x02,
    0x80,
    0x83,
    0x87,
    0x8f,
    0x91,
    0x97,
    0x9e,
    0xa1,
    0xa2,
  ]),
  [PacketType.Unsuback]: new Set([0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]),
  [PacketType.Disconnect]: new Set([
    0x00,
    0x04,
    0x80,
    0x81,
    0x82,
    0x83,
    0x87,
    0x89,
    0x8b,
    0x8d,
    0x8e,
    0x8f,
    0x90,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9e,
    0x9f,
    0xa0,
    0xa1,
    0xa2,
  ]),
  [PacketType.Auth]: new Set([0x00, 0x18, 0x19]),
};

/** Property identifiers of MQTT 5.0 (section 2.2.2.2). */
export const PropertyId = {
  /** 0x01: Payload Format Indicator (Byte): 0 unspecified bytes, 1 UTF-8 encoded character data. */
  PayloadFormatIndicator: 0x01,
  /** 0x02: Message Expiry Interval (Four Byte Integer), seconds. */
  MessageExpiryInterval: 0x02,
  /** 0x03: Content Type (UTF-8 Encoded String). */
  ContentType: 0x03,
  /** 0x08: Response Topic (UTF-8 Encoded String). */
  ResponseTopic: 0x08,
  /** 0x09: Correlation Data (Binary Data). */
  CorrelationData: 0x09,
  /** 0x0B: Subscription Identifier (Variable Byte Integer, 1 to 268,435,455). */
  SubscriptionIdentifier: 0x0b,
  /** 0x11: Session Expiry Interval (Four Byte Integer), seconds. */
  SessionExpiryInterval: 0x11,
  /** 0x12: Assigned Client Identifier (UTF-8 Encoded String). */
  AssignedClientIdentifier: 0x12,
  /** 0x13: Server Keep Alive (Two Byte Integer), seconds. */
  ServerKeepAlive: 0x13,
  /** 0x15: Authentication Method (UTF-8 Encoded String). */
  AuthenticationMethod: 0x15,
  /** 0x16: Authentication Data (Binary Data). */
  AuthenticationData: 0x16,
  /** 0x17: Request Problem Information (Byte, 0 or 1). */
  RequestProblemInformation: 0x17,
  /** 0x18: Will Delay Interval (Four Byte Integer), seconds. */
  WillDelayInterval: 0x18,
  /** 0x19: Request Response Information (Byte, 0 or 1). */
  RequestResponseInformation: 0x19,
  /** 0x1A: Response Information (UTF-8 Encoded String). */
  ResponseInformation: 0x1a,
  /** 0x1C: Server Reference (UTF-8 Encoded String). */
  ServerReference: 0x1c,
  /** 0x1F: Reason String (UTF-8 Encoded String). */
  ReasonString: 0x1f,
  /** 0x21: Receive Maximum (Two Byte Integer, not 0). */
  ReceiveMaximum: 0x21,
  /** 0x22: Topic Alias Maximum (Two Byte Integer). */
  TopicAliasMaximum: 0x22,
  /** 0x23: Topic Alias (Two Byte Integer, not 0). */
  TopicAlias: 0x23,
  /** 0x24: Maximum QoS (Byte, 0 or 1). */
  MaximumQoS: 0x24,
  /** 0x25: Retain Available (Byte, 0 or 1). */
  RetainAvailable: 0x25,
  /** 0x26: User Property (UTF-8 String Pair); may repeat. */
  UserProperty: 0x26,
  /** 0x27: Maximum Packet Size (Four Byte Integer, not 0). */
  MaximumPacketSize: 0x27,
  /** 0x28: Wildcard Subscription Available (Byte, 0 or 1). */
  WildcardSubscriptionAvailable: 0x28,
  /** 0x29: Subscription Identifier Available (Byte, 0 or 1). */
  SubscriptionIdentifierAvailable: 0x29,
  /** 0x2A: Shared Subscription Available (Byte, 0 or 1). */
  SharedSubscriptionAvailable: 0x2a,
} as const;
/** A property identifier value. */
export type PropertyId = typeof PropertyId[keyof typeof PropertyId];

/** The largest value of a Variable Byte Integer: 268,435,455. */
export const MAX_VARIABLE_BYTE_INTEGER: number = 268_435_455;
/** The largest packet MQTT can frame: a 5-byte fixed header plus 268,435,455. */
export const MAX_PACKET_SIZE: number = MAX_VARIABLE_BYTE_INTEGER + 5;
