/**
 * The decoder's public part: framing for streaming readers ({@linkcode frame}), and bytes to
 * packets ({@linkcode decode}, {@linkcode decodeBody}). The code is in `_decode.ts`.
 *
 * @module
 */

export { decode, decodeBody, type DecodeOptions, type Frame, frame } from "./_decode.ts";
