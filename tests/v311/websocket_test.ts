// The client on MQTT 3.1.1 (protocolVersion: 4) over WebSocket (chapter 6 of 3.1.1, which 5.0
// keeps word for word): connectWebSocket() against Mosquitto's own WebSocket listener and
// through the WebSocket-to-TCP bridge of tests/_util/ws_bridge.ts, which records the offered
// subprotocols and the frames, cuts and coalesces frames, sends a text frame and selects another
// subprotocol. Mosquitto's `New client connected ... (p2, ...)` line says the broker read a 3.1.1
// CONNECT. (The transport on MQTT 5.0: tests/transport/websocket_test.ts.)

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Client, ConnectionClosedError, type IncomingMessageEvent } from "../../mod.ts";
import {
  connectWebSocket,
  WebSocketClosedError,
  WebSocketConnectError,
  type WebSocketTransport,
} from "../../src/transport/mod.ts";
import {
  brokerAvailable,
  brokerIgnoreReason,
  type Mosquitto,
  startMosquitto,
} from "../_util/mosquitto.ts";
import { packetsIn, startWsBridge, type WsBridgeOptions } from "../_util/ws_bridge.ts";
import {
  drain,
  escape,
  logged,
  pollUntil,
  subscribe,
  text,
  uniqueId,
  uniqueTopic,
  v311,
} from "./_v311.ts";

/** A 3.1.1 client connected over `transport` as `clientId`. */
async function connected(
  transport: WebSocketTransport,
  broker: Mosquitto,
  clientId: string,
): Promise<Client> {
  const client = new Client();
  await client.connect(transport, {
    ...v311(broker),
    clientId,
    signal: AbortSignal.timeout(5000),
  });
  return client;
}

/** Disconnects and waits for the socket to be closed, so the step leaves nothing running. */
async function done(client: Client, transport: WebSocketTransport): Promise<void> {
  if (client.state === "connected") {
    await client.disconnect({ signal: AbortSignal.timeout(5000) }).catch(() => client.abort());
  } else client.abort();
  await transport.closed;
}

/** The protocol level Mosquitto logged for `clientId`'s CONNECT: 2 is its name for 3.1.1. */
async function protocolLogged(broker: Mosquitto, clientId: string): Promise<number> {
  const pattern = new RegExp(
    `New client connected from \\S+ as ${escape(clientId)} \\(p(\\d)`,
    "g",
  );
  const [line] = await logged(broker, pattern);
  ok(line !== undefined, `Mosquitto logged no connection of ${clientId}`);
  return Number(line[1]);
}

