/**
 * A WebSocket transport over the standard `WebSocket` API only (no `Deno.*`, no `node:`), so it
 * runs as it is in browsers, Deno, Bun and Node 22+, and on Node 20 with a constructor passed in
 * (the `ws` package's). MQTT over WebSocket (chapter 6 of the specification): the subprotocol
 * `mqtt`, binary frames only, and packets that need not line up with frames.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import type { Transport } from "./transport.ts";

/**
 * The part of a WebSocket that {@linkcode connectWebSocket} uses: the standard `WebSocket` has
 * it, and so does the `ws` package's. Event objects differ between implementations; only
 * `data` (message), `code`, `reason` and `wasClean` (close) and `message` (error) are read.
 *
 * @example The global WebSocket is one
 * ```ts
 * import type { WebSocketLike } from "./websocket.ts";
 * const open = (url: string): WebSocketLike => new WebSocket(url, ["mqtt"]);
 * ```
 */
export interface WebSocketLike {
  /** The type of binary messages: set to `"arraybuffer"`. */
  binaryType: string;
  /** Bytes passed to `send()` and not yet sent. */
  readonly bufferedAmount: number;
  /** The subprotocol the server selected (`""` for none), once open. */
  readonly protocol: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends a binary frame with the bytes of `data`. */
  send(data: Uint8Array<ArrayBuffer>): void;
  /** Starts the closing handshake (or fails a connection being set up). */
  close(code?: number, reason?: string): void;
  /** Adds an event listener (`open`, `message`, `error`, `close`). */
  // The event types differ between implementations (the DOM's, Node's, the ws package's): any
  // listener type narrower than `any` makes one of them unassignable.
  // deno-lint-ignore no-explicit-any
  addEventListener(type: string, listener: (event: any) => void): void;
  /** Removes an event listener added with `addEventListener`. */
  // deno-lint-ignore no-explicit-any
  removeEventListener(type: string, listener: (event: any) => void): void;
}

/**
 * A `WebSocket` constructor: the global one, or on Node 20 the `ws` package's.
 *
 * @example On Node 20, with the `ws` package
 * ```ts ignore
 * import WebSocket from "ws";
 * import { connectWebSocket } from "@scope/mqtt5/transport";
 * const transport = await connectWebSocket("ws://127.0.0.1:8080", { WebSocket });
 * ```
 */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/**
 * A {@linkcode Transport} over WebSocket, as {@linkcode connectWebSocket} returns it.
 *
 * @example Waiting for the socket to be closed
 * ```ts ignore
 * import { connectWebSocket } from "@scope/mqtt5/transport";
 * const transport = await connectWebSocket("ws://127.0.0.1:8080");
 * transport.close();
 * await transport.closed;
 * ```
 */
export interface WebSocketTransport extends Transport {
  /** The URL connected to, without user name, password or query (as error messages show it). */
  readonly url: string;
  /**
   * Resolves once the socket is closed (its `close` event), whoever closed it: `close()` only
   * starts the closing handshake.
   */
  readonly closed: Promise<void>;
}

/**
 * Options of {@linkcode connectWebSocket}.
 *
 * @example A deadline and a smaller write buffer
 * ```ts
 * import type { WebSocketOptions } from "./websocket.ts";
 * const options: WebSocketOptions = {
 *   signal: AbortSignal.timeout(5000),
 *   highWaterMark: 16 * 1024,
 * };
 * ```
 */
