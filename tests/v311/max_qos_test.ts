// Mosquitto's Maximum QoS (max_qos 1) on MQTT 3.1.1, where no CONNACK announces it: the SUBACK
// grants QoS 1 at most, and a QoS 2 PUBLISH, or a will at QoS 2, makes the broker close the
// connection with no packet, where a 5.0 client is told in the CONNACK (and is refused by the
// client before it sends) or gets CONNACK 0x9B.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ConnectionClosedError,
  ConnectionRefusedError,
  ServerCapabilityError,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import {
  clientsOf,
  escape,
  logged,
  message,
  subscribe,
  text,
  uniqueId,
  uniqueTopic,
  v311,
  v5ClientsOf,
  waitFor,
} from "./_v311.ts";

Deno.test({
  name: "Client on MQTT 3.1.1 against Mosquitto with max_qos 1",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({ verbose: true, config: ["max_qos 1"] });

    await t.step(
      "a QoS 2 subscription is granted QoS 1, and a QoS 1 publication arrives at QoS 1 [v3.1.1 MQTT-3.8.4-5] [v3.1.1 MQTT-3.8.4-6]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("granted");
        const { client: sub } = await clients.connect();
        deepStrictEqual(await subscribe(sub, topic, 2), [1]);
        deepStrictEqual(sub.session.state.subscriptions.map((s) => s.grantedQoS), [1]);
        const { client: pub } = await clients.connect();
        await pub.publish({ topic, qos: 1 }, "one");
        await waitFor(pub, "acknowledged");
        const m = await message(sub);
        deepStrictEqual([text(m.payload), m.qos], ["one", 1]);
      },
    );

    await t.step(
      "a QoS 2 publication on 3.1.1 makes Mosquitto close the connection with no packet (the client's limits say QoS 2: 3.1.1 cannot tell it), the flight kept in the session; a 5.0 client learns Maximum QoS 1 from the CONNACK and is refused before sending",
      async () => {
        await using clients = clientsOf(broker);
        const clientId = uniqueId("qos2");
        const topic = uniqueTopic("qos2");
        const { client, result } = await clients.connect({ clientId, cleanStart: false });
        equal(result.limits.maximumQoS, 2);
        const id = await client.publish({ topic, qos: 2 }, "two");
        const error = await client.poll({ signal: AbortSignal.timeout(5000) }).catch((e) => e);
        ok(error instanceof ConnectionClosedError, String(error));
        equal(error.sessionResumable, true);
        equal(client.session.flight(id!)?.state, "awaiting-pubrec");
        await logged(
          broker,
          new RegExp(`Too high QoS in PUBLISH from ${escape(clientId)}, disconnecting`, "g"),
        );

        await using v5 = v5ClientsOf(broker);
        const { client: five, result: r5 } = await v5.connect();
        equal(r5.limits.maximumQoS, 1);
        await rejects(
          five.publish({ topic, qos: 2 }, "two"),
          (e) => e instanceof ServerCapabilityError && e.reasonCode === 0x9b,
        );
        equal(five.state, "connected");
      },
    );

    await t.step(
      "a will at QoS 2 makes Mosquitto close a 3.1.1 connection without CONNACK (no return code fits) [v3.1.1 MQTT-3.2.2-6]: connect() throws ConnectionClosedError; a 5.0 client gets CONNACK 0x9B",
      async () => {
        const will = { topic: uniqueTopic("will"), payload: "bye", qos: 2 } as const;
        const client = new Client();
        const transport = await connectTcp({ hostname: broker.hostname, port: broker.port });
        await rejects(
          client.connect(transport, { ...v311(broker), clientId: uniqueId("will"), will }),
          (e) => e instanceof ConnectionClosedError && !(e instanceof ConnectionRefusedError),
        );
        equal(client.state, "closed");
        await logged(broker, /disconnected due to QoS too high or retain not supported/g);

        const five = new Client();
        await rejects(
          five.connect(await connectTcp({ hostname: broker.hostname, port: broker.port }), {
            clientId: uniqueId("will5"),
            username: broker.username,
            password: broker.password,
            will,
          }),
          (e) => e instanceof ConnectionRefusedError && e.reasonCode === 0x9b,
        );
      },
    );
  },
});
