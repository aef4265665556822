// The Mosquitto fixture: authentication as configured, extra config lines reaching the CONNACK,
// persistence across restart, and the errors it gives. Packets are written by hand (./_raw.ts).
// Run with `deno task test`; under a plain `deno test --allow-net` these tests are ignored.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { connectRaw, type PeerConnection } from "../_util/peer.ts";
import { connect, pingreq, pingresp, publish, readConnack, subscribe } from "./_raw.ts";

type Broker = Awaited<ReturnType<typeof startMosquitto>>;

/** CONNACK with reason 0x87 Not authorized and no properties. */
const CONNACK_NOT_AUTHORIZED = [0x20, 0x03, 0x00, 0x87, 0x00];

async function session(broker: Broker, clientId: string): Promise<PeerConnection> {
  const conn = await connectRaw(broker);
  await conn.write(
    connect({ clientId, username: broker.username, password: broker.password }),
  );
  equal(readConnack(await conn.readPacket()).reasonCode, 0x00);
  return conn;
}

Deno.test({
  name: "startMosquitto() runs a broker that requires the configured password",
  ignore: !brokerAvailable,
  async fn(t) {
    const started = performance.now();
    await using broker = await startMosquitto();
    const startMs = performance.now() - started;
    ok(startMs < 5_000, `start-up took ${startMs} ms`);
    equal(broker.hostname, "127.0.0.1");
    equal(broker.username, "mqtt5");
    equal(broker.password, "mqtt5-secret");

    await t.step("accepts mqtt5 / mqtt5-secret with CONNACK 0x00", async () => {
      await using conn = await connectRaw(broker);
      await conn.write(
        connect({ clientId: "infra-ok", username: "mqtt5", password: "mqtt5-secret" }),
      );
      const connack = readConnack(await conn.readPacket());
      equal(connack.reasonCode, 0x00);
      equal(connack.sessionPresent, false);
      equal(connack.properties.get(0x21), 20, "Receive Maximum: Mosquitto's max_inflight_messages");
      equal(connack.properties.get(0x22), 10, "Topic Alias Maximum: Mosquitto's default");
    });

    await t.step("refuses an anonymous MQTT 5 client with CONNACK 0x87, then closes", async () => {
      await using conn = await connectRaw(broker);
      await conn.write(connect({ clientId: "infra-anonymous" }));
      deepStrictEqual([...await conn.readPacket()], CONNACK_NOT_AUTHORIZED);
      equal((await conn.readUntilClosed()).length, 0);
    });

    await t.step("refuses a wrong password with 0x87 too, not 0x86", async () => {
      await using conn = await connectRaw(broker);
      await conn.write(connect({ clientId: "infra-wrong", username: "mqtt5", password: "nope" }));
      deepStrictEqual([...await conn.readPacket()], CONNACK_NOT_AUTHORIZED);
      equal((await conn.readUntilClosed()).length, 0);
    });

    await t.step("routes a QoS 1 PUBLISH to a subscriber", async () => {
      await using subscriber = await session(broker, "infra-sub");
      await subscriber.write(subscribe(1, "infra/route", 1));
      deepStrictEqual([...await subscriber.readPacket()], [0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);
      await using publisher = await session(broker, "infra-pub");
      await publisher.write(publish("infra/route", "hello", { packetId: 7 }));
      // PUBACK for packet 7 in its shortest form (reason 0x00 Success left out).
      deepStrictEqual([...await publisher.readPacket()], [0x40, 0x02, 0x00, 0x07]);
      // Delivered at QoS 1 with the broker's own packet id 1.
      deepStrictEqual(
        await subscriber.readPacket(),
        publish("infra/route", "hello", { packetId: 1 }),
      );
    });

    await t.step("logs() holds the broker's log", () => {
      const logs = broker.logs();
      ok(logs.includes("mosquitto version"), logs);
      ok(logs.includes("as infra-sub (p5"), logs);
      ok(logs.includes("Client <unknown> disconnected, not authorised."), logs);
    });
  },
});

Deno.test({
  name: "startMosquitto({ allowAnonymous: true }) accepts clients without a user name",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ allowAnonymous: true });

    await t.step("accepts an anonymous client", async () => {
      await using conn = await connectRaw(broker);
      await conn.write(connect({ clientId: "infra-anonymous" }));
      equal(readConnack(await conn.readPacket()).reasonCode, 0x00);
    });

    await t.step("still checks a password when one is given", async () => {
      await using conn = await connectRaw(broker);
      await conn.write(connect({ clientId: "infra-wrong", username: "mqtt5", password: "nope" }));
      deepStrictEqual([...await conn.readPacket()], CONNACK_NOT_AUTHORIZED);
    });
  },
});

