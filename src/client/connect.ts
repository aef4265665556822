/**
 * {@linkcode connect}: a {@linkcode Client} connected from a URL in one call, over the transport
 * the URL and the runtime call for. A shortcut for the common case: the explicit transports
 * (`connectTcp`, `connectTls`, `connectWebSocket`, and `connectNode` from `@scope/mqtt5/node`)
 * with `new Client()` and {@linkcode Client.connect} stay the primary API, for everything this
 * does not cover.
 *
 * @module
 */

import type { Transport } from "../transport/transport.ts";
import { connectTcp } from "../transport/tcp.ts";
import { connectTls } from "../transport/tls.ts";
import { connectWebSocket, type WebSocketConstructor } from "../transport/websocket.ts";
import { Client } from "./client.ts";
import type { ClientOptions, ConnectOptions, ConnectResult } from "./types.ts";

// The types connect()'s options name, so that the client's entry point documents itself.
export type { WebSocketConstructor, WebSocketLike } from "../transport/websocket.ts";

/**
 * The TLS settings of {@linkcode connect} for `mqtts:` URLs, applied by `connectTls` on Deno and
 * by `connectNode` on Node and Bun.
 *
 * @example A private CA and a client certificate
 * ```ts
 * import type { UrlTlsOptions } from "./connect.ts";
 * const tls: UrlTlsOptions = {
 *   ca: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
 *   cert: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
 *   key: "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
 * };
 * ```
 */
export interface UrlTlsOptions {
  /**
   * CA certificates (PEM) that may sign the server's certificate. On Deno they add to Deno's root
   * store; on Node and Bun they replace the runtime's (as Node's `ca` does).
   *
   * @default {undefined} (the runtime's root store)
   */
  ca?: string | readonly string[];
  /**
   * The client certificate chain (PEM); give {@linkcode UrlTlsOptions.key} with it.
   *
   * @default {undefined}
   */
  cert?: string;
  /** The private key (PEM) of {@linkcode UrlTlsOptions.cert}. @default {undefined} */
  key?: string;
  /** The protocols offered by ALPN, e.g. `["mqtt"]`. @default {undefined} (no ALPN extension) */
  alpnProtocols?: readonly string[];
  /**
   * Node and Bun only: the name sent as SNI and checked against the certificate, when it
   * differs from the URL's host. Refused on Deno, whose TLS checks the host connected to.
   *
   * @default {the URL's host name, unless it is an IP address}
   */
  servername?: string;
}

/**
 * Options of {@linkcode connect}: those of {@linkcode Client.connect} (the CONNECT's, and the
 * `signal`, which bounds opening the transport too), with the client's and the transport's.
 *
 * @example A session that outlives the connection, with a deadline
 * ```ts
 * import type { ConnectUrlOptions } from "./connect.ts";
 * const options: ConnectUrlOptions = {
 *   clientId: "sensor-1",
 *   cleanStart: false,
 *   sessionExpiryInterval: 3600,
 *   signal: AbortSignal.timeout(5000),
 * };
 * ```
 */
export interface ConnectUrlOptions extends ConnectOptions {
  /** Options of the {@linkcode Client} created (its session, logger, ...). @default {{}} */
  client?: ClientOptions;
  /**
   * TLS settings for `mqtts:` URLs. Refused for `wss:`: the WebSocket API has none (its TLS is
   * the runtime's).
   *
   * @default {undefined} (the runtime's root store, the URL's host name)
   */
  tls?: UrlTlsOptions;
  /**
   * For `mqtt:` (and `mqtts:` on Node and Bun; Deno's `connectTls` has no such path): let the
   * client read through the connection's own reads instead of its readable stream
   * (`Transport.direct`; see `connectTcp`). Writes go through the connection's own writes
   * either way.
   *
   * @default {false}
   */
  direct?: boolean;
  /**
   * For `ws:` and `wss:` on a runtime without a global `WebSocket` (Node 20): the constructor
   * to use, e.g. the `ws` package's.
   *
   * @default {globalThis.WebSocket}
   */
  WebSocket?: WebSocketConstructor;
}

