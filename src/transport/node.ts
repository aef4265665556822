/**
 * A TCP and TLS transport over `node:net` and `node:tls`, for the runtimes without `Deno.connect`:
 * Node (20.16 and later) and Bun. Deno has `node:net` too, so it runs there as well, but
 * `connectTcp` and `connectTls` are Deno's own. It has an export path of its own,
 * `@scope/mqtt5/node`; the other entry points load it only from `connect()` on Node and Bun, and
 * it takes `node:net` and `node:tls` from `process.getBuiltinModule` rather than importing them,
 * so that bundling mqtt5 for browsers finds no `node:` import.
 *
 * The transport's readable is a byte stream (the client reads it through a
 * `ReadableStreamBYOBReader` into its own buffer), its writable settles each write once the
 * socket has handed the bytes to the operating system, and {@linkcode Transport.direct} offers
 * the same writes without the stream (and with `direct: true` the same reads).
 *
 * One module by design, hence its length: the whole of its export path (options, errors, the
 * transport, and the mapping of three runtimes' TLS errors onto {@linkcode TlsFailure}).
 *
 * @example Connecting from Node or Bun
 * ```ts ignore
 * import { Client } from "@scope/mqtt5";
 * import { connectNode } from "@scope/mqtt5/node";
 * const client = new Client();
 * await client.connect(await connectNode({ hostname: "127.0.0.1", port: 1883 }), {
 *   clientId: "node-example",
 * });
 * await client.disconnect();
 * ```
 *
 * @module
 */

import type * as NodeNet from "node:net";
import type * as NodeTls from "node:tls";
import { MqttError } from "../errors.ts";
import { TlsError, TlsFailure } from "./tls.ts";
import type { DirectConnection, Transport } from "./transport.ts";

export { MqttError, type MqttErrorOptions } from "../errors.ts";
export { TlsError, TlsFailure } from "./tls.ts";
export type { DirectConnection, Transport } from "./transport.ts";

/**
 * The TLS settings of {@linkcode connectNode}: the names are those of Node's `tls.connect()`.
 *
 * @example A private CA and a client certificate
 * ```ts ignore
 * import { readFileSync } from "node:fs";
 * import type { NodeTlsOptions } from "@scope/mqtt5/node";
 * const tls: NodeTlsOptions = {
 *   ca: readFileSync("ca.crt"),
 *   cert: readFileSync("client.crt"),
 *   key: readFileSync("client.key"),
 * };
 * ```
 */
export interface NodeTlsOptions {
  /**
   * The CA certificates (PEM) that may sign the server's certificate. As in Node, they replace
   * the runtime's root store instead of adding to it: leave this out to trust the public CAs.
   *
   * @default {undefined} (the runtime's root store)
   */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /**
   * The client certificate chain (PEM) for client-certificate authentication; give
   * {@linkcode NodeTlsOptions.key} with it.
   *
   * @default {undefined}
   */
  cert?: string | Uint8Array;
  /**
   * The private key (PEM) of {@linkcode NodeTlsOptions.cert}.
   *
   * @default {undefined}
   */
  key?: string | Uint8Array;
  /**
   * The name sent as SNI and checked against the server's certificate, when it differs from the
   * host connected to (e.g. connecting to an IP address of `mqtt.example.com`).
   *
   * @default {the hostname, unless it is an IP address (no SNI then: the certificate must list
   * the address)}
   */
  servername?: string;
  /**
   * Whether to refuse a server whose certificate cannot be verified. `false` turns verification
   * off, so anyone on the path can read and change the traffic: for tests only.
   *
   * @default {true}
   */
  rejectUnauthorized?: boolean;
  /**
   * The protocols offered by ALPN, e.g. `["mqtt"]` (or `["x-amzn-mqtt-ca"]` for AWS IoT on port
   * 443); the one the server picked is {@linkcode NodeTransport.alpnProtocol}.
   *
   * @default {undefined} (no ALPN extension)
   */
  alpnProtocols?: readonly string[];
}

/**
 * Options of {@linkcode connectNode}.
 *
 * @example TLS with a deadline
 * ```ts
 * import type { NodeOptions } from "./node.ts";
 * const options: NodeOptions = {
 *   hostname: "mqtt.example.com",
 *   tls: true,
 *   signal: AbortSignal.timeout(5000),
 * };
 * ```
 */
