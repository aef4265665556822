/**
 * The {@linkcode Client}: the protocol {@linkcode Engine} driven over a transport, with no timers,
 * read loops or reconnects of its own. It reads, hands what it read to the engine, and writes what
 * the engine queued; every rule of the protocol is the engine's. About 440 lines of code; the rest
 * of its length is the documentation of each public method (what it sends, when it is refused,
 * what it waits for), which is the API users read.
 *
 * @module
 */

import { DecodeError, type Packet } from "../codec/mod.ts";
import {
  ClientStateError,
  type ConnectedEvent,
  ConnectionClosedError,
  Engine,
  type EngineEvent,
  type KeepAliveTimes,
  type Logger,
  MqttError,
  notConnected,
  ProtocolViolationError,
  type Session,
  silentLogger,
} from "../session/mod.ts";
import type { DirectConnection, Transport } from "../transport/mod.ts";
import { deferred, raceAbort } from "../_async.ts";
import { PacketReader, WriteBatch } from "./_io.ts";
import { childLogger, tracePacket } from "./_log.ts";
import type {
  AcknowledgeOptions,
  AuthOptions,
  ClientEvent,
  ClientOptions,
  ClientState,
  ConnectOptions,
  ConnectResult,
  DisconnectOptions,
  PublishOptions,
  PublishPromise,
  ServerLimits,
  SignalOptions,
  SubscribeOptions,
  SubscribeRequest,
  UnsubscribeOptions,
} from "./types.ts";

/** The options of a call given none: shared, so that a call allocates nothing for them. */
const NO_OPTIONS: SignalOptions = Object.freeze({});

