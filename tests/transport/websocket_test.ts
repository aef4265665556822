// connectWebSocket(): MQTT over WebSocket (chapter 6) against real servers: Mosquitto's own
// WebSocket listener, a WebSocket-to-TCP bridge in front of Mosquitto's TCP listener that reshapes
// frames, sends text frames and closes with codes (tests/_util/ws_bridge.ts), and a server that
// stops reading. Mosquitto 2.0.11 (Debian) sends a WebSocket client 4 KiB per 100 ms main-loop
// tick (eclipse-mosquitto/mosquitto#2252), so large messages to the client go through the bridge.

import { deepStrictEqual, equal, match, ok, rejects } from "node:assert/strict";
import {
  Client,
  type ClientEvent,
  ConnectionClosedError,
  type IncomingMessageEvent,
} from "../../mod.ts";
import {
  connectTcp,
  connectWebSocket,
  WebSocketClosedError,
  WebSocketConnectError,
  type WebSocketConstructor,
  type WebSocketTransport,
} from "../../src/transport/mod.ts";
import {
  brokerAvailable,
  brokerIgnoreReason,
  freePort,
  type Mosquitto,
  startMosquitto,
} from "../_util/mosquitto.ts";
import {
  packetsIn,
  startStalledWsServer,
  startWsBridge,
  type WsBridgeOptions,
} from "../_util/ws_bridge.ts";
import { pollUntil, text, uniqueTopic, waitFor } from "../client/_client.ts";

function pattern(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 131 + (i >> 9) + seed) & 0xff);
}

/** A client connected over `transport` with the broker's credentials. */
async function connected(
  transport: WebSocketTransport,
  broker: Mosquitto,
  name: string,
): Promise<Client> {
  const client = new Client();
  await client.connect(transport, {
    clientId: `ws-${name}-${crypto.randomUUID().slice(0, 8)}`,
    username: broker.username,
    password: broker.password,
    signal: AbortSignal.timeout(5000),
  });
  return client;
}

/** `promise`, or a rejection after `ms` milliseconds (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Disconnects and waits for the socket to be closed, so the step leaves nothing running. */
async function done(client: Client, transport: WebSocketTransport): Promise<void> {
  if (client.state === "connected") {
    await client.disconnect({ signal: AbortSignal.timeout(5000) }).catch(() => client.abort());
  } else client.abort();
  await within(transport.closed);
}

async function subscribed(client: Client, filter: string, qos: 0 | 1 | 2 = 2): Promise<void> {
  await client.subscribe({ filter, qos });
  const suback = await waitFor(client, "subscribed");
  deepStrictEqual(suback.reasonCodes, [qos]);
}

function messages(events: ClientEvent[]): IncomingMessageEvent[] {
  return events.filter((e): e is IncomingMessageEvent => e.type === "message");
}

/** `promise`'s rejection, which must be an instance of `type`. */
async function rejection<T>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  let error: unknown;
  await rejects(promise, (e) => {
    error = e;
    return true;
  });
  ok(error instanceof type, `expected ${type.name}, got ${error}`);
  return error;
}

/** A `WebSocket` that keeps its last instance, so a test can read `bufferedAmount`. */
function recordingWebSocket(): { WebSocket: WebSocketConstructor; socket: () => WebSocket } {
  let last: WebSocket | undefined;
  class Recording extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols);
      last = this;
    }
  }
  return { WebSocket: Recording, socket: () => last! };
}

