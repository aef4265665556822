/**
 * SUBSCRIBE and UNSUBSCRIBE awaiting their acknowledgement on one connection, matched by Packet
 * Identifier in any order, and the session's record of what the server granted.
 *
 * @module
 */

import {
  describeReasonCode,
  PacketType,
  packetTypeName,
  type QoS,
  type Suback,
  type Subscription,
  type Unsuback,
} from "../codec/mod.ts";
import type { SessionData } from "./_store.ts";
import { Violation } from "./_violation.ts";
import type { Logger } from "./log.ts";
import type { SubscribedEvent, UnsubscribedEvent } from "./types.ts";

interface Pending {
  kind: "sub" | "unsub";
  requests: readonly Subscription[];
  filters: string[];
  id: number | undefined;
}

/** The requests awaiting SUBACK or UNSUBACK. */
export class PendingRequests {
  #store: SessionData;
  #log: Logger;
  #pending = new Map<number, Pending>();
  /** MQTT 3.1.1: UNSUBACK carries no reason codes (every filter then reads 0x00 Success). */
  v311 = false;

  /** Tracks requests whose results go to `store`. */
  constructor(store: SessionData, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** A new connection: acknowledgements of the old one never come. */
  reset(): void {
    this.#pending.clear();
  }

  /** Whether `packetId` is in use by a request awaiting its acknowledgement [MQTT-2.2.1-3]. */
  has(packetId: number): boolean {
    return this.#pending.has(packetId);
  }

  /** A SUBSCRIBE was queued. */
  subscribed(packetId: number, requests: readonly Subscription[], id: number | undefined): void {
    this.#pending.set(packetId, {
      kind: "sub",
      requests,
      filters: requests.map((s) => s.filter),
      id,
    });
  }

  /** An UNSUBSCRIBE was queued. */
  unsubscribed(packetId: number, filters: string[]): void {
    this.#pending.set(packetId, { kind: "unsub", requests: [], filters, id: undefined });
  }

  /**
   * Handles SUBACK or UNSUBACK: records the subscriptions granted or removed in the session and
   * returns the event. Throws a {@linkcode Violation} for one that matches no request
   * [MQTT-3.8.4-2] or has the wrong number of codes [MQTT-3.8.4-6].
   */
  acknowledged(packet: Suback | Unsuback): SubscribedEvent | UnsubscribedEvent {
    const pending = this.#pending.get(packet.packetId);
    const isSuback = packet.type === PacketType.Suback;
    const kind = isSuback ? "sub" : "unsub";
    const name = packetTypeName[packet.type];
    if (pending === undefined || pending.kind !== kind) {
      throw new Violation(
        `The server sent ${name} for Packet Identifier ${packet.packetId}, which awaits none`,
        0x82,
        "MQTT-3.8.4-2",
      );
    }
    const codes = this.v311 && !isSuback ? pending.filters.map(() => 0) : packet.reasonCodes;
    if (codes.length !== pending.filters.length) {
      throw new Violation(
        `The server's ${name} has ${codes.length} reason codes for ${pending.filters.length} filters`,
        0x82,
        "MQTT-3.8.4-6",
      );
    }
    this.#pending.delete(packet.packetId);
    const properties = packet.properties ?? {};
    codes.forEach((code, i) => {
      const fields = { filter: pending.filters[i] };
      const reason = describeReasonCode(code);
      if (code >= 0x80) {
        this.#log.warning(`The server refused ${kind}scribing {filter}: ${reason}`, fields);
      } else {
        this.#log.debug(`${isSuback ? "S" : "Uns"}ubscribed {filter}: ${reason}`, fields);
      }
    });
    const event = {
      packetId: packet.packetId,
      reasonCodes: codes,
      filters: pending.filters,
      properties,
    };
    if (isSuback) {
      this.#store.recordSubscriptions(
        pending.requests.flatMap((r, i) => {
          const code = codes[i]!;
          if (code >= 0x80) return [];
          return [{
            filter: r.filter,
            qos: r.qos ?? 0,
            grantedQoS: code as QoS,
            noLocal: r.noLocal ?? false,
            retainAsPublished: r.retainAsPublished ?? false,
            retainHandling: r.retainHandling ?? 0,
            ...(pending.id !== undefined ? { subscriptionIdentifier: pending.id } : {}),
          }];
        }),
      );
      return { type: "subscribed", ...event };
    }
    this.#store.forgetSubscriptions(pending.filters.filter((_, i) => codes[i]! < 0x80));
    return { type: "unsubscribed", ...event };
  }
}
