/**
 * Outgoing QoS 1 and 2 flows (section 4.3) on one connection: which flights were sent on it (the
 * ones that use the server's Receive Maximum there, and may not be sent again on it), the
 * acknowledgements that move them on, and what recovery sends again after a reconnect (section
 * 4.4) and what it still holds back for the quota.
 *
 * @module
 */

import {
  type AckProperties,
  describeReasonCode,
  PacketType,
  packetTypeName,
  type Puback,
  type Pubcomp,
  type Pubrec,
} from "../codec/mod.ts";
import type { SessionData } from "./_store.ts";
import { Violation } from "./_violation.ts";
import { ClientStateError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { OutgoingFlight } from "./session.ts";
import type { PublishAckEvent, PublishRejectedEvent } from "./types.ts";

/** The properties of an acknowledgement that had none: one frozen, empty object for all. */
const NO_PROPERTIES: AckProperties = Object.freeze({});

/** What an acknowledgement of an outgoing publication calls for. */
export type AckOutcome =
  | PublishAckEvent
  | PublishRejectedEvent
  /** A PUBREC for an id not in flight: answer PUBREL 0x92 (section 4.3.3). */
  | { type: "unknown-pubrec"; packetId: number }
  /** A PUBREC again for a flight awaiting PUBCOMP: answer PUBREL again. */
  | { type: "pubrec-again"; packetId: number };

/** The outgoing flights of the session as they stand on the current connection. */
export class OutgoingFlows {
  #store: SessionData;
  #log: Logger;
  /**
   * Flights sent on this connection and not over (resending them is not allowed), by Packet
   * Identifier: 1 when sent. An array indexed by id costs nothing per publication, where a set
   * allocates as ids come and go.
   */
  #sentHere = new Uint8Array(65_536);

  /** Tracks the flights of `store`, logging to `log`. */
  constructor(store: SessionData, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** A new connection: nothing was sent on it yet. */
  reset(): void {
    this.#sentHere.fill(0);
  }

  /** Records that a flight's PUBLISH or PUBREL was queued on this connection. */
  sent(packetId: number): void {
    this.#sentHere[packetId] = 1;
  }

  /** Whether a flight's PUBLISH or PUBREL was queued on this connection. */
  isSent(packetId: number): boolean {
    return this.#sentHere[packetId] === 1;
  }

  /**
   * The flights sent on this connection and not over yet: they use the server's Receive Maximum
   * on it [MQTT-3.3.4-7].
   */
  inFlightHere(): number {
    let n = 0;
    for (const flight of this.#store.state.outgoing) {
      if (this.#sentHere[flight.packetId] === 1) n++;
    }
    return n;
  }

  /**
   * The flights of the session not sent on this connection yet, in their original order: after a
   * reconnect, those `Engine.resend()` has not resent (held back by the
   * server's Receive Maximum, or not resent yet at all).
   */
  heldBack(): number[] {
    const ids: number[] = [];
    for (const flight of this.#store.state.outgoing) {
      if (this.#sentHere[flight.packetId] !== 1) ids.push(flight.packetId);
    }
    return ids;
  }

  /**
   * The flight of `packetId` if it may be sent again on this connection; refused with
   * {@linkcode ClientStateError} otherwise (nothing sent).
   */
  toResend(packetId: number): OutgoingFlight {
    const flight = this.#store.flight(packetId);
    if (flight === undefined) {
      throw new ClientStateError(`Packet Identifier ${packetId} is not in flight in the session`);
    }
    if (this.#sentHere[packetId] === 1) {
      throw new ClientStateError(
        `Packet Identifier ${packetId} was already sent on this connection; resending is only allowed after a reconnect [MQTT-4.4.0-1]`,
      );
    }
    return flight;
  }

  /**
   * Handles PUBACK, PUBREC or PUBCOMP: moves the flight on (a successful PUBREC to
   * `awaiting-pubcomp`; anything else ends it) and says what happened. Throws a
   * {@linkcode Violation} for an acknowledgement of a flight not in the state it acknowledges.
   */
  acknowledged(packet: Puback | Pubrec | Pubcomp, debug: boolean): AckOutcome {
    const packetId = packet.packetId;
    const flight = this.#store.flight(packetId);
    const reasonCode = packet.reasonCode ?? 0;
    const properties = packet.properties ?? NO_PROPERTIES;
    const expected = packet.type === PacketType.Puback
      ? "awaiting-puback"
      : packet.type === PacketType.Pubrec
      ? "awaiting-pubrec"
      : "awaiting-pubcomp";
    if (flight === undefined || flight.state !== expected) {
      if (packet.type === PacketType.Pubrec) {
        return flight?.state === "awaiting-pubcomp" && (packet.reasonCode ?? 0) < 0x80
          ? { type: "pubrec-again", packetId }
          : { type: "unknown-pubrec", packetId };
      }
      throw new Violation(
        `The server sent ${
          packetTypeName[packet.type]
        } for Packet Identifier ${packetId}, which is not ${expected}`,
        0x82,
      );
    }
    if (packet.type === PacketType.Pubrec && reasonCode < 0x80) {
      this.#store.released(flight);
      if (debug) {
        this.#log.debug("Flight {packetId} awaiting-pubcomp; PUBREL queued", { packetId });
      }
      return { type: "received", packetId, reasonCode, properties };
    }
    this.#store.removeFlight(packetId);
    // The id is free again: forget that it was sent here.
    this.#sentHere[packetId] = 0;
    const name = packetTypeName[packet.type];
    if (reasonCode >= 0x80) {
      const fields = {
        packetId,
        topic: flight.publication?.topic,
        reasonString: properties.reasonString,
      };
      if (packet.type === PacketType.Pubcomp) {
        // PUBCOMP 0x92 after a reconnect is normal recovery (section 4.3.3): the server had
        // completed the flow already.
        this.#log.debug(
          `Flight {packetId} over: ${name} ${describeReasonCode(reasonCode)}`,
          fields,
        );
      } else {
        this.#log.warning(
          `The server rejected publication {packetId} to {topic}: ${name} ${
            describeReasonCode(reasonCode)
          }`,
          fields,
        );
      }
    } else if (debug) {
      this.#log.debug(`Flight {packetId} over (${name}); {inFlight} in flight`, {
        packetId,
        inFlight: this.#store.state.outgoing.length,
      });
    }
    // A failing PUBCOMP (0x92) still ends the flow: the message was released already.
    if (reasonCode >= 0x80 && packet.type !== PacketType.Pubcomp) {
      return {
        type: "rejected",
        packetId,
        reasonCode,
        properties,
        publication: flight.publication,
      };
    }
    return {
      type: packet.type === PacketType.Puback ? "acknowledged" : "completed",
      packetId,
      reasonCode,
      properties,
    };
  }
}
