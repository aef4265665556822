/**
 * The {@linkcode Supervisor}: the run loop over the explicit {@linkcode Client}. It owns one
 * connection at a time and everything the explicit client leaves to the application: reading,
 * keep-alive pings, reconnecting with backoff, resuming the session and resending its flights,
 * a bounded queue of publications, routing messages to iterators, and request/response.
 *
 * @module
 */

import {
  type AcknowledgeOptions,
  Client,
  type ClientEvent,
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  type ConnectOptions,
  type ConnectResult,
  type IncomingMessageEvent,
  type Logger,
  NotConnectedError,
  openTransport,
  type OutgoingFlight,
  ProtocolVersionError,
  QuotaExceededError,
  type SubscribeOptions,
  type SubscribeRequest,
} from "../client/mod.ts";
import { topicMatches } from "../codec/mod.ts";
import { Session, silentLogger } from "../session/mod.ts";
import type { Transport } from "../transport/mod.ts";
import { Channel } from "./_channel.ts";
import { Requests } from "./_requests.ts";
import { type Deferred, deferred, raceAbort } from "../_async.ts";
import { anySignal, sleep } from "./_deferred.ts";
import { SubscriptionRefusedError, SupervisorStoppedError, UndeliveredError } from "./errors.ts";
import type {
  Delivery,
  Filters,
  Message,
  Publication,
  ReconnectOptions,
  Reply,
  RequestOptions,
  RespondOptions,
  SubscriptionStream,
  SupervisedPublishOptions,
  SupervisedSubscribeOptions,
  SupervisorOptions,
  SupervisorStatus,
  TransportRequest,
} from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** A connection that lasted this long resets the backoff: the next loss reconnects at once. */
const STABLE_MS = 1000;
/** Redirections followed in a row at most, so that two servers cannot send a client in circles. */
const MAX_REDIRECTS = 8;

/** A publication in the queue or in flight, with its caller's promise. */
interface Entry {
  publication: Publication;
  /** Topic and payload bytes, counted against the queue's `maxBytes`. */
  size: number;
  queuedAt: number;
  done: Deferred<Delivery>;
  signal: AbortSignal | undefined;
  packetId: number | undefined;
  sent: boolean;
}

/** A subscription the supervisor keeps (and makes again when the server lost the session). */
interface SubscriptionRecord {
  requests: SubscribeRequest[];
  filters: string[];
  options: Omit<SubscribeOptions, "signal">;
  /** Where its messages wait to be read. */
  channel: Channel<Message>;
  /** Whether the server acknowledged it in the session in force. */
  acked: boolean;
  reasonCodes: number[];
  /** Settled by the first SUBACK. */
  ready: Deferred<void>;
}

/** A message delivered in manual-ack mode and not acknowledged yet. */
interface Unacked {
  topic: string;
  /** The connection it was delivered (or last received) on. */
  epoch: number;
  /** Acknowledged by the application while no connection could take it. */
  acked: boolean;
  options: Omit<AcknowledgeOptions, "signal"> | undefined;
}

/** How a connection ended. */
interface Ended {
  error: unknown;
  serverReference?: string | undefined;
  reasonCode?: number | undefined;
}

/**
 * The run loop: one object that keeps an MQTT session running across connections. It is opt-in
 * and built on the public API of {@linkcode Client} and {@linkcode Session}: while it runs it owns
 * one timer (keep alive, or the backoff delay) and one read loop; once stopped, nothing is left.
 *
 * What it adds to the explicit client:
 * - **Connection**: keep-alive pings, the server counted as gone at the keep-alive deadline,
 *   reconnects with exponential backoff and jitter, status events, redirection when allowed.
 * - **Session**: resumes with `cleanStart: false`, resends the flights (also those the server's
 *   Receive Maximum held back); when the server lost the session, queues the lost publications
 *   again and makes the subscriptions again.
 * - **Publishing**: `await publish()` resolves when the QoS flow completes, across reconnects; a
 *   bounded queue makes callers wait when full; {@linkcode UndeliveredError} hands back what
 *   cannot be delivered.
 * - **Receiving**: `for await` over a subscription or all messages; in manual-ack mode each
 *   message has `ack()`, and QoS 2 stays exactly once across reconnects.
 * - **Request/response**: {@linkcode Supervisor.request} and {@linkcode Supervisor.respond}.
 *
 * The explicit client of the current connection stays reachable as
 * {@linkcode Supervisor.client}, and the session as {@linkcode Supervisor.session}.
 *
 * @example A publisher that survives broker restarts
 * ```ts ignore
 * import { supervise } from "@scope/mqtt5/supervisor";
 * await using mqtt = supervise({
 *   url: "mqtt://127.0.0.1:1883",
 *   clientId: "sensor-1",
 *   sessionExpiryInterval: 3600,
 * });
 * await mqtt.publish("sensors/1/temperature", "21.5", { qos: 1 }); // PUBACK came
 * ```
 */
export class Supervisor implements AsyncDisposable {
  #options: SupervisorOptions;
  #connectOptions: Omit<ConnectOptions, "cleanStart" | "signal">;
  #session: Session;
  #log: Logger;
  #manual: boolean;
  #reconnect: Required<ReconnectOptions> | false;
  #maxMessages: number;
  #maxBytes: number;

  #status: SupervisorStatus = { type: "connecting", attempt: 1, serverReference: undefined };
  #client: Client | undefined;
  #result: ConnectResult | undefined;
  #epoch = 0;
  /** Whether the flights of a session given to a Clean Start connection were queued again. */
  #cleaned = false;
  #stop = new AbortController();
  #stopError: unknown = undefined;
  #running: Promise<void>;
  #wake = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ready = deferred<void>();
  #tasks = new Set<Promise<void>>();

  #queue: Entry[] = [];
  #queuedBytes = 0;
  #roomWaiters: { size: number; ready: Deferred<void> }[] = [];
  #inflight = new Map<number, Entry>();

