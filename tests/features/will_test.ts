// The Will Message with every will property against Mosquitto: the Will Delay Interval, the
// properties delivered to a subscriber, a resumed session that cancels a delayed will, and
// DISCONNECT 0x00 / 0x04. (Will without delay, and 0x04 / 0x00 without session expiry:
// tests/client/pubsub_test.ts.)

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Client, type IncomingMessageEvent, PacketType, type WillProperties } from "../../mod.ts";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import {
  assertQuiet,
  clientsOf,
  message,
  nextEvent,
  subscribed,
  tappedTcp,
  text,
  uniqueTopic,
  Wiretap,
} from "./_features.ts";

Deno.test({
  name: "Will messages against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto();

    await t.step(
      "a will with a delay of 2 s and every property is published about 2 s after the connection drops, with its properties intact; a session resumed in time, or DISCONNECT 0x00, cancels it; DISCONNECT 0x04 publishes a (retained) will after the same delay [MQTT-3.1.2-9]",
      async () => {
        await using clients = clientsOf(broker);
        const base = uniqueTopic("will");
        const { client: watcher } = await clients.connect();
        await subscribed(watcher, { filter: `${base}/#`, qos: 2 });
        const properties: WillProperties = {
          willDelayInterval: 2,
          messageExpiryInterval: 100,
          payloadFormatIndicator: 1,
          contentType: "text/plain",
          responseTopic: `${base}/reply`,
          correlationData: new Uint8Array([0, 1, 2, 254, 255]),
          userProperties: [["why", "gone"], ["a", "1"], ["why", "gone"]],
        };
        const id = crypto.randomUUID().slice(0, 8);
        const doomed = async (name: string, qos: 0 | 1 | 2, retain = false) => {
          const tap = new Wiretap();
          const client = new Client();
          await clients.connect(
            {
              clientId: `${name}-${id}`,
              sessionExpiryInterval: 60,
              will: {
                topic: `${base}/${name}`,
                payload: `${name} gone ✓`,
                qos,
                retain,
                properties,
              },
            },
            client,
            await tappedTcp(broker, tap),
          );
          return { client, tap };
        };
        const dropped = await doomed("dropped", 2);
        const resumed = await doomed("resumed", 1);
        const polite = await doomed("polite", 1);
        const leaving = await doomed("leaving", 1, true);

        // The will and its properties are on the wire in CONNECT.
        const connect = dropped.tap.packets()[0]!;
        ok(connect.type === PacketType.Connect);
        deepStrictEqual(connect.will?.properties, properties);
        equal(connect.will?.topic, `${base}/dropped`);
        equal(text(connect.will!.payload), "dropped gone ✓");
        equal(connect.will?.qos, 2);

        const dropAt = Date.now();
        dropped.client.abort();
        resumed.client.abort();
        await polite.client.disconnect();
        await leaving.client.disconnect({ reasonCode: 0x04 });
        // The session is resumed within the delay: that will is never published.
        const back = await clients.connect(
          { clientId: `resumed-${id}`, cleanStart: false, sessionExpiryInterval: 60 },
          new Client(),
        );
        equal(back.result.sessionPresent, true);

        // Nothing for the first 1.5 s; Mosquitto counts whole seconds, so the will comes at 2-3 s.
        const early: IncomingMessageEvent[] = [];
        await rejects(
          (async () => {
            const signal = AbortSignal.timeout(1500);
            for (;;) {
              const e = await watcher.poll({ signal });
              if (e.type === "message") early.push(e);
            }
          })(),
          (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
        );
        deepStrictEqual(early, [], "no will within 1.5 s");
        const wills = new Map<string, IncomingMessageEvent>();
        let after = 0;
        const signal = AbortSignal.timeout(4000);
        while (wills.size < 2 || watcher.session.state.incoming.length > 0) {
          const e = await watcher.poll({ signal });
          if (e.type !== "message") continue;
          wills.set(e.topic, e);
          if (e.topic === `${base}/dropped`) after = Date.now() - dropAt;
        }
        ok(after >= 1500 && after < 4500, `the will came ${after} ms after the drop`);
        const m = wills.get(`${base}/dropped`)!;
        deepStrictEqual([text(m.payload), m.qos, m.retain], ["dropped gone ✓", 2, false]);
        const { messageExpiryInterval, ...rest } = m.properties;
        const { willDelayInterval: _, messageExpiryInterval: _sent, ...expected } = properties;
        deepStrictEqual(rest, expected);
        ok(
          messageExpiryInterval! <= 100 && messageExpiryInterval! >= 96,
          `expiry ${messageExpiryInterval}`,
        );
        // DISCONNECT 0x04: Mosquitto publishes that will too, after the same delay; 0x00 none.
        const leavingWill = wills.get(`${base}/leaving`);
        ok(leavingWill !== undefined, `wills: ${[...wills.keys()]}`);
        equal(text(leavingWill.payload), "leaving gone ✓");
        // Give a would-be will of "resumed" or "polite" the same time again.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await assertQuiet(watcher);

        // The will of "leaving" was retained: a new subscriber gets it with RETAIN set.
        const { client: late } = await clients.connect();
        await late.subscribe({ filter: `${base}/leaving`, qos: 1 });
        equal((await nextEvent(late)).type, "subscribed");
        const retained = await message(late);
        deepStrictEqual([text(retained.payload), retained.retain], ["leaving gone ✓", true]);
        await back.client.disconnect({ properties: { sessionExpiryInterval: 0 } });
      },
    );
  },
});
