// mqtt5 in a real browser: the bundle of the Client and connectWebSocket (`_entry.ts`, built with
// esbuild from npm) runs in headless Chromium on a page served from a free loopback port. The page
// (`_page.ts`) connects through the WebSocket bridge (`tests/_util/ws_bridge.ts`) to Mosquitto,
// subscribes, publishes at QoS 1 and QoS 2, receives its own messages and POSTs what it polled;
// a Deno client on TCP subscribed to the same topics sees what the broker delivered.
//
// It runs Chromium, esbuild's binary (from Deno's npm cache, whose path differs between
// machines) and Mosquitto, and esbuild's npm package spawns its binary with the whole environment:
// `deno test -P=browser tests/browser/` runs it (CI does). Under `deno task test`, or without
// Chromium on PATH, it shows as ignored with the reason.

import assert from "node:assert/strict";
import { assertQuiet, pollUntil, text, uniqueTopic } from "../client/_client.ts";
import { startMosquitto } from "../_util/mosquitto.ts";
import { startObserver } from "./_observer.ts";
import { startWsBridge } from "../_util/ws_bridge.ts";
import { type BrowserBundle, buildBrowserBundle, buildTestPage } from "./_bundle.ts";
import { chromiumIgnoreReason, chromiumVersionLine, launchChromium } from "./_chromium.ts";
import type { PageConfig, PageEvent, PageReport } from "./_page.ts";

/** How long the page gets to report, from Chromium's launch. */
const REPORT_TIMEOUT_MS = 40_000;

const QOS1_PAYLOAD = "QoS 1 from the browser";
/** Bytes that are not UTF-8, so a text frame or a decode on the way would show. */
const QOS2_PAYLOAD = [0x00, 0xff, 0xfe, 0x80, 0x51, 0x6f, 0x53, 0x32];

/**
 * The page: the module script, and before it a plain script that reports what keeps the module
 * from running (a script that fails to load or to parse), so the test fails at once with it.
 */
const PAGE_HTML = `<!doctype html>
<meta charset="utf-8">
<title>mqtt5 in the browser</title>
<script>
  addEventListener("error", (e) => fetch("/report", {
    method: "POST",
    body: JSON.stringify({
      ok: false,
      env: {
        userAgent: navigator.userAgent,
        deno: "Deno" in globalThis,
        process: "process" in globalThis,
        dom: true,
      },
      error: e.error?.stack ?? (e.message || \`\${e.target?.src} failed to load\`),
    }),
  }), true);
</script>
<script type="module" src="/page.js"></script>
`;

/** A loopback HTTP server for the page; it resolves `report` with what the page POSTs. */
interface PageServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** What the page reported. */
  readonly report: Promise<PageReport>;
  /** The User-Agent of every request, in order. */
  readonly userAgents: readonly string[];
}

