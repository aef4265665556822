/**
 * A TLS transport over `Deno.connectTls`: server verification against given CA certificates,
 * host name checking, client certificates, ALPN, and a {@linkcode TlsError} that says which of
 * these failed.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { connTransport } from "./tcp.ts";
import type { Transport } from "./transport.ts";

/**
 * Options of {@linkcode connectTls}.
 *
 * @example Server verification only, with a deadline
 * ```ts
 * import type { TlsOptions } from "./tls.ts";
 * const options: TlsOptions = {
 *   hostname: "mqtt.example.com",
 *   caCerts: ["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"],
 *   signal: AbortSignal.timeout(5000),
 * };
 * ```
 */
export interface TlsOptions {
  /**
   * The host to connect to. It is also the name the server's certificate must be valid for
   * (a DNS name, or an IP address the certificate lists as such) and the name sent as SNI:
   * `Deno.connectTls` has no separate server name.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** The port. @default {8883} */
  port?: number;
  /**
   * The CA certificates (PEM) that may sign the server's certificate, in addition to Deno's root
   * store (Mozilla's roots, or the system's with `DENO_TLS_CA_STORE=system`).
   *
   * @default {[]}
   */
  caCerts?: readonly string[];
  /**
   * The client certificate chain (PEM) for client-certificate authentication; give
   * {@linkcode TlsOptions.key} with it.
   *
   * @default {undefined}
   */
  cert?: string;
  /**
   * The private key (PEM: PKCS#8, SEC1 EC or PKCS#1 RSA) of {@linkcode TlsOptions.cert}.
   *
   * @default {undefined}
   */
  key?: string;
  /**
   * The protocols offered by ALPN, e.g. `["mqtt"]` (or `["x-amzn-mqtt-ca"]` for AWS IoT on port
   * 443); the one the server picked is {@linkcode TlsTransport.alpnProtocol}.
   *
   * @default {undefined} (no ALPN extension)
   */
  alpnProtocols?: readonly string[];
  /**
   * Aborts the connection attempt: connectTls rejects at once with the signal's reason and closes
   * the connection. Deno cannot cancel what lies beneath, though: `Deno.connectTls` takes no
   * signal, so a TCP connection still being set up is closed as soon as it is made; and a
   * handshake cut short keeps its socket open until the server sends something or closes.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * A {@linkcode Transport} over TLS, with what the handshake negotiated.
 *
 * @example Checking the protocol picked by ALPN
 * ```ts ignore
 * import { connectTls } from "@scope/mqtt5/transport";
 * const transport = await connectTls({ hostname: "localhost", alpnProtocols: ["mqtt"] });
 * console.log(transport.alpnProtocol); // "mqtt", or null when the server picked none
 * transport.close();
 * ```
 */
export interface TlsTransport extends Transport {
  /** The protocol the server picked by ALPN, or `null` when it picked none. */
  readonly alpnProtocol: string | null;
}

/**
 * Why a TLS connection failed, as {@linkcode TlsError.failure}.
 *
 * @example Telling an untrusted server apart
 * ```ts
 * import { TlsError, TlsFailure } from "./tls.ts";
 * function explain(e: unknown): string {
 *   if (e instanceof TlsError && e.failure === TlsFailure.UntrustedCertificate) {
 *     return "add the server's CA to caCerts";
 *   }
 *   return String(e);
 * }
 * ```
 */
export const TlsFailure = {
  /** The server's certificate is not signed by any CA in `caCerts` or Deno's root store. */
  UntrustedCertificate: "untrusted-certificate",
  /** The server's certificate is not valid for the host name connected to. */
  NameMismatch: "name-mismatch",
  /** The server's certificate has expired or is not valid yet. */
  ExpiredCertificate: "expired-certificate",
  /** The server's certificate is unusable otherwise (bad signature, wrong key usage, ...). */
  InvalidCertificate: "invalid-certificate",
  /** The server requires a client certificate and none was given. */
  ClientCertificateRequired: "client-certificate-required",
  /** The server rejected the client certificate (expired, unknown CA, bad, not allowed). */
  ClientCertificateRejected: "client-certificate-rejected",
  /** Any other handshake failure: no common protocol version or cipher, not a TLS server, ... */
  HandshakeFailed: "handshake-failed",
} as const;

/** Why a TLS connection failed: one of the values of {@linkcode TlsFailure}. */
export type TlsFailure = typeof TlsFailure[keyof typeof TlsFailure];

/**
 * The TLS handshake failed: the server's certificate was not accepted, or the server refused the
 * client's (see {@linkcode TlsError.failure}). Not recoverable: nothing MQTT was sent; fix the
 * certificates or the host name and connect again. `cause` is Deno's error.
 *
 * {@linkcode connectTls} throws it when the handshake fails. With TLS 1.3 the server judges the
 * client certificate only after the client's side of the handshake is done, so a refused client
 * certificate surfaces at the first read instead: the client's `connect()` then throws a
 * `ConnectionClosedError` whose `cause` is this error.
 *
 * @example Telling the failures apart
 * ```ts ignore
 * import { connectTls, TlsError } from "@scope/mqtt5/transport";
 * try {
 *   await connectTls({ hostname: "localhost", caCerts: [] });
 * } catch (e) {
 *   if (e instanceof TlsError) console.log(e.failure, e.message);
 * }
 * ```
 */
export class TlsError extends MqttError {
  /** What failed. */
  readonly failure: TlsFailure;

