// examples/tls.ts runs against a Mosquitto with the example certificates, so it cannot rot.

import assert from "node:assert/strict";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { EXAMPLE_PKI, tlsDemo } from "../../examples/tls.ts";

const path = (name: string) => decodeURIComponent(new URL(name, EXAMPLE_PKI).pathname);

Deno.test({
  name: "examples/tls.ts publishes and receives over TLS with the example certificates",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto({
      tls: { cafile: path("ca.crt"), certfile: path("server.crt"), keyfile: path("server.key") },
    });
    const lines: string[] = [];
    const received = await tlsDemo({
      hostname: "localhost",
      port: broker.port,
      log: (line) => lines.push(line),
    });
    assert.equal(received, "Hello over TLS!");
    assert.ok(lines.some((l) => l.includes("with the client certificate")), lines.join("\n"));
    assert.match(broker.logs(), /u'mqtt5-client'/);
  },
});
