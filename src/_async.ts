/**
 * The promise helpers every layer above the codec shares: a promise with its resolve and reject
 * ({@linkcode deferred}: `Promise.withResolvers`, which Node 20 lacks), and a wait that ends with
 * a signal ({@linkcode raceAbort}). Private to the library.
 *
 * @module
 */

/** A promise and the functions that settle it. */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Resolves it. */
  resolve: (value: T | PromiseLike<T>) => void;
  /** Rejects it. */
  reject: (reason?: unknown) => void;
}

/** A new {@linkcode Deferred}: `Promise.withResolvers()` where the runtime has it. */
export function deferred<T>(): Deferred<T> {
  if (typeof Promise.withResolvers === "function") return Promise.withResolvers<T>();
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * `promise`, or the signal's reason once it aborts first; `promise` runs on either way, its
 * failure then observed (never an unhandled rejection). The abort listener is removed once
 * `promise` settles.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
