/**
 * A user-driven loop on the client's primitives: poll until the next PINGREQ is due, ping, notice
 * a server that went silent, and reconnect with the session after a network failure, resending the
 * flights. This is how a higher-level client (with its own timers and reconnects) is built on
 * mqtt5, which has none of its own.
 *
 * `deno run --allow-net examples/keepalive_loop.ts [host] [port] [user] [password]`
 *
 * @module
 */

import { Client, ConnectionClosedError, connectTcp, Session, type Transport } from "../mod.ts";
import { logger } from "./_log.ts";

/** Where the example connects and how long it runs. */
export interface LoopOptions {
  /** The broker host. */
  hostname: string;
  /** The broker port. */
  port: number;
  /** The user name. */
  username?: string;
  /** The password. */
  password?: string;
  /** Keep Alive in seconds. @default {1} */
  keepAlive?: number;
  /** How long the loop runs, in milliseconds. @default {3500} */
  durationMs?: number;
  /** Where the example writes its lines. */
  log?: (line: string) => void;
}

/** What the loop did. */
export interface LoopResult {
  /** PINGRESPs received. */
  pongs: number;
  /** Reconnects after a network failure. */
  reconnects: number;
  /** QoS 1 publications acknowledged, out of those published. */
  acknowledged: number;
  /** QoS 1 publications made. */
  published: number;
}

/** Runs the loop for `durationMs`, cutting the network once halfway. */
export async function keepaliveLoop(options: LoopOptions): Promise<LoopResult> {
  const log = options.log ?? console.log;
  const keepAlive = options.keepAlive ?? 1;
  const end = Date.now() + (options.durationMs ?? 3500);
  const cutAt = Date.now() + (options.durationMs ?? 3500) / 2;
  const auth = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const run = crypto.randomUUID().slice(0, 8);
  const session = new Session();
  const result: LoopResult = { pongs: 0, reconnects: 0, acknowledged: 0, published: 0 };

  let transport: Transport;
  let client: Client;
  const connect = async (cleanStart: boolean) => {
    transport = await connectTcp({ hostname: options.hostname, port: options.port });
    client = new Client({ logger, session });
    const connack = await client.connect(transport, {
      clientId: `loop-${run}`,
      cleanStart,
      keepAlive,
      sessionExpiryInterval: 60,
      ...auth,
    });
    // Resume: send the flights the failure interrupted, in their original order.
    if (connack.sessionPresent) {
      const resent = await client.resend();
      if (resent.length > 0) log(`resent flights ${resent.join(", ")}`);
    }
    log(`connected (keep alive ${connack.keepAlive} s, session present ${connack.sessionPresent})`);
  };
  await connect(true);

  let cut = false;
  let nextPublish = Date.now();
  while (Date.now() < end) {
    const now = Date.now();
    try {
      if (!cut && now >= cutAt) {
        cut = true;
        log("the network fails (the transport is closed under the client)");
        transport!.close();
      }
      if (now >= nextPublish && session.state.outgoing.length < client!.limits.receiveMaximum) {
        try {
          await client!.publish({ topic: `mqtt5/loop/${run}`, qos: 1 }, `tick ${result.published}`);
        } catch (e) {
          // A write that failed with the connection still leaves the flight in the session.
          if (e instanceof ConnectionClosedError && e.packetId !== undefined) result.published++;
          throw e;
        }
        result.published++;
        nextPublish = now + keepAlive * 1500; // slower than keep alive, so pings are due between
      }
      const { pingDueAt, deadline } = client!.keepAlive;
      if (deadline !== undefined && now > deadline) {
        log("no answer to PINGREQ within the keep-alive deadline: the server is gone");
        client!.abort();
        throw new ConnectionClosedError("keep alive deadline passed");
      }
      if (pingDueAt !== undefined && now >= pingDueAt) {
        await client!.ping();
        continue;
      }
      // Wait for the next packet, but not past the next thing to do.
      const wake = Math.min(pingDueAt ?? end, deadline ?? end, nextPublish, end, cut ? end : cutAt);
      const event = await client!.poll({ signal: AbortSignal.timeout(Math.max(1, wake - now)) });
      if (event.type === "pong") result.pongs++;
      if (event.type === "acknowledged") result.acknowledged++;
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") continue;
      if (!(e instanceof ConnectionClosedError)) throw e;
      log(`connection lost (${e.message}); reconnecting with the session`);
      result.reconnects++;
      await connect(false);
    }
  }
  // Collect the last acknowledgements, then leave.
  while (session.state.outgoing.length > 0) {
    const event = await client!.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type === "acknowledged") result.acknowledged++;
  }
  await client!.disconnect({ properties: { sessionExpiryInterval: 0 } });
  log(`done: ${JSON.stringify(result)}`);
  return result;
}

if (import.meta.main) {
  const [hostname = "127.0.0.1", port = "1883", username, password] = Deno.args;
  await keepaliveLoop({
    hostname,
    port: Number(port),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}
