// Refused connections and refused publications on MQTT 3.1.1 against Mosquitto: the CONNACK
// return codes 2, 4 and 5 as ConnectionRefusedError (with the 5.0 reason code of the same meaning),
// and an access control list that denies a publication, which a 3.1.1 client cannot be told of.
// Mosquitto's log shows the CONNACK as (Session Present, return code) and what it denied.
//
// The broker: a password file (allow_anonymous false), allow_zero_length_clientid false, an ACL,
// and a second, TLS listener that takes the user name from the client certificate
// (use_identity_as_username) without requiring one: a client without a certificate gets 4.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Client, ConnectionRefusedError, type ConnectOptions } from "../../mod.ts";
import { connectTcp, connectTls, type Transport } from "../../src/transport/mod.ts";
import { brokerAvailable, freePort, type Mosquitto } from "../_util/mosquitto.ts";
import { makePki } from "../_util/pki.ts";
import {
  clientsOf,
  drain,
  escape,
  logged,
  nextEvent,
  startMosquittoWithAcl,
  subscribe,
  uniqueId,
  uniqueTopic,
  v311,
  v5ClientsOf,
  waitFor,
} from "./_v311.ts";

/** Connects a new client over `transport`; returns the ConnectionRefusedError it must throw. */
async function refused(
  transport: Transport,
  options: ConnectOptions,
): Promise<{ error: ConnectionRefusedError; client: Client }> {
  const client = new Client();
  let error: unknown;
  await rejects(client.connect(transport, options), (e) => {
    error = e;
    return true;
  });
  ok(error instanceof ConnectionRefusedError, `expected ConnectionRefusedError, got ${error}`);
  return { error, client };
}

/** The CONNACKs Mosquitto logged sending to `who` as [Session Present, return code]. */
async function connacks(broker: Mosquitto, who: string, atLeast = 1): Promise<number[][]> {
  const pattern = new RegExp(`Sending CONNACK to ${escape(who)} \\((\\d), (\\d+)\\)`, "g");
  return (await logged(broker, pattern, atLeast)).map((m) => [Number(m[1]), Number(m[2])]);
}

