/**
 * The errors of the protocol engine and the client. All derive from {@linkcode MqttError}:
 * `reasonCode` says which MQTT reason code applies, `recoverable` whether the client is still
 * usable (nothing was sent), `sessionResumable` whether the session can be resumed after an error
 * that ended the connection, and `cause` what lies beneath.
 *
 * @module
 */

import { describeReasonCode } from "../codec/mod.ts";
import { MqttError, type MqttErrorOptions } from "../errors.ts";

/**
 * The client is not connected (never was, or the connection ended). Nothing was sent. Connect
 * (again, with the session, to resume) and retry.
 *
 * @example
 * ```ts
 * import { Client, NotConnectedError } from "../../mod.ts";
 * try {
 *   await new Client().publish({ topic: "a", qos: 0 }, "x");
 * } catch (e) {
 *   console.log(e instanceof NotConnectedError); // true
 * }
 * ```
 */
export class NotConnectedError extends MqttError {
  /** Creates the error. */
  constructor(message: string, options: MqttErrorOptions = {}) {
    super(message, { recoverable: true, ...options });
    this.name = "NotConnectedError";
  }
}

/**
 * The {@linkcode NotConnectedError} for a call made while a connection is not up: says why it
 * ended, if it did, and whether the session can be resumed.
 *
 * @example
 * ```ts
 * import { notConnected } from "./errors.ts";
 * const e = notConnected("publish", { state: "disconnected", closeError: undefined });
 * console.log(e.message); // "Cannot publish: the client is disconnected; connect first (with the session, to resume)"
 * ```
 */
export function notConnected(
  what: string,
  engine: { readonly state: string; readonly closeError: MqttError | undefined },
): NotConnectedError {
  const closed = engine.closeError;
  return new NotConnectedError(
    `Cannot ${what}: the client is ${engine.state}` + (closed ? ` (${closed.message})` : "") +
      "; connect first (with the session, to resume)",
    { sessionResumable: closed?.sessionResumable ?? false },
  );
}

/**
 * The network connection ended or failed (a read or a write failed, or the server closed it
 * without DISCONNECT). Not recoverable on this connection: the session is intact; reconnect with
 * it on a new transport and recover the flights.
 *
 * @example
 * ```ts
 * import { ConnectionClosedError } from "../../mod.ts";
 * const e = new ConnectionClosedError("The connection was closed by the server");
 * console.log(e.recoverable); // false
 * ```
 */
export class ConnectionClosedError extends MqttError {
  /**
   * The Packet Identifier of a QoS 1/2 publication whose write failed: its flight is kept in the
   * session, to be resent after reconnecting. `undefined` for other calls.
   */
  readonly packetId: number | undefined;
  /** Creates the error. */
  constructor(message: string, options: MqttErrorOptions & { packetId?: number } = {}) {
    super(message, { recoverable: false, ...options });
    this.name = "ConnectionClosedError";
    this.packetId = options.packetId;
  }
}

/**
 * The server refused the connection: its CONNACK carried a failing reason code. The connection
 * is closed. `serverReference` is set when the server named another server to use (0x9C, 0x9D).
 *
 * @example
 * ```ts
 * import { ConnectionRefusedError } from "../../mod.ts";
 * const e = new ConnectionRefusedError(0x86);
 * console.log(e.message); // "The server refused the connection: 0x86 (Bad User Name or Password)"
 * ```
 */
export class ConnectionRefusedError extends MqttError {
  /** The Reason String of the CONNACK, if any. */
  readonly reasonString: string | undefined;
  /** The Server Reference of the CONNACK, if any: the server to use instead. */
  readonly serverReference: string | undefined;
  /**
   * The refusing reason code; on MQTT 3.1.1 the 5.0 code of the same meaning (return code 1 is
   * 0x84, 2 is 0x85, 3 is 0x88, 4 is 0x86, 5 is 0x87).
   */
  declare readonly reasonCode: number;
  /** On MQTT 3.1.1, the CONNACK's return code as sent (1 to 5); `undefined` on 5.0. */
  readonly returnCode: number | undefined;

