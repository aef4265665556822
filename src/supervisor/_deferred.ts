/**
 * Timers that end with a signal, and signals combined. Private to the supervisor layer (the
 * promise helpers are the library's, in `src/_async.ts`).
 *
 * @module
 */

/** Waits `ms` milliseconds; rejects with the signal's reason once it aborts (clearing the timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A signal aborted when `a` or `b` is (the one given, when the other is `undefined`). */
export function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b === undefined ? a : AbortSignal.any([a, b]);
}