export interface WebSocketOptions {
  /**
   * The subprotocols offered; they must include `"mqtt"` [MQTT-6.0.0-3], and the server must
   * select `"mqtt"` [MQTT-6.0.0-4]. Others are only offered (for a proxy that wants one).
   *
   * @default {["mqtt"]}
   */
  protocols?: readonly string[];
  /**
   * The `WebSocket` constructor to use, for runtimes without a global one (Node 20: the `ws`
   * package's default export).
   *
   * @default {globalThis.WebSocket}
   */
  WebSocket?: WebSocketConstructor;
  /**
   * The writable's backpressure: a write resolves once the socket's `bufferedAmount` (bytes sent
   * but not yet handed to the network) is at most this many bytes. While it is above, the
   * transport checks it every few milliseconds (the WebSocket API has no event for it).
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * The largest frame sent, in bytes: a write larger than this goes out as several binary frames
   * (a packet may span frames [MQTT-6.0.0-2]). Deno's own WebSocket (2.9) turns Nagle's algorithm
   * on for its socket (`TCP_NODELAY` 0) and writes a frame of more than 1024 bytes as two writes,
   * its header and then its payload: the payload waits for the server's acknowledgement of the
   * header, which a server waiting for the rest of the frame delays (40 ms on Linux). The client
   * writes a turn's packets at once, so the QoS 1 publications that a Receive Maximum of 20 lets
   * go (1.4 KB of 64-byte messages) waited 40 ms each time. Frames of at most 1024 bytes go out
   * whole, and the server's reply to the packets in the first releases the rest. A single packet
   * larger than that can still wait: the server has nothing to answer until it has all of it.
   *
   * @default {1024 with Deno's own WebSocket, Infinity with any other}
   */
  maxFrameSize?: number;
  /**
   * Aborts the connection attempt: connectWebSocket closes the socket and rejects with the
   * signal's reason (as every call of mqtt5 that takes a signal does).
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Connecting over WebSocket failed: the connection was refused or the handshake failed (the
 * WebSocket API gives no detail: see the runtime's log or `cause`), or the server selected
 * another subprotocol than `mqtt`, or none ([MQTT-6.0.0-4], with
 * {@linkcode WebSocketConnectError.protocol}). Not recoverable: nothing MQTT was sent; check the
 * URL (its path, e.g. `/mqtt`) and the server, then connect again.
 *
 * @example Telling a server without MQTT over WebSocket apart
 * ```ts ignore
 * import { connectWebSocket, WebSocketConnectError } from "@scope/mqtt5/transport";
 * try {
 *   await connectWebSocket("ws://127.0.0.1:8080/mqtt");
 * } catch (e) {
 *   if (e instanceof WebSocketConnectError && e.protocol !== undefined) {
 *     console.log(`the server selected "${e.protocol}", not "mqtt"`);
 *   }
 * }
 * ```
 */
export class WebSocketConnectError extends MqttError {
  /** The URL connected to, without user name, password or query. */
  readonly url: string;
  /**
   * The subprotocol the server selected (`""` for none) when that was the failure; `undefined`
   * when the connection did not open.
   */
  readonly protocol: string | undefined;

  /** Creates the error; `url` should be the redacted URL. */
  constructor(
    message: string,
    url: string,
    options: { protocol?: string; cause?: unknown } = {},
  ) {
    super(message, {
      recoverable: false,
      cause: options.cause,
      statement: options.protocol === undefined ? undefined : "MQTT-6.0.0-4",
    });
    this.name = "WebSocketConnectError";
    this.url = url;
    this.protocol = options.protocol;
  }
}

/**
 * An open WebSocket connection ended: the readable of a {@linkcode connectWebSocket} transport
 * errors with it once every byte received before is read, and writes after the end reject with
 * it. {@linkcode WebSocketClosedError.code} and {@linkcode WebSocketClosedError.reason} are the
 * close frame's (1006 and `""` when the connection was lost without one). Not recoverable:
 * reconnect (with the session, to resume it).
 *
 * A text frame from the server is a protocol error [MQTT-6.0.0-1]: the transport closes the
 * connection (code 1000, as the WebSocket API allows no other code below 3000) and ends with this
 * error, whose `statement` is `"MQTT-6.0.0-1"`. `close()` ends it with this error too, `code`
 * 1000 and `byServer` false.
 *
 * The client wraps transport errors: its `ConnectionClosedError` has this error as `cause`.
 *
 * @example Reading the close code after the connection ended
 * ```ts ignore
 * import { Client, ConnectionClosedError } from "@scope/mqtt5";
 * import { connectWebSocket, WebSocketClosedError } from "@scope/mqtt5/transport";
 * const client = new Client();
 * await client.connect(await connectWebSocket("ws://127.0.0.1:8080"));
 * try {
 *   for (;;) await client.poll();
 * } catch (e) {
 *   if (e instanceof ConnectionClosedError && e.cause instanceof WebSocketClosedError) {
 *     console.log(e.cause.code, e.cause.reason);
 *   }
 * }
 * ```
 */
export class WebSocketClosedError extends MqttError {
  /** The URL connected to, without user name, password or query. */
  readonly url: string;
  /** The close code: the server's, or the one this side sent. */
  readonly code: number;
  /** The close reason: the server's, or the one this side sent. */
  readonly reason: string;
  /**
   * `false` when this side ended the connection (`close()`, or a text frame from the server);
   * `true` when the server closed it or it was lost (code 1006).
   */
  readonly byServer: boolean;

