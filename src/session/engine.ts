/**
 * The protocol engine: the whole of MQTT 5.0's client side as a synchronous state machine with no
 * I/O, no timers and no clock reads. Commands (connect, publish, subscribe, acknowledge, ...) and
 * received bytes or packets go in; out come the bytes to write (into an {@linkcode Output}), the
 * events, and protocol violations, each with the DISCONNECT that answers it already queued. Time
 * is an argument, so every rule is a plain unit test. The `Client` drives it over a transport; an
 * application can drive it from its own event loop, worker or simulator.
 *
 * This file holds the commands and the dispatch of incoming packets; each concept has a file of
 * its own: limits.ts (the server's limits), aliases.ts (topic aliases), flows.ts (outgoing QoS
 * flows), inbound.ts (incoming QoS flows and acknowledgement order), subscriptions.ts (pending
 * SUBSCRIBE and UNSUBSCRIBE), keep_alive.ts, and _store.ts (the session's transitions). It is
 * longer than 500 lines because the engine's public surface is one class.
 *
 * @module
 */

import {
  type AckProperties,
  type Connack,
  type Connect,
  type DecodeError,
  describeReasonCode,
  encodedLength,
  EncodeError,
  type EncodeOptions,
  isWellFormedUtf8,
  type Packet,
  PacketType,
  packetTypeName,
  type Publish,
  type PublishProperties,
  type Subscribe,
  type SubscribeProperties,
} from "../codec/mod.ts";
import {
  type OutgoingFlight,
  Session,
  type SessionChange,
  sessionStore,
  type StoredPublication,
} from "./session.ts";
import type { SessionData } from "./_store.ts";
import { Violation } from "./_violation.ts";
import {
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  notConnected,
  PacketIdExhaustedError,
  ProtocolViolationError,
  QuotaExceededError,
} from "./errors.ts";
import { Framer } from "./_framer.ts";
import { InboundAliases, OutboundAliases } from "./aliases.ts";
import { buildConnect, checkAuth, checkConnack, checkConnectAuth, toBytes } from "./connection.ts";
import { OutgoingFlows } from "./flows.ts";
import { InboundFlows } from "./inbound.ts";
import { KeepAlive, type KeepAliveTimes } from "./keep_alive.ts";
import {
  checkPublish,
  checkRepublish,
  checkSubscribe,
  checkTopicAlias,
  DEFAULT_LIMITS,
  limitsOf,
} from "./limits.ts";
import { type Logger, silentLogger } from "./log.ts";
import { BytesOutput, type Output } from "./output.ts";
import { PendingRequests } from "./subscriptions.ts";
import {
  checkAcknowledgeV311,
  checkConnectV311,
  checkDisconnectV311,
  checkPublishV311,
  checkSubscribeV311,
  checkUnsubscribeV311,
  DEFAULT_MAXIMUM_INFLIGHT,
  limitsV311,
  reasonCodeOfReturnCode,
  refuseAuthV311,
  statementV311,
} from "./version.ts";
import type {
  AcknowledgeOptions,
  AuthOptions,
  ClientEvent,
  ConnectOptions,
  ConnectResult,
  DisconnectOptions,
  PublishOptions,
  ServerLimits,
  SubscribeOptions,
  SubscribeRequest,
  UnsubscribeOptions,
} from "./types.ts";

/**
 * Where the engine's connection stands: `disconnected` before the first connect, `connecting`
 * once CONNECT is queued, `connected` after a successful CONNACK, `closed` once the connection
 * ended (by DISCONNECT either way, a violation, a refusal, a lost connection or keep alive).
 */
export type EngineState = "disconnected" | "connecting" | "connected" | "closed";

/** Options of the {@linkcode Engine}. */
export interface EngineOptions {
  /** The session to use: a new, empty one, or one kept from earlier. @default {new Session()} */
  session?: Session;
  /**
   * Manual acknowledgement: PUBACK, PUBREC and PUBCOMP for incoming publications are sent only
   * when the application calls {@linkcode Engine.acknowledge}.
   *
   * @default {false}
   */
  manualAck?: boolean;
  /**
   * Strict UTF-8 rules: reject control characters and non-characters in strings, sent or
   * received (section 1.5.4).
   *
   * @default {true}
   */
  strict?: boolean;
  /**
   * The outgoing topic alias policy. `"manual"`: aliases only where a publication names one.
   * `"auto"`: the first topics published on a connection get the aliases the server allows, and
   * later publications to them send the alias alone.
   *
   * @default {"manual"}
   */
  topicAliases?: "manual" | "auto";
  /**
   * How long a PINGREQ may go unanswered before the server counts as gone, in milliseconds.
   *
   * @default {the Keep Alive interval}
   */
  pingTimeout?: number;
  /** Where state transitions, refusals and violations are logged. @default {silentLogger} */
  logger?: Logger;
  /**
   * Where the packets to send go. By default a {@linkcode BytesOutput}, whose bytes
   * {@linkcode Engine.takeOutput} hands out; a driver with its own write batching passes its own.
   *
   * @default {new BytesOutput()}
   */
  output?: Output;
  /**
   * Journal the session's transitions for a durable store: {@linkcode Engine.takeChanges} then
   * hands them out. Off, a transition costs one check more.
   *
   * @default {false}
   */
  journal?: boolean;
}

/** The CONNACK accepted the connection: what it said, as {@linkcode ConnectResult}. */
export interface ConnectedEvent extends ConnectResult {
  /** The event type. */
  type: "connected";
}

/** What the engine reports: a client event, or the connection accepted. */
export type EngineEvent = ClientEvent | ConnectedEvent;

const PINGREQ: Packet = Object.freeze({ type: PacketType.Pingreq });
/**
 * The properties of an event whose packet had none: one frozen, empty object for all of them, not
 * one per message.
 */
const NO_PROPERTIES: AckProperties & PublishProperties = Object.freeze({});

