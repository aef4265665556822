// MQTT 3.1.1 (protocol level 4): what its encoder (_v311_encode.ts) and decoder
// (_v311_decode.ts) share. encode.ts and decode.ts call into those once per packet when
// `protocolVersion` is 4: the same packet objects, no properties or reason codes on the wire (but
// the CONNACK return code and the SUBACK return codes), the statements of 3.1.1 cited as
// "v3.1.1 MQTT-x.y.z-n" (the two specifications reuse ids).

import { topicFilterProblem, topicNameProblem, type TopicProblem } from "./topic.ts";

/** The prefix of a 3.1.1 statement id. */
export const V = "v3.1.1 ";

/** The statement a zero or missing Packet Identifier breaks, per packet type. */
export const packetIdStatements: Partial<Record<number, string>> = {
  3: V + "MQTT-2.3.1-1",
  4: V + "MQTT-2.3.1-6",
  5: V + "MQTT-2.3.1-6",
  6: V + "MQTT-2.3.1-6",
  8: V + "MQTT-2.3.1-1",
  9: V + "MQTT-2.3.1-7",
  10: V + "MQTT-2.3.1-1",
  11: V + "MQTT-2.3.1-7",
};

/** A Topic Name's problem with the 3.1.1 statement: `wildcard` is the one a wildcard breaks. */
export function nameProblem(topic: string, wildcard: string): TopicProblem | undefined {
  const problem = topicNameProblem(topic);
  if (problem === undefined) return undefined;
  return {
    reason: problem.reason,
    statement: problem.statement === "MQTT-4.7.3-1" ? V + "MQTT-4.7.3-1" : wildcard,
  };
}

// The 5.0 statements of topicFilterProblem and their 3.1.1 counterparts.
const filterStatements: Record<string, string> = {
  "MQTT-4.7.3-1": V + "MQTT-4.7.3-1", // at least one character
  "MQTT-4.7.1-1": V + "MQTT-4.7.1-2", // # alone, in the last level
  "MQTT-4.7.1-2": V + "MQTT-4.7.1-3", // + fills its level
};

/**
 * A Topic Filter's problem under 3.1.1, which has no shared subscriptions: `$share/...` is a
 * filter like any other. Without its `$` it has the same levels and wildcards, and is no longer
 * taken for a shared subscription by topicFilterProblem.
 */
export function filterProblem(filter: string): TopicProblem | undefined {
  const problem = topicFilterProblem(filter.startsWith("$share/") ? filter.substring(1) : filter);
  if (problem === undefined) return undefined;
  return { reason: problem.reason, statement: filterStatements[problem.statement]! };
}
