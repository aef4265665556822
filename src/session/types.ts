/**
 * The options, results and events of the protocol engine ({@linkcode Engine}), which the
 * `Client` shares. Fields named `signal` (and `onAuth`) concern the asynchronous `Client` only:
 * the engine never waits, so it ignores them.
 *
 * @module
 */

import type {
  AckProperties,
  AuthProperties,
  Connack,
  DisconnectProperties,
  PublishProperties,
  QoS,
  RetainHandling,
  UserProperty,
  WillProperties,
} from "../codec/mod.ts";
import type { OutgoingFlight, StoredPublication } from "./session.ts";

/** The Will Message of a connection. */
export interface WillOptions {
  /** The topic to publish the will to. */
  topic: string;
  /** The will payload. @default {empty} */
  payload?: Uint8Array | string;
  /** Its QoS. @default {0} */
  qos?: QoS;
  /** Whether it is retained. @default {false} */
  retain?: boolean;
  /** Will properties: delay interval, message expiry, payload format, content type, ... */
  properties?: WillProperties;
}

/** The answer of the application to an AUTH packet from the server during enhanced authentication. */
export interface AuthResponse {
  /** The Authentication Data to send back. */
  authenticationData?: Uint8Array;
  /** The Reason String to send back. */
  reasonString?: string;
  /** User properties to send back. */
  userProperties?: UserProperty[];
}

/** Options of {@linkcode Engine.connect}. */
export interface ConnectOptions {
  /**
   * The protocol version: 5 for MQTT 5.0, 4 for MQTT 3.1.1 (the name MQTT.js users know). On a
   * 3.1.1 connection every MQTT 5.0-only option (properties, Session Expiry, Receive Maximum,
   * topic aliases, enhanced authentication, reason codes, ...) is refused with
   * `ProtocolVersionError` before anything is sent.
   *
   * @default {5}
   */
  protocolVersion?: 4 | 5;
  /**
   * MQTT 3.1.1 only (in 5.0 the server's Receive Maximum decides): the most outgoing QoS 1/2
   * publications the client keeps in flight at once; the next one is refused with
   * `QuotaExceededError` until an acknowledgement frees a slot, and recovery holds back the rest
   * as it does under a Receive Maximum.
   *
   * @default {20 (Mosquitto's default Receive Maximum)}
   */
  maximumInflight?: number;
  /**
   * The Client Identifier; empty asks the server to assign one (on MQTT 3.1.1 only with Clean
   * Session [v3.1.1 MQTT-3.1.3-7]).
   *
   * @default {the session's client identifier, else ""}
   */
  clientId?: string;
  /**
   * Clean Start: begin a new session (the client forgets its own session state too
   * [MQTT-3.1.2-4]). Pass `false` to resume the session held by the server. On MQTT 3.1.1 this
   * is Clean Session: `false` also keeps the session after the connection ends.
   *
   * @default {true}
   */
  cleanStart?: boolean;
  /** Keep Alive in seconds; 0 turns it off. The server may replace it. @default {60} */
  keepAlive?: number;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF means never. @default {0} */
  sessionExpiryInterval?: number;
  /** How many QoS 1/2 publications the client accepts in flight at once. @default {65535} */
  receiveMaximum?: number;
  /**
   * The largest packet the client accepts, in bytes; a larger one ends the connection with
   * DISCONNECT 0x95 before its body is allocated.
   *
   * @default {268435460 (not sent)}
   */
  maximumPacketSize?: number;
  /** The highest Topic Alias the server may use towards the client; 0 allows none. @default {0} */
  topicAliasMaximum?: number;
  /** Ask the server for Response Information in CONNACK. @default {false} */
  requestResponseInformation?: boolean;
  /**
   * Allow the server to send Reason Strings and User Properties on every packet. When `false`,
   * the client treats them as a protocol error except on PUBLISH, CONNACK and DISCONNECT.
   *
   * @default {true}
   */
  requestProblemInformation?: boolean;
  /** The User Name. */
  username?: string;
  /** The Password (never logged). */
  password?: string | Uint8Array;
  /** User properties of the CONNECT. */
  userProperties?: UserProperty[];
  /** The Will Message. */
  will?: WillOptions;
  /** The Authentication Method for enhanced authentication. */
  authenticationMethod?: string;
  /** The initial Authentication Data. */
  authenticationData?: Uint8Array;
  /**
   * Answers each AUTH (0x18, Continue authentication) the server sends before CONNACK. Required
   * when the server continues the exchange.
   */
  onAuth?: (auth: AuthEvent) => AuthResponse | Promise<AuthResponse>;
  /** Aborts the connect; the transport is then closed. */
  signal?: AbortSignal;
}

