/**
 * Request/response for the {@linkcode Supervisor}, on its public API only (publish, subscribe,
 * ready, the CONNACK's Response Information): the response subscription, the correlation of
 * responses to requests, and the responders. Private to the supervisor layer.
 *
 * @module
 */

import type { ConnectResult, Logger } from "../client/mod.ts";
import { type Deferred, deferred, raceAbort } from "../_async.ts";
import type {
  Delivery,
  Message,
  Reply,
  RequestOptions,
  RespondOptions,
  SubscriptionStream,
  SupervisedPublishOptions,
  SupervisedSubscribeOptions,
} from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What request/response uses of the supervisor: its public methods. */
export interface RequestHost {
  publish(
    topic: string,
    payload: Uint8Array | string | undefined,
    options: SupervisedPublishOptions,
  ): Promise<Delivery>;
  subscribe(filter: string, options: SupervisedSubscribeOptions): Promise<SubscriptionStream>;
  ready(options: { signal?: AbortSignal }): Promise<void>;
  readonly connectResult: ConnectResult | undefined;
}

/** The requests in flight and the response subscription of one supervisor. */
export class Requests {
  #host: RequestHost;
  #log: Logger;
  /** Runs a background task until the supervisor has stopped (it awaits them). */
  #track: (task: Promise<void>) => void;
  /** This supervisor's part of every response topic and correlation: random, kept across reconnects. */
  #tag = Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  #count = 0;
  #topic: Promise<string> | undefined;
  #waiting = new Map<string, Deferred<Message>>();

  constructor(host: RequestHost, log: Logger, track: (task: Promise<void>) => void) {
    this.#host = host;
    this.#log = log;
    this.#track = track;
  }

  /** Publishes a request and waits for the response with its Correlation Data. */
  async request(
    topic: string,
    payload: Uint8Array | string | undefined,
    options: RequestOptions,
  ): Promise<Message> {
    const qos = options.qos ?? 1;
    const responseTopic = await raceAbort(this.#responseTopic(qos), options.signal);
    const key = `${this.#tag}-${++this.#count}`;
    const response = deferred<Message>();
    this.#waiting.set(key, response);
    try {
      this.#host.publish(topic, payload, {
        qos,
        properties: { ...options.properties, responseTopic, correlationData: encoder.encode(key) },
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      }).catch((e) => response.reject(e));
      return await raceAbort(response.promise, options.signal);
    } finally {
      this.#waiting.delete(key);
    }
  }

  /**
   * The response topic, subscribed to once: under the server's Response Information when it
   * gave one, else under `mqtt5/responses`; a failed subscription is tried again next time.
   */
  #responseTopic(qos: Message["qos"]): Promise<string> {
    this.#topic ??= (async () => {
      await this.#host.ready({});
      const base = this.#host.connectResult?.responseInformation ?? "mqtt5/responses";
      const topic = `${base.replace(/\/$/, "")}/${this.#tag}`;
      const responses = await this.#host.subscribe(topic, { qos });
      this.#track(this.#route(responses));
      return topic;
    })();
    this.#topic.catch(() => (this.#topic = undefined));
    return this.#topic;
  }

  /** Hands each response to its request; one nobody waits for (any more) is dropped. */
  async #route(responses: SubscriptionStream): Promise<void> {
    for await (const message of responses) {
      void message.ack();
      const data = message.properties.correlationData;
      const waiting = data === undefined ? undefined : this.#waiting.get(decoder.decode(data));
      if (waiting !== undefined) waiting.resolve(message);
      else {
        this.#log.debug("A response nobody waits for (its request timed out?) on {topic}", {
          topic: message.topic,
        });
      }
    }
  }

  /** Answers the requests of `subscription` with `handler`, until the subscription ends. */
  respond(
    subscription: SubscriptionStream,
    handler: (request: Message) => Reply | Promise<Reply>,
    options: RespondOptions,
  ): void {
    const qos = options.qos ?? 1;
    const concurrency = options.concurrency ?? 16;
    const answer = async (request: Message) => {
      const responseTopic = request.properties.responseTopic;
      if (responseTopic !== undefined) {
        try {
          const reply = await handler(request);
          const { payload, properties } = typeof reply === "string" || reply instanceof Uint8Array
            ? { payload: reply, properties: undefined }
            : reply;
          const correlationData = request.properties.correlationData;
          this.#host.publish(responseTopic, payload, {
            qos,
            properties: { ...properties, ...(correlationData ? { correlationData } : {}) },
          }).catch((e) => this.#failed("The reply to {topic} was not delivered", request, e));
        } catch (e) {
          this.#failed("The request handler for {topic} failed", request, e);
        }
      }
      await request.ack();
    };
    const serve = async () => {
      const signal = options.signal;
      const onAbort = () => void subscription.unsubscribe().catch(() => {});
      signal?.addEventListener("abort", onAbort, { once: true });
      // Up to `concurrency` requests are answered at once: a slow one does not hold the others.
      const running = new Set<Promise<void>>();
      try {
        for await (const request of subscription) {
          const task = answer(request).catch(() => {});
          running.add(task);
          void task.finally(() => running.delete(task));
          if (running.size >= concurrency) await Promise.race(running);
        }
      } finally {
        signal?.removeEventListener("abort", onAbort);
        await Promise.allSettled(running);
      }
    };
    this.#track(serve());
  }

  #failed(what: string, request: Message, error: unknown): void {
    this.#log.warning(`${what}: {message}`, {
      topic: request.topic,
      message: error instanceof Error ? error.message : String(error),
    });
  }

  /** Fails the requests waiting, once the supervisor stopped. */
  close(reason: unknown): void {
    for (const response of this.#waiting.values()) response.reject(reason);
    this.#waiting.clear();
  }
}
