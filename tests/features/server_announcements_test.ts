// What the server announces in CONNACK, against Mosquitto with `max_qos 1`,
// `retain_available false` and `max_keepalive 10`: Maximum QoS, Retain Available, Server Keep
// Alive, Assigned Client Identifier; the Session Expiry Interval the client changes on DISCONNECT;
// and, with a scripted peer, Server Reference and a Session Expiry Interval chosen by the server.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ClientStateError,
  ConnectionRefusedError,
  decode,
  encode,
  PacketType,
  ServerCapabilityError,
  Session,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { connectRaw, startPeer } from "../_util/peer.ts";
import {
  clientsOf,
  message,
  nextEvent,
  openPeer,
  publishPacket,
  tappedTcp,
  text,
  uniqueTopic,
  waitFor,
  Wiretap,
} from "./_features.ts";

const te = new TextEncoder();

Deno.test({
  name:
    "Server announcements against Mosquitto with max_qos 1, retain_available false, max_keepalive 10",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto({
      config: ["max_qos 1", "retain_available false", "max_keepalive 10"],
    });

    /** A raw client of the broker, connected. */
    async function raw(clientId: string) {
      const conn = await connectRaw(broker);
      await conn.write(encode({
        type: PacketType.Connect,
        clientId,
        cleanStart: true,
        username: broker.username,
        password: te.encode(broker.password),
      }));
      equal(decode(await conn.readPacket()).type, PacketType.Connack);
      return conn;
    }

    await t.step(
      "Maximum QoS 1: a QoS 2 publish throws ServerCapabilityError 0x9B with nothing written, while Mosquitto disconnects a raw client that sends one; a QoS 2 subscription is granted QoS 1 [MQTT-3.2.2-11]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("max-qos");
        const { client: sub } = await clients.connect();
        await sub.subscribe({ filter: topic, qos: 2 });
        deepStrictEqual((await waitFor(sub, "subscribed")).reasonCodes, [1], "granted QoS 1");
        const tap = new Wiretap();
        const { client, result } = await clients.connect(
          {},
          undefined,
          await tappedTcp(broker, tap),
        );
        equal(result.limits.maximumQoS, 1);
        const written = tap.bytes;
        await rejects(client.publish({ topic, qos: 2 }, "x"), (e: unknown) => {
          ok(e instanceof ServerCapabilityError);
          equal(e.reasonCode, 0x9b);
          equal(e.recoverable, true);
          return true;
        });
        equal(tap.bytes, written, "nothing was written");
        await client.publish({ topic, qos: 1 }, "at one");
        equal((await waitFor(client, "acknowledged")).reasonCode, 0);
        const m = await message(sub);
        deepStrictEqual([text(m.payload), m.qos], ["at one", 1]);

        await using conn = await raw(`raw-qos-${crypto.randomUUID().slice(0, 8)}`);
        await conn.write(encode(publishPacket(topic, "x", 2, 1)));
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Disconnect,
          reasonCode: 0x9b,
        });
      },
    );

    await t.step(
      "Retain Available 0: a publish with RETAIN throws ServerCapabilityError 0x9A with nothing written, while Mosquitto disconnects a raw client that sends one [MQTT-3.2.2-14]",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("no-retain");
        const tap = new Wiretap();
        const { client, result } = await clients.connect(
          {},
          undefined,
          await tappedTcp(broker, tap),
        );
        equal(result.limits.retainAvailable, false);
        const written = tap.bytes;
        for (const qos of [0, 1] as const) {
          await rejects(client.publish({ topic, qos, retain: true }, "x"), (e: unknown) => {
            ok(e instanceof ServerCapabilityError);
            equal(e.reasonCode, 0x9a);
            return true;
          });
        }
        equal(tap.bytes, written, "nothing was written");
        equal(client.session.state.outgoing.length, 0);

        await using conn = await raw(`raw-retain-${crypto.randomUUID().slice(0, 8)}`);
        await conn.write(encode({ ...publishPacket(topic, "x", 1, 1), retain: true }));
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Disconnect,
          reasonCode: 0x9a,
        });
      },
    );

    await t.step(
      "a will beyond the server's capabilities (QoS 2, or RETAIN) is refused by Mosquitto with CONNACK 0x9B / 0x9A: ConnectionRefusedError",
      async () => {
        await using clients = clientsOf(broker);
        const topic = uniqueTopic("will");
        for (
          const [will, code] of [
            [{ topic, qos: 2 as const }, 0x9b],
            [{ topic, retain: true }, 0x9a],
          ] as const
        ) {
          const client = new Client();
          await rejects(clients.connect({ will }, client), (e: unknown) => {
            ok(e instanceof ConnectionRefusedError);
            equal(e.reasonCode, code);
            return true;
          });
          equal(client.state, "closed");
        }
      },
    );

    await t.step(
      "Server Keep Alive: Mosquitto replaces a Keep Alive of 60, or of 0, with 10, and the client keeps alive on 10 [MQTT-3.2.2-21] [MQTT-3.1.2-21]",
      async () => {
        await using clients = clientsOf(broker);
        for (const asked of [60, 0]) {
          const tap = new Wiretap();
          const before = Date.now();
          const { client, result } = await clients.connect(
            { keepAlive: asked },
            undefined,
            await tappedTcp(broker, tap),
          );
          const connect = tap.packets()[0]!;
          ok(connect.type === PacketType.Connect);
          equal(connect.keepAlive, asked);
          equal(result.connack.properties?.serverKeepAlive, 10);
          equal(result.keepAlive, 10);
          const { interval, pingDueAt, deadline } = client.keepAlive;
          equal(interval, 10);
          ok(pingDueAt !== undefined && pingDueAt >= before + 10_000);
          ok(pingDueAt <= Date.now() + 10_000, "due 10 s after the CONNECT, not 60");
          equal(deadline, pingDueAt + 10_000, "a PINGREQ gets the 10 s interval to be answered");
          await client.disconnect();
        }
      },
    );

    await t.step(
      "Assigned Client Identifier: an empty client id gets one from Mosquitto, kept in the session, and a resume with that session finds the server's session [MQTT-3.1.3-2]",
      async () => {
        await using clients = clientsOf(broker);
        const session = new Session();
        const tap = new Wiretap();
        const first = await clients.connect(
          { clientId: "", sessionExpiryInterval: 60 },
          new Client({ session }),
          await tappedTcp(broker, tap),
        );
        const connect = tap.packets()[0]!;
        ok(connect.type === PacketType.Connect && connect.clientId === "");
        const assigned = first.result.assignedClientIdentifier;
        ok(assigned !== undefined && assigned.length > 0);
        equal(first.result.clientId, assigned);
        equal(session.state.clientId, assigned);
        await first.client.disconnect();

        const again = new Wiretap();
        const second = await clients.connect(
          { cleanStart: false, sessionExpiryInterval: 60 },
          new Client({ session }),
          await tappedTcp(broker, again),
        );
        const reconnect = again.packets()[0]!;
        ok(reconnect.type === PacketType.Connect && reconnect.clientId === assigned);
        equal(second.result.sessionPresent, true);
        equal(second.result.assignedClientIdentifier, undefined);
        await second.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
      },
    );

    await t.step(
      "Session Expiry Interval on DISCONNECT: set to 0 Mosquitto drops the session at once, left alone it keeps it; raising it from 0 throws ClientStateError with nothing written",
      async () => {
        await using clients = clientsOf(broker);
        const id = crypto.randomUUID().slice(0, 8);
        for (const [ending, present] of [[undefined, true], [0, false]] as const) {
          const clientId = `expiry-${ending}-${id}`;
          const first = await clients.connect({ clientId, sessionExpiryInterval: 300 });
          equal(first.result.sessionExpiryInterval, 300);
          await first.client.disconnect(
            ending === undefined ? {} : { properties: { sessionExpiryInterval: ending } },
          );
          const second = await clients.connect({
            clientId,
            cleanStart: false,
            sessionExpiryInterval: 300,
          });
          equal(second.result.sessionPresent, present, `DISCONNECT with ${ending}`);
          await second.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
        }

        const tap = new Wiretap();
        const { client } = await clients.connect({}, undefined, await tappedTcp(broker, tap));
        const written = tap.bytes;
        await rejects(
          client.disconnect({ properties: { sessionExpiryInterval: 60 } }),
          ClientStateError,
        );
        equal(tap.bytes, written, "nothing was written");
        equal(client.state, "connected");
      },
    );
  },
});

