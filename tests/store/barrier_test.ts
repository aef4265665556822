// The client's durability barrier, against Mosquitto through a byte-counting proxy: with a store
// whose save is held, the PUBLISH, PUBREC and PUBREL that depend on the save do not reach the
// broker until it resolves; a failed save closes the connection with nothing of the batch written.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Client, ConnectionClosedError } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, brokerIgnoreReason, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";
import { assertQuiet, Clients, text, uniqueTopic, waitFor } from "../client/_client.ts";
import { GatedStore, sleep, until } from "./_store.ts";

Deno.test({
  name: "Client with a store writes nothing that depends on a save before the save resolves",
  ignore: !brokerAvailable,
  async fn(t) {
    if (!brokerAvailable) console.warn(brokerIgnoreReason);
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    const login = { username: broker.username, password: broker.password };
    await using direct = new Clients(() => connectTcp(broker), login);
    await using proxied = new Clients(() => connectTcp(proxy), login);

    /** A client with a gated store, behind the proxy, and its proxied connection. */
    const storedClient = async (name: string) => {
      const store = new GatedStore();
      const client = new Client({ store });
      const n = proxy.connections.length + 1;
      await proxied.connect({ clientId: `${name}-${crypto.randomUUID().slice(0, 8)}` }, client);
      return { store, client, wire: await proxy.connection(n) };
    };

    await t.step("Client.publish() at QoS 1: the PUBLISH waits for the save", async () => {
      const topic = uniqueTopic("barrier-q1");
      const { client: sub } = await direct.connect();
      await sub.subscribe({ filter: topic, qos: 1 });
      await waitFor(sub, "subscribed");
      const { store, client, wire } = await storedClient("barrier-q1");
      store.hold = true;
      const before = wire.toServer;
      const published = client.publish({ topic, qos: 1 }, "held");
      await until(
        () => store.waiting === 1,
        `the save (saves: ${JSON.stringify(store.saved.map((s) => s.map((c) => c.op)))})`,
      );
      await sleep(200);
      equal(wire.toServer, before, "no byte of the PUBLISH before the save resolved");
      await assertQuiet(sub);
      deepStrictEqual(store.saved.at(-1)?.map((c) => c.op), ["client-id", "publish"]);
      store.hold = false;
      store.release();
      equal(await published, 1);
      await waitFor(client, "acknowledged");
      ok(wire.toServer > before);
      equal(text((await waitFor(sub, "message")).payload), "held");
    });

    await t.step("an incoming QoS 2 publication: the PUBREC waits for the save", async () => {
      const topic = uniqueTopic("barrier-pubrec");
      const { store, client, wire } = await storedClient("barrier-pubrec");
      await client.subscribe({ filter: topic, qos: 2 });
      await waitFor(client, "subscribed");
      const { client: pub } = await direct.connect();
      store.hold = true;
      const before = wire.toServer;
      await pub.publish({ topic, qos: 2 }, "x");
      // Mosquitto forwards a QoS 2 message once its publisher's PUBREL came.
      await waitFor(pub, "received");
      const message = await waitFor(client, "message");
      await until(
        () => store.waiting === 1,
        `the save (saves: ${JSON.stringify(store.saved.map((s) => s.map((c) => c.op)))})`,
      );
      await sleep(200);
      equal(wire.toServer, before, "no byte of the PUBREC before the save resolved");
      deepStrictEqual(store.saved.at(-1)?.at(-1), { op: "incoming", packetId: message.packetId });
      store.hold = false;
      store.release();
      await waitFor(client, "released"); // the broker had the PUBREC: it sent PUBREL
      await waitFor(pub, "completed");
      await until(() => wire.toServer === before + 8, "PUBREC and PUBCOMP");
    });

    await t.step("an outgoing QoS 2 publication: the PUBREL waits for the save", async () => {
      const topic = uniqueTopic("barrier-pubrel");
      const { client: sub } = await direct.connect();
      await sub.subscribe({ filter: topic, qos: 2 });
      await waitFor(sub, "subscribed");
      const { store, client, wire } = await storedClient("barrier-pubrel");
      await client.publish({ topic, qos: 2 }, "y");
      store.hold = true;
      const received = await waitFor(client, "received");
      const before = wire.toServer;
      await until(
        () => store.waiting === 1,
        `the save (saves: ${JSON.stringify(store.saved.map((s) => s.map((c) => c.op)))})`,
      );
      await sleep(200);
      equal(wire.toServer, before, "no byte of the PUBREL before the save resolved");
      // Mosquitto forwards a QoS 2 message once the PUBREL came: the subscriber has nothing yet.
      await assertQuiet(sub);
      deepStrictEqual(store.saved.at(-1), [{ op: "released", packetId: received.packetId }]);
      store.hold = false;
      store.release();
      await waitFor(client, "completed");
      equal(wire.toServer, before + 4, "PUBREL");
      equal(text((await waitFor(sub, "message")).payload), "y");
    });

    await t.step(
      "a failed save closes the connection with nothing of the batch written",
      async () => {
        const topic = uniqueTopic("barrier-fail");
        const { client: sub } = await direct.connect();
        await sub.subscribe({ filter: topic, qos: 1 });
        await waitFor(sub, "subscribed");
        const { store, client, wire } = await storedClient("barrier-fail");
        const before = wire.toServer;
        store.fail = true;
        const error = await rejects(client.publish({ topic, qos: 1 }, "lost?"), (e) => {
          ok(e instanceof ConnectionClosedError);
          ok(/Saving the session failed: the disk is full/.test(e.message), e.message);
          equal(e.packetId, 1);
          return true;
        });
        void error;
        equal(client.state, "closed");
        await wire.closed;
        equal(wire.toServer, before, "nothing of the batch was written");
        equal(client.session.flight(1)?.state, "awaiting-puback", "the flight is kept");
        await assertQuiet(sub);
      },
    );
  },
});
