/**
 * The errors a {@linkcode Client} throws: the protocol engine's, re-exported. All derive from
 * `MqttError`.
 *
 * @module
 */

export {
  ClientStateError,
  ConnectionClosedError,
  ConnectionRefusedError,
  MqttError,
  NotConnectedError,
  PacketIdExhaustedError,
  ProtocolVersionError,
  ProtocolViolationError,
  QuotaExceededError,
  ServerCapabilityError,
} from "../session/mod.ts";