  /** Creates the error from the CONNACK's reason code and properties. */
  constructor(
    reasonCode: number,
    details: {
      reasonString?: string;
      serverReference?: string;
      sessionResumable?: boolean;
      returnCode?: number;
    } = {},
  ) {
    super(
      `The server refused the connection: ${describeReasonCode(reasonCode)}` +
        (details.returnCode !== undefined
          ? ` (MQTT 3.1.1 return code ${details.returnCode})`
          : "") +
        (details.reasonString ? `: ${details.reasonString}` : "") +
        (details.serverReference ? ` (use server ${details.serverReference})` : ""),
      { reasonCode, recoverable: false, sessionResumable: details.sessionResumable ?? false },
    );
    this.name = "ConnectionRefusedError";
    this.returnCode = details.returnCode;
    this.reasonString = details.reasonString;
    this.serverReference = details.serverReference;
  }
}

/**
 * The server broke the protocol (a malformed packet, a packet that is not allowed now, a limit the
 * client announced). The client sent DISCONNECT with `reasonCode` and closed the connection. The
 * session is intact: reconnect with it.
 *
 * @example
 * ```ts
 * import { ProtocolViolationError } from "../../mod.ts";
 * const e = new ProtocolViolationError("Topic Alias 9 is above the maximum 5", 0x94);
 * console.log(e.reasonCode, e.recoverable); // 148 false
 * ```
 */
export class ProtocolViolationError extends MqttError {
  /** The reason code of the DISCONNECT the client sent. */
  declare readonly reasonCode: number;
  /**
   * When the violating packet was the server's own DISCONNECT (for example one carrying a Session
   * Expiry Interval [MQTT-3.14.2-2]): the reason code it gave, such as 0x8B Server shutting down.
   */
  readonly serverReasonCode: number | undefined;
  /** The Reason String of that DISCONNECT, if it had one. */
  readonly serverReasonString: string | undefined;
  /**
   * Creates the error. `disconnectSent: false` for MQTT 3.1.1, which has no DISCONNECT for a
   * client to answer a violation with: the client only closed the connection.
   */
  constructor(
    message: string,
    reasonCode: number,
    options: MqttErrorOptions & {
      serverReasonCode?: number;
      serverReasonString?: string;
      disconnectSent?: boolean;
    } = {},
  ) {
    const { serverReasonCode, serverReasonString, disconnectSent = true, ...rest } = options;
    super(
      message +
        (disconnectSent
          ? `; the client sent DISCONNECT ${
            describeReasonCode(reasonCode)
          } and closed the connection`
          : "; the client closed the connection (MQTT 3.1.1 has no DISCONNECT reason code)") +
        " (reconnect with the session to go on)",
      { ...rest, reasonCode, recoverable: false },
    );
    this.name = "ProtocolViolationError";
    this.serverReasonCode = serverReasonCode;
    this.serverReasonString = serverReasonString;
  }
}

/**
 * The server's Receive Maximum is used up: as many QoS 1 and 2 publications are in flight as it
 * accepts [MQTT-3.3.4-7]. Nothing was sent. Poll until an acknowledgement frees a slot, then retry.
 *
 * @example
 * ```ts
 * import { QuotaExceededError } from "../../mod.ts";
 * console.log(new QuotaExceededError(20).recoverable); // true
 * ```
 */
export class QuotaExceededError extends MqttError {
  /** The limit: the server's Receive Maximum (on MQTT 3.1.1, the client's `maximumInflight`). */
  readonly receiveMaximum: number;
  /** Creates the error; `protocolVersion` 4 says the limit is the client's own. */
  constructor(receiveMaximum: number, protocolVersion: 4 | 5 = 5) {
    super(
      protocolVersion === 4
        ? `Cannot publish: ${receiveMaximum} QoS 1/2 publications are in flight, the connection's ` +
          "maximumInflight (MQTT 3.1.1 has no Receive Maximum); poll until an acknowledgement " +
          "frees a slot, then publish again"
        : `Cannot publish: ${receiveMaximum} QoS 1/2 publications are in flight, the server's ` +
          "Receive Maximum; poll until an acknowledgement frees a slot, then publish again",
      {
        reasonCode: 0x97,
        recoverable: true,
        ...(protocolVersion === 5 ? { statement: "MQTT-3.3.4-7" } : {}),
      },
    );
    this.name = "QuotaExceededError";
    this.receiveMaximum = receiveMaximum;
  }
}

