/**
 * The sync implementation on its own: the protocol engine ({@linkcode Engine}) driven over a
 * `node:net` socket, with no `Client` at all. This is how MQTT is embedded in an event loop of
 * one's own: the program owns the socket (a plain `socket.on("data", ...)` handler) and one
 * timer; the engine owns every protocol rule and never reads the clock, so each call passes the
 * time in.
 *
 * The loop has three entry points, and each ends the same way: write what the engine queued
 * (`takeOutput`), then set the one timer for the next thing to do (`engine.timeout`, or the
 * program's own deadline). Data from the server goes to `receive()`, whose events come from
 * `nextEvent()`; the timer calls `handleTimeout()`, which queues PINGREQ when due and throws once
 * the server counts as gone; commands (`subscribe`, `publish`, `disconnect`) queue packets.
 *
 * It connects, subscribes to a topic at QoS 2, publishes a QoS 1 and a QoS 2 message to it and
 * receives both back, stays connected for a while so that keep alive pings, and disconnects.
 *
 * `deno run --allow-net examples/engine.ts [host] [port] [user] [password]`, or let
 * `deno task demo:engine` start a local Mosquitto and run it.
 *
 * @module
 */

import { createConnection } from "node:net";
import { getLogger } from "@logtape/logtape";
// In an application: import { Engine } from "jsr:@scope/mqtt5/engine";
import { Engine, type EngineEvent, type QoS } from "../src/session/mod.ts";

/** Where the example connects, and how long it stays. */
export interface EngineExampleOptions {
  /** The broker host. */
  hostname: string;
  /** The broker port. */
  port: number;
  /** The user name. */
  username?: string;
  /** The password. */
  password?: string;
  /** Keep Alive in seconds (short, so that the run shows PINGREQ and PINGRESP). @default {1} */
  keepAlive?: number;
  /** How long to stay connected once both messages came back, in milliseconds. @default {2500} */
  stayMs?: number;
  /** How long the exchange may take before the example gives up, in milliseconds. @default {10000} */
  timeoutMs?: number;
  /** Where the example writes its lines. */
  log?: (line: string) => void;
}

/** A message the example received. */
export interface ReceivedMessage {
  /** The topic. */
  topic: string;
  /** The payload, as text. */
  text: string;
  /** The QoS it came with. */
  qos: QoS;
  /** Its Packet Identifier (QoS 1 and 2). */
  packetId: number | undefined;
}

/** An acknowledgement of one of the example's publications, as an event of the engine. */
export interface Acknowledgement {
  /** `acknowledged` (PUBACK), `received` (PUBREC; PUBREL queued) or `completed` (PUBCOMP). */
  type: "acknowledged" | "received" | "completed";
  /** The Packet Identifier of the publication. */
  packetId: number;
  /** The reason code. */
  reasonCode: number;
}

/** What the example saw. */
export interface EngineExampleResult {
  /** The Packet Identifiers of the two publications. */
  published: { qos1: number; qos2: number };
  /** The messages received, in order. */
  received: ReceivedMessage[];
  /** The acknowledgements of the publications, in order. */
  acks: Acknowledgement[];
  /** The incoming QoS 2 publications whose PUBREL came (the engine queued PUBCOMP). */
  released: number[];
  /** PINGRESPs received. */
  pongs: number;
}

const decoder = new TextDecoder();

