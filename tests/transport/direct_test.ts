// connectTcp({ direct: true }): the client reads and writes through the connection's own read()
// and write() instead of its streams. By default it reads through the readable stream (a BYOB
// reader) and writes through the connection's own write().

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Client, connectTcp, type Transport } from "../../mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";

Deno.test({
  name:
    "connectTcp({ direct: true }) carries QoS 1 traffic with polls aborted mid-packet, losing nothing",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto();
    const login = { username: broker.username, password: broker.password };
    const topic = `direct/${crypto.randomUUID()}`;

    // The subscriber's bytes come through a proxy in small pieces, so polls end mid-packet.
    await using proxy = await startProxy({
      target: { hostname: broker.hostname, port: broker.port },
    });
    const plain = await connectTcp({ port: broker.port });
    const direct = await connectTcp({ port: proxy.port, direct: true });
    equal(plain.direct?.read, undefined, "the default transport offers no direct reads");
    ok(plain.direct?.write !== undefined, "the default transport offers direct writes");
    ok(direct.direct?.read !== undefined, "direct: true offers the connection's own reads");

    const publisher = new Client();
    const subscriber = new Client();
    try {
      await publisher.connect(plain, { clientId: `${topic}-pub`, ...login });
      // The default path reads through the stream: its reader holds the lock.
      ok(plain.readable.locked, "the default client reads through the readable stream");
      await subscriber.connect(direct, { clientId: `${topic}-sub`, ...login });
      ok(!direct.readable.locked, "the direct client leaves the streams unused");
      await subscriber.subscribe({ filter: topic, qos: 1 });
      equal((await subscriber.poll({ signal: AbortSignal.timeout(5000) })).type, "subscribed");
      proxy.trickle({ chunk: 5, delayMs: 1 });

      const sent: string[] = [];
      for (let i = 0; i < 60; i++) {
        const text = `${i}:` + "x".repeat((i * 37) % 120);
        sent.push(text);
        await publisher.publish({ topic, qos: 1 }, text);
        if (publisher.session.state.outgoing.length >= publisher.limits.receiveMaximum) {
          while (publisher.session.state.outgoing.length > 0) {
            await publisher.poll({ signal: AbortSignal.timeout(5000) });
          }
        }
      }
      const received: string[] = [];
      let aborted = 0;
      const deadline = Date.now() + 15_000;
      while (received.length < sent.length && Date.now() < deadline) {
        const controller = new AbortController();
        // Abort after a few event-loop turns: often in the middle of a packet.
        const timer = setTimeout(() => controller.abort(), (received.length + aborted) % 4);
        try {
          const event = await subscriber.poll({ signal: controller.signal });
          if (event.type === "message") received.push(new TextDecoder().decode(event.payload));
        } catch (e) {
          if (!controller.signal.aborted || e !== controller.signal.reason) throw e;
          aborted++;
        } finally {
          clearTimeout(timer);
        }
      }
      deepStrictEqual(received, sent);
      ok(aborted > 0, "some polls were aborted");
    } finally {
      if (publisher.state === "connected") await publisher.disconnect();
      else publisher.abort();
      if (subscriber.state === "connected") await subscriber.disconnect();
      else subscriber.abort();
    }
  },
});

Deno.test({
  name:
    "a transport offering only direct writes: the client writes through them and reads through the readable stream",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto();
    const login = { username: broker.username, password: broker.password };
    const topic = `direct-write/${crypto.randomUUID()}`;
    const conn = await Deno.connect({ hostname: broker.hostname, port: broker.port });
    conn.setNoDelay(true);
    const writes: number[] = [];
    const transport: Transport = {
      readable: conn.readable,
      // Never written: every byte goes through `direct.write`.
      writable: new WritableStream<Uint8Array>({
        write() {
          throw new Error("the client wrote through the stream");
        },
      }),
      direct: {
        write(p) {
          writes.push(p.length);
          return conn.write(p);
        },
      },
      close: () => conn.close(),
    };
    const subscriber = new Client();
    const publisher = new Client();
    try {
      await subscriber.connect(await connectTcp({ port: broker.port }), {
        clientId: `${topic}-sub`,
        ...login,
      });
      await subscriber.subscribe({ filter: topic, qos: 1 });
      equal((await subscriber.poll({ signal: AbortSignal.timeout(5000) })).type, "subscribed");
      await publisher.connect(transport, { clientId: `${topic}-pub`, ...login });
      ok(conn.readable.locked, "the client reads through the readable stream");
      const sent = Array.from({ length: 30 }, (_, i) => `${i}:` + "y".repeat(i * 11));
      let acked = 0;
      for (const text of sent) {
        await publisher.publish({ topic, qos: 1 }, text);
        while (publisher.session.state.outgoing.length >= publisher.limits.receiveMaximum) {
          const event = await publisher.poll({ signal: AbortSignal.timeout(5000) });
          if (event.type === "acknowledged") acked++;
        }
      }
      while (acked < sent.length) {
        const event = await publisher.poll({ signal: AbortSignal.timeout(5000) });
        if (event.type === "acknowledged") acked++;
      }
      const received: string[] = [];
      while (received.length < sent.length) {
        const event = await subscriber.poll({ signal: AbortSignal.timeout(5000) });
        if (event.type === "message") received.push(new TextDecoder().decode(event.payload));
      }
      deepStrictEqual(received, sent, "the broker delivered every publication, in order");
      ok(writes.length >= 2, "CONNECT and the publications went through direct.write");
    } finally {
      if (publisher.state === "connected") await publisher.disconnect();
      else publisher.abort();
      if (subscriber.state === "connected") await subscriber.disconnect();
      else subscriber.abort();
    }
  },
});
