// The scripted peer: framing of the client's bytes into packets however they arrive, what it
// returns at the end of the stream, and its timeouts. Needs only loopback network access.

import { deepStrictEqual, equal, rejects, throws } from "node:assert/strict";
import { connectRaw, packetLength, startPeer } from "../_util/peer.ts";
import { packet, pingreq } from "./_raw.ts";

Deno.test("packetLength() reads a Remaining Length of 1 to 4 bytes", () => {
  const cases: [name: string, bytes: number[], length: number | undefined][] = [
    ["empty", [], undefined],
    ["header only", [0xc0], undefined],
    ["PINGREQ", [0xc0, 0x00], 2],
    ["PINGREQ and more", [0xc0, 0x00, 0xd0], 2],
    ["127 (1 byte), incomplete", [0x30, 0x7f, ...new Array(126).fill(0)], undefined],
    ["127 (1 byte)", [0x30, 0x7f, ...new Array(127).fill(0)], 129],
    ["128 (2 bytes), length cut short", [0x30, 0x80], undefined],
    ["128 (2 bytes)", [0x30, 0x80, 0x01, ...new Array(128).fill(0)], 131],
    ["268,435,455 (4 bytes), incomplete", [0x30, 0xff, 0xff, 0xff, 0x7f], undefined],
  ];
  for (const [name, bytes, length] of cases) {
    equal(packetLength(new Uint8Array(bytes)), length, name);
  }
  throws(() => packetLength(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /4 bytes/);
});

Deno.test("Peer frames the client's packets however the bytes arrive", async () => {
  await using peer = await startPeer();
  await using client = await connectRaw(peer);
  await using conn = await peer.accept();
  const big = packet(0x30, [0x00, 0x01, 0x74, 0x00, ...new Array(196).fill(0x61)]); // 2-byte length
  equal(big.length, 203);

  // Two packets in one write, then the big one a byte at a time.
  await client.write(new Uint8Array([...pingreq, ...packet(0xe0, [0x00, 0x00])]));
  deepStrictEqual(await conn.readPacket(), pingreq);
  deepStrictEqual(await conn.readPacket(), packet(0xe0, [0x00, 0x00]));
  const reading = conn.readPacket();
  for (const byte of big) await client.write(new Uint8Array([byte]));
  deepStrictEqual(await reading, big);
  equal(conn.received, 2 + 4 + 203);

  // The peer writes what it is given.
  await conn.write(new Uint8Array([0x20, 0x03, 0x00, 0x87, 0x00]));
  deepStrictEqual([...await client.readPacket()], [0x20, 0x03, 0x00, 0x87, 0x00]);
});

Deno.test("PeerConnection.readUntilClosed() returns the bytes left once the client closes", async () => {
  await using peer = await startPeer();
  const client = await connectRaw(peer);
  await using conn = await peer.accept();
  await client.write(new Uint8Array([...pingreq, 0x30, 0x05, 0x00]));
  deepStrictEqual(await conn.readPacket(), pingreq);
  client.close();
  deepStrictEqual([...await conn.readUntilClosed()], [0x30, 0x05, 0x00]);
  await client[Symbol.asyncDispose]();
});

Deno.test("PeerConnection.readPacket() rejects when the client closes mid-packet", async () => {
  await using peer = await startPeer();
  const client = await connectRaw(peer);
  await using conn = await peer.accept();
  await client.write(new Uint8Array([0x30, 0x05, 0x00]));
  await client[Symbol.asyncDispose]();
  await rejects(
    conn.readPacket(),
    /closed the connection before a complete packet \(received 30 05 00\)/,
  );
});

Deno.test("Peer waits time out, and the next call takes the pending wait over", async () => {
  await using peer = await startPeer();
  await rejects(peer.accept({ timeoutMs: 20 }), /No client connected to the peer within 20 ms/);
  await using client = await connectRaw(peer);
  await using conn = await peer.accept();
  await rejects(conn.readPacket({ timeoutMs: 20 }), /sent no complete packet within 20 ms/);
  await client.write(pingreq);
  deepStrictEqual(await conn.readPacket(), pingreq);
  await rejects(conn.readUntilClosed({ timeoutMs: 20 }), /did not close the connection/);
});

Deno.test("Peer disposal closes its connections and a pending accept", async () => {
  const peer = await startPeer();
  const client = await connectRaw(peer);
  const conn = await peer.accept();
  // Each leaves an op pending: the sanitizers fail the test unless disposal ends them.
  await rejects(conn.readPacket({ timeoutMs: 10 }));
  await rejects(peer.accept({ timeoutMs: 10 }));
  await peer[Symbol.asyncDispose]();
  equal((await client.readUntilClosed()).length, 0);
  await client[Symbol.asyncDispose]();
});
