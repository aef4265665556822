/**
 * The logger the engine and the client write to: an interface the application fills with any
 * logging library (LogTape's `Logger` fits it as it is). Silent by default.
 *
 * @module
 */

import type { Packet } from "../codec/packets.ts";
import { formatPacket, packetFormatter, type PacketFormatting } from "./_format.ts";

/** The levels, from the most to the least detailed. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error";

/**
 * A structured logger: a message template with `{name}` placeholders and the values to put there.
 * Secrets never reach it: passwords and authentication data are redacted before logging.
 *
 * @example Logging to the console
 * ```ts
 * import type { Logger } from "./log.ts";
 * const logger: Logger = {
 *   isEnabledFor: (level) => level !== "trace",
 *   trace: () => {},
 *   debug: (m, p) => console.debug(m, p),
 *   info: (m, p) => console.info(m, p),
 *   warning: (m, p) => console.warn(m, p),
 *   error: (m, p) => console.error(m, p),
 * };
 * ```
 */
export interface Logger {
  /** Whether records of `level` are kept (so a caller formats nothing for a dropped one). */
  isEnabledFor(level: LogLevel): boolean;
  /**
   * Every packet and read, for debugging the wire: each packet's type and Packet Identifier, the
   * whole packet through {@linkcode withPacketTrace}.
   */
  trace(message: string, properties?: Record<string, unknown>): void;
  /** State transitions: flights, aliases, quota. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Connections made and ended. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** What the server refused or did oddly. */
  warning(message: string, properties?: Record<string, unknown>): void;
  /** Protocol violations and failed connections. */
  error(message: string, properties?: Record<string, unknown>): void;
  /**
   * A logger for a subcategory (`"client"`, `"reader"`), if the logger has them (LogTape's
   * does); the client then logs to its children.
   */
  getChild?(subcategory: string): Logger;
}

const nothing = (): void => {};

/**
 * The logger that drops everything: the default.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./log.ts";
 * console.log(silentLogger.isEnabledFor("error")); // false
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  isEnabledFor: () => false,
  trace: nothing,
  debug: nothing,
  info: nothing,
  warning: nothing,
  error: nothing,
});

/** Options of {@linkcode withPacketTrace}. */
export interface PacketTraceOptions {
  /**
   * How many bytes of a payload (PUBLISH, will) or of Correlation Data a trace line shows.
   * @default {32}
   */
  payloadPrefix?: number;
}

/**
 * `logger`, with the client's trace lines showing whole packets: without it a line names the
 * packet (`-> PUBLISH id=3`), with it every field of the packet is shown
 * (`-> PUBLISH id=3 qos=1 topic="a/b" retain=false dup=false payload=5B "hello"`). Passwords and
 * Authentication Data stay redacted and payloads are cut to `options.payloadPrefix` bytes. The
 * formatter is only bundled into an application that calls this. Its children (`getChild()`)
 * show whole packets too.
 *
 * @example Whole packets in the trace log
 * ```ts
 * import { Client, type Logger, withPacketTrace } from "../../mod.ts";
 * const log = (level: string) => (message: string) => console.log(level, message);
 * const logger: Logger = {
 *   isEnabledFor: () => true,
 *   trace: log("trace"),
 *   debug: log("debug"),
 *   info: log("info"),
 *   warning: log("warning"),
 *   error: log("error"),
 * };
 * const client = new Client({ logger: withPacketTrace(logger, { payloadPrefix: 16 }) });
 * ```
 */
export function withPacketTrace(logger: Logger, options: PacketTraceOptions = {}): Logger {
  const format = (packet: Packet) => formatPacket(packet, options);
  const wrap = (inner: Logger): Logger & PacketFormatting => ({
    isEnabledFor: (level) => inner.isEnabledFor(level),
    trace: (message, properties) => inner.trace(message, properties),
    debug: (message, properties) => inner.debug(message, properties),
    info: (message, properties) => inner.info(message, properties),
    warning: (message, properties) => inner.warning(message, properties),
    error: (message, properties) => inner.error(message, properties),
    getChild: (subcategory) => wrap(inner.getChild?.(subcategory) ?? inner),
    [packetFormatter]: format,
  });
  return wrap(logger);
}
