// The client's logging through LogTape: at every level, no password, no authentication data and no
// payload beyond a short prefix; at debug and above no payload byte at all; at trace one line per
// packet sent and received. A scripted peer runs an enhanced-authentication CONNECT, a QoS 1
// publication each way and a DISCONNECT, with LogTape configured to a memory sink.

import { equal, ok } from "node:assert/strict";
import {
  configure,
  defaultTextFormatter,
  getLogger,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
  reset,
} from "@logtape/logtape";
import { Client, decode, encode, type Packet, PacketType, withPacketTrace } from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { startPeer } from "../_util/peer.ts";
import { nextEvent, text } from "./_client.ts";

const te = new TextEncoder();

const PASSWORD = "pw-Zq8vN3-never-logged";
const CLIENT_AUTH_1 = "client-auth-data-1-never-logged";
const CLIENT_AUTH_2 = "client-auth-data-2-never-logged";
const SERVER_AUTH_1 = "server-auth-data-1-never-logged";
const SERVER_AUTH_2 = "server-auth-data-2-never-logged";
const SECRETS = [PASSWORD, CLIENT_AUTH_1, CLIENT_AUTH_2, SERVER_AUTH_1, SERVER_AUTH_2];
/** Payloads longer than the 32-byte prefix: the head may show at trace, the tail never. */
const OUT_HEAD = "outgoing-head-0123456789abcdefgh"; // 32 bytes
const OUT_TAIL = "OUTGOING-TAIL-SECRET-never-logged";
const IN_HEAD = "incoming-head-0123456789abcdefgh"; // 32 bytes
const IN_TAIL = "INCOMING-TAIL-SECRET-never-logged";
const METHOD = "TEST-AUTH";
const TOPIC = "logging/test";

/**
 * Runs the whole exchange with LogTape at `level` (its logger wrapped by `withPacketTrace()` with
 * `packets`); returns the records, rendered two ways.
 */
async function run(
  level: LogLevel,
  packets = false,
): Promise<{ records: LogRecord[]; lines: string[] }> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["mqtt5"], lowestLevel: level, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await using peer = await startPeer();
    // The application hands the client its logger; the client logs to its children "client"
    // and "reader".
    const logger = getLogger(["mqtt5"]);
    const client = new Client({ logger: packets ? withPacketTrace(logger) : logger });
    try {
      const connecting = client.connect(
        await connectTcp({ hostname: peer.hostname, port: peer.port }),
        {
          clientId: "logging-test",
          keepAlive: 0,
          username: "user",
          password: PASSWORD,
          authenticationMethod: METHOD,
          authenticationData: te.encode(CLIENT_AUTH_1),
          onAuth: () => ({ authenticationData: te.encode(CLIENT_AUTH_2) }),
        },
      );
      const conn = await peer.accept();
      const send = (packet: Packet) => conn.write(encode(packet));
      const receive = async () => decode(await conn.readPacket());

      equal((await receive()).type, PacketType.Connect);
      await send({
        type: PacketType.Auth,
        reasonCode: 0x18,
        properties: { authenticationMethod: METHOD, authenticationData: te.encode(SERVER_AUTH_1) },
      });
      equal((await receive()).type, PacketType.Auth);
      await send({
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0,
        properties: { authenticationMethod: METHOD, authenticationData: te.encode(SERVER_AUTH_2) },
      });
      await connecting;

      const id = await client.publish({ topic: TOPIC, qos: 1 }, OUT_HEAD + OUT_TAIL);
      const publish = await receive();
      equal(publish.type, PacketType.Publish);
      await send({ type: PacketType.Puback, packetId: id! });
      equal((await nextEvent(client)).type, "acknowledged");

      await send({
        type: PacketType.Publish,
        topic: TOPIC,
        qos: 1,
        packetId: 7,
        payload: te.encode(IN_HEAD + IN_TAIL),
      });
      const message = await nextEvent(client);
      ok(message.type === "message" && text(message.payload) === IN_HEAD + IN_TAIL);
      equal((await receive()).type, PacketType.Puback);

      await client.disconnect();
      equal((await receive()).type, PacketType.Disconnect);
    } finally {
      client.abort();
    }
  } finally {
    await reset();
  }
  // What a console or file sink would print, and what a JSON sink would write (properties too).
  const lines = records.flatMap((r) => [defaultTextFormatter(r), jsonLinesFormatter(r)]);
  return { records, lines };
}

function assertAbsent(lines: string[], needle: string, what: string): void {
  const hit = lines.find((line) => line.includes(needle));
  ok(hit === undefined, `${what} was logged: ${hit}`);
}

/** The client's trace lines (not the reader's). */
function clientTrace(records: LogRecord[]): string[] {
  return records.filter((r) => r.level === "trace" && r.category[1] === "client")
    .map((r) => r.message.join(""));
}

