/**
 * A Mosquitto broker per test: a free loopback port, a generated config in a fresh temporary
 * folder under `.broker/` at the repository root, password authentication, and `await using`
 * to stop it and remove the folder.
 *
 * Broker tests need permissions that a plain `deno test --allow-net` does not give (running
 * `mosquitto` and `mosquitto_passwd`, writing `.broker/`): declare them with
 * `ignore: !brokerAvailable` so they show as ignored there, and run them with `deno task test`
 * (which loads the `broker` permission set of `deno.json` with `-P`).
 *
 * @example One broker per test module, behaviours as steps
 * ```ts
 * import { brokerAvailable, startMosquitto } from "./mosquitto.ts";
 *
 * Deno.test({
 *   name: "Client.connect() authenticates with a password",
 *   ignore: !brokerAvailable,
 *   async fn(t) {
 *     await using broker = await startMosquitto({ config: ["max_qos 1"] });
 *     await t.step("connects", async () => {
 *       using conn = await Deno.connect({ hostname: broker.hostname, port: broker.port });
 *     });
 *   },
 * });
 * ```
 *
 * @module
 */

/** The folder that holds every broker's temporary folder; `.gitignore` lists it. */
const BROKER_ROOT = new URL("../../.broker/", import.meta.url);
/** {@linkcode BROKER_ROOT} as a file system path (POSIX; the broker tests run on Linux). */
const BROKER_ROOT_PATH = decodeURIComponent(BROKER_ROOT.pathname);

const INSTALL_HINT = "apt-get install mosquitto (see README)";

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Whether this test run may launch Mosquitto: `deno task test` (the `broker` permission set of
 * `deno.json`) or `-A` say yes; a plain `deno test --allow-net` says no.
 *
 * The check is on loopback network access and on reading and writing `.broker/`, not on the run
 * permission: Deno 2.9.6 reports `--allow-run=mosquitto` as not granted when `mosquitto` is not
 * on `PATH`, which would silently ignore every broker test on a machine without Mosquitto instead
 * of failing them with the install hint. When the run permission itself is missing,
 * {@linkcode startMosquitto} throws an error saying to use `deno task test`.
 */
export const brokerAvailable: boolean = granted({ name: "net", host: "127.0.0.1" }) &&
  granted({ name: "read", path: BROKER_ROOT }) &&
  granted({ name: "write", path: BROKER_ROOT });

/** Why broker tests are ignored in this run, or `""` when {@linkcode brokerAvailable}. */
export const brokerIgnoreReason: string = brokerAvailable ? "" : "broker tests need to run " +
  "mosquitto and mosquitto_passwd and to write .broker/: run them with `deno task test`";

// Say once, in the test output, why the broker tests of this run show as ignored.
if (!brokerAvailable) {
  console.warn(`Ignoring the tests that launch Mosquitto: ${brokerIgnoreReason}`);
}

