/**
 * Session recovery, step by step: a QoS 2 flow is cut by a network failure at two different
 * points, and each time the kept session says what to resend so the message arrives exactly once.
 *
 * - Cut 1, before the PUBREC: the flight is `awaiting-pubrec`, so the PUBLISH is sent again with
 *   DUP set (`republish`). The broker knows the packet id and does not deliver it twice.
 * - Cut 2, after the PUBREC: the flight is `awaiting-pubcomp`, so only the PUBREL is sent again
 *   (`rerelease`); the PUBLISH must never be sent again.
 *
 * `deno run --allow-net examples/session_recovery.ts [host] [port] [user] [password]`
 *
 * @module
 */

import { Client, connectTcp, Session } from "../mod.ts";
import { logger } from "./_log.ts";

/** Where the example connects. */
export interface RecoveryOptions {
  /** The broker host. */
  hostname: string;
  /** The broker port. */
  port: number;
  /** The user name. */
  username?: string;
  /** The password. */
  password?: string;
  /** Where the example writes its lines. */
  log?: (line: string) => void;
}

/** How many times the subscriber received each message. */
export type Deliveries = Record<string, number>;

const decoder = new TextDecoder();

/** Runs both cuts and returns how often the subscriber received each message. */
export async function sessionRecovery(options: RecoveryOptions): Promise<Deliveries> {
  const log = options.log ?? console.log;
  const server = () => connectTcp({ hostname: options.hostname, port: options.port });
  const auth = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const run = crypto.randomUUID().slice(0, 8);
  const topic = `mqtt5/recovery/${run}`;
  const forever = 0xffffffff;

  // A subscriber that counts every delivery.
  const subscriber = new Client({ logger });
  await subscriber.connect(await server(), { clientId: `recovery-sub-${run}`, ...auth });
  await subscriber.subscribe({ filter: topic, qos: 2 });
  await subscriber.poll({ signal: AbortSignal.timeout(5000) }); // SUBACK

  // The publisher keeps its session in a Session object (and as JSON, as an app would on disk).
  let client = new Client({ logger, session: new Session() });
  const connectOptions = {
    clientId: `recovery-pub-${run}`,
    sessionExpiryInterval: forever,
    ...auth,
  };
  await client.connect(await server(), { ...connectOptions, cleanStart: true });

  const reconnect = async () => {
    const saved = JSON.stringify(client.session.snapshot());
    log(`  kept session: ${saved.length} bytes of JSON`);
    client = new Client({ logger, session: Session.fromSnapshot(JSON.parse(saved)) });
    const result = await client.connect(await server(), { ...connectOptions, cleanStart: false });
    log(`  reconnected: session present ${result.sessionPresent}`);
    return client;
  };
  const finish = async (id: number) => {
    for (;;) {
      const event = await client.poll({ signal: AbortSignal.timeout(5000) });
      log(`  event: ${event.type}${"packetId" in event ? ` ${event.packetId}` : ""}`);
      if (event.type === "completed" && event.packetId === id) return;
    }
  };

  // Cut 1: before the PUBREC arrives.
  log("cut 1: the connection fails right after the PUBLISH is written");
  const first = (await client.publish({ topic, qos: 2 }, "first"))!;
  client.abort();
  log(`  flight ${first}: ${client.session.flight(first)?.state}`);
  await reconnect();
  const flight1 = client.session.flight(first)!;
  log(`  flight ${first} after reconnect: ${flight1.state} -> republish with DUP`);
  await client.republish(first);
  await finish(first);

  // Cut 2: after the PUBREC arrived, so the PUBREL was sent (or queued) and the flight awaits PUBCOMP.
  log("cut 2: the connection fails after the PUBREC arrived");
  const second = (await client.publish({ topic, qos: 2 }, "second"))!;
  for (;;) {
    const event = await client.poll({ signal: AbortSignal.timeout(5000) });
    log(`  event: ${event.type}${"packetId" in event ? ` ${event.packetId}` : ""}`);
    if (event.type === "received" && event.packetId === second) break;
  }
  client.abort();
  log(`  flight ${second}: ${client.session.flight(second)?.state}`);
  await reconnect();
  const flight2 = client.session.flight(second)!;
  log(`  flight ${second} after reconnect: ${flight2.state} -> re-release (PUBREL again)`);
  await client.rerelease(second);
  await finish(second);
  await client.disconnect({ properties: { sessionExpiryInterval: 0 } });

  // The subscriber gets each message exactly once.
  const deliveries: Deliveries = {};
  while (Object.values(deliveries).reduce((a, b) => a + b, 0) < 2) {
    const event = await subscriber.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type === "message") {
      const text = decoder.decode(event.payload);
      deliveries[text] = (deliveries[text] ?? 0) + 1;
    }
  }
  // Anything more would be a duplicate: wait briefly for one that should never come.
  try {
    for (;;) {
      const event = await subscriber.poll({ signal: AbortSignal.timeout(300) });
      if (event.type === "message") {
        const text = decoder.decode(event.payload);
        deliveries[text] = (deliveries[text] ?? 0) + 1;
      }
    }
  } catch (e) {
    if (!(e instanceof DOMException && e.name === "TimeoutError")) throw e;
  }
  log(`subscriber deliveries: ${JSON.stringify(deliveries)}`);
  await subscriber.disconnect();
  return deliveries;
}

if (import.meta.main) {
  const [hostname = "127.0.0.1", port = "1883", username, password] = Deno.args;
  await sessionRecovery({
    hostname,
    port: Number(port),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}
