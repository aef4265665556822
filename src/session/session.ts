/**
 * The session: protocol state without I/O, as plain data the user can inspect, keep and hand to a
 * new client after a network failure.
 *
 * @module
 */

import type { PublishProperties, QoS, RetainHandling } from "../codec/mod.ts";

/**
 * Where an outgoing QoS 1 or 2 publication stands (section 4.3), and what recovery does with it
 * after a reconnect with the session (section 4.4):
 * - `awaiting-puback` (QoS 1): PUBLISH sent (or about to be), no PUBACK yet; recovery republishes
 *   it with DUP set.
 * - `awaiting-pubrec` (QoS 2): PUBLISH sent, no PUBREC yet; recovery republishes it with DUP set.
 * - `awaiting-pubcomp` (QoS 2): PUBREC received and PUBREL sent, no PUBCOMP yet; recovery sends
 *   the PUBREL again (re-release) and never the PUBLISH [MQTT-4.3.3-6].
 */
export type OutgoingState = "awaiting-puback" | "awaiting-pubrec" | "awaiting-pubcomp";

/** A publication kept for a possible republish: the full topic, never a topic alias. */
export interface StoredPublication {
  /** The topic name. */
  topic: string;
  /** The payload. */
  payload: Uint8Array;
  /** The QoS: 1 or 2. */
  qos: 1 | 2;
  /** The RETAIN flag. */
  retain: boolean;
  /** The publication properties, without a Topic Alias (aliases do not survive a connection). */
  properties?: PublishProperties;
}

/** One outgoing QoS 1 or 2 publication in flight. */
export interface OutgoingFlight {
  /** Its Packet Identifier. */
  packetId: number;
  /** Where it stands. */
  state: OutgoingState;
  /** The publication, kept while it may have to be republished (absent once PUBREC came). */
  publication?: StoredPublication;
}

/** A subscription the client made, as last acknowledged by the server. */
export interface SubscriptionRecord {
  /** The topic filter. */
  filter: string;
  /** The QoS requested. */
  qos: QoS;
  /** The QoS the server granted (from SUBACK). */
  grantedQoS: QoS;
  /** No Local. */
  noLocal: boolean;
  /** Retain As Published. */
  retainAsPublished: boolean;
  /** Retain Handling. */
  retainHandling: RetainHandling;
  /** The Subscription Identifier sent with it, if any. */
  subscriptionIdentifier?: number;
}

/** The session state: plain data. Every field may be read; change it through {@linkcode Session}. */
export interface SessionState {
  /** The client identifier the session belongs to (the assigned one once known). */
  clientId: string;
  /** The next Packet Identifier to try (1 to 65535). */
  nextPacketId: number;
  /** Outgoing QoS 1 and 2 publications in flight, in the order they were first sent. */
  outgoing: OutgoingFlight[];
  /**
   * Incoming QoS 2 Packet Identifiers whose PUBREC was sent (in manual mode: given by the
   * application, though perhaps still held for order) and whose PUBREL has not come yet.
   */
  incoming: number[];
  /** The subscriptions made, by filter. */
  subscriptions: SubscriptionRecord[];
}

/** A JSON-safe copy of a {@linkcode SessionState}: binary fields as `{ base64 }`. */
export type SessionSnapshot = {
  /** The snapshot format version. */
  version: 1;
  /** The state, with every `Uint8Array` replaced by `{ base64: string }`. */
  state: unknown;
};

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toJsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { base64: toBase64(value) };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}

function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "base64") {
      return fromBase64((value as { base64: string }).base64);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromJsonSafe(v);
    return out;
  }
  return value;
}

/**
 * The session of a client: Packet Identifiers, outgoing publications in flight, incoming QoS 2
 * publications awaiting release, and subscriptions. It does no I/O: the client calls its
 * transitions as packets go out and come in. Keep it (or its {@linkcode Session.snapshot}) to
 * recover after a network failure, and hand it to a new client.
 *
 * @example Keeping a session across clients
 * ```ts
 * import { Session } from "./session.ts";
 * const session = new Session({ clientId: "sensor-1" });
 * const saved = JSON.stringify(session.snapshot());
 * const restored = Session.fromSnapshot(JSON.parse(saved));
 * console.log(restored.state.clientId); // "sensor-1"
 * ```
 */