  /** Creates the error; `cause` is the underlying (Deno) error. */
  constructor(message: string, failure: TlsFailure, options: { cause?: unknown } = {}) {
    super(message, { recoverable: false, cause: options.cause });
    this.name = "TlsError";
    this.failure = failure;
  }
}

/**
 * Opens a TLS connection to an MQTT server, verifies the server's certificate against
 * `caCerts` (and Deno's root store) and the host name, authenticates with a client certificate
 * when `cert` and `key` are given, and completes the handshake before returning, so that a
 * failure shows here as a {@linkcode TlsError}.
 *
 * Throws `TypeError` for certificates or keys that are not PEM (before connecting), Deno's
 * network errors (`Deno.errors.ConnectionRefused`, ...) when the TCP connection fails,
 * {@linkcode TlsError} when the handshake fails, and the signal's reason when aborted.
 *
 * Deno's TLS connections cannot turn Nagle's algorithm off (`setNoDelay` is TCP-only), so the
 * first packet after the handshake may wait for the server's delayed acknowledgement (about 40 ms
 * on Linux); later request/response exchanges are not delayed.
 *
 * @example Client-certificate authentication
 * ```ts ignore
 * import { Client, connectTls } from "@scope/mqtt5";
 * const read = (name: string) => Deno.readTextFile(`examples/pki/${name}`);
 * const transport = await connectTls({
 *   hostname: "localhost",
 *   port: 8883,
 *   caCerts: [await read("ca.crt")],
 *   cert: await read("client.crt"),
 *   key: await read("client.key"),
 *   signal: AbortSignal.timeout(5000),
 * });
 * const client = new Client();
 * await client.connect(transport, { clientId: "tls-example" });
 * await client.disconnect();
 * ```
 */
export async function connectTls(options: TlsOptions = {}): Promise<TlsTransport> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8883;
  const { cert, key, signal } = options;
  const caCerts = [...options.caCerts ?? []];
  for (const [i, pem] of caCerts.entries()) {
    if (!pem.includes(PEM_CERTIFICATE)) {
      throw new TypeError(
        `Cannot use caCerts[${i}]: it holds no PEM certificate (${PEM_CERTIFICATE})`,
      );
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(
      "Cannot authenticate with a client certificate: give both cert and key (PEM), or neither",
    );
  }
  if (cert !== undefined && !cert.includes(PEM_CERTIFICATE)) {
    throw new TypeError(`Cannot use cert: it holds no PEM certificate (${PEM_CERTIFICATE})`);
  }
  if (key !== undefined && !PEM_PRIVATE_KEY.test(key)) {
    throw new TypeError(
      "Cannot use key: it holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
    );
  }
  signal?.throwIfAborted();

  const connecting = Deno.connectTls({
    hostname,
    port,
    caCerts,
    ...(options.alpnProtocols ? { alpnProtocols: [...options.alpnProtocols] } : {}),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
  }).catch((e) => {
    throw keyPairError(e) ?? e;
  });
  let conn: Deno.TlsConn;
  try {
    conn = await abortable(connecting, signal);
  } catch (e) {
    // Aborted: close the connection if it is made after all.
    connecting.then((late) => late.close(), () => {});
    throw e;
  }

  const onAbort = () => conn.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  let info: Deno.TlsHandshakeInfo;
  try {
    info = await conn.handshake();
  } catch (e) {
    try {
      conn.close();
    } catch {
      // Closed by the abort.
    }
    if (signal?.aborted) throw signal.reason;
    throw handshakeError(e, `${hostname}:${port}`, cert !== undefined) ??
      new TlsError(
        `The TLS handshake with ${hostname}:${port} failed: ${messageOf(e)}` +
          " (is it a TLS port?)",
        TlsFailure.HandshakeFailed,
        { cause: e },
      );
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const transport = connTransport(conn);
  return {
    readable: explainTlsFailures(conn.readable, `${hostname}:${port}`, cert !== undefined),
    writable: transport.writable,
    direct: transport.direct,
    close: transport.close,
    alpnProtocol: info.alpnProtocol,
  };
}

const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";
const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Rejects with the signal's reason when it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Deno's errors about the client certificate and key, which it reads before connecting. */
function keyPairError(e: unknown): TypeError | undefined {
  const message = messageOf(e);
  if (
    !/^(No keys found|No certificates found|keys may not be consistent|Unable to decode)/.test(
      message,
    )
  ) {
    return undefined;
  }
  return new TypeError(`Cannot use the client certificate and key: ${message}`, { cause: e });
}

/**
 * The {@linkcode TlsError} for a failure reported by Deno's TLS (rustls), or `undefined` when the
 * error is not about TLS (a reset connection, say).
 */
function handshakeError(e: unknown, server: string, gaveCert: boolean): TlsError | undefined {
  const message = messageOf(e);
  const fail = (text: string, failure: TlsFailure) =>
    new TlsError(`The TLS handshake with ${server} failed: ${text}`, failure, { cause: e });
  const peer = /invalid peer certificate: (.*)$/s.exec(message)?.[1];
  if (peer !== undefined) {
    if (peer.startsWith("UnknownIssuer")) {
      return fail(
        "the server's certificate is not signed by a trusted CA (UnknownIssuer); " +
          "give the CA certificate that signed it in caCerts",
        TlsFailure.UntrustedCertificate,
      );
    }
    if (/not valid for name|NotValidForName/.test(peer)) {
      return fail(
        `the server's certificate does not match the host name (${peer}); ` +
          "connect with a host name the certificate names",
        TlsFailure.NameMismatch,
      );
    }
    if (/expired|Expired|not valid (yet|before)|NotValidYet/.test(peer)) {
      return fail(
        `the server's certificate has expired or is not valid yet (${peer}); ` +
          "the server needs a current certificate (or check this machine's clock)",
        TlsFailure.ExpiredCertificate,
      );
    }
    return fail(
      `the server's certificate is not acceptable (${peer})`,
      TlsFailure.InvalidCertificate,
    );
  }
  const alert = /received fatal alert: (\w+)/.exec(message)?.[1];
  if (alert !== undefined) {
    if (alert === "CertificateRequired") {
      return fail(
        `the server requires a client certificate (TLS alert ${alert}); give cert and key`,
        TlsFailure.ClientCertificateRequired,
      );
    }
    if (alert === "HandshakeFailure" && !gaveCert) {
      // What a TLS 1.2 server sends when a required client certificate is missing.
      return fail(
        `the server refused the handshake (TLS alert ${alert}); if it requires a client ` +
          "certificate, give cert and key",
        TlsFailure.HandshakeFailed,
      );
    }
    const rejected: Record<string, string> = {
      CertificateExpired: "the client certificate has expired or is not valid yet",
      UnknownCA: "the server does not trust the CA that signed the client certificate",
      BadCertificate: "the server rejected the client certificate as bad",
      UnsupportedCertificate: "the server does not support the client certificate",
      CertificateRevoked: "the client certificate has been revoked",
      CertificateUnknown: "the server rejected the client certificate",
      AccessDenied: "the server denied access to the client certificate's identity",
    };
    const reason = rejected[alert];
    if (reason !== undefined && gaveCert) {
      return fail(`${reason} (TLS alert ${alert})`, TlsFailure.ClientCertificateRejected);
    }
    return fail(`the server sent TLS alert ${alert}`, TlsFailure.HandshakeFailed);
  }
  return undefined;
}

/**
 * `readable` with Deno's TLS errors turned into {@linkcode TlsError}s: a server that refuses the
 * client certificate after the client's side of the TLS 1.3 handshake says so at the first read.
 * Still a byte stream, so the client reads through a BYOB reader straight into its buffer.
 */
function explainTlsFailures(
  readable: ReadableStream<Uint8Array>,
  server: string,
  gaveCert: boolean,
): ReadableStream<Uint8Array> {
  const source = readable.getReader({ mode: "byob" });
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 16 * 1024,
    async pull(controller) {
      // With autoAllocateChunkSize there is always a request, even for a default reader.
      const request = controller.byobRequest!;
      const view = request.view!;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await source.read(
          new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
        );
      } catch (e) {
        controller.error(handshakeError(e, server, gaveCert) ?? e);
        return;
      }
      // The read transferred the request's buffer: hand the same memory back.
      if (result.done) {
        controller.close();
        if (result.value !== undefined) request.respondWithNewView(result.value);
        return;
      }
      request.respondWithNewView(result.value);
    },
    cancel(reason) {
      return source.cancel(reason);
    },
  });
}
