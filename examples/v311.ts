/**
 * MQTT 3.1.1 with the same API as 5.0: `protocolVersion: 4`. A 3.1.1 subscriber with a persistent
 * session (Clean Session 0) and a 5.0 publisher exchange QoS 2 and QoS 1 messages through one
 * broker; the subscriber goes away, a message is queued for it, and it comes back to its session.
 * What 3.1.1 cannot express is refused before a byte is sent: here a Message Expiry Interval.
 *
 * `deno task demo:v311` starts Mosquitto and runs it.
 *
 * @module
 */

import { Client, connectTcp, ProtocolVersionError, Session } from "../mod.ts";
import { logger } from "./_log.ts";

/** Where the example connects. */
export interface V311Options {
  /** The broker host. */
  hostname: string;
  /** The broker port. */
  port: number;
  /** The user name, if the broker wants one. */
  username?: string;
  /** The password. */
  password?: string;
  /** Where the example writes its lines. */
  log?: (line: string) => void;
}

/** What the example saw. */
export interface V311Result {
  /** The payloads the 3.1.1 subscriber received, in order. */
  received: string[];
  /** Whether the broker had kept the subscriber's session (Session Present on its return). */
  sessionPresent: boolean;
  /** The option the 3.1.1 connection refused. */
  refused: string;
}

const decoder = new TextDecoder();

/** Runs the example. */
export async function v311(options: V311Options): Promise<V311Result> {
  const log = options.log ?? console.log;
  const server = () => connectTcp({ hostname: options.hostname, port: options.port });
  const login = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const run = crypto.randomUUID().slice(0, 8);
  const topic = `mqtt5/v311/${run}`;
  const received: string[] = [];

  // The 3.1.1 subscriber: Clean Session 0 keeps its session (and subscription) when it leaves.
  const session = new Session();
  let subscriber = new Client({ logger, session });
  const v311 = {
    ...login,
    protocolVersion: 4,
    clientId: `v311-${run}`,
    cleanStart: false,
  } as const;
  await subscriber.connect(await server(), v311);
  await subscriber.subscribe({ filter: topic, qos: 2 });
  await subscriber.poll(); // SUBACK
  log("3.1.1 subscriber: subscribed at QoS 2 with Clean Session 0");

  // A 5.0 publisher on the same broker.
  const publisher = new Client({ logger });
  await publisher.connect(await server(), { ...login, clientId: `v5-${run}` });
  const first = await publisher.publish({ topic, qos: 2 }, "from 5.0, exactly once");
  while ((await publisher.poll()).type !== "completed");
  log(`5.0 publisher: QoS 2 publication ${first} completed`);

  const receive = async (client: Client) => {
    for (;;) {
      const event = await client.poll({ signal: AbortSignal.timeout(5000) });
      if (event.type === "message") {
        received.push(decoder.decode(event.payload));
        log(`3.1.1 subscriber: received "${received.at(-1)}" at QoS ${event.qos}`);
        if (event.qos < 2) return; // QoS 0 and 1 are done once received (PUBACK is queued)
      }
      if (event.type === "released") return; // QoS 2: PUBCOMP is queued
    }
  };
  await receive(subscriber);

  // The subscriber leaves; a QoS 1 message is queued for it by the broker.
  await subscriber.disconnect();
  await publisher.publish({ topic, qos: 1 }, "queued while away");
  await publisher.poll(); // PUBACK
  log("5.0 publisher: published while the 3.1.1 subscriber was away");

  // It comes back with the same session: Session Present 1, and the queued message arrives.
  subscriber = new Client({ logger, session });
  const back = await subscriber.connect(await server(), v311);
  log(`3.1.1 subscriber: back, session present: ${back.sessionPresent}`);
  await receive(subscriber);

  // 5.0-only options are refused on a 3.1.1 connection, with nothing sent.
  let refused = "";
  try {
    await subscriber.publish({ topic, qos: 1, properties: { messageExpiryInterval: 60 } }, "x");
  } catch (e) {
    if (!(e instanceof ProtocolVersionError)) throw e;
    refused = e.option;
    log(`refused: ${e.message}`);
  }

  await subscriber.disconnect();
  await publisher.disconnect();
  return { received, sessionPresent: back.sessionPresent, refused };
}

if (import.meta.main) {
  const [hostname = "localhost", port = "1883"] = Deno.args;
  await v311({ hostname, port: Number(port) });
}
