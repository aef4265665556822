/**
 * Topic Names and Topic Filters (section 4.7): validation, shared subscriptions and matching.
 *
 * @module
 */

/** Why a topic name or filter is invalid, with the statement it breaks; `undefined` when valid. */
export interface TopicProblem {
  /** What is wrong, as the end of a sentence. */
  reason: string;
  /** The normative statement that forbids it. */
  statement: string;
}

/**
 * Checks a Topic Name (as in PUBLISH or a will): at least one character [MQTT-4.7.3-1] and no
 * wildcard [MQTT-3.3.2-2], [MQTT-4.7.0-1]. String rules (U+0000, length) are the encoder's.
 *
 * @example Checking a topic name
 * ```ts
 * import { topicNameProblem } from "./topic.ts";
 * console.log(topicNameProblem("a/+")?.reason); // "a topic name must not contain wildcards"
 * console.log(topicNameProblem("a/b")); // undefined
 * ```
 */
export function topicNameProblem(topic: string): TopicProblem | undefined {
  if (topic.length === 0) {
    return {
      reason: "a topic name must be at least one character long",
      statement: "MQTT-4.7.3-1",
    };
  }
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) {
      return { reason: "a topic name must not contain wildcards", statement: "MQTT-3.3.2-2" };
    }
  }
  return undefined;
}

/**
 * Checks a Topic Filter: at least one character [MQTT-4.7.3-1]; `#` alone in the last level
 * [MQTT-4.7.1-1]; `+` alone in its level [MQTT-4.7.1-2]; a shared subscription is
 * `$share/{ShareName}/{filter}` with a ShareName of at least one character without `/`, `+` or `#`
 * [MQTT-4.8.2-1], [MQTT-4.8.2-2].
 *
 * @example Checking topic filters
 * ```ts
 * import { topicFilterProblem } from "./topic.ts";
 * console.log(topicFilterProblem("a/#")); // undefined
 * console.log(topicFilterProblem("a/b#")?.statement); // "MQTT-4.7.1-1"
 * ```
 */
export function topicFilterProblem(filter: string): TopicProblem | undefined {
  if (filter.length === 0) {
    return {
      reason: "a topic filter must be at least one character long",
      statement: "MQTT-4.7.3-1",
    };
  }
  let start = 0;
  if (filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    const shareName = slash < 0 ? filter.substring(7) : filter.substring(7, slash);
    if (shareName.length === 0) {
      return {
        reason: "a shared subscription needs a ShareName of at least one character after $share/",
        statement: "MQTT-4.8.2-1",
      };
    }
    if (shareName.includes("+") || shareName.includes("#")) {
      return { reason: "a ShareName must not contain + or #", statement: "MQTT-4.8.2-2" };
    }
    if (slash < 0 || slash === filter.length - 1) {
      return {
        reason: "a shared subscription needs /{filter} after its ShareName",
        statement: "MQTT-4.8.2-2",
      };
    }
    start = slash + 1;
  }
  const n = filter.length;
  for (let i = start; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x23) {
      if ((i > start && filter.charCodeAt(i - 1) !== 0x2f) || i !== n - 1) {
        return {
          reason: "# must be alone in the last level of a topic filter",
          statement: "MQTT-4.7.1-1",
        };
      }
    } else if (c === 0x2b) {
      if (
        (i > start && filter.charCodeAt(i - 1) !== 0x2f) ||
        (i < n - 1 && filter.charCodeAt(i + 1) !== 0x2f)
      ) {
        return { reason: "+ must fill a whole level of a topic filter", statement: "MQTT-4.7.1-2" };
      }
    }
  }
  return undefined;
}

/**
 * Whether a filter is a shared subscription (`$share/...`).
 *
 * @example Recognising shared subscriptions
 * ```ts
 * import { isSharedFilter } from "./topic.ts";
 * console.log(isSharedFilter("$share/g/a/#")); // true
 * ```
 */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith("$share/");
}

/** Whether a filter uses a wildcard (`+` or `#`) outside a shared subscription's prefix. */
export function hasWildcard(filter: string): boolean {
  let start = 0;
  if (filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    start = slash < 0 ? filter.length : slash + 1;
  }
  for (let i = start; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x2b || c === 0x23) return true;
  }
  return false;
}

/**
 * Whether a topic name matches a topic filter, as a server matches them (section 4.7): no
 * normalization [MQTT-4.7.3-4]; filters starting with a wildcard do not match topics starting with
 * `$` [MQTT-4.7.2-1]. A shared filter matches as its filter part.
 *
 * @example Matching
 * ```ts
 * import { topicMatches } from "./topic.ts";
 * console.log(topicMatches("sport/+/player1", "sport/tennis/player1")); // true
 * console.log(topicMatches("#", "$SYS/uptime")); // false
 * ```
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    if (slash < 0) return false;
    filter = filter.substring(slash + 1);
  }
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
