/**
 * The session's mutable side, private to the session layer: the engine changes the session only
 * through it, so the {@linkcode Session} the application holds is read-only.
 *
 * @module
 */

import type {
  OutgoingFlight,
  SessionChange,
  SessionState,
  StoredPublication,
  SubscriptionRecord,
} from "./session.ts";

/**
 * The state of a session with its indexes, and the transitions the engine makes. (Named
 * `SessionData`, not `SessionStore`: that is the public interface of durable stores.)
 */
export class SessionData {
  /** The state, as plain data. */
  readonly state: SessionState;
  /**
   * The journal: each transition as a {@linkcode SessionChange}, while journaling is on (an
   * array), for a driver to make durable; `undefined` (off) costs each transition one check.
   */
  journal: SessionChange[] | undefined;
  /** Outgoing flights by Packet Identifier: an index over `state.outgoing`. */
  #byId = new Map<number, OutgoingFlight>();
  /** The incoming QoS 2 Packet Identifiers: an index over `state.incoming`. */
  #incoming: Set<number>;

  /** Takes `state` over (it is not copied). */
  constructor(state: SessionState) {
    this.state = state;
    for (const f of state.outgoing) this.#byId.set(f.packetId, f);
    this.#incoming = new Set(state.incoming);
  }

  /** Whether the session holds any state worth resuming (flights, incoming ids or subscriptions). */
  get isEmpty(): boolean {
    const s = this.state;
    return s.outgoing.length === 0 && s.incoming.length === 0 && s.subscriptions.length === 0;
  }

  /** Forgets everything but the client identifier (Clean Start, or a server without the session). */
  clear(): void {
    this.journal?.push({ op: "clear" });
    this.state.outgoing = [];
    this.#byId.clear();
    this.state.incoming = [];
    this.#incoming.clear();
    this.state.subscriptions = [];
  }

  /** Sets the client identifier (the one the server assigned, or the one connected with). */
  setClientId(clientId: string): void {
    if (clientId === this.state.clientId) return;
    this.state.clientId = clientId;
    this.journal?.push({ op: "client-id", clientId });
  }

  /** The outgoing flight of a Packet Identifier, if it is in flight. */
  flight(packetId: number): OutgoingFlight | undefined {
    return this.#byId.get(packetId);
  }

  /**
   * Allocates a Packet Identifier not in use by an outgoing flight nor by `alsoInUse` (ids the
   * client waits on for SUBACK or UNSUBACK) [MQTT-2.2.1-3]; `undefined` when all 65,535 are taken.
   */
  allocatePacketId(alsoInUse?: (id: number) => boolean): number | undefined {
    const s = this.state;
    let id = s.nextPacketId;
    for (let i = 0; i < 0xffff; i++) {
      if (!this.#byId.has(id) && !(alsoInUse?.(id) ?? false)) {
        s.nextPacketId = id === 0xffff ? 1 : id + 1;
        return id;
      }
      id = id === 0xffff ? 1 : id + 1;
    }
    return undefined;
  }

  /** Records a QoS 1 or 2 PUBLISH about to be sent. */
  addPublication(packetId: number, publication: StoredPublication): OutgoingFlight {
    const flight: OutgoingFlight = {
      packetId,
      state: publication.qos === 1 ? "awaiting-puback" : "awaiting-pubrec",
      publication,
    };
    this.state.outgoing.push(flight);
    this.#byId.set(packetId, flight);
    this.journal?.push({ op: "publish", packetId, publication });
    return flight;
  }

  /** Removes a flight; returns it, or `undefined` when the id was not in flight. */
  removeFlight(packetId: number): OutgoingFlight | undefined {
    const flight = this.#byId.get(packetId);
    if (flight === undefined) return undefined;
    this.#byId.delete(packetId);
    this.journal?.push({ op: "completed", packetId });
    const list = this.state.outgoing;
    // Acknowledgements mostly come in order, so the flight is usually the first (and shift() is
    // cheap where splice() moves every other flight).
    if (list[0] === flight) list.shift();
    else list.splice(list.indexOf(flight), 1);
    return flight;
  }

  /**
   * A successful PUBREC arrived for a QoS 2 flight: it moves to `awaiting-pubcomp` and the stored
   * publication is dropped (it is never sent again [MQTT-4.3.3-6]).
   */
  released(flight: OutgoingFlight): void {
    flight.state = "awaiting-pubcomp";
    delete flight.publication;
    this.journal?.push({ op: "released", packetId: flight.packetId });
  }

  /** Whether an incoming QoS 2 Packet Identifier awaits its PUBREL. */
  hasIncoming(packetId: number): boolean {
    return this.#incoming.has(packetId);
  }

  /** Records an incoming QoS 2 Packet Identifier whose PUBREC is being sent. */
  addIncoming(packetId: number): void {
    if (this.#incoming.has(packetId)) return;
    this.#incoming.add(packetId);
    this.state.incoming.push(packetId);
    this.journal?.push({ op: "incoming", packetId });
  }

  /** Forgets an incoming QoS 2 Packet Identifier (PUBREL came); whether it was known. */
  removeIncoming(packetId: number): boolean {
    if (!this.#incoming.delete(packetId)) return false;
    this.journal?.push({ op: "incoming-done", packetId });
    const list = this.state.incoming;
    // PUBRELs mostly come in order, so the id is usually the first.
    if (list[0] === packetId) list.shift();
    else list.splice(list.indexOf(packetId), 1);
    return true;
  }

  /** Records subscriptions acknowledged by the server (replacing ones with the same filter). */
  recordSubscriptions(records: SubscriptionRecord[]): void {
    if (records.length > 0) this.journal?.push({ op: "subscribed", records });
    for (const r of records) {
      const list = this.state.subscriptions;
      const i = list.findIndex((s) => s.filter === r.filter);
      if (i >= 0) list[i] = r;
      else list.push(r);
    }
  }

  /** Forgets subscriptions removed by an UNSUBSCRIBE. */
  forgetSubscriptions(filters: string[]): void {
    if (filters.length > 0) this.journal?.push({ op: "unsubscribed", filters });
    this.state.subscriptions = this.state.subscriptions.filter((s) => !filters.includes(s.filter));
  }
}
