/**
 * The end-to-end benchmark's raw ceiling: PUBLISH packets encoded before the clock starts, written
 * on a plain `Deno.Conn` (`read` and `write`, no streams), and a plain subscriber that frames what
 * it reads just enough to count the messages and answer them. No client does less work per
 * message, so what this reaches is what the broker allows at best.
 *
 * It keeps the protocol's rules: at QoS 1 and 2 at most the server's Receive Maximum in flight,
 * PUBACK / PUBREC / PUBREL / PUBCOMP answered, all in the same window as the clients. The answers
 * and the publications that acknowledgements make room for go out in one write per read.
 *
 * With `owned` in the configuration (the `raw-owned` client), the subscriber also copies each
 * PUBLISH it receives into a fresh buffer of its own, as any client that hands the application a
 * payload it may keep must: the cost of that memory is the floor of such a client, which the plain
 * raw path (skipping large payloads unread) does not pay.
 *
 * @module
 */

import { decode, encode, PacketType } from "../../src/codec/mod.ts";
import { measure, payloadOf, readConfig, Wakeup } from "./_common.ts";

const cfg = readConfig();
const qos = cfg.qos;

function fail(error: unknown): never {
  console.error(error);
  Deno.exit(1);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** The head of a packet: first byte, where its body starts, its Remaining Length. */
type OnPacket = (first: number, buf: Uint8Array, body: number, remaining: number) => void;

/** The most bytes of a large packet's body handed over before the rest is skipped unread. */
const HEAD = 1024;

/** Reads into one buffer and frames packets; a packet larger than the buffer is skipped past. */
class RawReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(256 * 1024);
  #start = 0;
  #end = 0;
  #skip = 0;
  #owned: boolean;
  /** The packet being copied (owned mode): skipped bytes go there too. */
  #own: Uint8Array | undefined;
  #ownAt = 0;
  /** The last PUBLISH copied (owned mode), kept until the next one as an application might. */
  kept: Uint8Array | undefined;

  constructor(conn: Deno.Conn, owned = false) {
    this.#conn = conn;
    this.#owned = owned;
  }

  /** Reads once and hands each packet to `onPacket`; `false` at the end of the stream. */
  async read(onPacket: OnPacket): Promise<boolean> {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#end === this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    this.#parse(onPacket);
    return true;
  }

  #parse(onPacket: OnPacket): void {
    const b = this.#buf;
    const end = this.#end;
    let p = this.#start;
    if (this.#skip > 0) {
      const s = Math.min(this.#skip, end - p);
      if (this.#own !== undefined) {
        this.#own.set(b.subarray(p, p + s), this.#ownAt);
        this.#ownAt += s;
        if (this.#ownAt === this.#own.length) this.kept = this.#own;
      }
      this.#skip -= s;
      p += s;
    }
    while (end - p >= 2) {
      let remaining = 0;
      let mult = 1;
      let i = 1;
      let framed = false;
      for (; i <= 4 && p + i < end; i++) {
        const c = b[p + i]!;
        remaining += (c & 0x7f) * mult;
        if ((c & 0x80) === 0) {
          framed = true;
          break;
        }
        mult *= 128;
      }
      if (!framed) break;
      const body = p + i + 1;
      const total = i + 1 + remaining;
      if (p + total <= end) {
        if (this.#owned && b[p]! >> 4 === PacketType.Publish) this.kept = b.slice(p, p + total);
        onPacket(b[p]!, b, body, remaining);
        p += total;
        continue;
      }
      if (total > b.length - HEAD) {
        // Too large for the buffer: hand over its head, skip the rest as it comes.
        if (body + Math.min(remaining, HEAD) > end) break;
        onPacket(b[p]!, b, body, remaining);
        if (this.#owned) {
          this.#own = new Uint8Array(total);
          this.#own.set(b.subarray(p, end));
          this.#ownAt = end - p;
        }
        this.#skip = p + total - end;
        p = end;
      }
      break;
    }
    this.#start = p;
  }
}

/** A reusable output buffer: answers and publications gathered for one write. */
class Out {
  buf: Uint8Array;
  length = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  ack(type: number, id: number): void {
    const b = this.buf;
    const p = this.length;
    b[p] = type;
    b[p + 1] = 2;
    b[p + 2] = id >> 8;
    b[p + 3] = id & 0xff;
    this.length = p + 4;
  }

  add(bytes: Uint8Array): number {
    const p = this.length;
    this.buf.set(bytes, p);
    this.length = p + bytes.length;
    return p;
  }
}

async function connect(id: string): Promise<[Deno.Conn, RawReader]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: cfg.port });
  conn.setNoDelay(true);
  await writeAll(
    conn,
    encode({
      type: PacketType.Connect,
      clientId: id,
      cleanStart: true,
      keepAlive: 0,
      username: cfg.username,
      password: new TextEncoder().encode(cfg.password),
    }),
  );
  const reader = new RawReader(conn, cfg.owned ?? false);
  let connack: Uint8Array | undefined;
  while (connack === undefined) {
    if (!await reader.read((_f, b, body, rem) => connack = b.slice(body - 2, body + rem))) {
      fail(new Error("no CONNACK"));
    }
  }
  const packet = decode(connack);
  if (packet.type !== PacketType.Connack || packet.reasonCode !== 0) fail(packet);
  receiveMaximum = packet.properties?.receiveMaximum ?? 65_535;
  return [conn, reader];
}

