/**
 * A buffered, single-consumer async channel: what the supervisor's iterators read from. Private
 * to the supervisor layer.
 *
 * @module
 */

import { deferred } from "../_async.ts";

/** A FIFO of items with one waiting reader at a time; closing ends iteration (or throws). */
export class Channel<T> {
  #items: T[] = [];
  #head = 0;
  #waiter: ReturnType<typeof deferred<IteratorResult<T, undefined>>> | undefined;
  #closed = false;
  #error: unknown = undefined;

  /** Items buffered and not read yet. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Whether {@linkcode Channel.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item; hands it straight to a waiting reader. Ignored once closed. */
  push(item: T): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Ends the channel: buffered items are still read, then iteration ends (or throws `error`). */
  close(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter === undefined) return;
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }

  /** The next item, waiting for one (bounded by `signal`; an abort loses no item). */
  next(signal?: AbortSignal): Promise<IteratorResult<T, undefined>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]!;
      this.#items[this.#head++] = undefined as T;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) {
      return this.#error !== undefined
        ? Promise.reject(this.#error)
        : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter !== undefined) {
      return Promise.reject(
        new TypeError("Cannot read this iterator twice at once: await the pending next() first"),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const waiter = deferred<IteratorResult<T, undefined>>();
    this.#waiter = waiter;
    if (signal === undefined) return waiter.promise;
    const onAbort = () => {
      if (this.#waiter === waiter) this.#waiter = undefined;
      waiter.reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return waiter.promise.finally(() => signal.removeEventListener("abort", onAbort));
  }
}