Deno.test({
  name: "connectWebSocket() carries the Client's traffic to Mosquitto and back",
  ignore: !brokerAvailable,
  async fn(t) {
    if (!brokerAvailable) throw new Error(brokerIgnoreReason);
    await using broker = await startMosquitto({ websockets: true });
    const direct = `ws://127.0.0.1:${broker.websocketsPort}/mqtt`;
    const bridge = (options: Omit<WsBridgeOptions, "target"> = {}) =>
      startWsBridge({ target: { hostname: broker.hostname, port: broker.port }, ...options });

    await t.step(
      "over Mosquitto's WebSocket listener: subscribe and QoS 0, 1 and 2 both ways",
      async () => {
        const transport = await connectWebSocket(direct);
        const client = await connected(transport, broker, "qos");
        try {
          const topic = uniqueTopic("ws-qos");
          await subscribed(client, topic, 2);
          for (const qos of [0, 1, 2] as const) {
            await client.publish({ topic, qos }, `at QoS ${qos}`);
          }
          // Each flow both ways: PUBLISH out and its acknowledgements in, PUBLISH in and the
          // client's acknowledgements out (PUBACK; PUBREC, then PUBCOMP after the PUBREL).
          const events: ClientEvent[] = [];
          const seen = () => {
            const types = events.map((e) => e.type);
            return messages(events).length === 3 && types.includes("acknowledged") &&
              types.includes("completed") && types.includes("released");
          };
          await pollUntil(client, (e) => (events.push(e), seen()));
          deepStrictEqual(
            messages(events).map((m) => [m.qos, text(m.payload)]).sort(),
            [[0, "at QoS 0"], [1, "at QoS 1"], [2, "at QoS 2"]],
          );
        } finally {
          await done(client, transport);
        }
        // The client's DISCONNECT reached Mosquitto before the closing handshake.
        await waitForLog(broker, / disconnected\./);
      },
    );

    await t.step(
      "over Mosquitto's WebSocket listener: a 1 MiB publication to the server",
      async () => {
        const topic = uniqueTopic("ws-up");
        const receiver = new Client();
        await receiver.connect(await connectTcp({ port: broker.port }), {
          clientId: `tcp-${topic}`,
          username: broker.username,
          password: broker.password,
        });
        const transport = await connectWebSocket(direct);
        const client = await connected(transport, broker, "up");
        try {
          await subscribed(receiver, topic, 1);
          const payload = pattern(1 << 20, 3);
          await client.publish({ topic, qos: 1 }, payload);
          equal((await waitFor(client, "acknowledged")).reasonCode, 0);
          deepStrictEqual((await waitFor(receiver, "message")).payload, payload);
        } finally {
          await done(client, transport);
          await receiver.disconnect();
        }
      },
    );

    await t.step(
      "offers the subprotocol mqtt [MQTT-6.0.0-3] and sends binary frames only [MQTT-6.0.0-1]",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "binary");
        try {
          const topic = uniqueTopic("ws-binary");
          await subscribed(client, topic, 1);
          await client.publish({ topic, qos: 1 }, "binary");
          await pollUntil(client, (e) => e.type === "message");
        } finally {
          await done(client, transport);
        }
        const conn = await b.connection(1);
        deepStrictEqual(conn.offered, ["mqtt"]);
        ok(conn.framesFromClient >= 4, "CONNECT, SUBSCRIBE, PUBLISH, PUBACK, DISCONNECT");
        equal(conn.textFromClient, 0, "not one text frame");
      },
    );

    /** Publishes 1,000 QoS 0 messages in one turn, then pings: the frame sizes the bridge saw. */
    const oneTurn = async (name: string, options: { maxFrameSize?: number }) => {
      await using b = await bridge();
      const transport = await connectWebSocket(b.url, options);
      const client = await connected(transport, broker, name);
      try {
        const conn = await b.connection(1);
        const before = conn.framesFromClient;
        const topic = uniqueTopic(`ws-${name}`);
        // 1,000 QoS 0 publications in one turn: about 40 KB, far past the batch's first buffer.
        const written = [];
        for (let i = 0; i < 1000; i++) written.push(client.publish({ topic }, `m${i}`));
        await Promise.all(written);
        await client.ping();
        await pollUntil(client, (e) => e.type === "pong");
        return conn.frameSizesFromClient.slice(before);
      } finally {
        await done(client, transport);
      }
    };

    await t.step(
      "the packets queued in one turn go out as one frame, from the first turn of a connection on",
      async () => {
        const sizes = await oneTurn("one-frame", { maxFrameSize: Infinity });
        equal(sizes.length, 2, "one frame for the 1,000 PUBLISHes, one for PINGREQ");
        equal(sizes[1], 2, "PINGREQ");
      },
    );

    await t.step(
      "on Deno's WebSocket, one turn's packets go out as frames of 1024 bytes, every one full",
      async () => {
        const sizes = await oneTurn("deno-frames", {});
        const batch = sizes.slice(0, -1);
        const total = batch.reduce((a, b) => a + b, 0);
        ok(total > 30_000, `${total} bytes`);
        // One write cut into frames: full ones, then the rest; then PINGREQ's.
        deepStrictEqual(sizes, [
          ...Array(Math.floor(total / 1024)).fill(1024),
          ...(total % 1024 === 0 ? [] : [total % 1024]),
          2,
        ]);
      },
    );

    await t.step(
      "20 QoS 1 publications of one turn in frames of at most 1024 bytes: Mosquitto acknowledges " +
        "every one, a PUBLISH across two frames too",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "qos1-frames");
        try {
          const conn = await b.connection(1);
          const before = conn.framesFromClient;
          const topic = uniqueTopic("ws-qos1-frames");
          const payload = pattern(64, 4);
          for (let i = 0; i < 20; i++) client.publish({ topic, qos: 1 }, payload);
          // Every PUBLISH acknowledged (0x10: no subscriber), none refused.
          const acked = new Set<number>();
          await pollUntil(client, (e) => {
            if (e.type === "rejected") throw new Error(`refused: 0x${e.reasonCode.toString(16)}`);
            if (e.type === "acknowledged") acked.add(e.packetId);
            return acked.size === 20;
          });
          const sizes = conn.frameSizesFromClient.slice(before);
          const total = sizes.reduce((a, b) => a + b, 0);
          ok(total > 1024 && 1024 % (total / 20) !== 0, `${total} bytes: a PUBLISH spans frames`);
          deepStrictEqual(sizes, [1024, total - 1024]);
        } finally {
          await done(client, transport);
        }
      },
    );

    await t.step(
      "maxFrameSize: a write larger than it goes out in frames of that size",
      async () => {
        const sizes = await oneTurn("max-frame", { maxFrameSize: 4000 });
        ok(sizes.length > 3, `${sizes.length} frames`);
        ok(sizes.slice(0, -2).every((n) => n === 4000), sizes.join(" "));
        ok(sizes.at(-2)! <= 4000);
      },
    );

    await t.step(
      "a 1 MiB payload both ways through the bridge, byte for byte [MQTT-6.0.0-2]",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "big");
        try {
          const topic = uniqueTopic("ws-big");
          await subscribed(client, topic, 1);
          const payload = pattern(1 << 20, 9);
          const message = await roundTrip(client, topic, 1, payload);
          deepStrictEqual(message.payload, payload);
        } finally {
          await done(client, transport);
        }
        const conn = await b.connection(1);
        // Mosquitto's TCP writes come as frames of what the bridge read at once: the message
        // arrived in several frames, each packet boundary wherever the reads fell.
        ok(conn.framesToClient > 2, `${conn.framesToClient} frames to the client`);
        ok(conn.bytesFromClient > 1 << 20);
      },
    );

    await t.step(
      "packets cut into frames of 1 to 7 bytes arrive whole [MQTT-6.0.0-2]",
      async () => {
        await using b = await bridge({ split: { min: 1, max: 7 }, recordFrames: true });
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "split");
        try {
          const topic = uniqueTopic("ws-split");
          await subscribed(client, topic, 2);
          for (const qos of [0, 1, 2] as const) {
            const payload = pattern(300 + qos, qos);
            deepStrictEqual((await roundTrip(client, topic, qos, payload)).payload, payload);
          }
        } finally {
          await done(client, transport);
        }
        const conn = await b.connection(1);
        ok(conn.sentFrames.every((f) => f.length >= 1 && f.length <= 7));
        const packets = packetsIn(conn.sentFrames);
        // CONNACK, SUBACK, 3 PUBLISH, PUBACK, PUBREC, PUBCOMP, PUBREL at least.
        ok(packets.length >= 9, `${packets.length} packets`);
        ok(
          packets.filter((p) => p.first !== p.last).length >= 5,
          "most packets span several frames",
        );
      },
    );

    await t.step(
      "several packets in one frame are all read [MQTT-6.0.0-2]",
      async () => {
        await using b = await bridge({ coalesceMs: 50, recordFrames: true });
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "coalesce");
        try {
          const topic = uniqueTopic("ws-coalesce");
          await subscribed(client, topic, 1);
          // Published in one turn: Mosquitto's PUBACKs and PUBLISHes come back within 50 ms.
          for (let i = 0; i < 20; i++) void client.publish({ topic, qos: 1 }, `m${i}`);
          let acks = 0;
          const got: string[] = [];
          await pollUntil(client, (e) => {
            if (e.type === "acknowledged") acks++;
            if (e.type === "message") got.push(text(e.payload));
            return acks === 20 && got.length === 20;
          });
          deepStrictEqual(got, Array.from({ length: 20 }, (_, i) => `m${i}`));
        } finally {
          await done(client, transport);
        }
        const conn = await b.connection(1);
        const packets = packetsIn(conn.sentFrames);
        const perFrame = new Map<number, number>();
        for (const p of packets) {
          if (p.first === p.last) perFrame.set(p.first, (perFrame.get(p.first) ?? 0) + 1);
        }
        const most = Math.max(...perFrame.values());
        ok(most >= 10, `a frame held ${most} whole packets`);
      },
    );

    await t.step(
      "a text frame from the server closes the connection with a typed error [MQTT-6.0.0-1]",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "text");
        const conn = await b.connection(1);
        conn.sendText("not MQTT");
        const error = await rejection(
          client.poll({ signal: AbortSignal.timeout(5000) }),
          ConnectionClosedError,
        );
        const cause = error.cause;
        ok(cause instanceof WebSocketClosedError, `the cause is ${cause}`);
        equal(cause.statement, "MQTT-6.0.0-1");
        equal(cause.byServer, false);
        equal(cause.recoverable, false);
        match(cause.message, /text frame/);
        await transport.closed;
        await conn.closed;
        // The transport closed the connection, with its reason.
        deepStrictEqual(conn.closeEvent, {
          code: 1000,
          reason: "MQTT over WebSocket takes binary frames only",
        });
        equal(client.state, "closed");
      },
    );

    await t.step(
      "the server's close code and reason surface in the error, on reads and on writes",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, "closed");
        const conn = await b.connection(1);
        conn.close(4001, "maintenance");
        const error = await rejection(
          client.poll({ signal: AbortSignal.timeout(5000) }),
          ConnectionClosedError,
        );
        const cause = error.cause;
        ok(cause instanceof WebSocketClosedError, `the cause is ${cause}`);
        equal(cause.code, 4001);
        equal(cause.reason, "maintenance");
        equal(cause.byServer, true);
        equal(cause.url, b.url);
        match(cause.message, /code 4001, reason "maintenance"/);
        await transport.closed;
      },
    );

    await t.step("the transport alone: read and write after the server closed", async () => {
      await using b = await bridge();
      const transport = await connectWebSocket(b.url);
      const conn = await b.connection(1);
      conn.close(4002, "bye");
      await transport.closed;
      const read = await rejection(transport.readable.getReader().read(), WebSocketClosedError);
      deepStrictEqual([read.code, read.reason], [4002, "bye"]);
      const writer = transport.writable.getWriter();
      const write = await rejection(writer.write(new Uint8Array([0xc0, 0])), WebSocketClosedError);
      equal(write, read, "the same error");
      transport.close();
      transport.close(); // harmless, and no throw
    });

    await t.step(
      "a server that selects another subprotocol, or none, is refused [MQTT-6.0.0-4]",
      async () => {
        for (const protocol of [null, "other"]) {
          await using b = await bridge({ protocol });
          const url = b.url.replace("ws://", "ws://user:secret-password@") + "?token=secret";
          const error = await rejection(
            connectWebSocket(url, { protocols: ["mqtt", "other"] }),
            WebSocketConnectError,
          );
          equal(error.protocol, protocol ?? "");
          equal(error.statement, "MQTT-6.0.0-4");
          equal(error.url, b.url + "?…");
          ok(!/secret|user/.test(error.message), error.message);
          match(error.message, new RegExp(`${b.url.replaceAll("/", "\\/")}`));
          // The socket was closed before the rejection.
          const conn = await b.connection(1);
          await conn.closed;
          ok(conn.closeEvent !== undefined);
        }
      },
    );

    await t.step(
      "protocols without mqtt are refused before connecting [MQTT-6.0.0-3]",
      async () => {
        await using b = await bridge();
        await rejects(
          connectWebSocket(b.url, { protocols: ["mqttv3.1"] }),
          (e) => e instanceof TypeError && /must include "mqtt"/.test(e.message),
        );
        equal(b.connections.length, 0);
      },
    );
  },
});

