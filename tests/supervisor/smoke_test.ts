import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { supervise } from "../../src/supervisor/mod.ts";
import { brokerAvailable, brokerIgnoreReason, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";

Deno.test({
  name: "Supervisor: smoke",
  ignore: !brokerAvailable,
  async fn() {
    void brokerIgnoreReason;
    await using broker = await startMosquitto();
    await using proxy = await startProxy({ target: broker });
    const statuses: string[] = [];
    await using mqtt = supervise({
      url: `mqtt://${broker.username}:${broker.password}@127.0.0.1:${proxy.port}`,
      clientId: "smoke",
      keepAlive: 1,
      sessionExpiryInterval: 60,
      reconnect: { initialDelay: 10, maxDelay: 50 },
      onStatus: (s) => statuses.push(s.type),
    });
    const sub = await mqtt.subscribe("smoke/#", { qos: 2 });
    const r = await mqtt.publish("smoke/a", "one", { qos: 1 });
    equal(r.reasonCode, 0);
    proxy.cutNow();
    const r2 = await mqtt.publish("smoke/b", "two", { qos: 2 });
    equal(typeof r2.packetId, "number");
    const got: string[] = [];
    for await (const m of sub) {
      got.push(m.text());
      if (got.length === 2) break;
    }
    deepStrictEqual(got, ["one", "two"]);
    await mqtt.respond("smoke/rpc", (m) => `re:${m.text()}`);
    const replies = await Promise.all([1, 2, 3].map((i) => mqtt.request("smoke/rpc", `q${i}`)));
    deepStrictEqual(replies.map((m) => m.text()), ["re:q1", "re:q2", "re:q3"]);
    await new Promise((r) => setTimeout(r, 2500)); // pings
    ok(statuses.includes("lost"), statuses.join());
    console.log(statuses.join(" "));
  },
});
