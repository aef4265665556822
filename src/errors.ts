/**
 * The base of every protocol-related error of mqtt5, shared by all layers (the codec, the session
 * engine, the client and the transports), so that no layer imports another for it.
 *
 * @module
 */

/** Options of {@linkcode MqttError}. */
export interface MqttErrorOptions {
  /** The MQTT reason code that applies, where the specification gives one. */
  reasonCode?: number | undefined;
  /**
   * Whether the client (or the connection) is still usable. `true` means nothing was sent and
   * the same call may be retried once the condition is gone.
   *
   * @default {false}
   */
  recoverable?: boolean;
  /** The normative statement of the specification that was broken, e.g. `MQTT-3.3.1-4`. */
  statement?: string | undefined;
  /**
   * Whether the session is intact and can be resumed with `cleanStart: false`: the client's
   * session state is consistent and the server keeps its own (a Session Expiry Interval above 0
   * was in force). Meaningful for errors that end a connection; see
   * {@linkcode MqttError.sessionResumable}.
   *
   * @default {false}
   */
  sessionResumable?: boolean;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The base class of every protocol-related error of mqtt5.
 *
 * @example Handling any mqtt5 error
 * ```ts
 * import { MqttError } from "./errors.ts";
 * try {
 *   throw new MqttError("example", { reasonCode: 0x82 });
 * } catch (e) {
 *   if (e instanceof MqttError) console.log(e.reasonCode, e.recoverable);
 * }
 * ```
 */
export class MqttError extends Error {
  /** The MQTT reason code that applies, or `undefined` where the specification names none. */
  readonly reasonCode: number | undefined;
  /** `true` when nothing was sent and the client stays usable; `false` when the connection is lost. */
  readonly recoverable: boolean;
  /** The normative statement id that was broken, e.g. `MQTT-3.3.1-4`, where one applies. */
  readonly statement: string | undefined;
  /**
   * The one answer to "can I resume this session?" after an error that ended the connection:
   * `true` when the client's session is intact and the server keeps its side (the connection had
   * a Session Expiry Interval above 0), so connecting again with the same session and
   * `cleanStart: false` resumes every flight. `false` when the session is gone on either side, or
   * the error did not concern a connection.
   */
  readonly sessionResumable: boolean;

  /** Creates an error; see {@linkcode MqttErrorOptions}. */
  constructor(message: string, options: MqttErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MqttError";
    this.reasonCode = options.reasonCode;
    this.recoverable = options.recoverable ?? false;
    this.statement = options.statement;
    this.sessionResumable = options.sessionResumable ?? false;
  }
}