/** Publishes to `topic` (which the client subscribes to) and returns the message that comes back. */
async function roundTrip(
  client: Client,
  topic: string,
  qos: 0 | 1 | 2,
  payload: Uint8Array,
): Promise<IncomingMessageEvent> {
  const id = await client.publish({ topic, qos }, payload);
  let message: IncomingMessageEvent | undefined;
  let acked = qos === 0;
  await pollUntil(client, (e) => {
    if (e.type === "message") message = e;
    if ((e.type === "acknowledged" || e.type === "completed") && e.packetId === id) acked = true;
    return message !== undefined && acked;
  });
  equal(message!.qos, qos);
  return message!;
}

Deno.test({
  name: "connectWebSocket() rejects a refused connection with a WebSocketConnectError",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const url = `ws://me:pw@127.0.0.1:${freePort()}/mqtt`;
    const error = await rejection(connectWebSocket(url), WebSocketConnectError);
    equal(error.url, url.replace("me:pw@", ""));
    equal(error.protocol, undefined);
    equal(error.recoverable, false);
    ok(error.message.includes(error.url), error.message);
    ok(!error.message.includes("pw@"), error.message);
  },
});

Deno.test({
  name: "connectWebSocket() aborted during the opening handshake rejects with the reason",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    // A server that accepts the TCP connection and never answers the handshake.
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const controller = new AbortController();
    const connecting = connectWebSocket(`ws://127.0.0.1:${listener.addr.port}/`, {
      signal: controller.signal,
    });
    using conn = await accepted;
    const reason = new Error("stop");
    controller.abort(reason);
    await rejects(connecting, (e) => e === reason);
    // The client gave up the connection: the server reads its end.
    const buffer = new Uint8Array(4096);
    while (await conn.read(buffer) !== null) {
      // The handshake request, then the end.
    }

    const aborted = AbortSignal.abort(new Error("before"));
    await rejects(
      connectWebSocket(`ws://127.0.0.1:${listener.addr.port}/`, { signal: aborted }),
      (e) => e === aborted.reason,
    );
  },
});

