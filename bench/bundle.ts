/**
 * The size of mqtt5 in a browser: builds the bundle of the `Client` and `connectWebSocket`
 * (`tests/browser/_entry.ts`, minified ES module, esbuild from npm) and prints its size raw and
 * gzipped, MQTT.js's browser bundle (`dist/mqtt.min.js` of npm:mqtt) for comparison, and what
 * makes it big: for each source file and each layer, the bytes it puts in the bundle and what the
 * gzipped bundle loses without them (found through the source map), and the same for long string
 * literals (error and log messages).
 *
 * ```sh
 * deno run -P=browser bench/bundle.ts [--write=DIR] [--json] [--max-gzip=BYTES]
 * ```
 *
 * `--write=DIR` writes `mqtt5.browser.js` and esbuild's `metafile.json` (for
 * https://esbuild.github.io/analyze/) there; `--json` prints the results as JSON instead of
 * tables; `--max-gzip=BYTES` exits with 1 when the gzipped bundle is larger.
 *
 * It runs esbuild's binary (in Deno's npm cache) with the environment, and reads MQTT.js's
 * bundle from the npm cache: `-P=browser` gives the first; without read access to the cache
 * MQTT.js's size is left out.
 *
 * @module
 */

import { type BrowserBundle, buildBrowserBundle, gzipSize } from "../tests/browser/_bundle.ts";

/** The goal: a browser client of at most this many bytes gzipped. */
const GOAL_GZIP_BYTES = 20 * 1024;
/** String literals longer than this (quotes included) count as messages. */
const MESSAGE_CHARS = 60;

const flags = new Map(
  Deno.args.map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=", 2);
    return [key!, value ?? "true"] as const;
  }),
);

/** What the gzipped bundle loses without a part of it. */
interface Part {
  /** A source file, a layer, or a kind of code. */
  name: string;
  /** Minified bytes of this part in the bundle. */
  bytes: number;
  /** Gzipped bytes the bundle loses without it. */
  gzipBytes: number;
}

const encoder = new TextEncoder();

/** The index in `sources` of the source each character of `code` comes from (-1: none). */
function owners(code: string, map: { sources: string[]; mappings: string }): Int32Array {
  const owner = new Int32Array(code.length).fill(-1);
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === "\n") lineStarts.push(i + 1);
  let source = 0;
  map.mappings.split(";").forEach((line, lineIndex) => {
    const start = lineStarts[lineIndex];
    if (start === undefined) return;
    const end = lineStarts[lineIndex + 1] ?? code.length;
    let column = 0;
    const points: { column: number; source: number }[] = [];
    for (const segment of line.split(",")) {
      if (segment === "") continue;
      const fields = decodeVlq(segment);
      column += fields[0]!;
      if (fields.length > 1) source += fields[1]!;
      points.push({ column, source: fields.length > 1 ? source : -1 });
    }
    points.forEach((point, i) => {
      const until = i + 1 < points.length ? start + points[i + 1]!.column : end;
      owner.fill(point.source, start + point.column, until);
    });
  });
  return owner;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The numbers of one source map segment (base64 VLQ). */
function decodeVlq(segment: string): number[] {
  const numbers: number[] = [];
  let value = 0, shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    numbers.push(value & 1 ? -(value >> 1) : value >> 1);
    value = shift = 0;
  }
  return numbers;
}

/** What the gzipped `code` loses without the characters `drop` accepts. */
async function without(
  code: string,
  full: number,
  drop: (index: number) => boolean,
): Promise<{ bytes: number; gzipBytes: number }> {
  let kept = "", bytes = 0, from = 0;
  for (let i = 0; i <= code.length; i++) {
    if (i < code.length && !drop(i)) continue;
    kept += code.slice(from, i);
    from = i + 1;
    if (i < code.length) bytes++;
  }
  return { bytes, gzipBytes: full - await gzipSize(encoder.encode(kept)) };
}

