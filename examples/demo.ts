/**
 * A tour of mqtt5 over TCP: connect with a session that never ends, subscribe at QoS 2, publish
 * "Hello World!" at QoS 2 and poll until it completes; then lose the connection in the middle of
 * a QoS 2 flow and recover it with the session, so that the message arrives exactly once.
 *
 * Run against a broker: `deno run --allow-net examples/demo.ts [host] [port] [user] [password]`,
 * or let `deno task demo` start a local Mosquitto and run it.
 *
 * @module
 */

import { Client, connectTcp, Session } from "../mod.ts";
import { configureLogging, logger } from "./_log.ts";

/** Where the demo connects. */
export interface DemoOptions {
  /** The broker host. */
  hostname: string;
  /** The broker port. */
  port: number;
  /** The user name. */
  username?: string;
  /** The password. */
  password?: string;
  /** Where the demo writes its lines. */
  log?: (line: string) => void;
}

/** What the demo saw: the payloads received, in order. */
export interface DemoResult {
  /** Every payload the subscriber received, as text. */
  received: string[];
}

const decoder = new TextDecoder();

/** Runs the demo and returns what was received. */
export async function demo(options: DemoOptions): Promise<DemoResult> {
  const log = options.log ?? console.log;
  const { hostname, port } = options;
  const auth = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const received: string[] = [];
  const topic = `mqtt5/demo/${crypto.randomUUID().slice(0, 8)}`;

  // 1. Connect with a session that never ends, subscribe and publish at QoS 2.
  const session = new Session();
  let client = new Client({ logger, session });
  const connack = await client.connect(await connectTcp({ hostname, port }), {
    clientId: `mqtt5-demo-${crypto.randomUUID().slice(0, 8)}`,
    cleanStart: true,
    sessionExpiryInterval: 0xffffffff,
    ...auth,
  });
  log(
    `connected as ${connack.clientId}: server Receive Maximum ${connack.limits.receiveMaximum}, ` +
      `Topic Alias Maximum ${connack.limits.topicAliasMaximum}, Maximum QoS ${connack.limits.maximumQoS}`,
  );
  await client.subscribe({ filter: `${topic}/#`, qos: 2 });
  const first = await client.publish({ topic: `${topic}/hello`, qos: 2 }, "Hello World!");
  log(`published "Hello World!" at QoS 2 as packet ${first}`);
  for (let done = false; !done;) {
    const event = await client.poll({ signal: AbortSignal.timeout(5000) });
    log(`  event: ${event.type}${"packetId" in event ? ` ${event.packetId}` : ""}`);
    if (event.type === "message") received.push(decoder.decode(event.payload));
    if (event.type === "completed" && event.packetId === first) done = true;
  }
  // Let the incoming QoS 2 flow finish too (its PUBREL may come after our PUBCOMP).
  while (session.state.incoming.length > 0) {
    const event = await client.poll({ signal: AbortSignal.timeout(5000) });
    log(`  event: ${event.type}${"packetId" in event ? ` ${event.packetId}` : ""}`);
  }

  // 2. Publish again, and lose the connection before any acknowledgement is read.
  const second = await client.publish({ topic: `${topic}/again`, qos: 2 }, "Exactly once");
  log(`published "Exactly once" as packet ${second}; now the network fails`);
  client.abort();
  log(
    `session after the failure: ${
      JSON.stringify(session.state.outgoing.map((f) => [f.packetId, f.state]))
    }`,
  );

  // 3. Reconnect on a fresh transport with the kept session and recover the flight.
  const kept = JSON.stringify(session.snapshot());
  const restored = Session.fromSnapshot(JSON.parse(kept));
  client = new Client({ logger, session: restored });
  const resumed = await client.connect(await connectTcp({ hostname, port }), {
    clientId: restored.state.clientId,
    cleanStart: false,
    sessionExpiryInterval: 0xffffffff,
    ...auth,
  });
  log(`reconnected: session present ${resumed.sessionPresent}`);
  const flight = restored.flight(second!);
  log(`flight ${second} is ${flight?.state ?? "over"}`);
  if (flight?.state === "awaiting-pubcomp") await client.rerelease(second!);
  else if (flight !== undefined) await client.republish(second!);

  for (let done = false; !done;) {
    const event = await client.poll({ signal: AbortSignal.timeout(5000) });
    log(`  event: ${event.type}${"packetId" in event ? ` ${event.packetId}` : ""}`);
    if (event.type === "message") received.push(decoder.decode(event.payload));
    if (event.type === "duplicate") log("  (a duplicate QoS 2 delivery was suppressed)");
    if (
      restored.state.outgoing.length === 0 && restored.state.incoming.length === 0 &&
      received.includes("Exactly once")
    ) done = true;
  }
  log(`received: ${JSON.stringify(received)}`);
  // Leave no session behind on the broker.
  await client.disconnect({ properties: { sessionExpiryInterval: 0 } });
  return { received };
}

if (import.meta.main) {
  // `MQTT5_LOG=trace deno run --allow-net --allow-env=MQTT5_LOG examples/demo.ts` logs every packet.
  await configureLogging();
  const [hostname = "127.0.0.1", port = "1883", username, password] = Deno.args;
  await demo({
    hostname,
    port: Number(port),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}
