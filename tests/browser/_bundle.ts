/**
 * Builds the browser bundle of `_entry.ts` (the `Client` and `connectWebSocket`) with esbuild from
 * npm: one minified ES module for browsers, in memory, with its size raw and gzipped and esbuild's
 * metafile (what each source file contributes). The browser test and `bench/bundle.ts` share it;
 * the test also builds its page script, `_page.ts`, with it.
 *
 * esbuild runs its native binary from Deno's npm cache: the caller needs to run it, to read the
 * repository and the cache, and to read the environment (esbuild's package looks at
 * `ESBUILD_BINARY_PATH` and others).
 *
 * @example
 * ```ts ignore
 * const bundle = await buildBrowserBundle();
 * console.log(bundle.bytes, bundle.gzipBytes);
 * ```
 *
 * @module
 */

/** The esbuild the cross-runtime test uses too, so that one download serves both. */
export const ESBUILD = "npm:esbuild@0.28.2";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
/** The entry point of the browser bundle, from the repository root. */
const ENTRY = "tests/browser/_entry.ts";
/** The browser test's page script, from the repository root. */
const PAGE = "tests/browser/_page.ts";

/**
 * The JavaScript the bundle is for: ES2022 (every current browser) keeps `#private` fields,
 * class fields and top-level await as written.
 */
export const BROWSER_TARGET = "es2022";

/** What a source file puts in the bundle. */
export interface BundleInput {
  /** The path from the repository root, e.g. `src/client/client.ts`. */
  path: string;
  /** Minified bytes of this file in the bundle. */
  bytes: number;
}

/** A built browser bundle. */
export interface BrowserBundle {
  /** The minified ES module. */
  code: string;
  /** Its size in bytes (UTF-8). */
  bytes: number;
  /** Its size gzipped (`CompressionStream("gzip")`, zlib's default level). */
  gzipBytes: number;
  /** The source files in the bundle, largest first. */
  inputs: BundleInput[];
  /** esbuild's metafile as JSON, for esbuild's analyzer (https://esbuild.github.io/analyze/). */
  metafile: string;
  /** The source map as JSON, with {@linkcode BrowserBundleOptions.sourceMap}. */
  sourceMap: string | undefined;
}

/** Options of {@linkcode buildBrowserBundle}. */
export interface BrowserBundleOptions {
  /**
   * Minifies the bundle (whitespace, identifiers, syntax).
   * @default {true}
   */
  minify?: boolean;
  /**
   * Also returns an external source map ({@linkcode BrowserBundle.sourceMap}).
   * @default {false}
   */
  sourceMap?: boolean;
}

/** Builds the browser bundle in memory; esbuild's service is stopped before this returns. */
export async function buildBrowserBundle(
  options: BrowserBundleOptions = {},
): Promise<BrowserBundle> {
  const result = await build({
    entryPoints: [ENTRY],
    minify: options.minify ?? true,
    metafile: true,
    sourcemap: options.sourceMap ? "external" : false,
  });
  const code = result.outputFiles.find((file) => file.path.endsWith(".js"))!.text;
  const sourceMap = result.outputFiles.find((file) => file.path.endsWith(".map"))?.text;
  const bytes = new TextEncoder().encode(code);
  const inputs = Object.values(result.metafile!.outputs).flatMap((output) =>
    Object.entries(output.inputs).map(([path, input]) => ({ path, bytes: input.bytesInOutput }))
  ).filter((input) => input.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  return {
    code,
    bytes: bytes.length,
    gzipBytes: await gzipSize(bytes),
    inputs,
    metafile: JSON.stringify(result.metafile),
    sourceMap,
  };
}

/**
 * Builds `_page.ts` for the browser: TypeScript to JavaScript, its import of `./_entry.ts` kept
 * (the test serves the bundle there).
 */
export async function buildTestPage(): Promise<string> {
  const result = await build({ entryPoints: [PAGE], external: ["./_entry.ts"] });
  return result.outputFiles[0]!.text;
}

/** Builds `entry` (a path from the repository's root) with all its imports into one ES module. */
export async function buildPage(entry: string): Promise<string> {
  const result = await build({ entryPoints: [entry] });
  return result.outputFiles[0]!.text;
}

/** The part of esbuild's build options and result used here. */
interface BuildOptions {
  entryPoints: string[];
  external?: string[];
  minify?: boolean;
  metafile?: boolean;
  sourcemap?: "external" | false;
}
interface BuildResult {
  outputFiles: { path: string; text: string }[];
  metafile?: {
    outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
  };
}

/** One esbuild build to memory: an ES module for browsers; esbuild is stopped afterwards. */
async function build(options: BuildOptions): Promise<BuildResult> {
  const esbuild = await import(ESBUILD);
  try {
    return await esbuild.build({
      absWorkingDir: ROOT,
      bundle: true,
      write: false,
      outdir: "out",
      format: "esm",
      platform: "browser",
      target: BROWSER_TARGET,
      logLevel: "silent",
      ...options,
    });
  } finally {
    await esbuild.stop();
  }
}

/** The size of `bytes` gzipped with the platform's `CompressionStream`. */
export async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/**
 * Bundles `entryPoints` (names to repository paths) for Node, Bun and Deno: ES modules written to
 * `outdir` as `<name>.mjs`, the library and its imports inlined. Used by the runtimes test and the
 * benchmarks that run mqtt5 under Node and Bun; esbuild is stopped before this returns.
 */
export async function bundleForNode(
  entryPoints: Record<string, string>,
  outdir: string,
): Promise<void> {
  const esbuild = await import(ESBUILD);
  try {
    await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints,
      outdir,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      logLevel: "silent",
    });
  } finally {
    await esbuild.stop();
  }
}
