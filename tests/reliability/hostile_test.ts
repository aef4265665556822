// A hostile broker: a scripted peer sends malformed and hostile packets to a client that has a
// session worth keeping (a QoS 1 flight awaiting PUBACK, QoS 2 flights awaiting PUBREC and
// PUBCOMP, an incoming QoS 2 id awaiting PUBREL). tests/client/peer_test.ts checks the reason
// codes of several violations; here every case also checks what a user relies on after one:
//
// - the client sends DISCONNECT with the right reason code and closes [MQTT-4.13.2-1] (and the
//   rule of 4.13.1: a Malformed Packet or Protocol Error ends the connection with that code);
// - the user gets a typed error (ProtocolViolationError with the code, or ConnectionClosedError);
// - memory stays bounded (Deno.memoryUsage() before and after; a 256 MiB length costs nothing);
// - the session is untouched: the same flights in the same states, the same incoming ids;
// - a new client resumes it on a new connection: resend() sends PUBLISH (DUP) for the flights
//   awaiting PUBACK and PUBREC and PUBREL for the one awaiting PUBCOMP [MQTT-4.4.0-1]
//   [MQTT-4.6.0-1], the incoming id is still known when its PUBREL comes [MQTT-4.3.3-11], and
//   every flight completes.
//
// Then the client against an in-memory transport, for what a TCP peer cannot stage exactly: a
// violation while the server has stopped reading, and a poll's signal aborted mid-violation.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  Client,
  ConnectionClosedError,
  type ConnectOptions,
  decode,
  encode,
  type Packet,
  PacketType,
  ProtocolViolationError,
  Session,
} from "../../mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { concat, scriptedTransport } from "./_fake.ts";
import { report } from "./_params.ts";

const te = new TextEncoder();
const MiB = 1024 * 1024;

