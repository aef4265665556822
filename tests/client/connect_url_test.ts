// connect(url) and openTransport(url) on Deno: the URL's scheme picks connectTcp, connectTls or
// connectWebSocket (tests/runtimes/ runs them on Node and Bun, where mqtt: and mqtts: take
// connectNode); credentials in the URL; default ports and WebSocket path; refusals before
// connecting.

import assert from "node:assert/strict";
import {
  type Client,
  connect,
  ConnectionRefusedError,
  openTransport,
  TlsError,
  TlsFailure,
} from "../../mod.ts";
import { brokerAvailable, freePort, startMosquitto, tlsConfig } from "../_util/mosquitto.ts";
import { makePki } from "../_util/pki.ts";

const decoder = new TextDecoder();

/** Publishes at QoS 2 to a topic of its own and waits for the message and the PUBCOMP. */
async function echo(client: Client, text: string): Promise<void> {
  const topic = `url/${crypto.randomUUID()}`;
  await client.subscribe({ filter: topic, qos: 2 });
  assert.equal((await client.poll({ signal: AbortSignal.timeout(5000) })).type, "subscribed");
  const id = await client.publish({ topic, qos: 2 }, text);
  let received: string | undefined;
  let completed = false;
  while (received === undefined || !completed) {
    const event = await client.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type === "message") received = decoder.decode(event.payload);
    if (event.type === "completed" && event.packetId === id) completed = true;
  }
  assert.equal(received, text);
}

Deno.test({
  name: "connect() refuses URLs and options that cannot work before connecting",
  permissions: {},
  async fn() {
    await assert.rejects(
      connect("localhost:1883"),
      /the scheme must be mqtt:, mqtts:, ws: or wss:/,
    );
    await assert.rejects(connect("not a url"), /not a URL; give one like mqtt:\/\/host:1883/);
    await assert.rejects(connect("http://example.com"), TypeError);
    await assert.rejects(
      connect("ws://127.0.0.1:1", { tls: { ca: "x" } }),
      /the WebSocket API takes no TLS settings/,
    );
    await assert.rejects(
      connect("mqtt://127.0.0.1:1", { tls: {} }),
      /it is plain TCP; use an mqtts: URL/,
    );
    await assert.rejects(
      connect("mqtts://127.0.0.1:1", { tls: { servername: "a.example" } }),
      /Cannot use tls.servername on Deno/,
    );
    await assert.rejects(openTransport("tcp://127.0.0.1"), TypeError);
    // The password never shows in a message.
    await assert.rejects(connect("foo://user:secret@host"), (e: Error) => {
      assert.doesNotMatch(e.message, /secret/);
      return e instanceof TypeError;
    });
  },
});

Deno.test({
  name: "connect() on Deno: mqtt:// with the URL's credentials, mqtts:// with a client " +
    "certificate, ws:// with the default path, and openTransport() to resume the session",
  ignore: !brokerAvailable,
  async fn(t) {
    await using pki = await makePki();
    const tlsPort = freePort();
    await using broker = await startMosquitto({
      websockets: true,
      config: [
        `listener ${tlsPort} 127.0.0.1`,
        ...tlsConfig({
          cafile: pki.path("ca.crt"),
          certfile: pki.path("server.crt"),
          keyfile: pki.path("server.key"),
        }),
      ],
    });
    const user = encodeURIComponent(broker.username);
    const password = encodeURIComponent(broker.password);
    const url = `mqtt://${user}:${password}@127.0.0.1:${broker.port}`;

    await t.step("mqtt:// authenticates with the URL's user name and password", async () => {
      const { client, result } = await connect(url, { clientId: "url-tcp" });
      assert.equal(result.sessionPresent, false);
      await echo(client, "over connectTcp");
      await client.disconnect();
    });

    await t.step("credentials in the options win over the URL's", async () => {
      await assert.rejects(
        connect(url, { clientId: "url-wrong", password: "wrong" }),
        ConnectionRefusedError,
      );
    });

    await t.step("openTransport() connects the same client again with its session", async () => {
      const options = { clientId: "url-resume", sessionExpiryInterval: 60 };
      const { client } = await connect(url, options);
      client.abort();
      const result = await client.connect(await openTransport(url), {
        ...options,
        cleanStart: false,
        username: broker.username,
        password: broker.password,
      });
      assert.equal(result.sessionPresent, true);
      await client.disconnect();
    });

    await t.step("mqtts:// uses connectTls with the tls options", async () => {
      const tls = {
        ca: await pki.read("ca.crt"),
        cert: await pki.read("client.crt"),
        key: await pki.read("client.key"),
      };
      const { client } = await connect(`mqtts://localhost:${tlsPort}`, {
        clientId: "url-tls",
        tls,
      });
      await echo(client, "over connectTls");
      await client.disconnect();
      const error = await connect(`mqtts://localhost:${tlsPort}`, { clientId: "url-tls-bad" })
        .then(() => undefined, (e) => e);
      assert.ok(error instanceof TlsError, `expected TlsError, got ${error}`);
      assert.equal(error.failure, TlsFailure.UntrustedCertificate);
    });

    await t.step("ws:// without a path asks for /mqtt, which Mosquitto takes", async () => {
      const { client } = await connect(
        `ws://${user}:${password}@127.0.0.1:${broker.websocketsPort}`,
        { clientId: "url-ws" },
      );
      await echo(client, "over connectWebSocket");
      await client.disconnect();
    });
  },
});

Deno.test({
  name: "connect() asks a WebSocket server for /mqtt when the URL has no path, and keeps a path " +
    "the URL gives",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const paths: string[] = [];
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => {
        paths.push(new URL(request.url).pathname + new URL(request.url).search);
        return new Response("no", { status: 404 });
      },
    );
    const port = server.addr.port;
    for (
      const url of [
        `ws://127.0.0.1:${port}`,
        `ws://127.0.0.1:${port}/`,
        `ws://127.0.0.1:${port}/x?a=1`,
      ]
    ) {
      await assert.rejects(connect(url, { clientId: "ws-path" }));
    }
    assert.deepEqual(paths, ["/mqtt", "/", "/x?a=1"]);
  },
});
