/**
 * WebSocket servers for the WebSocket transport's tests, on free loopback ports.
 *
 * {@linkcode startWsBridge}: a real WebSocket server (`Deno.serve` and `Deno.upgradeWebSocket`)
 * that selects a subprotocol (`mqtt` by default) and bridges each connection to a TCP server
 * (Mosquitto's TCP listener) byte for byte: binary frames to TCP, TCP reads to binary frames. It
 * can reshape what it sends to the client (each TCP read cut into frames of a few bytes, or the
 * reads of a while gathered into one frame), send a text frame, close with a code and a reason,
 * and it counts what the client sends.
 *
 * {@linkcode startStalledWsServer}: a WebSocket server done by hand over `Deno.listen` that
 * completes the opening handshake and then reads nothing until told to, so that the client's
 * `bufferedAmount` grows (`Deno.upgradeWebSocket` always reads).
 *
 * @example Packets cut into frames of 1 to 7 bytes on their way to the client
 * ```ts
 * import { startWsBridge } from "./ws_bridge.ts";
 *
 * await using bridge = await startWsBridge({
 *   target: { hostname: "127.0.0.1", port: 1883 },
 *   split: { min: 1, max: 7 },
 * });
 * // connectWebSocket(bridge.url) ..., then:
 * console.log(bridge.connections[0]?.framesToClient);
 * ```
 *
 * @module
 */

/** How the bridge cuts the bytes it sends to the client into frames. */
export interface FrameShaping {
  /**
   * Cuts every TCP read into frames of `min` to `max` bytes (sizes from a seeded generator).
   * @default {undefined} (a frame per read)
   */
  split?: { min: number; max: number; seed?: number };
  /**
   * Gathers the TCP reads of this many milliseconds (from the first byte) into one frame, so a
   * frame holds several packets. Applied before `split`.
   * @default {undefined} (a frame per read)
   */
  coalesceMs?: number;
}

/** Options of {@linkcode startWsBridge}. */
export interface WsBridgeOptions extends FrameShaping {
  /** The TCP server each WebSocket connection is bridged to. */
  target: { hostname: string; port: number };
  /**
   * The subprotocol to select: `"mqtt"`, another one the client offered (Deno refuses one it did
   * not), or `null` to select none.
   * @default {"mqtt"}
   */
  protocol?: string | null;
  /**
   * Keeps the bytes of every frame sent to the client in {@linkcode BridgeConnection.sentFrames}.
   * @default {false}
   */
  recordFrames?: boolean;
}

/** One bridged WebSocket connection. */
export interface BridgeConnection {
  /** 1 for the first connection, then 2, 3, ... */
  readonly id: number;
  /** The subprotocols the client offered (`Sec-WebSocket-Protocol`), in order. */
  readonly offered: readonly string[];
  /** Binary frames received from the client. */
  readonly framesFromClient: number;
  /** Text frames received from the client (MQTT allows none). */
  readonly textFromClient: number;
  /** Bytes received from the client in binary frames. */
  readonly bytesFromClient: number;
  /** The size of every binary frame received from the client, in order. */
  readonly frameSizesFromClient: readonly number[];
  /** Frames sent to the client. */
  readonly framesToClient: number;
  /** Bytes sent to the client. */
  readonly bytesToClient: number;
  /** The frames sent to the client, with {@linkcode WsBridgeOptions.recordFrames}. */
  readonly sentFrames: readonly Uint8Array[];
  /** The close code and reason the connection ended with, once it has. */
  readonly closeEvent: { code: number; reason: string } | undefined;
  /** Resolves once the WebSocket and the TCP connection are both closed. */
  readonly closed: Promise<void>;
  /** Sends a text frame to the client. */
  sendText(text: string): void;
  /** Closes the WebSocket with a code and a reason (and the TCP connection). */
  close(code?: number, reason?: string): void;
}

