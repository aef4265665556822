// The examples and the README's code run against a real Mosquitto, so they cannot rot.

import assert from "node:assert/strict";
import { brokerAvailable, startMosquitto } from "../_util/mosquitto.ts";
import { demo } from "../../examples/demo.ts";
import { requestResponse } from "../../examples/request_response.ts";
import { sessionRecovery } from "../../examples/session_recovery.ts";
import { manualAck } from "../../examples/manual_ack.ts";
import { v311 } from "../../examples/v311.ts";
import { keepaliveLoop } from "../../examples/keepalive_loop.ts";
import { engineExample } from "../../examples/engine.ts";
// Loaded here so that the README's run-loop block, imported at run time, needs no read permission.
import "../../src/supervisor/mod.ts";

const readme = new URL("../../README.md", import.meta.url);
const modUrl = new URL("../../mod.ts", import.meta.url).href;
const engineUrl = new URL("../../src/session/mod.ts", import.meta.url).href;
const supervisorUrl = new URL("../../src/supervisor/mod.ts", import.meta.url).href;

/** The fenced ```ts blocks of the README that are not marked `ignore`. */
async function readmeBlocks(): Promise<string[]> {
  const text = await Deno.readTextFile(readme);
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

Deno.test({
  name: "examples run against Mosquitto",
  ignore: !brokerAvailable,
  async fn(t) {
    await using broker = await startMosquitto();
    const server = {
      hostname: broker.hostname,
      port: broker.port,
      username: broker.username,
      password: broker.password,
    };
    const lines: string[] = [];

    await t.step(
      "demo.ts delivers both messages exactly once, the second after a recovery",
      async () => {
        const result = await demo({ ...server, log: (line) => lines.push(line) });
        assert.deepEqual(result.received, ["Hello World!", "Exactly once"]);
        assert.ok(
          lines.some((l) => l.includes("reconnected: session present true")),
          lines.join("\n"),
        );
      },
    );

    await t.step(
      "request_response.ts gets the answer matched by its Correlation Data",
      async () => {
        const answer = await requestResponse({ ...server, log: (line) => lines.push(line) });
        assert.equal(answer, "It is 1970-01-01T00:00:00.000Z");
      },
    );

    await t.step(
      "session_recovery.ts: both cuts recovered, each message delivered once",
      async () => {
        const deliveries = await sessionRecovery({ ...server, log: (line) => lines.push(line) });
        assert.deepEqual(deliveries, { first: 1, second: 1 });
        assert.ok(lines.some((l) => l.includes("awaiting-pubrec -> republish")), lines.join("\n"));
        assert.ok(
          lines.some((l) => l.includes("awaiting-pubcomp -> re-release")),
          lines.join("\n"),
        );
      },
    );

    await t.step(
      "manual_ack.ts keeps within a Receive Maximum of 2, and the unacknowledged message comes again with DUP [MQTT-3.3.4-7]",
      async () => {
        // Its own broker, whose CONNACK says Receive Maximum 2: of the example's three QoS 1
        // messages, the third is refused (QuotaExceededError) unless it polls for a PUBACK first.
        await using small = await startMosquitto({ config: ["max_inflight_messages 2"] });
        const result = await manualAck({
          hostname: small.hostname,
          port: small.port,
          username: small.username,
          password: small.password,
          log: (line) => lines.push(line),
        });
        assert.equal(result.receiveMaximum, 2, "the publisher's CONNACK says Receive Maximum 2");
        assert.deepEqual(result.stored, ["one", "two", "three"]);
        assert.deepEqual(result.redelivered, { text: "three", dup: true });
      },
    );

    await t.step(
      "v311.ts: a 3.1.1 subscriber with Clean Session 0 gets a 5.0 publisher's QoS 2 message once and, back in its session, the QoS 1 message queued while away; 5.0-only options are refused [v3.1.1 MQTT-3.1.2-4]",
      async () => {
        const result = await v311({ ...server, log: (line) => lines.push(line) });
        assert.deepEqual(result.received, ["from 5.0, exactly once", "queued while away"]);
        assert.equal(result.sessionPresent, true, "the broker kept the 3.1.1 session");
        assert.equal(result.refused, "properties.messageExpiryInterval");
      },
    );

    await t.step(
      "keepalive_loop.ts: pings when due, reconnects, loses no publication",
      async () => {
        const result = await keepaliveLoop({
          ...server,
          keepAlive: 1,
          durationMs: 3000,
          log: (line) => lines.push(line),
        });
        assert.ok(result.pongs >= 1, JSON.stringify(result));
        assert.equal(result.reconnects, 1);
        assert.equal(result.acknowledged, result.published);
      },
    );

    await t.step(
      "engine.ts drives the Engine over node:net with no Client: its own QoS 1 and 2 messages once each, PUBACK and PUBREC/PUBCOMP as events, keep alive from its one timer",
      async () => {
        const result = await engineExample({
          ...server,
          keepAlive: 1,
          stayMs: 1500,
          log: (line) => lines.push(line),
        });
        const { qos1, qos2 } = result.published;
        assert.deepEqual(
          result.received.map(({ text, qos }) => ({ text, qos })),
          [{ text: "at least once", qos: 1 }, { text: "exactly once", qos: 2 }],
          "each message once, in the order published [MQTT-4.6.0-6]",
        );
        const acksOf = (id: number) => result.acks.filter((a) => a.packetId === id);
        assert.deepEqual(acksOf(qos1), [{ type: "acknowledged", packetId: qos1, reasonCode: 0 }]);
        assert.deepEqual(acksOf(qos2).map((a) => a.type), ["received", "completed"]);
        assert.equal(result.acks.length, 3, JSON.stringify(result.acks));
        // The incoming QoS 2 message's PUBREL came, and the engine answered it with PUBCOMP.
        assert.deepEqual(result.released, [result.received[1]!.packetId]);
        assert.ok(result.pongs >= 1, `PINGREQ answered (${result.pongs} PINGRESPs)`);
      },
    );

    await t.step("the README's code blocks run as written", async () => {
      const blocks = await readmeBlocks();
      assert.ok(blocks.length >= 1, "the README has runnable ts blocks");
      for (const [i, block] of blocks.entries()) {
        const code = block
          .replaceAll('"./mod.ts"', JSON.stringify(modUrl))
          .replaceAll('"@scope/mqtt5/engine"', JSON.stringify(engineUrl))
          .replaceAll('"@scope/mqtt5/supervisor"', JSON.stringify(supervisorUrl))
          .replaceAll("port: 1883", `port: ${broker.port}`)
          .replaceAll("127.0.0.1:1883", `127.0.0.1:${broker.port}`);
        assert.notEqual(
          code,
          block,
          `README block ${i} runs this checkout's code (and the example broker, if it connects)`,
        );
        const file = `${broker.dir}/readme_${i}.ts`;
        await Deno.writeTextFile(file, code);
        const log = console.log;
        const printed: string[] = [];
        console.log = (...args: unknown[]) => printed.push(args.join(" "));
        try {
          await import(new URL(`file://${file}`).href);
        } finally {
          console.log = log;
        }
        // The first example, in its short form (the run loop) and its explicit form.
        if (i <= 1) assert.deepEqual(printed, ["readme/hello Hello World!"], `README block ${i}`);
        if (block.includes('"@scope/mqtt5/engine"')) {
          // The engine's block: no I/O, time passed in; what it prints is what its comments say.
          assert.deepEqual(printed, ["connected", "acknowledged", "30010", "192,0"]);
        }
      }
    });
  },
});
