// connectNode() under Deno's node:net and node:tls: the byte stream MQTT needs (4.2), backpressure
// both ways, close(), typed errors, aborts, and TLS against Mosquitto. tests/runtimes/ runs the
// same transport on Node and Bun.

import assert from "node:assert/strict";
import { Client, ConnectionClosedError } from "../../mod.ts";
import {
  connectNode,
  NodeConnectError,
  NodeSocketError,
  type NodeTlsOptions,
  TlsError,
  TlsFailure,
} from "../../src/transport/node.ts";
import { brokerAvailable, freePort, startMosquitto, tlsConfig } from "../_util/mosquitto.ts";
import { makePki, type Pki } from "../_util/pki.ts";

function pattern(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + (i >> 8) + seed) & 0xff);
}

/** Reads `length` bytes, through a BYOB reader (as the client does) or a default one. */
async function readAll(
  readable: ReadableStream<Uint8Array>,
  length: number,
  byob: boolean,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  if (byob) {
    const reader = readable.getReader({ mode: "byob" });
    let buffer = new Uint8Array(10_000);
    try {
      while (at < length) {
        const { value, done } = await reader.read(buffer);
        if (done) break;
        out.set(value.subarray(0, length - at), at);
        at += value.length;
        buffer = new Uint8Array(value.buffer);
      }
    } finally {
      reader.releaseLock();
    }
  } else {
    const reader = readable.getReader();
    try {
      while (at < length) {
        const { value, done } = await reader.read();
        if (done) break;
        out.set(value.subarray(0, length - at), at);
        at += value.length;
      }
    } finally {
      reader.releaseLock();
    }
  }
  assert.equal(at, length, "every byte arrived, and no more");
  return out;
}

/** Writes `bytes` in uneven chunks. */
async function writeAll(writable: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = writable.getWriter();
  for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7 + 13) % 40_000 + 1) {
    await writer.write(bytes.slice(at, at + n));
  }
  writer.releaseLock();
}

const NET: Deno.PermissionOptionsObject = { net: ["127.0.0.1"] };

Deno.test({
  name: "connectNode() carries bytes both ways at once, in order and without loss [MQTT-4.2.0-1]",
  permissions: NET,
  async fn() {
    for (const byob of [true, false]) {
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const size = 1024 * 1024;
      const up = pattern(size, 1);
      const down = pattern(size, 7);
      const [transport, server] = await Promise.all([
        connectNode({ port: listener.addr.port }),
        listener.accept(),
      ]);
      try {
        assert.equal(transport.address, `127.0.0.1:${listener.addr.port}`);
        assert.equal(transport.alpnProtocol, null);
        const [atServer, atClient] = await Promise.all([
          readAll(server.readable, size, true),
          readAll(transport.readable, size, byob),
          writeAll(transport.writable, up),
          writeAll(server.writable, down),
        ]);
        assert.deepEqual(atServer, up);
        assert.deepEqual(atClient, down, byob ? "read through a BYOB reader" : "default reader");
      } finally {
        transport.close();
        transport.close(); // closing twice is harmless
        server.close();
      }
    }
  },
});

Deno.test({
  name: "connectNode({ direct: true }) reads and writes the same bytes without the streams",
  permissions: NET,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const plain = await connectNode({ port: listener.addr.port });
    using _first = await listener.accept();
    assert.equal(plain.direct?.read, undefined, "no direct reads by default");
    assert.ok(plain.direct?.write !== undefined, "direct writes by default");
    plain.close();

    const [transport, server] = await Promise.all([
      connectNode({ port: listener.addr.port, direct: true }),
      listener.accept(),
    ]);
    try {
      const direct = transport.direct!;
      assert.ok(direct !== undefined);
      const size = 300_000;
      const up = pattern(size, 3);
      const down = pattern(size, 5);
      const readDirect = async () => {
        const out = new Uint8Array(size);
        for (let at = 0; at < size;) {
          const n = await direct.read!(out.subarray(at, Math.min(size, at + 7_000)));
          assert.ok(n !== null, "no end before every byte");
          at += n;
        }
        return out;
      };
      const writeDirect = async () => {
        for (let at = 0; at < size; at += 5_000) {
          const chunk = up.subarray(at, at + 5_000);
          assert.equal(await direct.write(chunk), chunk.length, "a write takes every byte");
        }
      };
      const [atServer, atClient] = await Promise.all([
        readAll(server.readable, size, true),
        readDirect(),
        writeDirect(),
        writeAll(server.writable, down),
      ]);
      assert.deepEqual(atServer, up);
      assert.deepEqual(atClient, down);
      assert.ok(!transport.readable.locked && !transport.writable.locked, "streams unused");
      server.close();
      assert.equal(await direct.read!(new Uint8Array(10)), null, "the end of the stream");
    } finally {
      transport.close();
    }
  },
});

