/**
 * The {@linkcode Client}: drives a session over a transport, with no timers, read loops or
 * reconnects of its own.
 *
 * @module
 */

import {
  type AckProperties,
  type Auth,
  type Connack,
  type Connect,
  DecodeError,
  describeReasonCode,
  encode,
  EncodeError,
  encodeIntoIfFits,
  hasWildcard,
  isSharedFilter,
  isWellFormedUtf8,
  MqttError,
  type Packet,
  PacketType,
  packetTypeName,
  type Publish,
  type QoS,
  type SubscribeProperties,
} from "../codec/mod.ts";
import { type OutgoingFlight, Session, type StoredPublication } from "../session/mod.ts";
import type { DirectConnection, Transport } from "../transport/mod.ts";
import {
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  NotConnectedError,
  PacketIdExhaustedError,
  ProtocolViolationError,
  QuotaExceededError,
  ServerCapabilityError,
} from "./errors.ts";
import { PacketReader, raceAbort } from "./reader.ts";
import { clientLog as log, tracePacket } from "./_log.ts";
import type {
  AcknowledgeOptions,
  AuthEvent,
  AuthOptions,
  ClientEvent,
  ClientOptions,
  ConnectOptions,
  ConnectResult,
  DisconnectOptions,
  PublishOptions,
  ServerLimits,
  SignalOptions,
  SubscribeOptions,
  SubscribeRequest,
  UnsubscribeOptions,
} from "./types.ts";

/** The state of a {@linkcode Client}'s connection. */
export type ClientState = "disconnected" | "connecting" | "connected" | "closed";

const textEncoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Runs `fn` once the current turn of the event loop is over: after every microtask of the turn,
 * before the next I/O callback (`setImmediate`, which Deno 2 and Node both have; a microtask
 * elsewhere). A microtask would run between two packets handled in the same turn, so replies to a
 * read full of packets, or publications made while handling its acknowledgements, would each get a
 * write of their own.
 */
const afterTurn: (fn: () => void) => void = (() => {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return immediate === undefined ? queueMicrotask : (fn: () => void) => void immediate(fn);
})();

function toBytes(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return EMPTY;
  if (typeof payload === "string") return textEncoder.encode(payload);
  if (payload instanceof Uint8Array) return payload;
  throw new TypeError("payload must be a Uint8Array or a string");
}

/** An incoming publication or release awaiting its acknowledgement. */
interface Inbound {
  packetId: number;
  /** `publish`: PUBACK (QoS 1) or PUBREC (QoS 2) is owed; `release`: PUBCOMP is owed. */
  stage: "publish" | "release";
  qos: QoS;
  /** The encoded acknowledgement, once the application gave it (held for order). */
  ack: Uint8Array | undefined;
  /** Whether the acknowledgement is a successful PUBREC (the id then awaits PUBREL). */
  owned?: boolean;
}

const DEFAULT_LIMITS: ServerLimits = {
  receiveMaximum: 65_535,
  maximumQoS: 2,
  retainAvailable: true,
  maximumPacketSize: undefined,
  topicAliasMaximum: 0,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifierAvailable: true,
  sharedSubscriptionAvailable: true,
};

/**
 * An explicit MQTT 5.0 client. It starts no timers, read loops or reconnects: the application
 * calls {@linkcode Client.connect}, {@linkcode Client.publish}, {@linkcode Client.subscribe}, and
 * {@linkcode Client.poll} for the next event. Every method that waits takes an `AbortSignal`.
 * The {@linkcode Session} is plain data the application can keep and hand to a new client.
 *
 * @example Publish and receive at QoS 2
 * ```ts ignore
 * import { Client, connectTcp } from "@scope/mqtt5";
 * const client = new Client();
 * await client.connect(await connectTcp({ port: 1883 }), { clientId: "demo" });
 * await client.subscribe([{ filter: "demo/#", qos: 2 }]);
 * const id = await client.publish({ topic: "demo/hello", qos: 2 }, "Hello World!");
 * for (;;) {
 *   const event = await client.poll();
 *   if (event.type === "message") console.log(new TextDecoder().decode(event.payload));
 *   if (event.type === "completed" && event.packetId === id) break;
 * }
 * await client.disconnect();
 * ```
 */
export class Client {
  /** The session: flights, incoming QoS 2 ids, subscriptions. */
  readonly session: Session;
  #manualAck: boolean;
  #autoTopicAlias: boolean;
  #strict: boolean;
  #state: ClientState = "disconnected";
  #transport: Transport | undefined;
  #reader: PacketReader | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** The transport's direct reads and writes, used instead of its streams when it has them. */
  #direct: DirectConnection | undefined;
  #polling = false;
  /** A re-authentication the client started and the server has not ended with AUTH 0x00. */
  #reauthenticating = false;
  #limits: ServerLimits = DEFAULT_LIMITS;
  #connectOptions: ConnectOptions = {};
  #keepAlive = 0;
  #sessionExpiry = 0;
  #lastSent = 0;
  #lastReceived = 0;
  /**
   * Outgoing Packet Identifiers of flights sent on this connection and not over (resending them
   * is not allowed).
   */
  #sentHere = new Set<number>();
  /** SUBSCRIBE / UNSUBSCRIBE awaiting their acknowledgement, by Packet Identifier. */
  #pendingSubs = new Map<
    number,
    { kind: "sub" | "unsub"; requests: SubscribeRequest[]; filters: string[]; id?: number }
  >();
  /** Incoming flows awaiting an acknowledgement, in arrival order. */
  #inbound: Inbound[] = [];
  /** Topic aliases the server set on this connection. */
  #inboundAliases = new Map<number, string>();
  /** Topic aliases the client set on this connection. */
  #outboundAliases = new Map<number, string>();
  /** The same, by topic, for the automatic alias policy. */
  #outboundTopics = new Map<string, number>();
  // Write coalescing: packets queued in one turn go out in one write. Small packets are encoded
  // straight into `#open`, a buffer of the batch's own (handed to the transport, never reused); a
  // large packet, or an open buffer that filled up, is a chunk of `#batch` of its own.
  #batch: Uint8Array[] = [];
  #open: Uint8Array = EMPTY;
  #openLength = 0;
  /** Bytes of small packets queued since the last write: sizes the next open buffer. */
  #openBytes = 0;
  #openSize = MIN_OPEN;
  #encodeOpts: { strict: boolean; maximumPacketSize?: number } | undefined;
  #batchDone: PromiseWithResolvers<void> | undefined;
  #writing = false;
  #closeError: MqttError | undefined;
  /** Whether debug logging was on when the packet being handled was read. */
  #debug = false;
  /** The signal of the last read (its poll or connect): bounds the wait for a DISCONNECT. */
  #signal: AbortSignal | undefined;

  /** Creates a client; nothing happens until {@linkcode Client.connect}. */
  constructor(options: ClientOptions = {}) {
    this.session = options.session ?? new Session();
    this.#manualAck = options.manualAck ?? false;
    this.#autoTopicAlias = options.topicAliases === "auto";
    this.#strict = options.strict ?? true;
  }

  /** The connection state. */
  get state(): ClientState {
    return this.#state;
  }

  /** The server's limits from the last CONNACK (the specification's defaults before one). */
  get limits(): ServerLimits {
    return this.#limits;
  }

  /**
   * Keep alive, for the application to drive: the interval in force (seconds, 0 when off), when
   * the next PINGREQ is due (`Date.now()` milliseconds: the last packet sent plus the interval
   * [MQTT-3.1.2-20]), and when the server must be considered gone (the last packet received plus
   * 1.5 times the interval). Both are `undefined` when keep alive is off or not connected.
   */
  get keepAlive(): {
    interval: number;
    pingDueAt: number | undefined;
    deadline: number | undefined;
  } {
    const interval = this.#keepAlive;
    if (interval === 0 || this.#state !== "connected") {
      return { interval, pingDueAt: undefined, deadline: undefined };
    }
    return {
      interval,
      pingDueAt: this.#lastSent + interval * 1000,
      deadline: this.#lastReceived + interval * 1500,
    };
  }