/** The parts of the bundle: its source files, its layers, and its long messages. */
async function analyse(bundle: BrowserBundle): Promise<{ files: Part[]; groups: Part[] }> {
  const map = JSON.parse(bundle.sourceMap!) as { sources: string[]; mappings: string };
  const code = bundle.code;
  const owner = owners(code, map);
  const sources = map.sources.map((source) => source.replace(/^(\.\.\/)+/, ""));
  const full = bundle.gzipBytes;
  const part = async (name: string, accept: (source: string) => boolean): Promise<Part> => {
    const ids = new Set(sources.flatMap((source, i) => accept(source) ? [i] : []));
    return { name, ...await without(code, full, (i) => ids.has(owner[i]!)) };
  };
  const files: Part[] = [];
  for (const source of sources) files.push(await part(source, (s) => s === source));
  files.sort((a, b) => b.gzipBytes - a.gzipBytes);
  const layer = (name: string, accept: (source: string) => boolean) => part(name, accept);
  const groups = [
    await layer(
      "src/codec/ but _v311* (constants in)",
      (s) => s.startsWith("src/codec/") && !/_v311/.test(s),
    ),
    await layer("src/codec/_v311*.ts (3.1.1)", (s) => /src\/codec\/_v311/.test(s)),
    await layer("src/codec/constants.ts (names)", (s) => s === "src/codec/constants.ts"),
    await layer("src/session/", (s) => s.startsWith("src/session/")),
    await layer("src/client/", (s) => s.startsWith("src/client/")),
    await layer(
      "trace log (session/_format.ts, client/_log.ts)",
      (s) => s === "src/session/_format.ts" || s === "src/client/_log.ts",
    ),
    await layer("src/transport/websocket.ts", (s) => s === "src/transport/websocket.ts"),
  ];
  // String literals longer than MESSAGE_CHARS: error messages, log templates.
  const inMessage = new Uint8Array(code.length);
  for (const match of code.matchAll(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g)) {
    if (match[0].length > MESSAGE_CHARS) {
      inMessage.fill(1, match.index + 1, match.index + match[0].length - 1);
    }
  }
  groups.push({
    name: `string literals > ${MESSAGE_CHARS} chars`,
    ...await without(code, full, (i) => inMessage[i] === 1),
  });
  return { files, groups };
}

/** MQTT.js's browser bundle size, when the npm cache may be read. */
async function mqttJsSize(): Promise<{ path: string; bytes: number; gzipBytes: number } | null> {
  const path = decodeURIComponent(
    new URL("../dist/mqtt.min.js", import.meta.resolve("mqtt")).pathname,
  );
  try {
    const bytes = await Deno.readFile(path);
    return { path, bytes: bytes.length, gzipBytes: await gzipSize(bytes) };
  } catch {
    return null;
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

const bundle = await buildBrowserBundle({ sourceMap: true });
const { files, groups } = await analyse(bundle);
const mqttJs = await mqttJsSize();

const outDir = flags.get("write");
if (outDir !== undefined) {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/mqtt5.browser.js`, bundle.code);
  await Deno.writeTextFile(`${outDir}/metafile.json`, bundle.metafile);
}

if (flags.has("json")) {
  console.log(JSON.stringify(
    { bytes: bundle.bytes, gzipBytes: bundle.gzipBytes, mqttJs, groups, files },
    null,
    2,
  ));
} else {
  console.log(
    `mqtt5 browser bundle (Client + connectWebSocket, minified ESM): ${bundle.bytes} bytes, ` +
      `${bundle.gzipBytes} gzipped (${kb(bundle.gzipBytes)}; goal ${kb(GOAL_GZIP_BYTES)})`,
  );
  if (mqttJs !== null) {
    console.log(
      `MQTT.js dist/mqtt.min.js: ${mqttJs.bytes} bytes, ${mqttJs.gzipBytes} gzipped ` +
        `(${kb(mqttJs.gzipBytes)}): mqtt5 is ${(mqttJs.gzipBytes / bundle.gzipBytes).toFixed(1)}` +
        "x smaller",
    );
  }
  const table = (title: string, parts: Part[]) => {
    console.log(`\n| ${title} | bytes | gzip without it |\n| --- | ---: | ---: |`);
    for (const p of parts) console.log(`| ${p.name} | ${p.bytes} | -${p.gzipBytes} |`);
  };
  table("part", groups);
  table("source file", files.filter((f) => f.bytes > 0));
}

const maxGzip = flags.get("max-gzip");
if (maxGzip !== undefined && bundle.gzipBytes > Number(maxGzip)) {
  console.error(`The gzipped bundle is ${bundle.gzipBytes} bytes, over --max-gzip=${maxGzip}`);
  Deno.exit(1);
}
