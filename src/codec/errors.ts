/**
 * The error classes of mqtt5. Every protocol-related error derives from {@linkcode MqttError}.
 *
 * @module
 */

import { describeReasonCode } from "./constants.ts";
import { MqttError } from "../errors.ts";

export { MqttError, type MqttErrorOptions } from "../errors.ts";

/**
 * Bytes that are not a valid MQTT 5.0 (or 3.1.1) packet. `reasonCode` is what the receiver answers
 * with in its DISCONNECT: 0x81 (Malformed Packet), 0x82 (Protocol Error), 0x95 (Packet too large)
 * or 0x84 (Unsupported Protocol Version, for a CONNECT). An MQTT 3.1.1 receiver closes the
 * connection without a reason, and the same codes classify the problem; 0x85 (Client Identifier
 * not valid) marks a 3.1.1 CONNECT to answer with return code 0x02. `offset` is the byte of the
 * packet where the problem was found; the message of a 3.1.1 problem starts with `MQTT 3.1.1:`,
 * its `statement` with `v3.1.1 `.
 *
 * @example Telling a malformed packet apart
 * ```ts
 * import { decode, DecodeError } from "../codec/mod.ts";
 * try {
 *   decode(new Uint8Array([0x36, 0x00])); // PUBLISH with QoS 3
 * } catch (e) {
 *   if (e instanceof DecodeError) console.log(e.reasonCode, e.offset, e.statement);
 * }
 * ```
 */
export class DecodeError extends MqttError {
  /** The offset in the packet (from its first byte) where the problem was found. */
  readonly offset: number;
  /** The reason code the receiver answers with. */
  declare readonly reasonCode: number;

  /** Creates a decode error at `offset` with the reason code to answer with. */
  constructor(
    message: string,
    reasonCode: number,
    offset: number,
    statement?: string,
  ) {
    super(
      `${message} (at byte ${offset}; answer with ${describeReasonCode(reasonCode)}${
        statement ? `; ${statement}` : ""
      })`,
      { reasonCode, recoverable: false, statement },
    );
    this.name = "DecodeError";
    this.offset = offset;
  }
}

/**
 * A packet the encoder refuses to write because it breaks a rule of MQTT 5.0, or of MQTT 3.1.1
 * (then its message names 3.1.1 and its `statement` starts with `v3.1.1 `). Nothing was written;
 * fix the packet and encode it again. `reasonCode` is what a receiver of such a packet would
 * answer with (0x81 or 0x82), to say which kind of rule it breaks.
 *
 * @example Refusing a wildcard in a topic name
 * ```ts
 * import { encode, EncodeError, PacketType } from "../codec/mod.ts";
 * try {
 *   encode({ type: PacketType.Publish, topic: "a/+", payload: new Uint8Array(), qos: 0 });
 * } catch (e) {
 *   if (e instanceof EncodeError) console.log(e.message, e.statement);
 * }
 * ```
 */
export class EncodeError extends MqttError {
  /** Creates an encode error. */
  constructor(message: string, reasonCode: number, statement?: string) {
    super(message + (statement ? ` [${statement}]` : ""), {
      reasonCode,
      recoverable: true,
      statement,
    });
    this.name = "EncodeError";
  }
}
