/**
 * The options of the {@linkcode Client}; its other options, results and events are the protocol
 * engine's (re-exported here).
 *
 * @module
 */

import type { Logger, Session, SessionStore } from "../session/mod.ts";

export type * from "../session/types.ts";

/** Options of the {@linkcode Client} constructor. */
export interface ClientOptions {
  /** The session to use: a new, empty one, or one kept from an earlier client. @default {new Session()} */
  session?: Session;
  /**
   * Where the session is made durable, so that it survives the process (see
   * `@scope/mqtt5/store`). Before each write carrying a packet that depends on a change of the
   * session (a QoS 1/2 PUBLISH, a PUBREC, a PUBREL, a PUBCOMP) the client saves the changes
   * since the last save and waits for the store; one save covers a whole batch. A failed save
   * closes the connection as a failed write does, with nothing of the batch written. Start from
   * the stored session with `loadSession(store)`.
   *
   * @default {undefined} (the session is kept in memory only)
   */
  store?: SessionStore;
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

/** The state of a {@linkcode Client}'s connection. */
export type ClientState = "disconnected" | "connecting" | "connected" | "closed";

/**
 * What {@linkcode Client.publish} returns: a promise of the Packet Identifier (`undefined` at QoS
 * 0) that settles once the PUBLISH is written, carrying the id already as `packetId`, so an
 * acknowledgement can be matched even when it is polled before the write settles.
 */
export type PublishPromise = Promise<number | undefined> & {
  /** The Packet Identifier of a QoS 1/2 publication (known at once); `undefined` at QoS 0. */
  readonly packetId: number | undefined;
};