/** Runs the example over a `node:net` socket; resolves once the socket closed after DISCONNECT. */
export function engineExample(options: EngineExampleOptions): Promise<EngineExampleResult> {
  const log = options.log ?? console.log;
  const stayMs = options.stayMs ?? 2500;
  const run = crypto.randomUUID().slice(0, 8);
  const topic = `mqtt5/engine/${run}`;
  const result: EngineExampleResult = {
    published: { qos1: 0, qos2: 0 },
    received: [],
    acks: [],
    released: [],
    pongs: 0,
  };
  // LogTape's Logger fits the engine's: `MQTT5_LOG=debug deno task demo:engine` shows its log.
  const engine = new Engine({ logger: getLogger(["mqtt5", "engine"]) });
  const giveUpAt = Date.now() + (options.timeoutMs ?? 10_000);
  /** When both messages came back and every flow ended. */
  let doneAt: number | undefined;

  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: options.hostname, port: options.port });
    socket.setNoDelay(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopping = false;
    let failure: unknown;

    /** Writes what the engine queued; keep alive counts from `now`. */
    const flush = (now = Date.now()): boolean => {
      const bytes = engine.takeOutput(now);
      // A loop that sends a lot would also wait for "drain" when write() returns false.
      if (bytes !== undefined) socket.write(bytes);
      return bytes !== undefined;
    };

    /** Sets the one timer for the next thing to do: the engine's or the program's own. */
    const arm = (): void => {
      clearTimeout(timer);
      const wake = Math.min(engine.timeout ?? Infinity, doneAt ? doneAt + stayMs : giveUpAt);
      timer = setTimeout(onTimer, Math.max(0, wake - Date.now()));
    };

    /** Ends the run: writes what is queued (DISCONNECT), then closes; "close" settles. */
    const stop = (error?: unknown): void => {
      if (stopping) return;
      stopping = true;
      failure = error;
      clearTimeout(timer);
      timer = undefined;
      if (!socket.destroyed) {
        flush();
        socket.end();
      }
    };

    const onTimer = (): void => {
      timer = undefined;
      const now = Date.now();
      try {
        if (doneAt !== undefined && now >= doneAt + stayMs) {
          log("disconnecting");
          engine.disconnect();
          return stop();
        }
        if (doneAt === undefined && now >= giveUpAt) {
          throw new Error(`The exchange did not finish within ${options.timeoutMs ?? 10_000} ms`);
        }
        // Queues PINGREQ when due; throws ConnectionClosedError once the server counts as gone.
        engine.handleTimeout(now);
        if (flush(now)) log("keep alive: PINGREQ sent");
        arm();
      } catch (error) {
        stop(error);
      }
    };

    const onEvent = (event: EngineEvent): void => {
      switch (event.type) {
        case "connected":
          log(
            `connected as ${event.clientId}: keep alive ${event.keepAlive} s, ` +
              `server Receive Maximum ${event.limits.receiveMaximum}`,
          );
          engine.subscribe({ filter: topic, qos: 2 });
          break;
        case "subscribed":
          if (event.reasonCodes[0] !== 2) {
            throw new Error(`The server refused the subscription: ${event.reasonCodes[0]}`);
          }
          log(`subscribed to ${topic} at QoS 2; publishing at QoS 1 and 2`);
          // Each returns its Packet Identifier; the PUBLISH is queued, checked against the
          // server's limits first.
          result.published.qos1 = engine.publish({ topic, qos: 1 }, "at least once")!;
          result.published.qos2 = engine.publish({ topic, qos: 2 }, "exactly once")!;
          break;
        case "message": {
          const text = decoder.decode(event.payload);
          result.received.push({
            topic: event.topic,
            text,
            qos: event.qos,
            packetId: event.packetId,
          });
          const reply = event.qos === 1 ? "PUBACK" : event.qos === 2 ? "PUBREC" : "nothing";
          log(`received "${text}" at QoS ${event.qos} (${reply} queued)`);
          break;
        }
        case "acknowledged":
        case "received":
        case "completed": {
          const { type, packetId, reasonCode } = event;
          result.acks.push({ type, packetId, reasonCode });
          const what = type === "acknowledged"
            ? "PUBACK: the QoS 1 flight is over"
            : type === "received"
            ? "PUBREC: PUBREL queued"
            : "PUBCOMP: the QoS 2 flight is over";
          log(`publication ${packetId}: ${what}`);
          break;
        }
        case "released":
          result.released.push(event.packetId);
          log(`incoming ${event.packetId}: PUBREL, PUBCOMP queued`);
          break;
        case "pong":
          result.pongs++;
          log("keep alive: PINGRESP");
          break;
        case "rejected":
          throw new Error(`The server rejected publication ${event.packetId}: ${event.reasonCode}`);
        case "disconnected":
          // The engine is closed; the server closes the socket.
          throw engine.closeError;
        default:
          log(`event ${event.type}`);
      }
    };

    socket.on("connect", () => {
      engine.connect({
        clientId: `mqtt5-engine-${run}`,
        keepAlive: options.keepAlive ?? 1,
        ...(options.username !== undefined ? { username: options.username } : {}),
        ...(options.password !== undefined ? { password: options.password } : {}),
      }, Date.now());
      flush();
      arm();
    });

    socket.on("data", (chunk: Uint8Array) => {
      if (stopping) return;
      try {
        // node:net hands out Buffers, whose slice() does not copy; the engine gets the same
        // bytes as a plain Uint8Array.
        engine.receive(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          Date.now(),
        );
        for (let event; (event = engine.nextEvent()) !== undefined;) onEvent(event);
      } catch (error) {
        // A ProtocolViolationError comes with its DISCONNECT queued: stop() writes it.
        return stop(error);
      }
      const state = engine.session.state;
      if (
        doneAt === undefined && result.received.length === 2 && result.released.length === 1 &&
        state.outgoing.length === 0 && state.incoming.length === 0
      ) {
        doneAt = Date.now();
        log(`both messages came back once; staying ${stayMs} ms for keep alive`);
      }
      flush();
      arm();
    });

    socket.on("error", (error) => {
      engine.connectionLost(`The connection failed: ${error.message}`, error);
      stop(error);
    });

    socket.on("close", () => {
      clearTimeout(timer);
      timer = undefined;
      if (!stopping) {
        stopping = true;
        failure = engine.connectionLost("The server closed the connection");
      }
      if (failure === undefined) {
        log(`done: ${JSON.stringify(result)}`);
        resolve(result);
      } else {
        reject(failure);
      }
    });
  });
}

if (import.meta.main) {
  const [hostname = "127.0.0.1", port = "1883", username, password] = Deno.args;
  await engineExample({
    hostname,
    port: Number(port),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}
