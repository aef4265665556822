/**
 * The options, statuses and values of the {@linkcode Supervisor}.
 *
 * @module
 */

import type {
  AcknowledgeOptions,
  AckProperties,
  ClientOptions,
  ConnectOptions,
  ConnectResult,
  IncomingMessageEvent,
  PublishProperties,
  QoS,
  SubscribeRequest,
  UrlTlsOptions,
  UserProperty,
  WebSocketConstructor,
} from "../client/mod.ts";
import type { Session, SessionStore } from "../session/mod.ts";
import type { Transport } from "../transport/mod.ts";

/** What {@linkcode SupervisorOptions.transport} is told about the connection to open. */
export interface TransportRequest {
  /** The attempt: 1 for the first connection and after each success, then 2, 3, ... */
  attempt: number;
  /**
   * A server to use instead, named by the last server (Server Reference with 0x9C or 0x9D) and
   * allowed by {@linkcode SupervisorOptions.followRedirects}; `undefined` for the usual one.
   */
  serverReference: string | undefined;
  /** Aborted when the supervisor stops or the connect timeout passes: give it to the transport. */
  signal: AbortSignal;
}

/** How the supervisor reconnects after a lost connection or a failed attempt. */
export interface ReconnectOptions {
  /** The delay before the first retry, in milliseconds. @default {100} */
  initialDelay?: number;
  /** The longest delay, in milliseconds. @default {30_000} */
  maxDelay?: number;
  /** How much the delay grows after each failed attempt. @default {2} */
  multiplier?: number;
  /**
   * The share of each delay that is random: a delay `d` becomes a value between `d * (1 - jitter)`
   * and `d`, so that clients cut off together do not come back together.
   *
   * @default {0.5}
   */
  jitter?: number;
  /**
   * Failed attempts in a row after which the supervisor gives up (status `gave-up`).
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
  /**
   * Whether an error is worth another attempt. By default: network errors, lost connections,
   * protocol violations, and refusals that may pass (0x80 Unspecified error, 0x88 Server
   * unavailable, 0x89 Server busy, 0x97 Quota exceeded, 0x9F Connection rate exceeded). A
   * refusal for the credentials, the client id or the protocol version gives up at once.
   *
   * @default {retryable}
   */
  retry?: (error: unknown) => boolean;
}

/** The bounds of the queue of publications waiting to be sent. */
export interface QueueOptions {
  /** Publications waiting at most; `publish()` waits while it is full. @default {1000} */
  maxMessages?: number;
  /**
   * Payload and topic bytes waiting at most; `publish()` waits while they would be exceeded (a
   * publication larger than this alone is admitted once the queue is empty).
   *
   * @default {16 * 1024 * 1024}
   */
  maxBytes?: number;
}

/**
 * Options of {@linkcode supervise}: where to connect (a URL or a transport factory), the CONNECT's
 * fields, the client's options, and how the supervisor reconnects and queues.
 */
