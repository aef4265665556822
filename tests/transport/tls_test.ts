// connectTls() against a Mosquitto TLS listener that requires a client certificate and takes its
// Common Name as the user name, with fresh throw-away certificates from .ci/pki/make.sh; and
// against Deno's own TLS server for ALPN, the byte stream, and aborts.

import assert from "node:assert/strict";
import {
  Client,
  ConnectionClosedError,
  connectTls,
  TlsError,
  TlsFailure,
  type TlsOptions,
} from "../../mod.ts";
import {
  brokerAvailable,
  freePort,
  type MosquittoTlsOptions,
  startMosquitto,
  tlsConfig,
} from "../_util/mosquitto.ts";
import { makePki, type Pki } from "../_util/pki.ts";

const decoder = new TextDecoder();

/** Asserts that `promise` rejects with a {@linkcode TlsError} of `failure` matching `message`. */
async function assertTlsError(
  promise: Promise<unknown>,
  failure: TlsFailure,
  message: RegExp,
): Promise<TlsError> {
  let error: unknown;
  await assert.rejects(promise, (e) => {
    error = e;
    return true;
  });
  assert.ok(error instanceof TlsError, `expected TlsError, got ${error}`);
  assert.equal(error.failure, failure, error.message);
  assert.match(error.message, message);
  assert.equal(error.recoverable, false);
  assert.ok(error.cause instanceof Error, "the cause is Deno's error");
  return error;
}

/**
 * Connects an MQTT client over `transport` and asserts that `connect()` fails with a
 * {@linkcode ConnectionClosedError} caused by a {@linkcode TlsError} of `failure`: how a server
 * that refuses the client certificate after the client's side of the TLS 1.3 handshake shows.
 */
async function assertRefusedAtConnect(
  options: TlsOptions,
  failure: TlsFailure,
  message: RegExp,
): Promise<void> {
  const transport = await connectTls(options);
  const client = new Client();
  let error: unknown;
  await assert.rejects(
    client.connect(transport, { clientId: `tls-refused-${crypto.randomUUID().slice(0, 8)}` }),
    (e) => {
      error = e;
      return true;
    },
  );
  assert.ok(error instanceof ConnectionClosedError, `expected ConnectionClosedError, got ${error}`);
  assert.match(error.message, message);
  assert.ok(error.cause instanceof TlsError, `expected a TlsError cause, got ${error.cause}`);
  assert.equal(error.cause.failure, failure);
  assert.match(error.cause.message, message);
}

function serverFiles(pki: Pki, name: string): MosquittoTlsOptions {
  return {
    cafile: pki.path("ca.crt"),
    certfile: pki.path(`${name}.crt`),
    keyfile: pki.path(`${name}.key`),
  };
}

Deno.test({
  name: "connectTls() against Mosquitto requiring client certificates",
  ignore: !brokerAvailable,
  async fn(t) {
    await using pki = await makePki({ negative: true });
    // One broker, three TLS listeners: the good server certificate (the fixture's listener), an
    // expired one, and one for another host name.
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
    const client = { cert: await pki.read("client.crt"), key: await pki.read("client.key") };
    const good: TlsOptions = { hostname: "localhost", port: broker.port, caCerts: [ca], ...client };

    await t.step(
      "a client certificate from the trusted CA publishes and receives at QoS 1, as the user of its Common Name",
      async () => {
        for (const hostname of ["localhost", "127.0.0.1"]) {
          const mqtt = new Client();
          const transport = await connectTls({ ...good, hostname });
          assert.equal(transport.alpnProtocol, null);
          const clientId = `tls-good-${crypto.randomUUID().slice(0, 8)}`;
          await mqtt.connect(transport, { clientId });
          const topic = `tls/${clientId}`;
          await mqtt.subscribe({ filter: topic, qos: 1 });
          assert.equal((await mqtt.poll({ signal: AbortSignal.timeout(5000) })).type, "subscribed");
          const id = await mqtt.publish({ topic, qos: 1 }, `over TLS to ${hostname}`);
          let received: string | undefined;
          let acknowledged = false;
          while (received === undefined || !acknowledged) {
            const event = await mqtt.poll({ signal: AbortSignal.timeout(5000) });
            if (event.type === "message") received = decoder.decode(event.payload);
            if (event.type === "acknowledged" && event.packetId === id) acknowledged = true;
          }
          assert.equal(received, `over TLS to ${hostname}`);
          await mqtt.disconnect();
          assert.match(broker.logs(), new RegExp(`as ${clientId} \\(.*u'mqtt5-client'\\)`));
        }
      },
    );

    await t.step(
      "a server certificate from a CA not in caCerts fails with TlsError untrusted-certificate",
      async () => {
        // Deno's root store alone, then only another CA.
        for (const caCerts of [[], [await pki.read("other-ca.crt")]]) {
          await assertTlsError(
            connectTls({ ...good, caCerts }),
            TlsFailure.UntrustedCertificate,
            /the server's certificate is not signed by a trusted CA .*give the CA certificate that signed it in caCerts/,
          );
        }
      },
    );

    await t.step(
      "a server certificate for another host name fails with TlsError name-mismatch",
      async () => {
        await assertTlsError(
          connectTls({ ...good, hostname: "127.0.0.1", port: wrongNamePort }),
          TlsFailure.NameMismatch,
          /127\.0\.0\.1:\d+ failed: the server's certificate does not match the host name .*"127\.0\.0\.1".*mqtt\.example\.com/,
        );
      },
    );

    await t.step(
      "an expired server certificate fails with TlsError expired-certificate",
      async () => {
        await assertTlsError(
          connectTls({ ...good, port: expiredPort }),
          TlsFailure.ExpiredCertificate,
          /the server's certificate has expired or is not valid yet \(certificate expired/,
        );
      },
    );

    await t.step(
      "no client certificate: connect() throws ConnectionClosedError caused by TlsError client-certificate-required",
      async () => {
        await assertRefusedAtConnect(
          { hostname: "localhost", port: broker.port, caCerts: [ca] },
          TlsFailure.ClientCertificateRequired,
          /the server requires a client certificate \(TLS alert CertificateRequired\); give cert and key/,
        );
      },
    );

    await t.step(
      "an expired client certificate: connect() throws ConnectionClosedError caused by TlsError client-certificate-rejected",
      async () => {
        await assertRefusedAtConnect(
          {
            ...good,
            cert: await pki.read("expired-client.crt"),
            key: await pki.read("expired-client.key"),
          },
          TlsFailure.ClientCertificateRejected,
          /the client certificate has expired or is not valid yet \(TLS alert CertificateExpired\)/,
        );
      },
    );

    await t.step(
      "a client certificate from another CA: connect() throws ConnectionClosedError caused by TlsError client-certificate-rejected",
      async () => {
        await assertRefusedAtConnect(
          {
            ...good,
            cert: await pki.read("other-client.crt"),
            key: await pki.read("other-client.key"),
          },
          TlsFailure.ClientCertificateRejected,
          /the server does not trust the CA that signed the client certificate \(TLS alert UnknownCA\)/,
        );
      },
    );

    await t.step("a plain MQTT port fails with TlsError handshake-failed", async () => {
      await using plain = await startMosquitto();
      await assertTlsError(
        connectTls({ ...good, port: plain.port }),
        TlsFailure.HandshakeFailed,
        /The TLS handshake with localhost:\d+ failed: .*is it a TLS port\?/,
      );
    });
  },
});