/** Options of {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  /**
   * The user the password file holds.
   * @default {"mqtt5"}
   */
  username?: string;
  /**
   * That user's password.
   * @default {"mqtt5-secret"}
   */
  password?: string;
  /**
   * Whether clients may connect without a user name (`allow_anonymous true`); the password file is
   * written either way, so {@linkcode MosquittoOptions.username} still authenticates.
   * @default {false}
   */
  allowAnonymous?: boolean;
  /**
   * Whether the broker keeps sessions and retained messages in `mosquitto.db` inside its temporary
   * folder, so that they survive {@linkcode Mosquitto.restart}.
   * @default {false}
   */
  persistence?: boolean;
  /**
   * `max_queued_messages`: QoS 1 and 2 messages the broker queues per client above those in
   * flight (Mosquitto's own default of 1000 drops messages in bulk tests).
   * @default {100000}
   */
  maxQueuedMessages?: number;
  /**
   * Makes the listener a TLS listener with these files; Mosquitto runs as root (`user root`), so
   * it can read them anywhere.
   * @default {undefined} (plain TCP)
   */
  tls?: MosquittoTlsOptions;
  /**
   * Adds a WebSocket listener (`protocol websockets`, MQTT over WebSocket with the subprotocol
   * `mqtt`) on another free loopback port, {@linkcode Mosquitto.websocketsPort}, after the lines
   * of {@linkcode MosquittoOptions.config}. The TCP listener stays: Mosquitto 2.0.11 exits with
   * "Unable to start any listening sockets" when all its listeners are WebSocket ones (it counts
   * only the others), and its WebSocket listener binds every address unless `socket_domain ipv4`
   * is set (then 127.0.0.1 only), which this option sets. Its libwebsockets (4.1.6, built in)
   * sends a client at most about 4 KiB per 100 ms main-loop tick of a large message
   * (eclipse-mosquitto/mosquitto#2252): 1 MiB takes 25 s, so send large messages to WebSocket
   * clients through `ws_bridge.ts` instead.
   * @default {false}
   */
  websockets?: boolean;
  /**
   * More config lines, written after the listener so that listener options apply to it, e.g.
   * `"max_inflight_messages 5"`, `"max_packet_size 1000"`, `"max_topic_alias 3"`, `"max_qos 1"`,
   * `"retain_available false"`, `"max_keepalive 10"`.
   * @default {[]}
   */
  config?: readonly string[];
  /**
   * Whether to log every packet (`log_type all`) in {@linkcode Mosquitto.logs}.
   * @default {false}
   */
  verbose?: boolean;
  /**
   * How long to wait for the broker to accept TCP connections, in milliseconds.
   * @default {5000}
   */
  startTimeoutMs?: number;
}

/** The TLS settings of a Mosquitto listener (see {@linkcode MosquittoOptions.tls}). */
export interface MosquittoTlsOptions {
  /** The PEM file of the CA certificates that sign the client certificates. */
  cafile: string;
  /** The PEM file of the server's certificate. */
  certfile: string;
  /** The PEM file of the server's private key. */
  keyfile: string;
  /**
   * Whether a client must present a certificate signed by `cafile` (`require_certificate`).
   * @default {true}
   */
  requireCertificate?: boolean;
  /**
   * Whether the client certificate's Common Name is the client's user name, with no password
   * check (`use_identity_as_username`).
   * @default {true}
   */
  useIdentityAsUsername?: boolean;
}

/**
 * The config lines that make the listener above them a TLS listener, e.g. for more listeners in
 * {@linkcode MosquittoOptions.config} after a `listener <port> 127.0.0.1` line.
 *
 * @example A second TLS listener with another server certificate
 * ```ts
 * const port = freePort();
 * const config = [
 *   `listener ${port} 127.0.0.1`,
 *   ...tlsConfig({ cafile: "ca.crt", certfile: "other.crt", keyfile: "other.key" }),
 * ];
 * ```
 */
export function tlsConfig(tls: MosquittoTlsOptions): string[] {
  const requireCertificate = tls.requireCertificate ?? true;
  return [
    `cafile ${tls.cafile}`,
    `certfile ${tls.certfile}`,
    `keyfile ${tls.keyfile}`,
    `require_certificate ${requireCertificate}`,
    `use_identity_as_username ${requireCertificate && (tls.useIdentityAsUsername ?? true)}`,
  ];
}

/** A running Mosquitto broker; `await using` stops it and removes its temporary folder. */
export interface Mosquitto extends AsyncDisposable {
  /** The loopback address the broker listens on. */
  readonly hostname: "127.0.0.1";
  /** The port the broker listens on; it stays the same across {@linkcode Mosquitto.restart}. */
  readonly port: number;
  /**
   * The port of the WebSocket listener (`ws://127.0.0.1:<port>`), with
   * {@linkcode MosquittoOptions.websockets}; `undefined` without.
   */
  readonly websocketsPort: number | undefined;
  /** The user name the broker accepts. */
  readonly username: string;
  /** The password of {@linkcode Mosquitto.username}. */
  readonly password: string;
  /** The temporary folder with `mosquitto.conf`, `passwd` and the persistence database. */
  readonly dir: string;
  /** The generated config file's text. */
  readonly config: string;
  /** Whether the broker process is running (false between {@linkcode Mosquitto.stop} and start). */
  readonly running: boolean;
  /** The broker's log (its stderr) since the first start, across restarts. */
  logs(): string;
  /** Stops the broker (SIGTERM; it saves its database when persistence is on). */
  stop(): Promise<void>;
  /** Starts the stopped broker again on the same port and with the same folder. */
  start(): Promise<void>;
  /** Stops and starts the broker; with persistence on, sessions and retained messages remain. */
  restart(): Promise<void>;
}

