/**
 * Manual acknowledgement: the application decides when each PUBACK goes out, so a message is
 * acknowledged only once it is safely stored. A message received but never acknowledged is sent
 * again by the broker (with DUP set) after the subscriber reconnects with its session.
 *
 * The publisher keeps within the broker's Receive Maximum: it has at most that many QoS 1
 * publications awaiting PUBACK, and polls for acknowledgements before it publishes more.
 *
 * `deno run --allow-net examples/manual_ack.ts [host] [port] [user] [password]`
 *
 * @module
 */

import { Client, connectTcp, Session } from "../mod.ts";
import { logger } from "./_log.ts";

/** Where the example connects. */
export interface ManualAckOptions {
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

/** What the subscriber stored, in order, and what came again after the reconnect. */
export interface ManualAckResult {
  /** Messages stored and acknowledged, in order. */
  stored: string[];
  /** The message that was not acknowledged and came again, with its DUP flag. */
  redelivered: { text: string; dup: boolean } | undefined;
  /** The Receive Maximum of the publisher's CONNACK: its QoS 1/2 publications in flight at most. */
  receiveMaximum: number;
}

const decoder = new TextDecoder();

/** Runs the example. */
export async function manualAck(options: ManualAckOptions): Promise<ManualAckResult> {
  const log = options.log ?? console.log;
  const server = () => connectTcp({ hostname: options.hostname, port: options.port });
  const auth = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const run = crypto.randomUUID().slice(0, 8);
  const topic = `mqtt5/manual/${run}`;
  const subscription = {
    clientId: `manual-sub-${run}`,
    sessionExpiryInterval: 60,
    ...auth,
  };

  const session = new Session();
  let subscriber = new Client({ logger, session, manualAck: true });
  await subscriber.connect(await server(), { ...subscription, cleanStart: true });
  await subscriber.subscribe({ filter: topic, qos: 1 });
  await subscriber.poll({ signal: AbortSignal.timeout(5000) }); // SUBACK

  const publisher = new Client({ logger });
  const { limits } = await publisher.connect(await server(), {
    clientId: `manual-pub-${run}`,
    ...auth,
  });
  log(`the broker takes ${limits.receiveMaximum} QoS 1/2 publications in flight (Receive Maximum)`);
  for (const text of ["one", "two", "three"]) {
    // At the broker's Receive Maximum, publish() would refuse: poll until a PUBACK frees a slot.
    while (publisher.session.state.outgoing.length >= limits.receiveMaximum) {
      await publisher.poll({ signal: AbortSignal.timeout(5000) });
    }
    await publisher.publish({ topic, qos: 1 }, text);
  }

  // Store and acknowledge the first two; "crash" before acknowledging the third.
  const stored: string[] = [];
  while (stored.length < 3) {
    const event = await subscriber.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type !== "message") continue;
    const text = decoder.decode(event.payload);
    if (text === "three") {
      log(`received "${text}" (packet ${event.packetId}); the subscriber fails before storing it`);
      break;
    }
    stored.push(text); // stands for a durable write
    await subscriber.acknowledge(event.packetId!);
    log(`stored "${text}", then acknowledged packet ${event.packetId}`);
  }
  subscriber.abort();

  // The broker still owes the unacknowledged message: it comes again after the reconnect.
  subscriber = new Client({ logger, session, manualAck: true });
  const result = await subscriber.connect(await server(), { ...subscription, cleanStart: false });
  log(`reconnected: session present ${result.sessionPresent}`);
  let redelivered: ManualAckResult["redelivered"];
  while (redelivered === undefined) {
    const event = await subscriber.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type !== "message") continue;
    const text = decoder.decode(event.payload);
    redelivered = { text, dup: event.dup };
    stored.push(text);
    await subscriber.acknowledge(event.packetId!);
    log(`received "${text}" again (DUP ${event.dup}), stored and acknowledged it`);
  }
  await subscriber.disconnect({ properties: { sessionExpiryInterval: 0 } });
  await publisher.disconnect();
  return { stored, redelivered, receiveMaximum: limits.receiveMaximum };
}

if (import.meta.main) {
  const [hostname = "127.0.0.1", port = "1883", username, password] = Deno.args;
  await manualAck({
    hostname,
    port: Number(port),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}