let receiveMaximum = 65_535;
const [subConn, subReader] = await connect(`${cfg.clientId}-sub`);
await writeAll(
  subConn,
  encode({
    type: PacketType.Subscribe,
    packetId: 1,
    subscriptions: [{ filter: cfg.topic, qos }],
  }),
);
let subacked = false;
while (!subacked) {
  if (!await subReader.read((first) => subacked = first >> 4 === PacketType.Suback)) {
    fail(new Error("no SUBACK"));
  }
}
const [pubConn, pubReader] = await connect(`${cfg.clientId}-pub`);
const limit = Math.min(cfg.window, receiveMaximum);

// Pre-encoded: the PUBLISH (its Packet Identifier patched in place at QoS 1 and 2) and, at QoS 0,
// a chunk of `window` of them for one write.
const template = encode({
  type: PacketType.Publish,
  topic: cfg.topic,
  payload: payloadOf(cfg.size),
  qos,
  ...(qos > 0 ? { packetId: 1 } : {}),
});
// The Packet Identifier is followed by the properties' length (one byte: 0) and the payload.
const idOffset = template.length - cfg.size - 1 - 2;
const large = template.length > 64 * 1024;
const chunk = new Uint8Array(qos === 0 ? template.length * cfg.window : 0);
for (let i = 0; qos === 0 && i < cfg.window; i++) chunk.set(template, i * template.length);

// --- the subscriber: counts and answers -------------------------------------------------------
let expected = 0;
let received = 0;
let payloadBytes = 0;
let lastAt = 0;
const allReceived = new Wakeup();
const subOut = new Out(256 * 1024);

function onSubPacket(first: number, b: Uint8Array, body: number, remaining: number): void {
  const type = first >> 4;
  if (type === PacketType.Publish) {
    const q = (first >> 1) & 3;
    const topicLength = (b[body]! << 8) | b[body + 1]!;
    let p = body + 2 + topicLength;
    if (q > 0) {
      subOut.ack(q === 1 ? 0x40 : 0x50, (b[p]! << 8) | b[p + 1]!);
      p += 2;
    }
    // Properties: a one-byte length here (the publisher sends none).
    const propertiesLength = b[p]!;
    payloadBytes += remaining - (p + 1 + propertiesLength - body);
    received++;
    if (received === expected) {
      lastAt = performance.now();
      allReceived.wake();
    }
  } else if (type === PacketType.Pubrel) {
    subOut.ack(0x70, (b[body]! << 8) | b[body + 1]!);
  }
}

const subLoop = (async () => {
  for (;;) {
    subOut.length = 0;
    if (!await subReader.read(onSubPacket)) return;
    if (subOut.length > 0) await writeAll(subConn, subOut.buf.subarray(0, subOut.length));
  }
})().catch((e) => closing || fail(e));