  /** Creates the error; `url` should be the redacted URL. */
  constructor(
    message: string,
    url: string,
    options: {
      code: number;
      reason: string;
      byServer: boolean;
      statement?: string;
      cause?: unknown;
    },
  ) {
    super(message, { recoverable: false, statement: options.statement, cause: options.cause });
    this.name = "WebSocketClosedError";
    this.url = url;
    this.code = options.code;
    this.reason = options.reason;
    this.byServer = options.byServer;
  }
}

/** The subprotocol of MQTT over WebSocket. */
const MQTT = "mqtt";
/** `WebSocket.OPEN`. */
const OPEN = 1;
/** How often `bufferedAmount` is checked while it drains, and at most while it does not. */
const POLL_MIN_MS = 1;
const POLL_MAX_MS = 50;
/** How long a connection attempt this side gives up waits for the socket's `close` event. */
const CLOSE_WAIT_MS = 1_000;
/** The largest payload Deno's WebSocket writes with its header in one write (see `maxFrameSize`). */
const DENO_WHOLE_FRAME = 1024;

/** Whether `socket` is Deno's own WebSocket (not a `ws` package's one passed in on Deno). */
function isDenoWebSocket(socket: WebSocketLike): boolean {
  const global = globalThis as { Deno?: unknown; WebSocket?: new (...args: never[]) => unknown };
  return typeof global.Deno === "object" && global.WebSocket !== undefined &&
    socket instanceof global.WebSocket;
}

/**
 * Opens a WebSocket connection to an MQTT server (`ws://` or `wss://`) and returns it as a
 * {@linkcode Transport}. It offers the subprotocol `mqtt` and checks that the server selected it
 * [MQTT-6.0.0-3] [MQTT-6.0.0-4]; it sends binary frames only [MQTT-6.0.0-1]. Its readable is a
 * byte stream of the frames' bytes, so packets may span frames and a frame may hold several
 * [MQTT-6.0.0-2]; a text frame from the server closes the connection and errors the readable
 * with a {@linkcode WebSocketClosedError} [MQTT-6.0.0-1], as the connection's end does (with the
 * close code and reason). A write resolves once the socket's buffer is at most
 * {@linkcode WebSocketOptions.highWaterMark}.
 *
 * Throws `TypeError` for a URL the WebSocket API refuses, for `protocols` without `"mqtt"` and
 * where there is no `WebSocket` (before connecting); {@linkcode WebSocketConnectError} when
 * connecting fails; the signal's reason when aborted. Error messages name the URL without its
 * user name, password or query.
 *
 * The WebSocket API cannot pause reading: frames the client has not read yet are buffered.
 *
 * @example Publishing over WebSocket
 * ```ts ignore
 * import { Client } from "@scope/mqtt5";
 * import { connectWebSocket } from "@scope/mqtt5/transport";
 * const transport = await connectWebSocket("ws://127.0.0.1:8080/mqtt", {
 *   signal: AbortSignal.timeout(5000),
 * });
 * const client = new Client();
 * await client.connect(transport, { clientId: "ws-example" });
 * await client.publish({ topic: "demo/ws", qos: 1 }, "over WebSocket");
 * await client.disconnect();
 * ```
 */
export async function connectWebSocket(
  url: string | URL,
  options: WebSocketOptions = {},
): Promise<WebSocketTransport> {
  const protocols = [...options.protocols ?? [MQTT]];
  const shown = redactUrl(url);
  if (!protocols.includes(MQTT)) {
    throw new TypeError(
      `Cannot connect to ${shown}: protocols must include "mqtt" (MQTT-6.0.0-3)`,
    );
  }
  const highWaterMark = options.highWaterMark ?? 65_536;
  if (!(highWaterMark >= 0)) {
    throw new RangeError(`Cannot use highWaterMark ${highWaterMark}: give 0 or more bytes`);
  }
  const { maxFrameSize } = options;
  if (maxFrameSize !== undefined && !(maxFrameSize >= 1)) {
    throw new RangeError(`Cannot use maxFrameSize ${maxFrameSize}: give 1 or more bytes`);
  }
  const Constructor = options.WebSocket ??
    (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Constructor === undefined) {
    throw new TypeError(
      `Cannot connect to ${shown}: this runtime has no WebSocket; pass one as options.WebSocket ` +
        "(on Node 20, the ws package's)",
    );
  }
  const { signal } = options;
  signal?.throwIfAborted();
  let socket: WebSocketLike;
  try {
    socket = new Constructor(String(url), protocols);
  } catch (e) {
    throw new TypeError(`Cannot connect to ${shown}: ${messageOf(e)}`, { cause: e });
  }
  socket.binaryType = "arraybuffer";
  // Listening from the start, so that no frame after the opening handshake is missed.
  const transport = new SocketStreams(socket, shown, {
    highWaterMark,
    maxFrameSize: maxFrameSize ?? (isDenoWebSocket(socket) ? DENO_WHOLE_FRAME : Infinity),
  });
  try {
    await opened(socket, shown, signal);
  } catch (e) {
    transport.detach();
    throw e;
  }
  transport.start();
  return transport;
}

/**
 * Waits for the socket to open with the subprotocol `mqtt`. On any failure the socket is closed,
 * and a failure of this side's (abort, wrong subprotocol) waits for the socket's `close` event
 * (at most {@linkcode CLOSE_WAIT_MS}), so that nothing of it is left running.
 */
function opened(socket: WebSocketLike, url: string, signal: AbortSignal | undefined) {
  return new Promise<void>((resolve, reject) => {
    let cause: unknown;
    /** The error to reject with once the socket this side closed is closed. */
    let failure: { error: unknown } | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("error", onError);
      socket.removeEventListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    };
    const fail = (error: unknown, reason?: string) => {
      failure = { error };
      signal?.removeEventListener("abort", onAbort);
      close(socket, reason === undefined ? undefined : 1000, reason);
      timer = setTimeout(() => {
        done();
        reject(error);
      }, CLOSE_WAIT_MS);
    };
    const onOpen = () => {
      if (socket.protocol === MQTT) {
        done();
        resolve();
        return;
      }
      const selected = socket.protocol === "" ? "none" : `"${socket.protocol}"`;
      fail(
        new WebSocketConnectError(
          `The server at ${url} selected the WebSocket subprotocol ${selected}, not "mqtt" ` +
            "(MQTT-6.0.0-4): is it an MQTT over WebSocket endpoint?",
          url,
          { protocol: socket.protocol },
        ),
        "MQTT needs the subprotocol mqtt",
      );
    };
    const onError = (event: { message?: unknown; error?: unknown }) => {
      // The close event follows and says the rest.
      cause = event.error ?? (typeof event.message === "string" ? event.message : undefined);
    };
    const onClose = (event: { code?: number }) => {
      done();
      if (failure !== undefined) {
        reject(failure.error);
        return;
      }
      const detail = typeof cause === "string"
        ? cause
        : cause instanceof Error
        ? cause.message
        : `close code ${event.code || 1006}`;
      reject(
        new WebSocketConnectError(
          `Cannot connect to ${url} over WebSocket: ${detail}`,
          url,
          cause === undefined ? {} : { cause },
        ),
      );
    };
    const onAbort = () => fail(signal!.reason);
    socket.addEventListener("open", onOpen);
    socket.addEventListener("error", onError);
    socket.addEventListener("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The streams over one socket. The readable is pulled: frames wait in a queue until a read asks,
 * and go straight into the reader's view when it brings one (BYOB), as many as fit, a frame
 * larger than the view across several reads. The connection's end errors the readable only once
 * the queue is read, so no byte received is lost.
 */
class SocketStreams implements WebSocketTransport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly url: string;
  readonly closed: Promise<void>;
  #socket: WebSocketLike;
  #url: string;
  #highWaterMark: number;
  #maxFrameSize: number;
  #queue: Uint8Array<ArrayBuffer>[] = [];
  /** Bytes of `#queue[0]` already read. */
  #queueOffset = 0;
  #reader!: ReadableByteStreamController;
  #writer!: WritableStreamDefaultController;
  /** A read is waiting for bytes. */
  #wanted = false;
  /** Why the connection ended, once it has. */
  #ended: WebSocketClosedError | undefined;
  #opened = false;
  /** The writable was closed or aborted: it must not be errored. */
  #writableDone = false;
  #cause: unknown;
  /** The write waiting for `bufferedAmount` to drain. */
  #drain: { timer: ReturnType<typeof setTimeout>; reject: (e: unknown) => void } | undefined;
  #onMessage = (event: { data: unknown }) => this.#message(event.data);
  #onError = (event: { message?: unknown; error?: unknown }) => {
    this.#cause = event.error ?? event.message;
  };
  #onClose = (event: { code?: number; reason?: string; wasClean?: boolean }) => {
    // Deno 2.9 gives 0 for a connection lost without a close frame, where the standard says 1006.
    const code = event.code === undefined || event.code === 0 ? 1006 : event.code;
    const reason = event.reason ?? "";
    const url = this.#url;
    const message = code === 1006
      ? `The WebSocket connection to ${url} was lost (code 1006: no close frame)`
      : `The server closed the WebSocket connection to ${url} (code ${code}` +
        (reason === "" ? ")" : `, reason "${reason}")`);
    this.#end(
      new WebSocketClosedError(
        message,
        this.#url,
        {
          code,
          reason,
          byServer: true,
          ...(this.#cause !== undefined ? { cause: this.#cause } : {}),
        },
      ),
    );
  };

  constructor(
    socket: WebSocketLike,
    url: string,
    { highWaterMark, maxFrameSize }: { highWaterMark: number; maxFrameSize: number },
  ) {
    this.#socket = socket;
    this.#url = this.url = url;
    // Not Promise.withResolvers(): Node 20 has none.
    this.closed = new Promise<void>((resolve) => {
      const onClosed = () => {
        socket.removeEventListener("close", onClosed);
        resolve();
      };
      socket.addEventListener("close", onClosed);
    });
    this.#highWaterMark = highWaterMark;
    this.#maxFrameSize = maxFrameSize;
    this.readable = new ReadableStream({
      type: "bytes",
      start: (controller) => {
        this.#reader = controller;
      },
      pull: () => {
        this.#wanted = true;
        this.#deliver();
      },
      cancel: () => this.close(),
    });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writer = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeWritable(),
      abort: () => this.#closeWritable(),
    });
    socket.addEventListener("message", this.#onMessage);
  }

