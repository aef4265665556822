// Server redirection through the supervisor, against scripted peers (no broker redirects on
// request): a CONNACK with 0x9C Use another server or a DISCONNECT with 0x9D Server moved, each
// with a Server Reference. The peers write the packets byte by byte; what is asserted is where the
// supervisor connected next (the peer that accepted, and the transport factory's request).

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { ConnectionRefusedError } from "../../mod.ts";
import { connectTcp, type Transport } from "../../src/transport/mod.ts";
import {
  supervise,
  type SupervisorStatus,
  SupervisorStoppedError,
  type TransportRequest,
} from "../../src/supervisor/mod.ts";
import { type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { delay, rejection } from "./_helpers.ts";

const te = new TextEncoder();
const FAST = { initialDelay: 10, maxDelay: 50 } as const;

/** A UTF-8 string property: identifier, two-byte length, bytes. */
function stringProperty(id: number, value: string): number[] {
  const bytes = te.encode(value);
  return [id, bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** Server Reference (0x1C). */
function serverReference(value: string): number[] {
  return stringProperty(0x1c, value);
}

/** A 5.0 CONNACK: flags 0 (no session present), the reason code, the properties. */
function connack(reasonCode: number, properties: number[] = []): Uint8Array {
  const body = [0x00, reasonCode, properties.length, ...properties];
  return new Uint8Array([0x20, body.length, ...body]);
}

/** A 5.0 DISCONNECT: the reason code, the properties. */
function disconnect(reasonCode: number, properties: number[] = []): Uint8Array {
  const body = [reasonCode, properties.length, ...properties];
  return new Uint8Array([0xe0, body.length, ...body]);
}

/** Accepts the next connection on `peer` and reads its CONNECT. */
async function acceptConnect(peer: Peer): Promise<PeerConnection> {
  const conn = await peer.accept();
  const connect = await conn.readPacket();
  equal(connect[0], 0x10, "the first packet is a CONNECT");
  return conn;
}

/** A transport factory to `usual`, or to the `host:port` of a Server Reference; it keeps the requests. */
function factory(usual: Peer) {
  const requests: TransportRequest[] = [];
  const transport = (request: TransportRequest): Promise<Transport> => {
    requests.push(request);
    let port = usual.port;
    if (request.serverReference !== undefined) {
      port = Number(/:(\d+)$/.exec(request.serverReference)![1]);
    }
    return connectTcp({ hostname: "127.0.0.1", port, signal: request.signal });
  };
  return { requests, transport };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await delay(5);
  }
}

Deno.test("Supervisor does not follow a CONNACK 0x9C Server Reference by default", async () => {
  await using usual = await startPeer();
  await using other = await startPeer();
  const { requests, transport } = factory(usual);
  const statuses: SupervisorStatus[] = [];
  await using mqtt = supervise({
    transport,
    clientId: "redirect-default",
    reconnect: { ...FAST, maxAttempts: 2 },
    onStatus: (s) => statuses.push(s),
  });
  // 0x9C is a refusal that may pass: retried on the same server, until maxAttempts.
  for (let attempt = 1; attempt <= 2; attempt++) {
    const conn = await acceptConnect(usual);
    await conn.write(connack(0x9c, serverReference(`127.0.0.1:${other.port}`)));
  }
  await until(() => mqtt.status.type === "stopped", "stopped");
  deepStrictEqual(requests.map((r) => r.serverReference), [undefined, undefined]);
  deepStrictEqual(statuses.map((s) => s.type), [
    "connecting",
    "reconnecting",
    "connecting",
    "gave-up",
    "stopped",
  ]);
  const gaveUp = statuses.find((s) => s.type === "gave-up")!;
  const error = gaveUp.type === "gave-up" ? gaveUp.error : undefined;
  ok(error instanceof ConnectionRefusedError, String(error));
  equal(error.reasonCode, 0x9c);
  equal(error.serverReference, `127.0.0.1:${other.port}`);
  const e = await rejection(mqtt.ready());
  ok(e instanceof SupervisorStoppedError, String(e));
});

Deno.test("Supervisor follows a CONNACK 0x9C with followRedirects: true, for that connection only", async () => {
  await using usual = await startPeer();
  await using other = await startPeer();
  const { requests, transport } = factory(usual);
  const statuses: SupervisorStatus[] = [];
  await using mqtt = supervise({
    transport,
    clientId: "redirect-follow",
    followRedirects: true,
    reconnect: FAST,
    onStatus: (s) => statuses.push(s),
  });
  const refusing = await acceptConnect(usual);
  const reference = `127.0.0.1:${other.port}`;
  await refusing.write(connack(0x9c, serverReference(reference)));
  const redirected = await acceptConnect(other);
  await redirected.write(connack(0x00));
  await mqtt.ready();
  deepStrictEqual(requests.map((r) => r.serverReference), [undefined, reference]);
  deepStrictEqual(
    statuses.filter((s) => s.type === "connecting").map((s) => s.serverReference),
    [undefined, reference],
  );
  // 0x9C names a server for now: once that connection ends, the usual server again.
  redirected.close();
  const back = await acceptConnect(usual);
  await back.write(connack(0x00));
  await until(() => requests.length === 3 && mqtt.status.type === "connected", "reconnected");
  equal(requests[2]!.serverReference, undefined);
});

Deno.test("Supervisor follows a DISCONNECT 0x9D Server Reference for later connections too", async () => {
  await using first = await startPeer();
  await using moved = await startPeer();
  const { requests, transport } = factory(first);
  const statuses: SupervisorStatus[] = [];
  await using mqtt = supervise({
    transport,
    clientId: "redirect-moved",
    followRedirects: true,
    reconnect: FAST,
    onStatus: (s) => statuses.push(s),
  });
  const conn = await acceptConnect(first);
  await conn.write(connack(0x00));
  await mqtt.ready();
  const reference = `127.0.0.1:${moved.port}`;
  await conn.write(disconnect(0x9d, serverReference(reference)));
  const second = await acceptConnect(moved);
  await second.write(connack(0x00));
  await until(() => statuses.filter((s) => s.type === "connected").length === 2, "connected");
  const lost = statuses.find((s) => s.type === "lost");
  ok(lost?.type === "lost" && (lost.error as { reasonCode?: number }).reasonCode === 0x9d);
  // The server moved: the next connection goes to the new one as well.
  second.close();
  const third = await acceptConnect(moved);
  await third.write(connack(0x00));
  await until(() => statuses.filter((s) => s.type === "connected").length === 3, "reconnected");
  deepStrictEqual(requests.map((r) => r.serverReference), [undefined, reference, reference]);
});

Deno.test("Supervisor asks a followRedirects function and puts the reference into the URL", async () => {
  await using usual = await startPeer();
  await using other = await startPeer();
  const asked: string[] = [];
  const statuses: SupervisorStatus[] = [];
  await using mqtt = supervise({
    url: `mqtt://127.0.0.1:${usual.port}`,
    clientId: "redirect-url",
    followRedirects: (reference) => {
      asked.push(reference);
      return reference.startsWith("127.0.0.1:");
    },
    reconnect: FAST,
    onStatus: (s) => statuses.push(s),
  });
  // A reference the policy refuses is not followed: retried on the usual server.
  const refused = await acceptConnect(usual);
  await refused.write(connack(0x9c, serverReference(`elsewhere.invalid:1883`)));
  const allowed = await acceptConnect(usual);
  const reference = `127.0.0.1:${other.port}`;
  await allowed.write(connack(0x9c, serverReference(reference)));
  const redirected = await acceptConnect(other);
  await redirected.write(connack(0x00));
  await mqtt.ready();
  deepStrictEqual(asked, ["elsewhere.invalid:1883", reference]);
  deepStrictEqual(
    statuses.filter((s) => s.type === "connecting").map((s) => s.serverReference),
    [undefined, undefined, reference],
  );
});
