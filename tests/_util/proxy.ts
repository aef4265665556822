/**
 * A loopback TCP proxy that tests put between a client and a broker to count, slow down, stall or
 * cut the bytes on the wire. Each accepted connection gets a fresh connection to the target.
 *
 * Byte counts are what has been written to the other side. Limits given to `cutAfter()` count from
 * the moment of the call: for a connection accepted after the call, that is from its start.
 *
 * @example Cut the connection in the middle of the client's first packet
 * ```ts
 * import { startProxy } from "./proxy.ts";
 *
 * await using proxy = await startProxy({ target: { hostname: "127.0.0.1", port: 1883 } });
 * proxy.cutAfter({ toServer: 5 }); // the next connection forwards 5 bytes to the server, then drops
 * // connect the client to proxy.hostname:proxy.port ...
 * ```
 *
 * @module
 */

/** Options of {@linkcode startProxy}. */
export interface ProxyOptions {
  /** Where each accepted connection is forwarded to. */
  target: { hostname: string; port: number };
}

/** Limits for {@linkcode Proxy.cutAfter}: bytes still to forward in a direction, then drop. */
export interface CutLimits {
  /** Bytes from the client to forward to the server before the cut. */
  toServer?: number;
  /** Bytes from the server to forward to the client before the cut. */
  toClient?: number;
}

/** Options of {@linkcode Proxy.trickle}. */
export interface TrickleOptions {
  /**
   * Bytes per write.
   * @default {1}
   */
  chunk?: number;
  /**
   * Pause after each write, in milliseconds.
   * @default {1}
   */
  delayMs?: number;
  /**
   * Which direction trickles.
   * @default {"toClient"}
   */
  direction?: "toClient" | "toServer";
}

/** One client connection through the proxy and its upstream connection. */
export interface ProxyConnection {
  /** 1 for the first accepted connection, then 2, 3, ... */
  readonly id: number;
  /** Bytes forwarded from the client to the server. */
  readonly toServer: number;
  /** Bytes forwarded from the server to the client. */
  readonly toClient: number;
  /** Whether both sockets are still open. */
  readonly open: boolean;
  /** Resolves once both sockets are closed and forwarding has stopped. */
  readonly closed: Promise<void>;
  /** Forwards at most the given bytes more in each direction named, then closes both sides. */
  cutAfter(limits: CutLimits): void;
  /** Closes both sides now. */
  cutNow(): void;
}

/** A running proxy; `await using` closes the listener and every connection. */
export interface Proxy extends AsyncDisposable {
  /** The loopback address the proxy listens on. */
  readonly hostname: "127.0.0.1";
  /** The port the proxy listens on. */
  readonly port: number;
  /** Bytes forwarded from clients to the server, over all connections. */
  readonly toServer: number;
  /** Bytes forwarded from the server to clients, over all connections. */
  readonly toClient: number;
  /** Every connection accepted so far, in order. */
  readonly connections: readonly ProxyConnection[];
  /** Resolves with the `n`th connection (1-based) once it has been accepted. */
  connection(n: number): Promise<ProxyConnection>;
  /**
   * Forwards at most the given bytes more in each direction named (counted from this call), then
   * closes both sides; applies once to each connection open now or, when none is open, to the
   * next connection accepted. A limit of 0 cuts at once.
   */
  cutAfter(limits: CutLimits): void;
  /** Closes every open connection now; later connections are forwarded as usual. */
  cutNow(): void;
  /** Forwards a direction in small delayed writes, on open and later connections; `null` stops. */
  trickle(options: TrickleOptions | null): void;
  /** Holds bytes in both directions (without closing) until {@linkcode Proxy.resume}. */
  pause(): void;
  /** Forwards again, starting with the bytes held since {@linkcode Proxy.pause}. */
  resume(): void;
}

/**
 * Starts a proxy on a free loopback port that forwards each connection to `options.target`.
 *
 * @example Count the bytes of a session
 * ```ts
 * await using proxy = await startProxy({ target: { hostname: "127.0.0.1", port: 1883 } });
 * // ... run a client against proxy.port, then:
 * console.log(proxy.toServer, proxy.toClient);
 * ```
 */
export function startProxy(options: ProxyOptions): Promise<Proxy> {
  return Promise.resolve(new TcpProxy(options.target));
}

type Direction = "toServer" | "toClient";

interface Trickle {
  chunk: number;
  delayMs: number;
  direction: Direction;
}

class TcpProxy implements Proxy {
  readonly hostname = "127.0.0.1" as const;
  readonly port: number;
  readonly connections: Connection[] = [];
  #target: { hostname: string; port: number };
  #listener: Deno.TcpListener;
  #acceptLoop: Promise<void>;
  #pendingCut: CutLimits | undefined;
  #waiters: { n: number; resolve: (conn: Connection) => void; reject: (e: Error) => void }[] = [];
  #disposed = false;
  /** Shared with every connection: the trickle setting and the pause gate. */
  readonly control: {
    trickle: Trickle | null;
    paused: PromiseWithResolvers<void> | null;
  } = { trickle: null, paused: null };

