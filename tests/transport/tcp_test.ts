// connectTcp(): the transport MQTT needs, an ordered, lossless, two-way byte stream (4.2).

import { deepStrictEqual, equal } from "node:assert/strict";
import { connectTcp } from "../../src/transport/mod.ts";

function pattern(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + (i >> 8) + seed) & 0xff);
}

async function readAll(readable: ReadableStream<Uint8Array>, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  const reader = readable.getReader();
  try {
    while (at < length) {
      const { value, done } = await reader.read();
      if (done) break;
      out.set(value.subarray(0, length - at), at);
      at += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  equal(at, length, "every byte arrived, and no more");
  return out;
}

Deno.test({
  name: "connectTcp() carries bytes both ways at once, in order and without loss [MQTT-4.2.0-1]",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const size = 1024 * 1024;
    const up = pattern(size, 1);
    const down = pattern(size, 7);
    const [transport, server] = await Promise.all([
      connectTcp({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    try {
      // Written in uneven chunks from both ends while both ends read.
      const write = async (writable: WritableStream<Uint8Array>, bytes: Uint8Array) => {
        const writer = writable.getWriter();
        for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7 + 13) % 40_000 + 1) {
          await writer.write(bytes.slice(at, at + n));
        }
        writer.releaseLock();
      };
      const [atServer, atClient] = await Promise.all([
        readAll(server.readable, size),
        readAll(transport.readable, size),
        write(transport.writable, up),
        write(server.writable, down),
      ]);
      deepStrictEqual(atServer, up);
      deepStrictEqual(atClient, down);
    } finally {
      transport.close();
      transport.close(); // closing twice is harmless
      server.close();
    }
  },
});