/**
 * What was asked is beyond what the server announced in its CONNACK (a QoS above its Maximum QoS,
 * RETAIN without Retain Available, a packet over its Maximum Packet Size, a topic alias above its
 * maximum, a wildcard, shared or identified subscription it does not support). Nothing was sent;
 * `reasonCode` is the code the server would have answered with.
 *
 * @example
 * ```ts
 * import { ServerCapabilityError } from "../../mod.ts";
 * console.log(new ServerCapabilityError("QoS 2 is above the server's maximum 1", 0x9b).recoverable); // true
 * ```
 */
export class ServerCapabilityError extends MqttError {
  /** The reason code the server would have answered with. */
  declare readonly reasonCode: number;
  /** Creates the error. */
  constructor(message: string, reasonCode: number, statement?: string) {
    super(message, { reasonCode, recoverable: true, statement });
    this.name = "ServerCapabilityError";
  }
}

/**
 * Every Packet Identifier (1 to 65535) is in use. Nothing was sent. Poll until flights complete.
 *
 * @example
 * ```ts
 * import { PacketIdExhaustedError } from "../../mod.ts";
 * console.log(new PacketIdExhaustedError().recoverable); // true
 * ```
 */
export class PacketIdExhaustedError extends MqttError {
  /** Creates the error. */
  constructor() {
    super(
      "Cannot send: all 65,535 Packet Identifiers are in use; poll until flights complete",
      { recoverable: true, statement: "MQTT-2.2.1-3" },
    );
    this.name = "PacketIdExhaustedError";
  }
}

/**
 * A call that is not valid in the client's current state (for example polling twice at once, or
 * acknowledging a message that awaits no acknowledgement). Nothing was sent.
 *
 * @example
 * ```ts
 * import { ClientStateError } from "../../mod.ts";
 * console.log(new ClientStateError("poll() is already running").recoverable); // true
 * ```
 */
export class ClientStateError extends MqttError {
  /** Creates the error. */
  constructor(message: string, options: MqttErrorOptions = {}) {
    super(message, { recoverable: true, ...options });
    this.name = "ClientStateError";
  }
}

/**
 * An MQTT 5.0-only option was given for an MQTT 3.1.1 connection (properties, Session Expiry,
 * topic aliases, Subscription Identifiers, No Local, Retain As Published, Retain Handling, reason
 * codes, enhanced authentication, will properties, ...). Nothing was sent; leave the option out,
 * or connect with `protocolVersion: 5`.
 *
 * @example
 * ```ts
 * import { ProtocolVersionError } from "./errors.ts";
 * const e = new ProtocolVersionError("properties.messageExpiryInterval", 4);
 * console.log(e.message); // Cannot use properties.messageExpiryInterval on an MQTT 3.1.1 connection: it is an MQTT 5.0 feature; leave it out or connect with protocolVersion 5
 * ```
 */
export class ProtocolVersionError extends MqttError {
  /** The option refused, as it is named in the call (e.g. `properties.topicAlias`). */
  readonly option: string;
  /** The protocol version of the connection. */
  readonly protocolVersion: 4 | 5;
  /** Creates the error for `option` on a connection of `protocolVersion`. */
  constructor(option: string, protocolVersion: 4 | 5) {
    super(
      `Cannot use ${option} on an MQTT 3.1.1 connection: it is an MQTT 5.0 feature; leave it out or connect with protocolVersion 5`,
      { recoverable: true },
    );
    this.name = "ProtocolVersionError";
    this.option = option;
    this.protocolVersion = protocolVersion;
  }
}
