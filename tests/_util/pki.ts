/**
 * Fresh throw-away certificates per test module: `.ci/pki/make.sh` writes a CA, a server
 * certificate for `localhost` and `127.0.0.1`, a client certificate and (with `negative`) the
 * certificates of the failure tests into a temporary folder under `.broker/`; `await using`
 * removes it. No private key of the tests lives in the repository.
 *
 * @example Certificates for a TLS broker
 * ```ts ignore
 * import { makePki } from "./pki.ts";
 * import { startMosquitto } from "./mosquitto.ts";
 * await using pki = await makePki();
 * await using broker = await startMosquitto({
 *   tls: { cafile: pki.path("ca.crt"), certfile: pki.path("server.crt"), keyfile: pki.path("server.key") },
 * });
 * ```
 *
 * @module
 */

const SCRIPT = decodeURIComponent(new URL("../../.ci/pki/make.sh", import.meta.url).pathname);
const BROKER_ROOT_PATH = decodeURIComponent(new URL("../../.broker/", import.meta.url).pathname);

/** Options of {@linkcode makePki}. */
export interface PkiOptions {
  /**
   * Whether to make the certificates of the failure tests too (expired, wrong name, other CA).
   * @default {false}
   */
  negative?: boolean;
}

/** A folder of certificates and keys; `await using` removes it. */
export interface Pki extends AsyncDisposable {
  /** The folder. */
  readonly dir: string;
  /** The path of a file in the folder, e.g. `pki.path("ca.crt")`. */
  path(name: string): string;
  /** The text of a file in the folder. */
  read(name: string): Promise<string>;
}

/**
 * Runs `.ci/pki/make.sh` into a fresh folder under `.broker/`.
 *
 * @example
 * ```ts ignore
 * await using pki = await makePki({ negative: true });
 * const ca = await pki.read("ca.crt");
 * ```
 */
export async function makePki(options: PkiOptions = {}): Promise<Pki> {
  await Deno.mkdir(BROKER_ROOT_PATH, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: BROKER_ROOT_PATH, prefix: "pki-" });
  try {
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(SCRIPT, {
        args: [...(options.negative ? ["--negative"] : []), dir],
        stdin: "null",
      }).output();
    } catch (error) {
      throw new Error(
        `Cannot run .ci/pki/make.sh (${error}): run the TLS tests with \`deno task test\``,
        { cause: error },
      );
    }
    if (!output.success) {
      const text = new TextDecoder().decode(output.stderr);
      throw new Error(`.ci/pki/make.sh failed (exit code ${output.code}): ${text.trim()}`);
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const path = (name: string) => `${dir}/${name}`;
  return {
    dir,
    path,
    read: (name) => Deno.readTextFile(path(name)),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}