  constructor(target: { hostname: string; port: number }) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: this.hostname, port: 0 });
    this.port = this.#listener.addr.port;
    this.#acceptLoop = this.#accept();
  }

  get toServer(): number {
    return this.connections.reduce((sum, conn) => sum + conn.toServer, 0);
  }

  get toClient(): number {
    return this.connections.reduce((sum, conn) => sum + conn.toClient, 0);
  }

  async #accept() {
    while (true) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // The listener was closed.
      }
      let server: Deno.TcpConn;
      try {
        server = await Deno.connect(this.#target);
      } catch {
        client.close();
        continue;
      }
      if (this.#disposed) {
        client.close();
        server.close();
        return;
      }
      const conn = new Connection(this.connections.length + 1, client, server, this.control);
      this.connections.push(conn);
      if (this.#pendingCut) {
        conn.cutAfter(this.#pendingCut);
        this.#pendingCut = undefined;
      }
      for (const waiter of this.#waiters.filter((w) => w.n === conn.id)) waiter.resolve(conn);
      this.#waiters = this.#waiters.filter((w) => w.n !== conn.id);
    }
  }

  connection(n: number): Promise<ProxyConnection> {
    const conn = this.connections[n - 1];
    if (conn) return Promise.resolve(conn);
    if (this.#disposed) return Promise.reject(new Error("The proxy is closed"));
    const { promise, resolve, reject } = Promise.withResolvers<Connection>();
    this.#waiters.push({ n, resolve, reject });
    return promise;
  }

  cutAfter(limits: CutLimits): void {
    checkLimits(limits);
    const open = this.connections.filter((conn) => conn.open);
    if (open.length === 0) this.#pendingCut = { ...limits };
    for (const conn of open) conn.cutAfter(limits);
  }

  cutNow(): void {
    for (const conn of this.connections) conn.cutNow();
  }

  trickle(options: TrickleOptions | null): void {
    if (options === null) {
      this.control.trickle = null;
      return;
    }
    const chunk = options.chunk ?? 1;
    const delayMs = options.delayMs ?? 1;
    if (!Number.isSafeInteger(chunk) || chunk < 1) {
      throw new RangeError(`Cannot trickle ${chunk} bytes at a time: give a positive integer`);
    }
    if (!(delayMs >= 0)) {
      throw new RangeError(`Cannot trickle with a delay of ${delayMs} ms: give 0 or more`);
    }
    this.control.trickle = { chunk, delayMs, direction: options.direction ?? "toClient" };
  }

  pause(): void {
    this.control.paused ??= Promise.withResolvers<void>();
  }

  resume(): void {
    this.control.paused?.resolve();
    this.control.paused = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#listener.close();
    await this.#acceptLoop;
    for (const waiter of this.#waiters) waiter.reject(new Error("The proxy is closed"));
    this.#waiters = [];
    this.cutNow();
    this.resume();
    await Promise.all(this.connections.map((conn) => conn.closed));
  }
}

function checkLimits(limits: CutLimits) {
  for (const [name, limit] of Object.entries(limits)) {
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      throw new RangeError(`Cannot cut after ${limit} bytes ${name}: give an integer from 0`);
    }
  }
}

const BUFFER_SIZE = 64 * 1024;

class Connection implements ProxyConnection {
  readonly id: number;
  readonly closed: Promise<void>;
  toServer = 0;
  toClient = 0;
  #client: Deno.TcpConn;
  #server: Deno.TcpConn;
  #control: TcpProxy["control"];
  #open = true;
  /** Absolute byte counts at which to cut, per direction. */
  #cutAt: Record<Direction, number | undefined> = { toServer: undefined, toClient: undefined };
  /** Aborted on close: ends trickle delays and pause waits at once. */
  #abort = new AbortController();

  constructor(
    id: number,
    client: Deno.TcpConn,
    server: Deno.TcpConn,
    control: TcpProxy["control"],
  ) {
    this.id = id;
    this.#client = client;
    this.#server = server;
    this.#control = control;
    client.setNoDelay(true);
    server.setNoDelay(true);
    const pumps = [this.#pump(client, server, "toServer"), this.#pump(server, client, "toClient")];
    this.closed = Promise.all(pumps).then(() => this.cutNow());
  }

  get open(): boolean {
    return this.#open;
  }

  cutAfter(limits: CutLimits): void {
    checkLimits(limits);
    for (const direction of ["toServer", "toClient"] as const) {
      const limit = limits[direction];
      if (limit === undefined) continue;
      this.#cutAt[direction] = this[direction] + limit;
      if (limit === 0) this.cutNow();
    }
  }

  cutNow(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#abort.abort();
    this.#client.close();
    this.#server.close();
  }

  async #pump(from: Deno.TcpConn, to: Deno.TcpConn, direction: Direction) {
    const buffer = new Uint8Array(BUFFER_SIZE);
    try {
      while (this.#open) {
        const n = await from.read(buffer);
        if (n === null) {
          // End of stream: pass the half-close on and let the other direction finish.
          if (this.#open) await to.closeWrite();
          return;
        }
        let offset = 0;
        while (offset < n && this.#open) {
          if (this.#control.paused) await this.#wait(this.#control.paused.promise);
          const trickle = this.#control.trickle?.direction === direction
            ? this.#control.trickle
            : null;
          const cutAt = this.#cutAt[direction];
          let size = n - offset;
          if (trickle) size = Math.min(size, trickle.chunk);
          if (cutAt !== undefined) size = Math.min(size, cutAt - this[direction]);
          if (!this.#open) return;
          if (size > 0) {
            await writeAll(to, buffer.subarray(offset, offset + size));
            offset += size;
            this[direction] += size;
          }
          if (cutAt !== undefined && this[direction] >= cutAt) {
            // The bytes before the cut are on their way: send FIN after them, then drop both.
            await to.closeWrite().catch(() => {});
            this.cutNow();
            return;
          }
          if (trickle && trickle.delayMs > 0) {
            await this.#wait(delay(trickle.delayMs, this.#abort.signal));
          }
        }
      }
    } catch {
      // A reset, or our own close under a pending read or write: the connection is over.
      this.cutNow();
    }
  }

  #wait(promise: Promise<unknown>): Promise<unknown> {
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = () => resolve(undefined);
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve(undefined);
      });
    });
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