Deno.test({
  name: "Client on MQTT 3.1.1 over connectWebSocket() to Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    if (!brokerAvailable) throw new Error(brokerIgnoreReason);
    await using broker = await startMosquitto({ websockets: true });
    const bridge = (options: Omit<WsBridgeOptions, "target"> = {}) =>
      startWsBridge({ target: { hostname: broker.hostname, port: broker.port }, ...options });

    await t.step("over Mosquitto's WebSocket listener: a QoS 1 publication back", async () => {
      const transport = await connectWebSocket(`ws://127.0.0.1:${broker.websocketsPort}/mqtt`);
      const clientId = uniqueId("ws311-direct");
      const client = await connected(transport, broker, clientId);
      try {
        const topic = uniqueTopic("ws311-direct");
        deepStrictEqual(await subscribe(client, topic, 1), [1]);
        await client.publish({ topic, qos: 1 }, "direct");
        let got: IncomingMessageEvent | undefined;
        let acked = false;
        await pollUntil(client, (e) => {
          if (e.type === "message") got = e;
          if (e.type === "acknowledged") acked = true;
          return got !== undefined && acked;
        });
        deepStrictEqual([got!.qos, text(got!.payload)], [1, "direct"]);
      } finally {
        await done(client, transport);
      }
      equal(await protocolLogged(broker, clientId), 2, "a 3.1.1 CONNECT");
    });

    await t.step(
      "offers the subprotocol mqtt [v3.1.1 MQTT-6.0.0-3] and sends binary frames only " +
        "[v3.1.1 MQTT-6.0.0-1]",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const clientId = uniqueId("ws311-binary");
        const client = await connected(transport, broker, clientId);
        try {
          const topic = uniqueTopic("ws311-binary");
          await subscribe(client, topic, 1);
          await client.publish({ topic, qos: 1 }, "binary");
          await pollUntil(client, (e) => e.type === "message");
        } finally {
          await done(client, transport);
        }
        equal(await protocolLogged(broker, clientId), 2, "a 3.1.1 CONNECT");
        const conn = await b.connection(1);
        deepStrictEqual(conn.offered, ["mqtt"]);
        // Every packet came in binary frames: the bridge passes on nothing else, and Mosquitto
        // read the CONNECT, the SUBSCRIBE and the PUBLISH (packets may share a frame).
        ok(conn.framesFromClient >= 3, `${conn.framesFromClient} binary frames`);
        equal(conn.textFromClient, 0, "not one text frame");
      },
    );

    await t.step(
      "a text frame from the server closes the connection with a typed error " +
        "[v3.1.1 MQTT-6.0.0-1]",
      async () => {
        await using b = await bridge();
        const transport = await connectWebSocket(b.url);
        const client = await connected(transport, broker, uniqueId("ws311-text"));
        const conn = await b.connection(1);
        conn.sendText("not MQTT");
        let error: unknown;
        await rejects(client.poll({ signal: AbortSignal.timeout(5000) }), (e) => {
          error = e;
          return true;
        });
        ok(error instanceof ConnectionClosedError, `expected ConnectionClosedError, got ${error}`);
        const cause = error.cause;
        ok(cause instanceof WebSocketClosedError, `the cause is ${cause}`);
        equal(cause.statement, "MQTT-6.0.0-1");
        equal(cause.byServer, false);
        equal(cause.recoverable, false);
        await transport.closed;
        await conn.closed;
        deepStrictEqual(conn.closeEvent, {
          code: 1000,
          reason: "MQTT over WebSocket takes binary frames only",
        });
        equal(client.state, "closed");
      },
    );

    await t.step(
      "QoS 1 and QoS 2 between two clients, frames cut into 1 to 7 bytes and coalesced " +
        "[v3.1.1 MQTT-6.0.0-2]",
      async () => {
        // The subscriber reads frames of 1 to 7 bytes cut from what Mosquitto wrote within
        // 20 ms; the publisher reads whole packets gathered for 50 ms into one frame.
        await using sb = await bridge({
          split: { min: 1, max: 7 },
          coalesceMs: 20,
          recordFrames: true,
        });
        await using pb = await bridge({ coalesceMs: 50, recordFrames: true });
        const topic = uniqueTopic("ws311-qos");
        const subTransport = await connectWebSocket(sb.url);
        const subscriber = await connected(subTransport, broker, uniqueId("ws311-sub"));
        const pubTransport = await connectWebSocket(pb.url);
        const publisher = await connected(pubTransport, broker, uniqueId("ws311-pub"));
        try {
          deepStrictEqual(await subscribe(subscriber, topic, 2), [2]);
          const payloads = { 1: "at QoS 1: " + "a".repeat(40), 2: "at QoS 2: " + "b".repeat(40) };
          // Both in one turn, so that the PUBACK and the PUBREC come back within 50 ms.
          const [id1, id2] = await Promise.all([
            publisher.publish({ topic, qos: 1 }, payloads[1]),
            publisher.publish({ topic, qos: 2 }, payloads[2]),
          ]);
          let acked = false;
          let completed = false;
          await pollUntil(publisher, (e) => {
            if (e.type === "acknowledged" && e.packetId === id1) acked = true;
            if (e.type === "completed" && e.packetId === id2) completed = true;
            return acked && completed;
          });

          const got: IncomingMessageEvent[] = [];
          let released = false;
          await pollUntil(subscriber, (e) => {
            if (e.type === "message") got.push(e);
            if (e.type === "released") released = true;
            return got.length === 2 && released;
          });
          deepStrictEqual(
            got.map((m) => [m.qos, text(m.payload)]),
            [[1, payloads[1]], [2, payloads[2]]],
          );
          // Nothing more up to the PINGRESP: the QoS 2 message came once.
          deepStrictEqual(await drain(subscriber), []);
        } finally {
          await done(subscriber, subTransport);
          await done(publisher, pubTransport);
        }

        const sub = await sb.connection(1);
        ok(sub.sentFrames.every((f) => f.length >= 1 && f.length <= 7));
        const subPackets = packetsIn(sub.sentFrames);
        // CONNACK, SUBACK, 2 PUBLISH, PUBREL, PINGRESP.
        ok(subPackets.length >= 6, `${subPackets.length} packets to the subscriber`);
        ok(
          subPackets.filter((p) => p.first !== p.last).length >= 4,
          "the PUBLISH packets and the SUBACK span several frames",
        );
        const pub = await pb.connection(1);
        const pubPackets = packetsIn(pub.sentFrames);
        const perFrame = new Map<number, number>();
        for (const p of pubPackets) {
          if (p.first === p.last) perFrame.set(p.first, (perFrame.get(p.first) ?? 0) + 1);
        }
        const most = Math.max(...perFrame.values());
        ok(most >= 2, `a frame held ${most} whole packets (the PUBACK and the PUBREC)`);
      },
    );

    await t.step(
      "a server that selects another subprotocol, or none, is refused [v3.1.1 MQTT-6.0.0-4]",
      async () => {
        for (const protocol of [null, "other"]) {
          await using b = await bridge({ protocol });
          let error: unknown;
          await rejects(connectWebSocket(b.url, { protocols: ["mqtt", "other"] }), (e) => {
            error = e;
            return true;
          });
          ok(error instanceof WebSocketConnectError, `expected WebSocketConnectError: ${error}`);
          equal(error.protocol, protocol ?? "");
          equal(error.statement, "MQTT-6.0.0-4");
          const conn = await b.connection(1);
          await conn.closed;
          equal(conn.framesFromClient, 0, "no MQTT packet was sent");
        }
      },
    );
  },
});
