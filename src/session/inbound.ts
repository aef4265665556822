/**
 * Incoming QoS 1 and 2 flows on one connection: the acknowledgements owed, sent in the order the
 * PUBLISHes arrived [MQTT-4.6.0-2], [MQTT-4.6.0-3] (in manual mode one given early waits for those
 * before it), the client's Receive Maximum [MQTT-3.3.4-9], reused Packet Identifiers
 * [MQTT-2.2.1-4], duplicates of QoS 2 publications [MQTT-4.3.3-10], and PUBREL.
 *
 * @module
 */

import { type Packet, PacketType, type QoS } from "../codec/mod.ts";
import type { SessionData } from "./_store.ts";
import { Violation } from "./_violation.ts";
import { ClientStateError } from "./errors.ts";
import type { Logger } from "./log.ts";

/** An incoming publication or release awaiting its acknowledgement. */
interface Entry {
  packetId: number;
  /** `publish`: PUBACK (QoS 1) or PUBREC (QoS 2) is owed; `release`: PUBCOMP is owed. */
  stage: "publish" | "release";
  qos: QoS;
  /** The acknowledgement, once the application gave it (held for order). */
  ack: Packet | undefined;
  /** Whether the acknowledgement is a successful PUBREC (the id then awaits PUBREL). */
  owned: boolean;
}

/** Sends acknowledgements: the engine's output, with Reason Strings dropped to fit. */
export type AckSink = (packet: Packet) => void;

/** The incoming flows of one connection. */
export class InboundFlows {
  #store: SessionData;
  #log: Logger;
  #manual: boolean;
  /** Incoming flows awaiting an acknowledgement, in arrival order. */
  #entries: Entry[] = [];
  /** MQTT 3.1.1: acknowledgements carry no reason code (an unknown PUBREL gets a plain PUBCOMP). */
  v311 = false;

  /** Tracks incoming flows in `store`; `manual` for manual acknowledgement. */
  constructor(store: SessionData, log: Logger, manual: boolean) {
    this.#store = store;
    this.#log = log;
    this.#manual = manual;
  }

  /** A new connection: nothing is owed on it yet. */
  reset(): void {
    this.#entries = [];
  }

