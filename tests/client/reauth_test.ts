// Re-authentication after CONNACK (section 4.12.1) against a scripted server: the bytes the client
// sends, decoded with the codec, and the events and errors it reports.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ClientStateError,
  type ConnectOptions,
  decode,
  encode,
  NotConnectedError,
  type Packet,
  PacketType,
  ProtocolViolationError,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { type PeerConnection, startPeer } from "../_util/peer.ts";

const te = new TextEncoder();
const METHOD = "TEST-REAUTH";

async function withClient(
  options: ConnectOptions,
  connack: Partial<Packet & { type: 2 }>,
  fn: (client: Client, conn: PeerConnection) => Promise<void>,
): Promise<void> {
  await using peer = await startPeer();
  const client = new Client();
  try {
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "reauth", ...options },
    );
    const conn = await peer.accept();
    equal(decode(await conn.readPacket()).type, PacketType.Connect);
    await conn.write(
      encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0, ...connack }),
    );
    await connecting;
    await fn(client, conn);
  } finally {
    client.abort();
  }
}

Deno.test(
  "Client.auth() re-authenticates with AUTH 0x19 and the connection's method, answers 0x18, and reports the server's AUTH events [MQTT-4.12.1-1] [MQTT-4.12.0-5]",
  async () => {
    await withClient(
      { authenticationMethod: METHOD, authenticationData: te.encode("first") },
      { properties: { authenticationMethod: METHOD } },
      async (client, conn) => {
        await client.auth({ authenticationData: te.encode("token-2") });
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Auth,
          reasonCode: 0x19,
          properties: { authenticationMethod: METHOD, authenticationData: te.encode("token-2") },
        });
        // The server continues: the event carries its data; the client answers with 0x18.
        await conn.write(encode({
          type: PacketType.Auth,
          reasonCode: 0x18,
          properties: { authenticationMethod: METHOD, authenticationData: te.encode("challenge") },
        }));
        const challenge = await client.poll({ signal: AbortSignal.timeout(5000) });
        deepStrictEqual(challenge, {
          type: "auth",
          reasonCode: 0x18,
          properties: { authenticationMethod: METHOD, authenticationData: te.encode("challenge") },
        });
        await client.auth({ reasonCode: 0x18, authenticationData: te.encode("response") });
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Auth,
          reasonCode: 0x18,
          properties: { authenticationMethod: METHOD, authenticationData: te.encode("response") },
        });
        await conn.write(encode({
          type: PacketType.Auth,
          reasonCode: 0x00,
          properties: { authenticationMethod: METHOD },
        }));
        const success = await client.poll({ signal: AbortSignal.timeout(5000) });
        equal(success.type, "auth");
        equal((success as { reasonCode: number }).reasonCode, 0);
        // Re-authentication is over: continuing it now is refused with nothing sent.
        await rejects(client.auth({ reasonCode: 0x18 }), ClientStateError);
        equal(client.state, "connected");
      },
    );
  },
);

Deno.test(
  "Client.auth() is refused when the connection used no Authentication Method, and nothing is sent [MQTT-4.12.0-7]",
  async () => {
    await withClient({}, {}, async (client, conn) => {
      await rejects(client.auth({ authenticationData: te.encode("x") }), (e: unknown) => {
        ok(e instanceof ClientStateError, String(e));
        ok(e.message.includes("MQTT-4.12.0-7"));
        return true;
      });
      await client.ping();
      // The next thing on the wire is the PINGREQ: no AUTH went out before it.
      deepStrictEqual(decode(await conn.readPacket()), { type: PacketType.Pingreq });
    });
  },
);

Deno.test(
  "Client.auth() leaves out the Reason String, then the User Properties, to fit the server's Maximum Packet Size [MQTT-3.15.2-2] [MQTT-3.15.2-3]",
  async () => {
    await withClient(
      { authenticationMethod: METHOD },
      { properties: { authenticationMethod: METHOD, maximumPacketSize: 40 } },
      async (client, conn) => {
        await client.auth({
          authenticationData: te.encode("tok"),
          reasonString: "r".repeat(30),
          userProperties: [["k", "v".repeat(30)]],
        });
        const sent = decode(await conn.readPacket());
        deepStrictEqual(sent, {
          type: PacketType.Auth,
          reasonCode: 0x19,
          properties: { authenticationMethod: METHOD, authenticationData: te.encode("tok") },
        });
        await client.auth({
          reasonCode: 0x18,
          reasonString: "short",
          userProperties: [["k", "v".repeat(30)]],
        });
        // The Reason String goes first; the User Properties still do not fit, so they go too.
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Auth,
          reasonCode: 0x18,
          properties: { authenticationMethod: METHOD },
        });
      },
    );
  },
);

Deno.test(
  "Client.poll() treats an AUTH the client did not start as a Protocol Error (DISCONNECT 0x82) [MQTT-4.12.1-1]",
  async () => {
    await withClient(
      { authenticationMethod: METHOD },
      { properties: { authenticationMethod: METHOD } },
      async (client, conn) => {
        await conn.write(encode({
          type: PacketType.Auth,
          reasonCode: 0x18,
          properties: { authenticationMethod: METHOD },
        }));
        await rejects(client.poll({ signal: AbortSignal.timeout(5000) }), (e: unknown) => {
          ok(e instanceof ProtocolViolationError, String(e));
          equal(e.reasonCode, 0x82);
          return true;
        });
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Disconnect,
          reasonCode: 0x82,
        });
      },
    );
  },
);

Deno.test(
  "Client.poll() reports the server's DISCONNECT 0x87 after a failed re-authentication as a disconnected event, and the client is closed [MQTT-4.12.1-2]",
  async () => {
    await withClient(
      { authenticationMethod: METHOD },
      { properties: { authenticationMethod: METHOD } },
      async (client, conn) => {
        await client.auth({ authenticationData: te.encode("expired") });
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Auth,
          reasonCode: 0x19,
          properties: { authenticationMethod: METHOD, authenticationData: te.encode("expired") },
        });
        // The server refuses the new credentials: DISCONNECT 0x87 (Not authorized).
        await conn.write(encode({
          type: PacketType.Disconnect,
          reasonCode: 0x87,
          properties: { reasonString: "token expired" },
        }));
        const event = await client.poll({ signal: AbortSignal.timeout(5000) });
        ok(event.type === "disconnected", JSON.stringify(event));
        equal(event.reasonCode, 0x87);
        equal(event.reasonString, "token expired");
        equal(client.state, "closed");
        // The client closes the connection without a DISCONNECT of its own.
        equal((await conn.readUntilClosed()).length, 0, "nothing after the server's DISCONNECT");
        await rejects(client.publish({ topic: "t", qos: 1 }, "x"), NotConnectedError);
      },
    );
  },
);