/**
 * A synchronous, I/O-free MQTT 5.0 client protocol engine. It owns every protocol rule of the
 * client: the server's limits and capability checks, Packet Identifiers, the send quota and what
 * recovery holds back, topic aliases both ways, incoming acknowledgement order and the client's
 * Receive Maximum, pending SUBSCRIBE/UNSUBSCRIBE, keep-alive deadlines, re-authentication and the
 * {@linkcode Session}. It reads no clock: every call that depends on time takes `now`
 * (milliseconds in the caller's clock, such as `Date.now()`).
 *
 * Commands queue the packets they send into the output, checked first: a refused command throws
 * with nothing queued and nothing changed. Bytes received go to {@linkcode Engine.receive} (or
 * whole packets to {@linkcode Engine.handle}); the replies the protocol requires are queued at
 * once, and the events come from {@linkcode Engine.nextEvent}. A server that breaks a rule gets
 * DISCONNECT with the matching reason code (queued; write it, then close) and the call throws
 * {@linkcode ProtocolViolationError}.
 *
 * @example Driving the engine by hand
 * ```ts
 * import { Engine } from "./engine.ts";
 * const engine = new Engine();
 * engine.connect({ clientId: "sensor-1", keepAlive: 30 }, 0);
 * const connect = engine.takeOutput()!; // write these bytes to the server
 * console.log(connect[0]); // 16 (CONNECT)
 * engine.receive(new Uint8Array([0x20, 0x03, 0x00, 0x00, 0x00]), 5); // CONNACK from the server
 * console.log(engine.nextEvent()?.type); // "connected"
 * const id = engine.publish({ topic: "sensors/1", qos: 1 }, "21.5");
 * console.log(id, engine.takeOutput()!.length); // 1 20
 * engine.receive(new Uint8Array([0x40, 0x02, 0x00, 0x01]), 9); // PUBACK 1
 * console.log(engine.nextEvent()?.type); // "acknowledged"
 * ```
 */
export class Engine {
  /** The session: flights, incoming QoS 2 ids, subscriptions. Read-only to the application. */
  readonly session: Session;
  #store: SessionData;
  #out: Output;
  #manualAck: boolean;
  #autoTopicAlias: boolean;
  #strict: boolean;
  #log: Logger;
  #state: EngineState = "disconnected";
  /** The protocol version of the connection: 4 (MQTT 3.1.1) or 5. */
  #version: 4 | 5 = 5;
  #limits: ServerLimits = DEFAULT_LIMITS;
  #connect: Connect | undefined;
  #connectOptions: ConnectOptions = {};
  #keepAlive: KeepAlive;
  /** The Session Expiry Interval in force, in seconds. */
  #sessionExpiry = 0;
  #flows: OutgoingFlows;
  #inbound: InboundFlows;
  #requests: PendingRequests;
  #inAliases = new InboundAliases();
  #outAliases = new OutboundAliases();
  /** An AUTH exchange is under way: before CONNACK, or a re-authentication the client started. */
  #authenticating = false;
  #closeError: ConnectionClosedError | ProtocolViolationError | ConnectionRefusedError | undefined;
  #encodeOpts: EncodeOptions;
  #debug = false;
  #events: EngineEvent[] = [];
  #eventsAt = 0;
  /** Bytes received by {@linkcode Engine.receive} that do not make a whole packet yet. */
  #framer = new Framer();

  /** Creates an engine; nothing is queued until {@linkcode Engine.connect}. */
  constructor(options: EngineOptions = {}) {
    this.session = options.session ?? new Session();
    this.#store = sessionStore(this.session);
    // The engine driving the session decides: one without a store turns the journal off, so a
    // session handed on from a journaled client does not collect changes nobody takes.
    if (options.journal) this.#store.journal ??= [];
    else this.#store.journal = undefined;
    this.#out = options.output ?? new BytesOutput();
    this.#manualAck = options.manualAck ?? false;
    this.#autoTopicAlias = options.topicAliases === "auto";
    this.#strict = options.strict ?? true;
    this.#log = options.logger ?? silentLogger;
    this.#keepAlive = new KeepAlive(options.pingTimeout);
    this.#flows = new OutgoingFlows(this.#store, this.#log);
    this.#inbound = new InboundFlows(this.#store, this.#log, this.#manualAck);
    this.#requests = new PendingRequests(this.#store, this.#log);
    this.#encodeOpts = { strict: this.#strict };
  }

  /** Where the connection stands. */
  get state(): EngineState {
    return this.#state;
  }

  /** The server's limits from the last CONNACK (the specification's defaults before one). */
  get limits(): ServerLimits {
    return this.#limits;
  }

  /** Why the connection ended, once it has (`undefined` while it lasts). */
  get closeError():
    | ConnectionClosedError
    | ProtocolViolationError
    | ConnectionRefusedError
    | undefined {
    return this.#closeError;
  }