export interface SupervisorOptions
  extends Omit<ConnectOptions, "signal">, Omit<ClientOptions, "session"> {
  /**
   * The server: `mqtt://`, `mqtts://`, `ws://` or `wss://` (as `connect()` takes it). A user name
   * and password in the URL become the CONNECT's. Give this or
   * {@linkcode SupervisorOptions.transport}.
   *
   * @default {undefined}
   */
  url?: string | URL;
  /**
   * Opens a transport for each connection, for any transport (TCP, TLS, WebSocket, Node, or
   * one's own). Takes precedence over {@linkcode SupervisorOptions.url}.
   *
   * @default {undefined}
   */
  transport?: (request: TransportRequest) => Promise<Transport>;
  /** TLS settings for an `mqtts:` URL. @default {undefined} */
  tls?: UrlTlsOptions;
  /** A WebSocket constructor for `ws:`/`wss:` URLs where there is no global one (Node 20). @default {globalThis.WebSocket} */
  WebSocket?: WebSocketConstructor;
  /**
   * The session to resume (with `cleanStart: false` on the first connection, unless
   * `cleanStart` says otherwise). The supervisor keeps using it: {@linkcode Supervisor.session}.
   *
   * @default {new Session()}
   */
  session?: Session;
  /**
   * A durable store (`@scope/mqtt5/store`): each connection's client saves the session's changes
   * to it before writing the packets that depend on them. Give the session loaded from it too
   * (`const { session } = await loadSession(store)`), so that a restarted process resumes.
   *
   * @default {undefined} (the session is kept in memory only)
   */
  store?: SessionStore;
  /**
   * Clean Start of the first connection; every reconnect resumes (`cleanStart: false`). On MQTT
   * 3.1.1 Clean Session 1 also ends the session with the connection (there is no Session Expiry
   * Interval): give `false` for a session that outlives a cut.
   *
   * @default {true without a session, false with one}
   */
  cleanStart?: boolean;
  /** How to reconnect, or `false` to give up when the first connection ends. @default {{}} */
  reconnect?: ReconnectOptions | false;
  /** The bounds of the queue of publications waiting to be sent. @default {{}} */
  queue?: QueueOptions;
  /**
   * When the server lost the session (Session Present 0 on a resume), put the publications it
   * lost back at the head of the queue, to be sent again. That includes QoS 2 publications whose
   * PUBREC came but not their PUBCOMP: the server may have passed them on already (a server may
   * deliver on PUBLISH or on PUBREL), so across a lost session QoS 2 is at least once. With `false` they fail with
   * {@linkcode UndeliveredError} (`reason: "discarded"`).
   *
   * @default {true}
   */
  requeueDiscarded?: boolean;
  /**
   * Whether to follow a server's redirection (Server Reference with 0x9C Use another server or
   * 0x9D Server moved, in CONNACK or DISCONNECT). `true` follows every one; a function decides
   * for each reference. The reference reaches {@linkcode SupervisorOptions.transport}; with a URL,
   * it replaces the URL's host (and port, if it names one).
   *
   * @default {false}
   */
  followRedirects?: boolean | ((serverReference: string) => boolean);
  /** How long one connection attempt may take (transport and CONNACK), in milliseconds. @default {30_000} */
  connectTimeout?: number;
  /** Stops the supervisor when aborted, as {@linkcode Supervisor.stop} does. @default {undefined} */
  signal?: AbortSignal;
  /** Called with each status change. @default {undefined} */
  onStatus?: (status: SupervisorStatus) => void;
}

/**
 * Where the supervisor stands, tagged by `type`, as {@linkcode SupervisorOptions.onStatus} gets
 * it:
 * - `connecting`: an attempt starts;
 * - `connected`: the CONNACK accepted it; `resent` lists the flights sent again, `requeued` how
 *   many publications the server had lost and are queued again;
 * - `lost`: the connection ended, with the typed cause (its `sessionResumable` says whether the
 *   server keeps the session);
 * - `reconnecting`: the next attempt is in `delay` milliseconds;
 * - `gave-up`: no more attempts (a refusal that will not pass, or `maxAttempts`);
 * - `stopped`: the supervisor is stopped and holds nothing any more.
 */
export type SupervisorStatus =
  | { type: "connecting"; attempt: number; serverReference: string | undefined }
  | { type: "connected"; result: ConnectResult; resent: number[]; requeued: number }
  | { type: "lost"; error: unknown }
  | { type: "reconnecting"; attempt: number; delay: number; error: unknown }
  | { type: "gave-up"; error: unknown }
  | { type: "stopped" };