Deno.test({
  name: "connectNode() settles a write once the socket took it: a server that does not read " +
    "holds the writer back, and one that does not get read holds the server back",
  permissions: NET,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const [transport, server] = await Promise.all([
      connectNode({ port: listener.addr.port }),
      listener.accept(),
    ]);
    try {
      // Writing: the server reads nothing, so the kernel's buffers fill and a write stays pending.
      const writer = transport.writable.getWriter();
      const chunk = new Uint8Array(256 * 1024);
      let written = 0;
      let stalled = false;
      while (written < 256 * 1024 * 1024) {
        const write = writer.write(chunk).then(() => true);
        const settled = await Promise.race([
          write,
          new Promise<false>((resolve) => setTimeout(() => resolve(false), 200)),
        ]);
        if (!settled) {
          stalled = true;
          // Reading on the server lets it through.
          const reading = readAll(server.readable, written + chunk.length, true);
          assert.equal(await write, true);
          await reading;
          break;
        }
        written += chunk.length;
      }
      assert.ok(stalled, `a write stayed pending (after ${written} bytes)`);
      writer.releaseLock();

      // Reading: the transport is not read, so it pauses the socket and the server's write waits.
      const size = 32 * 1024 * 1024;
      const down = pattern(size, 9);
      let serverDone = false;
      const serverWrite = (async () => {
        for (let at = 0; at < size;) at += await server.write(down.subarray(at));
        serverDone = true;
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(!serverDone, "the server's write waits while the transport is not read");
      const atClient = await readAll(transport.readable, size, true);
      await serverWrite;
      assert.deepEqual(atClient, down);
    } finally {
      transport.close();
      server.close();
    }
  },
});

Deno.test({
  name: "NodeTransport.close() ends a pending read with the end of the stream and later writes " +
    "with NodeSocketError",
  permissions: NET,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const [transport, server] = await Promise.all([
      connectNode({ port: listener.addr.port }),
      listener.accept(),
    ]);
    const reader = transport.readable.getReader({ mode: "byob" });
    const read = reader.read(new Uint8Array(16));
    transport.close();
    assert.equal((await read).done, true);
    const writer = transport.writable.getWriter();
    await assert.rejects(writer.write(new Uint8Array([1])), NodeSocketError);
    transport.close();
    server.close();
  },
});

Deno.test({
  name: "connectNode() ends the readable when the server resets the connection, with " +
    "NodeSocketError ECONNRESET where the runtime reports the reset",
  permissions: NET,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const [transport, server] = await Promise.all([
      connectNode({ port: listener.addr.port }),
      listener.accept(),
    ]);
    try {
      // Closing with unread bytes makes the kernel send RST instead of FIN.
      await transport.writable.getWriter().write(new Uint8Array([1, 2, 3]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      server.close();
      const reader = transport.readable.getReader();
      const result = await reader.read().then((r) => r, (e) => e);
      if (result instanceof Error) {
        assert.ok(result instanceof NodeSocketError, `expected NodeSocketError, got ${result}`);
        assert.equal(result.code, "ECONNRESET");
        assert.match(result.message, /reset \(ECONNRESET\).*reconnect/);
        assert.equal(result.recoverable, false);
      } else {
        // Deno's node:net reports a reset as the end of the stream.
        assert.equal(result.done, true);
      }
    } finally {
      transport.close();
    }
  },
});

Deno.test({
  name: "connectNode() refuses impossible options before connecting, and says why it cannot " +
    "connect",
  permissions: NET,
  async fn() {
    await assert.rejects(connectNode({ port: 0 }), RangeError);
    await assert.rejects(connectNode({ port: 70_000 }), RangeError);
    await assert.rejects(connectNode({ hostname: "" }), TypeError);
    await assert.rejects(connectNode({ tls: { cert: "x" } }), /give both tls.cert and tls.key/);
    await assert.rejects(connectNode({ tls: { ca: "not pem" } }), /tls.ca: it holds no PEM/);
    await assert.rejects(connectNode({ tls: { ca: ["x"] } }), /tls.ca\[0\]/);
    const aborted = new AbortController();
    aborted.abort(new Error("stop"));
    await assert.rejects(connectNode({ signal: aborted.signal }), /stop/);

    const port = freePort();
    const error = await connectNode({ port }).then(() => undefined, (e) => e);
    assert.ok(error instanceof NodeConnectError, `expected NodeConnectError, got ${error}`);
    assert.equal(error.code, "ECONNREFUSED");
    assert.equal(error.address, `127.0.0.1:${port}`);
    assert.match(error.message, /refused \(ECONNREFUSED\); is an MQTT server listening there\?/);
  },
});

Deno.test({
  name: "connectNode() gives up a TLS handshake the server never answers when the signal aborts",
  permissions: NET,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const reason = new Error("deadline");
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(
      connectNode({ port: listener.addr.port, tls: true, signal: controller.signal }),
      (e) => e === reason,
    );
    (await accepted).close();
  },
});

/** Asserts that connecting fails with a TlsError of `failure`, at connectNode() or connect(). */
async function assertTlsFailure(
  tls: NodeTlsOptions,
  port: number,
  failure: TlsFailure,
  message: RegExp,
  hostname = "localhost",
): Promise<void> {
  let error: unknown;
  try {
    const transport = await connectNode({ hostname, port, tls });
    const client = new Client();
    await client.connect(transport, { clientId: `node-tls-${crypto.randomUUID().slice(0, 8)}` });
    await client.disconnect();
  } catch (e) {
    error = e instanceof ConnectionClosedError ? e.cause : e;
  }
  assert.ok(error instanceof TlsError, `expected TlsError, got ${error}`);
  assert.equal(error.failure, failure, error.message);
  assert.match(error.message, message);
}

