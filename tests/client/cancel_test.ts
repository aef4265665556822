// Cancel safety: the PacketReader alone over in-memory streams (no permissions), then a client
// whose polls are aborted hundreds of times while a proxy trickles packets to it byte by byte.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { decode, DecodeError, encode, type Packet, PacketType } from "../../src/codec/mod.ts";
import {
  type ClientEvent,
  ConnectionClosedError,
  type IncomingMessageEvent,
} from "../../src/client/mod.ts";
import { PacketReader } from "../../src/client/_io.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, brokerIgnoreReason, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";
import { assertQuiet, Clients, uniqueTopic, waitFor } from "./_client.ts";
import { byteStream, concat, pattern, plainStream, readAll, splitEvery } from "./_bytes.ts";

const NONE = { permissions: "none" } as const;

function publish(topic: string, payload: Uint8Array, packetId?: number): Packet {
  return packetId === undefined
    ? { type: PacketType.Publish, topic, payload, qos: 0 }
    : { type: PacketType.Publish, topic, payload, qos: 1, packetId };
}

/** A mixed run of packets, with their bytes back to back. */
function samplePackets(): { packets: Packet[]; bytes: Uint8Array } {
  const packets: Packet[] = [
    publish("a/b", pattern(10, 1), 7),
    { type: PacketType.Puback, packetId: 3, reasonCode: 0x10 },
    { type: PacketType.Pingresp },
    publish("e", new Uint8Array(0)),
    {
      type: PacketType.Suback,
      packetId: 9,
      reasonCodes: [0, 1, 2, 0x80],
      properties: { reasonString: "ok" },
    },
    publish("long/" + "x".repeat(130), pattern(300, 2)),
    { type: PacketType.Disconnect, reasonCode: 0x8e },
  ];
  return { packets, bytes: concat(packets.map((p) => encode(p))) };
}

/** What the codec decodes from the same bytes: the reference for the reader. */
function decodedAll(packets: Packet[]): Packet[] {
  return packets.map((p) => decode(encode(p)));
}

/** A byte stream the test feeds by hand. */
function manualStream(): {
  stream: ReadableStream<Uint8Array>;
  push(bytes: Uint8Array): void;
  close(): void;
} {
  let controller!: ReadableByteStreamController;
  const stream = new ReadableStream({
    type: "bytes",
    start(c) {
      controller = c;
    },
  });
  return {
    stream,
    push: (bytes) => controller.enqueue(bytes.slice()),
    close: () => {
      controller.close();
      controller.byobRequest?.respond(0);
    },
  };
}

Deno.test({
  ...NONE,
  name: "PacketReader.next() reads the same packets whatever offset the stream splits them at",
  async fn() {
    const { packets, bytes } = samplePackets();
    const expected = decodedAll(packets);
    for (let k = 0; k <= bytes.length; k++) {
      const reader = new PacketReader(byteStream([bytes.subarray(0, k), bytes.subarray(k)]));
      deepStrictEqual(await readAll(reader, packets.length), expected, `split at ${k}`);
      await rejects(reader.next(), ConnectionClosedError);
      equal(reader.bytesRead, bytes.length);
    }
    // One byte per read, and three-byte chunks across every packet boundary.
    for (const size of [1, 3]) {
      const reader = new PacketReader(byteStream(splitEvery(bytes, size)));
      deepStrictEqual(await readAll(reader, packets.length), expected, `chunks of ${size}`);
    }
  },
});

Deno.test({
  ...NONE,
  name: "PacketReader.next() aborted mid-packet loses no byte: the next call finishes the packet",
  async fn() {
    const { packets, bytes } = samplePackets();
    const expected = decodedAll(packets);
    const { stream, push, close } = manualStream();
    const reader = new PacketReader(stream);
    const got: Packet[] = [];
    let aborts = 0;
    let i = 0;
    while (got.length < packets.length) {
      const controller = new AbortController();
      const next = reader.next(controller.signal);
      // Let the read start, abort it, then deliver one byte to nobody in particular.
      await Promise.resolve();
      controller.abort(new Error("give up"));
      try {
        got.push(await next);
        continue;
      } catch (e) {
        ok(e instanceof Error && e.message === "give up", String(e));
        aborts++;
      }
      if (i < bytes.length) push(bytes.subarray(i, ++i));
    }
    deepStrictEqual(got, expected);
    ok(aborts >= bytes.length - packets.length, `${aborts} aborts`);
    close();
    await rejects(reader.next(), ConnectionClosedError);
  },
});