export interface NodeOptions {
  /**
   * The host to connect to: a name or an IP address (the same option as `connectTcp`'s, so that
   * options carry over between runtimes).
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** The port. @default {1883, or 8883 with tls} */
  port?: number;
  /**
   * TLS: `true` for the runtime's root store and the default checks, or the settings; `false`
   * for plain TCP.
   *
   * @default {false}
   */
  tls?: boolean | NodeTlsOptions;
  /** Turns Nagle's algorithm off, so small packets leave at once. @default {true} */
  noDelay?: boolean;
  /**
   * Let the client read through the transport's {@linkcode Transport.direct} instead of its
   * readable stream, as `connectTcp({ direct: true })` does: the same socket, without the
   * stream's machinery, whose cost on Node is the larger (`tests/runtimes/` logs both paths'
   * throughput for each runtime). By default the client reads through a
   * `ReadableStreamBYOBReader`; it writes through `direct` either way.
   *
   * @default {false}
   */
  direct?: boolean;
  /**
   * Aborts the connection attempt: connectNode destroys the socket and rejects with the signal's
   * reason.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * A {@linkcode Transport} over a `node:net` or `node:tls` socket, as {@linkcode connectNode}
 * returns it.
 *
 * @example Checking the protocol picked by ALPN
 * ```ts ignore
 * import { connectNode } from "@scope/mqtt5/node";
 * const transport = await connectNode({ hostname: "localhost", tls: { alpnProtocols: ["mqtt"] } });
 * console.log(transport.alpnProtocol); // "mqtt", or null when the server picked none
 * transport.close();
 * ```
 */
export interface NodeTransport extends Transport {
  /** The server connected to, as `host:port` (as error messages name it). */
  readonly address: string;
  /** The protocol the server picked by ALPN; `null` when it picked none, or without TLS. */
  readonly alpnProtocol: string | null;
}

/**
 * The TCP connection could not be made: refused, the host name did not resolve, the host was
 * unreachable. Not recoverable: nothing was sent; check the address and that the server is
 * running, then connect again. {@linkcode NodeConnectError.code} is the system's error code.
 * (A failed TLS handshake is a {@linkcode TlsError}.)
 *
 * @example Telling a refused connection apart
 * ```ts ignore
 * import { connectNode, NodeConnectError } from "@scope/mqtt5/node";
 * try {
 *   await connectNode({ port: 1883 });
 * } catch (e) {
 *   if (e instanceof NodeConnectError && e.code === "ECONNREFUSED") console.log("not running");
 * }
 * ```
 */
export class NodeConnectError extends MqttError {
  /** The system's error code, e.g. `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`; or `undefined`. */
  readonly code: string | undefined;
  /** The server, as `host:port`. */
  readonly address: string;

  /** Creates the error; `cause` is the runtime's error. */
  constructor(message: string, address: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { recoverable: false, cause: options.cause });
    this.name = "NodeConnectError";
    this.address = address;
    this.code = options.code;
  }
}

/**
 * An open connection failed: reset by the server or the network, or written to after it closed.
 * The readable errors with it (once every byte received before is read) and writes reject with
 * it; the client's `ConnectionClosedError` has it as `cause`. Not recoverable: reconnect (with
 * the session, to resume it). A TLS failure after the handshake (a client certificate the
 * server refused) is a {@linkcode TlsError} instead.
 *
 * @example Reading the system's error code after the connection ended
 * ```ts ignore
 * import { ConnectionClosedError } from "@scope/mqtt5";
 * import { NodeSocketError } from "@scope/mqtt5/node";
 * try {
 *   for (;;) await client.poll();
 * } catch (e) {
 *   if (e instanceof ConnectionClosedError && e.cause instanceof NodeSocketError) {
 *     console.log(e.cause.code); // e.g. "ECONNRESET"
 *   }
 * }
 * ```
 */
export class NodeSocketError extends MqttError {
  /** The system's error code, e.g. `ECONNRESET`, `EPIPE`; or `undefined`. */
  readonly code: string | undefined;
  /** The server, as `host:port`. */
  readonly address: string;

  /** Creates the error; `cause` is the runtime's error. */
  constructor(message: string, address: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { recoverable: false, cause: options.cause });
    this.name = "NodeSocketError";
    this.address = address;
    this.code = options.code;
  }
}