  /**
   * A QoS 1 or 2 PUBLISH arrived with `packetId`. Returns `"duplicate"` for a QoS 2 publication
   * whose PUBREC was sent already (PUBREC is sent again; not to be delivered twice), or
   * `"deliver"` once its acknowledgement is sent (automatic mode) or owed (manual mode). Throws a
   * {@linkcode Violation} for a reused id or a Receive Maximum exceeded.
   */
  publish(
    packetId: number,
    qos: 1 | 2,
    receiveMaximum: number,
    send: AckSink,
    debug: boolean,
  ): "deliver" | "duplicate" {
    if (qos === 2 && this.#store.hasIncoming(packetId)) {
      // Its PUBREC was sent already: answer again, do not deliver twice [MQTT-4.3.3-10].
      send({ type: PacketType.Pubrec, packetId });
      this.#log.debug(
        "Incoming QoS 2 publication {packetId} again: PUBREC again, not delivered twice",
        { packetId },
      );
      return "duplicate";
    }
    // One pass, no allocation: a reused id, and the unacknowledged entries to count (an owned
    // or released entry is also in the session's incoming ids: count it once).
    let unreleased = 0;
    for (const e of this.#entries) {
      if (e.stage !== "publish") continue;
      if (e.packetId === packetId) {
        throw new Violation(
          `The server reused Packet Identifier ${packetId} before the client acknowledged it`,
          0x82,
          "MQTT-2.2.1-4",
        );
      }
      if (!e.owned) unreleased++;
    }
    if (unreleased + this.#store.state.incoming.length >= receiveMaximum) {
      throw new Violation(
        `The server sent more than the client's Receive Maximum ${receiveMaximum} of QoS 1/2 publications`,
        0x93,
        "MQTT-3.3.4-9",
      );
    }
    if (this.#manual) {
      this.#entries.push({ packetId, stage: "publish", qos, ack: undefined, owned: false });
    } else if (qos === 1) {
      send({ type: PacketType.Puback, packetId });
    } else {
      this.#store.addIncoming(packetId);
      if (debug) {
        this.#log.debug("Incoming QoS 2 publication {packetId} awaits PUBREL", { packetId });
      }
      send({ type: PacketType.Pubrec, packetId });
    }
    return "deliver";
  }

  /**
   * Refuses a QoS 1 or 2 publication with `reasonCode` (PUBACK or PUBREC), which ends its flow;
   * in manual mode the refusal still waits for those before it.
   */
  refuse(packetId: number, qos: 1 | 2, reasonCode: number, send: AckSink): void {
    const type = qos === 1 ? PacketType.Puback : PacketType.Pubrec;
    const ack = { type, packetId, reasonCode } as Packet;
    if (this.#manual) {
      this.#entries.push({ packetId, stage: "publish", qos, ack, owned: false });
      this.#flush(send);
    } else {
      send(ack);
    }
  }

  /**
   * A PUBREL arrived: whether the id was known. In automatic mode PUBCOMP is sent at once (0x92
   * for an unknown id); in manual mode a known id owes PUBCOMP until the application gives it.
   */
  release(packetId: number, send: AckSink, debug: boolean): boolean {
    // In manual mode the id stays in the session until the application's PUBCOMP goes out, so
    // a PUBREL the server sends again after a reconnect is still known.
    const known = this.#manual
      ? this.#store.hasIncoming(packetId)
      : this.#store.removeIncoming(packetId);
    if (!known) {
      // Normal after a reconnect: the PUBCOMP was sent, and lost, before (section 4.3.3).
      this.#log.debug("PUBREL for {packetId}, which awaits no release: PUBCOMP 0x92", {
        packetId,
      });
    } else if (debug) {
      this.#log.debug("Incoming QoS 2 publication {packetId} released", { packetId });
    }
    if (known && this.#manual) {
      this.#entries.push({ packetId, stage: "release", qos: 2, ack: undefined, owned: false });
    } else {
      send(
        known || this.v311
          ? { type: PacketType.Pubcomp, packetId }
          : { type: PacketType.Pubcomp, packetId, reasonCode: 0x92 },
      );
    }
    return known;
  }

  /**
   * The application's acknowledgement of `packetId` in manual mode, built by `build` from the
   * packet type owed (PUBACK, PUBREC or PUBCOMP). `validate` checks it before anything changes
   * (throwing what the encoder throws). PUBACKs and PUBRECs go out in arrival order; PUBCOMP at
   * once.
   */
  acknowledge(
    packetId: number,
    build: (type: PacketType) => Packet,
    validate: (packet: Packet) => Packet,
    send: AckSink,
  ): void {
    const i = this.#entries.findIndex((e) => e.packetId === packetId && e.ack === undefined);
    if (i < 0) {
      throw new ClientStateError(`No incoming publication ${packetId} awaits an acknowledgement`);
    }
    const entry = this.#entries[i]!;
    const type = entry.stage === "release"
      ? PacketType.Pubcomp
      : entry.qos === 1
      ? PacketType.Puback
      : PacketType.Pubrec;
    // Check the acknowledgement now, so a wrong reason code is refused with nothing sent.
    const ack = validate(build(type));
    entry.ack = ack;
    if (entry.stage === "release") {
      this.#entries.splice(i, 1);
      this.#store.removeIncoming(packetId);
      send(ack);
      return;
    }
    if (type === PacketType.Pubrec && ((ack as { reasonCode?: number }).reasonCode ?? 0) < 0x80) {
      entry.owned = true;
      // The application has the message: record its id now, even while the PUBREC is held for
      // order, so that after a reconnect the server's resent PUBLISH is a duplicate, not a new
      // message delivered twice [MQTT-4.3.3-10].
      this.#store.addIncoming(packetId);
    }
    this.#flush(send);
  }

  /**
   * Sends the PUBACKs and PUBRECs given so far from the head of the queue, in arrival order; one
   * not given yet holds those after it. A PUBCOMP owed holds nothing: the ordering rules order
   * PUBACKs and PUBRECs only [MQTT-4.6.0-2], [MQTT-4.6.0-3].
   */
  #flush(send: AckSink): void {
    const entries = this.#entries;
    let i = 0;
    while (i < entries.length) {
      const e = entries[i]!;
      if (e.stage === "release") {
        i++;
        continue;
      }
      if (e.ack === undefined) break;
      if (i === 0) entries.shift();
      else entries.splice(i, 1);
      if (e.owned) this.#store.addIncoming(e.packetId);
      send(e.ack);
    }
  }
}