Deno.test({
  name: "startMosquitto({ username, password, config }) configures user and limits",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto({
      username: "alice",
      password: "wonderland",
      config: [
        "max_inflight_messages 5",
        "max_packet_size 1000",
        "max_topic_alias 3",
        "max_qos 1",
        "retain_available false",
        "max_keepalive 10",
      ],
    });
    ok(broker.config.includes("max_topic_alias 3\n"), broker.config);
    await using conn = await connectRaw(broker);
    await conn.write(
      connect({ clientId: "infra-limits", username: "alice", password: "wonderland" }),
    );
    const connack = readConnack(await conn.readPacket());
    equal(connack.reasonCode, 0x00);
    deepStrictEqual(
      Object.fromEntries(connack.properties),
      {
        [0x13]: 10, // Server Keep Alive, below the 60 the client asked for
        [0x21]: 5, // Receive Maximum
        [0x22]: 3, // Topic Alias Maximum (a listener option: it must follow `listener`)
        [0x24]: 1, // Maximum QoS
        [0x25]: 0, // Retain Available
        [0x27]: 1000, // Maximum Packet Size
      },
    );
  },
});

/** Publishes a retained message, restarts, and says whether a new subscriber still gets it. */
async function retainedAfterRestart(broker: Broker, topic: string): Promise<boolean> {
  {
    await using publisher = await session(broker, "infra-retain-pub");
    await publisher.write(publish(topic, "kept", { packetId: 1, retain: true }));
    // PUBACK with reason 0x10 No matching subscribers: Mosquitto tells, and keeps the message.
    deepStrictEqual([...await publisher.readPacket()], [0x40, 0x03, 0x00, 0x01, 0x10]);
  }
  const port = broker.port;
  await broker.restart();
  equal(broker.port, port);
  await using subscriber = await session(broker, "infra-retain-sub");
  await subscriber.write(subscribe(1, topic, 0));
  await subscriber.write(pingreq);
  deepStrictEqual([...await subscriber.readPacket()], [0x90, 0x04, 0x00, 0x01, 0x00, 0x00]);
  // A retained message comes before the PINGRESP to the PINGREQ sent after the SUBSCRIBE.
  const next = await subscriber.readPacket();
  if (next[0] === pingresp[0]) return false;
  deepStrictEqual(next, publish(topic, "kept", { retain: true }));
  deepStrictEqual(await subscriber.readPacket(), pingresp);
  return true;
}

Deno.test({
  name: "Mosquitto.restart() keeps retained messages only with persistence",
  ignore: !brokerAvailable,
  async fn(t) {
    await t.step("with persistence: true, the message survives", async () => {
      await using broker = await startMosquitto({ persistence: true });
      equal(await retainedAfterRestart(broker, "infra/persisted"), true);
      ok(broker.logs().includes("Saving in-memory database"), broker.logs());
    });

    await t.step("by default, it is gone", async () => {
      await using broker = await startMosquitto();
      equal(await retainedAfterRestart(broker, "infra/forgotten"), false);
    });
  },
});

Deno.test({
  name: "Mosquitto disposal stops the broker and removes its folder",
  ignore: !brokerAvailable,
  async fn() {
    const broker = await startMosquitto();
    equal((await Deno.stat(`${broker.dir}/mosquitto.conf`)).isFile, true);
    equal(broker.running, true);
    await broker[Symbol.asyncDispose]();
    equal(broker.running, false);
    await rejects(Deno.stat(broker.dir), Deno.errors.NotFound);
    await rejects(
      Deno.connect({ hostname: broker.hostname, port: broker.port }),
      Deno.errors.ConnectionRefused,
    );
    await broker[Symbol.asyncDispose](); // twice is harmless
  },
});

Deno.test({
  name: "startMosquitto() fails with the broker's log when Mosquitto exits during start-up",
  ignore: !brokerAvailable,
  async fn() {
    await rejects(startMosquitto({ config: ["no_such_option 1"] }), (error: Error) => {
      ok(
        error.message.startsWith("mosquitto exited during start-up (exit code 3):"),
        error.message,
      );
      ok(error.message.includes("no_such_option"), error.message);
      return true;
    });
  },
});

Deno.test("startMosquitto() refuses a user name with a colon before starting anything", async () => {
  await rejects(startMosquitto({ username: "a:b" }), RangeError);
});