/** Bytes received and not yet read above which the socket is paused (TCP flow control). */
const HIGH_WATER_MARK = 256 * 1024;
/** The size of the chunks of the readable when a read brings no buffer of its own. */
const CHUNK_SIZE = 64 * 1024;

/**
 * Opens a TCP connection, or with `tls` a TLS one, to an MQTT server over `node:net` or
 * `node:tls`, and returns it once connected (after the TLS handshake, so that a certificate the
 * client refuses shows here). For Node and Bun; see the module's documentation.
 *
 * Throws `TypeError` or `RangeError` for options that cannot work (a port out of range, `cert`
 * without `key`, PEM that is not PEM) before connecting; {@linkcode NodeConnectError} when the
 * TCP connection fails; {@linkcode TlsError} when the TLS handshake fails (the server's
 * certificate is not trusted or not for this name, or the server refused the client's); the
 * signal's reason when aborted. With TLS 1.3 the server judges the client certificate only after
 * the client's side of the handshake is done, so a refused client certificate surfaces at the
 * first read instead: the client's `connect()` then throws a `ConnectionClosedError` whose
 * `cause` is the {@linkcode TlsError}.
 *
 * @example Client-certificate authentication on Node
 * ```ts ignore
 * import { readFileSync } from "node:fs";
 * import { Client } from "@scope/mqtt5";
 * import { connectNode } from "@scope/mqtt5/node";
 * const transport = await connectNode({
 *   hostname: "localhost",
 *   port: 8883,
 *   tls: {
 *     ca: readFileSync("ca.crt"),
 *     cert: readFileSync("client.crt"),
 *     key: readFileSync("client.key"),
 *   },
 *   signal: AbortSignal.timeout(5000),
 * });
 * const client = new Client();
 * await client.connect(transport, { clientId: "tls-example" });
 * await client.disconnect();
 * ```
 */