function serverFiles(pki: Pki, name: string) {
  return {
    cafile: pki.path("ca.crt"),
    certfile: pki.path(`${name}.crt`),
    keyfile: pki.path(`${name}.key`),
  };
}

Deno.test({
  name: "connectNode({ tls }) against Mosquitto requiring client certificates",
  ignore: !brokerAvailable,
  async fn(t) {
    await using pki = await makePki({ negative: true });
    const expiredPort = freePort();
    let wrongNamePort = freePort();
    while (wrongNamePort === expiredPort) wrongNamePort = freePort();
    await using broker = await startMosquitto({
      tls: serverFiles(pki, "server"),
      config: [
        `listener ${expiredPort} 127.0.0.1`,
        ...tlsConfig(serverFiles(pki, "expired-server")),
        `listener ${wrongNamePort} 127.0.0.1`,
        ...tlsConfig(serverFiles(pki, "wrong-name-server")),
      ],
    });
    const ca = await pki.read("ca.crt");
    const cert = await pki.read("client.crt");
    const key = await pki.read("client.key");
    const decoder = new TextDecoder();

    await t.step(
      "a client certificate from the trusted CA publishes and receives at QoS 1, by host name, " +
        "by address, and by address with servername",
      async () => {
        const cases = [
          { hostname: "localhost", tls: { ca, cert, key } },
          { hostname: "127.0.0.1", tls: { ca, cert, key } },
          { hostname: "127.0.0.1", tls: { ca, cert, key, servername: "localhost" } },
        ];
        for (const { hostname, tls } of cases) {
          const transport = await connectNode({ hostname, port: broker.port, tls });
          assert.equal(transport.alpnProtocol, null);
          const client = new Client();
          const clientId = `node-tls-${crypto.randomUUID().slice(0, 8)}`;
          await client.connect(transport, { clientId });
          const topic = `node-tls/${clientId}`;
          await client.subscribe({ filter: topic, qos: 1 });
          assert.equal(
            (await client.poll({ signal: AbortSignal.timeout(5000) })).type,
            "subscribed",
          );
          const id = await client.publish({ topic, qos: 1 }, `to ${hostname}`);
          let received: string | undefined;
          let acknowledged = false;
          while (received === undefined || !acknowledged) {
            const event = await client.poll({ signal: AbortSignal.timeout(5000) });
            if (event.type === "message") received = decoder.decode(event.payload);
            if (event.type === "acknowledged" && event.packetId === id) acknowledged = true;
          }
          assert.equal(received, `to ${hostname}`);
          await client.disconnect();
        }
      },
    );

    await t.step("a server certificate from an unknown CA is UntrustedCertificate", async () => {
      await assertTlsFailure(
        { ca: await pki.read("other-ca.crt"), cert, key },
        broker.port,
        TlsFailure.UntrustedCertificate,
        /not signed by a trusted CA.*tls\.ca/,
      );
    });

    await t.step("a certificate for another name is NameMismatch", async () => {
      await assertTlsFailure(
        { ca, cert, key },
        wrongNamePort,
        TlsFailure.NameMismatch,
        /does not match the host name.*tls\.servername/,
      );
    });

    await t.step("servername names the host the certificate is for", async () => {
      const transport = await connectNode({
        port: wrongNamePort,
        tls: { ca, cert, key, servername: "mqtt.example.com" },
      });
      transport.close();
    });

    await t.step(
      "an expired server certificate is UntrustedCertificate on Deno (ExpiredCertificate on " +
        "Node and Bun: tests/runtimes/)",
      async () => {
        // Deno's node:tls reports every failed verification as UNABLE_TO_VERIFY_LEAF_SIGNATURE.
        await assertTlsFailure(
          { ca, cert, key },
          expiredPort,
          TlsFailure.UntrustedCertificate,
          /not signed by a trusted CA/,
        );
      },
    );

    await t.step("no client certificate is ClientCertificateRequired", async () => {
      await assertTlsFailure(
        { ca },
        broker.port,
        TlsFailure.ClientCertificateRequired,
        /requires a client certificate.*tls\.cert and tls\.key/,
      );
    });

    await t.step(
      "a client certificate from an unknown CA is ClientCertificateRejected",
      async () => {
        await assertTlsFailure(
          { ca, cert: await pki.read("other-client.crt"), key: await pki.read("other-client.key") },
          broker.port,
          TlsFailure.ClientCertificateRejected,
          /client certificate/,
        );
      },
    );

    await t.step("a plain TCP port is HandshakeFailed", async () => {
      await using plain = await startMosquitto();
      await assertTlsFailure(
        { ca, cert, key },
        plain.port,
        TlsFailure.HandshakeFailed,
        /TLS/,
      );
    });
  },
});
