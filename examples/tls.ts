/**
 * mqtt5 over TLS with client-certificate authentication: verify the broker's certificate against
 * a CA certificate, present a client certificate (the broker takes its Common Name, `mqtt5-client`,
 * as the user name), then subscribe, publish at QoS 1 and receive the message.
 *
 * It uses the throw-away certificates in `examples/pki/` (see its README: never use them
 * anywhere else). Start a broker for them with `deno task broker:tls` (TLS on localhost:8883),
 * then:
 *
 * `deno run --allow-net --allow-read examples/tls.ts [host] [port]`
 *
 * or let `deno task demo:tls` start a broker on a free port and run this example against it.
 *
 * @module
 */

import { Client, connectTls } from "../mod.ts";
import { logger } from "./_log.ts";

/** Where the example connects, and with which certificates. */
export interface TlsDemoOptions {
  /** The broker host; the broker's certificate must name it. */
  hostname: string;
  /** The broker's TLS port. */
  port: number;
  /**
   * The folder with `ca.crt` (the CA that signed the broker's certificate), `client.crt` and
   * `client.key`.
   */
  pki?: URL;
  /** Where the example writes its lines. */
  log?: (line: string) => void;
}

/** The folder of the example certificates. */
export const EXAMPLE_PKI: URL = new URL("./pki/", import.meta.url);

const decoder = new TextDecoder();

/** Runs the example and returns the text received. */
export async function tlsDemo(options: TlsDemoOptions): Promise<string> {
  const log = options.log ?? console.log;
  const pki = options.pki ?? EXAMPLE_PKI;
  const read = (name: string) => Deno.readTextFile(new URL(name, pki));

  const transport = await connectTls({
    hostname: options.hostname,
    port: options.port,
    caCerts: [await read("ca.crt")], // verify the broker against this CA
    cert: await read("client.crt"), // and authenticate with this certificate
    key: await read("client.key"),
    signal: AbortSignal.timeout(5000),
  });
  log(`TLS to ${options.hostname}:${options.port}: the broker's certificate is trusted`);

  const client = new Client({ logger });
  const run = crypto.randomUUID().slice(0, 8);
  // No user name or password: the broker takes the certificate's Common Name.
  const connack = await client.connect(transport, { clientId: `mqtt5-tls-${run}` });
  log(`connected as ${connack.clientId} with the client certificate`);

  const topic = `mqtt5/tls/${run}`;
  await client.subscribe({ filter: topic, qos: 1 });
  await client.poll({ signal: AbortSignal.timeout(5000) }); // SUBACK
  const id = await client.publish({ topic, qos: 1 }, "Hello over TLS!");
  log(`published "Hello over TLS!" at QoS 1 as packet ${id}`);

  let received: string | undefined;
  let acknowledged = false;
  while (received === undefined || !acknowledged) {
    const event = await client.poll({ signal: AbortSignal.timeout(5000) });
    log(`  event: ${event.type}${"packetId" in event ? ` ${event.packetId}` : ""}`);
    if (event.type === "message") received = decoder.decode(event.payload);
    if (event.type === "acknowledged" && event.packetId === id) acknowledged = true;
  }
  log(`received: ${received}`);
  await client.disconnect();
  return received;
}

if (import.meta.main) {
  const [hostname = "localhost", port = "8883"] = Deno.args;
  await tlsDemo({ hostname, port: Number(port) });
}