Deno.test({
  name: "connectWebSocket() refuses bad arguments with TypeError and RangeError",
  permissions: {},
  async fn() {
    await rejects(connectWebSocket("ws://127.0.0.1:1", { protocols: [] }), TypeError);
    await rejects(connectWebSocket("ws://127.0.0.1:1", { highWaterMark: -1 }), RangeError);
    await rejects(connectWebSocket("ws://127.0.0.1:1", { maxFrameSize: 0 }), RangeError);
    await rejects(
      connectWebSocket("ftp://u:p@127.0.0.1:1/"),
      (e) => e instanceof TypeError && !e.message.includes("u:p"),
    );
  },
});

Deno.test({
  name: "connectWebSocket() readable: a connection lost without a close frame ends with code 1006",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const server = startStalledWsServer();
    const transport = await connectWebSocket(server.url);
    await server[Symbol.asyncDispose](); // the TCP connection ends, with no close frame
    const error = await rejection(
      within(transport.readable.getReader().read()),
      WebSocketClosedError,
    );
    deepStrictEqual([error.code, error.reason, error.byServer], [1006, "", true]);
    match(error.message, /was lost/);
    await within(transport.closed);
  },
});

/**
 * Writes `chunk` until a write waits (for at least 200 ms): returns that write and the bytes of
 * the writes before it, each of which resolved with `bufferedAmount()` at most `highWaterMark`.
 */