  /** Whether the session could be resumed now with `cleanStart: false`; see `MqttError.sessionResumable`. */
  get sessionResumable(): boolean {
    // MQTT 3.1.1 keeps a session exactly when Clean Session is 0 [v3.1.1 MQTT-3.1.2-4].
    if (this.#version === 4) return this.#connect?.cleanStart === false;
    return this.#sessionExpiry > 0;
  }

  /** The protocol version of the current (or last) connection: 4 for MQTT 3.1.1, 5 for 5.0. */
  get protocolVersion(): 4 | 5 {
    return this.#version;
  }

  /**
   * How many more QoS 1/2 publications the server's Receive Maximum admits now (0 while it is
   * used up; then wait for an acknowledgement) [MQTT-3.3.4-7].
   */
  get sendQuota(): number {
    return Math.max(0, this.#limits.receiveMaximum - this.#store.state.outgoing.length);
  }

  /**
   * The Packet Identifiers of the session's outgoing flights not sent on this connection yet, in
   * order: after {@linkcode Engine.resend}, the ones the server's Receive Maximum still holds back
   * (call `resend()` again once acknowledgements have freed slots).
   */
  get heldBack(): number[] {
    return this.#state === "connected" ? this.#flows.heldBack() : [];
  }

  /**
   * Keep alive: the interval in force (seconds, 0 when off), when the next PINGREQ is due (the
   * last packet sent plus the interval [MQTT-3.1.2-20]), and when the server counts as gone (a
   * PINGREQ unanswered for the ping timeout). Both times are in the caller's clock, and
   * `undefined` when keep alive is off or not connected.
   */
  get keepAlive(): KeepAliveTimes {
    const k = this.#keepAlive;
    if (k.interval === 0 || this.#state !== "connected") {
      return { interval: k.interval, pingDueAt: undefined, deadline: undefined };
    }
    return { interval: k.interval, pingDueAt: k.pingDueAt(), deadline: k.deadline() };
  }

  /**
   * The next time {@linkcode Engine.handleTimeout} has something to do (a PINGREQ due, or the
   * server to count as gone), or `undefined` when nothing is timed.
   */
  get timeout(): number | undefined {
    const { pingDueAt, deadline } = this.keepAlive;
    if (pingDueAt === undefined || deadline === undefined) return undefined;
    return Math.min(pingDueAt, deadline);
  }

  /**
   * Does what keep alive asks at `now`: queues PINGREQ once it is due; once the deadline passed
   * with no answer, ends the connection and throws {@linkcode ConnectionClosedError} (close the
   * transport; the session is intact).
   *
   * @example A loop's timer
   * ```ts ignore
   * const wake = engine.timeout;
   * if (wake !== undefined && Date.now() >= wake) engine.handleTimeout(Date.now());
   * ```
   */
  handleTimeout(now: number): void {
    const { pingDueAt, deadline } = this.keepAlive;
    if (deadline !== undefined && now >= deadline) {
      const error = new ConnectionClosedError(
        `The server did not answer within the keep-alive deadline (Keep Alive ${this.#keepAlive.interval} s); reconnect with the session`,
        { sessionResumable: this.sessionResumable },
      );
      this.#log.error("The server counts as gone: {message}", { message: error.message });
      this.#end(error);
      throw error;
    }
    if (pingDueAt !== undefined && now >= pingDueAt) this.ping(now);
  }

  /**
   * The bytes queued since the last call, for the caller to write, or `undefined` when none are;
   * `now` (when given) is when they are written, which keep alive counts from. Only with the
   * default output: a caller that passed its own takes its bytes there (and reports writes with
   * {@linkcode Engine.written}).
   */
  takeOutput(now?: number): Uint8Array | undefined {
    if (!(this.#out instanceof BytesOutput)) {
      throw new ClientStateError(
        "Cannot take output: the engine writes to the output given to its constructor",
      );
    }
    const bytes = this.#out.take();
    if (bytes !== undefined && now !== undefined) this.#keepAlive.sent(now);
    return bytes;
  }

  /**
   * The session's changes since the last call, in order (with the `journal` option; always empty
   * without it). A driver must make them durable before writing the bytes queued with them: a
   * QoS 1/2 publication before its PUBLISH, an incoming QoS 2 id before its PUBREC, a release
   * before its PUBREL, the end of an incoming QoS 2 flow before its PUBCOMP. Taking the changes
   * and the bytes in one synchronous step pairs them exactly: every change is journaled in the
   * same call that queues its packet. `now` (when given) stamps the publications among them with
   * `storedAt`, which a restart counts their Message Expiry Interval from.
   *
   * @example Saving before writing
   * ```ts
   * import { Engine } from "./engine.ts";
   * const engine = new Engine({ journal: true });
   * engine.connect({ clientId: "a" }, 0);
   * engine.receive(new Uint8Array([0x20, 0x03, 0x00, 0x00, 0x00]), 0);
   * engine.publish({ topic: "t", qos: 1 }, "x");
   * const changes = engine.takeChanges(Date.now()); // save these, then write:
   * const bytes = engine.takeOutput();
   * console.log(changes.map((c) => c.op)); // [ "client-id", "publish" ]
   * ```
   */
  takeChanges(now?: number): SessionChange[] {
    const journal = this.#store.journal;
    if (journal === undefined || journal.length === 0) return [];
    this.#store.journal = [];
    if (now !== undefined) {
      for (const change of journal) {
        if (change.op === "publish") change.publication.storedAt ??= now;
      }
    }
    return journal;
  }

  /** Bytes queued were written at `now`: keep alive counts the next PINGREQ from it. */
  written(now: number): void {
    this.#keepAlive.sent(now);
  }

  /** The next event of those {@linkcode Engine.receive} queued, or `undefined` when none is. */
  nextEvent(): EngineEvent | undefined {
    if (this.#eventsAt === this.#events.length) return undefined;
    const event = this.#events[this.#eventsAt++];
    if (this.#eventsAt === this.#events.length) {
      this.#events = [];
      this.#eventsAt = 0;
    }
    return event;
  }

  // -- connection ----------------------------------------------------------------------------

  /**
   * Queues CONNECT for a new connection at `now` (the engine's per-connection state starts
   * afresh; with Clean Start the session is cleared too [MQTT-3.1.2-4]). The CONNACK, handled by
   * {@linkcode Engine.receive} or {@linkcode Engine.handle}, gives a `connected` event, or throws
   * {@linkcode ConnectionRefusedError}. An invalid CONNECT throws with nothing queued.
   *
   * @example
   * ```ts
   * import { Engine } from "./engine.ts";
   * const engine = new Engine();
   * engine.connect({ clientId: "a", cleanStart: false, sessionExpiryInterval: 3600 }, Date.now());
   * console.log(engine.state); // "connecting"
   * ```
   */
  connect(options: ConnectOptions, now: number): void {
    if (this.#state === "connecting" || this.#state === "connected") {
      throw new ClientStateError(
        `Cannot connect: the client is ${this.#state}; disconnect or abort first`,
      );
    }
    const version = options.protocolVersion ?? 5;
    if (version !== 4 && version !== 5) {
      throw new RangeError(`protocolVersion must be 4 (MQTT 3.1.1) or 5, got ${version}`);
    }
    let limits = DEFAULT_LIMITS;
    if (version === 4) {
      checkConnectV311(options);
      const inflight = options.maximumInflight ?? DEFAULT_MAXIMUM_INFLIGHT;
      if (!Number.isInteger(inflight) || inflight < 1 || inflight > 65_535) {
        throw new RangeError(`maximumInflight must be from 1 to 65535, got ${inflight}`);
      }
      limits = limitsV311(inflight);
    } else if (options.maximumInflight !== undefined) {
      throw new TypeError(
        "maximumInflight is for MQTT 3.1.1; on MQTT 5.0 the server's Receive Maximum decides",
      );
    }
    const cleanStart = options.cleanStart ?? true;
    const connect = buildConnect(options, cleanStart, this.#store.state.clientId);
    const encodeOpts: EncodeOptions = version === 4
      ? { strict: this.#strict, protocolVersion: 4 }
      : { strict: this.#strict };
    // Encoded before any state changes: an invalid CONNECT is refused with nothing queued.
    this.#out.write(connect, encodeOpts);
    this.#encodeOpts = encodeOpts;
    this.#limits = limits;
    this.#version = version;
    this.#inbound.v311 = this.#requests.v311 = version === 4;
    if (cleanStart) this.#store.clear();
    this.#flows.reset();
    this.#inbound.reset();
    this.#requests.reset();
    this.#inAliases.clear();
    this.#outAliases.clear();
    this.#events = [];
    this.#eventsAt = 0;
    this.#framer.clear();
    this.#closeError = undefined;
    this.#connect = connect;
    this.#connectOptions = options;
    this.#authenticating = options.authenticationMethod !== undefined;
    this.#sessionExpiry = options.sessionExpiryInterval ?? 0;
    this.#keepAlive.start(0, now);
    this.#state = "connecting";
    this.#log.debug("Connecting as {clientId} (clean start: {cleanStart})", {
      clientId: connect.clientId,
      cleanStart,
    });
  }

  #onConnack(packet: Connack): ConnectedEvent {
    const connect = this.#connect!;
    const p = packet.properties ?? {};
    const v311 = this.#version === 4;
    // A 3.1.1 return code (1 to 5) is refused with the 5.0 reason code of the same meaning.
    const refused = v311
      ? (packet.reasonCode === 0 ? 0 : reasonCodeOfReturnCode(packet.reasonCode))
      : packet.reasonCode;
    if (refused >= 0x80) {
      this.#log.error(`The server refused the connection: ${describeReasonCode(refused)}`, {
        reasonString: p.reasonString,
      });
      const error = new ConnectionRefusedError(refused, {
        ...(p.reasonString !== undefined ? { reasonString: p.reasonString } : {}),
        ...(p.serverReference !== undefined ? { serverReference: p.serverReference } : {}),
        ...(v311 ? { returnCode: packet.reasonCode } : {}),
        sessionResumable: this.sessionResumable,
      });
      this.#end(error);
      throw error;
    }
    if (v311) {
      if (packet.sessionPresent && connect.cleanStart) {
        throw new Violation(
          "The server says a session is present although the client asked for a clean session",
          0x82,
          "v3.1.1 MQTT-3.2.2-1",
        );
      }
    } else checkConnack(packet, connect);
    let discarded: OutgoingFlight[] = [];
    if (!packet.sessionPresent && !this.#store.isEmpty) {
      // The server holds no session: the client's state must go too [MQTT-3.2.2-5].
      discarded = this.#store.state.outgoing.slice();
      this.#store.clear();
      this.#log.warning(
        "The server holds no session: the client's session is discarded, with {count} outgoing flights {packetIds}",
        { count: discarded.length, packetIds: discarded.map((f) => f.packetId) },
      );
    }
    const limits = v311 ? this.#limits : limitsOf(p);
    this.#limits = limits;
    if (limits.maximumPacketSize !== undefined) {
      this.#encodeOpts = { strict: this.#strict, maximumPacketSize: limits.maximumPacketSize };
    }
    const clientId = p.assignedClientIdentifier ?? connect.clientId;
    this.#store.setClientId(clientId);
    const keepAlive = p.serverKeepAlive ?? connect.keepAlive ?? 0;
    this.#keepAlive.interval = keepAlive;
    this.#sessionExpiry = p.sessionExpiryInterval ?? connect.properties?.sessionExpiryInterval ?? 0;
    this.#authenticating = false;
    this.#state = "connected";
    this.#log.info(
      "Connected as {clientId}; session present: {sessionPresent}; keep alive {keepAlive} s; session expiry {sessionExpiryInterval} s",
      {
        clientId,
        sessionPresent: packet.sessionPresent,
        keepAlive,
        sessionExpiryInterval: this.#sessionExpiry,
      },
    );
    if (this.#debug) {
      this.#log.debug(
        "The server's limits: " +
          Object.entries(limits).flatMap(([k, v]) => v === undefined ? [] : [`${k}=${v}`])
            .join(" "),
      );
    }
    return {
      type: "connected",
      sessionPresent: packet.sessionPresent,
      clientId,
      assignedClientIdentifier: p.assignedClientIdentifier,
      keepAlive,
      sessionExpiryInterval: this.#sessionExpiry,
      limits,
      responseInformation: p.responseInformation,
      serverReference: p.serverReference,
      reasonString: p.reasonString,
      userProperties: p.userProperties ?? [],
      authenticationData: p.authenticationData,
      discarded,
      connack: packet,
    };
  }

  #requireConnected(what: string): void {
    if (this.#state !== "connected") throw notConnected(what, this);
  }

  /**
   * Queues DISCONNECT (reason 0x00 by default; 0x04 to have the will published) and ends the
   * connection: write what is queued, then close the transport. The session is kept.
   *
   * @example
   * ```ts ignore
   * engine.disconnect({ reasonCode: 0x04 });
   * ```
   */
  disconnect(options: DisconnectOptions = {}): void {
    this.#requireConnected("disconnect");
    if (this.#version === 4) checkDisconnectV311(options);
    const props = options.properties;
    const expiry = props?.sessionExpiryInterval;
    if (
      expiry !== undefined && expiry !== 0 &&
      // The CONNECT's value decides, whatever the CONNACK put in its place (3.14.2.2.2).
      !this.#connectOptions.sessionExpiryInterval
    ) {
      throw new ClientStateError(
        "Cannot set a non-zero Session Expiry Interval on DISCONNECT after connecting with 0 (a protocol error, section 3.14.2.2.2)",
      );
    }
    const reasonCode = options.reasonCode ?? 0;
    this.#send(this.#fit({
      type: PacketType.Disconnect,
      reasonCode,
      ...(props && this.#version === 5 ? { properties: props } : {}),
    }));
    if (expiry !== undefined) this.#sessionExpiry = expiry;
    this.#log.info(`Disconnecting: ${describeReasonCode(reasonCode)}; the session is kept`);
    this.#end(
      new ConnectionClosedError("The client disconnected", {
        sessionResumable: this.sessionResumable,
      }),
    );
  }

  /**
   * The connection ended without DISCONNECT (the transport failed or closed, or the application
   * dropped it): the engine closes and returns the error that says so, with `cause`. The session
   * is kept. Idempotent: once closed it returns the first error.
   */
  connectionLost(
    message: string,
    cause?: unknown,
  ): ConnectionClosedError | ProtocolViolationError | ConnectionRefusedError {
    if (this.#closeError !== undefined) return this.#closeError;
    const error = new ConnectionClosedError(message, {
      cause,
      sessionResumable: this.sessionResumable,
    });
    this.#end(error);
    return error;
  }

  /**
   * Ends the connection because of what the server did, as a violation: queues DISCONNECT with
   * `reasonCode` and returns the {@linkcode ProtocolViolationError} to throw. For rules of the
   * application's own (for example an AUTH it has no answer for: 0x8C).
   */
  fail(message: string, reasonCode: number, statement?: string): ProtocolViolationError {
    return this.#violate(new Violation(message, reasonCode, statement));
  }

  /**
   * A packet from the server did not decode (a driver that frames and decodes itself reports it
   * here): queues DISCONNECT with the decoder's reason code and returns the
   * {@linkcode ProtocolViolationError} to throw.
   */
  decodeFailed(error: DecodeError): ProtocolViolationError {
    return this.#violate(
      new Violation(
        `The server sent a bad packet: ${error.message}`,
        // 0x84 (a CONNECT of another version) is no DISCONNECT code; a server's CONNECT is a
        // Protocol Error whatever its version.
        error.reasonCode === 0x84 ? 0x82 : error.reasonCode,
        error.statement,
        error,
      ),
    );
  }

  #end(error: ConnectionClosedError | ProtocolViolationError | ConnectionRefusedError): void {
    this.#closeError ??= error;
    this.#state = "closed";
    this.#authenticating = false;
  }

  #violate(v: Violation): ProtocolViolationError {
    const v311 = this.#version === 4;
    const statement = v311 ? statementV311(v.statement) : v.statement;
    const error = new ProtocolViolationError(v.message, v.reasonCode, {
      statement,
      disconnectSent: !v311,
      cause: v.cause,
      sessionResumable: this.sessionResumable,
      ...(v.server !== undefined
        ? {
          serverReasonCode: v.server.reasonCode,
          ...(v.server.reasonString !== undefined
            ? { serverReasonString: v.server.reasonString }
            : {}),
        }
        : {}),
    });
    this.#log.error(
      `Protocol violation by the server: {message}; ${
        v311 ? "closing" : `DISCONNECT ${describeReasonCode(v.reasonCode)}`
      }`,
      { message: v.message, statement },
    );
    // MQTT 3.1.1 has no DISCONNECT to answer a violation with (its DISCONNECT would also drop the
    // will): the connection is only closed [v3.1.1 MQTT-4.8.0-1].
    if (!v311 && (this.#state === "connecting" || this.#state === "connected")) {
      try {
        this.#send({ type: PacketType.Disconnect, reasonCode: v.reasonCode });
      } catch {
        // Nothing more can be sent; the connection closes all the same.
      }
    }
    this.#end(error);
    return error;
  }

  // -- sending -------------------------------------------------------------------------------

  #send(packet: Packet): void {
    this.#out.write(packet, this.#encodeOpts);
  }

  /**
   * The packet, with its Reason String and then its User Properties left out if it would exceed
   * the server's Maximum Packet Size [MQTT-3.4.2-2], [MQTT-3.4.2-3] (and the same rule of PUBREC,
   * PUBREL, PUBCOMP, DISCONNECT and AUTH). Throws what the encoder throws for anything else.
   */
  #fit(packet: Packet): Packet {
    const p = packet as { properties?: AckProperties };
    for (;;) {
      try {
        encodedLength(packet, this.#encodeOpts);
        return packet;
      } catch (e) {
        const props = p.properties;
        if (!(e instanceof EncodeError) || e.reasonCode !== 0x95 || props === undefined) throw e;
        const name = packetTypeName[packet.type];
        if (props.reasonString !== undefined) {
          const { reasonString: _, ...rest } = props;
          p.properties = rest;
          this.#log.debug(
            `Left out the Reason String of ${name} to fit the server's Maximum Packet Size`,
          );
        } else if (props.userProperties !== undefined) {
          const { userProperties: _, ...rest } = props;
          p.properties = rest;
          this.#log.debug(
            `Left out the User Properties of ${name} to fit the server's Maximum Packet Size`,
          );
        } else {
          throw e;
        }
      }
    }
  }

  /**
   * Queues a PUBLISH. At QoS 1 and 2 it returns the Packet Identifier, whose flight the session
   * tracks until an `acknowledged`, `completed` or `rejected` event; at QoS 0 `undefined`.
   * Refused with nothing queued: not connected ({@linkcode NotConnectedError}), a QoS above the
   * server's maximum, RETAIN it does not support, a topic alias above its maximum
   * (`ServerCapabilityError`), its Receive Maximum used up ({@linkcode QuotaExceededError}), a
   * packet over its Maximum Packet Size or any other rule (`EncodeError`).
   *
   * @example
   * ```ts ignore
   * const id = engine.publish({ topic: "sensors/1", qos: 1 }, "21.5");
   * ```
   */
  publish(options: PublishOptions, payload?: Uint8Array | string): number | undefined {
    this.#requireConnected("publish");
    if (this.#version === 4) checkPublishV311(options);
    const qos = options.qos ?? 0;
    const limits = this.#limits;
    checkPublish(limits, qos, options.retain);
    const props = options.properties;
    if (props?.subscriptionIdentifiers !== undefined) {
      throw new EncodeError(
        "Cannot publish with a Subscription Identifier: only the server sends them",
        0x82,
        "MQTT-3.3.4-6",
      );
    }
    let topic = options.topic;
    const alias = props?.topicAlias;
    if (alias !== undefined) {
      checkTopicAlias(limits, alias);
      if (topic === "") {
        const known = this.#outAliases.topic(alias);
        if (known === undefined) {
          throw new ClientStateError(
            `Cannot publish with Topic Alias ${alias} and no topic: the alias is not set on this connection; send the topic with it once`,
          );
        }
        topic = known;
      }
    }
    const bytesPayload = toBytes(payload);
    const packet: Publish = {
      type: PacketType.Publish,
      topic: options.topic,
      payload: bytesPayload,
      qos,
    };
    if (options.retain) packet.retain = true;
    if (props !== undefined && this.#version === 5) packet.properties = props;
    let autoAlias: number | undefined;
    if (
      alias === undefined && this.#autoTopicAlias && limits.topicAliasMaximum > 0 && topic !== ""
    ) {
      // The automatic policy: the first topics get the aliases, later sends use the alias alone.
      const known = this.#outAliases.alias(topic);
      if (known !== undefined) {
        packet.topic = "";
        packet.properties = { ...props, topicAlias: known };
      } else if (this.#outAliases.size < limits.topicAliasMaximum) {
        autoAlias = this.#outAliases.lowestFree();
        packet.properties = { ...props, topicAlias: autoAlias };
      }
    }
    let packetId: number | undefined;
    if (qos > 0) {
      const outgoing = this.#store.state.outgoing;
      if (outgoing.length >= limits.receiveMaximum) {
        this.#log.debug("Quota used up: {receiveMaximum} in flight, the server's Receive Maximum", {
          receiveMaximum: limits.receiveMaximum,
        });
        throw new QuotaExceededError(limits.receiveMaximum, this.#version);
      }
      packetId = this.#allocate();
      packet.packetId = packetId;
    }
    // Encoded into the output first: nothing is queued or recorded if it is refused.
    this.#send(packet);
    if (alias !== undefined && options.topic !== "") {
      this.#outAliases.set(alias, options.topic);
      this.#log.debug("Topic Alias {alias} now stands for {topic}", {
        alias,
        topic: options.topic,
      });
    }
    if (autoAlias !== undefined) {
      this.#outAliases.set(autoAlias, topic);
      this.#log.debug("Topic Alias {alias} now stands for {topic} (automatic)", {
        alias: autoAlias,
        topic,
      });
    }
    if (packetId !== undefined) {
      const stored: StoredPublication = {
        topic,
        payload: bytesPayload,
        qos: qos as 1 | 2,
        retain: options.retain ?? false,
      };
      if (props !== undefined) {
        const { topicAlias: _alias, ...rest } = props;
        if (Object.keys(rest).length > 0) stored.properties = rest;
      }
      this.#store.addPublication(packetId, stored);
      this.#flows.sent(packetId);
      if (this.#log.isEnabledFor("debug")) {
        const state = qos === 1 ? "awaiting-puback" : "awaiting-pubrec";
        this.#log.debug(`Flight {packetId} ${state}; {inFlight} of {receiveMaximum} in flight`, {
          packetId,
          inFlight: this.#store.state.outgoing.length,
          receiveMaximum: limits.receiveMaximum,
        });
      }
    }
    return packetId;
  }

  /** Ids taken by a pending SUBSCRIBE or UNSUBSCRIBE (one function, not one per call). */
  #requestHas = (id: number): boolean => this.#requests.has(id);

  #allocate(): number {
    const id = this.#store.allocatePacketId(this.#requestHas);
    if (id === undefined) throw new PacketIdExhaustedError();
    return id;
  }

  /**
   * Queues the PUBLISH of an outgoing flight again, with DUP set, after a reconnect with the
   * session [MQTT-4.4.0-1], for a flight `awaiting-puback` or `awaiting-pubrec`. Refused for a
   * flight already sent on this connection, for one awaiting PUBCOMP (use
   * {@linkcode Engine.rerelease}), and with {@linkcode QuotaExceededError} while the flights sent
   * on this connection use up the server's Receive Maximum.
   *
   * @example
   * ```ts ignore
   * engine.republish(id);
   * ```
   */
  republish(packetId: number): void {
    this.#requireConnected("republish");
    const flight = this.#flows.toResend(packetId);
    const pub = flight.publication;
    if (flight.state === "awaiting-pubcomp" || pub === undefined) {
      throw new ClientStateError(
        `Cannot republish ${packetId}: its PUBREC came already, so the PUBLISH must not be sent again [MQTT-4.3.3-6]; use rerelease()`,
      );
    }
    checkRepublish(this.#limits, packetId, pub.qos);
    if (this.#flows.inFlightHere() >= this.#limits.receiveMaximum) {
      throw new QuotaExceededError(this.#limits.receiveMaximum, this.#version);
    }
    const packet: Publish = {
      type: PacketType.Publish,
      topic: pub.topic,
      payload: pub.payload,
      qos: pub.qos,
      retain: pub.retain,
      dup: true,
      packetId,
    };
    if (pub.properties !== undefined) packet.properties = pub.properties;
    this.#send(packet);
    this.#flows.sent(packetId);
    this.#log.debug(`Flight {packetId} ${flight.state}: PUBLISH sent again with DUP`, { packetId });
  }

  /**
   * Queues the PUBREL of a QoS 2 flight `awaiting-pubcomp` again after a reconnect with the
   * session [MQTT-4.4.0-1], since the PUBREL or the PUBCOMP may have been lost.
   *
   * @example
   * ```ts ignore
   * engine.rerelease(id);
   * ```
   */
  rerelease(packetId: number): void {
    this.#requireConnected("rerelease");
    const flight = this.#flows.toResend(packetId);
    if (flight.state !== "awaiting-pubcomp") {
      throw new ClientStateError(
        `Cannot re-release ${packetId}: it is ${flight.state}, no PUBREC came yet; use republish()`,
      );
    }
    this.#send({ type: PacketType.Pubrel, packetId });
    this.#flows.sent(packetId);
    this.#log.debug("Flight {packetId} awaiting-pubcomp: PUBREL sent again", { packetId });
  }

  /**
   * Queues again the outgoing flights not yet sent on this connection, in their original order
   * [MQTT-4.6.0-1]: PUBREL for those awaiting PUBCOMP, never held back [MQTT-3.3.4-8]; PUBLISH
   * with DUP for the others as far as the server's Receive Maximum allows [MQTT-3.3.4-7] (the
   * rest stay in {@linkcode Engine.heldBack}, in order, for a later call). Returns the Packet
   * Identifiers queued.
   *
   * @example
   * ```ts ignore
   * const resent = engine.resend();
   * ```
   */
  resend(): number[] {
    this.#requireConnected("resend");
    const ids: number[] = [];
    let held = false;
    for (const flight of this.#store.state.outgoing.slice()) {
      if (this.#flows.isSent(flight.packetId)) continue;
      if (flight.state === "awaiting-pubcomp") {
        this.rerelease(flight.packetId);
      } else if (held || this.#flows.inFlightHere() >= this.#limits.receiveMaximum) {
        // The quota is used up: this PUBLISH and those after it wait, in order.
        held = true;
        continue;
      } else {
        this.republish(flight.packetId);
      }
      ids.push(flight.packetId);
    }
    return ids;
  }

  /**
   * Queues SUBSCRIBE for one or more filters and returns its Packet Identifier; the SUBACK gives
   * a `subscribed` event. Refused with nothing queued: wildcard, shared or identified
   * subscriptions the server does not support (`ServerCapabilityError`), invalid filters or No
   * Local on a shared subscription (`EncodeError`).
   *
   * @example
   * ```ts ignore
   * engine.subscribe([{ filter: "a/#", qos: 1 }, { filter: "b/+", qos: 2 }]);
   * ```
   */
  subscribe(
    subscriptions: SubscribeRequest | SubscribeRequest[],
    options: SubscribeOptions = {},
  ): number {
    this.#requireConnected("subscribe");
    const list = Array.isArray(subscriptions) ? subscriptions : [subscriptions];
    if (this.#version === 4) checkSubscribeV311(list, options);
    const subId = options.subscriptionIdentifier;
    checkSubscribe(this.#limits, list, subId);
    const packetId = this.#allocate();
    const properties: SubscribeProperties = {};
    if (subId !== undefined) properties.subscriptionIdentifiers = [subId];
    if (options.userProperties?.length) properties.userProperties = options.userProperties;
    const packet: Subscribe = { type: PacketType.Subscribe, packetId, subscriptions: list };
    if (subId !== undefined || properties.userProperties) packet.properties = properties;
    this.#send(packet);
    this.#requests.subscribed(packetId, list, subId);
    return packetId;
  }

  /**
   * Queues UNSUBSCRIBE for one or more filters and returns its Packet Identifier; the UNSUBACK
   * gives an `unsubscribed` event.
   *
   * @example
   * ```ts ignore
   * engine.unsubscribe(["a/#", "b/+"]);
   * ```
   */
  unsubscribe(filters: string | string[], options: UnsubscribeOptions = {}): number {
    this.#requireConnected("unsubscribe");
    if (this.#version === 4) checkUnsubscribeV311(options);
    const list = Array.isArray(filters) ? filters : [filters];
    const packetId = this.#allocate();
    this.#send({
      type: PacketType.Unsubscribe,
      packetId,
      filters: list,
      ...(options.userProperties?.length
        ? { properties: { userProperties: options.userProperties } }
        : {}),
    });
    this.#requests.unsubscribed(packetId, list);
    return packetId;
  }

  /**
   * Queues PINGREQ at `now`; the PINGRESP gives a `pong` event. Keep alive counts the server as
   * gone if nothing comes back within the ping timeout.
   *
   * @example
   * ```ts ignore
   * engine.ping(Date.now());
   * ```
   */
  ping(now: number): void {
    this.#requireConnected("ping");
    this.#send(PINGREQ);
    this.#keepAlive.pinged(now);
  }

  /**
   * Queues AUTH with the connection's Authentication Method [MQTT-4.12.1-1]: reason 0x19 (the
   * default) starts a re-authentication, 0x18 answers the server's `auth` event that continues
   * one (before CONNACK too). The Reason String and User Properties are left out if they would
   * exceed the server's Maximum Packet Size. Refused with {@linkcode ClientStateError} when the
   * connection used no Authentication Method [MQTT-4.12.0-7].
   *
   * @example
   * ```ts ignore
   * engine.auth({ authenticationData: newToken });
   * ```
   */
  auth(options: AuthOptions = {}): void {
    const reasonCode = options.reasonCode ?? 0x19;
    if (this.#version === 4 && this.#state !== "disconnected") refuseAuthV311();
    if (!(this.#state === "connecting" && reasonCode === 0x18 && this.#authenticating)) {
      this.#requireConnected("send AUTH");
    }
    const method = this.#connectOptions.authenticationMethod;
    if (method === undefined) {
      throw new ClientStateError(
        "Cannot send AUTH: the connection used no Authentication Method [MQTT-4.12.0-7]; connect with one",
      );
    }
    if (reasonCode === 0x18 && !this.#authenticating) {
      throw new ClientStateError(
        "Cannot continue authentication: no re-authentication is under way; start one with reason 0x19",
      );
    }
    this.#send(this.#fit({
      type: PacketType.Auth,
      reasonCode,
      properties: {
        authenticationMethod: method,
        ...(options.authenticationData ? { authenticationData: options.authenticationData } : {}),
        ...(options.reasonString !== undefined ? { reasonString: options.reasonString } : {}),
        ...(options.userProperties ? { userProperties: options.userProperties } : {}),
      },
    }));
    this.#authenticating = true;
  }

  /**
   * Gives the acknowledgement owed for an incoming publication in manual mode: PUBACK (QoS 1),
   * PUBREC (QoS 2, before its PUBREL) or PUBCOMP (QoS 2, after its PUBREL: a `released` event).
   * PUBACKs and PUBRECs are queued in the order their PUBLISHes arrived [MQTT-4.6.0-2],
   * [MQTT-4.6.0-3]: one given early is held until those before it are given.
   *
   * @example
   * ```ts ignore
   * engine.acknowledge(event.packetId, { reasonCode: 0x80 });
   * ```
   */
  acknowledge(packetId: number, options: AcknowledgeOptions = {}): void {
    this.#requireConnected("acknowledge");
    if (this.#version === 4) checkAcknowledgeV311(options);
    this.#inbound.acknowledge(
      packetId,
      (type) =>
        ({
          type,
          packetId,
          reasonCode: options.reasonCode ?? 0,
          ...(options.properties && this.#version === 5 ? { properties: options.properties } : {}),
        }) as Packet,
      (packet) => this.#fit(packet),
      this.#sendAck,
    );
  }

  #sendAck = (packet: Packet): void => this.#send(packet);

  // -- receiving -----------------------------------------------------------------------------

  /**
   * Hands the engine bytes received from the server at `now`: whole packets are handled at once
   * (their replies queued, their events ready for {@linkcode Engine.nextEvent}); a partial one is
   * kept for the next call. Throws {@linkcode ProtocolViolationError} (DISCONNECT queued, the
   * events before it still ready) for a malformed packet or a broken rule, and
   * {@linkcode ConnectionRefusedError} for a refusing CONNACK.
   *
   * @example
   * ```ts ignore
   * socket.on("data", (bytes) => {
   *   engine.receive(bytes, Date.now());
   *   for (let e; (e = engine.nextEvent()) !== undefined;) console.log(e.type);
   * });
   * ```
   */
  receive(bytes: Uint8Array, now: number): void {
    const max = this.#connectOptions.maximumPacketSize;
    if (this.#state === "closed") return;
    this.#framer.push(bytes, max, this.#strict, this.#version, (packet) => {
      const event = this.handle(packet, now);
      if (event !== undefined) this.#events.push(event);
      // Nothing follows the server's DISCONNECT [MQTT-3.14.4-1]: the rest is dropped.
      return this.#state !== "closed";
    }, (e) => this.decodeFailed(e));
  }

  /**
   * Handles one packet from the server, received at `now`, for a driver that frames and decodes
   * itself: queues the replies the protocol requires (in automatic mode PUBACK, PUBREC and
   * PUBCOMP; in both modes PUBREL after a PUBREC) and returns the event, if the packet makes one.
   * Throws as {@linkcode Engine.receive} does.
   */
  handle(packet: Packet, now: number): EngineEvent | undefined {
    const state = this.#state;
    if (state !== "connected" && state !== "connecting") {
      throw new ClientStateError(`Cannot handle a packet: the client is ${state}`);
    }
    this.#keepAlive.received(now);
    this.#debug = this.#log.isEnabledFor("debug");
    try {
      if (packet.type === PacketType.Publish && state === "connected") {
        return this.#onPublish(packet);
      }
      return this.#dispatch(packet);
    } catch (e) {
      if (e instanceof Violation) throw this.#violate(e);
      throw e;
    }
  }

  #dispatch(packet: Packet): EngineEvent | undefined {
    if (this.#state === "connecting") {
      if (packet.type === PacketType.Connack) return this.#onConnack(packet);
      if (packet.type === PacketType.Auth && this.#connect?.properties?.authenticationMethod) {
        return checkConnectAuth(packet, this.#connect.properties.authenticationMethod);
      }
      throw new Violation(
        `The server sent ${packetTypeName[packet.type]} before CONNACK`,
        0x82,
        "MQTT-3.2.0-1",
      );
    }
    if (
      this.#connectOptions.requestProblemInformation === false &&
      packet.type !== PacketType.Disconnect &&
      "properties" in packet &&
      ((packet.properties as AckProperties | undefined)?.reasonString !== undefined ||
        (packet.properties as AckProperties | undefined)?.userProperties !== undefined)
    ) {
      throw new Violation(
        `The server sent a Reason String or User Property on ${
          packetTypeName[packet.type]
        } although the client set Request Problem Information to 0`,
        0x82,
        "MQTT-3.1.2-29",
      );
    }
    switch (packet.type) {
      case PacketType.Publish:
        return this.#onPublish(packet);
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubcomp: {
        const outcome = this.#flows.acknowledged(packet, this.#debug);
        if (outcome.type === "pubrec-again") {
          // The PUBREC came again (the PUBREL may have been lost): send PUBREL again.
          this.#send({ type: PacketType.Pubrel, packetId: outcome.packetId });
          return undefined;
        }
        if (outcome.type === "unknown-pubrec") {
          // Unknown id: answer PUBREL 0x92 (Packet Identifier not found), as section 4.3.3 allows.
          this.#log.debug("PUBREC for {packetId}, which is not in flight: PUBREL 0x92", {
            packetId: outcome.packetId,
          });
          this.#send(
            this.#version === 4
              ? { type: PacketType.Pubrel, packetId: outcome.packetId }
              : { type: PacketType.Pubrel, packetId: outcome.packetId, reasonCode: 0x92 },
          );
          return undefined;
        }
        if (outcome.type === "received") {
          this.#send({ type: PacketType.Pubrel, packetId: outcome.packetId });
        }
        return outcome;
      }
      case PacketType.Pubrel: {
        const known = this.#inbound.release(packet.packetId, this.#sendAck, this.#debug);
        return {
          type: "released",
          packetId: packet.packetId,
          reasonCode: packet.reasonCode ?? 0,
          known,
        };
      }
      case PacketType.Suback:
      case PacketType.Unsuback:
        return this.#requests.acknowledged(packet);
      case PacketType.Pingresp:
        return { type: "pong" };
      case PacketType.Disconnect:
        if (this.#version === 4) {
          throw new Violation(
            "The server sent DISCONNECT, which in MQTT 3.1.1 only a client sends",
            0x82,
          );
        }
        return this.#onDisconnect(packet);
      case PacketType.Auth: {
        const event = checkAuth(
          packet,
          this.#connectOptions.authenticationMethod,
          this.#authenticating,
        );
        if (event.reasonCode === 0) this.#authenticating = false;
        return event;
      }
      case PacketType.Connack:
        throw new Violation("The server sent a second CONNACK", 0x82, "MQTT-3.2.0-2");
      default:
        throw new Violation(
          `The server sent ${packetTypeName[packet.type]}, which only a client sends`,
          0x82,
        );
    }
  }

  #onDisconnect(packet: Packet & { type: typeof PacketType.Disconnect }): ClientEvent {
    const properties = packet.properties ?? {};
    const reasonCode = packet.reasonCode ?? 0;
    if (properties.sessionExpiryInterval !== undefined) {
      throw new Violation(
        `The server's DISCONNECT (${
          describeReasonCode(reasonCode)
        }) carries a Session Expiry Interval, which only a client may send`,
        0x82,
        "MQTT-3.14.2-2",
        undefined,
        { reasonCode, reasonString: properties.reasonString },
      );
    }
    const said = `The server disconnected: ${describeReasonCode(reasonCode)}`;
    const fields = { reasonString: properties.reasonString };
    if (reasonCode === 0) this.#log.info(said, fields);
    else this.#log.warning(said + " {reasonString}", fields);
    this.#end(
      new ConnectionClosedError(
        said + (properties.reasonString ? `: ${properties.reasonString}` : ""),
        { reasonCode, sessionResumable: this.sessionResumable },
      ),
    );
    return {
      type: "disconnected",
      reasonCode,
      reasonString: properties.reasonString,
      serverReference: properties.serverReference,
      properties,
    };
  }

  /** Handles a PUBLISH: resolves its topic alias, checks it, and queues its acknowledgement. */
  #onPublish(packet: Publish): ClientEvent {
    let topic = packet.topic;
    const props = packet.properties ?? NO_PROPERTIES;
    const alias = props.topicAlias;
    if (alias !== undefined) {
      const max = this.#connectOptions.topicAliasMaximum ?? 0;
      if (alias > max) {
        throw new Violation(
          `The server used Topic Alias ${alias}, above the client's Topic Alias Maximum ${max}`,
          0x94,
          max === 0 ? "MQTT-3.1.2-27" : "MQTT-3.3.2-11",
        );
      }
      if (topic === "") {
        const known = this.#inAliases.get(alias);
        if (known === undefined) {
          throw new Violation(`The server used Topic Alias ${alias} before setting it`, 0x94);
        }
        topic = known;
      } else {
        this.#inAliases.set(alias, topic);
        this.#log.debug("The server's Topic Alias {alias} now stands for {topic}", {
          alias,
          topic,
        });
      }
    }
    const qos = packet.qos;
    const packetId = packet.packetId;
    if (props.payloadFormatIndicator === 1 && !isWellFormedUtf8(packet.payload)) {
      // Refuse it: PUBACK / PUBREC 0x99 ends the flow, so the server does not send it again.
      if (qos > 0) this.#inbound.refuse(packetId!, qos as 1 | 2, 0x99, this.#sendAck);
      this.#log.warning("Refused a publication to {topic} whose payload is not UTF-8 (0x99)", {
        topic,
      });
      return { type: "refused", topic, qos, packetId, reasonCode: 0x99 };
    }
    if (qos > 0) {
      const outcome = this.#inbound.publish(
        packetId!,
        qos as 1 | 2,
        // MQTT 3.1.1 has no Receive Maximum for the server to keep to.
        this.#version === 4 ? Infinity : this.#connectOptions.receiveMaximum ?? 65_535,
        this.#sendAck,
        this.#debug,
      );
      if (outcome === "duplicate") return { type: "duplicate", packetId: packetId!, topic };
    }
    return {
      type: "message",
      topic,
      payload: packet.payload,
      qos,
      retain: packet.retain ?? false,
      dup: packet.dup ?? false,
      packetId,
      properties: props,
    };
  }
}
