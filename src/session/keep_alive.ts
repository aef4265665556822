/**
 * The keep-alive clock of a connection (section 3.1.2.10), with the time passed in: when the next
 * PINGREQ is due and when the server counts as gone. It reads no clock and starts no timer.
 *
 * @module
 */

/**
 * When keep alive wants something done, in the caller's clock (milliseconds, as passed in).
 * Both times are `undefined` when keep alive is off or the engine is not connected.
 */
export interface KeepAliveTimes {
  /** The Keep Alive in force, in seconds (0 when off). */
  interval: number;
  /**
   * When the next PINGREQ is due: the last packet sent plus the interval [MQTT-3.1.2-20].
   */
  pingDueAt: number | undefined;
  /**
   * When the server counts as gone: a PINGREQ unanswered (nothing received since it was sent)
   * for the ping timeout (by default the interval) after it was sent, or, when none is
   * outstanding, the ping timeout after the next one is due. Sending and receiving other packets
   * moves it with them.
   */
  deadline: number | undefined;
}

/** The clock of one connection: when packets were last sent and received. */
export class KeepAlive {
  /** The interval in force, in seconds. */
  interval = 0;
  /** How long a PINGREQ may go unanswered, in milliseconds; `undefined`: the interval. */
  #timeout: number | undefined;
  #lastSent = 0;
  #lastReceived = 0;
  /** When the PINGREQ awaiting an answer was sent (`undefined` when none is outstanding). */
  #pingSentAt: number | undefined;

  /** Creates the clock; `timeout` is the ping timeout in milliseconds (the interval if absent). */
  constructor(timeout?: number) {
    this.#timeout = timeout;
  }

  /** Starts counting for a connection that begins at `now` with `interval` seconds. */
  start(interval: number, now: number): void {
    this.interval = interval;
    this.#lastSent = this.#lastReceived = now;
    this.#pingSentAt = undefined;
  }

  /** Bytes were written at `now`. */
  sent(now: number): void {
    this.#lastSent = now;
  }

  /** A PINGREQ was queued at `now`: the server owes an answer from then on. */
  pinged(now: number): void {
    this.#pingSentAt ??= now;
  }

  /** A packet arrived at `now`: the server is alive, no PINGREQ is outstanding. */
  received(now: number): void {
    this.#lastReceived = now;
    this.#pingSentAt = undefined;
  }

  /** When the next PINGREQ is due, or `undefined` when keep alive is off. */
  pingDueAt(): number | undefined {
    return this.interval === 0 ? undefined : this.#lastSent + this.interval * 1000;
  }

  /** When the server counts as gone, or `undefined` when keep alive is off. */
  deadline(): number | undefined {
    if (this.interval === 0) return undefined;
    const timeout = this.#timeout ?? this.interval * 1000;
    const outstanding = this.#pingSentAt;
    return (outstanding ?? this.#lastSent + this.interval * 1000) + timeout;
  }
}