async function writeUntilWaiting(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  chunk: Uint8Array,
  check?: () => void,
): Promise<{ waiting: Promise<void>; written: number }> {
  let written = 0;
  for (let i = 0; i < 256; i++) {
    let settled = false;
    const write = writer.write(chunk).then(() => void (settled = true));
    for (const ms of [20, 200]) {
      if (!settled) await new Promise((resolve) => setTimeout(resolve, ms));
    }
    if (!settled) return { waiting: write, written };
    check?.();
    written += chunk.length;
  }
  throw new Error(`No write waited in ${written} bytes`);
}

Deno.test({
  name: "connectWebSocket() writes resolve only once bufferedAmount is at most the high-water mark",
  permissions: { net: ["127.0.0.1"] },
  async fn(t) {
    const highWaterMark = 64 * 1024;
    const chunk = new Uint8Array(1 << 20);

    await t.step("a server that stops reading holds the write until it reads again", async () => {
      await using server = startStalledWsServer();
      const recording = recordingWebSocket();
      const transport = await connectWebSocket(server.url, {
        WebSocket: recording.WebSocket,
        highWaterMark,
      });
      const socket = recording.socket();
      const writer = transport.writable.getWriter();
      // Until the kernel's buffers are full and a write waits.
      const { waiting, written } = await writeUntilWaiting(writer, chunk, () => {
        ok(socket.bufferedAmount <= highWaterMark, `${socket.bufferedAmount} buffered`);
      });
      ok(written >= chunk.length, `${written} bytes written before one waited`);
      ok(socket.bufferedAmount > highWaterMark, `${socket.bufferedAmount} buffered`);
      equal(server.bytesRead, 0, "the server read nothing yet");
      server.resume();
      await within(waiting);
      ok(socket.bufferedAmount <= highWaterMark, `${socket.bufferedAmount} buffered`);
      writer.releaseLock();
      transport.close();
      // This server never answers the closing handshake: its end closes the socket.
      await server[Symbol.asyncDispose]();
      await within(transport.closed);
    });

    await t.step("closing rejects a waiting write with WebSocketClosedError", async () => {
      await using server = startStalledWsServer();
      const transport = await connectWebSocket(server.url, { highWaterMark });
      const writer = transport.writable.getWriter();
      const { waiting } = await writeUntilWaiting(writer, chunk);
      transport.close();
      const error = await rejection(waiting, WebSocketClosedError);
      equal(error.byServer, false);
      await rejection(writer.write(chunk), WebSocketClosedError);
      await server[Symbol.asyncDispose]();
      await within(transport.closed);
    });
  },
});