/** Options of {@linkcode Supervisor.publish}. */
export interface SupervisedPublishOptions {
  /** The QoS. @default {0} */
  qos?: QoS;
  /** The RETAIN flag. @default {false} */
  retain?: boolean;
  /**
   * The publication properties. A Message Expiry Interval counts from the call: the time spent in
   * the queue is subtracted when it is sent, and it fails as `expired` if none is left.
   *
   * @default {undefined}
   */
  properties?: PublishProperties;
  /**
   * Gives up waiting: for room in the queue, or for the acknowledgement. A publication already
   * queued is taken out if it is still unsent; one in flight stays in the session.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** What a completed publication returns. */
export interface Delivery {
  /** The Packet Identifier it had (the last one, if it was sent again); `undefined` at QoS 0. */
  packetId: number | undefined;
  /** The PUBACK's or PUBCOMP's reason code (0x00, or 0x10 No matching subscribers); 0 at QoS 0. */
  reasonCode: number;
  /** The acknowledgement's Reason String and User Properties. */
  properties: AckProperties;
}

/** A publication the supervisor handles, as {@linkcode UndeliveredError} hands it back. */
export interface Publication {
  /** The topic. */
  topic: string;
  /** The payload. */
  payload: Uint8Array;
  /** The QoS. */
  qos: QoS;
  /** The RETAIN flag. */
  retain: boolean;
  /** The properties, as given. */
  properties: PublishProperties | undefined;
}

/**
 * A message received, as the supervisor's iterators yield it: the `message` event and, in
 * manual-ack mode, {@linkcode Message.ack} to call once the application has processed it.
 */
export interface Message extends IncomingMessageEvent {
  /** The payload decoded as UTF-8. */
  text(): string;
  /**
   * Acknowledges the message (manual-ack mode): PUBACK at QoS 1, PUBREC at QoS 2 (the PUBCOMP
   * follows by itself). Resolves once written, or at once if the connection is down: then the
   * acknowledgement goes out when the server sends the message again, which it is not delivered
   * twice for. Calling it again does nothing; in automatic mode it does nothing.
   */
  ack(options?: Omit<AcknowledgeOptions, "signal">): Promise<void>;
}

/** Options of {@linkcode Supervisor.subscribe}. */
export interface SupervisedSubscribeOptions {
  /** The QoS for filters given as strings. @default {0} */
  qos?: QoS;
  /** The Subscription Identifier. @default {undefined} */
  subscriptionIdentifier?: number;
  /** User properties of the SUBSCRIBE. @default {undefined} */
  userProperties?: UserProperty[];
  /** Gives up waiting for the SUBACK (the subscription is then dropped). @default {undefined} */
  signal?: AbortSignal;
}

/** A filter, or filters, as {@linkcode Supervisor.subscribe} takes them. */
export type Filters = string | SubscribeRequest | (string | SubscribeRequest)[];

/** A reply from a {@linkcode Supervisor.respond} handler: a payload, or a payload with properties. */
export type Reply =
  | Uint8Array
  | string
  | { payload?: Uint8Array | string; properties?: PublishProperties };

/** Options of {@linkcode Supervisor.request}. */
export interface RequestOptions {
  /** The QoS of the request and of the response subscription. @default {1} */
  qos?: QoS;
  /** Further properties of the request (not its Response Topic or Correlation Data). @default {undefined} */
  properties?: Omit<PublishProperties, "responseTopic" | "correlationData">;
  /** Gives up waiting for the response (e.g. `AbortSignal.timeout(5000)`). @default {undefined} */
  signal?: AbortSignal;
}

/** Options of {@linkcode Supervisor.respond}. */
export interface RespondOptions {
  /** The QoS of the subscription and of the replies. @default {1} */
  qos?: QoS;
  /** How many requests the handler may be working on at once. @default {16} */
  concurrency?: number;
  /** Stops responding when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * A subscription kept by a {@linkcode Supervisor}, from {@linkcode Supervisor.subscribe}: iterate
 * over it for its messages (one reader at a time); {@linkcode SubscriptionStream.unsubscribe} ends it.
 * Its messages wait in it until read. It is made again on each connection whose server lost the
 * session.
 *
 * @example
 * ```ts ignore
 * await using alerts = await mqtt.subscribe("alerts/#", { qos: 2 });
 * for await (const message of alerts) console.log(message.text());
 * ```
 */
export interface SubscriptionStream extends AsyncIterable<Message>, AsyncDisposable {
  /** The topic filters, in order. */
  readonly filters: readonly string[];
  /** The codes of the last SUBACK: the granted QoS for each filter. */
  readonly reasonCodes: readonly number[];
  /** Messages received and not read yet. */
  readonly size: number;
  /**
   * The messages, for `for await`, bounded by `signal` (an abort ends the wait with its reason;
   * no message is lost). Leaving the loop early keeps the subscription: iterate again later.
   *
   * @example
   * ```ts ignore
   * for await (const m of subscription.messages({ signal: AbortSignal.timeout(10_000) })) {
   *   console.log(m.topic);
   * }
   * ```
   */
  messages(options?: { signal?: AbortSignal }): AsyncIterableIterator<Message>;
  /**
   * Unsubscribes (UNSUBSCRIBE, waiting for the UNSUBACK when connected; else sent once connected)
   * and ends the iteration once the messages received are read. A filter another subscription
   * of the supervisor uses stays subscribed.
   *
   * @example
   * ```ts ignore
   * await subscription.unsubscribe();
   * ```
   */
  unsubscribe(options?: { signal?: AbortSignal }): Promise<void>;
}