function servePage(bundle: string, page: string): PageServer {
  const report = Promise.withResolvers<PageReport>();
  const userAgents: string[] = [];
  const js = "text/javascript; charset=utf-8";
  const files: Record<string, { body: string; type: string }> = {
    "/": { body: PAGE_HTML, type: "text/html; charset=utf-8" },
    "/page.js": { body: page, type: js },
    // The page imports "./_entry.ts": the bundle, as it is.
    "/_entry.ts": { body: bundle, type: js },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    userAgents.push(request.headers.get("user-agent") ?? "");
    const path = new URL(request.url).pathname;
    if (request.method === "POST" && path === "/report") {
      report.resolve(await request.json());
      return new Response(null, { status: 204 });
    }
    const file = files[path];
    if (request.method !== "GET" || file === undefined) {
      return new Response("Not found", { status: 404 });
    }
    return new Response(file.body, {
      headers: { "content-type": file.type, "cache-control": "no-store" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    report: report.promise,
    userAgents,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Waits for `promise` at most `ms` milliseconds, then rejects with `message`. */
async function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every message event of `events` as `topic payload-bytes`, sorted. */
function deliveries(events: readonly PageEvent[]): string[] {
  return events.filter((e) => e.type === "message")
    .map((e) => `${e.topic} qos${e.qos} ${JSON.stringify(e.payload)}`).sort();
}

Deno.test({
  name: "the browser bundle's Client publishes and receives at QoS 1 and 2 in headless Chromium",
  ignore: chromiumIgnoreReason !== "",
  async fn(t) {
    let bundle: BrowserBundle | undefined;
    let page: string | undefined;
    const built = await t.step("the bundle is one ES module with no Deno or Node API", async () => {
      bundle = await buildBrowserBundle();
      page = await buildTestPage();
      console.log(
        `bundle: ${bundle.bytes} bytes, ${bundle.gzipBytes} gzipped; ${chromiumVersionLine}`,
      );
      assert.match(bundle.code, /\bexport\s*\{/);
      assert.doesNotMatch(bundle.code, /\bDeno\./, "the bundle calls no Deno API");
      assert.doesNotMatch(bundle.code, /\brequire\(|["']node:/, "the bundle needs no Node module");
      assert.ok(!bundle.inputs.some((input) => input.path.endsWith("src/transport/node.ts")));
    });
    if (!built || bundle === undefined || page === undefined) return;

    await using broker = await startMosquitto();
    // Frames that are not packets: what Mosquitto sends within 5 ms gathered, then cut into 1 to
    // 7 bytes, so Chromium's WebSocket and streams carry packets across frames [MQTT-6.0.0-2].
    await using bridge = await startWsBridge({
      target: { hostname: broker.hostname, port: broker.port },
      coalesceMs: 5,
      split: { min: 1, max: 7 },
    });
    const topic = uniqueTopic("browser");
    const credentials = { username: broker.username, password: broker.password };

    // A Deno client on TCP, subscribed before the page starts: what the broker delivers.
    await using watching = await startObserver(broker.port, {
      ...credentials,
      clientId: "browser-observer",
      filter: `${topic}/#`,
    });
    const observer = watching.client;

    const config: PageConfig = {
      url: bridge.url,
      ...credentials,
      topic,
      clientId: "browser-page",
      qos1Payload: QOS1_PAYLOAD,
      qos2Payload: QOS2_PAYLOAD,
    };
    await using site = servePage(bundle.code, page);
    await using chromium = await launchChromium(
      `${site.url}?config=${encodeURIComponent(JSON.stringify(config))}`,
    );
    const exitedEarly = chromium.exited.then((status) => {
      throw new Error(
        `Chromium exited (code ${status.code}) before the page reported:\n${chromium.logs()}`,
      );
    });
    exitedEarly.catch(() => {});
    const report = await within(
      Promise.race([site.report, exitedEarly]),
      REPORT_TIMEOUT_MS,
      () => `The page did not report within ${REPORT_TIMEOUT_MS} ms:\n${chromium.logs()}`,
    );
    if (!report.ok) {
      assert.fail(`The page failed in ${report.env.userAgent}:\n${report.error}`);
    }

    await t.step("the page ran in Chromium, not in Deno or Node", () => {
      assert.match(report.env.userAgent, /HeadlessChrome\//);
      assert.deepEqual(
        { deno: report.env.deno, process: report.env.process, dom: report.env.dom },
        { deno: false, process: false, dom: true },
      );
      // Every request to the page's server, the report included, came from Chromium.
      assert.ok(site.userAgents.length >= 4, `requests: ${site.userAgents.length}`);
      for (const agent of site.userAgents) assert.match(agent, /HeadlessChrome\//);
    });

    await t.step("the page used one WebSocket that offered the subprotocol mqtt only", async () => {
      assert.equal(bridge.connections.length, 1);
      const conn = await bridge.connection(1);
      assert.deepEqual(conn.offered, ["mqtt"]);
      assert.equal(conn.textFromClient, 0, "binary frames only [MQTT-6.0.0-1]");
      assert.ok(conn.framesFromClient > 0);
      assert.ok(conn.framesToClient > 20, `frames to the page: ${conn.framesToClient}`);
    });

    await t.step("the page's flights ended: PUBACK for QoS 1, PUBCOMP for QoS 2", () => {
      const { qos1, qos2 } = report.packetIds;
      const outgoing = ["acknowledged", "received", "completed", "rejected"];
      const acks = report.events.filter((e) => outgoing.includes(e.type))
        .map((e) => {
          const flight = e.packetId === qos1 ? "qos1" : e.packetId === qos2 ? "qos2" : e.packetId;
          return `${e.type} ${flight} 0x${e.reasonCode}`;
        });
      assert.deepEqual(acks.sort(), [
        "acknowledged qos1 0x0",
        "completed qos2 0x0",
        "received qos2 0x0",
      ]);
      assert.deepEqual(report.events.find((e) => e.type === "subscribed")?.reasonCodes, [2]);
      assert.equal(report.events.at(-1)?.type, "pong");
    });

    await t.step("the page received its own messages, QoS 2 exactly once", () => {
      assert.deepEqual(deliveries(report.events), [
        `${topic}/qos1 qos1 ${JSON.stringify([...new TextEncoder().encode(QOS1_PAYLOAD)])}`,
        `${topic}/qos2 qos2 ${JSON.stringify(QOS2_PAYLOAD)}`,
      ]);
      assert.ok(report.events.every((e) => e.type !== "message" || e.dup === false));
      assert.ok(!report.events.some((e) => e.type === "duplicate"));
    });

    await t.step(
      "the broker delivered the page's payloads to a TCP subscriber as sent",
      async () => {
        const received = new Map<string, { payload: Uint8Array; qos: number }[]>();
        let released = false;
        await pollUntil(observer, (event) => {
          if (event.type === "message") {
            received.set(event.topic, [
              ...received.get(event.topic) ?? [],
              { payload: event.payload, qos: event.qos },
            ]);
          }
          if (event.type === "released") released = true;
          return received.size === 2 && released;
        });
        // Anything still queued for the observer (a second QoS 2 delivery) comes before PINGRESP.
        await assertQuiet(observer);
        const qos1 = received.get(`${topic}/qos1`);
        const qos2 = received.get(`${topic}/qos2`);
        assert.equal(qos1?.length, 1);
        assert.equal(text(qos1[0]!.payload), QOS1_PAYLOAD);
        assert.equal(qos1[0]!.qos, 1);
        assert.equal(qos2?.length, 1, "QoS 2 exactly once");
        assert.deepEqual([...qos2[0]!.payload], QOS2_PAYLOAD);
        assert.equal(qos2[0]!.qos, 2);
      },
    );

    await t.step("the page disconnected with DISCONNECT before closing", async () => {
      await (await bridge.connection(1)).closed;
      assert.match(broker.logs(), /Client browser-page disconnected\./);
    });
  },
});