export class Session {
  /** The state, as plain data. */
  readonly state: SessionState;
  /** Outgoing flights by Packet Identifier: an index over `state.outgoing`. */
  #byId = new Map<number, OutgoingFlight>();
  /** The incoming QoS 2 Packet Identifiers: an index over `state.incoming`. */
  #incoming: Set<number>;

  /** Creates a session, empty or from a state the caller kept. */
  constructor(state: Partial<SessionState> = {}) {
    this.state = {
      clientId: state.clientId ?? "",
      nextPacketId: state.nextPacketId ?? 1,
      outgoing: state.outgoing ?? [],
      incoming: state.incoming ?? [],
      subscriptions: state.subscriptions ?? [],
    };
    for (const f of this.state.outgoing) this.#byId.set(f.packetId, f);
    this.#incoming = new Set(this.state.incoming);
    const id = this.state.nextPacketId;
    if (!Number.isInteger(id) || id < 1 || id > 0xffff) {
      throw new RangeError(`nextPacketId must be from 1 to 65535, got ${id}`);
    }
  }

  /**
   * Rebuilds a session from {@linkcode Session.snapshot}'s output (after `JSON.parse`).
   *
   * @example Restoring
   * ```ts
   * import { Session } from "./session.ts";
   * const s = Session.fromSnapshot(new Session().snapshot());
   * console.log(s.state.outgoing.length); // 0
   * ```
   */
  static fromSnapshot(snapshot: SessionSnapshot): Session {
    if (snapshot?.version !== 1) {
      throw new TypeError("Not a session snapshot of version 1");
    }
    return new Session(fromJsonSafe(snapshot.state) as SessionState);
  }

  /**
   * A JSON-safe deep copy of the state, for storage.
   *
   * @example Saving
   * ```ts
   * import { Session } from "./session.ts";
   * console.log(JSON.stringify(new Session({ clientId: "a" }).snapshot()).length > 0); // true
   * ```
   */
  snapshot(): SessionSnapshot {
    return { version: 1, state: toJsonSafe(this.state) };
  }

  /** Whether the session holds any state worth resuming (flights, incoming ids or subscriptions). */
  get isEmpty(): boolean {
    const s = this.state;
    return s.outgoing.length === 0 && s.incoming.length === 0 && s.subscriptions.length === 0;
  }

  /** Forgets everything but the client identifier (Clean Start, or a server without the session). */
  clear(): void {
    this.state.outgoing = [];
    this.#byId.clear();
    this.state.incoming = [];
    this.#incoming.clear();
    this.state.subscriptions = [];
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
    return flight;
  }

  /** Removes a flight; returns it, or `undefined` when the id was not in flight. */
  removeFlight(packetId: number): OutgoingFlight | undefined {
    const flight = this.#byId.get(packetId);
    if (flight === undefined) return undefined;
    this.#byId.delete(packetId);
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
  }

  /** Forgets an incoming QoS 2 Packet Identifier (PUBREL came); whether it was known. */
  removeIncoming(packetId: number): boolean {
    if (!this.#incoming.delete(packetId)) return false;
    const list = this.state.incoming;
    // PUBRELs mostly come in order, so the id is usually the first.
    if (list[0] === packetId) list.shift();
    else list.splice(list.indexOf(packetId), 1);
    return true;
  }

  /** Records subscriptions acknowledged by the server (replacing ones with the same filter). */
  recordSubscriptions(records: SubscriptionRecord[]): void {
    for (const r of records) {
      const list = this.state.subscriptions;
      const i = list.findIndex((s) => s.filter === r.filter);
      if (i >= 0) list[i] = r;
      else list.push(r);
    }
  }

  /** Forgets subscriptions removed by an UNSUBSCRIBE. */
  forgetSubscriptions(filters: string[]): void {
    this.state.subscriptions = this.state.subscriptions.filter((s) => !filters.includes(s.filter));
  }
}