// --- the publisher: a window of flights, refilled as acknowledgements come --------------------
let closing = false;
let toSend = 0; // publications of the current phase not yet sent
let nextId = 1;
let inFlight = 0;
let maxInFlight = 0;
const flying = new Uint8Array(65_536);
const acked = new Wakeup();
const pubOut = new Out(large ? 64 * 1024 : limit * template.length + 64 * 1024);

function takeId(): number {
  const id = nextId;
  nextId = id === 0xffff ? 1 : id + 1;
  if (flying[id]) fail(new Error(`Packet Identifier ${id} still in flight`));
  flying[id] = 1;
  return id;
}

function onPubPacket(first: number, b: Uint8Array, body: number, remaining: number): void {
  const type = first >> 4;
  const id = (b[body]! << 8) | b[body + 1]!;
  if (remaining > 2 && b[body + 2]! >= 0x80) {
    fail(
      new Error(
        `${type === PacketType.Pubrec ? "PUBREC" : "PUBACK"} 0x${b[body + 2]!.toString(16)}`,
      ),
    );
  }
  if (type === PacketType.Pubrec) {
    pubOut.ack(0x62, id);
  } else if (type === PacketType.Puback || type === PacketType.Pubcomp) {
    if (!flying[id]) fail(new Error(`acknowledgement of ${id}, not in flight`));
    flying[id] = 0;
    inFlight--;
  }
}

let pubWrites = Promise.resolve();

/** Writes the answers gathered and the publications the window has room for, in turn. */
function refill(): Promise<void> {
  return pubWrites = pubWrites.then(write);
}

async function write(): Promise<void> {
  if (large) {
    if (pubOut.length > 0) await writeAll(pubConn, pubOut.buf.subarray(0, pubOut.length));
    pubOut.length = 0;
    while (inFlight < limit && toSend > 0) {
      const id = takeId();
      template[idOffset] = id >> 8;
      template[idOffset + 1] = id & 0xff;
      inFlight++;
      toSend--;
      await writeAll(pubConn, template);
    }
  } else {
    while (inFlight < limit && toSend > 0) {
      const p = pubOut.add(template);
      const id = takeId();
      pubOut.buf[p + idOffset] = id >> 8;
      pubOut.buf[p + idOffset + 1] = id & 0xff;
      inFlight++;
      toSend--;
    }
    if (pubOut.length > 0) await writeAll(pubConn, pubOut.buf.subarray(0, pubOut.length));
    pubOut.length = 0;
  }
  if (inFlight > maxInFlight) maxInFlight = inFlight;
}

const pubLoop = qos === 0 ? Promise.resolve() : (async () => {
  for (;;) {
    if (!await pubReader.read(onPubPacket)) return;
    await refill();
    acked.wake();
  }
})().catch((e) => closing || fail(e));

async function throughput(n: number): Promise<number> {
  expected += n;
  const done = allReceived.wait();
  const t0 = performance.now();
  if (qos === 0) {
    for (let i = 0; i < n; i += cfg.window) {
      const k = Math.min(cfg.window, n - i);
      await writeAll(pubConn, chunk.subarray(0, k * template.length));
    }
  } else {
    toSend = n;
    await refill();
  }
  await done;
  while (inFlight > 0) await acked.wait();
  return lastAt - t0;
}

async function latency(n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    expected++;
    const done = allReceived.wait();
    const t0 = performance.now();
    if (qos === 0) await writeAll(pubConn, template);
    else {
      toSend = 1;
      await refill();
    }
    await done;
    times.push(lastAt - t0);
    while (inFlight > 0) await acked.wait();
  }
  maxInFlight = qos > 0 ? 1 : 0;
  return times;
}

const result = await measure(cfg, {
  throughput,
  latency,
  payloadBytes: () => payloadBytes,
  maxInFlight: () => maxInFlight,
  receiveMaximum: () => receiveMaximum,
});
if (received !== expected) fail(new Error(`received ${received} of ${expected}`));

closing = true;
await writeAll(pubConn, new Uint8Array([0xe0, 0]));
await writeAll(subConn, new Uint8Array([0xe0, 0]));
pubConn.close();
subConn.close();
await Promise.all([subLoop, pubLoop]);
console.log(JSON.stringify(result));