Deno.test({
  name: "Server announcements against a scripted peer",
  async fn(t) {
    await t.step(
      "a CONNACK 0x9C with a Server Reference throws ConnectionRefusedError carrying it",
      async () => {
        await using peer = await startPeer();
        const client = new Client();
        const connecting = client.connect(
          await connectTcp({ hostname: peer.hostname, port: peer.port }),
          { clientId: "moved" },
        );
        const conn = await peer.accept();
        equal(decode(await conn.readPacket()).type, PacketType.Connect);
        await conn.write(encode({
          type: PacketType.Connack,
          sessionPresent: false,
          reasonCode: 0x9c,
          properties: { serverReference: "other.example:1883", reasonString: "moved" },
        }));
        await rejects(connecting, (e: unknown) => {
          ok(e instanceof ConnectionRefusedError);
          equal(e.reasonCode, 0x9c);
          equal(e.serverReference, "other.example:1883");
          equal(e.reasonString, "moved");
          return true;
        });
        equal((await conn.readUntilClosed()).length, 0, "the client closed without a word");
      },
    );

    await t.step(
      "a DISCONNECT 0x9D with a Server Reference comes as a disconnected event carrying it",
      async () => {
        await using h = await openPeer();
        await h.send({
          type: PacketType.Disconnect,
          reasonCode: 0x9d,
          properties: { serverReference: "elsewhere:8883" },
        });
        const event = await nextEvent(h.client);
        ok(event.type === "disconnected");
        deepStrictEqual([event.reasonCode, event.serverReference], [0x9d, "elsewhere:8883"]);
        await h.assertClosedQuietly();
      },
    );

    await t.step(
      "the server's limits come from CONNACK: Maximum QoS 0 refuses QoS 1 with 0x9B; a server Session Expiry Interval replaces the client's",
      async () => {
        await using h = await openPeer({
          connect: { sessionExpiryInterval: 3600 },
          connack: { properties: { maximumQoS: 0, sessionExpiryInterval: 10 } },
        });
        equal(h.result.sessionExpiryInterval, 10);
        await rejects(
          h.client.publish({ topic: "t", qos: 1 }, "x"),
          (e: unknown) => e instanceof ServerCapabilityError && e.reasonCode === 0x9b,
        );
        await h.client.publish({ topic: "t", qos: 0 }, "zero");
        const sent = await h.sent();
        ok(sent.type === PacketType.Publish && sent.qos === 0);
        // The session expiry in force is 10: the client may lower it to 0 on DISCONNECT.
        await h.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
        deepStrictEqual(await h.sent(), {
          type: PacketType.Disconnect,
          reasonCode: 0,
          properties: { sessionExpiryInterval: 0 },
        });
      },
    );
  },
});

Deno.test({
  name: "Session Expiry Interval on DISCONNECT against a scripted peer",
  async fn(t) {
    await t.step(
      "after a CONNECT with a Session Expiry Interval of 0, a non-zero one on DISCONNECT is refused with nothing sent, even when the CONNACK gave a non-zero one",
      async () => {
        await using h = await openPeer({
          connack: { properties: { sessionExpiryInterval: 10 } },
        });
        equal(h.connect.properties?.sessionExpiryInterval, undefined, "0: not sent");
        equal(h.result.sessionExpiryInterval, 10);
        await rejects(
          h.client.disconnect({ properties: { sessionExpiryInterval: 30 } }),
          ClientStateError,
        );
        equal(h.client.state, "connected");
        await h.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
        deepStrictEqual(await h.sent(), {
          type: PacketType.Disconnect,
          reasonCode: 0,
          properties: { sessionExpiryInterval: 0 },
        });
        await h.assertClosedQuietly();
      },
    );
  },
});