  /** The socket opened with `mqtt`: follow its end from now on. */
  start(): void {
    this.#opened = true;
    this.#socket.addEventListener("error", this.#onError);
    this.#socket.addEventListener("close", this.#onClose);
  }

  /** The socket did not open: let go of it. */
  detach(): void {
    this.#socket.removeEventListener("message", this.#onMessage);
  }

  close(): void {
    if (this.#ended !== undefined) return;
    const code = 1000;
    this.#end(
      new WebSocketClosedError(
        `The WebSocket connection to ${this.#url} was closed by this side`,
        this.#url,
        { code, reason: "", byServer: false },
      ),
      true,
    );
    close(this.#socket, code);
  }

  /** No half-close over WebSocket: ending the writable closes the connection. */
  #closeWritable(): void {
    this.#writableDone = true;
    this.close();
  }

  #message(data: unknown): void {
    if (this.#ended !== undefined) return;
    if (typeof data === "string") {
      // [MQTT-6.0.0-1] binary frames only: any other data frame closes the connection.
      const reason = "MQTT over WebSocket takes binary frames only";
      this.#end(
        new WebSocketClosedError(
          `The server at ${this.#url} sent a text frame; MQTT over WebSocket allows binary ` +
            "frames only (MQTT-6.0.0-1): the connection is closed",
          this.#url,
          { code: 1000, reason, byServer: false, statement: "MQTT-6.0.0-1" },
        ),
      );
      close(this.#socket, 1000, reason);
      return;
    }
    let bytes: Uint8Array<ArrayBuffer>;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) {
      // A Node Buffer (the ws package with binaryType ignored): a view, possibly of a pool.
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    } else {
      // A Blob would need an asynchronous read: binaryType "arraybuffer" rules it out.
      return;
    }
    if (bytes.length === 0) return;
    this.#queue.push(bytes);
    if (this.#wanted) this.#deliver();
  }