function vbi(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A packet written by hand: the first byte, then the body with its Remaining Length. */
function raw(first: number, ...body: number[]): Uint8Array {
  return new Uint8Array([first, ...vbi(body.length), ...body]);
}

/** A UTF-8 Encoded String field from raw bytes. */
function str(bytes: number[] | string): number[] {
  const b = typeof bytes === "string" ? [...te.encode(bytes)] : bytes;
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** A QoS 0 PUBLISH to a topic given as raw bytes, with no properties and payload "x". */
function publishTopic(topic: number[] | string): Uint8Array {
  return raw(0x30, ...str(topic), 0x00, 0x78);
}

const CONNACK = encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
const RESUMED = encode({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0 });

const CONNECT_OPTIONS: ConnectOptions = {
  clientId: "hostile",
  sessionExpiryInterval: 300,
  topicAliasMaximum: 5,
  receiveMaximum: 3,
};

/** The session every case starts from, as JSON: flights 1, 2, 3 and incoming id 7. */
let expectedSession = "";

/**
 * Connects a client with a new session to the peer and gives it a flight in each state and an
 * incoming QoS 2 id: 1 awaiting-puback, 2 awaiting-pubrec, 3 awaiting-pubcomp, incoming 7.
 */
async function prepared(
  peer: Peer,
  options: ConnectOptions = {},
): Promise<{ client: Client; conn: PeerConnection; session: Session }> {
  const session = new Session();
  const client = new Client({ session });
  const connecting = client.connect(
    await connectTcp({ hostname: peer.hostname, port: peer.port }),
    {
      ...CONNECT_OPTIONS,
      ...options,
    },
  );
  const conn = await peer.accept();
  equal(decode(await conn.readPacket()).type, PacketType.Connect);
  await conn.write(CONNACK);
  await connecting;
  for (const [qos, payload] of [[1, "one"], [2, "two"], [2, "three"]] as const) {
    await client.publish({ topic: "out", qos }, payload);
    equal(decode(await conn.readPacket()).type, PacketType.Publish);
  }
  await conn.write(encode({ type: PacketType.Pubrec, packetId: 3 }));
  equal((await client.poll({ signal: AbortSignal.timeout(5000) })).type, "received");
  deepStrictEqual(decode(await conn.readPacket()), {
    type: PacketType.Pubrel,
    packetId: 3,
    reasonCode: 0,
  });
  await conn.write(encode({
    type: PacketType.Publish,
    topic: "in",
    qos: 2,
    packetId: 7,
    payload: te.encode("seven"),
  }));
  equal((await client.poll({ signal: AbortSignal.timeout(5000) })).type, "message");
  deepStrictEqual(decode(await conn.readPacket()), {
    type: PacketType.Pubrec,
    packetId: 7,
    reasonCode: 0,
  });
  deepStrictEqual(
    session.state.outgoing.map((f) => [f.packetId, f.state]),
    [[1, "awaiting-puback"], [2, "awaiting-pubrec"], [3, "awaiting-pubcomp"]],
  );
  deepStrictEqual(session.state.incoming, [7]);
  expectedSession ||= JSON.stringify(session.snapshot());
  return { client, conn, session };
}

/**
 * A new client resumes the session on a new connection and completes everything: resend() in the
 * original order, PUBREL 7 known, then every flight acknowledged.
 */
async function resumeAndFinish(peer: Peer, session: Session, incoming = [7]): Promise<void> {
  const client = new Client({ session });
  try {
    const connecting = client.connect(
      await connectTcp({ hostname: peer.hostname, port: peer.port }),
      { ...CONNECT_OPTIONS, cleanStart: false },
    );
    const conn = await peer.accept();
    const connect = decode(await conn.readPacket());
    ok(connect.type === PacketType.Connect && connect.cleanStart === false);
    await conn.write(RESUMED);
    equal((await connecting).sessionPresent, true);
    deepStrictEqual(await client.resend(), [1, 2, 3]);
    const resent = [await conn.readPacket(), await conn.readPacket(), await conn.readPacket()]
      .map((b) => decode(b));
    deepStrictEqual(
      resent.map((
        p,
      ) => [p.type, (p as { packetId: number }).packetId, (p as { dup?: boolean }).dup]),
      [[PacketType.Publish, 1, true], [PacketType.Publish, 2, true], [
        PacketType.Pubrel,
        3,
        undefined,
      ]],
    );
    const poll = () => client.poll({ signal: AbortSignal.timeout(5000) });
    for (const id of incoming) {
      await conn.write(encode({ type: PacketType.Pubrel, packetId: id }));
      deepStrictEqual(await poll(), { type: "released", packetId: id, reasonCode: 0, known: true });
      deepStrictEqual(decode(await conn.readPacket()), {
        type: PacketType.Pubcomp,
        packetId: id,
        reasonCode: 0,
      });
    }
    await conn.write(concat([
      encode({ type: PacketType.Puback, packetId: 1 }),
      encode({ type: PacketType.Pubrec, packetId: 2 }),
      encode({ type: PacketType.Pubcomp, packetId: 3 }),
    ]));
    deepStrictEqual([(await poll()).type, (await poll()).type, (await poll()).type], [
      "acknowledged",
      "received",
      "completed",
    ]);
    deepStrictEqual(decode(await conn.readPacket()), {
      type: PacketType.Pubrel,
      packetId: 2,
      reasonCode: 0,
    });
    await conn.write(encode({ type: PacketType.Pubcomp, packetId: 2 }));
    equal((await poll()).type, "completed");
    ok(session.isEmpty, JSON.stringify(session.state));
    await client.disconnect();
    equal(decode(await conn.readPacket()).type, PacketType.Disconnect);
  } finally {
    client.abort();
  }
}

/** Memory now, to compare after a case. */
function memory(): Deno.MemoryUsage {
  return Deno.memoryUsage();
}

/** Asserts that neither the resident set nor the external (ArrayBuffer) memory grew much. */
function assertBoundedMemory(before: Deno.MemoryUsage, what: string): void {
  const after = memory();
  const rss = (after.rss - before.rss) / MiB;
  const external = (after.external - before.external) / MiB;
  ok(
    rss < 32 && external < 16,
    `${what}: rss +${rss.toFixed(1)} MiB, external +${external.toFixed(1)} MiB`,
  );
}

interface Case {
  name: string;
  /** What the peer sends (after the set-up, or instead of the CONNACK when `beforeConnack`). */
  bytes: Uint8Array;
  /** The DISCONNECT reason code expected. */
  code: number;
  /** The normative statement the error names, if any. */
  statement?: string;
  /** Connect options of the client under test. */
  options?: ConnectOptions;
  /** The violation comes during the reconnect, instead of the CONNACK. */
  beforeConnack?: boolean;
  /** The incoming ids expected afterwards, when the case legitimately adds one. */
  incoming?: number[];
  /** Events the client returns before the violation. */
  events?: number;
  /** Packets the client sends before its DISCONNECT (answers to what it accepted). */
  replies?: Packet[];
}

const HUGE_LENGTH = [0xff, 0xff, 0xff, 0x7f]; // 268,435,455: the largest Remaining Length

const cases: Case[] = [
  // Bad lengths.
  {
    name: "a Remaining Length of five bytes",
    bytes: new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    code: 0x81,
  },
  {
    name: "a Remaining Length not in its shortest form",
    bytes: new Uint8Array([0xd0, 0x80, 0x00]),
    code: 0x81,
    statement: "MQTT-1.5.5-1",
  },
  {
    name: "a Remaining Length shorter than the PUBACK's Packet Identifier",
    bytes: raw(0x40, 0x00),
    code: 0x81,
  },
  {
    name: "a Remaining Length longer than the PINGRESP's content",
    bytes: raw(0xd0, 0x00, 0x00),
    code: 0x81,
  },
  {
    name: "a Remaining Length of 256 MiB above the client's Maximum Packet Size of 1 MiB",
    bytes: new Uint8Array([0x30, ...HUGE_LENGTH, 0x00, 0x01, 0x61]),
    code: 0x95,
    statement: "MQTT-3.1.2-24",
    options: { maximumPacketSize: MiB },
  },
  // Truncated and duplicate properties.
  {
    name: "a Property Length past the end of the PUBACK",
    bytes: raw(0x40, 0x00, 0x01, 0x00, 0x05, 0x1f),
    code: 0x81,
  },
  {
    name: "a Reason String longer than what is left of the PUBACK",
    bytes: raw(0x40, 0x00, 0x01, 0x00, 0x04, 0x1f, 0x00, 0x0a, 0x61),
    code: 0x81,
  },
  {
    name: "a Reason String twice in one PUBACK",
    bytes: raw(0x40, 0x00, 0x01, 0x00, 0x08, 0x1f, ...str("a"), 0x1f, ...str("b")),
    code: 0x82,
  },
  {
    name: "a Topic Alias on a PUBACK, where it is not allowed",
    bytes: raw(0x40, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01),
    code: 0x81,
  },
  {
    name: "a Payload Format Indicator of 2",
    bytes: raw(0x30, ...str("a"), 0x02, 0x01, 0x02, 0x78),
    code: 0x82,
  },
  {
    name: "a Subscription Identifier of 0",
    bytes: raw(0x30, ...str("a"), 0x02, 0x0b, 0x00, 0x78),
    code: 0x82,
  },
  // Strings.
  {
    name: "ill-formed UTF-8 in a topic",
    bytes: publishTopic([0x61, 0xc3, 0x28]),
    code: 0x81,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "an encoded surrogate U+D800 in a topic",
    bytes: publishTopic([0x61, 0xed, 0xa0, 0x80]),
    code: 0x81,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "U+0000 in a topic",
    bytes: publishTopic([0x61, 0x00, 0x62]),
    code: 0x81,
    statement: "MQTT-1.5.4-2",
  },
  {
    name: "a control character U+0001 in a topic (strict mode)",
    bytes: publishTopic([0x61, 0x01, 0x62]),
    code: 0x81,
  },
  {
    name: "a wildcard in a topic name",
    bytes: publishTopic("a/#"),
    code: 0x81,
    statement: "MQTT-3.3.2-2",
  },
  // Fixed headers and packet identifiers.
  {
    name: "reserved flags set on a PUBACK",
    bytes: raw(0x41, 0x00, 0x01),
    code: 0x81,
    statement: "MQTT-2.1.3-1",
  },
  { name: "the reserved packet type 0", bytes: raw(0x00), code: 0x81 },
  {
    name: "DUP on a QoS 0 PUBLISH",
    bytes: raw(0x38, ...str("a"), 0x00, 0x78),
    code: 0x81,
    statement: "MQTT-3.3.1-2",
  },
  {
    name: "Packet Identifier 0 on a QoS 1 PUBLISH",
    bytes: raw(0x32, ...str("a"), 0x00, 0x00, 0x00, 0x78),
    code: 0x82,
    statement: "MQTT-2.2.1-3",
  },
  // Reason codes not allowed.
  {
    name: "PUBACK with reason code 0x04",
    bytes: raw(0x40, 0x00, 0x01, 0x04),
    code: 0x82,
    statement: "MQTT-3.4.2-1",
  },
  {
    name: "PUBREC with reason code 0x92",
    bytes: raw(0x50, 0x00, 0x02, 0x92),
    code: 0x82,
    statement: "MQTT-3.5.2-1",
  },
  {
    name: "PUBCOMP with reason code 0x10",
    bytes: raw(0x70, 0x00, 0x03, 0x10),
    code: 0x82,
    statement: "MQTT-3.7.2-1",
  },
  {
    name: "DISCONNECT with reason code 0x18",
    bytes: raw(0xe0, 0x18),
    code: 0x82,
    statement: "MQTT-3.14.2-1",
  },
  // Topic aliases.
  {
    name: "Topic Alias 0",
    bytes: raw(0x30, ...str("a"), 0x03, 0x23, 0x00, 0x00, 0x78),
    // Section 3.3.2.3.4: a Topic Alias of 0 is answered with 0x94 (Topic Alias invalid).
    code: 0x94,
    statement: "MQTT-3.3.2-8",
  },
  {
    name: "an unknown Topic Alias (never set on this connection)",
    bytes: raw(0x30, ...str(""), 0x03, 0x23, 0x00, 0x02, 0x78),
    code: 0x94,
  },
  {
    name: "a Topic Alias above the client's Topic Alias Maximum",
    bytes: raw(0x30, ...str("a"), 0x03, 0x23, 0x00, 0x06, 0x78),
    code: 0x94,
    statement: "MQTT-3.3.2-11",
  },
  // Acknowledgements that do not match a flight.
  {
    name: "PUBACK for a QoS 2 flight awaiting PUBREC",
    bytes: encode({ type: PacketType.Puback, packetId: 2 }),
    code: 0x82,
  },
  {
    name: "PUBCOMP for a QoS 2 flight awaiting PUBREC",
    bytes: encode({ type: PacketType.Pubcomp, packetId: 2 }),
    code: 0x82,
  },
  {
    name: "SUBACK for no SUBSCRIBE",
    bytes: encode({ type: PacketType.Suback, packetId: 1, reasonCodes: [0] }),
    code: 0x82,
    statement: "MQTT-3.8.4-2",
  },
  // Flow control and sequence.
  {
    name: "a QoS 2 PUBLISH beyond the client's Receive Maximum of 2",
    bytes: concat([
      encode({
        type: PacketType.Publish,
        topic: "in",
        qos: 2,
        packetId: 8,
        payload: te.encode("8"),
      }),
      encode({
        type: PacketType.Publish,
        topic: "in",
        qos: 2,
        packetId: 9,
        payload: te.encode("9"),
      }),
    ]),
    code: 0x93,
    statement: "MQTT-3.3.4-9",
    options: { receiveMaximum: 2 },
    incoming: [7, 8],
    events: 1,
    replies: [{ type: PacketType.Pubrec, packetId: 8, reasonCode: 0 }],
  },
  {
    name: "a second CONNACK",
    bytes: CONNACK,
    code: 0x82,
    statement: "MQTT-3.2.0-2",
  },
  {
    name: "CONNECT, which only a client sends",
    bytes: encode({ type: PacketType.Connect, cleanStart: true, keepAlive: 0, clientId: "x" }),
    code: 0x82,
  },
  {
    name: "a CONNECT of protocol version 4 (which the codec refuses with 0x84, no DISCONNECT code)",
    bytes: raw(0x10, ...str("MQTT"), 0x04, 0x02, 0x00, 0x3c, ...str("x")),
    code: 0x82,
    statement: "MQTT-3.1.2-2",
  },
  {
    name: "AUTH although the client used no Authentication Method",
    bytes: encode({ type: PacketType.Auth, reasonCode: 0x19 }),
    code: 0x82,
    statement: "MQTT-4.12.0-6",
  },
  // Packets before CONNACK on a resume: the session must survive them.
  ...([
    ["PUBACK for flight 1", encode({ type: PacketType.Puback, packetId: 1 })],
    ["PUBREL for incoming id 7", encode({ type: PacketType.Pubrel, packetId: 7 })],
    [
      "PUBLISH",
      encode({
        type: PacketType.Publish,
        topic: "a",
        qos: 1,
        packetId: 5,
        payload: te.encode("x"),
      }),
    ],
    ["PINGRESP", encode({ type: PacketType.Pingresp })],
  ] as const).map(([what, bytes]): Case => ({
    name: `${what} before CONNACK`,
    bytes,
    code: 0x82,
    statement: "MQTT-3.2.0-1",
    beforeConnack: true,
  })),
];

Deno.test({
  name:
    "Client against a hostile broker: every malformed or hostile packet ends the connection with the right DISCONNECT, a typed error, bounded memory and the session intact [MQTT-4.13.2-1] [MQTT-3.14.4-1] [MQTT-4.4.0-1]",
  async fn(t) {
    await using peer = await startPeer();
    let largest = { rss: 0, external: 0 };
    const start = memory();
    for (const c of cases) {
      await t.step(
        `${c.name}: DISCONNECT 0x${c.code.toString(16)}${c.statement ? ` [${c.statement}]` : ""}`,
        async () => {
          const { client, conn, session } = await prepared(peer, c.options);
          const before = memory();
          let attempt: Promise<unknown> | undefined;
          let wire = conn;
          if (c.beforeConnack) {
            client.abort();
            equal((await conn.readUntilClosed()).length, 0);
            const again = new Client({ session });
            attempt = again.connect(
              await connectTcp({ hostname: peer.hostname, port: peer.port }),
              { ...CONNECT_OPTIONS, cleanStart: false },
            );
            wire = await peer.accept();
            equal(decode(await wire.readPacket()).type, PacketType.Connect);
          }
          await wire.write(c.bytes);
          if (!c.beforeConnack) {
            for (let i = 0; i < (c.events ?? 0); i++) {
              equal((await client.poll({ signal: AbortSignal.timeout(5000) })).type, "message");
            }
            attempt = client.poll({ signal: AbortSignal.timeout(5000) });
          }
          await rejects(attempt!, (e: unknown) => {
            ok(e instanceof ProtocolViolationError, String(e));
            equal(e.reasonCode, c.code);
            equal(e.recoverable, false);
            if (c.statement !== undefined) equal(e.statement, c.statement);
            return true;
          });
          for (const reply of c.replies ?? []) {
            deepStrictEqual(decode(await wire.readPacket()), reply);
          }
          deepStrictEqual(decode(await wire.readPacket()), {
            type: PacketType.Disconnect,
            reasonCode: c.code,
          });
          equal((await wire.readUntilClosed()).length, 0, "nothing after DISCONNECT");
          equal(client.state, "closed");
          assertBoundedMemory(before, c.name);
          const m = memory();
          largest = {
            rss: Math.max(largest.rss, m.rss - start.rss),
            external: Math.max(largest.external, m.external - start.external),
          };
          const expected = JSON.parse(expectedSession);
          if (c.incoming) expected.state.incoming = c.incoming;
          deepStrictEqual(session.snapshot(), expected, "the session is untouched");
          await resumeAndFinish(peer, session, c.incoming);
        },
      );
    }

    await t.step(
      "a Remaining Length of 256 MiB within the limit: nothing is allocated for bytes that never come, and the session is intact",
      async () => {
        const { client, conn, session } = await prepared(peer);
        const before = memory();
        // The header of a 256 MiB PUBLISH, then 200 KB of it, then the server closes.
        await conn.write(new Uint8Array([0x30, ...HUGE_LENGTH, ...str("big"), 0x00]));
        await conn.write(new Uint8Array(200_000).fill(0x61));
        const polling = client.poll({ signal: AbortSignal.timeout(5000) });
        await new Promise((resolve) => setTimeout(resolve, 50));
        assertBoundedMemory(before, "256 MiB announced, 200 KB sent");
        conn.close();
        await rejects(polling, (e: unknown) => {
          ok(e instanceof ConnectionClosedError, String(e));
          ok(/middle of a packet/.test(e.message), e.message);
          return true;
        });
        assertBoundedMemory(before, "after the connection closed");
        deepStrictEqual(session.snapshot(), JSON.parse(expectedSession));
        await resumeAndFinish(peer, session);
      },
    );

    await t.step(
      "tolerated, not violations: PUBREL for an unknown id is completed with PUBCOMP 0x92, PUBREC for an unknown id released with PUBREL 0x92; the session is untouched",
      async () => {
        const { client, conn, session } = await prepared(peer);
        await conn.write(encode({ type: PacketType.Pubrel, packetId: 99 }));
        deepStrictEqual(await client.poll({ signal: AbortSignal.timeout(5000) }), {
          type: "released",
          packetId: 99,
          reasonCode: 0,
          known: false,
        });
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Pubcomp,
          packetId: 99,
          reasonCode: 0x92,
        });
        await conn.write(encode({ type: PacketType.Pubrec, packetId: 98 }));
        await conn.write(encode({ type: PacketType.Pingresp }));
        equal((await client.poll({ signal: AbortSignal.timeout(5000) })).type, "pong");
        deepStrictEqual(decode(await conn.readPacket()), {
          type: PacketType.Pubrel,
          packetId: 98,
          reasonCode: 0x92,
        });
        deepStrictEqual(session.snapshot(), JSON.parse(expectedSession));
        client.abort();
        await resumeAndFinish(peer, session);
      },
    );
    report("hostile", {
      cases: cases.length + 2,
      largestGrowthMiB: {
        rss: Math.round(largest.rss / MiB * 10) / 10,
        external: Math.round(largest.external / MiB * 10) / 10,
      },
    });
  },
});

