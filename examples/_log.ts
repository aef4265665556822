/**
 * Turns on mqtt5's logging from the `MQTT5_LOG` environment variable, for the examples:
 * `MQTT5_LOG=debug deno task demo`. The library logs to the logger an application passes in;
 * these examples pass LogTape's and configure it, once, as here: a console sink for the `mqtt5` categories at the level given
 * (`trace`, `debug`, `info`, `warning`, `error`).
 *
 * @module
 */

import { configure, getConsoleSink, getLogger, parseLogLevel } from "@logtape/logtape";
import { type Logger, withPacketTrace } from "../mod.ts";

/**
 * The logger the examples hand their clients (`new Client({ logger })`): LogTape's for the
 * `mqtt5` category, silent until {@linkcode configureLogging} turns it on, and wrapped with
 * `withPacketTrace` so that `MQTT5_LOG=trace` shows whole packets. mqtt5 itself depends
 * on no logging library: any object with `isEnabledFor`, `trace` ... `error` (and optionally
 * `getChild`) will do.
 */
export const logger: Logger = withPacketTrace(getLogger(["mqtt5"]));

/**
 * Configures LogTape when `MQTT5_LOG` is set (and readable: `--allow-env=MQTT5_LOG`); otherwise
 * does nothing, and mqtt5 stays silent. Returns the level turned on, if any.
 */
export async function configureLogging(): Promise<string | undefined> {
  const permission = { name: "env", variable: "MQTT5_LOG" } as const;
  if (Deno.permissions.querySync(permission).state !== "granted") return undefined;
  const value = Deno.env.get("MQTT5_LOG");
  if (value === undefined || value === "") return undefined;
  const level = parseLogLevel(value);
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: ["mqtt5"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
  return level;
}