  /**
   * Connects over `transport`: sends CONNECT and waits for CONNACK (answering AUTH with
   * `options.onAuth`). Returns what the CONNACK said. A refusing CONNACK throws
   * {@linkcode ConnectionRefusedError}; the transport is closed on any failure or abort.
   *
   * With `cleanStart: false` and a session the server still holds (`sessionPresent`), recover the
   * flights with {@linkcode Client.republish} / {@linkcode Client.rerelease} or
   * {@linkcode Client.resend}.
   *
   * @example Connecting with a session that never expires
   * ```ts ignore
   * import { Client, connectTcp } from "@scope/mqtt5";
   * const client = new Client();
   * const result = await client.connect(await connectTcp({ port: 1883 }), {
   *   clientId: "sensor-1",
   *   cleanStart: false,
   *   sessionExpiryInterval: 0xffffffff,
   * });
   * console.log(result.sessionPresent, result.limits.receiveMaximum);
   * ```
   */
  async connect(transport: Transport, options: ConnectOptions = {}): Promise<ConnectResult> {
    if (this.#state === "connecting" || this.#state === "connected") {
      throw new ClientStateError(
        `Cannot connect: the client is ${this.#state}; disconnect or abort first`,
      );
    }
    options.signal?.throwIfAborted();
    const cleanStart = options.cleanStart ?? true;
    const connect = this.#buildConnect(options, cleanStart);
    // Encode before touching any state: an invalid CONNECT is refused with nothing sent.
    const bytes = encode(connect, { strict: this.#strict });
    if (cleanStart) this.session.clear();
    this.#reset();
    this.#connectOptions = options;
    this.#transport = transport;
    this.#state = "connecting";
    log.debug("Connecting as {clientId} (clean start: {cleanStart})", {
      clientId: connect.clientId,
      cleanStart,
    });
    this.#direct = transport.direct;
    this.#reader = new PacketReader(transport.readable, {
      ...(this.#direct !== undefined ? { source: this.#direct } : {}),
      strict: this.#strict,
      ...(options.maximumPacketSize !== undefined
        ? { maximumPacketSize: options.maximumPacketSize }
        : {}),
    });
    this.#writer = transport.writable.getWriter();
    try {
      await raceAbort(this.#send(bytes), options.signal);
      for (;;) {
        const packet = await this.#read(options.signal);
        if (packet.type === PacketType.Connack) {
          return this.#onConnack(packet, connect, cleanStart);
        }
        if (
          packet.type === PacketType.Auth && connect.properties?.authenticationMethod !== undefined
        ) {
          await this.#answerAuth(packet, connect.properties.authenticationMethod, options);
          continue;
        }
        throw await this.#violation(
          `The server sent ${packetTypeName[packet.type]} before CONNACK`,
          0x82,
          "MQTT-3.2.0-1",
        );
      }
    } catch (e) {
      this.#close();
      throw e;
    }
  }

  #buildConnect(options: ConnectOptions, cleanStart: boolean): Connect {
    const props: NonNullable<Connect["properties"]> = {};
    if (options.sessionExpiryInterval) props.sessionExpiryInterval = options.sessionExpiryInterval;
    if (options.receiveMaximum !== undefined && options.receiveMaximum !== 65_535) {
      props.receiveMaximum = options.receiveMaximum;
    }
    if (options.maximumPacketSize !== undefined) {
      props.maximumPacketSize = options.maximumPacketSize;
    }
    if (options.topicAliasMaximum) props.topicAliasMaximum = options.topicAliasMaximum;
    if (options.requestResponseInformation) props.requestResponseInformation = 1;
    if (options.requestProblemInformation === false) props.requestProblemInformation = 0;
    if (options.userProperties?.length) props.userProperties = options.userProperties;
    if (options.authenticationMethod !== undefined) {
      props.authenticationMethod = options.authenticationMethod;
    }
    if (options.authenticationData !== undefined) {
      props.authenticationData = options.authenticationData;
    }
    const connect: Connect = {
      type: PacketType.Connect,
      cleanStart,
      keepAlive: options.keepAlive ?? 60,
      clientId: options.clientId ?? this.session.state.clientId,
      properties: props,
    };
    if (options.username !== undefined) connect.username = options.username;
    if (options.password !== undefined) connect.password = toBytes(options.password);
    if (options.will !== undefined) {
      const w = options.will;
      connect.will = {
        topic: w.topic,
        payload: toBytes(w.payload),
        qos: w.qos ?? 0,
        retain: w.retain ?? false,
        ...(w.properties ? { properties: w.properties } : {}),
      };
    }
    return connect;
  }