/** What the server announced in CONNACK, with the specification's defaults filled in. */
export interface ServerLimits {
  /** How many QoS 1/2 publications the client may have in flight. @default {65535} */
  receiveMaximum: number;
  /** The highest QoS the server accepts in PUBLISH. @default {2} */
  maximumQoS: QoS;
  /** Whether RETAIN may be set. @default {true} */
  retainAvailable: boolean;
  /** The largest packet the server accepts; `undefined` means no limit beyond the protocol's. */
  maximumPacketSize: number | undefined;
  /** The highest Topic Alias the client may use; 0 means none. @default {0} */
  topicAliasMaximum: number;
  /** Whether wildcard subscriptions are supported. @default {true} */
  wildcardSubscriptionAvailable: boolean;
  /** Whether Subscription Identifiers are supported. @default {true} */
  subscriptionIdentifierAvailable: boolean;
  /** Whether shared subscriptions are supported. @default {true} */
  sharedSubscriptionAvailable: boolean;
}

/** What {@linkcode Engine.connect} returns: what the CONNACK said. */
export interface ConnectResult {
  /** Whether the server resumed a session it held. */
  sessionPresent: boolean;
  /** The client identifier in use (the assigned one if the server assigned it). */
  clientId: string;
  /** The identifier the server assigned, if the client sent none. */
  assignedClientIdentifier: string | undefined;
  /** The Keep Alive in force, in seconds: the server's if it sent one [MQTT-3.2.2-21]. */
  keepAlive: number;
  /** The Session Expiry Interval in force, in seconds. */
  sessionExpiryInterval: number;
  /** The server's limits. */
  limits: ServerLimits;
  /** Response Information, if requested and given. */
  responseInformation: string | undefined;
  /** A server to use instead, if the server named one. */
  serverReference: string | undefined;
  /** The Reason String, if any. */
  reasonString: string | undefined;
  /** User properties of the CONNACK. */
  userProperties: UserProperty[];
  /** Authentication Data of the CONNACK (enhanced authentication). */
  authenticationData: Uint8Array | undefined;
  /**
   * Outgoing flights the client dropped because the server had no session for it (Session
   * Present 0 on a resume [MQTT-3.2.2-5]): these messages were not delivered.
   */
  discarded: OutgoingFlight[];
  /** The CONNACK packet itself. */
  connack: Connack;
}

/** Options of {@linkcode Engine.publish}. */
export interface PublishOptions {
  /** The topic name (may be empty with a Topic Alias the server already knows). */
  topic: string;
  /** The QoS. @default {0} */
  qos?: QoS;
  /** The RETAIN flag. @default {false} */
  retain?: boolean;
  /** Publication properties (Topic Alias, Message Expiry Interval, Response Topic, ...). */
  properties?: PublishProperties;
  /** Aborts waiting for the write; see {@linkcode Engine.publish}. */
  signal?: AbortSignal;
}

/** One subscription of {@linkcode Engine.subscribe}. */
export interface SubscribeRequest {
  /** The topic filter. */
  filter: string;
  /** The maximum QoS. @default {0} */
  qos?: QoS;
  /** Do not receive this client's own publications. @default {false} */
  noLocal?: boolean;
  /** Keep the RETAIN flag of forwarded messages. @default {false} */
  retainAsPublished?: boolean;
  /** Retain Handling. @default {0} */
  retainHandling?: RetainHandling;
}