/** A running bridge; `await using` closes every connection and the server. */
export interface WsBridge extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/mqtt`. */
  readonly url: string;
  /** Every connection accepted so far, in order. */
  readonly connections: readonly BridgeConnection[];
  /** Resolves with the `n`th connection (1-based) once its WebSocket is open. */
  connection(n: number): Promise<BridgeConnection>;
}

/**
 * Starts a WebSocket-to-TCP bridge on a free loopback port.
 *
 * @example Counting the frames the client sends
 * ```ts
 * await using bridge = await startWsBridge({ target: { hostname: "127.0.0.1", port: 1883 } });
 * // connect and publish through bridge.url, then:
 * console.log((await bridge.connection(1)).framesFromClient);
 * ```
 */
export function startWsBridge(options: WsBridgeOptions): Promise<WsBridge> {
  const { split, coalesceMs } = options;
  if (coalesceMs !== undefined && !(coalesceMs >= 0)) {
    throw new RangeError(`Cannot coalesce for ${coalesceMs} ms: give 0 or more`);
  }
  if (split !== undefined && !(split.min >= 1 && split.max >= split.min)) {
    throw new RangeError(
      `Cannot split into ${split.min} to ${split.max} bytes: give 1 <= min <= max`,
    );
  }
  return Promise.resolve(new Bridge(options));
}

class Bridge implements WsBridge {
  readonly url: string;
  readonly connections: Connection[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;
  #options: WsBridgeOptions;
  #waiters: { n: number; resolve: (conn: Connection) => void }[] = [];

  constructor(options: WsBridgeOptions) {
    this.#options = options;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
    this.url = `ws://127.0.0.1:${this.#server.addr.port}/mqtt`;
  }

  async #handle(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("WebSocket only", { status: 426 });
    }
    const offered = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect(this.#options.target);
    } catch {
      return new Response("The target refused the connection", { status: 502 });
    }
    tcp.setNoDelay(true);
    const protocol = this.#options.protocol === undefined ? "mqtt" : this.#options.protocol;
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request, protocol === null ? {} : { protocol });
    } catch (e) {
      tcp.close();
      return new Response(String(e), { status: 400 });
    }
    const conn = new Connection(
      this.connections.length + 1,
      offered,
      upgraded.socket,
      tcp,
      this.#options,
      () => {
        for (const waiter of this.#waiters.filter((w) => w.n === conn.id)) waiter.resolve(conn);
        this.#waiters = this.#waiters.filter((w) => w.n !== conn.id);
      },
    );
    this.connections.push(conn);
    return upgraded.response;
  }

  connection(n: number): Promise<BridgeConnection> {
    const conn = this.connections[n - 1];
    if (conn?.opened) return Promise.resolve(conn);
    const { promise, resolve } = Promise.withResolvers<Connection>();
    this.#waiters.push({ n, resolve });
    return promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const conn of this.connections) conn.close(1000, "The bridge is closing");
    await Promise.all(this.connections.map((conn) => conn.closed));
    await this.#server.shutdown();
  }
}

class Connection implements BridgeConnection {
  readonly id: number;
  readonly offered: readonly string[];
  readonly closed: Promise<void>;
  readonly frameSizesFromClient: number[] = [];
  readonly sentFrames: Uint8Array[] = [];
  framesFromClient = 0;
  textFromClient = 0;
  bytesFromClient = 0;
  framesToClient = 0;
  bytesToClient = 0;
  closeEvent: { code: number; reason: string } | undefined;
  opened = false;
  #socket: WebSocket;
  #tcp: Deno.TcpConn;
  #tcpWriter: WritableStreamDefaultWriter<Uint8Array>;
  #options: WsBridgeOptions;
  #random: () => number;
  #gathered: Uint8Array[] = [];
  #gatherTimer: ReturnType<typeof setTimeout> | undefined;
  #tcpClosed = false;

  constructor(
    id: number,
    offered: readonly string[],
    socket: WebSocket,
    tcp: Deno.TcpConn,
    options: WsBridgeOptions,
    onOpen: () => void,
  ) {
    this.id = id;
    this.offered = offered;
    this.#socket = socket;
    this.#tcp = tcp;
    this.#tcpWriter = tcp.writable.getWriter();
    this.#options = options;
    this.#random = seeded(options.split?.seed ?? id);
    socket.binaryType = "arraybuffer";
    const socketClosed = Promise.withResolvers<void>();
    socket.onclose = (event) => {
      this.closeEvent = { code: event.code, reason: event.reason };
      this.#closeTcp();
      socketClosed.resolve();
    };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        this.textFromClient++;
        return;
      }
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      this.framesFromClient++;
      this.bytesFromClient += bytes.length;
      this.frameSizesFromClient.push(bytes.length);
      // Queued in order by the writer; a failure means the TCP side is gone.
      this.#tcpWriter.write(bytes).catch(() => this.close(1000, "The TCP connection failed"));
    };
    const opened = Promise.withResolvers<void>();
    socket.onopen = () => {
      this.opened = true;
      opened.resolve();
      onOpen();
    };
    const pump = opened.promise.then(() => this.#pump());
    this.closed = Promise.all([socketClosed.promise, pump]).then(() => {});
  }

  /** TCP reads to the client, shaped into frames. */
  async #pump(): Promise<void> {
    try {
      for await (const chunk of this.#tcp.readable) {
        if (this.#options.coalesceMs === undefined) this.#send(chunk);
        else this.#gather(chunk);
      }
    } catch {
      // Closed under the read.
    }
    this.#flushGathered();
    // The server closed the TCP connection: close the WebSocket too.
    this.close(1000, "");
  }

  #gather(chunk: Uint8Array): void {
    this.#gathered.push(chunk);
    this.#gatherTimer ??= setTimeout(() => {
      this.#gatherTimer = undefined;
      this.#flushGathered();
    }, this.#options.coalesceMs);
  }

  #flushGathered(): void {
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    if (this.#gathered.length === 0) return;
    const length = this.#gathered.reduce((sum, c) => sum + c.length, 0);
    const frame = new Uint8Array(length);
    let at = 0;
    for (const c of this.#gathered) {
      frame.set(c, at);
      at += c.length;
    }
    this.#gathered = [];
    this.#send(frame);
  }

  #send(bytes: Uint8Array): void {
    const split = this.#options.split;
    if (split === undefined) {
      this.#frame(bytes);
      return;
    }
    for (let at = 0; at < bytes.length;) {
      const size = split.min + Math.floor(this.#random() * (split.max - split.min + 1));
      this.#frame(bytes.slice(at, at + size));
      at += size;
    }
  }

  #frame(bytes: Uint8Array): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(bytes);
    this.framesToClient++;
    this.bytesToClient += bytes.length;
    if (this.#options.recordFrames) this.sentFrames.push(bytes);
  }

  sendText(text: string): void {
    this.#socket.send(text);
  }

  close(code = 1000, reason = ""): void {
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    const state = this.#socket.readyState;
    if (state === WebSocket.CONNECTING || state === WebSocket.OPEN) {
      this.#socket.close(code, reason);
    }
    this.#closeTcp();
  }

  #closeTcp(): void {
    if (this.#tcpClosed) return;
    this.#tcpClosed = true;
    this.#tcpWriter.releaseLock();
    try {
      this.#tcp.close();
    } catch {
      // Closed already.
    }
  }
}

