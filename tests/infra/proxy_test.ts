// The test proxy, between a raw client and the scripted peer (and once in front of Mosquitto):
// forwarding and counting, cuts at an exact byte count, trickling, pausing, and clean disposal.

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { connectRaw, type Peer, type PeerConnection, startPeer } from "../_util/peer.ts";
import { startProxy } from "../_util/proxy.ts";
import { connect, packet, pingreq, pingresp, readConnack } from "./_raw.ts";

const bytes = (length: number, from = 0) => new Uint8Array(length).map((_, i) => (from + i) & 0xff);

/** A client connected through the proxy to the peer, and the peer's side of it. */
async function through(
  proxy: { hostname: string; port: number },
  peer: Peer,
): Promise<[PeerConnection, PeerConnection]> {
  const client = await connectRaw(proxy);
  return [client, await peer.accept()];
}

Deno.test("Proxy forwards both ways on a fresh upstream connection each, and counts", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  const [client, server] = await through(proxy, peer);
  await using _client = client;
  await using _server = server;
  const publish = packet(0x30, [0x00, 0x01, 0x74, 0x00, 0x68, 0x69, 0x21, 0x21]);
  await client.write(publish);
  deepStrictEqual(await server.readPacket(), publish);
  await server.write(pingresp);
  deepStrictEqual(await client.readPacket(), pingresp);
  deepStrictEqual([proxy.toServer, proxy.toClient], [10, 2]);

  const [second, secondServer] = await through(proxy, peer);
  await using _second = second;
  await using _secondServer = secondServer;
  await second.write(pingreq);
  deepStrictEqual(await secondServer.readPacket(), pingreq);
  equal(proxy.connections.length, 2);
  const [one, two] = proxy.connections;
  deepStrictEqual([one?.id, one?.toServer, one?.toClient, one?.open], [1, 10, 2, true]);
  deepStrictEqual([two?.id, two?.toServer, two?.toClient], [2, 2, 0]);
  deepStrictEqual([proxy.toServer, proxy.toClient], [12, 2]);
  equal(await proxy.connection(2), two);
});

Deno.test("Proxy.cutAfter({ toServer }) forwards exactly n bytes, then drops both sides", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  proxy.cutAfter({ toServer: 7 }); // no connection yet: counts from the next one's start
  const [client, server] = await through(proxy, peer);
  await using _client = client;
  await using _server = server;
  await client.write(bytes(5));
  await client.write(bytes(15, 5));
  deepStrictEqual(await server.readUntilClosed(), bytes(7));
  equal((await client.readUntilClosed()).length, 0);
  const conn = await proxy.connection(1);
  await conn.closed;
  deepStrictEqual([conn.toServer, conn.open], [7, false]);
});

Deno.test("Proxy.cutAfter() on an open connection counts from the call", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  const [client, server] = await through(proxy, peer);
  await using _client = client;
  await using _server = server;
  await client.write(pingreq);
  deepStrictEqual(await server.readPacket(), pingreq);
  await server.write(pingresp);
  deepStrictEqual(await client.readPacket(), pingresp);
  proxy.cutAfter({ toClient: 3 });
  await server.write(bytes(10, 50));
  deepStrictEqual([...await client.readUntilClosed()], [50, 51, 52]);
  equal((await server.readUntilClosed()).length, 0);
  deepStrictEqual([proxy.toServer, proxy.toClient], [2, 5]);
});

Deno.test("Proxy.cutAfter() applies once: the next connection is forwarded in full", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  proxy.cutAfter({ toServer: 2 });
  {
    const [client, server] = await through(proxy, peer);
    await using _client = client;
    await using _server = server;
    await client.write(bytes(4));
    deepStrictEqual(await server.readUntilClosed(), bytes(2));
  }
  const [client, server] = await through(proxy, peer);
  await using _client = client;
  await using _server = server;
  await client.write(bytes(4));
  client.close();
  deepStrictEqual(await server.readUntilClosed(), bytes(4));
});

Deno.test("Proxy.cutAfter({ toServer: 0 }) and cutNow() close at once", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  for (const cut of [() => proxy.cutAfter({ toServer: 0 }), () => proxy.cutNow()]) {
    const [client, server] = await through(proxy, peer);
    await using _client = client;
    await using _server = server;
    await client.write(pingreq);
    deepStrictEqual(await server.readPacket(), pingreq);
    cut();
    equal((await client.readUntilClosed()).length, 0);
    equal((await server.readUntilClosed()).length, 0);
  }
  equal(proxy.connections.every((conn) => !conn.open), true);
});

Deno.test("Proxy.trickle() forwards toward the client a chunk at a time", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  proxy.trickle({ chunk: 2, delayMs: 10 });
  using client = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
  await using server = await peer.accept();
  const started = performance.now();
  await server.write(bytes(10));
  const reads: number[] = [];
  const buffer = new Uint8Array(64);
  for (let total = 0; total < 10;) {
    const n = await client.read(buffer);
    if (n === null) break;
    reads.push(n);
    total += n;
  }
  const elapsed = performance.now() - started;
  equal(reads.reduce((a, b) => a + b), 10);
  ok(reads.every((n) => n % 2 === 0) && reads.length >= 2, `reads of ${reads}`);
  ok(elapsed >= 40, `5 chunks 10 ms apart arrived in ${elapsed} ms`);
  proxy.trickle(null);
});

Deno.test("Proxy.pause() holds the bytes until resume()", async () => {
  await using peer = await startPeer();
  await using proxy = await startProxy({ target: peer });
  const [client, server] = await through(proxy, peer);
  await using _client = client;
  await using _server = server;
  proxy.pause();
  await client.write(new Uint8Array([0xc0, 0x00]));
  await rejects(server.readPacket({ timeoutMs: 50 }), /no complete packet/);
  equal(proxy.toServer, 0);
  proxy.resume();
  deepStrictEqual([...await server.readPacket()], [0xc0, 0x00]);
});

Deno.test("Proxy disposal ends every connection, pending trickles and pauses included", async () => {
  await using peer = await startPeer();
  const proxy = await startProxy({ target: peer });
  const [client, server] = await through(proxy, peer);
  await using _client = client;
  await using _server = server;
  proxy.trickle({ delayMs: 10_000 });
  await server.write(bytes(3)); // the first byte goes, then a 10 s delay
  await rejects(client.readPacket({ timeoutMs: 50 }));
  proxy.pause();
  await client.write(bytes(3)); // held
  const started = performance.now();
  await proxy[Symbol.asyncDispose]();
  ok(performance.now() - started < 1_000);
  deepStrictEqual([...await client.readUntilClosed()], [0]);
  equal((await server.readUntilClosed()).length, 0);
  await rejects(Deno.connect({ hostname: proxy.hostname, port: proxy.port }));
});

Deno.test({
  name: "Proxy between a client and Mosquitto: a CONNECT and its CONNACK, byte for byte",
  ignore: !brokerAvailable,
  async fn() {
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    await using client = await connectRaw(proxy);
    const packet = connect({
      clientId: "infra-proxy",
      username: "mqtt5",
      password: "mqtt5-secret",
    });
    await client.write(packet);
    const connack = await client.readPacket();
    equal(readConnack(connack).reasonCode, 0);
    equal(proxy.toServer, packet.length);
    equal(proxy.toClient, connack.length);
  },
});
