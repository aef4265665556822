/**
 * Headless Chromium for the browser test: whether this run may and can launch it, and a launch
 * that `await using` ends (SIGTERM, then SIGKILL) with its profile folder removed.
 *
 * Chromium runs as the user the tests run as; as root it needs `--no-sandbox`. In a closed network
 * it must not reach out on its own (background networking, component updates, sync), or it fails
 * to load pages; QUIC is off too, and its profile and disk cache go to a fresh folder under
 * `.broker/`.
 *
 * @example
 * ```ts ignore
 * import { chromiumIgnoreReason, launchChromium } from "./_chromium.ts";
 * Deno.test({ name: "a page", ignore: chromiumIgnoreReason !== "", async fn() {
 *   await using chromium = await launchChromium("http://127.0.0.1:8000/");
 *   console.log(await chromium.exited);
 * } });
 * ```
 *
 * @module
 */

import { brokerAvailable } from "../_util/mosquitto.ts";

/** The command that starts Chromium (Debian's `chromium` package puts it on `PATH`). */
export const CHROMIUM = "chromium";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
/** Where each launch gets its profile folder (the broker tests' folder, which `.gitignore` lists). */
const PROFILE_ROOT = `${ROOT}.broker`;

/** How long Chromium gets after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
/** How long Chromium's helper processes get to exit after it. */
const HELPERS_TIMEOUT_MS = 5_000;
/** The most stderr text kept. */
const MAX_LOG_CHARS = 64 * 1024;

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Chromium's version line, `""` when it is not installed, `undefined` when this run may not run
 * it. Runs `chromium --version` once, when the module loads.
 */
function chromiumVersion(): string | undefined {
  // Any command: esbuild's binary is in Deno's npm cache, whose path differs between machines.
  // The environment: esbuild's npm package spawns it with the whole environment.
  if (!brokerAvailable || !granted({ name: "run" }) || !granted({ name: "env" })) return undefined;
  try {
    const output = new Deno.Command(CHROMIUM, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return new TextDecoder().decode(output.stdout).trim() || "Chromium (no version)";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

const version = chromiumVersion();

/** Chromium's version, e.g. `Chromium 131.0.6778.139 built on Debian ...`; `""` without. */
export const chromiumVersionLine: string = version ?? "";

/** Why the browser test is ignored in this run, or `""` when it runs. */
export const chromiumIgnoreReason: string = version === undefined
  ? "it runs Chromium, esbuild and Mosquitto and passes esbuild the environment: " +
    "run it with `deno test -P=browser tests/browser/`"
  : version === ""
  ? `\`${CHROMIUM}\` is not on PATH: install it (\`apt-get install chromium\`; .ci/run does)`
  : "";

if (chromiumIgnoreReason !== "") {
  console.warn(`Ignoring the browser test: ${chromiumIgnoreReason}`);
}

/** A running headless Chromium; `await using` stops it and removes its profile folder. */
export interface Chromium extends AsyncDisposable {
  /** The browser process's id. */
  readonly pid: number;
  /** Resolves when the browser process exits. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** What Chromium wrote to stderr so far (the last {@linkcode MAX_LOG_CHARS} characters). */
  logs(): string;
}

/** The command-line flags of every launch, before the profile folders and the URL. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-breakpad",
  "--mute-audio",
];

/** Launches headless Chromium on `url`, with a fresh profile folder. */
export async function launchChromium(url: string): Promise<Chromium> {
  await Deno.mkdir(PROFILE_ROOT, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: PROFILE_ROOT, prefix: "chromium-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(CHROMIUM, {
      args: [
        ...CHROMIUM_FLAGS,
        `--user-data-dir=${dir}/profile`,
        `--disk-cache-dir=${dir}/cache`,
        url,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return new ChromiumProcess(child, dir);
}

class ChromiumProcess implements Chromium {
  readonly pid: number;
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #dir: string;
  #log = "";
  #stderr: ReadableStreamDefaultReader<Uint8Array>;
  #pump: Promise<void>;
  #disposed = false;

  constructor(child: Deno.ChildProcess, dir: string) {
    this.#child = child;
    this.#dir = dir;
    this.pid = child.pid;
    this.exited = child.status;
    this.#stderr = child.stderr.getReader();
    this.#pump = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await this.#stderr.read();
        if (done) return;
        this.#log = (this.#log + decoder.decode(value, { stream: true })).slice(-MAX_LOG_CHARS);
      }
    } catch {
      // Cancelled on disposal.
    }
  }

  logs(): string {
    return this.#log;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      this.#child.kill("SIGTERM");
      const stopped = await Promise.race([
        this.exited.then(() => true),
        new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS)),
      ]);
      if (!stopped) this.#child.kill("SIGKILL");
    } catch {
      // It had exited already.
    } finally {
      clearTimeout(timer);
    }
    await this.exited;
    // Chromium's helper processes (zygote, renderer, GPU, network) hold its stderr and exit just
    // after it: the end of stderr says they are gone. Should one linger, stop reading anyway.
    let helpersTimer: ReturnType<typeof setTimeout> | undefined;
    const helpersGone = await Promise.race([
      this.#pump.then(() => true),
      new Promise<false>((resolve) => {
        helpersTimer = setTimeout(() => resolve(false), HELPERS_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(helpersTimer);
    if (!helpersGone) {
      await this.#stderr.cancel().catch(() => {});
      await this.#pump;
    }
    // A helper may still be writing to the profile as it exits.
    for (let attempt = 0;; attempt++) {
      try {
        await Deno.remove(this.#dir, { recursive: true });
        return;
      } catch (error) {
        if (attempt >= 10 || error instanceof Deno.errors.NotFound) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