Deno.test({
  name: "Client on MQTT 3.1.1 against Mosquitto: refused connections and unauthorized publications",
  ignore: !brokerAvailable,
  async fn(t) {
    await using pki = await makePki();
    const tlsPort = freePort();
    await using broker = await startMosquittoWithAcl(
      ["user mqtt5", "topic readwrite test/#", "topic read ro/#", "topic write wo/#"],
      {
        verbose: true,
        config: [
          "allow_zero_length_clientid false",
          `listener ${tlsPort} 127.0.0.1`,
          `cafile ${pki.path("ca.crt")}`,
          `certfile ${pki.path("server.crt")}`,
          `keyfile ${pki.path("server.key")}`,
          "require_certificate false",
          "use_identity_as_username true",
        ],
      },
    );
    const caCerts = [await pki.read("ca.crt")];
    const tcp = () => connectTcp({ hostname: broker.hostname, port: broker.port });
    // Every client names itself: this broker refuses an empty Client Identifier.

    await t.step(
      "CONNACK return code 4 (bad user name or password) throws ConnectionRefusedError with returnCode 4 and reasonCode 0x86; Session Present 0 [v3.1.1 MQTT-3.2.2-4], then the broker closes [v3.1.1 MQTT-3.2.2-5]",
      async () => {
        // The TLS listener takes the user name from a client certificate, and this client has none.
        for (const protocolVersion of [4, 5] as const) {
          const clientId = uniqueId(`no-cert${protocolVersion}`);
          const transport = await connectTls({ hostname: "localhost", port: tlsPort, caCerts });
          const { error, client } = await refused(transport, {
            ...v311(broker),
            protocolVersion,
            clientId,
          });
          equal(error.reasonCode, 0x86);
          equal(error.returnCode, protocolVersion === 4 ? 4 : undefined);
          equal(error.recoverable, false);
          equal(client.state, "closed");
          if (protocolVersion === 4) {
            ok(error.message.includes("MQTT 3.1.1 return code 4"), error.message);
          }
          deepStrictEqual(await connacks(broker, clientId), [[
            0,
            protocolVersion === 4 ? 4 : 0x86,
          ]]);
          await logged(broker, new RegExp(`Client ${escape(clientId)} disconnected`, "g"));
        }
      },
    );

    await t.step(
      "CONNACK return code 5 (not authorized) throws ConnectionRefusedError with returnCode 5 and reasonCode 0x87: for no user name (allow_anonymous false), and, with Mosquitto 2.0.11's password file, for a wrong password, an unknown user or a missing password too (never 4; 0x87 on 5.0) [v3.1.1 MQTT-3.2.2-4] [v3.1.1 MQTT-3.2.2-5]",
      async () => {
        const cases: [string, ConnectOptions][] = [
          ["anonymous", {}],
          ["wrong password", { username: broker.username, password: "wrong" }],
          ["unknown user", { username: "nobody", password: broker.password }],
          ["no password", { username: broker.username }],
        ];
        const before = (await connacks(broker, "127.0.0.1", 0)).length;
        for (const [what, login] of cases) {
          const { error, client } = await refused(await tcp(), {
            protocolVersion: 4,
            clientId: uniqueId("refused"),
            ...login,
          });
          deepStrictEqual([error.returnCode, error.reasonCode], [5, 0x87], what);
          equal(client.state, "closed", what);
        }
        // Mosquitto names a client it refused before authentication by its address.
        const sent = (await connacks(broker, "127.0.0.1", before + cases.length)).slice(before);
        deepStrictEqual(sent, cases.map(() => [0, 5]));

        const five = await refused(await tcp(), {
          clientId: uniqueId("refused5"),
          username: broker.username,
          password: "wrong",
        });
        deepStrictEqual([five.error.returnCode, five.error.reasonCode], [undefined, 0x87]);
      },
    );

    await t.step(
      "CONNACK return code 2 (identifier rejected) throws ConnectionRefusedError with returnCode 2 and reasonCode 0x85: an empty Client Identifier where allow_zero_length_clientid is false [v3.1.1 MQTT-3.1.3-9]; Mosquitto answers a 5.0 client 0x80 (unspecified), not 0x85",
      async () => {
        const { error } = await refused(await tcp(), { ...v311(broker), clientId: "" });
        deepStrictEqual([error.returnCode, error.reasonCode], [2, 0x85]);
        const five = await refused(await tcp(), {
          clientId: "",
          username: broker.username,
          password: broker.password,
        });
        deepStrictEqual([five.error.returnCode, five.error.reasonCode], [undefined, 0x80]);
        // Beyond the 23 characters of 0-9a-zA-Z that a server must accept [v3.1.1 MQTT-3.1.3-5],
        // Mosquitto accepts any identifier.
        await using clients = clientsOf(broker);
        const long = `${"long-id_".repeat(12)}${crypto.randomUUID()}`;
        const { result } = await clients.connect({ clientId: long });
        equal(result.connack.reasonCode, 0);
      },
    );

    await t.step(
      "a publication the ACL denies is acknowledged as if accepted on 3.1.1 (PUBACK, or PUBREC then PUBCOMP: no reason code to carry Mosquitto's 0x87) and dropped [v3.1.1 MQTT-3.3.5-2]; a 5.0 client gets the flight rejected with 0x87",
      async () => {
        await using clients = clientsOf(broker);
        const topic = `ro/${crypto.randomUUID().slice(0, 8)}`;
        const pubId = uniqueId("denied");
        const { client: reader } = await clients.connect({ clientId: uniqueId("reader") });
        deepStrictEqual(await subscribe(reader, topic, 2), [2]);
        const { client: pub } = await clients.connect({ clientId: pubId });
        await pub.publish({ topic, qos: 0 }, "denied0");
        const q1 = await pub.publish({ topic, qos: 1 }, "denied1");
        deepStrictEqual(await nextEvent(pub), {
          type: "acknowledged",
          packetId: q1,
          reasonCode: 0,
          properties: {},
        });
        const q2 = await pub.publish({ topic, qos: 2 }, "denied2");
        deepStrictEqual(
          [(await nextEvent(pub)).type, await nextEvent(pub)],
          ["received", { type: "completed", packetId: q2, reasonCode: 0, properties: {} }],
        );
        equal(pub.session.state.outgoing.length, 0);
        // Mosquitto denied all three and meant 0x87, which a 3.1.1 PUBACK or PUBREC cannot carry.
        const denied = new RegExp(`Denied PUBLISH from ${escape(pubId)} \\(d0, q(\\d)`, "g");
        deepStrictEqual((await logged(broker, denied, 3)).map((m) => Number(m[1])), [0, 1, 2]);
        await logged(
          broker,
          new RegExp(`Sending PUBACK to ${escape(pubId)} \\(m${q1}, rc135\\)`, "g"),
        );
        await logged(
          broker,
          new RegExp(`Sending PUBREC to ${escape(pubId)} \\(m${q2}, rc135\\)`, "g"),
        );
        deepStrictEqual(await drain(reader), []);

        await using v5 = v5ClientsOf(broker);
        const { client: five } = await v5.connect({ clientId: uniqueId("denied5") });
        for (const qos of [1, 2] as const) {
          const id = await five.publish({ topic, qos }, "denied");
          const e = await nextEvent(five);
          deepStrictEqual([
            e.type,
            "packetId" in e && e.packetId,
            "reasonCode" in e && e.reasonCode,
          ], [
            "rejected",
            id,
            0x87,
          ]);
        }
      },
    );

    await t.step(
      "Mosquitto grants a 3.1.1 subscription to a topic the user may not read (SUBACK with the QoS asked, never 0x80) and checks read access per message: nothing is delivered",
      async () => {
        await using clients = clientsOf(broker);
        const topic = `wo/${crypto.randomUUID().slice(0, 8)}`;
        const { client: sub } = await clients.connect({ clientId: uniqueId("sub") });
        deepStrictEqual(await subscribe(sub, topic, 1), [1]);
        const { client: pub } = await clients.connect({ clientId: uniqueId("pub") });
        await pub.publish({ topic, qos: 1 }, "write only");
        equal((await waitFor(pub, "acknowledged")).reasonCode, 0);
        deepStrictEqual(await drain(sub), []);
        // Where reading is allowed, the same subscription delivers.
        const allowed = uniqueTopic("allowed");
        await subscribe(sub, allowed, 1);
        await pub.publish({ topic: allowed, qos: 1 }, "readable");
        await waitFor(pub, "acknowledged");
        deepStrictEqual(await drain(sub), ["readable"]);
      },
    );
  },
});