export async function connectNode(options: NodeOptions = {}): Promise<NodeTransport> {
  const hostname = options.hostname ?? "127.0.0.1";
  const settings = typeof options.tls === "object" ? options.tls : undefined;
  const secure = options.tls === true || settings !== undefined;
  const port = options.port ?? (secure ? 8883 : 1883);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Cannot connect to port ${port}: give a whole number from 1 to 65535`);
  }
  if (typeof hostname !== "string" || hostname === "") {
    throw new TypeError("Cannot connect: give the hostname of the server");
  }
  const address = `${hostname}:${port}`;
  const gaveCert = settings?.cert !== undefined;
  if (settings !== undefined) checkTlsOptions(settings);
  const { signal } = options;
  signal?.throwIfAborted();

  const { net, tls } = builtins();
  let socket: NodeNet.Socket;
  try {
    socket = secure
      ? tls.connect(tlsConnectOptions(net, hostname, port, settings ?? {}))
      : net.connect({ host: hostname, port });
  } catch (e) {
    // Node builds the TLS context at once: a certificate or key it cannot read throws here.
    throw new TypeError(`Cannot use the TLS options for ${address}: ${messageOf(e)}`, {
      cause: e,
    });
  }
  return await new Promise<NodeTransport>((resolve, reject) => {
    let tcpConnected = false;
    const done = () => {
      socket.off("connect", onConnect);
      socket.off(secure ? "secureConnect" : "connect", onReady);
      socket.off("error", onError);
      socket.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const onConnect = () => tcpConnected = true;
    const onReady = () => {
      // The transport's listeners replace these in the same turn: an error emitted in between
      // would otherwise have no listener, and an EventEmitter throws those.
      done();
      if (options.noDelay ?? true) socket.setNoDelay(true);
      const alpn = secure ? (socket as NodeTls.TLSSocket).alpnProtocol : false;
      resolve(
        new SocketTransport(socket, {
          address,
          alpnProtocol: typeof alpn === "string" ? alpn : null,
          secure,
          gaveCert,
          direct: options.direct ?? false,
        }),
      );
    };
    /** Gives the socket up: destroyed, and its late errors (a runtime may emit more) ignored. */
    const abandon = () => {
      done();
      socket.on("error", () => {});
      socket.destroy();
    };
    const onError = (e: unknown) => {
      abandon();
      reject(connectError(e, address, secure && tcpConnected, gaveCert));
    };
    // A socket closed without an error event (should a runtime's TLS report none).
    const onClose = () => {
      abandon();
      reject(
        secure && tcpConnected
          ? new TlsError(
            `The TLS handshake with ${address} failed: the server closed the connection ` +
              "(is it a TLS port?)",
            TlsFailure.HandshakeFailed,
          )
          : new NodeConnectError(
            `Cannot connect to ${address}: the connection was closed before it was made`,
            address,
          ),
      );
    };
    const onAbort = () => {
      abandon();
      reject(signal!.reason);
    };
    socket.on("connect", onConnect);
    socket.on(secure ? "secureConnect" : "connect", onReady);
    socket.on("error", onError);
    socket.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `node:net` and `node:tls`, taken from `process.getBuiltinModule` (Node 20.16 and later, Bun,
 * Deno) when first needed rather than imported: a bundler building mqtt5 for browsers then finds
 * no `node:` import to resolve (the root entry point reaches this module through `connect()`'s
 * dynamic import), and nothing is left for JSR to rewrite.
 */
function builtins(): { net: typeof NodeNet; tls: typeof NodeTls } {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process?.getBuiltinModule;
  if (typeof get !== "function") {
    throw new TypeError(
      "Cannot connect with connectNode: this runtime has no process.getBuiltinModule to load " +
        "node:net from; use Node 20.16 or later, Bun or Deno",
    );
  }
  return { net: get("node:net") as typeof NodeNet, tls: get("node:tls") as typeof NodeTls };
}

function tlsConnectOptions(
  net: typeof NodeNet,
  hostname: string,
  port: number,
  settings: NodeTlsOptions,
): NodeTls.ConnectionOptions {
  const servername = settings.servername ?? (net.isIP(hostname) === 0 ? hostname : undefined);
  const ca = settings.ca;
  return {
    host: hostname,
    port,
    ...(servername !== undefined ? { servername } : {}),
    ...(ca !== undefined ? { ca: Array.isArray(ca) ? [...ca] : ca as string | Uint8Array } : {}),
    ...(settings.cert !== undefined ? { cert: settings.cert } : {}),
    ...(settings.key !== undefined ? { key: settings.key } : {}),
    rejectUnauthorized: settings.rejectUnauthorized ?? true,
    ...(settings.alpnProtocols !== undefined ? { ALPNProtocols: [...settings.alpnProtocols] } : {}),
  } as NodeTls.ConnectionOptions;
}

const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";
const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/** Refuses TLS settings that cannot work, before connecting (strings only: bytes are Node's). */
function checkTlsOptions(settings: NodeTlsOptions): void {
  const { ca, cert, key } = settings;
  const cas = ca === undefined ? [] : Array.isArray(ca) ? ca : [ca];
  for (const [i, pem] of cas.entries()) {
    if (typeof pem === "string" && !pem.includes(PEM_CERTIFICATE)) {
      const name = Array.isArray(ca) ? `tls.ca[${i}]` : "tls.ca";
      throw new TypeError(`Cannot use ${name}: it holds no PEM certificate (${PEM_CERTIFICATE})`);
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(
      "Cannot authenticate with a client certificate: give both tls.cert and tls.key (PEM), " +
        "or neither",
    );
  }
  if (typeof cert === "string" && !cert.includes(PEM_CERTIFICATE)) {
    throw new TypeError(`Cannot use tls.cert: it holds no PEM certificate (${PEM_CERTIFICATE})`);
  }
  if (typeof key === "string" && !PEM_PRIVATE_KEY.test(key)) {
    throw new TypeError(
      "Cannot use tls.key: it holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
    );
  }
}

/**
 * The transport: a byte-stream readable and a writable over one socket, and the same reads and
 * writes as {@linkcode DirectConnection}. Received chunks wait in a queue until a read copies
 * them into its buffer; above {@linkcode HIGH_WATER_MARK} bytes the socket is paused, so a slow
 * reader holds the server back by TCP's flow control. The end of the connection, or its error,
 * is reported only once the queue is read, so no byte received is lost.
 */
class SocketTransport implements NodeTransport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly direct: DirectConnection;
  readonly address: string;
  readonly alpnProtocol: string | null;
  #socket: NodeNet.Socket;
  #secure: boolean;
  #gaveCert: boolean;
  #chunks: Uint8Array[] = [];
  /** Bytes of `#chunks[0]` already read. */
  #head = 0;
  #queued = 0;
  #paused = false;
  /** Whether any byte came from the server. */
  #received = false;
  /** The stream ended: no more bytes will come. */
  #ended = false;
  /** Why the connection failed, if it did. */
  #error: MqttError | undefined;
  /** `close()` was called. */
  #closed = false;
  /** Wakes the read waiting for bytes. */
  #wake: (() => void) | undefined;
  /** The rejections of the writes not yet settled. */
  #writes = new Set<(e: unknown) => void>();

  constructor(
    socket: NodeNet.Socket,
    init: {
      address: string;
      alpnProtocol: string | null;
      secure: boolean;
      gaveCert: boolean;
      direct: boolean;
    },
  ) {
    this.#socket = socket;
    this.address = init.address;
    this.alpnProtocol = init.alpnProtocol;
    this.#secure = init.secure;
    this.#gaveCert = init.gaveCert;
    socket.on("data", (chunk: Uint8Array) => {
      this.#received = true;
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= HIGH_WATER_MARK && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#notify();
    });
    // The server's end of the stream ends reading only: a write under way may still complete (a
    // server closes as soon as it reads DISCONNECT, before the write's callback has run).
    socket.on("end", () => this.#end());
    socket.on("error", (e: unknown) => {
      this.#end(this.#socketError(e));
      this.#failWrites();
    });
    socket.on("close", () => {
      this.#end();
      // The socket calls back every write when destroyed; this is for a runtime that does not.
      if (this.#writes.size > 0) setTimeout(() => this.#failWrites(), 0);
    });
    this.readable = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: CHUNK_SIZE,
      pull: (controller) => this.#pull(controller),
      cancel: () => this.close(),
    });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => {
        socket.end();
      },
      abort: () => this.close(),
    });
    const write = (p: Uint8Array) => this.#write(p).then(() => p.length);
    this.direct = init.direct ? { read: (p) => this.#read(p), write } : { write };
  }

  /** Destroys the socket; closing twice is harmless. A read waiting ends (end of stream). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#end();
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake !== undefined) {
      this.#wake = undefined;
      wake();
    }
  }

  /** No more bytes will come (`error` says why, if the connection failed): wakes the reader. */
  #end(error?: MqttError): void {
    if (error !== undefined && this.#error === undefined && !this.#closed) this.#error = error;
    this.#ended = true;
    this.#notify();
  }

  /** Rejects the writes not called back yet, with the connection's failure. */
  #failWrites(): void {
    if (this.#writes.size === 0) return;
    const failure = this.#error ?? new NodeSocketError(
      `Cannot write to ${this.address}: the connection is closed`,
      this.address,
    );
    for (const reject of this.#writes) reject(failure);
    this.#writes.clear();
  }

  /** Copies queued bytes into `p`: the count, or `null` at the end; throws the failure. */
  async #read(p: Uint8Array): Promise<number | null> {
    while (this.#queued === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return this.#copy(p);
  }

  #copy(p: Uint8Array): number {
    let n = 0;
    const chunks = this.#chunks;
    while (n < p.length && chunks.length > 0) {
      const chunk = chunks[0]!;
      const take = Math.min(chunk.length - this.#head, p.length - n);
      p.set(
        this.#head === 0 && take === chunk.length
          ? chunk
          : chunk.subarray(this.#head, this.#head + take),
        n,
      );
      n += take;
      this.#head += take;
      if (this.#head === chunk.length) {
        chunks.shift();
        this.#head = 0;
      }
    }
    this.#queued -= n;
    if (this.#paused && this.#queued < HIGH_WATER_MARK / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  async #pull(controller: ReadableByteStreamController): Promise<void> {
    // With autoAllocateChunkSize there is a request even for a default reader; a runtime that
    // ignores it gets chunks of its own.
    const request = controller.byobRequest;
    const view = request?.view;
    const target = view
      ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
      : new Uint8Array(CHUNK_SIZE);
    let n: number | null;
    try {
      n = await this.#read(target);
    } catch (e) {
      try {
        controller.error(e);
      } catch {
        // The stream was cancelled meanwhile.
      }
      return;
    }
    try {
      if (n === null) {
        controller.close();
        request?.respond(0);
      } else if (request) {
        request.respond(n);
      } else {
        controller.enqueue(target.subarray(0, n));
      }
    } catch {
      // The stream was cancelled or its reader released meanwhile: the bytes go with it.
    }
  }

  /**
   * Writes `chunk`; settles once the socket has handed it to the operating system (Node's write
   * callback), so at most one chunk waits in the socket's buffer: stricter than waiting for
   * `drain`, and the caller may reuse the chunk's memory once it settles.
   */
  #write(chunk: Uint8Array): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) {
      return Promise.reject(
        new NodeSocketError(
          `Cannot write to ${this.address}: the connection is closed`,
          this.address,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#writes.add(reject);
      this.#socket.write(chunk, (e?: Error | null) => {
        if (!this.#writes.delete(reject)) return;
        if (e) reject(this.#error ?? this.#socketError(e));
        else resolve();
      });
    });
  }

  /** The error to report for a failure of the open connection. */
  #socketError(e: unknown): MqttError {
    const code = codeOf(e);
    if (this.#secure) {
      const failure = tlsError(e, this.address, this.#gaveCert);
      if (failure !== undefined) return failure;
      if (!this.#received && (code === "ECONNRESET" || code === "EPIPE")) {
        // A TLS 1.3 server judges the client certificate after the handshake and closes with an
        // alert; a write that meets the closed connection first fails without reading the alert.
        return new TlsError(
          `The TLS connection to ${this.address} was closed by the server right after the ` +
            `handshake, before it sent anything (${code}): it probably ` +
            (this.#gaveCert
              ? "refused the client certificate (signed by a CA it does not trust, or expired)"
              : "requires a client certificate; give tls.cert and tls.key"),
          this.#gaveCert
            ? TlsFailure.ClientCertificateRejected
            : TlsFailure.ClientCertificateRequired,
          { cause: e },
        );
      }
    }
    const what = code === "ECONNRESET"
      ? "was reset (ECONNRESET): the server or the network dropped it"
      : code === "EPIPE"
      ? "was closed by the server while writing (EPIPE)"
      : `failed: ${messageOf(e)}`;
    return new NodeSocketError(
      `The connection to ${this.address} ${what}; reconnect (with the session, to resume it)`,
      this.address,
      { ...(code !== undefined ? { code } : {}), cause: e },
    );
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The error of a failed connection attempt: a TLS failure, or why TCP did not connect. */
function connectError(
  e: unknown,
  address: string,
  handshaking: boolean,
  gaveCert: boolean,
): Error {
  const failure = tlsError(e, address, gaveCert);
  if (failure !== undefined) return failure;
  const code = codeOf(e);
  if (handshaking || (code === undefined && /TLS|SSL|secure/i.test(messageOf(e)))) {
    return new TlsError(
      `The TLS handshake with ${address} failed: ${messageOf(e)} (is it a TLS port?)`,
      TlsFailure.HandshakeFailed,
      { cause: e },
    );
  }
  const hints: Record<string, string> = {
    ECONNREFUSED: "the connection was refused (ECONNREFUSED); is an MQTT server listening there?",
    ENOTFOUND: "the host name does not resolve (ENOTFOUND); check the host name",
    EAI_AGAIN: "the host name could not be resolved now (EAI_AGAIN); check DNS, then try again",
    ETIMEDOUT: "the connection timed out (ETIMEDOUT); check the address and the network",
    EHOSTUNREACH: "the host is unreachable (EHOSTUNREACH); check the address and the network",
    ENETUNREACH: "the network is unreachable (ENETUNREACH); check the address and the network",
    ECONNRESET: "the connection was reset while being made (ECONNRESET); try again",
  };
  const detail = (code !== undefined ? hints[code] : undefined) ??
    `${messageOf(e)}; check the address and that the server is running`;
  return new NodeConnectError(`Cannot connect to ${address}: ${detail}`, address, {
    ...(code !== undefined ? { code } : {}),
    cause: e,
  });
}

/** OpenSSL's verification results that mean "signed by no CA this side trusts". */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);
/** OpenSSL's other verification results: a certificate that is unusable otherwise. */
const INVALID = new Set([
  "CERT_SIGNATURE_FAILURE",
  "CERT_REJECTED",
  "CERT_REVOKED",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "HOSTNAME_MISMATCH",
]);

/**
 * The {@linkcode TlsError} for a TLS failure as Node (OpenSSL), Bun (BoringSSL) or Deno's
 * `node:tls` (rustls) reports it, or `undefined` when the error is not about TLS.
 */
function tlsError(e: unknown, address: string, gaveCert: boolean): TlsError | undefined {
  const code = codeOf(e) ?? "";
  const message = messageOf(e);
  const fail = (text: string, failure: TlsFailure) =>
    new TlsError(`The TLS handshake with ${address} failed: ${text}`, failure, { cause: e });
  // Deno's node:tls says what rustls says, as connectTls sees it.
  const peer = /invalid peer certificate: (\w+)/.exec(message)?.[1];
  // Deno's node:tls reports every verification failure as UNABLE_TO_VERIFY_LEAF_SIGNATURE,
  // expired and revoked certificates included: "not trusted" is all that can be said then.
  if (UNTRUSTED.has(code) || peer === "UnknownIssuer") {
    return fail(
      `the server's certificate is not signed by a trusted CA (${code || peer}); give the CA ` +
        "certificate that signed it in tls.ca",
      TlsFailure.UntrustedCertificate,
    );
  }
  if (
    code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH" ||
    /NotValidForName|not valid for name/.test(message)
  ) {
    return fail(
      `the server's certificate does not match the host name (${message}); connect with a ` +
        "host name the certificate names, or give that name as tls.servername",
      TlsFailure.NameMismatch,
    );
  }
  if (
    code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID" ||
    peer === "Expired" || peer === "NotValidYet"
  ) {
    return fail(
      `the server's certificate has expired or is not valid yet (${code || peer}); the server ` +
        "needs a current certificate (or check this machine's clock)",
      TlsFailure.ExpiredCertificate,
    );
  }
  if (INVALID.has(code) || peer !== undefined) {
    return fail(
      `the server's certificate is not acceptable (${code || message})`,
      TlsFailure.InvalidCertificate,
    );
  }
  const alert = alertOf(code, message);
  if (alert === undefined) return undefined;
  if (alert === "CERTIFICATE_REQUIRED") {
    return fail(
      "the server requires a client certificate (TLS alert certificate_required); give " +
        "tls.cert and tls.key",
      TlsFailure.ClientCertificateRequired,
    );
  }
  if (alert === "HANDSHAKE_FAILURE" && !gaveCert) {
    // What a TLS 1.2 server sends when a required client certificate is missing.
    return fail(
      "the server refused the handshake (TLS alert handshake_failure); if it requires a " +
        "client certificate, give tls.cert and tls.key",
      TlsFailure.HandshakeFailed,
    );
  }
  const rejected: Record<string, string> = {
    CERTIFICATE_EXPIRED: "the client certificate has expired or is not valid yet",
    UNKNOWN_CA: "the server does not trust the CA that signed the client certificate",
    BAD_CERTIFICATE: "the server rejected the client certificate as bad",
    UNSUPPORTED_CERTIFICATE: "the server does not support the client certificate",
    CERTIFICATE_REVOKED: "the client certificate has been revoked",
    CERTIFICATE_UNKNOWN: "the server rejected the client certificate",
    ACCESS_DENIED: "the server denied access to the client certificate's identity",
  };
  const reason = rejected[alert];
  const name = alert.toLowerCase();
  if (reason !== undefined && gaveCert) {
    return fail(`${reason} (TLS alert ${name})`, TlsFailure.ClientCertificateRejected);
  }
  return fail(`the server sent TLS alert ${name}`, TlsFailure.HandshakeFailed);
}

/**
 * The TLS alert an error reports, as `UPPER_SNAKE` words: from OpenSSL's code
 * (`ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`) or message (`tlsv1 alert unknown ca`), or from
 * rustls's message (`received fatal alert: CertificateRequired`).
 */
function alertOf(code: string, message: string): string | undefined {
  const fromCode = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(code)?.[1];
  if (fromCode !== undefined) return fromCode;
  const fromOpenSsl = /(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+)/i.exec(message)?.[1];
  if (fromOpenSsl !== undefined) return fromOpenSsl.trim().toUpperCase().replace(/ /g, "_");
  const fromRustls = /received fatal alert: (\w+)/.exec(message)?.[1];
  if (fromRustls !== undefined) {
    return fromRustls.replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
  }
  return undefined;
}