  /** Answers the pending read from the queue, or with the end once the queue is read. */
  #deliver(): void {
    if (!this.#wanted) return;
    const controller = this.#reader;
    const request = controller.byobRequest;
    if (this.#queue.length === 0) {
      if (this.#ended !== undefined) {
        this.#wanted = false;
        controller.error(this.#ended);
      }
      return;
    }
    this.#wanted = false;
    if (request === null) {
      // A default reader: hand over the first frame (what is left of it).
      const head = this.#queue.shift()!;
      const rest = this.#queueOffset === 0 ? head : head.subarray(this.#queueOffset);
      this.#queueOffset = 0;
      controller.enqueue(rest);
      return;
    }
    // Into the reader's own view: as many queued bytes as fit.
    const view = request.view!;
    const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    let filled = 0;
    while (filled < target.length && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const n = Math.min(head.length - this.#queueOffset, target.length - filled);
      target.set(head.subarray(this.#queueOffset, this.#queueOffset + n), filled);
      filled += n;
      this.#queueOffset += n;
      if (this.#queueOffset === head.length) {
        this.#queue.shift();
        this.#queueOffset = 0;
      }
    }
    request.respond(filled);
  }

  /**
   * Ends the transport with `error`: writes reject with it; the readable errors with it once
   * the queue is read, or at once when this side closed (`drop`: what is queued is dropped).
   */
  #end(error: WebSocketClosedError, drop = false): void {
    if (this.#ended !== undefined) return;
    this.#ended = error;
    const socket = this.#socket;
    socket.removeEventListener("message", this.#onMessage);
    if (this.#opened) {
      socket.removeEventListener("error", this.#onError);
      socket.removeEventListener("close", this.#onClose);
    }
    const drain = this.#drain;
    if (drain !== undefined) {
      this.#drain = undefined;
      clearTimeout(drain.timer);
      drain.reject(error);
    }
    if (!this.#writableDone) this.#writer.error(error);
    if (drop) {
      this.#queue = [];
      this.#queueOffset = 0;
      this.#wanted = false;
      this.#reader.error(error);
    } else {
      this.#deliver();
    }
  }

  /**
   * Sends `chunk` as one binary frame, or as several of at most `maxFrameSize` bytes; resolves
   * once the socket's buffer is low enough.
   */
  #write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#ended !== undefined) throw this.#ended;
    if (chunk.length === 0) return;
    const socket = this.#socket;
    // A closing socket would drop the bytes silently (the ws package's would throw): send
    // nothing, and wait for the close event, which rejects.
    if (socket.readyState === OPEN) {
      // A view of a SharedArrayBuffer is refused by the socket itself (a TypeError).
      const size = this.#maxFrameSize;
      if (chunk.length <= size) socket.send(chunk as Uint8Array<ArrayBuffer>);
      else {
        for (let at = 0; at < chunk.length; at += size) {
          socket.send(chunk.subarray(at, at + size) as Uint8Array<ArrayBuffer>);
        }
      }
      if (socket.bufferedAmount <= this.#highWaterMark) return;
    }
    return new Promise<void>((resolve, reject) => {
      let delay = POLL_MIN_MS;
      let last = socket.bufferedAmount;
      const check = () => {
        const now = socket.bufferedAmount;
        // A socket no longer open ends with its close event, which rejects instead.
        if (now <= this.#highWaterMark && socket.readyState === OPEN) {
          this.#drain = undefined;
          resolve();
          return;
        }
        // Every millisecond while it drains; backing off while it does not.
        delay = now < last ? POLL_MIN_MS : Math.min(POLL_MAX_MS, delay * 2);
        last = now;
        this.#drain!.timer = setTimeout(check, delay);
      };
      this.#drain = { timer: setTimeout(check, delay), reject };
    });
  }
}

/** Closes a socket; never throws. */
function close(socket: WebSocketLike, code?: number, reason?: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Closed already, or a code the implementation refuses.
  }
}

/** `url` without user name, password, query or fragment, for messages. */
function redactUrl(url: string | URL): string {
  const text = String(url);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return text.replace(/\/\/[^/?#]*@/, "//").replace(/[?#].*$/s, "");
  }
  const query = parsed.search === "" ? "" : "?…";
  parsed.username = "";
  parsed.password = "";
  parsed.search = "";
  parsed.hash = "";
  return parsed.href + query;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