Deno.test({
  ...NONE,
  name: "PacketReader.next() throws ConnectionClosedError when the stream ends mid-packet",
  async fn() {
    const bytes = encode(publish("a/b", pattern(50, 3), 1));
    for (const cut of [1, 2, 5, bytes.length - 1]) {
      const reader = new PacketReader(byteStream([bytes.subarray(0, cut)]));
      const e = await rejects(reader.next(), (e: unknown) => {
        ok(e instanceof ConnectionClosedError);
        ok(e.message.includes(`${cut} bytes`), e.message);
        return true;
      });
      equal(e, undefined);
    }
    const clean = new PacketReader(byteStream([encode({ type: PacketType.Pingresp })]));
    deepStrictEqual(await clean.next(), { type: PacketType.Pingresp });
    await rejects(clean.next(), /closed by the server/);
  },
});

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() refuses a length above maximumPacketSize with 0x95 before the body comes",
  async fn() {
    const { stream, push } = manualStream();
    const reader = new PacketReader(stream, { maximumPacketSize: 1000 });
    // PUBLISH, Remaining Length 16383 (0xFF 0x7F): 16386 bytes announced, none of the body sent.
    push(new Uint8Array([0x30, 0xff, 0x7f]));
    await rejects(reader.next(), (e: unknown) => {
      ok(e instanceof DecodeError);
      equal(e.reasonCode, 0x95);
      return true;
    });
    equal(reader.bytesRead, 3, "only the fixed header was read");

    // Exactly at the limit is accepted.
    const at = encode(publish("t", pattern(1000 - 7, 4)));
    equal(at.length, 1000);
    const ok1000 = new PacketReader(byteStream([at]), { maximumPacketSize: 1000 });
    equal((await ok1000.next()).type, PacketType.Publish);
  },
});

Deno.test({
  ...NONE,
  name: "PacketReader.next() returns payloads that stay valid after later reads reuse the buffer",
  async fn() {
    const payloads = Array.from({ length: 40 }, (_, i) => pattern(20 + i, i));
    const bytes = concat(payloads.map((p, i) => encode(publish(`t/${i}`, p))));
    for (const stream of [byteStream(splitEvery(bytes, 7)), plainStream(splitEvery(bytes, 7))]) {
      const reader = new PacketReader(stream, { bufferSize: 64 });
      const got: Uint8Array[] = [];
      for (let i = 0; i < payloads.length; i++) {
        const p = await reader.next();
        ok(p.type === PacketType.Publish);
        got.push(p.payload);
      }
      deepStrictEqual(got, payloads);
    }
  },
});

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() keeps small reads' payloads valid across many reads, each keeping at most 16 KiB alive",
  async fn() {
    // One packet per read, 300 of them (about 60 KiB): the small reads' packets share buffers
    // (the reader's arena), which must never be written again, and a payload kept must not keep
    // more than 16 KiB alive; a read bringing many packets gets a buffer of its own.
    const payloads = Array.from({ length: 300 }, (_, i) => pattern(20 + (i * 53) % 400, i));
    const encoded = payloads.map((p, i) => encode(publish(`arena/${i}`, p)));
    for (const make of [byteStream, plainStream]) {
      const reader = new PacketReader(make(encoded));
      const got: Uint8Array[] = [];
      for (let i = 0; i < payloads.length; i++) {
        const p = await reader.next();
        ok(p.type === PacketType.Publish);
        got.push(p.payload);
      }
      deepStrictEqual(got, payloads, `${make.name}: every payload as sent`);
      const buffers = new Set(got.map((p) => p.buffer));
      ok(buffers.size > 1 && buffers.size < 20, `${make.name}: ${buffers.size} buffers`);
      for (const p of got) ok(p.buffer.byteLength <= 16 * 1024, `${p.buffer.byteLength} bytes`);
    }
    const many = concat(encoded.slice(0, 100));
    const reader = new PacketReader(byteStream([many]));
    const first = await reader.next();
    ok(first.type === PacketType.Publish);
    equal(first.payload.buffer.byteLength, many.length, "a read of many packets: its own buffer");
  },
});

Deno.test({
  ...NONE,
  name: "PacketReader.next() reads a packet bigger than its read-ahead buffer, and what follows it",
  async fn() {
    const big = publish("big", pattern(5000, 5), 2);
    const packets: Packet[] = [
      { type: PacketType.Pingresp },
      big,
      { type: PacketType.Puback, packetId: 2, reasonCode: 0 },
      big,
    ];
    const bytes = concat(packets.map((p) => encode(p)));
    const expected = decodedAll(packets);
    for (const size of [1, 13, 100, 4096, bytes.length]) {
      for (const make of [byteStream, plainStream]) {
        const reader = new PacketReader(make(splitEvery(bytes, size)), { bufferSize: 64 });
        deepStrictEqual(
          await readAll(reader, packets.length),
          expected,
          `${make.name}, chunks of ${size}`,
        );
        await rejects(reader.next(), ConnectionClosedError);
        equal(reader.bytesRead, bytes.length);
      }
    }
  },
});