  async #answerAuth(packet: Auth, method: string, options: ConnectOptions): Promise<void> {
    const props = packet.properties ?? {};
    if (props.authenticationMethod !== method) {
      throw await this.#violation(
        `The server's AUTH names method ${JSON.stringify(props.authenticationMethod)}, not ${
          JSON.stringify(method)
        }`,
        0x82,
        "MQTT-4.12.0-5",
      );
    }
    if (packet.reasonCode !== 0x18) {
      throw await this.#violation(
        `The server sent AUTH ${describeReasonCode(packet.reasonCode ?? 0)} before CONNACK`,
        0x82,
      );
    }
    if (options.onAuth === undefined) {
      throw await this.#violation(
        "The server continues authentication, but no onAuth handler was given to connect()",
        0x8c,
      );
    }
    const answer = await options.onAuth({ type: "auth", reasonCode: 0x18, properties: props });
    const auth = {
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: {
        authenticationMethod: method,
        ...(answer.authenticationData ? { authenticationData: answer.authenticationData } : {}),
        ...(answer.reasonString ? { reasonString: answer.reasonString } : {}),
        ...(answer.userProperties ? { userProperties: answer.userProperties } : {}),
      },
    } as const;
    await raceAbort(this.#send(encode(auth, this.#encodeOptions())), options.signal);
  }

  async #onConnack(packet: Connack, connect: Connect, cleanStart: boolean): Promise<ConnectResult> {
    const p = packet.properties ?? {};
    if (packet.reasonCode >= 0x80) {
      log.error(`The server refused the connection: ${describeReasonCode(packet.reasonCode)}`, {
        reasonString: p.reasonString,
      });
      this.#close();
      throw new ConnectionRefusedError(packet.reasonCode, {
        ...(p.reasonString !== undefined ? { reasonString: p.reasonString } : {}),
        ...(p.serverReference !== undefined ? { serverReference: p.serverReference } : {}),
      });
    }
    if (packet.sessionPresent && cleanStart) {
      throw await this.#violation(
        "The server says a session is present although the client asked for a clean start",
        0x82,
        "MQTT-3.2.2-4",
      );
    }
    const method = connect.properties?.authenticationMethod;
    if (method !== undefined && p.authenticationMethod !== method) {
      throw await this.#violation(
        "The CONNACK does not repeat the Authentication Method of the CONNECT",
        0x82,
        "MQTT-4.12.0-5",
      );
    }
    if (method === undefined && p.authenticationMethod !== undefined) {
      throw await this.#violation(
        "The CONNACK names an Authentication Method the client did not ask for",
        0x82,
        "MQTT-4.12.0-6",
      );
    }
    if (
      connect.properties?.requestResponseInformation !== 1 && p.responseInformation !== undefined
    ) {
      throw await this.#violation(
        "The CONNACK carries Response Information the client did not request",
        0x82,
        "MQTT-3.1.2-28",
      );
    }
    let discarded: OutgoingFlight[] = [];
    if (!packet.sessionPresent && !this.session.isEmpty) {
      // The server holds no session: the client's state must go too [MQTT-3.2.2-5].
      discarded = this.session.state.outgoing.slice();
      this.session.clear();
      log.warning(
        "The server holds no session: the client's session is discarded, with {count} outgoing flights {packetIds}",
        { count: discarded.length, packetIds: discarded.map((f) => f.packetId) },
      );
    }
    const limits: ServerLimits = {
      receiveMaximum: p.receiveMaximum ?? 65_535,
      maximumQoS: p.maximumQoS ?? 2,
      retainAvailable: (p.retainAvailable ?? 1) === 1,
      maximumPacketSize: p.maximumPacketSize,
      topicAliasMaximum: p.topicAliasMaximum ?? 0,
      wildcardSubscriptionAvailable: (p.wildcardSubscriptionAvailable ?? 1) === 1,
      subscriptionIdentifierAvailable: (p.subscriptionIdentifierAvailable ?? 1) === 1,
      sharedSubscriptionAvailable: (p.sharedSubscriptionAvailable ?? 1) === 1,
    };
    this.#limits = limits;
    const clientId = p.assignedClientIdentifier ?? connect.clientId;
    this.session.state.clientId = clientId;
    this.#keepAlive = p.serverKeepAlive ?? connect.keepAlive ?? 0;
    this.#sessionExpiry = p.sessionExpiryInterval ?? connect.properties?.sessionExpiryInterval ?? 0;
    this.#state = "connected";
    log.info(
      "Connected as {clientId}; session present: {sessionPresent}; keep alive {keepAlive} s; session expiry {sessionExpiryInterval} s",
      {
        clientId,
        sessionPresent: packet.sessionPresent,
        keepAlive: this.#keepAlive,
        sessionExpiryInterval: this.#sessionExpiry,
      },
    );
    if (log.isEnabledFor("debug")) {
      log.debug(
        "The server's limits: " +
          Object.entries(limits).flatMap(([k, v]) => v === undefined ? [] : [`${k}=${v}`])
            .join(" "),
      );
    }
    return {
      sessionPresent: packet.sessionPresent,
      clientId,
      assignedClientIdentifier: p.assignedClientIdentifier,
      keepAlive: this.#keepAlive,
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

  #reset(): void {
    this.#sentHere.clear();
    this.#pendingSubs.clear();
    this.#inbound = [];
    this.#inboundAliases.clear();
    this.#outboundAliases.clear();
    this.#outboundTopics.clear();
    this.#batch = [];
    this.#open = EMPTY;
    this.#openLength = this.#openBytes = 0;
    this.#batchDone = undefined;
    this.#writing = false;
    this.#closeError = undefined;
    this.#limits = DEFAULT_LIMITS;
    this.#reauthenticating = false;
    this.#polling = false;
  }

  #encodeOptions(): { strict: boolean; maximumPacketSize?: number } {
    const max = this.#limits.maximumPacketSize;
    let options = this.#encodeOpts;
    if (options === undefined || options.maximumPacketSize !== max) {
      options = this.#encodeOpts = max === undefined
        ? { strict: this.#strict }
        : { strict: this.#strict, maximumPacketSize: max };
    }
    return options;
  }

  #requireConnected(what: string): void {
    if (this.#state !== "connected") {
      throw new NotConnectedError(
        `Cannot ${what}: the client is ${this.#state}` +
          (this.#closeError ? ` (${this.#closeError.message})` : "") +
          "; connect first (with the session, to resume)",
      );
    }
  }

  /**
   * Publishes a message. At QoS 1 and 2 it returns the Packet Identifier, whose flight the
   * session tracks until {@linkcode Client.poll} reports `acknowledged`, `completed` or
   * `rejected`; at QoS 0 it returns `undefined`.
   *
   * Refused before any byte is written, leaving the client usable: not connected
   * ({@linkcode NotConnectedError}), a QoS above the server's maximum, RETAIN the server does not
   * support, a topic alias above its maximum ({@linkcode ServerCapabilityError}), the server's
   * Receive Maximum used up ({@linkcode QuotaExceededError}), a packet over the server's Maximum
   * Packet Size or any other rule ({@linkcode EncodeError}).
   *
   * Once the PUBLISH is queued the flight is in the session even if the signal aborts the wait:
   * the abort only stops waiting for the write. If the connection fails during the write, a
   * {@linkcode ConnectionClosedError} carrying the `packetId` says the flight is kept for recovery.
   *
   * @example Publishing at QoS 1
   * ```ts ignore
   * const id = await client.publish({ topic: "sensors/1", qos: 1 }, "21.5");
   * ```
   */
  publish(
    options: PublishOptions,
    payload?: Uint8Array | string,
  ): Promise<number | undefined> {
    // Not an async function: a publication awaiting its write holds a promise at most, not a
    // suspended call (an application may queue a thousand in one turn).
    try {
      return this.#publish(options, payload);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #publish(
    options: PublishOptions,
    payload: Uint8Array | string | undefined,
  ): Promise<number | undefined> {
    options.signal?.throwIfAborted();
    this.#requireConnected("publish");
    const qos = options.qos ?? 0;
    const limits = this.#limits;
    if (qos > limits.maximumQoS) {
      throw new ServerCapabilityError(
        `Cannot publish at QoS ${qos}: the server's Maximum QoS is ${limits.maximumQoS}; publish at a lower QoS`,
        0x9b,
        "MQTT-3.2.2-11",
      );
    }
    if (options.retain && !limits.retainAvailable) {
      throw new ServerCapabilityError(
        "Cannot publish with RETAIN: the server does not support retained messages",
        0x9a,
        "MQTT-3.2.2-14",
      );
    }
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
      if (alias > limits.topicAliasMaximum) {
        throw new ServerCapabilityError(
          limits.topicAliasMaximum === 0
            ? `Cannot use Topic Alias ${alias}: the server accepts no topic aliases`
            : `Cannot use Topic Alias ${alias}: the server's Topic Alias Maximum is ${limits.topicAliasMaximum}`,
          0x94,
          limits.topicAliasMaximum === 0 ? "MQTT-3.2.2-18" : "MQTT-3.3.2-9",
        );
      }
      if (topic === "") {
        const known = this.#outboundAliases.get(alias);
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
    if (props !== undefined) packet.properties = props;
    let autoAlias: number | undefined;
    if (
      alias === undefined && this.#autoTopicAlias && limits.topicAliasMaximum > 0 && topic !== ""
    ) {
      // The automatic policy: the first topics get the aliases, later sends use the alias alone.
      const known = this.#outboundTopics.get(topic);
      if (known !== undefined) {
        packet.topic = "";
        packet.properties = { ...props, topicAlias: known };
      } else if (this.#outboundAliases.size < limits.topicAliasMaximum) {
        // The lowest alias no topic holds: explicit aliases may have taken any of them.
        autoAlias = 1;
        while (this.#outboundAliases.has(autoAlias)) autoAlias++;
        packet.properties = { ...props, topicAlias: autoAlias };
      }
    }
    let packetId: number | undefined;
    if (qos > 0) {
      if (this.session.state.outgoing.length >= limits.receiveMaximum) {
        log.debug("Quota used up: {receiveMaximum} in flight, the server's Receive Maximum", {
          receiveMaximum: limits.receiveMaximum,
        });
        throw new QuotaExceededError(limits.receiveMaximum);
      }
      packetId = this.session.allocatePacketId((id) => this.#pendingSubs.has(id));
      if (packetId === undefined) throw new PacketIdExhaustedError();
      packet.packetId = packetId;
    }
    // Encoded into the write batch (nothing is queued if it is refused); nothing else runs before
    // the session records the flight, and the write is at the end of the turn.
    const sent = this.#sendPacket(packet);
    if (alias !== undefined && options.topic !== "") {
      const previous = this.#outboundAliases.get(alias);
      if (previous !== undefined) this.#outboundTopics.delete(previous);
      this.#outboundAliases.set(alias, options.topic);
      this.#outboundTopics.set(options.topic, alias);
      log.debug("Topic Alias {alias} now stands for {topic}", { alias, topic: options.topic });
    }
    if (autoAlias !== undefined) {
      this.#outboundAliases.set(autoAlias, topic);
      this.#outboundTopics.set(topic, autoAlias);
      log.debug("Topic Alias {alias} now stands for {topic} (automatic)", {
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
      this.session.addPublication(packetId, stored);
      this.#sentHere.add(packetId);
      if (log.isEnabledFor("debug")) {
        const state = qos === 1 ? "awaiting-puback" : "awaiting-pubrec";
        log.debug(`Flight {packetId} ${state}; {inFlight} of {receiveMaximum} in flight`, {
          packetId,
          inFlight: this.session.state.outgoing.length,
          receiveMaximum: limits.receiveMaximum,
        });
      }
    }
    const written = raceAbort(sent, options.signal);
    // At QoS 0 the batch's promise itself serves: it resolves to undefined once written.
    if (packetId === undefined) return written as Promise<unknown> as Promise<undefined>;
    return written.then(() => packetId, (e) => {
      if (e instanceof ConnectionClosedError) {
        // The flight is in the session: say so, so the application can count on its recovery.
        throw new ConnectionClosedError(
          `${e.message}; publication ${packetId} is kept in the session: resend it after reconnecting`,
          { cause: e, reasonCode: e.reasonCode, packetId },
        );
      }
      throw e;
    });
  }

  /**
   * Sends the PUBLISH of an outgoing flight again, with DUP set, after a reconnect with the
   * session [MQTT-4.4.0-1]: use it for a flight `awaiting-puback` or `awaiting-pubrec`, whose
   * PUBLISH or acknowledgement may have been lost. Refused for a flight already sent on this
   * connection, for one awaiting PUBCOMP (use {@linkcode Client.rerelease}), and with
   * {@linkcode QuotaExceededError} while the flights sent on this connection use up the server's
   * Receive Maximum (poll until an acknowledgement frees a slot).
   *
   * @example Recovering one flight
   * ```ts ignore
   * const flight = client.session.flight(id);
   * if (flight?.state === "awaiting-pubcomp") await client.rerelease(id);
   * else if (flight) await client.republish(id);
   * ```
   */
  async republish(packetId: number, options: SignalOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#requireConnected("republish");
    const flight = this.#flightToResend(packetId);
    const pub = flight.publication;
    if (flight.state === "awaiting-pubcomp" || pub === undefined) {
      throw new ClientStateError(
        `Cannot republish ${packetId}: its PUBREC came already, so the PUBLISH must not be sent again [MQTT-4.3.3-6]; use rerelease()`,
      );
    }
    if (pub.qos > this.#limits.maximumQoS) {
      throw new ServerCapabilityError(
        `Cannot republish ${packetId} at QoS ${pub.qos}: the server's Maximum QoS is now ${this.#limits.maximumQoS}`,
        0x9b,
        "MQTT-3.2.2-11",
      );
    }
    if (this.#inFlightHere() >= this.#limits.receiveMaximum) {
      throw new QuotaExceededError(this.#limits.receiveMaximum);
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
    const bytes = encode(packet, this.#encodeOptions());
    this.#sentHere.add(packetId);
    log.debug(`Flight {packetId} ${flight.state}: PUBLISH sent again with DUP`, { packetId });
    await raceAbort(this.#send(bytes), options.signal);
  }

  /**
   * Sends the PUBREL of a QoS 2 flight `awaiting-pubcomp` again after a reconnect with the
   * session [MQTT-4.4.0-1], since the PUBREL or the PUBCOMP may have been lost.
   *
   * @example
   * ```ts ignore
   * await client.rerelease(id);
   * ```
   */
  async rerelease(packetId: number, options: SignalOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#requireConnected("rerelease");
    const flight = this.#flightToResend(packetId);
    if (flight.state !== "awaiting-pubcomp") {
      throw new ClientStateError(
        `Cannot re-release ${packetId}: it is ${flight.state}, no PUBREC came yet; use republish()`,
      );
    }
    const bytes = encode({ type: PacketType.Pubrel, packetId }, this.#encodeOptions());
    this.#sentHere.add(packetId);
    log.debug("Flight {packetId} awaiting-pubcomp: PUBREL sent again", { packetId });
    await raceAbort(this.#send(bytes), options.signal);
  }

  /**
   * Resends the outgoing flights of the session not yet sent on this connection, in their
   * original order [MQTT-4.6.0-1]: PUBREL for those awaiting PUBCOMP, never held back
   * [MQTT-3.3.4-8]; PUBLISH with DUP for those awaiting PUBACK or PUBREC, as far as the server's
   * Receive Maximum allows [MQTT-3.3.4-7] (the rest wait, in order, for a later call once
   * acknowledgements have freed slots). Call it after a reconnect whose CONNACK says
   * `sessionPresent`, and again after acknowledgements while flights remain unsent. Returns the
   * Packet Identifiers resent.
   *
   * @example
   * ```ts ignore
   * const result = await client.connect(transport, { clientId: "a", cleanStart: false });
   * if (result.sessionPresent) await client.resend();
   * ```
   */
  async resend(options: SignalOptions = {}): Promise<number[]> {
    const ids: number[] = [];
    let held = false;
    for (const flight of this.session.state.outgoing.slice()) {
      if (this.#sentHere.has(flight.packetId)) continue;
      if (flight.state === "awaiting-pubcomp") {
        await this.rerelease(flight.packetId, options);
      } else if (held || this.#inFlightHere() >= this.#limits.receiveMaximum) {
        // The quota is used up: this PUBLISH and those after it wait, in order.
        held = true;
        continue;
      } else {
        await this.republish(flight.packetId, options);
      }
      ids.push(flight.packetId);
    }
    return ids;
  }

  /**
   * The outgoing flights sent on this connection (published, republished or re-released) and not
   * over yet: they use the server's Receive Maximum on it [MQTT-3.3.4-7].
   */
  #inFlightHere(): number {
    let n = 0;
    for (const flight of this.session.state.outgoing) {
      if (this.#sentHere.has(flight.packetId)) n++;
    }
    return n;
  }

  #flightToResend(packetId: number): OutgoingFlight {
    const flight = this.session.flight(packetId);
    if (flight === undefined) {
      throw new ClientStateError(`Packet Identifier ${packetId} is not in flight in the session`);
    }
    if (this.#sentHere.has(packetId)) {
      throw new ClientStateError(
        `Packet Identifier ${packetId} was already sent on this connection; resending is only allowed after a reconnect [MQTT-4.4.0-1]`,
      );
    }
    return flight;
  }

  /**
   * Subscribes to one or more filters in one SUBSCRIBE and returns its Packet Identifier; the
   * SUBACK comes as a `subscribed` event from {@linkcode Client.poll}. Refused before sending:
   * wildcard, shared or identified subscriptions the server does not support
   * ({@linkcode ServerCapabilityError}), invalid filters or No Local on a shared subscription
   * ({@linkcode EncodeError}).
   *
   * @example Two filters in one SUBSCRIBE
   * ```ts ignore
   * await client.subscribe([{ filter: "a/#", qos: 1 }, { filter: "b/+", qos: 2 }]);
   * ```
   */
  async subscribe(
    subscriptions: SubscribeRequest | SubscribeRequest[],
    options: SubscribeOptions = {},
  ): Promise<number> {
    options.signal?.throwIfAborted();
    this.#requireConnected("subscribe");
    const list = Array.isArray(subscriptions) ? subscriptions : [subscriptions];
    const limits = this.#limits;
    for (const s of list) {
      if (!limits.sharedSubscriptionAvailable && isSharedFilter(s.filter)) {
        throw new ServerCapabilityError(
          `Cannot subscribe to ${
            JSON.stringify(s.filter)
          }: the server does not support shared subscriptions`,
          0x9e,
        );
      }
      if (!limits.wildcardSubscriptionAvailable && hasWildcard(s.filter)) {
        throw new ServerCapabilityError(
          `Cannot subscribe to ${
            JSON.stringify(s.filter)
          }: the server does not support wildcard subscriptions`,
          0xa2,
        );
      }
    }
    const subId = options.subscriptionIdentifier;
    if (subId !== undefined && !limits.subscriptionIdentifierAvailable) {
      throw new ServerCapabilityError(
        "Cannot subscribe with a Subscription Identifier: the server does not support them",
        0xa1,
      );
    }
    const packetId = this.session.allocatePacketId((id) => this.#pendingSubs.has(id));
    if (packetId === undefined) throw new PacketIdExhaustedError();
    const properties: SubscribeProperties = {};
    if (subId !== undefined) properties.subscriptionIdentifiers = [subId];
    if (options.userProperties?.length) properties.userProperties = options.userProperties;
    const bytes = encode(
      { type: PacketType.Subscribe, packetId, subscriptions: list, properties },
      this.#encodeOptions(),
    );
    this.#pendingSubs.set(packetId, {
      kind: "sub",
      requests: list,
      filters: list.map((s) => s.filter),
      ...(subId !== undefined ? { id: subId } : {}),
    });
    await raceAbort(this.#send(bytes), options.signal);
    return packetId;
  }

  /**
   * Unsubscribes from one or more filters in one UNSUBSCRIBE and returns its Packet Identifier;
   * the UNSUBACK comes as an `unsubscribed` event from {@linkcode Client.poll}.
   *
   * @example
   * ```ts ignore
   * await client.unsubscribe(["a/#", "b/+"]);
   * ```
   */
  async unsubscribe(filters: string | string[], options: UnsubscribeOptions = {}): Promise<number> {
    options.signal?.throwIfAborted();
    this.#requireConnected("unsubscribe");
    const list = Array.isArray(filters) ? filters : [filters];
    const packetId = this.session.allocatePacketId((id) => this.#pendingSubs.has(id));
    if (packetId === undefined) throw new PacketIdExhaustedError();
    const bytes = encode(
      {
        type: PacketType.Unsubscribe,
        packetId,
        filters: list,
        ...(options.userProperties?.length
          ? { properties: { userProperties: options.userProperties } }
          : {}),
      },
      this.#encodeOptions(),
    );
    this.#pendingSubs.set(packetId, { kind: "unsub", requests: [], filters: list });
    await raceAbort(this.#send(bytes), options.signal);
    return packetId;
  }

  /**
   * Sends PINGREQ; the PINGRESP comes as a `pong` event from {@linkcode Client.poll}.
   *
   * @example
   * ```ts ignore
   * await client.ping();
   * ```
   */
  async ping(options: SignalOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#requireConnected("ping");
    await raceAbort(this.#send(PINGREQ), options.signal);
  }

  /**
   * Sends AUTH after CONNACK, with the connection's Authentication Method [MQTT-4.12.1-1]:
   * reason 0x19 (the default) starts a re-authentication, 0x18 answers a server's `auth` event
   * that continues it. The server's answers come as `auth` events from {@linkcode Client.poll}
   * (0x00 when it succeeded). The Reason String and User Properties are left out if they would
   * exceed the server's Maximum Packet Size. Refused with {@linkcode ClientStateError} when the
   * connection used no Authentication Method [MQTT-4.12.0-7].
   *
   * @example Re-authenticating
   * ```ts ignore
   * await client.auth({ authenticationData: newToken });
   * const answer = await client.poll(); // { type: "auth", reasonCode: 0, ... }
   * ```
   */
  async auth(options: AuthOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#requireConnected("send AUTH");
    const method = this.#connectOptions.authenticationMethod;
    if (method === undefined) {
      throw new ClientStateError(
        "Cannot send AUTH: the connection used no Authentication Method [MQTT-4.12.0-7]; connect with one",
      );
    }
    const reasonCode = options.reasonCode ?? 0x19;
    if (reasonCode === 0x18 && !this.#reauthenticating) {
      throw new ClientStateError(
        "Cannot continue authentication: no re-authentication is under way; start one with reason 0x19",
      );
    }
    const bytes = this.#encodeDroppable({
      type: PacketType.Auth,
      reasonCode,
      properties: {
        authenticationMethod: method,
        ...(options.authenticationData ? { authenticationData: options.authenticationData } : {}),
        ...(options.reasonString !== undefined ? { reasonString: options.reasonString } : {}),
        ...(options.userProperties ? { userProperties: options.userProperties } : {}),
      },
    });
    this.#reauthenticating = true;
    await raceAbort(this.#send(bytes), options.signal);
  }

  /**
   * Sends the acknowledgement owed for an incoming publication in manual mode: PUBACK (QoS 1),
   * PUBREC (QoS 2, before its PUBREL) or PUBCOMP (QoS 2, after its PUBREL: a `released` event).
   * PUBACKs and PUBRECs go out in the order their PUBLISHes arrived [MQTT-4.6.0-2],
   * [MQTT-4.6.0-3]: one given early is held until those before it are given.
   *
   * @example Manual acknowledgement
   * ```ts ignore
   * const client = new Client({ manualAck: true });
   * // ...
   * const event = await client.poll();
   * if (event.type === "message" && event.packetId !== undefined) {
   *   await store(event.payload);
   *   await client.acknowledge(event.packetId);
   * }
   * ```
   */
  async acknowledge(packetId: number, options: AcknowledgeOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#requireConnected("acknowledge");
    const i = this.#inbound.findIndex((e) => e.packetId === packetId && e.ack === undefined);
    if (i < 0) {
      throw new ClientStateError(`No incoming publication ${packetId} awaits an acknowledgement`);
    }
    const entry = this.#inbound[i]!;
    const reasonCode = options.reasonCode ?? 0;
    const type = entry.stage === "release"
      ? PacketType.Pubcomp
      : entry.qos === 1
      ? PacketType.Puback
      : PacketType.Pubrec;
    const ack = {
      type,
      packetId,
      reasonCode,
      ...(options.properties ? { properties: options.properties } : {}),
    } as Packet;
    // Check the acknowledgement now, so a wrong reason code is refused with nothing sent.
    const bytes = this.#encodeDroppable(ack);
    entry.ack = bytes;
    let sent: Promise<void>;
    if (entry.stage === "release") {
      this.#inbound.splice(i, 1);
      this.session.removeIncoming(packetId);
      sent = this.#send(bytes);
    } else {
      if (type === PacketType.Pubrec && reasonCode < 0x80) {
        entry.owned = true;
        // The application has the message: record its id now, even while the PUBREC is held for
        // order, so that after a reconnect the server's resent PUBLISH is a duplicate, not a new
        // message delivered twice [MQTT-4.3.3-10].
        this.session.addIncoming(packetId);
      }
      sent = this.#flushAcks();
    }
    await raceAbort(sent, options.signal);
  }

  /**
   * Sends the acknowledgements given so far from the head of the incoming queue, in arrival order
   * [MQTT-4.6.0-2], [MQTT-4.6.0-3]; one given early waits for those before it.
   */
  #flushAcks(): Promise<void> {
    const sends: Promise<void>[] = [];
    while (this.#inbound.length > 0) {
      const head = this.#inbound[0]!;
      if (head.stage === "release" || head.ack === undefined) break;
      this.#inbound.shift();
      if (head.owned) this.session.addIncoming(head.packetId);
      sends.push(this.#send(head.ack));
    }
    return Promise.all(sends).then(() => {});
  }

  /**
   * Encodes a packet whose Reason String and then User Properties may be left out to fit the
   * server's Maximum Packet Size [MQTT-3.4.2-2], [MQTT-3.4.2-3] (and the same rule of PUBREC,
   * PUBREL, PUBCOMP, DISCONNECT and AUTH).
   */
  #encodeDroppable(packet: Packet): Uint8Array {
    const options = this.#encodeOptions();
    const p = packet as { properties?: AckProperties };
    for (;;) {
      try {
        return encode(packet, options);
      } catch (e) {
        const props = p.properties;
        if (!(e instanceof EncodeError) || e.reasonCode !== 0x95 || props === undefined) throw e;
        if (props.reasonString !== undefined) {
          const { reasonString: _, ...rest } = props;
          p.properties = rest;
          log.debug(
            `Left out the Reason String of ${
              packetTypeName[packet.type]
            } to fit the server's Maximum Packet Size`,
          );
        } else if (props.userProperties !== undefined) {
          const { userProperties: _, ...rest } = props;
          p.properties = rest;
          log.debug(
            `Left out the User Properties of ${
              packetTypeName[packet.type]
            } to fit the server's Maximum Packet Size`,
          );
        } else {
          throw e;
        }
      }
    }
  }

  /**
   * Reads the next packet, does what the protocol requires in reply (in automatic mode PUBACK,
   * PUBREC and PUBCOMP; in both modes PUBREL after a PUBREC), and returns one event; each event's
   * documentation says what the client already queued in reply. Only one poll may run at a time.
   *
   * Cancel-safe: aborting rejects with the signal's reason and loses no byte; the next poll
   * finishes the same packet. A malformed packet or a protocol violation by the server makes the
   * client send DISCONNECT with the matching reason code, close, and throw
   * {@linkcode ProtocolViolationError}; a lost connection throws {@linkcode ConnectionClosedError}.
   * The session is intact in both cases.
   *
   * @example Polling with a deadline
   * ```ts ignore
   * const event = await client.poll({ signal: AbortSignal.timeout(5000) });
   * ```
   */
  async poll(options: SignalOptions = {}): Promise<ClientEvent> {
    options.signal?.throwIfAborted();
    if (this.#polling) {
      throw new ClientStateError("poll() is already running; await it before polling again");
    }
    this.#requireConnected("poll");
    this.#polling = true;
    try {
      for (;;) {
        // A packet already read comes at once, and a PUBLISH goes to its handler directly: a
        // message costs no more asynchronous calls than it needs (#handle does the same).
        const read = this.#read(options.signal);
        const packet = read instanceof Promise ? await read : read;
        const handled = packet.type === PacketType.Publish
          ? this.#onPublish(packet)
          : this.#handle(packet);
        const event = handled instanceof Promise ? await handled : handled;
        if (event !== undefined) return event;
      }
    } finally {
      this.#polling = false;
    }
  }

  /**
   * Reads one packet; turns decoding and connection failures into the client's errors. A packet
   * already read is returned at once, not as a promise.
   */
  #read(signal: AbortSignal | undefined): Packet | Promise<Packet> {
    this.#signal = signal;
    let packet: Packet | undefined;
    try {
      packet = this.#reader!.take();
    } catch (e) {
      return this.#readFailed(e, signal);
    }
    return packet === undefined ? this.#readNext(signal) : this.#received(packet);
  }

  /** Waits for the next packet from the transport. */
  async #readNext(signal: AbortSignal | undefined): Promise<Packet> {
    let packet: Packet;
    try {
      packet = await this.#reader!.next(signal);
    } catch (e) {
      return await this.#readFailed(e, signal);
    }
    return this.#received(packet);
  }

  /** A promise that rejects with the error of a violation once its DISCONNECT is sent. */
  #raise(violation: Promise<ProtocolViolationError>): Promise<never> {
    return violation.then((error) => {
      throw error;
    });
  }

  /** Turns a failed read into the client's error: DISCONNECT for a bad packet, then close. */
  async #readFailed(e: unknown, signal: AbortSignal | undefined): Promise<never> {
    if (signal?.aborted && e === signal.reason) throw e;
    if (e instanceof DecodeError) {
      throw await this.#violation(
        `The server sent a bad packet: ${e.message}`,
        // 0x84 (a CONNECT of another version) is no DISCONNECT code; a server's CONNECT is a
        // Protocol Error whatever its version.
        e.reasonCode === 0x84 ? 0x82 : e.reasonCode,
        e.statement,
        e,
      );
    }
    const error = e instanceof MqttError ? e : new ConnectionClosedError(String(e), { cause: e });
    if (this.#state === "closed") {
      log.debug("Reading ended: {message}", { message: error.message });
    } else log.error("The connection failed: {message}", { message: error.message });
    this.#close(error);
    throw error;
  }

  /** Notes a packet's arrival (for keep alive and the trace log) and returns it. */
  #received(packet: Packet): Packet {
    this.#lastReceived = Date.now();
    // One check per packet read when logging is off; #handle() reuses it.
    this.#debug = log.isEnabledFor("debug");
    if (this.#debug && log.isEnabledFor("trace")) tracePacket("<-", packet);
    return packet;
  }

  async #handle(packet: Packet): Promise<ClientEvent | undefined> {
    if (
      this.#connectOptions.requestProblemInformation === false &&
      packet.type !== PacketType.Publish && packet.type !== PacketType.Disconnect &&
      "properties" in packet &&
      ((packet.properties as AckProperties | undefined)?.reasonString !== undefined ||
        (packet.properties as AckProperties | undefined)?.userProperties !== undefined)
    ) {
      throw await this.#violation(
        `The server sent a Reason String or User Property on ${
          packetTypeName[packet.type]
        } although the client set Request Problem Information to 0`,
        0x82,
        "MQTT-3.1.2-29",
      );
    }
    switch (packet.type) {
      case PacketType.Publish:
        return await this.#onPublish(packet);
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubcomp: {
        const flight = this.session.flight(packet.packetId);
        const reasonCode = packet.reasonCode ?? 0;
        const properties = packet.properties ?? {};
        const expected = packet.type === PacketType.Puback
          ? "awaiting-puback"
          : packet.type === PacketType.Pubrec
          ? "awaiting-pubrec"
          : "awaiting-pubcomp";
        if (flight === undefined || flight.state !== expected) {
          if (packet.type === PacketType.Pubrec) {
            // Unknown id: answer PUBREL 0x92 (Packet Identifier not found), as section 4.3.3 allows.
            log.warning("PUBREC for {packetId}, which is not in flight: PUBREL 0x92", {
              packetId: packet.packetId,
            });
            this.#sendNow({ type: PacketType.Pubrel, packetId: packet.packetId, reasonCode: 0x92 });
            return undefined;
          }
          throw await this.#violation(
            `The server sent ${
              packetTypeName[packet.type]
            } for Packet Identifier ${packet.packetId}, which is not ${expected}`,
            0x82,
          );
        }
        if (packet.type === PacketType.Pubrec && reasonCode < 0x80) {
          this.session.released(flight);
          if (this.#debug) {
            log.debug("Flight {packetId} awaiting-pubcomp; PUBREL queued", {
              packetId: packet.packetId,
            });
          }
          this.#sendNow({ type: PacketType.Pubrel, packetId: packet.packetId });
          return { type: "received", packetId: packet.packetId, reasonCode, properties };
        }
        this.session.removeFlight(packet.packetId);
        // The id is free again: forget that it was sent here, or the set grows with every
        // publication for as long as the connection lasts.
        this.#sentHere.delete(packet.packetId);
        if (reasonCode >= 0x80) {
          log.warning(
            `The server rejected publication {packetId} to {topic}: ${
              packetTypeName[packet.type]
            } ${describeReasonCode(reasonCode)}`,
            {
              packetId: packet.packetId,
              topic: flight.publication?.topic,
              reasonString: properties.reasonString,
            },
          );
        } else if (this.#debug) {
          log.debug(
            `Flight {packetId} over (${packetTypeName[packet.type]}); {inFlight} in flight`,
            {
              packetId: packet.packetId,
              inFlight: this.session.state.outgoing.length,
            },
          );
        }
        // A failing PUBCOMP (0x92) still ends the flow: the message was released already.
        if (reasonCode >= 0x80 && packet.type !== PacketType.Pubcomp) {
          return {
            type: "rejected",
            packetId: packet.packetId,
            reasonCode,
            properties,
            publication: flight.publication,
          };
        }
        return {
          type: packet.type === PacketType.Puback ? "acknowledged" : "completed",
          packetId: packet.packetId,
          reasonCode,
          properties,
        };
      }
      case PacketType.Pubrel: {
        // In manual mode the id stays in the session until the application's PUBCOMP goes out, so
        // a PUBREL the server sends again after a reconnect is still known.
        const known = this.#manualAck
          ? this.session.hasIncoming(packet.packetId)
          : this.session.removeIncoming(packet.packetId);
        const reasonCode = packet.reasonCode ?? 0;
        if (!known) {
          log.warning("PUBREL for {packetId}, which awaits no release: PUBCOMP 0x92", {
            packetId: packet.packetId,
          });
        } else if (this.#debug) {
          log.debug("Incoming QoS 2 publication {packetId} released", {
            packetId: packet.packetId,
          });
        }
        if (known && this.#manualAck) {
          this.#inbound.push({
            packetId: packet.packetId,
            stage: "release",
            qos: 2,
            ack: undefined,
          });
        } else {
          this.#sendNow({
            type: PacketType.Pubcomp,
            packetId: packet.packetId,
            reasonCode: known ? 0 : 0x92,
          });
        }
        return { type: "released", packetId: packet.packetId, reasonCode, known };
      }
      case PacketType.Suback:
      case PacketType.Unsuback: {
        const pending = this.#pendingSubs.get(packet.packetId);
        const kind = packet.type === PacketType.Suback ? "sub" : "unsub";
        if (pending === undefined || pending.kind !== kind) {
          throw await this.#violation(
            `The server sent ${
              packetTypeName[packet.type]
            } for Packet Identifier ${packet.packetId}, which awaits none`,
            0x82,
            "MQTT-3.8.4-2",
          );
        }
        if (packet.reasonCodes.length !== pending.filters.length) {
          throw await this.#violation(
            `The server's ${
              packetTypeName[packet.type]
            } has ${packet.reasonCodes.length} reason codes for ${pending.filters.length} filters`,
            0x82,
            "MQTT-3.8.4-6",
          );
        }
        this.#pendingSubs.delete(packet.packetId);
        const properties = packet.properties ?? {};
        packet.reasonCodes.forEach((code, i) => {
          const fields = { filter: pending.filters[i] };
          const reason = describeReasonCode(code);
          if (code >= 0x80) {
            log.warning(`The server refused ${kind}scribing {filter}: ${reason}`, fields);
          } else log.debug(`${kind === "sub" ? "S" : "Uns"}ubscribed {filter}: ${reason}`, fields);
        });
        if (packet.type === PacketType.Suback) {
          this.session.recordSubscriptions(
            pending.requests.flatMap((r, i) => {
              const code = packet.reasonCodes[i]!;
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
          return {
            type: "subscribed",
            packetId: packet.packetId,
            reasonCodes: packet.reasonCodes,
            filters: pending.filters,
            properties,
          };
        }
        this.session.forgetSubscriptions(
          pending.filters.filter((_, i) => packet.reasonCodes[i]! < 0x80),
        );
        return {
          type: "unsubscribed",
          packetId: packet.packetId,
          reasonCodes: packet.reasonCodes,
          filters: pending.filters,
          properties,
        };
      }
      case PacketType.Pingresp:
        return { type: "pong" };
      case PacketType.Disconnect: {
        const properties = packet.properties ?? {};
        if (properties.sessionExpiryInterval !== undefined) {
          throw await this.#violation(
            "The server's DISCONNECT carries a Session Expiry Interval, which only a client may send",
            0x82,
            "MQTT-3.14.2-2",
          );
        }
        const reasonCode = packet.reasonCode ?? 0;
        const said = `The server disconnected: ${describeReasonCode(reasonCode)}`;
        const fields = { reasonString: properties.reasonString };
        if (reasonCode === 0) log.info(said, fields);
        else log.warning(said + " {reasonString}", fields);
        this.#close(
          new ConnectionClosedError(`The server disconnected: ${describeReasonCode(reasonCode)}`, {
            reasonCode,
          }),
        );
        return {
          type: "disconnected",
          reasonCode,
          reasonString: properties.reasonString,
          serverReference: properties.serverReference,
          properties,
        };
      }
      case PacketType.Auth: {
        const method = this.#connectOptions.authenticationMethod;
        if (method === undefined) {
          throw await this.#violation(
            "The server sent AUTH although the client used no Authentication Method",
            0x82,
            "MQTT-4.12.0-6",
          );
        }
        if (packet.properties?.authenticationMethod !== method) {
          throw await this.#violation(
            "The server's AUTH does not repeat the connection's Authentication Method",
            0x82,
            "MQTT-4.12.0-5",
          );
        }
        if (!this.#reauthenticating || packet.reasonCode === 0x19) {
          throw await this.#violation(
            `The server sent AUTH ${
              describeReasonCode(packet.reasonCode ?? 0)
            } although the client started no re-authentication`,
            0x82,
            "MQTT-4.12.1-1",
          );
        }
        if ((packet.reasonCode ?? 0) === 0) this.#reauthenticating = false;
        const event: AuthEvent = {
          type: "auth",
          reasonCode: packet.reasonCode ?? 0,
          properties: packet.properties,
        };
        return event;
      }
      case PacketType.Connack:
        throw await this.#violation("The server sent a second CONNACK", 0x82, "MQTT-3.2.0-2");
      default:
        throw await this.#violation(
          `The server sent ${packetTypeName[packet.type]}, which only a client sends`,
          0x82,
        );
    }
  }

  /**
   * Handles a PUBLISH; synchronous unless the server broke a rule (then a promise that rejects
   * once the DISCONNECT is sent), so a message costs no asynchronous call.
   */
  #onPublish(packet: Publish): ClientEvent | Promise<never> {
    let topic = packet.topic;
    const props = packet.properties ?? {};
    const alias = props.topicAlias;
    if (alias !== undefined) {
      const max = this.#connectOptions.topicAliasMaximum ?? 0;
      if (alias > max) {
        return this.#raise(this.#violation(
          `The server used Topic Alias ${alias}, above the client's Topic Alias Maximum ${max}`,
          0x94,
          max === 0 ? "MQTT-3.1.2-27" : "MQTT-3.3.2-11",
        ));
      }
      if (topic === "") {
        const known = this.#inboundAliases.get(alias);
        if (known === undefined) {
          return this.#raise(this.#violation(
            `The server used Topic Alias ${alias} before setting it`,
            0x94,
          ));
        }
        topic = known;
      } else {
        this.#inboundAliases.set(alias, topic);
        log.debug("The server's Topic Alias {alias} now stands for {topic}", { alias, topic });
      }
    }
    const qos = packet.qos;
    const packetId = packet.packetId;
    if (props.payloadFormatIndicator === 1 && !isWellFormedUtf8(packet.payload)) {
      // Refuse it: PUBACK / PUBREC 0x99 ends the flow, so the server does not send it again.
      if (qos > 0) {
        const type = qos === 1 ? PacketType.Puback : PacketType.Pubrec;
        const ack = encode({ type, packetId: packetId!, reasonCode: 0x99 });
        if (this.#manualAck) {
          this.#inbound.push({ packetId: packetId!, stage: "publish", qos, ack });
          this.#flushAcks().catch(() => {});
        } else {
          this.#sendNow(ack);
        }
      }
      log.warning("Refused a publication to {topic} whose payload is not UTF-8 (0x99)", { topic });
      return { type: "refused", topic, qos, packetId, reasonCode: 0x99 };
    }
    if (qos > 0) {
      const id = packetId!;
      if (qos === 2 && this.session.hasIncoming(id)) {
        // Its PUBREC was sent already: answer again, do not deliver twice [MQTT-4.3.3-10].
        this.#sendNow({ type: PacketType.Pubrec, packetId: id });
        log.debug(
          "Incoming QoS 2 publication {packetId} again: PUBREC again, not delivered twice",
          {
            packetId: id,
          },
        );
        return { type: "duplicate", packetId: id, topic };
      }
      // One pass, no allocation: a reused id, and the unacknowledged entries to count (an owned
      // or released entry is also in the session's incoming ids: count it once).
      let unreleased = 0;
      for (const e of this.#inbound) {
        if (e.stage !== "publish") continue;
        if (e.packetId === id) {
          return this.#raise(this.#violation(
            `The server reused Packet Identifier ${id} before the client acknowledged it`,
            0x82,
            "MQTT-2.2.1-4",
          ));
        }
        if (!e.owned) unreleased++;
      }
      const max = this.#connectOptions.receiveMaximum ?? 65_535;
      if (unreleased + this.session.state.incoming.length >= max) {
        return this.#raise(this.#violation(
          `The server sent more than the client's Receive Maximum ${max} of QoS 1/2 publications`,
          0x93,
          "MQTT-3.3.4-9",
        ));
      }
      if (this.#manualAck) {
        this.#inbound.push({ packetId: id, stage: "publish", qos, ack: undefined });
      } else if (qos === 1) {
        this.#sendNow({ type: PacketType.Puback, packetId: id });
      } else {
        this.session.addIncoming(id);
        if (this.#debug) {
          log.debug("Incoming QoS 2 publication {packetId} awaits PUBREL", { packetId: id });
        }
        this.#sendNow({ type: PacketType.Pubrec, packetId: id });
      }
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

  /**
   * Sends DISCONNECT (reason 0x00 by default; 0x04 to have the will published) and closes the
   * connection. The session is kept for a later resume.
   *
   * @example
   * ```ts ignore
   * await client.disconnect({ reasonCode: 0x04 });
   * ```
   */
  async disconnect(options: DisconnectOptions = {}): Promise<void> {
    this.#requireConnected("disconnect");
    const props = options.properties;
    if (
      props?.sessionExpiryInterval !== undefined && props.sessionExpiryInterval !== 0 &&
      // The CONNECT's value decides, whatever the CONNACK put in its place (3.14.2.2.2).
      !this.#connectOptions.sessionExpiryInterval
    ) {
      throw new ClientStateError(
        "Cannot set a non-zero Session Expiry Interval on DISCONNECT after connecting with 0 (a protocol error, section 3.14.2.2.2)",
      );
    }
    const bytes = this.#encodeDroppable({
      type: PacketType.Disconnect,
      reasonCode: options.reasonCode ?? 0,
      ...(props ? { properties: props } : {}),
    });
    // Nothing may follow DISCONNECT [MQTT-3.14.4-1].
    this.#state = "closed";
    log.info(`Disconnecting: ${describeReasonCode(options.reasonCode ?? 0)}; the session is kept`);
    try {
      await raceAbort(this.#send(bytes, true), options.signal);
    } finally {
      this.#close(new ConnectionClosedError("The client disconnected"));
    }
  }

  /**
   * Drops the connection at once, without DISCONNECT (the server then publishes the will). The
   * session is kept: reconnect with it to recover the flights.
   *
   * @example
   * ```ts ignore
   * client.abort();
   * ```
   */
  abort(): void {
    if (this.#transport !== undefined && this.#state !== "closed") {
      log.info("Aborting the connection without DISCONNECT; the session is kept");
    }
    this.#close(new ConnectionClosedError("The client aborted the connection"));
  }

  /** Closes the connection; the session stays. Safe to call more than once. */
  #close(error?: MqttError): void {
    if (error !== undefined && this.#closeError === undefined) this.#closeError = error;
    if (this.#state === "disconnected" && this.#transport === undefined) return;
    this.#state = "closed";
    const transport = this.#transport;
    this.#transport = undefined;
    const done = this.#batchDone;
    this.#batchDone = undefined;
    this.#batch = [];
    this.#open = EMPTY;
    this.#openLength = this.#openBytes = 0;
    if (done) {
      done.reject(this.#closeError ?? new ConnectionClosedError("The connection is closed"));
    }
    try {
      this.#writer?.releaseLock();
    } catch {
      // A write is pending; closing the transport ends it.
    }
    this.#reader?.release();
    transport?.close();
  }

  /** Sends DISCONNECT with `reasonCode` (best effort), closes, and returns the error to throw. */
  async #violation(
    message: string,
    reasonCode: number,
    statement?: string,
    cause?: unknown,
  ): Promise<ProtocolViolationError> {
    const error = new ProtocolViolationError(message, reasonCode, { statement, cause });
    log.error(
      `Protocol violation by the server: {message}; DISCONNECT ${describeReasonCode(reasonCode)}`,
      { message, statement },
    );
    if (this.#transport !== undefined && this.#state !== "closed") {
      try {
        this.#state = "closed";
        // A server that stopped reading must not hold the caller beyond its signal.
        await raceAbort(
          this.#send(encode({ type: PacketType.Disconnect, reasonCode }), true),
          this.#signal,
        );
      } catch {
        // The connection may be gone already, or the caller stopped waiting.
      }
    }
    this.#close(error);
    return error;
  }

  /** Queues a reply without waiting; a failure is seen by the next call. */
  #sendNow(packet: Packet | Uint8Array): void {
    const sent = packet instanceof Uint8Array ? this.#send(packet) : this.#sendPacket(packet);
    // The batch's promise has a handler already; a refusal (closed) is a promise of its own.
    if (sent !== this.#batchDone?.promise) sent.catch(() => {});
  }

  /** Why nothing can be sent now, as a rejected promise; `undefined` when sending is possible. */
  #unsendable(evenIfClosing: boolean): Promise<void> | undefined {
    if (
      this.#writer === undefined || (this.#state === "closed" && !evenIfClosing) ||
      this.#transport === undefined
    ) {
      return Promise.reject(
        this.#closeError ?? new NotConnectedError("Cannot send: the connection is closed"),
      );
    }
    return undefined;
  }

  /**
   * Queues bytes for the transport. Packets queued in the same turn go out in one write; the
   * promise settles when that write does.
   */
  #send(bytes: Uint8Array, evenIfClosing = false): Promise<void> {
    const refused = this.#unsendable(evenIfClosing);
    if (refused !== undefined) return refused;
    if (log.isEnabledFor("trace")) tracePacket("->", bytes);
    if (bytes.length > MAX_SMALL) {
      this.#seal();
      this.#batch.push(bytes);
    } else {
      this.#room(bytes.length);
      this.#open.set(bytes, this.#openLength);
      this.#openLength += bytes.length;
      this.#openBytes += bytes.length;
    }
    return this.#queued();
  }

  /**
   * Encodes a packet straight into the write batch (a large one into a buffer of its own) and
   * queues it as {@linkcode Client.#send} does. Throws what `encode` throws, with nothing queued.
   */
  #sendPacket(packet: Packet, evenIfClosing = false): Promise<void> {
    const refused = this.#unsendable(evenIfClosing);
    if (refused !== undefined) return refused;
    const options = this.#encodeOptions();
    let at = this.#openLength;
    let size = encodeIntoIfFits(packet, this.#open, at, options);
    if (size < 0) {
      if (-size > MAX_SMALL) {
        // One copy of the payload, into a buffer of its exact size, written on its own.
        const bytes = encode(packet, options);
        if (log.isEnabledFor("trace")) tracePacket("->", bytes);
        this.#seal();
        this.#batch.push(bytes);
        return this.#queued();
      }
      this.#room(-size);
      at = this.#openLength;
      size = encodeIntoIfFits(packet, this.#open, at, options);
    }
    this.#openLength = at + size;
    this.#openBytes += size;
    if (log.isEnabledFor("trace")) tracePacket("->", this.#open.subarray(at, at + size));
    return this.#queued();
  }

  /** Makes room for `n` bytes in the open buffer, sealing a full one and opening another. */
  #room(n: number): void {
    if (this.#openLength + n <= this.#open.length) return;
    if (this.#openLength > 0) this.#openSize = Math.min(MAX_OPEN, this.#openSize * 2);
    this.#seal();
    this.#open = new Uint8Array(Math.max(this.#openSize, n));
  }

  /** Moves what the open buffer holds to the batch as a chunk. */
  #seal(): void {
    if (this.#openLength === 0) return;
    this.#batch.push(this.#open.subarray(0, this.#openLength));
    this.#open = EMPTY;
    this.#openLength = 0;
  }

  /** The promise of the batch being queued, scheduling its write at the end of the turn. */
  #queued(): Promise<void> {
    let done = this.#batchDone;
    if (done === undefined) {
      done = this.#batchDone = Promise.withResolvers<void>();
      // Replies are queued without waiting (#sendNow): a failed write must not be unhandled.
      done.promise.catch(() => {});
      if (!this.#writing) afterTurn(() => this.#flush());
    }
    return done.promise;
  }

  async #flush(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    const writer = this.#writer;
    try {
      while ((this.#batch.length > 0 || this.#openLength > 0) && writer !== undefined) {
        // The next batch's open buffer: about the size of this one's small packets.
        const used = this.#openBytes;
        this.#openSize = used <= MIN_OPEN
          ? MIN_OPEN
          : Math.min(MAX_OPEN, 2 ** Math.ceil(Math.log2(used)));
        this.#openBytes = 0;
        this.#seal();
        const batch = this.#batch;
        const done = this.#batchDone!;
        this.#batch = [];
        this.#batchDone = undefined;
        try {
          // Usually one chunk; several after a large packet or an open buffer that filled up.
          const direct = this.#direct;
          if (direct === undefined) {
            for (const chunk of batch) await writer.write(chunk);
          } else {
            for (const chunk of batch) {
              for (let at = 0; at < chunk.length;) at += await direct.write(chunk.subarray(at));
            }
          }
          this.#lastSent = Date.now();
          done.resolve();
        } catch (e) {
          const error = new ConnectionClosedError(
            `Writing to the connection failed: ${e instanceof Error ? e.message : String(e)}`,
            { cause: e },
          );
          if (this.#state === "closed") {
            log.debug("Writing ended: {message}", { message: error.message });
          } else log.error("Writing to the connection failed: {message}", { message: String(e) });
          done.reject(this.#closeError ?? error);
          this.#close(error);
          return;
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}

const PINGREQ = new Uint8Array([0xc0, 0x00]);
/** Packets up to this size are encoded into the batch's shared buffer; larger ones get their own. */
const MAX_SMALL = 16 * 1024;
/** The smallest and largest shared buffer of a batch. */
const MIN_OPEN = 512;
const MAX_OPEN = 256 * 1024;
