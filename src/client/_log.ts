/**
 * The loggers of the client layer, from LogTape. The library never configures LogTape: until the
 * application calls `configure()`, every record is dropped, and the client checks
 * `isEnabledFor()` before it formats anything on a hot path.
 *
 * Categories: `["mqtt5", "client"]` (connection, flights, quota, aliases, and at `trace` every
 * packet sent and received) and `["mqtt5", "reader"]` (the bytes the packet reader reads).
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { decode, type Packet } from "../codec/mod.ts";
import { formatPacket } from "./_format.ts";

/** The client's logger: `["mqtt5", "client"]`. */
export const clientLog: Logger = getLogger(["mqtt5", "client"]);

/** The packet reader's logger: `["mqtt5", "reader"]`. */
export const readerLog: Logger = getLogger(["mqtt5", "reader"]);

/**
 * Escapes `{` and `}` so that a preformatted line is logged as it is, not read as a message
 * template with placeholders.
 */
export function literal(line: string): string {
  return line.replaceAll("{", "{{").replaceAll("}", "}}");
}

/**
 * Logs a packet at `trace` on one line: `-> PUBLISH id=3 ...` for one queued to the server (given
 * as its encoded bytes, decoded here, only when trace is on), `<- PUBACK id=3 reason=0x00` for one
 * received. Secrets are redacted and payloads cut by {@linkcode formatPacket}.
 */
export function tracePacket(direction: "->" | "<-", packet: Packet | Uint8Array): void {
  let line: string;
  if (packet instanceof Uint8Array) {
    try {
      line = formatPacket(decode(packet, { strict: false }));
    } catch (e) {
      line = `${packet.length} bytes that do not decode: ${e instanceof Error ? e.message : e}`;
    }
  } else {
    line = formatPacket(packet);
  }
  clientLog.trace(literal(`${direction} ${line}`));
}