Deno.test({
  ...NONE,
  name: "PacketReader.next() works over a plain (non-byte) stream, chunks split anywhere",
  async fn() {
    const { packets, bytes } = samplePackets();
    const expected = decodedAll(packets);
    for (let k = 0; k <= bytes.length; k += 5) {
      const reader = new PacketReader(
        plainStream([bytes.subarray(0, k), bytes.subarray(k, k + 3), bytes.subarray(k + 3)]),
        { bufferSize: 32 },
      );
      deepStrictEqual(await readAll(reader, packets.length), expected, `split at ${k}`);
      await rejects(reader.next(), ConnectionClosedError);
    }
  },
});

Deno.test({
  ...NONE,
  name:
    "PacketReader.next() turns a malformed packet into DecodeError 0x81 and a failed stream into ConnectionClosedError",
  async fn() {
    // PUBACK with packet id 0 after a good PINGRESP; then a Remaining Length of five bytes.
    const reader = new PacketReader(byteStream([new Uint8Array([0xd0, 0x00, 0x40, 0x02, 0, 0])]));
    deepStrictEqual(await reader.next(), { type: PacketType.Pingresp });
    await rejects(reader.next(), (e: unknown) => e instanceof DecodeError);
    const long = new PacketReader(byteStream([new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 1])]));
    await rejects(long.next(), (e: unknown) => e instanceof DecodeError && e.reasonCode === 0x81);

    const failing = new PacketReader(
      new ReadableStream({
        type: "bytes",
        pull(c) {
          c.error(new Error("reset by peer"));
        },
      }),
    );
    await rejects(failing.next(), (e: unknown) => {
      ok(e instanceof ConnectionClosedError);
      ok(e.message.includes("reset by peer"));
      return true;
    });
  },
});

/** Aborts after a few microtasks or a zero timer, chosen by `i`, so aborts land everywhere. */
function shortSignal(i: number): { signal: AbortSignal; cancel(): void } {
  if (i % 3 === 0) {
    return { signal: AbortSignal.timeout(1), cancel() {} };
  }
  const controller = new AbortController();
  if (i % 3 === 1) {
    let n = i % 7;
    const tick = () => (n-- > 0 ? queueMicrotask(tick) : controller.abort());
    queueMicrotask(tick);
    return { signal: controller.signal, cancel() {} };
  }
  const timer = setTimeout(() => controller.abort(), 0);
  return { signal: controller.signal, cancel: () => clearTimeout(timer) };
}

Deno.test({
  name:
    "Client.poll() aborted hundreds of times while a proxy trickles packets byte by byte still delivers every message intact and in order",
  ignore: !brokerAvailable,
  async fn() {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    const credentials = { username: broker.username, password: broker.password };
    await using direct = new Clients(
      () => connectTcp({ hostname: broker.hostname, port: broker.port }),
      credentials,
    );
    await using slow = new Clients(
      () => connectTcp({ hostname: proxy.hostname, port: proxy.port }),
      credentials,
    );
    const topic = uniqueTopic("trickle");
    const { client: sub } = await slow.connect();
    await sub.subscribe({ filter: topic, qos: 2 });
    deepStrictEqual((await waitFor(sub, "subscribed")).reasonCodes, [2]);
    proxy.trickle({ chunk: 1, delayMs: 1, direction: "toClient" });

    const { client: pub } = await direct.connect();
    const sent: { payload: Uint8Array; qos: 0 | 1 | 2 }[] = [];
    for (let i = 0; i < 30; i++) {
      const qos = (i % 3) as 0 | 1 | 2;
      // Sizes from 0 to 160 bytes: some need a 2-byte Remaining Length.
      const payload = pattern((i * 37) % 161, i);
      sent.push({ payload, qos });
      await pub.publish({ topic, qos }, payload);
      if (qos === 1) await waitFor(pub, "acknowledged");
      if (qos === 2) await waitFor(pub, "completed");
    }

    const messages: IncomingMessageEvent[] = [];
    const others: ClientEvent["type"][] = [];
    let aborts = 0;
    const deadline = Date.now() + 30_000;
    for (let i = 0; messages.length < sent.length || others.length < 10; i++) {
      ok(Date.now() < deadline, `only ${messages.length} messages after 30 s`);
      const { signal, cancel } = shortSignal(i);
      try {
        const event = await sub.poll({ signal });
        if (event.type === "message") messages.push(event);
        else others.push(event.type);
      } catch (e) {
        ok(signal.aborted && e === signal.reason, `not an abort: ${e}`);
        aborts++;
      } finally {
        cancel();
      }
    }
    proxy.trickle(null);

    ok(aborts >= 200, `only ${aborts} aborts`);
    deepStrictEqual(
      messages.map((m) => ({ payload: m.payload, qos: m.qos })),
      sent,
      "every message, whole and in order",
    );
    deepStrictEqual(others, Array(10).fill("released"), "one PUBREL per QoS 2 message");
    ok(messages.every((m) => m.topic === topic && !m.dup));
    // The client answered every QoS 1 and 2 message: the broker has nothing more for it.
    await assertQuiet(sub);
  },
});