  #subscriptions = new Set<SubscriptionRecord>();
  #subscribing = new Map<number, SubscriptionRecord>();
  #unsubscribing = new Map<number, Deferred<void>>();
  /** SUBACKs and UNSUBACKs that came before their write's promise told the Packet Identifier. */
  #early = new Map<number, ClientEvent>();
  /** Filters to unsubscribe from once connected (unsubscribed while offline). */
  #unsubscribeLater: string[] = [];
  #listeners = new Set<Channel<Message>>();
  #backlog: Message[] = [];
  #unacked = new Map<number, Unacked>();

  #requests: Requests;

  /** Starts the supervisor (see {@linkcode supervise}). */
  constructor(options: SupervisorOptions) {
    if (options.url === undefined && options.transport === undefined) {
      throw new TypeError("Cannot supervise: give a url or a transport factory");
    }
    const {
      url,
      transport: _transport,
      tls: _tls,
      WebSocket: _ws,
      session,
      cleanStart: _cleanStart,
      reconnect,
      queue,
      requeueDiscarded: _requeue,
      followRedirects: _follow,
      connectTimeout: _timeout,
      signal,
      onStatus: _onStatus,
      logger,
      strict: _strict,
      topicAliases: _aliases,
      manualAck,
      store: _store,
      ...connectOptions
    } = options;
    this.#options = options;
    this.#connectOptions = connectOptions;
    if (url !== undefined && options.transport === undefined) {
      // The URL's credentials become the CONNECT's, as connect() does it.
      const parsed = new URL(String(url));
      if (connectOptions.username === undefined && parsed.username !== "") {
        this.#connectOptions.username = decodeURIComponent(parsed.username);
      }
      if (connectOptions.password === undefined && parsed.password !== "") {
        this.#connectOptions.password = decodeURIComponent(parsed.password);
      }
    }
    this.#session = session ?? new Session();
    this.#log = logger ?? silentLogger;
    this.#requests = new Requests(this, this.#log, (task) => this.#track(task));
    this.#manual = manualAck ?? false;
    this.#reconnect = reconnect === false ? false : {
      initialDelay: reconnect?.initialDelay ?? 100,
      maxDelay: reconnect?.maxDelay ?? 30_000,
      multiplier: reconnect?.multiplier ?? 2,
      jitter: reconnect?.jitter ?? 0.5,
      maxAttempts: reconnect?.maxAttempts ?? Infinity,
      retry: reconnect?.retry ?? retryable,
    };
    this.#maxMessages = queue?.maxMessages ?? 1000;
    this.#maxBytes = queue?.maxBytes ?? 16 * 1024 * 1024;
    if (!(this.#maxMessages >= 1)) {
      throw new RangeError(`Cannot queue at most ${this.#maxMessages} messages: give 1 or more`);
    }
    this.#ready.promise.catch(() => {});
    this.#stop.signal.addEventListener("abort", () => this.#wake.abort(), { once: true });
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#stopError = new SupervisorStoppedError("The supervisor's signal was aborted");
        this.#stop.abort(this.#stopError);
      } else {
        const onAbort = () => void this.stop();
        signal.addEventListener("abort", onAbort, { once: true });
        this.#stop.signal.addEventListener(
          "abort",
          () => signal.removeEventListener("abort", onAbort),
          { once: true },
        );
      }
    }
    this.#running = this.#run();
  }

  /** The last status (see {@linkcode SupervisorStatus}). */
  get status(): SupervisorStatus {
    return this.#status;
  }

  /** The explicit client of the current connection, or `undefined` while not connected. */
  get client(): Client | undefined {
    return this.#client;
  }

  /** The session the supervisor keeps, across connections (read-only). */
  get session(): Session {
    return this.#session;
  }

  /** What the last CONNACK said, or `undefined` before the first connection. */
  get connectResult(): ConnectResult | undefined {
    return this.#result;
  }

  /** Publications waiting in the queue (not sent yet). */
  get queued(): number {
    return this.#queue.length;
  }

  /** QoS 1/2 publications sent and not yet completed. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /**
   * Waits until the supervisor is connected: at once if it is. Rejects with
   * {@linkcode SupervisorStoppedError} once it stopped or gave up.
   *
   * @example
   * ```ts ignore
   * await mqtt.ready({ signal: AbortSignal.timeout(5000) });
   * ```
   */
  ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    return raceAbort(this.#ready.promise, options.signal);
  }

  // -- publishing ------------------------------------------------------------------------------

  /**
   * Publishes a message: queued, sent as soon as a connection and the server's Receive Maximum
   * allow, and sent again after reconnects until its flow completes. Resolves when it completes:
   * at QoS 0 once written, at QoS 1 with the PUBACK, at QoS 2 with the PUBCOMP. Waits first while
   * the queue is full. Rejects with {@linkcode UndeliveredError} (which hands the publication
   * back) when it cannot be delivered, and with the signal's reason when the signal aborts (a
   * publication still queued is then taken out; one in flight stays in the session).
   *
   * @example Publishing at QoS 2
   * ```ts ignore
   * const { reasonCode } = await mqtt.publish("orders/1", JSON.stringify(order), { qos: 2 });
   * ```
   */
  async publish(
    topic: string,
    payload?: Uint8Array | string,
    options: SupervisedPublishOptions = {},
  ): Promise<Delivery> {
    this.#refuseStopped("publish");
    options.signal?.throwIfAborted();
    const bytes = payload === undefined
      ? EMPTY
      : typeof payload === "string"
      ? encoder.encode(payload)
      : payload;
    const entry: Entry = {
      publication: {
        topic,
        payload: bytes,
        qos: options.qos ?? 0,
        retain: options.retain ?? false,
        properties: options.properties,
      },
      size: bytes.length + topic.length,
      queuedAt: Date.now(),
      done: deferred<Delivery>(),
      signal: options.signal,
      packetId: undefined,
      sent: false,
    };
    entry.done.promise.catch(() => {});
    if (this.#roomWaiters.length > 0 || !this.#hasRoom(entry.size)) {
      await this.#waitForRoom(entry.size, options.signal);
    }
    this.#queue.push(entry);
    this.#queuedBytes += entry.size;
    this.#pump();
    if (options.signal === undefined) return entry.done.promise;
    const signal = options.signal;
    const onAbort = () => {
      // Still queued: take it out, it will not be sent.
      const i = this.#queue.indexOf(entry);
      if (i >= 0) this.#dequeue(i);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return raceAbort(entry.done.promise, signal).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  }

  #hasRoom(size: number): boolean {
    if (this.#queue.length === 0) return true;
    return this.#queue.length < this.#maxMessages && this.#queuedBytes + size <= this.#maxBytes;
  }

  #waitForRoom(size: number, signal: AbortSignal | undefined): Promise<void> {
    const waiter = { size, ready: deferred<void>() };
    this.#roomWaiters.push(waiter);
    if (signal === undefined) return waiter.ready.promise;
    const onAbort = () => {
      const i = this.#roomWaiters.indexOf(waiter);
      if (i >= 0) this.#roomWaiters.splice(i, 1);
      waiter.ready.reject(signal.reason);
      // The next in line may fit where this one did not.
      this.#wakeRoomWaiters();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return waiter.ready.promise.finally(() => signal.removeEventListener("abort", onAbort));
  }

  #wakeRoomWaiters(): void {
    let queued = this.#queue.length;
    let bytes = this.#queuedBytes;
    while (this.#roomWaiters.length > 0) {
      const { size, ready } = this.#roomWaiters[0]!;
      const fits = queued === 0 || (queued < this.#maxMessages && bytes + size <= this.#maxBytes);
      if (!fits) return;
      this.#roomWaiters.shift();
      queued++;
      bytes += size;
      ready.resolve();
    }
  }

  #dequeue(index: number): Entry {
    const [entry] = this.#queue.splice(index, 1);
    this.#queuedBytes -= entry!.size;
    this.#wakeRoomWaiters();
    return entry!;
  }

  /** Sends what the queue holds, as far as the connection and the server's quota allow. */
  #pump(): void {
    const client = this.#client;
    if (client === undefined || client.state !== "connected") return;
    let taken = 0;
    while (taken < this.#queue.length) {
      const entry = this.#queue[taken]!;
      const { publication } = entry;
      if (entry.signal?.aborted) {
        taken++;
        this.#queuedBytes -= entry.size;
        continue;
      }
      if (publication.qos > 0 && client.sendQuota === 0) break;
      let properties = publication.properties;
      const expiry = properties?.messageExpiryInterval;
      if (expiry !== undefined) {
        const left = expiry - Math.floor((Date.now() - entry.queuedAt) / 1000);
        if (left <= 0) {
          taken++;
          this.#queuedBytes -= entry.size;
          entry.done.reject(new UndeliveredError("expired", publication));
          continue;
        }
        if (left !== expiry) properties = { ...properties, messageExpiryInterval: left };
      }
      // Client.publish() does not throw: a publication it refuses comes as a rejected promise.
      const written = client.publish({
        topic: publication.topic,
        qos: publication.qos,
        retain: publication.retain,
        ...(properties !== undefined ? { properties } : {}),
      }, publication.payload);
      taken++;
      this.#queuedBytes -= entry.size;
      const packetId = written.packetId;
      if (packetId !== undefined) {
        entry.packetId = packetId;
        entry.sent = true;
        this.#inflight.set(packetId, entry);
        written.catch(() => {}); // A failed write leaves the flight in the session.
      } else if (publication.qos === 0) {
        written.then(
          () => entry.done.resolve({ packetId: undefined, reasonCode: 0, properties: {} }),
          (e) => this.#refused(entry, e),
        );
      } else {
        // Refused before sending: a wrong argument, or a limit of the server's.
        written.catch((e) => this.#refused(entry, e));
      }
    }
    if (taken > 0) {
      this.#queue.splice(0, taken);
      this.#wakeRoomWaiters();
    }
  }

  /**
   * A publication the client did not send: queued again at the head if the connection was the
   * cause, else failed with {@linkcode UndeliveredError}.
   */
  #refused(entry: Entry, error: unknown): void {
    if (error instanceof NotConnectedError || error instanceof QuotaExceededError) {
      this.#queue.unshift(entry);
      this.#queuedBytes += entry.size;
      return;
    }
    if (error instanceof ConnectionClosedError) {
      entry.done.reject(new UndeliveredError("lost", entry.publication, { cause: error }));
      return;
    }
    entry.done.reject(new UndeliveredError("refused", entry.publication, { cause: error }));
  }

  // -- subscribing -----------------------------------------------------------------------------

  /**
   * Subscribes, and resolves with the {@linkcode SubscriptionStream} once the server acknowledged it
   * (at once made again on each connection whose server lost the session). Iterate over it for
   * its messages. Rejects with {@linkcode SubscriptionRefusedError} when the SUBACK refuses a
   * filter.
   *
   * @example Reading one subscription
   * ```ts ignore
   * const sensors = await mqtt.subscribe("sensors/#", { qos: 1 });
   * for await (const message of sensors) console.log(message.topic, message.text());
   * ```
   */
  async subscribe(
    filters: Filters,
    options: SupervisedSubscribeOptions = {},
  ): Promise<SubscriptionStream> {
    this.#refuseStopped("subscribe");
    options.signal?.throwIfAborted();
    const record = this.#record(filters, options);
    const channel = record.channel;
    // Messages that came before anyone took them (a resumed session's), for this filter.
    if (this.#backlog.length > 0) {
      this.#backlog = this.#backlog.filter((m) => {
        if (!record.filters.some((f) => topicMatches(f, m.topic))) return true;
        channel.push(m);
        return false;
      });
    }
    await this.#subscribeRecord(record, options.signal);
    return new SupervisedSubscription(
      record,
      channel,
      (signal) => this.#unsubscribeRecord(record, signal),
    );
  }

  #record(filters: Filters, options: SupervisedSubscribeOptions): SubscriptionRecord {
    const list = Array.isArray(filters) ? filters : [filters];
    if (list.length === 0) throw new TypeError("Cannot subscribe to no filter: give one or more");
    const requests = list.map((f) =>
      typeof f === "string" ? { filter: f, qos: options.qos ?? 0 } : f
    );
    const record: SubscriptionRecord = {
      requests,
      filters: requests.map((r) => r.filter),
      options: {
        ...(options.subscriptionIdentifier !== undefined
          ? { subscriptionIdentifier: options.subscriptionIdentifier }
          : {}),
        ...(options.userProperties !== undefined ? { userProperties: options.userProperties } : {}),
      },
      channel: new Channel<Message>(),
      acked: false,
      reasonCodes: [],
      ready: deferred<void>(),
    };
    record.ready.promise.catch(() => {});
    return record;
  }

  async #subscribeRecord(
    record: SubscriptionRecord,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.#subscriptions.add(record);
    const client = this.#client;
    if (client !== undefined) this.#sendSubscribe(client, record);
    try {
      await raceAbort(record.ready.promise, signal);
    } catch (e) {
      this.#subscriptions.delete(record);
      record.channel.close();
      throw e;
    }
  }

  #sendSubscribe(client: Client, record: SubscriptionRecord): void {
    client.subscribe(record.requests, record.options).then((packetId) => {
      const early = this.#early.get(packetId);
      if (early !== undefined) {
        this.#early.delete(packetId);
        this.#subscribed(record, early as Extract<ClientEvent, { type: "subscribed" }>);
      } else {
        this.#subscribing.set(packetId, record);
      }
    }, (e) => {
      // Refused before sending (a filter the server cannot take): no connection will change that.
      if (!(e instanceof ConnectionClosedError || e instanceof NotConnectedError)) {
        this.#subscriptions.delete(record);
        record.ready.reject(e);
        record.channel.close(e);
      }
    });
  }

  #subscribed(record: SubscriptionRecord, event: Extract<ClientEvent, { type: "subscribed" }>) {
    record.reasonCodes = event.reasonCodes;
    if (event.reasonCodes.some((c) => c >= 0x80)) {
      const error = new SubscriptionRefusedError(record.filters, event.reasonCodes);
      this.#log.warning("{message}", { message: error.message });
      this.#subscriptions.delete(record);
      record.ready.reject(error);
      record.channel.close(error);
      const granted = record.filters.filter((_, i) => (event.reasonCodes[i] ?? 0x80) < 0x80);
      if (granted.length > 0) void this.#unsubscribeFilters(granted, undefined).catch(() => {});
      return;
    }
    record.acked = true;
    record.ready.resolve();
  }

  async #unsubscribeRecord(record: SubscriptionRecord, signal: AbortSignal | undefined) {
    if (!this.#subscriptions.delete(record)) return;
    record.channel.close();
    // A filter another subscription still uses stays subscribed.
    const inUse = new Set<string>();
    for (const r of this.#subscriptions) for (const f of r.filters) inUse.add(f);
    const filters = record.filters.filter((f) => !inUse.has(f));
    if (filters.length > 0) await this.#unsubscribeFilters(filters, signal);
  }

  async #unsubscribeFilters(filters: string[], signal: AbortSignal | undefined): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#stop.signal.aborted) {
      this.#unsubscribeLater.push(...filters);
      return;
    }
    const done = deferred<void>();
    done.promise.catch(() => {});
    client.unsubscribe(filters).then((packetId) => {
      if (this.#early.delete(packetId)) done.resolve();
      else this.#unsubscribing.set(packetId, done);
    }, (e) => {
      if (e instanceof ConnectionClosedError || e instanceof NotConnectedError) {
        this.#unsubscribeLater.push(...filters);
        done.resolve();
      } else done.reject(e);
    });
    await raceAbort(done.promise, signal);
  }

  /**
   * All messages, for `for await`: every message received from now on (and those no iterator
   * took yet), whichever subscription it came for. Ends when the supervisor stops; the signal
   * ends the wait with its reason.
   *
   * @example
   * ```ts ignore
   * for await (const message of mqtt.messages()) console.log(message.topic);
   * ```
   */
  messages(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<Message> {
    const channel = new Channel<Message>();
    for (const m of this.#backlog) channel.push(m);
    this.#backlog = [];
    if (this.#stop.signal.aborted) channel.close();
    else this.#listeners.add(channel);
    return iterate(channel, options.signal, () => {
      this.#listeners.delete(channel);
      channel.close();
    });
  }

  // -- request / response ----------------------------------------------------------------------

  /**
   * Sends a request and resolves with its response (MQTT 5.0): publishes to `topic` with a
   * Response Topic and a unique Correlation Data, and waits for the message that carries the
   * same Correlation Data back. The response topic is subscribed to once (under the server's
   * Response Information, when it gave one) and kept across reconnects; many requests may be
   * in flight at once. Give a signal to bound the wait.
   *
   * @example Asking with a deadline
   * ```ts ignore
   * const reply = await mqtt.request("rpc/add", JSON.stringify([1, 2]), {
   *   signal: AbortSignal.timeout(5000),
   * });
   * console.log(reply.text());
   * ```
   */
  async request(
    topic: string,
    payload?: Uint8Array | string,
    options: RequestOptions = {},
  ): Promise<Message> {
    this.#refuseStopped("request");
    options.signal?.throwIfAborted();
    if (this.#options.protocolVersion === 4) {
      throw new ProtocolVersionError("request() (Response Topic, Correlation Data)", 4);
    }
    return await this.#requests.request(topic, payload, options);
  }

  /**
   * Answers requests (MQTT 5.0): subscribes to `filter` and, for each message with a Response
   * Topic, publishes what `handler` returns there with the request's Correlation Data (in
   * manual-ack mode the request is acknowledged once the reply is queued). Up to
   * `options.concurrency` requests are handled at once. A handler that throws sends no reply (the
   * error is logged). Runs until the signal aborts, the subscription is
   * ended, or the supervisor stops.
   *
   * @example An adding service
   * ```ts ignore
   * await mqtt.respond("rpc/add", (request) => {
   *   const [a, b] = JSON.parse(request.text());
   *   return JSON.stringify(a + b);
   * });
   * ```
   */
  async respond(
    filter: string,
    handler: (request: Message) => Reply | Promise<Reply>,
    options: RespondOptions = {},
  ): Promise<SubscriptionStream> {
    const qos = options.qos ?? 1;
    const subscription = await this.subscribe(filter, {
      qos,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    this.#requests.respond(subscription, handler, options);
    return subscription;
  }

  /** Keeps a background task (a responder) that {@linkcode Supervisor.stop} waits for. */
  #track(task: Promise<void>): void {
    const kept = task.catch(() => {});
    this.#tasks.add(kept);
    void kept.finally(() => this.#tasks.delete(kept));
  }

  // -- stopping --------------------------------------------------------------------------------

  /**
   * Stops: sends DISCONNECT if connected (the session is kept on the server for its Session
   * Expiry Interval), ends the iterators, fails what waits with {@linkcode UndeliveredError}
   * (`reason: "stopped"`) or {@linkcode SupervisorStoppedError}, and clears its timer. Resolves
   * once nothing of it is left running. Calling it again waits for the same end.
   *
   * @example
   * ```ts ignore
   * await mqtt.stop();
   * ```
   */
  async stop(): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stopError = new SupervisorStoppedError("The supervisor was stopped");
      this.#stop.abort(this.#stopError);
    }
    await this.#running;
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Stops at the end of an `await using` scope: {@linkcode Supervisor.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #refuseStopped(what: string): void {
    if (this.#stop.signal.aborted) {
      throw new SupervisorStoppedError(
        `Cannot ${what}: the supervisor is stopped; start a new one (with its session to resume it)`,
        this.#stopError,
      );
    }
  }

  #emit(status: SupervisorStatus): void {
    this.#status = status;
    try {
      this.#options.onStatus?.(status);
    } catch (e) {
      this.#log.error("The onStatus callback threw: {message}", {
        message: e instanceof Error ? e.message : String(e),
      });
    }
  }

  // -- the loop --------------------------------------------------------------------------------

  async #run(): Promise<void> {
    let failures = 0;
    let redirects = 0;
    let reference: string | undefined;
    let moved: string | undefined;
    let ended: unknown;
    const stop = this.#stop.signal;
    try {
      while (!stop.aborted) {
        const target = reference ?? moved;
        reference = undefined;
        this.#emit({ type: "connecting", attempt: failures + 1, serverReference: target });
        let client: Client;
        let result: ConnectResult;
        try {
          [client, result] = await this.#connect(failures + 1, target);
        } catch (e) {
          if (stop.aborted) break;
          const redirect = this.#redirection(e, undefined, undefined);
          if (redirect !== undefined && redirects < MAX_REDIRECTS) {
            redirects++;
            if (redirect.permanent) moved = redirect.reference;
            else reference = redirect.reference;
            continue;
          }
          failures++;
          ended = e;
          if (!(await this.#retry(failures, e))) return;
          continue;
        }
        redirects = 0;
        const started = Date.now();
        const end = await this.#serve(client, result);
        if (stop.aborted) break;
        ended = end.error;
        this.#emit({ type: "lost", error: end.error });
        const redirect = this.#redirection(end.error, end.reasonCode, end.serverReference);
        if (redirect !== undefined) {
          if (redirect.permanent) moved = redirect.reference;
          else reference = redirect.reference;
        }
        if (this.#reconnect === false) {
          this.#emit({ type: "gave-up", error: end.error });
          return;
        }
        // A connection that held resets the backoff; one lost at once counts as a failure.
        if (Date.now() - started >= STABLE_MS) failures = 0;
        else if (!(await this.#retry(++failures, end.error))) return;
      }
    } catch (e) {
      ended = e;
      this.#log.error("The supervisor failed: {message}", {
        message: e instanceof Error ? e.message : String(e),
      });
    } finally {
      this.#finish(stop.aborted ? this.#stopError : ended);
    }
  }

  /**
   * Waits the backoff delay before attempt `failures + 1`; `false` (after the `gave-up` status)
   * when the error is not worth it, or attempts are used up, or the supervisor stopped.
   */
  async #retry(failures: number, error: unknown): Promise<boolean> {
    const reconnect = this.#reconnect;
    if (reconnect === false || failures >= reconnect.maxAttempts || !reconnect.retry(error)) {
      this.#emit({ type: "gave-up", error });
      return false;
    }
    const base = Math.min(
      reconnect.maxDelay,
      reconnect.initialDelay * reconnect.multiplier ** (failures - 1),
    );
    const delay = Math.round(base * (1 - reconnect.jitter * Math.random()));
    this.#emit({ type: "reconnecting", attempt: failures + 1, delay, error });
    try {
      await sleep(delay, this.#stop.signal);
    } catch {
      return false;
    }
    return true;
  }

  #redirection(
    error: unknown,
    reasonCode: number | undefined,
    serverReference: string | undefined,
  ): { reference: string; permanent: boolean } | undefined {
    if (error instanceof ConnectionRefusedError) {
      reasonCode = error.reasonCode;
      serverReference = error.serverReference;
    }
    if (serverReference === undefined || (reasonCode !== 0x9c && reasonCode !== 0x9d)) {
      return undefined;
    }
    const follow = this.#options.followRedirects ?? false;
    if (follow === false || (typeof follow === "function" && !follow(serverReference))) {
      this.#log.info("The server named another server ({reference}); not followed", {
        reference: serverReference,
      });
      return undefined;
    }
    // A Server Reference may list several servers, separated by spaces: the first is taken.
    const reference = serverReference.trim().split(/\s+/)[0]!;
    this.#log.info("Redirected to {reference}", { reference });
    return { reference, permanent: reasonCode === 0x9d };
  }

  /** Opens a transport and connects a new client with the session. */
  async #connect(
    attempt: number,
    serverReference: string | undefined,
  ): Promise<[Client, ConnectResult]> {
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(
          new DOMException(
            `The connection attempt took longer than ${this.#options.connectTimeout ?? 30_000} ms`,
            "TimeoutError",
          ),
        ),
      this.#options.connectTimeout ?? 30_000,
    );
    const signal = anySignal(this.#stop.signal, timeout.signal);
    try {
      const first = this.#result === undefined;
      const cleanStart = first
        ? (this.#options.cleanStart ?? this.#options.session === undefined)
        : false;
      if (cleanStart && !this.#cleaned && this.#session.state.outgoing.length > 0) {
        this.#cleaned = true;
        // Clean Start empties the session: what it held in flight is queued again first.
        this.#requeue(this.#session.state.outgoing as OutgoingFlight[]);
      }
      const transport = await this.#open({ attempt, serverReference, signal });
      const client = new Client({
        session: this.#session,
        manualAck: this.#manual,
        ...(this.#options.strict !== undefined ? { strict: this.#options.strict } : {}),
        ...(this.#options.topicAliases !== undefined
          ? { topicAliases: this.#options.topicAliases }
          : {}),
        logger: this.#log,
        ...(this.#options.store !== undefined ? { store: this.#options.store } : {}),
      });
      const clientId = this.#result?.clientId ?? this.#connectOptions.clientId;
      const result = await client.connect(transport, {
        ...this.#connectOptions,
        ...(clientId !== undefined ? { clientId } : {}),
        cleanStart,
        signal,
      });
      return [client, result];
    } finally {
      clearTimeout(timer);
    }
  }

  #open(request: TransportRequest): Promise<Transport> {
    const factory = this.#options.transport;
    if (factory !== undefined) return factory(request);
    let url = String(this.#options.url);
    if (request.serverReference !== undefined) url = redirectedUrl(url, request.serverReference);
    return openTransport(url, {
      ...(this.#options.tls !== undefined ? { tls: this.#options.tls } : {}),
      ...(this.#options.WebSocket !== undefined ? { WebSocket: this.#options.WebSocket } : {}),
      signal: request.signal,
    });
  }

  /** Runs one connection: recovery, then reading and keep alive until it ends. */
  async #serve(client: Client, result: ConnectResult): Promise<Ended> {
    this.#client = client;
    this.#result = result;
    this.#epoch++;
    this.#early.clear();
    this.#subscribing.clear();
    for (const waiter of this.#unsubscribing.values()) waiter.resolve();
    this.#unsubscribing.clear();
    try {
      let resent: number[] = [];
      let requeued = 0;
      if (result.sessionPresent) {
        resent = await client.resend({ signal: this.#stop.signal });
      } else {
        requeued = this.#requeue(result.discarded);
        // The server lost the messages it had not had acknowledged: no redelivery will come.
        this.#unacked.clear();
        this.#unsubscribeLater = [];
        for (const record of this.#subscriptions) record.acked = false;
      }
      for (const record of this.#subscriptions) {
        if (!record.acked) this.#sendSubscribe(client, record);
      }
      if (this.#unsubscribeLater.length > 0) {
        const filters = this.#unsubscribeLater;
        this.#unsubscribeLater = [];
        void this.#unsubscribeFilters(filters, undefined).catch(() => {});
      }
      this.#emit({ type: "connected", result, resent, requeued });
      this.#ready.resolve();
      this.#pump();
      this.#arm(client);
      for (;;) {
        let event: ClientEvent;
        try {
          event = await client.poll({ signal: this.#wake.signal });
        } catch (e) {
          if (!this.#wake.signal.aborted) return { error: e };
          if (this.#stop.signal.aborted) {
            await this.#disconnect(client);
            return { error: undefined };
          }
          const ended = this.#keepAlive(client);
          if (ended !== undefined) return ended;
          continue;
        }
        let ended = this.#dispatch(client, event);
        while (ended === undefined) {
          const next = client.take();
          if (next === undefined) break;
          ended = this.#dispatch(client, next);
        }
        if (ended !== undefined) return ended;
        this.#pump();
      }
    } catch (e) {
      return { error: e };
    } finally {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#client = undefined;
      if (!this.#stop.signal.aborted) {
        this.#ready = deferred<void>();
        this.#ready.promise.catch(() => {});
      }
      if (client.state === "connecting" || client.state === "connected") client.abort();
    }
  }

  /** Sets the one timer: when keep alive has something to do next. */
  #arm(client: Client): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#wake.signal.aborted) this.#wake = new AbortController();
    const at = client.timeout;
    if (at === undefined) return;
    const wake = this.#wake;
    this.#timer = setTimeout(() => wake.abort(), Math.max(0, at - Date.now()) + 1);
  }

  /**
   * Keep alive, as the client does it: a PINGREQ once due; past the deadline, the connection
   * ended with its `ConnectionClosedError`. Re-arms the timer.
   */
  #keepAlive(client: Client): Ended | undefined {
    try {
      client.handleTimeout();
    } catch (e) {
      return { error: e };
    }
    this.#arm(client);
    return undefined;
  }

  async #disconnect(client: Client): Promise<void> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), 1000);
    try {
      await client.disconnect({ signal: timeout.signal });
    } catch {
      client.abort();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Acts on one event; returns how the connection ended, if it did. */
  #dispatch(client: Client, event: ClientEvent): Ended | undefined {
    switch (event.type) {
      case "message":
        this.#deliver(client, event);
        return undefined;
      case "acknowledged":
      case "completed": {
        const entry = this.#inflight.get(event.packetId);
        if (entry !== undefined) {
          this.#inflight.delete(event.packetId);
          entry.done.resolve({
            packetId: event.packetId,
            reasonCode: event.reasonCode,
            properties: event.properties,
          });
        }
        this.#resendHeldBack(client);
        return undefined;
      }
      case "rejected": {
        const entry = this.#inflight.get(event.packetId);
        if (entry !== undefined) {
          this.#inflight.delete(event.packetId);
          entry.done.reject(
            new UndeliveredError("rejected", entry.publication, {
              reasonCode: event.reasonCode,
              packetId: event.packetId,
              sent: true,
            }),
          );
        }
        this.#resendHeldBack(client);
        return undefined;
      }
      case "released":
        // Manual mode: the application acknowledged the message (PUBREC); PUBCOMP goes by itself.
        if (this.#manual && event.known) client.acknowledge(event.packetId).catch(() => {});
        return undefined;
      case "subscribed": {
        const record = this.#subscribing.get(event.packetId);
        if (record === undefined) this.#early.set(event.packetId, event);
        else {
          this.#subscribing.delete(event.packetId);
          this.#subscribed(record, event);
        }
        return undefined;
      }
      case "unsubscribed": {
        const waiter = this.#unsubscribing.get(event.packetId);
        if (waiter === undefined) this.#early.set(event.packetId, event);
        else {
          this.#unsubscribing.delete(event.packetId);
          waiter.resolve();
        }
        return undefined;
      }
      case "disconnected":
        return {
          error: new ConnectionClosedError(
            `The server disconnected with reason code 0x${event.reasonCode.toString(16)}` +
              (event.reasonString !== undefined ? ` (${event.reasonString})` : "") +
              "; reconnecting with the session",
            {
              reasonCode: event.reasonCode,
              sessionResumable: (this.#result?.sessionExpiryInterval ?? 0) > 0,
            },
          ),
          reasonCode: event.reasonCode,
          serverReference: event.serverReference,
        };
      default:
        // received, duplicate, refused, pong, auth: the client already did what they need.
        return undefined;
    }
  }

  /** After an acknowledgement, the flights the server's Receive Maximum held back. */
  #resendHeldBack(client: Client): void {
    if (client.heldBack.length > 0) client.resend().catch(() => {});
  }

  /** Queues discarded flights again at the head (or fails them); returns how many were queued. */
  #requeue(flights: readonly OutgoingFlight[]): number {
    const front: Entry[] = [];
    for (const flight of flights) {
      const known = this.#inflight.get(flight.packetId);
      this.#inflight.delete(flight.packetId);
      // A QoS 2 flight whose PUBREC came holds no publication any more, but its entry does. The
      // server may have passed it on already (on PUBLISH) or not (Mosquitto waits for PUBREL):
      // it is queued again, so that nothing is lost; after a lost session, QoS 2 is at least once.
      const stored = flight.publication ?? known?.publication;
      if (stored === undefined) continue; // From a session given at the start: nothing to send.
      const entry: Entry = known ?? {
        publication: {
          topic: stored.topic,
          payload: stored.payload,
          qos: stored.qos,
          retain: stored.retain,
          properties: stored.properties,
        },
        size: stored.payload.length + stored.topic.length,
        queuedAt: Date.now(),
        done: deferred<Delivery>(),
        signal: undefined,
        packetId: undefined,
        sent: true,
      };
      entry.done.promise.catch(() => {});
      if (this.#options.requeueDiscarded === false) {
        entry.done.reject(
          new UndeliveredError("discarded", entry.publication, {
            packetId: flight.packetId,
            sent: true,
          }),
        );
        continue;
      }
      entry.packetId = undefined;
      front.push(entry);
    }
    if (front.length > 0) {
      this.#queue.unshift(...front);
      for (const e of front) this.#queuedBytes += e.size;
      this.#log.info("Queued {count} publications again: the server lost them with the session", {
        count: front.length,
      });
    }
    return front.length;
  }

  /** Hands a message to the iterators and handlers it is for. */
  #deliver(client: Client, event: IncomingMessageEvent): void {
    const packetId = event.packetId;
    if (this.#manual && packetId !== undefined) {
      const earlier = this.#unacked.get(packetId);
      if (earlier !== undefined && earlier.epoch < this.#epoch && earlier.topic === event.topic) {
        // Sent again after a reconnect, before the application acknowledged it: not delivered
        // twice. An acknowledgement given meanwhile goes out now.
        earlier.epoch = this.#epoch;
        if (earlier.acked) {
          this.#unacked.delete(packetId);
          client.acknowledge(packetId, earlier.options ?? {}).catch(() => {});
        }
        return;
      }
      this.#unacked.set(packetId, {
        topic: event.topic,
        epoch: this.#epoch,
        acked: false,
        options: undefined,
      });
    }
    const message = this.#message(event);
    let taken = false;
    for (const record of this.#subscriptions) {
      for (const filter of record.filters) {
        if (topicMatches(filter, event.topic)) {
          record.channel.push(message);
          taken = true;
          break;
        }
      }
    }
    for (const listener of this.#listeners) {
      listener.push(message);
      taken = true;
    }
    if (!taken) {
      this.#backlog.push(message);
      if (this.#backlog.length === 1000) {
        this.#log.warning(
          "1000 messages wait with no iterator for them: subscribe, or read messages()",
        );
      }
    }
  }

  #message(event: IncomingMessageEvent): Message {
    const message = event as Message;
    let acked = false;
    message.text = () => decoder.decode(event.payload);
    message.ack = (options) => {
      const packetId = event.packetId;
      if (!this.#manual || packetId === undefined || acked) return Promise.resolve();
      acked = true;
      const record = this.#unacked.get(packetId);
      if (record === undefined) return Promise.resolve(); // The server lost it with the session.
      const client = this.#client;
      if (client !== undefined && record.epoch === this.#epoch && client.state === "connected") {
        this.#unacked.delete(packetId);
        return client.acknowledge(packetId, options ?? {}).catch((e) => {
          if (e instanceof ConnectionClosedError || e instanceof NotConnectedError) {
            // Written with the connection failing: the server sends it again; answer then.
            this.#unacked.set(packetId, { ...record, acked: true, options });
            return;
          }
          throw e;
        });
      }
      // No connection for it now: acknowledged when the server sends it again.
      record.acked = true;
      record.options = options;
      return Promise.resolve();
    };
    return message;
  }

  /** Ends everything once the loop is over: nothing is left running or waiting. */
  #finish(error: unknown): void {
    if (!this.#stop.signal.aborted) {
      this.#stopError = new SupervisorStoppedError(
        "The supervisor gave up: " + (error instanceof Error ? error.message : String(error)),
        error,
      );
      this.#stop.abort(this.#stopError);
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const stopped = this.#stopError;
    for (const entry of this.#queue) {
      entry.done.reject(new UndeliveredError("stopped", entry.publication, { cause: stopped }));
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const [packetId, entry] of this.#inflight) {
      entry.done.reject(
        new UndeliveredError("stopped", entry.publication, {
          cause: stopped,
          packetId,
          sent: true,
        }),
      );
    }
    this.#inflight.clear();
    for (const waiter of this.#roomWaiters) waiter.ready.reject(stopped);
    this.#roomWaiters = [];
    for (const record of this.#subscriptions) {
      record.ready.reject(stopped);
      record.channel.close();
    }
    for (const waiter of this.#unsubscribing.values()) waiter.resolve();
    this.#unsubscribing.clear();
    for (const listener of this.#listeners) listener.close();
    this.#listeners.clear();
    this.#requests.close(stopped);
    // ready() rejects from now on: the calls waiting now, and later ones where the last
    // connection had resolved it.
    this.#ready.reject(stopped);
    this.#ready = deferred<void>();
    this.#ready.promise.catch(() => {});
    this.#ready.reject(stopped);
    this.#emit({ type: "stopped" });
  }
}

/** The {@linkcode SubscriptionStream} a supervisor hands out, over its record and channel. */
class SupervisedSubscription implements SubscriptionStream {
  #record: SubscriptionRecord;
  #channel: Channel<Message>;
  #unsubscribe: (signal: AbortSignal | undefined) => Promise<void>;

  constructor(
    record: SubscriptionRecord,
    channel: Channel<Message>,
    unsubscribe: (signal: AbortSignal | undefined) => Promise<void>,
  ) {
    this.#record = record;
    this.#channel = channel;
    this.#unsubscribe = unsubscribe;
  }

  get filters(): readonly string[] {
    return this.#record.filters;
  }

  get reasonCodes(): readonly number[] {
    return this.#record.reasonCodes;
  }

  get size(): number {
    return this.#channel.size;
  }

  messages(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<Message> {
    return iterate(this.#channel, options.signal, () => {});
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this.messages();
  }

  unsubscribe(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#unsubscribe(options.signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe().catch(() => {});
  }
}

/** An iterator over `channel`; `onReturn` runs when the loop is left early. */
function iterate<T>(
  channel: Channel<T>,
  signal: AbortSignal | undefined,
  onReturn: () => void,
): AsyncIterableIterator<T> {
  return {
    next: () => channel.next(signal),
    return: () => {
      onReturn();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** The URL with the host (and port, if given) of a Server Reference. */
function redirectedUrl(url: string, reference: string): string {
  if (/^[a-z]+:\/\//i.test(reference)) return reference;
  const target = new URL(url);
  const port = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(reference);
  if (port !== null) {
    target.hostname = port[1]!;
    target.port = port[2]!;
  } else {
    target.hostname = reference;
  }
  return target.href;
}

/** Refusals that may pass with time (see {@linkcode ReconnectOptions.retry}). */
const PASSING = new Set([0x80, 0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f]);

/**
 * Whether a connection error is worth another attempt, as the supervisor decides by default:
 * network errors, lost connections and protocol violations are; refusals are only for reasons
 * that may pass (0x80, 0x88 Server unavailable, 0x89 Server busy, 0x97 Quota exceeded, 0x9C/0x9D
 * another server, 0x9F Connection rate exceeded). Wrong arguments and missing permissions are not.
 *
 * @example Retrying refused credentials too (a password being rotated)
 * ```ts ignore
 * supervise({
 *   url: "mqtt://127.0.0.1",
 *   reconnect: { retry: (e) => retryable(e) || (e as { reasonCode?: number }).reasonCode === 0x86 },
 * });
 * ```
 */
export function retryable(error: unknown): boolean {
  if (error instanceof ConnectionRefusedError) return PASSING.has(error.reasonCode);
  if (error instanceof ProtocolVersionError || error instanceof ClientStateError) return false;
  if (error instanceof TypeError || error instanceof RangeError) return false;
  const name = (error as { name?: unknown } | undefined)?.name;
  return name !== "PermissionDenied" && name !== "NotCapable";
}

/**
 * Starts a {@linkcode Supervisor}: it connects at once and keeps the session running until
 * stopped (by {@linkcode Supervisor.stop}, `options.signal`, or the end of an `await using`
 * scope).
 *
 * @example The short form
 * ```ts ignore
 * import { supervise } from "@scope/mqtt5/supervisor";
 * await using mqtt = supervise({ url: "mqtt://127.0.0.1:1883", clientId: "demo" });
 * const hello = await mqtt.subscribe("demo/#", { qos: 1 });
 * await mqtt.publish("demo/hello", "Hello World!", { qos: 1 });
 * for await (const message of hello) {
 *   console.log(message.topic, message.text());
 *   break;
 * }
 * ```
 */
export function supervise(options: SupervisorOptions): Supervisor {
  return new Supervisor(options);
}
