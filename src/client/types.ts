/**
 * The options of the {@linkcode Client}; its other options, results and events are the protocol
 * engine's (re-exported here).
 *
 * @module
 */

import type { Logger, Session } from "../session/mod.ts";

export type * from "../session/types.ts";

/** Options of the {@linkcode Client} constructor. */
export interface ClientOptions {
  /** The session to use: a new, empty one, or one kept from an earlier client. @default {new Session()} */
  session?: Session;
  /**
   * Manual acknowledgement: PUBACK, PUBREC and PUBCOMP for incoming publications are sent only
   * when the application calls {@linkcode Client.acknowledge}.
   *
   * @default {false}
   */
  manualAck?: boolean;
  /**
   * Strict UTF-8 rules: reject control characters and non-characters in strings, sent or
   * received (section 1.5.4).
   *
   * @default {true}
   */
  strict?: boolean;
  /**
   * The outgoing topic alias policy. `"manual"`: aliases only where a publication names one.
   * `"auto"`: the first topics published on a connection get the aliases the server allows
   * (its Topic Alias Maximum), and later publications to them send the alias alone.
   *
   * @default {"manual"}
   */
  topicAliases?: "manual" | "auto";
  /**
   * Where the client logs (connection, flights, quota, aliases, and at `trace` every packet;
   * never a password, authentication data or more than a payload's first bytes). Any object of
   * the {@linkcode Logger} shape: LogTape's `getLogger(["mqtt5"])` gives the categories
   * `["mqtt5", "client"]` and `["mqtt5", "reader"]`.
   *
   * @default {silentLogger}
   */
  logger?: Logger;
}
