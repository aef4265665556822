// UTF-8 Encoded String rules of MQTT 5.0 (section 1.5.4) and 3.1.1 (section 1.5.3, the same
// rules), shared by the encoder and decoder.

/** Why a string breaks the MQTT UTF-8 rules; `null` when it is fine. */
export type Utf8Problem =
  | "a lone surrogate (U+D800..U+DFFF)"
  | "the null character U+0000"
  | "a control character"
  | "a Unicode non-character"
  | "ill-formed UTF-8";

/**
 * The statement a problem breaks, of MQTT 5.0 or (`version` 4) of MQTT 3.1.1; `undefined` for
 * control characters and non-characters, which both say only SHOULD NOT be sent (no normative
 * statement).
 */
export function utf8Statement(problem: Utf8Problem, version = 5): string | undefined {
  if (problem === "a control character" || problem === "a Unicode non-character") return undefined;
  const nul = problem === "the null character U+0000";
  if (version === 4) return nul ? "v3.1.1 MQTT-1.5.3-2" : "v3.1.1 MQTT-1.5.3-1";
  return nul ? "MQTT-1.5.4-2" : "MQTT-1.5.4-1";
}

function isControl(c: number): boolean {
  return (c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f);
}

function isNonCharacter(cp: number): boolean {
  return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/** The problem found by the last {@linkcode utf8Length} that returned -1. */
export let lastUtf8Problem: Utf8Problem = "ill-formed UTF-8";

/**
 * The number of bytes of `s` in UTF-8, checking the MQTT rules on the way; -1 when the string
 * breaks one (the problem is then in {@linkcode lastUtf8Problem}).
 */
export function utf8Length(s: string, strict: boolean): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c === 0) {
      lastUtf8Problem = "the null character U+0000";
      return -1;
    }
    if (c < 0x80) {
      if (strict) {
        lastUtf8Problem = "a control character";
        return -1;
      }
      continue;
    }
    if (c < 0x800) {
      if (strict && c <= 0x9f) {
        lastUtf8Problem = "a control character";
        return -1;
      }
      bytes += 1;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) {
        lastUtf8Problem = "a lone surrogate (U+D800..U+DFFF)";
        return -1;
      }
      if (strict && isNonCharacter(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000)) {
        lastUtf8Problem = "a Unicode non-character";
        return -1;
      }
      i++;
      bytes += 2; // 4 bytes for 2 UTF-16 units
      continue;
    }
    if (strict && isNonCharacter(c)) {
      lastUtf8Problem = "a Unicode non-character";
      return -1;
    }
    bytes += 2;
  }
  return bytes;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The longest ASCII string {@linkcode decodeUtf8} builds from char codes. */
const SHORT = 64;
/** One reusable array of char codes per string length up to {@linkcode SHORT}. */
const charCodes: (number[] | undefined)[] = [];

/** The problem found by the last {@linkcode decodeUtf8} that returned `null`. */
export let lastDecodeProblem: Utf8Problem = "ill-formed UTF-8";

/**
 * Decodes `bytes[start..end)` as an MQTT UTF-8 string, or returns `null` when the bytes break
 * the rules (the problem is then in {@linkcode lastDecodeProblem}). A BOM (EF BB BF) is kept
 * wherever it stands [MQTT-1.5.4-3].
 */
export function decodeUtf8(
  bytes: Uint8Array,
  start: number,
  end: number,
  strict: boolean,
): string | null {
  const len = end - start;
  if (len <= SHORT) {
    // The common case, short printable ASCII (topics, names), checked and copied in one pass:
    // the char codes go through a plain array kept for this length, several times cheaper than
    // a TextDecoder call or a subarray.
    const codes = charCodes[len] ??= Array.from({ length: len }, () => 0);
    let i = 0;
    while (i < len) {
      const b = bytes[start + i]!;
      if (b < 0x20 || b >= 0x7f) break;
      codes[i++] = b;
    }
    if (i === len) return len === 0 ? "" : String.fromCharCode.apply(null, codes);
  }
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 0x20 && b < 0x7f) continue;
    if (b === 0) {
      lastDecodeProblem = "the null character U+0000";
      return null;
    }
    if (b < 0x80) {
      if (strict) {
        lastDecodeProblem = "a control character";
        return null;
      }
      continue;
    }
    ascii = false;
  }
  if (ascii) {
    if (len <= SHORT) {
      // ASCII with control characters, allowed when not strict.
      const codes = charCodes[len]!;
      for (let i = 0; i < len; i++) codes[i] = bytes[start + i]!;
      return String.fromCharCode.apply(null, codes);
    }
    return decoder.decode(bytes.subarray(start, end));
  }
  let s: string;
  try {
    // TextDecoder in fatal mode rejects ill-formed UTF-8, overlong forms and encoded surrogates.
    s = decoder.decode(bytes.subarray(start, end));
  } catch {
    lastDecodeProblem = "ill-formed UTF-8";
    return null;
  }
  if (strict) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) continue;
      if (isControl(c)) {
        lastDecodeProblem = "a control character";
        return null;
      }
      if (c >= 0xd800 && c <= 0xdbff) {
        const cp = ((c - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00) + 0x10000;
        if (isNonCharacter(cp)) {
          lastDecodeProblem = "a Unicode non-character";
          return null;
        }
        i++;
      } else if (isNonCharacter(c)) {
        lastDecodeProblem = "a Unicode non-character";
        return null;
      }
    }
  }
  return s;
}

/**
 * Whether `bytes` is well-formed UTF-8 as a Payload Format Indicator of 1 promises (the
 * specification's string rules do not apply to payloads, so U+0000 and controls are allowed).
 */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
  try {
    decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