Deno.test("Client logging at trace through withPacketTrace() shows whole packets, never a password, authentication data or a payload beyond its prefix", async () => {
  const { records, lines } = await run("trace", true);
  ok(records.length > 0);
  for (const secret of SECRETS) assertAbsent(lines, secret, JSON.stringify(secret));
  assertAbsent(lines, OUT_TAIL.slice(0, 8), "the outgoing payload's tail");
  assertAbsent(lines, IN_TAIL.slice(0, 8), "the incoming payload's tail");

  const trace = clientTrace(records);
  const has = (prefix: string) => {
    const line = trace.find((l) => l.startsWith(prefix));
    ok(line !== undefined, `no trace line starts with ${prefix}:\n${trace.join("\n")}`);
    return line;
  };
  const connect = has('-> CONNECT clientId="logging-test" cleanStart=true keepAlive=0');
  ok(connect.includes(`password=<redacted ${PASSWORD.length} bytes>`), connect);
  ok(connect.includes(`authenticationData:<redacted ${CLIENT_AUTH_1.length} bytes>`), connect);
  has(
    `<- AUTH reason=0x18 (Continue authentication) props={authenticationMethod:"${METHOD}",` +
      `authenticationData:<redacted ${SERVER_AUTH_1.length} bytes>}`,
  );
  has(`-> AUTH reason=0x18 (Continue authentication) props={authenticationMethod:"${METHOD}",`);
  has("<- CONNACK reason=0x00 sessionPresent=false props={");
  has(
    `-> PUBLISH id=1 qos=1 topic="${TOPIC}" retain=false dup=false ` +
      `payload=${OUT_HEAD.length + OUT_TAIL.length}B "${OUT_HEAD}"…`,
  );
  has("<- PUBACK id=1 reason=0x00");
  has(`<- PUBLISH id=7 qos=1 topic="${TOPIC}" retain=false dup=false payload=`);
  has("-> PUBACK id=7 reason=0x00");
  has("-> DISCONNECT reason=0x00");
  ok(records.some((r) => r.category[1] === "reader" && r.level === "trace"), "reader traces");
});

Deno.test("Client logging at trace without withPacketTrace() names each packet and shows none of its fields", async () => {
  const { records, lines } = await run("trace");
  for (const secret of SECRETS) assertAbsent(lines, secret, JSON.stringify(secret));
  for (const payload of [OUT_HEAD, OUT_TAIL, IN_HEAD, IN_TAIL]) {
    assertAbsent(lines, payload.slice(0, 8), "a payload");
  }
  equal(
    clientTrace(records).join("\n"),
    [
      "-> CONNECT",
      "<- AUTH",
      "-> AUTH",
      "<- CONNACK",
      "-> PUBLISH id=1",
      "<- PUBACK id=1",
      "<- PUBLISH id=7",
      "-> PUBACK id=7",
      "-> DISCONNECT",
    ].join("\n"),
  );
  ok(records.some((r) => r.category[1] === "reader" && r.level === "trace"), "reader traces");
});

Deno.test("Client logging at debug shows no payload byte, and info says connected and disconnected", async () => {
  const { records, lines } = await run("debug");
  ok(records.length > 0);
  ok(records.every((r) => r.level !== "trace"));
  for (const secret of SECRETS) assertAbsent(lines, secret, JSON.stringify(secret));
  for (const payload of [OUT_HEAD, OUT_TAIL, IN_HEAD, IN_TAIL]) {
    assertAbsent(lines, payload.slice(0, 8), "a payload");
  }
  const messages = records.map((r) => `${r.level} ${defaultTextFormatter(r)}`);
  ok(
    messages.some((m) => m.startsWith("info") && m.includes('Connected as "logging-test"')),
    messages.join(""),
  );
  ok(messages.some((m) => m.startsWith("debug") && m.includes("Flight 1")), messages.join(""));
  ok(messages.some((m) => m.startsWith("info") && m.includes("Disconnecting")), messages.join(""));
});

Deno.test("Client logs nothing once LogTape is reset", async () => {
  // Other test modules run without any configuration: the library itself never configures.
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record) => records.push(record) },
    loggers: [{ category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] }],
  });
  try {
    await using peer = await startPeer();
    const client = new Client({ logger: getLogger(["mqtt5"]) });
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "quiet", password: PASSWORD },
    );
    const conn = await peer.accept();
    await conn.readPacket();
    await conn.write(encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }));
    await connecting;
    client.abort();
  } finally {
    await reset();
  }
  equal(records.length, 0);
});

Deno.test("Client without a logger logs nothing, whatever LogTape is configured to record", async () => {
  // The library has no logging dependency: only a logger the application passes is written to.
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: [], lowestLevel: "trace", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await using peer = await startPeer();
    const client = new Client();
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { clientId: "no-logger", password: PASSWORD },
    );
    const conn = await peer.accept();
    await conn.readPacket();
    await conn.write(encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }));
    await connecting;
    await client.publish({ topic: TOPIC, qos: 0 }, "x");
    await client.disconnect();
  } finally {
    await reset();
  }
  equal(records.length, 0, records.map((r) => r.message.join("")).join("\n"));
});