/**
 * Finds a free loopback TCP port by listening on port 0 and closing the listener. Another process
 * may take the port before it is used again; {@linkcode startMosquitto} retries on such a clash.
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** The most log text kept per broker; older text is dropped first. */
const MAX_LOG_CHARS = 1 << 20;
/** How long a stopping broker gets after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
/** How many times to retry start-up on a port another process took in between. */
const PORT_ATTEMPTS = 3;

/**
 * Starts Mosquitto on a free loopback port with a generated config in a fresh temporary folder.
 *
 * Throws when `mosquitto` or `mosquitto_passwd` is not installed (with the install hint), when
 * the run permission is missing, when the broker exits during start-up (with its log), or when it
 * does not accept connections within {@linkcode MosquittoOptions.startTimeoutMs}.
 *
 * @example Authentication and a listener option
 * ```ts
 * await using broker = await startMosquitto({ config: ["max_packet_size 1000"] });
 * console.log(broker.port, broker.username, broker.password);
 * ```
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const username = options.username ?? "mqtt5";
  const password = options.password ?? "mqtt5-secret";
  if (username.includes(":") || /[\r\n]/.test(username + password)) {
    throw new RangeError(`Cannot use user "${username}": no ":" or line breaks allowed`);
  }
  await Deno.mkdir(BROKER_ROOT, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: BROKER_ROOT_PATH, prefix: "mosquitto-" });
  try {
    await writePasswordFile(`${dir}/passwd`, username, password);
    if (options.persistence) await Deno.mkdir(`${dir}/data`);
    let lastError: unknown;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = freePort();
      const websocketsPort = options.websockets ? freePort() : undefined;
      const config = configText(dir, port, websocketsPort, options);
      await Deno.writeTextFile(`${dir}/mosquitto.conf`, config);
      const broker = new MosquittoBroker(dir, port, username, password, config, options);
      broker.websocketsPort = websocketsPort;
      try {
        await broker.start();
        return broker;
      } catch (error) {
        await broker.stop();
        lastError = error;
        const logs = broker.logs();
        if (
          !logs.includes("Address already in use") &&
          !logs.includes("Unable to create websockets listener")
        ) break;
      }
    }
    throw lastError;
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

function configText(
  dir: string,
  port: number,
  websocketsPort: number | undefined,
  options: MosquittoOptions,
): string {
  const lines = [
    `listener ${port} 127.0.0.1`,
    ...(options.tls ? tlsConfig(options.tls) : []),
    // Run as root, Mosquitto drops to the `mosquitto` user, which cannot read this private folder;
    // `user root` keeps it as root. Run as another user, Mosquitto ignores the setting.
    "user root",
    `allow_anonymous ${options.allowAnonymous ?? false}`,
    `password_file ${dir}/passwd`,
    `max_queued_messages ${options.maxQueuedMessages ?? 100_000}`,
    "log_dest stderr",
    // Setting log_type replaces Mosquitto's defaults, so the start-up check can rely on "running".
    ...["error", "warning", "notice", "information"].map((type) => `log_type ${type}`),
    ...(options.verbose ? ["log_type all"] : []),
    ...(options.persistence
      ? ["persistence true", `persistence_location ${dir}/data`, "autosave_interval 0"]
      : ["persistence false"]),
    ...(options.config ?? []),
    ...(websocketsPort === undefined
      ? []
      : [`listener ${websocketsPort} 127.0.0.1`, "protocol websockets", "socket_domain ipv4"]),
  ];
  return lines.join("\n") + "\n";
}

async function writePasswordFile(path: string, username: string, password: string) {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("mosquitto_passwd", {
      args: ["-b", "-c", path, username, password],
      stdin: "null",
    }).output();
  } catch (error) {
    throw spawnError("mosquitto_passwd", error);
  }
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    throw new Error(`mosquitto_passwd failed (exit code ${output.code}): ${text.trim()}`);
  }
}

function spawnError(command: string, error: unknown): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new Error(`${command} not found: ${INSTALL_HINT}`, { cause: error });
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new Error(
      `Cannot run ${command} without --allow-run=mosquitto,mosquitto_passwd: ` +
        "run the broker tests with `deno task test`",
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

class MosquittoBroker implements Mosquitto {
  readonly hostname = "127.0.0.1" as const;
  readonly port: number;
  websocketsPort: number | undefined;
  readonly username: string;
  readonly password: string;
  readonly dir: string;
  readonly config: string;
  #startTimeoutMs: number;
  #log: string[] = [];
  #logChars = 0;
  /** Characters dropped from the start of the log to keep it under {@linkcode MAX_LOG_CHARS}. */
  #logDropped = 0;
  #child: Deno.ChildProcess | undefined;
  #exit: Promise<Deno.CommandStatus> | undefined;
  #logPump: Promise<void> | undefined;
  #disposed = false;

  constructor(
    dir: string,
    port: number,
    username: string,
    password: string,
    config: string,
    options: MosquittoOptions,
  ) {
    this.dir = dir;
    this.port = port;
    this.username = username;
    this.password = password;
    this.config = config;
    this.#startTimeoutMs = options.startTimeoutMs ?? 5_000;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  logs(): string {
    return this.#log.join("");
  }

  #appendLog(text: string) {
    this.#log.push(text);
    this.#logChars += text.length;
    while (this.#logChars > MAX_LOG_CHARS && this.#log.length > 1) {
      const dropped = this.#log.shift()!.length;
      this.#logChars -= dropped;
      this.#logDropped += dropped;
    }
  }

  /** The log since `mark`, a position in all the text ever logged (see `#logMark()`). */
  #logSince(mark: number): string {
    return this.logs().slice(Math.max(0, mark - this.#logDropped));
  }

  #logMark(): number {
    return this.#logDropped + this.#logChars;
  }

  async start(): Promise<void> {
    if (this.#disposed) throw new Error("Cannot start a disposed broker");
    if (this.#child) return;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("mosquitto", {
        args: ["-c", `${this.dir}/mosquitto.conf`],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw spawnError("mosquitto", error);
    }
    this.#child = child;
    const logStart = this.#logMark();
    this.#logPump = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#appendLog(text);
      }
    })();
    let exited: Deno.CommandStatus | undefined;
    this.#exit = child.status.then((status) => exited = status);

    const started = Date.now();
    const deadline = started + this.#startTimeoutMs;
    while (true) {
      if (exited) {
        await this.#reap();
        throw new Error(
          `mosquitto exited during start-up (exit code ${exited.code}):\n` +
            this.#logSince(logStart).trim(),
        );
      }
      // "running" is logged once the listener is open; connecting then proves it accepts TCP
      // (and that the port is not some other process's).
      if (/ running\b/.test(this.#logSince(logStart)) && await this.#accepts()) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `mosquitto did not accept connections on 127.0.0.1:${this.port} within ` +
            `${this.#startTimeoutMs} ms:\n${this.#logSince(logStart).trim()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async #accepts(): Promise<boolean> {
    try {
      const conn = await Deno.connect({ hostname: this.hostname, port: this.port });
      conn.close();
      return true;
    } catch {
      return false;
    }
  }

  /** Awaits the exit status and the end of the log of the current process. */
  async #reap(): Promise<void> {
    await this.#exit;
    await this.#logPump;
    this.#child = undefined;
    this.#exit = undefined;
    this.#logPump = undefined;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    let exited = false;
    const exit = this.#exit!.then(() => exited = true);
    try {
      child.kill("SIGTERM");
    } catch {
      // It has already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      exit,
      new Promise((resolve) => timer = setTimeout(resolve, STOP_TIMEOUT_MS)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited in between.
      }
    }
    await this.#reap();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    await this.stop();
    this.#disposed = true;
    await Deno.remove(this.dir, { recursive: true });
  }
}