/**
 * What {@linkcode connect} returns: the connected client and what the server's CONNACK said
 * (`sessionPresent` tells whether flights need {@linkcode Client.resend}).
 *
 * @example
 * ```ts ignore
 * const { client, result } = await connect("mqtt://127.0.0.1");
 * console.log(result.sessionPresent, result.limits.receiveMaximum);
 * ```
 */
export interface ConnectedClient {
  /** The client, connected. */
  readonly client: Client;
  /** What the CONNACK said, as {@linkcode Client.connect} returns it. */
  readonly result: ConnectResult;
}

/** The default port of each URL scheme. */
const DEFAULT_PORTS = { "mqtt:": 1883, "mqtts:": 8883, "ws:": 80, "wss:": 443 } as const;

/**
 * Creates a {@linkcode Client} and connects it to the server at `url`, over the transport the
 * URL's scheme and the runtime call for:
 *
 * | URL | Deno | Node, Bun |
 * | --- | --- | --- |
 * | `mqtt://host[:1883]` | `connectTcp` | `connectNode` (loaded only then) |
 * | `mqtts://host[:8883]` | `connectTls` | `connectNode` with TLS |
 * | `ws://host[:80][/path]`, `wss://host[:443][/path]` | `connectWebSocket` | the same |
 *
 * A WebSocket URL string without a path gets `/mqtt`, the path most servers use (Mosquitto
 * accepts any; a `URL` object always has a path).
 * A user name and password in the URL become the CONNECT's, unless `options` give them. Returns
 * the client with the CONNACK's result; the transport is closed on any failure. To connect the
 * same client again (to resume its session), open a transport with {@linkcode openTransport}.
 *
 * Throws `TypeError` for a URL or options that cannot work (before connecting), the transport's
 * errors (`NodeConnectError`, `TlsError`, `WebSocketConnectError`, Deno's network errors), and
 * those of {@linkcode Client.connect}.
 *
 * This is the shortcut for the common case. The explicit transports (`connectTcp`,
 * `connectTls`, `connectWebSocket`, `connectNode`) with `new Client()` and
 * {@linkcode Client.connect} stay the primary API: they take every transport option, and any
 * object of the `Transport` shape.
 *
 * @example Connecting from any runtime
 * ```ts ignore
 * import { connect } from "@scope/mqtt5";
 * const { client } = await connect("mqtt://127.0.0.1:1883", {
 *   clientId: "sensor-1",
 *   signal: AbortSignal.timeout(5000),
 * });
 * await client.publish({ topic: "sensors/1", qos: 1 }, "21.5");
 * await client.disconnect();
 * ```
 */
export async function connect(
  url: string | URL,
  options: ConnectUrlOptions = {},
): Promise<ConnectedClient> {
  const { client: clientOptions, tls: _tls, direct: _direct, WebSocket: _ws, ...connectOptions } =
    options;
  const target = parse(url);
  const login: Pick<ConnectOptions, "username" | "password"> = {};
  if (options.username === undefined && target.username !== undefined) {
    login.username = target.username;
  }
  if (options.password === undefined && target.password !== undefined) {
    login.password = target.password;
  }
  const client = new Client(clientOptions);
  const transport = await open(target, options);
  const result = await client.connect(transport, { ...connectOptions, ...login });
  return { client, result };
}

/**
 * Opens the transport {@linkcode connect} would use for `url`, for a client of one's own: to
 * connect a client again after the connection was lost, with its session. The URL's user name
 * and password are not used here: give them to {@linkcode Client.connect}.
 *
 * @example Reconnecting with the session
 * ```ts ignore
 * import { connect, openTransport } from "@scope/mqtt5";
 * const url = "mqtt://127.0.0.1";
 * const options = { clientId: "sensor-1", cleanStart: false, sessionExpiryInterval: 3600 };
 * const { client } = await connect(url, options);
 * // ... the connection is lost ...
 * const result = await client.connect(await openTransport(url), options);
 * if (result.sessionPresent) await client.resend();
 * ```
 */
