/**
 * The logger the engine and the client write to: an interface the application fills with any
 * logging library (LogTape's `Logger` fits it as it is). Silent by default.
 *
 * @module
 */

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
  /** Every packet and read, for debugging the wire. */
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