Deno.test({
  name: "connectWebSocket() readable: a frame larger than a BYOB view comes whole across reads",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    // The bridge in front of a TCP server of the test's own: one 100 KiB frame, then a small one.
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    await using b = await startWsBridge({
      target: { hostname: "127.0.0.1", port: listener.addr.port },
      coalesceMs: 50,
    });
    const transport = await connectWebSocket(b.url);
    using tcp = await listener.accept();
    const big = pattern(100 * 1024, 5);
    const small = pattern(10, 6);
    await tcp.write(big);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await tcp.write(small);

    const reader = transport.readable.getReader({ mode: "byob" });
    const got: number[] = [];
    let reads = 0;
    while (got.length < big.length + small.length) {
      const { value, done } = await within(reader.read(new Uint8Array(1000)));
      ok(!done && value !== undefined);
      ok(value.length <= 1000);
      got.push(...value);
      reads++;
    }
    deepStrictEqual(new Uint8Array(got), new Uint8Array([...big, ...small]));
    ok(reads >= 103, `${reads} reads`);
    equal((await b.connection(1)).framesToClient, 2, "two frames");
    reader.releaseLock();

    // A default reader gets the frames as chunks; the end comes after the last byte.
    await tcp.write(small);
    const chunks = transport.readable.getReader();
    deepStrictEqual((await within(chunks.read())).value, small);
    tcp.close();
    const end = await rejection(within(chunks.read()), WebSocketClosedError);
    equal(end.byServer, true);
    await transport.closed;
  },
});
/** Waits until the broker's log matches `pattern`. */
async function waitForLog(broker: Mosquitto, pattern: RegExp, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(broker.logs())) {
    if (Date.now() > deadline) throw new Error(`No ${pattern} in the broker's log`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
