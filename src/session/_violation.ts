/**
 * A protocol violation found while handling a packet from the server: what was broken and the
 * reason code of the DISCONNECT that answers it. Internal: the engine turns it into a
 * `ProtocolViolationError` once the DISCONNECT is queued.
 *
 * @module
 */

/** A violation by the server, thrown inside the engine and caught by it. */
export class Violation {
  /** Records the violation. */
  constructor(
    /** What the server did wrong. */
    readonly message: string,
    /** The reason code of the client's DISCONNECT. */
    readonly reasonCode: number,
    /** The normative statement broken, if one is numbered. */
    readonly statement?: string,
    /** What lies beneath (a `DecodeError`). */
    readonly cause?: unknown,
    /** The server's own DISCONNECT, when that was the violating packet. */
    readonly server?: { reasonCode: number; reasonString: string | undefined },
  ) {}
}
