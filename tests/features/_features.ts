// Helpers of the feature tests: clients of a Mosquitto, a wire tap that records what the client
// wrote, Mosquitto's log, and a client connected to a scripted peer.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  type Connack,
  type ConnectOptions,
  type ConnectResult,
  decode,
  encode,
  type IncomingMessageEvent,
  type Packet,
  PacketType,
  ProtocolViolationError,
  type Publish,
  type PublishProperties,
  type QoS,
  type SubscribeOptions,
  type SubscribeRequest,
} from "../../mod.ts";
import { connectTcp, type Transport } from "../../src/transport/mod.ts";
import type { Mosquitto } from "../_util/mosquitto.ts";
import { packetLength, type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { Clients, nextEvent, waitFor } from "../client/_client.ts";

export {
  assertQuiet,
  Clients,
  nextEvent,
  pollUntil,
  text,
  uniqueTopic,
  waitFor,
} from "../client/_client.ts";

const te = new TextEncoder();

/** Clients of `broker`, logged in with its user. */
export function clientsOf(broker: Mosquitto): Clients {
  return new Clients(
    () => connectTcp({ hostname: broker.hostname, port: broker.port }),
    { username: broker.username, password: broker.password },
  );
}

/** The next event, which must be a message. */
export async function message(client: Client, ms = 5000): Promise<IncomingMessageEvent> {
  const event = await nextEvent(client, ms);
  equal(event.type, "message", `expected a message, got ${JSON.stringify(event)}`);
  return event as IncomingMessageEvent;
}

/** Subscribes and waits for the SUBACK, which must grant what was asked. */
export async function subscribed(
  client: Client,
  requests: SubscribeRequest | SubscribeRequest[],
  options: SubscribeOptions = {},
): Promise<void> {
  const list = Array.isArray(requests) ? requests : [requests];
  const id = await client.subscribe(list, options);
  const suback = await waitFor(client, "subscribed");
  equal(suback.packetId, id);
  deepStrictEqual(suback.reasonCodes, list.map((r) => r.qos ?? 0));
}

/**
 * Records every byte a client writes to its transport, and decodes it with the codec: the bytes
 * still go to the server unchanged, the tap only keeps a copy.
 */
export class Wiretap {
  #chunks: Uint8Array[] = [];

  /** Keeps a copy of a chunk written. */
  record(chunk: Uint8Array): void {
    this.#chunks.push(chunk.slice());
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.#chunks.reduce((n, c) => n + c.length, 0);
  }

  /** Every whole packet written so far, decoded with the codec's `decode`. */
  packets(): Packet[] {
    const all = new Uint8Array(this.bytes);
    let offset = 0;
    for (const c of this.#chunks) {
      all.set(c, offset);
      offset += c.length;
    }
    const packets: Packet[] = [];
    let rest = all;
    for (;;) {
      const length = packetLength(rest);
      if (length === undefined) break;
      packets.push(decode(rest.slice(0, length)));
      rest = rest.subarray(length);
    }
    return packets;
  }

  /** The packets written after the first `count`. */
  since(count: number): Packet[] {
    return this.packets().slice(count);
  }
}

/** A TCP transport to `address` whose written bytes `tap` records. */
export async function tappedTcp(
  address: { hostname: string; port: number },
  tap: Wiretap,
): Promise<Transport> {
  const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
  conn.setNoDelay(true);
  const writer = conn.writable.getWriter();
  let closed = false;
  return {
    readable: conn.readable,
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        tap.record(chunk);
        return writer.write(chunk);
      },
    }),
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** Waits until Mosquitto's log matches `pattern` (it needs `verbose: true` for packet lines). */
export async function waitForLog(
  broker: Mosquitto,
  pattern: RegExp,
  ms = 5000,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = broker.logs().match(pattern);
    if (match) return match;
    if (Date.now() > deadline) {
      throw new Error(`Mosquitto's log has no ${pattern} within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A PUBLISH packet, as a server would send it. */
export function publishPacket(
  topic: string,
  payload: string | Uint8Array,
  qos: QoS,
  packetId?: number,
  properties?: PublishProperties,
): Publish {
  return {
    type: PacketType.Publish,
    topic,
    payload: typeof payload === "string" ? te.encode(payload) : payload,
    qos,
    ...(packetId !== undefined ? { packetId } : {}),
    ...(properties !== undefined ? { properties } : {}),
  };
}

/** A client connected to a scripted peer that answered its CONNECT with `connack`. */
export class PeerHarness implements AsyncDisposable {
  /** Creates the harness; use {@linkcode openPeer}. */
  constructor(
    readonly peer: Peer,
    readonly client: Client,
    readonly conn: PeerConnection,
    readonly connect: Packet & { type: typeof PacketType.Connect },
    readonly result: ConnectResult,
    readonly ownsPeer: boolean,
  ) {}

  /** The next packet the client sent, decoded with the codec. */
  async sent(timeoutMs?: number): Promise<Packet> {
    return decode(await this.conn.readPacket(timeoutMs === undefined ? {} : { timeoutMs }));
  }

  /** Sends a packet (or raw bytes) to the client. */
  send(packet: Packet | Uint8Array): Promise<void> {
    return this.conn.write(packet instanceof Uint8Array ? packet : encode(packet));
  }

  /** Asserts that the client sent nothing more and closed the connection. */
  async assertClosedQuietly(): Promise<void> {
    equal((await this.conn.readUntilClosed()).length, 0, "nothing more from the client");
  }

  /** Aborts the client; closes the peer too unless it was given to {@linkcode openPeer}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.client.abort();
    this.conn.close();
    if (this.ownsPeer) await this.peer[Symbol.asyncDispose]();
  }
}

/** Options of {@linkcode openPeer}. */
export interface OpenPeerOptions {
  /** Options of `connect()`. */
  connect?: ConnectOptions;
  /** Options of the `Client`. */
  client?: ClientOptions;
  /** What the CONNACK says besides success. */
  connack?: Partial<Connack>;
  /** A peer to reuse (for a reconnect; the caller disposes it); a new one otherwise. */
  peer?: Peer;
  /** A client to reuse (for a reconnect). */
  reuse?: Client;
}

/** Connects a client to a scripted peer and answers its CONNECT. */
export async function openPeer(options: OpenPeerOptions = {}): Promise<PeerHarness> {
  const peer = options.peer ?? await startPeer();
  const client = options.reuse ?? new Client(options.client);
  const connecting = client.connect(
    await connectTcp({ hostname: peer.hostname, port: peer.port }),
    { clientId: "feature-test", ...options.connect },
  );
  const conn = await peer.accept();
  const connect = decode(await conn.readPacket());
  ok(connect.type === PacketType.Connect, "the first packet is CONNECT");
  await conn.write(
    encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0, ...options.connack }),
  );
  return new PeerHarness(peer, client, conn, connect, await connecting, options.peer === undefined);
}

/**
 * Asserts that `action` throws ProtocolViolationError with `reasonCode`, that the client sent
 * DISCONNECT with exactly that code (decoded from its bytes), and closed the connection after it.
 */
export async function assertViolation(
  h: PeerHarness | PeerConnection,
  action: Promise<unknown>,
  reasonCode: number,
): Promise<void> {
  const conn = h instanceof PeerHarness ? h.conn : h;
  await rejects(action, (e: unknown) => {
    ok(e instanceof ProtocolViolationError, String(e));
    equal(e.reasonCode, reasonCode);
    equal(e.recoverable, false);
    return true;
  });
  deepStrictEqual(decode(await conn.readPacket()), { type: PacketType.Disconnect, reasonCode });
  equal((await conn.readUntilClosed()).length, 0, "nothing more from the client");
  if (h instanceof PeerHarness) equal(h.client.state, "closed");
}