/** Options of {@linkcode Engine.subscribe}. */
export interface SubscribeOptions {
  /** A Subscription Identifier for these subscriptions (1 to 268,435,455). */
  subscriptionIdentifier?: number;
  /** User properties of the SUBSCRIBE. */
  userProperties?: UserProperty[];
  /** Aborts waiting for the write. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Engine.unsubscribe}. */
export interface UnsubscribeOptions {
  /** User properties of the UNSUBSCRIBE. */
  userProperties?: UserProperty[];
  /** Aborts waiting for the write. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Engine.disconnect}. */
export interface DisconnectOptions {
  /** The reason code; 0x04 asks the server to publish the will. @default {0} */
  reasonCode?: number;
  /** DISCONNECT properties (Session Expiry Interval, Reason String, User Properties). */
  properties?: DisconnectProperties;
  /** Aborts waiting for the write; the connection is closed either way. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Engine.acknowledge}. */
export interface AcknowledgeOptions {
  /** The reason code (for example 0x80 to refuse a message). @default {0} */
  reasonCode?: number;
  /** Reason String and User Properties of the acknowledgement. */
  properties?: AckProperties;
  /** Aborts waiting for the write. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Engine.auth}. */
export interface AuthOptions {
  /** 0x19 to start a re-authentication, 0x18 to continue one. @default {0x19} */
  reasonCode?: 0x18 | 0x19;
  /** The Authentication Data. */
  authenticationData?: Uint8Array;
  /** A Reason String (left out if it would exceed the server's Maximum Packet Size). */
  reasonString?: string;
  /** User properties (left out if they would exceed the server's Maximum Packet Size). */
  userProperties?: UserProperty[];
  /** Aborts waiting for the write. */
  signal?: AbortSignal;
}

/** Options of methods that only wait. */
export interface SignalOptions {
  /** Aborts the wait. */
  signal?: AbortSignal;
}

/**
 * A publication received. In automatic mode the client has already queued its PUBACK (QoS 1) or
 * PUBREC (QoS 2) to the transport; in manual mode nothing is sent until
 * {@linkcode Engine.acknowledge}.
 */
export interface IncomingMessageEvent {
  /** The event type. */
  type: "message";
  /** The topic name (resolved from a Topic Alias if the server used one). */
  topic: string;
  /** The payload; it belongs to the application and stays valid. */
  payload: Uint8Array;
  /** The QoS. */
  qos: QoS;
  /** The RETAIN flag. */
  retain: boolean;
  /** The DUP flag. */
  dup: boolean;
  /** The Packet Identifier (QoS 1 and 2). */
  packetId: number | undefined;
  /** The publication properties (Subscription Identifiers, Response Topic, ...). */
  properties: PublishProperties;
}

/** An acknowledgement of an outgoing publication. */
export interface PublishAckEvent {
  /**
   * - `acknowledged`: PUBACK with a success code; the QoS 1 flight is over.
   * - `received`: PUBREC with a success code; the client has queued PUBREL.
   * - `completed`: PUBCOMP; the QoS 2 flight is over.
   */
  type: "acknowledged" | "received" | "completed";
  /** The Packet Identifier. */
  packetId: number;
  /** The reason code (0x00, or 0x10 No matching subscribers; 0x92 on PUBCOMP if not found). */
  reasonCode: number;
  /** Reason String and User Properties. */
  properties: AckProperties;
}

/** The server refused an outgoing publication (PUBACK or PUBREC with a code of 0x80 or more). */
export interface PublishRejectedEvent {
  /** The event type. */
  type: "rejected";
  /** The Packet Identifier; the flight is over and the id free again. */
  packetId: number;
  /** The failing reason code (for example 0x97 Quota exceeded, 0x87 Not authorized). */
  reasonCode: number;
  /** Reason String and User Properties. */
  properties: AckProperties;
  /** The publication that was refused. */
  publication: StoredPublication | undefined;
}

/**
 * A publication the client refused: its Payload Format Indicator says UTF-8 but the payload is
 * not. At QoS 1 and 2 the client queued PUBACK / PUBREC 0x99 (Payload format invalid), which ends
 * the flow; the message is not delivered.
 */
export interface RefusedEvent {
  /** The event type. */
  type: "refused";
  /** The topic. */
  topic: string;
  /** The QoS. */
  qos: QoS;
  /** The Packet Identifier (QoS 1 and 2). */
  packetId: number | undefined;
  /** The reason code answered: 0x99. */
  reasonCode: number;
}

/** A QoS 2 PUBLISH came again before its PUBREL: the client re-sent PUBREC and did not deliver it. */
export interface DuplicateEvent {
  /** The event type. */
  type: "duplicate";
  /** The Packet Identifier. */
  packetId: number;
  /** The topic. */
  topic: string;
}

/** A PUBREL for an incoming QoS 2 publication: PUBCOMP queued (automatic mode) or awaited. */
export interface ReleasedEvent {
  /** The event type. */
  type: "released";
  /** The Packet Identifier. */
  packetId: number;
  /** The PUBREL reason code (0x92 if the server lost the id). */
  reasonCode: number;
  /** Whether the client knew the id (else it answered PUBCOMP 0x92). */
  known: boolean;
}

/** SUBACK. */
export interface SubscribedEvent {
  /** The event type. */
  type: "subscribed";
  /** The Packet Identifier of the SUBSCRIBE. */
  packetId: number;
  /** One code per filter: the granted QoS, or a failure code (0x80 or more). */
  reasonCodes: number[];
  /** The filters, in order. */
  filters: string[];
  /** Reason String and User Properties. */
  properties: AckProperties;
}

/** UNSUBACK. */
export interface UnsubscribedEvent {
  /** The event type. */
  type: "unsubscribed";
  /** The Packet Identifier of the UNSUBSCRIBE. */
  packetId: number;
  /** One code per filter. */
  reasonCodes: number[];
  /** The filters, in order. */
  filters: string[];
  /** Reason String and User Properties. */
  properties: AckProperties;
}

/** PINGRESP. */
export interface PongEvent {
  /** The event type. */
  type: "pong";
}

/** The server sent DISCONNECT; the client closed the connection. The session is kept. */
export interface DisconnectedEvent {
  /** The event type. */
  type: "disconnected";
  /** The reason code (for example 0x8E Session taken over, 0x9C Use another server). */
  reasonCode: number;
  /** The Reason String. */
  reasonString: string | undefined;
  /** A server to use instead (with 0x9C or 0x9D). */
  serverReference: string | undefined;
  /** The properties. */
  properties: DisconnectProperties;
}

/**
 * An AUTH from the server during a re-authentication the client started with
 * {@linkcode Engine.auth}: 0x18 asks for more (answer with `client.auth({ reasonCode: 0x18 })`),
 * 0x00 says it succeeded. Before CONNACK, AUTH goes to {@linkcode ConnectOptions.onAuth} instead.
 */
export interface AuthEvent {
  /** The event type. */
  type: "auth";
  /** The reason code: 0x00 success, 0x18 continue, 0x19 re-authenticate. */
  reasonCode: number;
  /** The AUTH properties (method, data, reason string, user properties). */
  properties: AuthProperties;
}

/**
 * What {@linkcode Engine.handle} (and the `Client`'s `poll()`) returns, tagged by `type`. The same
 * events on MQTT 3.1.1, where fields with no 3.1.1 counterpart hold their 5.0 defaults:
 * `properties` is `{}`, acknowledgement reason codes are 0x00 (a failing SUBACK code is 0x80), an
 * `unsubscribed` event's codes are all 0x00 (a 3.1.1 UNSUBACK carries none), and there are no
 * `refused`, `auth` or `disconnected` events (3.1.1 has no payload format, AUTH, or server
 * DISCONNECT).
 */
export type ClientEvent =
  | IncomingMessageEvent
  | PublishAckEvent
  | PublishRejectedEvent
  | DuplicateEvent
  | RefusedEvent
  | ReleasedEvent
  | SubscribedEvent
  | UnsubscribedEvent
  | PongEvent
  | DisconnectedEvent
  | AuthEvent;
