// Helpers of the store tests: a store whose saves the test holds, fails or lets through.

import type {
  Session,
  SessionChange,
  SessionSnapshot,
  SessionStore,
} from "../../src/session/mod.ts";

/** A store in memory whose saves wait while `hold` is set, until {@linkcode GatedStore.release}. */
export class GatedStore implements SessionStore {
  /** The changes of each save, in order. */
  readonly saved: SessionChange[][] = [];
  /** Saves wait for {@linkcode GatedStore.release} while set. */
  hold = false;
  /** Saves reject while set. */
  fail = false;
  #gates: (() => void)[] = [];
  #snapshot: SessionSnapshot | undefined;

  /** Saves waiting for release. */
  get waiting(): number {
    return this.#gates.length;
  }

  load(): Promise<SessionSnapshot | undefined> {
    return Promise.resolve(this.#snapshot);
  }

  save(changes: readonly SessionChange[], session: Session): Promise<void> {
    this.saved.push([...changes]);
    if (this.fail) return Promise.reject(new Error("the disk is full"));
    const done = () => {
      this.#snapshot = session.snapshot();
    };
    if (!this.hold) {
      done();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#gates.push(() => (done(), resolve())));
  }

  clear(): Promise<void> {
    this.#snapshot = undefined;
    return Promise.resolve();
  }

  /** Lets the waiting saves complete. */
  release(): void {
    const gates = this.#gates;
    this.#gates = [];
    for (const g of gates) g();
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits (up to 5 s) until `ready()` holds. */
export async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ready()) {
    if (Date.now() > deadline) {
      console.error(`Timed out waiting for ${what}`);
      throw new Error(`Timed out waiting for ${what}`);
    }
    await sleep(5);
  }
}