Deno.test({
  permissions: "none",
  name:
    "Client.poll() on a violation while the server has stopped reading returns by its signal and closes",
  async fn() {
    let stuck = false;
    const st = scriptedTransport([CONNACK], {
      end: "stall",
      stuckAfter: 1, // CONNECT goes out; nothing after it completes
      onStuck: () => stuck = true,
    });
    const client = new Client();
    await client.connect(st.transport, { clientId: "stuck" });
    // A publish whose write never completes: the caller stops waiting; the flight is kept.
    await rejects(
      client.publish({ topic: "a", qos: 1, signal: AbortSignal.timeout(20) }, "x"),
      (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
    );
    ok(stuck);
    equal(client.session.flight(1)?.state, "awaiting-puback");
    st.push(raw(0x36, ...str("a"), 0x00, 0x01, 0x00)); // PUBLISH with QoS 3
    const started = Date.now();
    await rejects(client.poll({ signal: AbortSignal.timeout(100) }), (e: unknown) => {
      ok(e instanceof ProtocolViolationError, String(e));
      equal(e.reasonCode, 0x81);
      return true;
    });
    ok(Date.now() - started < 2000, `poll returned after ${Date.now() - started} ms`);
    equal(client.state, "closed");
    ok(st.closed, "the transport is closed");
    equal(client.session.flight(1)?.state, "awaiting-puback");
  },
});

Deno.test({
  permissions: "none",
  name:
    "Client.poll() whose signal aborts while it handles a violation leaves no unhandled rejection",
  async fn() {
    // A poll waits; a malformed packet arrives, and the poll's signal aborts k microtasks later,
    // for every k up to past the end of that poll: some aborts land after the read completed but
    // before the violation is handled. The DISCONNECT then left unwritten must not become an
    // unhandled rejection, which would end the whole process.
    const outcomes = new Set<string>();
    for (let k = 0; k < 30; k++) {
      const st = scriptedTransport([CONNACK], { end: "stall" });
      const client = new Client();
      await client.connect(st.transport, { clientId: "abort" });
      const controller = new AbortController();
      const polling = client.poll({ signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 0));
      st.push(raw(0x00));
      let n = k;
      const tick = () => n-- > 0 ? queueMicrotask(tick) : controller.abort(new Error("gave up"));
      tick();
      await rejects(polling, (e: unknown) => {
        ok(e instanceof ProtocolViolationError || e === controller.signal.reason, String(e));
        outcomes.add(e instanceof ProtocolViolationError ? "violation" : "abort");
        return true;
      });
      client.abort();
      // Let every pending promise settle: an unhandled rejection would fail this test.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    deepStrictEqual([...outcomes].sort(), ["abort", "violation"]);
  },
});
