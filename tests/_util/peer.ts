/**
 * A scripted fake MQTT server for what no real broker does on request: malformed packets, AUTH
 * exchanges, odd CONNACKs, silence. The test reads the client's packets as raw bytes and writes
 * whatever bytes it likes.
 *
 * It only frames packets (one fixed-header byte, then the Remaining Length as a Variable Byte
 * Integer); it does not decode them, so it shares no code with the codec under test.
 *
 * Every wait has a timeout (5 seconds unless given), so that a client that never sends fails the
 * test instead of hanging it.
 *
 * @example A server that refuses every connection
 * ```ts
 * import { startPeer } from "./peer.ts";
 *
 * await using peer = await startPeer();
 * // connect the client to peer.hostname:peer.port, then:
 * await using conn = await peer.accept();
 * const connect = await conn.readPacket(); // connect[0] === 0x10
 * await conn.write(new Uint8Array([0x20, 0x03, 0x00, 0x87, 0x00])); // CONNACK Not authorized
 * await conn.readUntilClosed();
 * ```
 *
 * @module
 */

/** Options of the waiting methods of the peer. */
export interface WaitOptions {
  /**
   * How long to wait before rejecting, in milliseconds.
   * @default {5000}
   */
  timeoutMs?: number;
}

/** One connection to the peer (or, from {@linkcode connectRaw}, to a server). */
export interface PeerConnection extends AsyncDisposable {
  /** Bytes received so far. */
  readonly received: number;
  /**
   * Resolves with the next complete packet from the other side, fixed header included. Rejects
   * when it closes first (with the bytes of any partial packet in the message) or on timeout.
   */
  readPacket(options?: WaitOptions): Promise<Uint8Array>;
  /** Resolves with every byte not yet read, once the other side has closed its side. */
  readUntilClosed(options?: WaitOptions): Promise<Uint8Array>;
  /** Writes the bytes to the other side. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection; calling it again does nothing. */
  close(): void;
}

/** A listening fake server; `await using` closes it and every accepted connection. */
export interface Peer extends AsyncDisposable {
  /** The loopback address the peer listens on. */
  readonly hostname: "127.0.0.1";
  /** The port the peer listens on. */
  readonly port: number;
  /** Resolves with the next client connection. */
  accept(options?: WaitOptions): Promise<PeerConnection>;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * Starts a fake MQTT server on a free loopback port.
 *
 * @example
 * ```ts
 * await using peer = await startPeer();
 * console.log(peer.port);
 * ```
 */
export function startPeer(): Promise<Peer> {
  return Promise.resolve(new FakeServer());
}

/**
 * Connects to an MQTT server as a raw client with the same framing as the peer's connections:
 * hand-written packets out, whole packets in. For tests of the server fixture itself, and for
 * sending a real broker what the client under test never would.
 *
 * @example A CONNECT written by hand
 * ```ts
 * await using broker = await startMosquitto({ allowAnonymous: true });
 * await using conn = await connectRaw(broker);
 * await conn.write(connectBytes);
 * const connack = await conn.readPacket();
 * ```
 */
export async function connectRaw(
  address: { hostname: string; port: number },
): Promise<PeerConnection> {
  const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
  conn.setNoDelay(true);
  return new FramedConnection(conn);
}

/**
 * Returns the length of the first complete MQTT packet in `bytes` (fixed header included), or
 * `undefined` when more bytes are needed. Throws on a Remaining Length longer than 4 bytes.
 */
export function packetLength(bytes: Uint8Array): number | undefined {
  let remaining = 0;
  for (let i = 1; i <= 4; i++) {
    const byte = bytes[i];
    if (byte === undefined) return undefined;
    remaining += (byte & 0x7f) * 128 ** (i - 1);
    if ((byte & 0x80) === 0) {
      const length = 1 + i + remaining;
      return bytes.length >= length ? length : undefined;
    }
  }
  throw new Error("Malformed Remaining Length: more than 4 bytes");
}

class FakeServer implements Peer {
  readonly hostname = "127.0.0.1" as const;
  readonly port: number;
  #listener: Deno.TcpListener;
  #accepting: Promise<Deno.TcpConn> | undefined;
  #connections: FramedConnection[] = [];

  constructor() {
    this.#listener = Deno.listen({ hostname: this.hostname, port: 0 });
    this.port = this.#listener.addr.port;
  }

  async accept(options: WaitOptions = {}): Promise<PeerConnection> {
    // An accept that timed out is still pending on the listener: the next call takes it over.
    this.#accepting ??= this.#listener.accept();
    const conn = await withTimeout(
      this.#accepting,
      options.timeoutMs,
      "No client connected to the peer",
    );
    this.#accepting = undefined;
    conn.setNoDelay(true);
    const client = new FramedConnection(conn);
    this.#connections.push(client);
    return client;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    // A pending accept fails once the listener is closed; wait for it so that no op is left.
    await this.#accepting?.then((conn) => conn.close(), () => {});
    this.#accepting = undefined;
    await Promise.all(this.#connections.map((conn) => conn[Symbol.asyncDispose]()));
  }
}

class FramedConnection implements PeerConnection {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #reading: Promise<Uint8Array | null> | undefined;
  #ended = false;
  #closed = false;
  received = 0;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Reads more bytes into the buffer; false at end of stream (or once closed). */
  async #fill(timeoutMs: number | undefined, what: string): Promise<boolean> {
    if (this.#ended || this.#closed) return false;
    // A read that timed out is still pending on the socket: the next call takes it over.
    this.#reading ??= this.#readChunk();
    const chunk = await withTimeout(this.#reading, timeoutMs, what);
    this.#reading = undefined;
    if (chunk === null) {
      this.#ended = true;
      return false;
    }
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
    this.received += chunk.length;
    return true;
  }

  async #readChunk(): Promise<Uint8Array | null> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      const n = await this.#conn.read(chunk);
      return n === null ? null : chunk.slice(0, n);
    } catch (error) {
      if (this.#closed || error instanceof Deno.errors.ConnectionReset) return null;
      throw error;
    }
  }

  async readPacket(options: WaitOptions = {}): Promise<Uint8Array> {
    while (true) {
      const length = packetLength(this.#buffer);
      if (length !== undefined) {
        const packet = this.#buffer.slice(0, length);
        this.#buffer = this.#buffer.slice(length);
        return packet;
      }
      if (!await this.#fill(options.timeoutMs, "The other side sent no complete packet")) {
        throw new Error(
          "The other side closed the connection before a complete packet" +
            (this.#buffer.length ? ` (received ${hex(this.#buffer)})` : ""),
        );
      }
    }
  }

  async readUntilClosed(options: WaitOptions = {}): Promise<Uint8Array> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    while (await this.#fill(deadline - Date.now(), "The other side did not close the connection"));
    const rest = this.#buffer;
    this.#buffer = new Uint8Array(0);
    return rest;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    // A read left pending by a timeout fails now that the socket is closed; wait for it.
    await this.#reading?.catch(() => {});
    this.#reading = undefined;
  }
}

/** Rejects with `message` when `promise` takes longer than `timeoutMs`; clears its timer. */
async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number | undefined,
  message: string,
): Promise<T> {
  const ms = Math.max(0, timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 64), (b) => b.toString(16).padStart(2, "0")).join(" ") +
    (bytes.length > 64 ? ` ... (${bytes.length} bytes)` : "");
}
