/**
 * The errors of the {@linkcode Supervisor}. All derive from `MqttError`.
 *
 * @module
 */

import { MqttError } from "../session/mod.ts";
import type { Publication } from "./types.ts";

/** Why a publication was not delivered; see {@linkcode UndeliveredError.reason}. */
export type UndeliveredReason =
  | "expired"
  | "rejected"
  | "refused"
  | "discarded"
  | "lost"
  | "stopped";

/**
 * A publication the supervisor could not deliver. It hands the publication back, so that the
 * application may keep or send it elsewhere. `reason` says why:
 * - `expired`: its Message Expiry Interval passed while it waited in the queue (it was not sent);
 * - `rejected`: the server refused it (PUBACK or PUBREC with a code of 0x80 or more, in
 *   `reasonCode`);
 * - `refused`: the client refused it before sending, e.g. above the server's Maximum QoS or
 *   Maximum Packet Size (the cause says why);
 * - `discarded`: the server lost the session with it in flight and
 *   `requeueDiscarded` is off;
 * - `lost`: a QoS 0 publication whose write failed with the connection;
 * - `stopped`: the supervisor stopped (or gave up) with it unsent, or in flight (`sent`: the
 *   flight is still in the session, with `packetId`).
 *
 * @example Handling a publication that could not be delivered
 * ```ts ignore
 * try {
 *   await mqtt.publish("sensors/1", "21.5", { qos: 1 });
 * } catch (e) {
 *   if (e instanceof UndeliveredError) console.log(e.reason, e.publication.topic);
 * }
 * ```
 */
export class UndeliveredError extends MqttError {
  /** Why it was not delivered. */
  readonly reason: UndeliveredReason;
  /** The publication, handed back. */
  readonly publication: Publication;
  /** Whether it was sent at least once (then `packetId` was its Packet Identifier). */
  readonly sent: boolean;
  /** Its Packet Identifier, if it was in flight. */
  readonly packetId: number | undefined;

  /** Creates the error. */
  constructor(
    reason: UndeliveredReason,
    publication: Publication,
    details: { reasonCode?: number; packetId?: number; sent?: boolean; cause?: unknown } = {},
  ) {
    super(
      `Publication to "${publication.topic}" not delivered: ${EXPLAINED[reason]}` +
        (details.reasonCode !== undefined
          ? ` (reason code 0x${details.reasonCode.toString(16).padStart(2, "0")})`
          : ""),
      {
        reasonCode: details.reasonCode,
        recoverable: reason !== "stopped",
        cause: details.cause,
      },
    );
    this.name = "UndeliveredError";
    this.reason = reason;
    this.publication = publication;
    this.sent = details.sent ?? false;
    this.packetId = details.packetId;
  }
}

const EXPLAINED: Record<UndeliveredReason, string> = {
  expired: "its Message Expiry Interval passed while it was queued",
  rejected: "the server refused it; see the reason code",
  refused: "the client refused to send it; see the cause",
  discarded: "the server lost the session it was in flight in; publish it again",
  lost: "the connection failed while it was written (QoS 0); publish it again",
  stopped: "the supervisor stopped before it was acknowledged; start one with the session to " +
    "resume it",
};

/**
 * The supervisor is stopped (by {@linkcode Supervisor.stop}, its signal, or after giving up): the
 * call was refused, or what it waited for was dropped. `cause` is what made it give up, if it
 * did.
 *
 * @example
 * ```ts ignore
 * await mqtt.stop();
 * await mqtt.subscribe("a/#"); // throws SupervisorStoppedError
 * ```
 */
export class SupervisorStoppedError extends MqttError {
  /** Creates the error. */
  constructor(message: string, cause?: unknown) {
    super(message, { cause, recoverable: false });
    this.name = "SupervisorStoppedError";
  }
}

/**
 * The server refused a subscription: its SUBACK carried a failing code (0x80 or more) for a
 * filter. `reasonCodes` has one code per filter, in order.
 *
 * @example
 * ```ts ignore
 * try {
 *   await mqtt.subscribe("$SYS/#");
 * } catch (e) {
 *   if (e instanceof SubscriptionRefusedError) console.log(e.reasonCodes);
 * }
 * ```
 */
export class SubscriptionRefusedError extends MqttError {
  /** The filters, in order. */
  readonly filters: string[];
  /** One code per filter: the granted QoS, or a failure code (0x80 or more). */
  readonly reasonCodes: number[];

  /** Creates the error from the SUBACK. */
  constructor(filters: string[], reasonCodes: number[]) {
    const refused = filters.filter((_, i) => (reasonCodes[i] ?? 0x80) >= 0x80);
    const code = reasonCodes.find((c) => c >= 0x80);
    super(
      `The server refused the subscription to ${refused.map((f) => `"${f}"`).join(", ")}` +
        (code !== undefined ? ` (reason code 0x${code.toString(16)})` : "") +
        "; check the filter and the client's authorization",
      { reasonCode: code, recoverable: true },
    );
    this.name = "SubscriptionRefusedError";
    this.filters = filters;
    this.reasonCodes = reasonCodes;
  }
}