/**
 * An explicit MQTT 5.0 client. It starts no timers, read loops or reconnects: the application
 * calls {@linkcode Client.connect}, {@linkcode Client.publish}, {@linkcode Client.subscribe}, and
 * {@linkcode Client.poll} for the next event. Every method that waits takes an `AbortSignal`.
 * The {@linkcode Session} is plain data the application can keep and hand to a new client. The
 * protocol itself is the {@linkcode Engine}'s, which the client drives.
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
  #engine: Engine;
  #io: WriteBatch;
  #log: Logger;
  #readerLog: Logger;
  #transport: Transport | undefined;
  #reader: PacketReader | undefined;
  #strict: boolean;
  #polling = false;
  /** The signal of the last read (its poll or connect): bounds the wait for a DISCONNECT. */
  #signal: AbortSignal | undefined;
  /** Callers of {@linkcode Client.waitForQuota} waiting for an acknowledgement. */
  #quotaWaiters: ReturnType<typeof deferred<void>>[] = [];

  /** Creates a client; nothing happens until {@linkcode Client.connect}. */
  constructor(options: ClientOptions = {}) {
    const logger = options.logger ?? silentLogger;
    this.#log = childLogger(logger, "client");
    this.#readerLog = childLogger(logger, "reader");
    this.#strict = options.strict ?? true;
    this.#io = new WriteBatch(
      () => this.#engine.written(Date.now()),
      (error) => {
        if (this.#engine.state === "closed") {
          this.#log.debug("Writing ended: {message}", { message: error.message });
        } else {
          this.#log.error("Writing to the connection failed: {message}", {
            message: error.message,
          });
        }
        this.#close(error.message, error.cause);
      },
      this.#log,
    );
    this.#engine = new Engine({
      ...(options.session !== undefined ? { session: options.session } : {}),
      manualAck: options.manualAck ?? false,
      strict: this.#strict,
      topicAliases: options.topicAliases ?? "manual",
      logger: this.#log,
      output: this.#io,
      journal: options.store !== undefined,
    });
    const store = options.store;
    if (store !== undefined) {
      const engine = this.#engine;
      // The durability barrier: the changes are taken with the batch, saved, then it is written.
      this.#io.beforeWrite = () => {
        const changes = engine.takeChanges(Date.now());
        return changes.length === 0 ? undefined : store.save(changes, engine.session);
      };
    }
  }

  /** The session: flights, incoming QoS 2 ids, subscriptions (read-only). */
  get session(): Session {
    return this.#engine.session;
  }

  /** The connection state. */
  get state(): ClientState {
    return this.#engine.state;
  }

  /** The server's limits from the last CONNACK (the specification's defaults before one). */
  get limits(): ServerLimits {
    return this.#engine.limits;
  }

  /**
   * Keep alive, for the application to drive: the interval in force (seconds, 0 when off), when
   * the next PINGREQ is due (`Date.now()` milliseconds: the last packet sent plus the interval
   * [MQTT-3.1.2-20]), and when the server must be considered gone (a PINGREQ unanswered for the
   * interval; until one is sent, the interval after the next one is due). Both are `undefined`
   * when keep alive is off or not connected.
   */
  get keepAlive(): KeepAliveTimes {
    return this.#engine.keepAlive;
  }

  /**
   * The next time (`Date.now()` milliseconds) {@linkcode Client.handleTimeout} has something to
   * do: a PINGREQ due, or the server to count as gone; `undefined` when nothing is timed.
   */
  get timeout(): number | undefined {
    return this.#engine.timeout;
  }

  /**
   * Does what keep alive asks now, for a loop of the application's own: sends PINGREQ once it is
   * due; once the deadline passed with no answer, closes the connection and throws
   * {@linkcode ConnectionClosedError} (the session is intact: reconnect with it). Nothing to do
   * before {@linkcode Client.timeout}.
   *
   * @example A keep-alive timer
   * ```ts ignore
   * const at = client.timeout;
   * if (at !== undefined) setTimeout(() => client.handleTimeout(), at - Date.now());
   * ```
   */
  handleTimeout(): void {
    try {
      this.#engine.handleTimeout(Date.now());
    } catch (e) {
      this.#close(e instanceof Error ? e.message : String(e), e);
      throw e;
    }
  }

  /**
   * How many more QoS 1/2 publications the server's Receive Maximum admits now; 0 while it is
   * used up (see {@linkcode Client.waitForQuota}).
   */
  get sendQuota(): number {
    return this.#engine.sendQuota;
  }

  /**
   * The Packet Identifiers of the session's flights not sent on this connection yet, in order:
   * after {@linkcode Client.resend}, those the server's Receive Maximum still holds back.
   */
  get heldBack(): number[] {
    return this.#engine.heldBack;
  }

  /**
   * Connects over `transport`: sends CONNECT and waits for CONNACK (answering AUTH with
   * `options.onAuth`). Returns what the CONNACK said. A refusing CONNACK throws
   * `ConnectionRefusedError`; the transport is closed on any failure or abort.
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
    const state = this.#engine.state;
    if (state === "connecting" || state === "connected") {
      throw new ClientStateError(
        `Cannot connect: the client is ${state}; disconnect or abort first`,
      );
    }
    options.signal?.throwIfAborted();
    const direct = transport.direct;
    const reader = new PacketReader(transport.readable, {
      ...(direct?.read !== undefined ? { source: direct as Required<DirectConnection> } : {}),
      strict: this.#strict,
      protocolVersion: options.protocolVersion ?? 5,
      logger: this.#readerLog,
      ...(options.maximumPacketSize !== undefined
        ? { maximumPacketSize: options.maximumPacketSize }
        : {}),
    });
    this.#io.attach(transport.writable.getWriter(), direct);
    try {
      this.#engine.connect(options, Date.now());
    } catch (e) {
      // Refused before anything was sent: the transport is left as it was given.
      this.#io.close(e instanceof MqttError ? e : new ClientStateError(String(e)));
      reader.release();
      throw e;
    }
    this.#transport = transport;
    this.#reader = reader;
    try {
      await raceAbort(this.#io.written, options.signal);
      for (;;) {
        const packet = await this.#read(options.signal);
        const event = this.#handle(packet);
        if (event instanceof Promise) await event;
        else if (event?.type === "connected") {
          const { type: _, ...result } = event as ConnectedEvent;
          return result;
        } else if (event?.type === "auth") {
          if (options.onAuth === undefined) {
            throw await this.#failed(this.#engine.fail(
              "The server continues authentication, but no onAuth handler was given to connect()",
              0x8c,
            ));
          }
          const answer = await options.onAuth(event);
          this.#engine.auth({ ...answer, reasonCode: 0x18 });
          await raceAbort(this.#io.written, options.signal);
        }
      }
    } catch (e) {
      this.#close(e instanceof Error ? e.message : String(e), e);
      throw e;
    }
  }

  /**
   * Publishes a message. At QoS 1 and 2 the promise gives the Packet Identifier (also there at
   * once as `packetId`), whose flight the session tracks until {@linkcode Client.poll} reports
   * `acknowledged`, `completed` or `rejected`; at QoS 0 `undefined`. Refused before any byte is
   * written as {@linkcode Engine.publish} says (the Receive Maximum used up: see
   * {@linkcode Client.waitForQuota}).
   *
   * Once queued the flight is in the session even if the signal aborts the wait for the write. If
   * the write fails, a {@linkcode ConnectionClosedError} carrying the `packetId` says the flight
   * is kept for recovery. A payload of 16 KiB or more is written uncopied: leave it unchanged
   * until the write settles.
   *
   * @example Publishing at QoS 1
   * ```ts ignore
   * const published = client.publish({ topic: "sensors/1", qos: 1 }, "21.5");
   * console.log(published.packetId); // known at once
   * await published; // written
   * ```
   */
  publish(options: PublishOptions, payload?: Uint8Array | string): PublishPromise {
    // Not an async function: a publication awaiting its write holds a promise at most, not a
    // suspended call (an application may queue a thousand in one turn).
    let packetId: number | undefined;
    try {
      options.signal?.throwIfAborted();
      packetId = this.#engine.publish(options, payload);
    } catch (e) {
      return Promise.reject(e) as PublishPromise;
    }
    const written = raceAbort(this.#io.written, options.signal);
    // At QoS 0 the batch's promise itself serves: it resolves to undefined once written.
    if (packetId === undefined) return written as Promise<unknown> as PublishPromise;
    const promise = written.then(() => packetId, (e) => {
      if (e instanceof ConnectionClosedError) {
        // The flight is in the session: say so, so the application can count on its recovery.
        throw new ConnectionClosedError(
          `${e.message}; publication ${packetId} is kept in the session: resend it after reconnecting`,
          {
            cause: e,
            reasonCode: e.reasonCode,
            packetId,
            sessionResumable: e.sessionResumable,
          },
        );
      }
      throw e;
    }) as Promise<number | undefined> & { packetId: number | undefined };
    promise.packetId = packetId;
    return promise;
  }

  /**
   * Runs an engine command that queues packets, then waits (bounded by the signal) for their
   * write; a command refused (with nothing sent) rejects at once.
   */
  #queued<T>(options: SignalOptions, command: () => T): Promise<T> {
    try {
      options.signal?.throwIfAborted();
      const result = command();
      return raceAbort(this.#io.written, options.signal).then(() => result);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Waits until the server's Receive Maximum admits another QoS 1/2 publication: at once if it
   * does, else once an acknowledgement handled by {@linkcode Client.poll} (running elsewhere)
   * frees a slot. Callers are woken in order, one per free slot; the slot is not reserved, so
   * publish right after (in the same turn). Rejects with the connection's error if it ends first.
   *
   * @example Publishing as fast as the server allows
   * ```ts ignore
   * for (const reading of readings) {
   *   await client.waitForQuota();
   *   client.publish({ topic: "sensors/1", qos: 1 }, reading);
   * }
   * ```
   */
  waitForQuota(options: SignalOptions = {}): Promise<void> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#engine.state !== "connected") {
      return Promise.reject(notConnected("wait for quota", this.#engine));
    }
    if (this.#engine.sendQuota > 0) return Promise.resolve();
    const waiter = deferred<void>();
    this.#quotaWaiters.push(waiter);
    return raceAbort(waiter.promise, options.signal);
  }

  /**
   * Wakes the callers of {@linkcode Client.waitForQuota}, in the order they came: as many as the
   * quota admits now, or all with `error` when the connection ended.
   */
  #wakeQuotaWaiters(error?: unknown): void {
    const waiters = this.#quotaWaiters;
    if (error !== undefined) {
      this.#quotaWaiters = [];
      for (const w of waiters) {
        w.promise.catch(() => {});
        w.reject(error);
      }
      return;
    }
    const n = Math.min(this.#engine.sendQuota, waiters.length);
    for (const w of waiters.splice(0, n)) w.resolve();
  }

  /**
   * Sends the PUBLISH of a flight `awaiting-puback` or `awaiting-pubrec` again, with DUP set,
   * after a reconnect with the session [MQTT-4.4.0-1]; refused as {@linkcode Engine.republish}
   * says (already sent on this connection, awaiting PUBCOMP, or the quota used up).
   *
   * @example Recovering one flight
   * ```ts ignore
   * const flight = client.session.flight(id);
   * if (flight?.state === "awaiting-pubcomp") await client.rerelease(id);
   * else if (flight) await client.republish(id);
   * ```
   */
  republish(packetId: number, options: SignalOptions = {}): Promise<void> {
    return this.#queued(options, () => this.#engine.republish(packetId));
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
  rerelease(packetId: number, options: SignalOptions = {}): Promise<void> {
    return this.#queued(options, () => this.#engine.rerelease(packetId));
  }

  /**
   * Resends the session's flights not yet sent on this connection, in order [MQTT-4.6.0-1], as
   * far as the server's Receive Maximum allows (see {@linkcode Engine.resend}; the rest stay in
   * {@linkcode Client.heldBack} for a later call). Call it after a reconnect whose CONNACK says
   * `sessionPresent`. Returns the Packet Identifiers resent.
   *
   * @example
   * ```ts ignore
   * const result = await client.connect(transport, { clientId: "a", cleanStart: false });
   * if (result.sessionPresent) await client.resend();
   * ```
   */
  resend(options: SignalOptions = {}): Promise<number[]> {
    return this.#queued(options, () => this.#engine.resend());
  }

  /**
   * Subscribes to one or more filters in one SUBSCRIBE and returns its Packet Identifier; the
   * SUBACK comes as a `subscribed` event from {@linkcode Client.poll}. Refused before sending as
   * {@linkcode Engine.subscribe} says.
   *
   * @example Two filters in one SUBSCRIBE
   * ```ts ignore
   * await client.subscribe([{ filter: "a/#", qos: 1 }, { filter: "b/+", qos: 2 }]);
   * ```
   */
  subscribe(
    subscriptions: SubscribeRequest | SubscribeRequest[],
    options: SubscribeOptions = {},
  ): Promise<number> {
    return this.#queued(options, () => this.#engine.subscribe(subscriptions, options));
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
  unsubscribe(filters: string | string[], options: UnsubscribeOptions = {}): Promise<number> {
    return this.#queued(options, () => this.#engine.unsubscribe(filters, options));
  }

  /**
   * Sends PINGREQ; the PINGRESP comes as a `pong` event from {@linkcode Client.poll}.
   *
   * @example
   * ```ts ignore
   * await client.ping();
   * ```
   */
  ping(options: SignalOptions = {}): Promise<void> {
    return this.#queued(options, () => this.#engine.ping(Date.now()));
  }

  /**
   * Sends AUTH with the connection's Authentication Method (see {@linkcode Engine.auth}): 0x19
   * starts a re-authentication, 0x18 continues one. The server's answers come as `auth` events
   * from {@linkcode Client.poll} (0x00 when it succeeded).
   *
   * @example Re-authenticating
   * ```ts ignore
   * await client.auth({ authenticationData: newToken });
   * const answer = await client.poll(); // { type: "auth", reasonCode: 0, ... }
   * ```
   */
  auth(options: AuthOptions = {}): Promise<void> {
    return this.#queued(options, () => this.#engine.auth(options));
  }

  /**
   * Sends the acknowledgement owed for an incoming publication in manual mode (PUBACK, PUBREC or
   * PUBCOMP), in arrival order (see {@linkcode Engine.acknowledge}).
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
  acknowledge(packetId: number, options: AcknowledgeOptions = {}): Promise<void> {
    return this.#queued(options, () => this.#engine.acknowledge(packetId, options));
  }

  /**
   * Writes what is queued now, instead of at the end of the current turn of the event loop;
   * settles once it is written.
   *
   * @example
   * ```ts ignore
   * client.publish({ topic: "a" }, "x");
   * await client.flush();
   * ```
   */
  flush(options: SignalOptions = {}): Promise<void> {
    return raceAbort(this.#io.flush(), options.signal);
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
   * Both say, as `sessionResumable`, whether the session can be resumed.
   *
   * @example Polling with a deadline
   * ```ts ignore
   * const event = await client.poll({ signal: AbortSignal.timeout(5000) });
   * ```
   */
  poll(options: SignalOptions = NO_OPTIONS): Promise<ClientEvent> {
    // An event from a packet already read comes without an asynchronous call: a message read
    // with others costs one settled promise, not a suspended call.
    const signal = options.signal;
    if (signal?.aborted || this.#polling || this.#engine.state !== "connected") {
      return this.#pollAsync(options, undefined);
    }
    for (;;) {
      const read = this.#read(signal);
      if (read instanceof Promise) return this.#pollAsync(options, read);
      const event = this.#handle(read);
      if (event instanceof Promise) return this.#pollAsync(options, event);
      if (event !== undefined) return Promise.resolve(event as ClientEvent);
    }
  }

  /**
   * {@linkcode Client.poll} once it has to wait: for `pending` (a read under way, or a
   * violation's DISCONNECT being written, whose promise rejects), then for the next events. With
   * no `pending`, it makes poll's checks first (and rejects as they say).
   */
  async #pollAsync(
    options: SignalOptions,
    pending: Promise<Packet> | Promise<never> | undefined,
  ): Promise<ClientEvent> {
    if (pending === undefined) {
      options.signal?.throwIfAborted();
      if (this.#polling) {
        throw new ClientStateError("poll() is already running; await it before polling again");
      }
      if (this.#engine.state !== "connected") throw notConnected("poll", this.#engine);
    }
    this.#polling = true;
    try {
      for (;;) {
        // A packet already read comes at once: a message costs no more asynchronous calls than
        // it needs.
        const read = pending ?? this.#read(options.signal);
        pending = undefined;
        const packet = read instanceof Promise ? await read : read;
        const event = this.#handle(packet);
        if (event instanceof Promise) await event;
        else if (event !== undefined) return event as ClientEvent;
      }
    } finally {
      this.#polling = false;
    }
  }

  /**
   * The next event from what was read already, without reading or waiting; `undefined` when a
   * read is needed (then {@linkcode Client.poll}). Throws as `poll()` does (the DISCONNECT of a
   * violation is then written, and the connection closed, in the background).
   *
   * @example Draining what one read brought
   * ```ts ignore
   * const first = await client.poll();
   * for (let e = client.take(); e !== undefined; e = client.take()) console.log(e.type);
   * ```
   */
  take(): ClientEvent | undefined {
    if (this.#polling) {
      throw new ClientStateError("poll() is running; await it before taking events");
    }
    if (this.#engine.state !== "connected") throw notConnected("take events", this.#engine);
    for (;;) {
      let packet: Packet | undefined;
      try {
        packet = this.#reader!.take();
      } catch (e) {
        if (e instanceof DecodeError) this.#failedLater(this.#engine.decodeFailed(e));
        throw e;
      }
      if (packet === undefined) return undefined;
      const event = this.#handle(packet);
      if (event instanceof Promise) {
        // A violation: its error is the engine's, thrown once the DISCONNECT is on its way.
        event.catch(() => {});
        throw this.#engine.closeError;
      }
      if (event !== undefined) return event as ClientEvent;
    }
  }

  /**
   * Hands a packet to the engine. A violation's DISCONNECT is written (bounded by the reading
   * call's signal) before the returned promise rejects with the error.
   */
  #handle(packet: Packet): EngineEvent | undefined | Promise<never> {
    if (this.#log.isEnabledFor("trace")) tracePacket(this.#log, "<-", packet);
    const state = this.#engine.state;
    if (state !== "connected" && state !== "connecting") {
      // Read after disconnect() queued DISCONNECT, whose write may not have begun: the packet is
      // left unhandled (the session keeps its flows for a resume), and the connection stays open
      // until disconnect() has written DISCONNECT and closes it.
      return Promise.reject(this.#engine.closeError ?? notConnected("poll", this.#engine));
    }
    let event: EngineEvent | undefined;
    try {
      event = this.#engine.handle(packet, Date.now());
    } catch (e) {
      return this.#failed(e);
    }
    if (event !== undefined) {
      const type = event.type;
      if (type === "disconnected") this.#close("The server disconnected");
      else if (
        this.#quotaWaiters.length > 0 &&
        (type === "acknowledged" || type === "completed" || type === "rejected") &&
        this.#engine.sendQuota > 0
      ) {
        this.#wakeQuotaWaiters();
      }
    }
    return event;
  }

  /** Writes the DISCONNECT a violation queued (bounded by the signal), closes, and rejects. */
  async #failed(e: unknown): Promise<never> {
    if (e instanceof ProtocolViolationError && this.#transport !== undefined) {
      try {
        // A server that stopped reading must not hold the caller beyond its signal.
        await raceAbort(this.#io.flush(), this.#signal);
      } catch {
        // The connection may be gone already, or the caller stopped waiting.
      }
    }
    this.#close(e instanceof Error ? e.message : String(e), e);
    throw e;
  }

  #failedLater(error: ProtocolViolationError): void {
    this.#failed(error).catch(() => {});
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
    return packet === undefined ? this.#readNext(signal) : packet;
  }

  /** Waits for the next packet from the transport. */
  async #readNext(signal: AbortSignal | undefined): Promise<Packet> {
    try {
      return await this.#reader!.next(signal);
    } catch (e) {
      return await this.#readFailed(e, signal);
    }
  }

  /** Turns a failed read into the client's error: DISCONNECT for a bad packet, then close. */
  #readFailed(e: unknown, signal: AbortSignal | undefined): Promise<never> {
    if (signal?.aborted && e === signal.reason) return Promise.reject(e);
    if (e instanceof DecodeError) return this.#failed(this.#engine.decodeFailed(e));
    const closed = this.#engine.state === "closed";
    const message = e instanceof Error ? e.message : String(e);
    const error = new ConnectionClosedError(message, {
      cause: e instanceof MqttError ? e.cause : e,
      ...(e instanceof MqttError ? { reasonCode: e.reasonCode } : {}),
      sessionResumable: this.#engine.sessionResumable,
    });
    if (closed) this.#log.debug("Reading ended: {message}", { message });
    else this.#log.error("The connection failed: {message}", { message });
    this.#close(message, e);
    return Promise.reject(error);
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
    this.#engine.disconnect(options);
    try {
      await raceAbort(this.#io.written, options.signal);
    } finally {
      this.#close("The client disconnected");
    }
  }

  /**
   * The events of {@linkcode Client.poll}, one after another, for `for await`: the iteration ends
   * after a `disconnected` event or once the client is no longer connected; errors are thrown as
   * `poll()` throws them. It is `poll()` in a loop: while it runs, nothing else may poll.
   *
   * @example
   * ```ts ignore
   * for await (const event of client.events({ signal: AbortSignal.timeout(10_000) })) {
   *   if (event.type === "message") console.log(event.topic);
   * }
   * ```
   */
  async *events(options: SignalOptions = {}): AsyncGenerator<ClientEvent, void, undefined> {
    while (this.#engine.state === "connected") {
      const event = await this.poll(options);
      yield event;
      if (event.type === "disconnected") return;
    }
  }

  /**
   * Iterates over the client's events: {@linkcode Client.events} with no signal.
   *
   * @example
   * ```ts ignore
   * for await (const event of client) console.log(event.type);
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<ClientEvent, void, undefined> {
    return this.events();
  }

  /**
   * Ends the connection when a `using` scope ends (`await using client = new Client()`): sends
   * DISCONNECT if connected (waiting at most for its write), else drops the connection. Errors
   * are swallowed: the scope is over. The session is kept.
   *
   * @example
   * ```ts ignore
   * await using client = new Client();
   * await client.connect(await connectTcp({ port: 1883 }));
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#engine.state === "connected") {
      try {
        await this.disconnect();
        return;
      } catch {
        // Gone already: drop it below.
      }
    }
    this.abort();
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
    if (this.#transport !== undefined && this.#engine.state !== "closed") {
      this.#log.info("Aborting the connection without DISCONNECT; the session is kept");
    }
    this.#close("The client aborted the connection");
  }

  /**
   * Closes the connection (the engine's error says why: the first one given); the session stays.
   * Safe to call more than once.
   */
  #close(message: string, cause?: unknown): void {
    const state = this.#engine.state;
    if (state === "connecting" || state === "connected") {
      this.#engine.connectionLost(message, cause);
    }
    const transport = this.#transport;
    if (transport === undefined) return;
    this.#transport = undefined;
    const error = this.#engine.closeError ??
      new ConnectionClosedError("The connection is closed", { cause });
    this.#io.close(error);
    this.#reader?.release();
    transport.close();
    if (this.#quotaWaiters.length > 0) this.#wakeQuotaWaiters(error);
  }
}