Deno.test({
  name: "connectTls() against Deno's TLS server: ALPN, a byte stream, aborts",
  ignore: !brokerAvailable,
  async fn(t) {
    await using pki = await makePki();
    const caCerts = [await pki.read("ca.crt")];
    using listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await pki.read("server.crt"),
      key: await pki.read("server.key"),
      alpnProtocols: ["mqtt"],
    });
    const { port } = listener.addr;

    await t.step(
      "reports the ALPN protocol the server picked, and reads through a BYOB reader",
      async () => {
        for (
          const [offered, picked] of [[["x-other", "mqtt"], "mqtt"], [undefined, null]] as const
        ) {
          const accepted = listener.accept().then(async (conn) => {
            await conn.handshake();
            await conn.write(new TextEncoder().encode("hello"));
            return conn;
          });
          const transport = await connectTls({
            port,
            caCerts,
            ...(offered ? { alpnProtocols: offered } : {}),
          });
          assert.equal(transport.alpnProtocol, picked);
          const server = await accepted;
          const reader = transport.readable.getReader({ mode: "byob" });
          const { value } = await reader.read(new Uint8Array(16));
          assert.equal(decoder.decode(value), "hello");
          reader.releaseLock();
          transport.close();
          transport.close(); // harmless twice
          server.close();
        }
      },
    );

    await t.step("refuses certificates and keys that are not PEM with TypeError", async () => {
      const cases: [TlsOptions, RegExp][] = [
        [{ caCerts: ["not a certificate"] }, /caCerts\[0\]: it holds no PEM certificate/],
        [{ cert: "x", key: "y" }, /Cannot use cert: it holds no PEM certificate/],
        [{ cert: caCerts[0]! }, /give both cert and key/],
        [
          { cert: caCerts[0]!, key: await pki.read("client.key") },
          /Cannot use the client certificate and key: keys may not be consistent/,
        ],
      ];
      for (const [options, message] of cases) {
        await assert.rejects(connectTls({ port, ...options }), (e) => {
          assert.ok(e instanceof TypeError, String(e));
          assert.match(e.message, message);
          return true;
        });
      }
    });

    await t.step("an aborted signal rejects with its reason", async () => {
      const reason = new Error("stop");
      await assert.rejects(
        connectTls({ port, caCerts, signal: AbortSignal.abort(reason) }),
        reason,
      );
    });

    await t.step("an abort during the handshake rejects at once", async () => {
      // A TCP server that accepts and never answers the TLS handshake.
      using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = silent.accept();
      const controller = new AbortController();
      const reason = new Error("no handshake");
      const connecting = connectTls({
        port: silent.addr.port,
        caCerts,
        signal: controller.signal,
      });
      const conn = await accepted;
      controller.abort(reason);
      await assert.rejects(connecting, reason);
      // Deno keeps the socket of a handshake cut short until the server sends or closes: the
      // server sees the ClientHello but no end yet. Closing it lets Deno release the socket
      // (the sanitizers check that nothing is left).
      const hello = new Uint8Array(4096);
      assert.ok((await conn.read(hello))! > 0, "the ClientHello");
      conn.close();
    });
  },
});
