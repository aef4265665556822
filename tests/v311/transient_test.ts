// A transient error that stops the processing of a received packet (here the byte stream failing
// in the middle of a PUBLISH, as a read that runs out of resources would) makes the client close
// the connection [v3.1.1 MQTT-4.8.0-2]: on MQTT 3.1.1 without DISCONNECT, with a typed error that
// says the session can be resumed. An in-memory transport, no permissions.

import { equal, ok, rejects } from "node:assert/strict";
import { Client, ConnectionClosedError, decode, encode, PacketType } from "../../mod.ts";
import type { Transport } from "../../src/transport/mod.ts";

const v4 = { protocolVersion: 4 } as const;

/** A transport whose stream gives `chunks`, then fails with `failure`; it records what happens. */
function failingTransport(chunks: Uint8Array[], failure: Error) {
  const queue = chunks.slice();
  const written: Uint8Array[] = [];
  let closes = 0;
  let writesAfterClose = 0;
  const readable = new ReadableStream({
    type: "bytes",
    pull(c: ReadableByteStreamController) {
      const chunk = queue.shift();
      if (chunk === undefined) {
        c.error(failure);
        return;
      }
      const request = c.byobRequest;
      if (request?.view) {
        new Uint8Array(request.view.buffer, request.view.byteOffset, chunk.length).set(chunk);
        request.respond(chunk.length);
      } else c.enqueue(chunk);
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (closes > 0) writesAfterClose++;
      written.push(chunk.slice());
    },
  });
  const transport: Transport = {
    readable,
    writable,
    close() {
      closes++;
    },
  };
  return {
    transport,
    written,
    get closes() {
      return closes;
    },
    get writesAfterClose() {
      return writesAfterClose;
    },
  };
}

Deno.test({
  name:
    "Client on MQTT 3.1.1 closes the connection, sending nothing, when reading a packet fails midway [v3.1.1 MQTT-4.8.0-2]",
  permissions: "none",
  async fn() {
    const connack = encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }, v4);
    const publish = encode({
      type: PacketType.Publish,
      topic: "t/1",
      payload: new Uint8Array(64),
      qos: 1,
      packetId: 7,
    }, v4);
    // The CONNACK, then half of a PUBLISH, then the stream fails (a transient error).
    const failure = new Error("ENOBUFS: no buffer space available");
    const t = failingTransport([connack, publish.subarray(0, 30)], failure);
    const client = new Client();
    await client.connect(t.transport, {
      ...v4,
      clientId: "transient",
      cleanStart: false,
      keepAlive: 0,
    });
    let first: unknown;
    try {
      await client.poll();
    } catch (e) {
      first = e;
    }
    ok(first instanceof ConnectionClosedError, String(first));
    ok(first.message.includes("ENOBUFS"), first.message);
    ok(first.sessionResumable, "Clean Session 0: the session can be resumed");
    // The connection is closed and stays so.
    equal(client.state, "closed");
    ok(t.closes >= 1, "the client closed the transport");
    await rejects(client.poll(), (e: Error) => e.name === "NotConnectedError");
    // Nothing was written after CONNECT: 3.1.1 has no DISCONNECT for this, and the half-read
    // PUBLISH was never acknowledged.
    equal(t.written.length, 1);
    equal(decode(t.written[0]!, v4).type, PacketType.Connect);
    equal(t.writesAfterClose, 0);
  },
});