/** A small seeded generator of numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A WebSocket server that reads nothing after the opening handshake until resumed. */
export interface StalledWsServer extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Bytes read from the client after the handshake (frame headers included). */
  readonly bytesRead: number;
  /** Resolves once a client has completed the opening handshake. */
  readonly upgraded: Promise<void>;
  /** Starts reading (and discarding) what the client sends. */
  resume(): void;
}

/**
 * Starts a WebSocket server that completes one client's opening handshake (selecting `mqtt`)
 * and then reads nothing until {@linkcode StalledWsServer.resume}.
 *
 * @example A server that stops reading
 * ```ts
 * await using server = startStalledWsServer();
 * // connectWebSocket(server.url) and write until a write waits, then:
 * server.resume();
 * ```
 */
export function startStalledWsServer(): StalledWsServer {
  return new StalledServer();
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

class StalledServer implements StalledWsServer {
  readonly url: string;
  readonly upgraded: Promise<void>;
  bytesRead = 0;
  #listener: Deno.TcpListener;
  #conn: Deno.TcpConn | undefined;
  #resumed = Promise.withResolvers<void>();
  #done: Promise<void>;
  #closed = false;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.url = `ws://127.0.0.1:${this.#listener.addr.port}/`;
    const upgraded = Promise.withResolvers<void>();
    this.upgraded = upgraded.promise;
    this.#done = this.#serve(upgraded.resolve);
  }

  async #serve(onUpgraded: () => void): Promise<void> {
    let conn: Deno.TcpConn;
    try {
      conn = await this.#listener.accept();
    } catch {
      return; // Closed before a client came.
    }
    this.#conn = conn;
    const buffer = new Uint8Array(64 * 1024);
    try {
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) return;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "";
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + WS_GUID),
      );
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      const response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
      const bytes = new TextEncoder().encode(response);
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      onUpgraded();
      await this.#resumed.promise;
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) return;
        this.bytesRead += n;
      }
    } catch {
      // Closed under a read or write.
    }
  }

  resume(): void {
    this.#resumed.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    try {
      this.#conn?.close();
    } catch {
      // Closed already.
    }
    this.#resumed.resolve();
    await this.#done;
  }
}

/**
 * The MQTT packets in the bytes of `frames` (one byte stream cut into frames): for each packet,
 * the frame it starts in and the frame it ends in.
 */
export function packetsIn(frames: readonly Uint8Array[]): { first: number; last: number }[] {
  const frameOf: number[] = [];
  const bytes: number[] = [];
  frames.forEach((frame, i) => {
    for (const b of frame) {
      bytes.push(b);
      frameOf.push(i);
    }
  });
  const packets = [];
  for (let at = 0; at < bytes.length;) {
    let length = 0;
    let shift = 0;
    let p = at + 1;
    for (;;) {
      const b = bytes[p++]!;
      length += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const end = p + length;
    if (end > bytes.length) throw new Error("the frames do not hold whole packets in the end");
    packets.push({ first: frameOf[at]!, last: frameOf[end - 1]! });
    at = end;
  }
  return packets;
}