export function openTransport(
  url: string | URL,
  options: Omit<ConnectUrlOptions, "client"> = {},
): Promise<Transport> {
  try {
    return open(parse(url), options);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A parsed URL: where to connect, and the credentials it held. */
interface Target {
  scheme: keyof typeof DEFAULT_PORTS;
  hostname: string;
  port: number;
  /** The URL for WebSocket, without credentials and with the default path. */
  webSocketUrl: string;
  /** The URL as error messages show it, without credentials or query. */
  shown: string;
  username: string | undefined;
  password: string | undefined;
}

function parse(input: string | URL): Target {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new TypeError(
      `Cannot connect to "${redact(String(input))}": not a URL; give one like mqtt://host:1883`,
    );
  }
  const scheme = url.protocol;
  if (!Object.hasOwn(DEFAULT_PORTS, scheme)) {
    throw new TypeError(
      `Cannot connect to ${scheme}//${url.host}: the scheme must be mqtt:, mqtts:, ws: or wss:`,
    );
  }
  if (url.hostname === "") {
    throw new TypeError(`Cannot connect to ${scheme}//: the URL names no host`);
  }
  const defaultPort = DEFAULT_PORTS[scheme as keyof typeof DEFAULT_PORTS];
  const port = url.port === "" ? defaultPort : Number(url.port);
  const decode = (part: string, name: string) => {
    if (part === "") return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      throw new TypeError(
        `Cannot connect to ${scheme}//${url.host}: the URL's ${name} has a malformed %-escape`,
      );
    }
  };
  const username = decode(url.username, "user name");
  const password = decode(url.password, "password");
  const ws = new URL(url.href);
  ws.username = "";
  ws.password = "";
  // "ws://host" and "ws://host/" both parse with the path "/": only the first gets the default.
  if (ws.pathname === "/" && !/^[a-z]+:\/\/[^/?#]*\/([?#]|$)/i.test(String(input))) {
    ws.pathname = "/mqtt";
  }
  return {
    scheme: scheme as keyof typeof DEFAULT_PORTS,
    // An IPv6 address comes in brackets: the socket wants it without.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    webSocketUrl: ws.href,
    shown: `${scheme}//${url.host}`,
    username,
    password,
  };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//").replace(/[?#].*$/, "");
}

async function open(target: Target, options: Omit<ConnectUrlOptions, "client">) {
  const { tls, signal } = options;
  const direct = options.direct ?? false;
  if (target.scheme === "ws:" || target.scheme === "wss:") {
    if (tls !== undefined) {
      throw new TypeError(
        `Cannot apply the tls options to ${target.shown}: the WebSocket API takes no TLS ` +
          "settings (its TLS is the runtime's); use an mqtts: URL for them",
      );
    }
    return await connectWebSocket(target.webSocketUrl, {
      ...(options.WebSocket !== undefined ? { WebSocket: options.WebSocket } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
  }
  const secure = target.scheme === "mqtts:";
  if (!secure && tls !== undefined) {
    throw new TypeError(
      `Cannot apply the tls options to ${target.shown}: it is plain TCP; use an mqtts: URL`,
    );
  }
  const { hostname, port } = target;
  const deno = (globalThis as { Deno?: { version?: unknown } }).Deno;
  if (deno === undefined) {
    const { connectNode } = await import("../transport/node.ts");
    return await connectNode({
      hostname,
      port,
      direct,
      ...(secure ? { tls: tls ?? true } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
  }
  if (!secure) {
    return await connectTcp({ hostname, port, direct, ...(signal ? { signal } : {}) });
  }
  if (tls?.servername !== undefined) {
    throw new TypeError(
      `Cannot use tls.servername on Deno: Deno.connectTls checks the certificate against the ` +
        `host connected to; connect to mqtts://${tls.servername}:${port} instead`,
    );
  }
  const ca = tls?.ca;
  return await connectTls({
    hostname,
    port,
    ...(ca !== undefined ? { caCerts: typeof ca === "string" ? [ca] : ca } : {}),
    ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls?.key !== undefined ? { key: tls.key } : {}),
    ...(tls?.alpnProtocols !== undefined ? { alpnProtocols: tls.alpnProtocols } : {}),
    ...(signal !== undefined ? { signal } : {}),
  });
}
