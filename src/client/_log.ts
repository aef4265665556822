/**
 * The client's logging: through the {@linkcode Logger} the application passes in (LogTape's
 * `Logger` fits it as it is), silent by default. The client logs to the logger's child
 * `"client"` (the engine too) and the packet reader to `"reader"`, so a LogTape logger for
 * `["mqtt5"]` gives the categories `["mqtt5", "client"]` and `["mqtt5", "reader"]`. The client
 * checks `isEnabledFor()` before it formats anything on a hot path.
 *
 * @module
 */

import { decode, type Packet, packetTypeName } from "../codec/mod.ts";
import type { Logger } from "../session/mod.ts";
import { packetFormatter, type PacketFormatting } from "../session/_format.ts";

/** The child of `logger` named `name`, or `logger` itself when it has no children. */
export function childLogger(logger: Logger, name: string): Logger {
  return logger.getChild?.(name) ?? logger;
}

/**
 * Escapes `{` and `}` so that a preformatted line is logged as it is, not read as a message
 * template with placeholders.
 */
export function literal(line: string): string {
  return line.replaceAll("{", "{{").replaceAll("}", "}}");
}

/**
 * Logs a packet at `trace` on one line: `-> PUBLISH id=3` for one queued to the server (given as
 * its encoded bytes, decoded here, only when trace is on), `<- PUBACK id=3` for one received. A
 * logger made by `withPacketTrace()` shows the whole packet (`<- PUBACK id=3 reason=0x00`), with
 * secrets redacted and payloads cut.
 */
export function tracePacket(
  log: Logger,
  direction: "->" | "<-",
  packet: Packet | Uint8Array,
  protocolVersion: 4 | 5 = 5,
): void {
  const format = (log as PacketFormatting)[packetFormatter] ?? packetName;
  let line: string;
  if (packet instanceof Uint8Array) {
    try {
      line = format(decode(packet, { strict: false, protocolVersion }));
    } catch (e) {
      line = `${packet.length} bytes that do not decode: ${e instanceof Error ? e.message : e}`;
    }
  } else {
    line = format(packet);
  }
  log.trace(literal(`${direction} ${line}`));
}

/** A packet's type and Packet Identifier: `PUBLISH id=3`, `PINGREQ`. */
function packetName(packet: Packet): string {
  const id = "packetId" in packet ? packet.packetId : undefined;
  return id === undefined ? packetTypeName[packet.type] : `${packetTypeName[packet.type]} id=${id}`;
}
