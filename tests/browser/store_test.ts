// IndexedDbSessionStore in a real browser: `_store_page.ts` with its imports (`_store_entry.ts`),
// bundled with esbuild from npm, runs in headless Chromium and loads twice in one profile. The
// first load checks the store's refusals, then publishes QoS 2 over Mosquitto's websockets
// listener and aborts right after a PUBLISH is saved; the second load resumes from IndexedDB
// with `loadSession`, Clean Start 0 and `resend()`. A Deno client on TCP, subscribed before the
// page starts, counts what the broker delivered; the broker's log (every packet) shows what it
// received from the page.
//
// Run with `deno test -P=browser tests/browser/` (`deno task test:browser`): it runs Chromium,
// esbuild and Mosquitto. Without them it shows as ignored, as browser_test.ts does.

import assert from "node:assert/strict";
import { assertQuiet, pollUntil, text, uniqueTopic } from "../client/_client.ts";
import { startMosquitto } from "../_util/mosquitto.ts";
import { startObserver } from "./_observer.ts";
import { buildPage } from "./_bundle.ts";
import { chromiumIgnoreReason, launchChromium } from "./_chromium.ts";
import type { CrashReport, RestartReport, StoreConfig, StoreReport } from "./_store_page.ts";

/** How long the two loads get to report, from Chromium's launch. */
const REPORT_TIMEOUT_MS = 60_000;
const CLIENT_ID = "browser-store";

/** The page, with a plain script first that reports what keeps the module from running. */
const PAGE_HTML = `<!doctype html>
<meta charset="utf-8">
<title>mqtt5 session store in the browser</title>
<script>
  addEventListener("error", (e) => fetch("/report", {
    method: "POST",
    body: JSON.stringify({
      phase: "failed",
      error: e.error?.stack ?? (e.message || \`\${e.target?.src} failed to load\`),
    }),
  }), true);
</script>
<script type="module" src="/page.js"></script>
`;

/** A loopback HTTP server for the page; `next()` gives each report in the order they came. */
interface StoreSite extends AsyncDisposable {
  readonly url: string;
  next(): Promise<StoreReport>;
}

function serveStorePage(script: string): StoreSite {
  const reports: StoreReport[] = [];
  let waiting: ((report: StoreReport) => void) | undefined;
  const files: Record<string, { body: string; type: string }> = {
    "/": { body: PAGE_HTML, type: "text/html; charset=utf-8" },
    "/page.js": { body: script, type: "text/javascript; charset=utf-8" },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method === "POST" && path === "/report") {
      const report = await request.json() as StoreReport;
      if (waiting) {
        waiting(report);
        waiting = undefined;
      } else reports.push(report);
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
    next: () => {
      const report = reports.shift();
      return report ? Promise.resolve(report) : new Promise((resolve) => waiting = resolve);
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Waits for `promise` at most until `deadline` (a `Date.now()` time), then rejects. */
async function until<T>(promise: Promise<T>, deadline: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The PUBLISH packets Mosquitto received from the page for `topic`: `d<dup> m<id>` each. */
function publishesReceived(logs: string, topic: string): string[] {
  const escaped = topic.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const re = new RegExp(
    `Received PUBLISH from ${CLIENT_ID} \\(d(\\d), q2, r0, m(\\d+), '${escaped}'`,
    "g",
  );
  return [...logs.matchAll(re)].map((m) => `d${m[1]} m${m[2]}`);
}

Deno.test({
  name: "IndexedDbSessionStore resumes QoS 2 exactly once after a page reload in headless Chromium",
  ignore: chromiumIgnoreReason !== "",
  async fn(t) {
    const script = await buildPage("tests/browser/_store_page.ts");
    // The page does carry Deno calls, never made: file.ts (whose encodeSessionFile and
    // decodeSessionFile the IndexedDB store uses) keeps FileSessionStore and _fs.ts in any bundle
    // through the class's static block. It imports nothing, though.
    assert.doesNotMatch(
      script,
      /\bfrom\s*["']node:|\bimport\(\s*["']node:|\brequire\(/,
      "the page imports no Node module",
    );

    await using broker = await startMosquitto({ websockets: true, verbose: true });
    const topic = uniqueTopic("browser-store");
    const credentials = { username: broker.username, password: broker.password };

    // A Deno client on TCP, subscribed before the page starts: what the broker delivers.
    await using watching = await startObserver(broker.port, {
      ...credentials,
      clientId: "browser-store-observer",
      filter: `${topic}/#`,
    });
    const observer = watching.client;

    const config: StoreConfig = {
      phase: "crash",
      url: `ws://127.0.0.1:${broker.websocketsPort}/`,
      ...credentials,
      topic,
      clientId: CLIENT_ID,
      db: `mqtt5-${crypto.randomUUID().slice(0, 8)}`,
    };
    await using site = serveStorePage(script);
    await using chromium = await launchChromium(
      `${site.url}?config=${encodeURIComponent(JSON.stringify(config))}`,
    );
    const exitedEarly = chromium.exited.then((status) => {
      throw new Error(`Chromium exited (code ${status.code}) early:\n${chromium.logs()}`);
    });
    exitedEarly.catch(() => {});
    const deadline = Date.now() + REPORT_TIMEOUT_MS;
    const next = async <P extends "crash" | "restart">(phase: P) => {
      const report = await until(
        Promise.race([site.next(), exitedEarly]),
        deadline,
        () => `The page's ${phase} load did not report in time:\n${chromium.logs()}`,
      );
      if (report.phase !== phase) {
        assert.fail(`The page's ${phase} load failed: ${JSON.stringify(report, null, 2)}`);
      }
      return report as P extends "crash" ? CrashReport : RestartReport;
    };
    const crashed = await next("crash");
    // What Mosquitto received from the page before the reload.
    const beforeRestart = broker.logs();
    const restarted = await next("restart");
    const { m1, m2, m3, m4 } = crashed.packetIds as Record<string, number>;

    await t.step("IndexedDbSessionStore.open() refuses a second store of a held name", () => {
      assert.equal(crashed.refusals.secondOpen, "locked");
      assert.equal(crashed.refusals.heldLoads, "accepted", "the first store still loads");
    });

    await t.step("IndexedDbSessionStore.load() refuses a damaged record as corrupt", () => {
      assert.deepEqual(
        {
          altered: crashed.refusals.altered,
          truncated: crashed.refusals.truncated,
          text: crashed.refusals.text,
          good: crashed.refusals.good,
        },
        { altered: "corrupt", truncated: "corrupt", text: "corrupt", good: "loaded" },
      );
    });

    await t.step("IndexedDbSessionStore.open() refuses a database of a later version", () => {
      assert.equal(crashed.refusals.laterDatabase, "version");
    });

    await t.step("the first load aborted right after m4's PUBLISH was saved", () => {
      assert.deepEqual(crashed.flights, [
        { packetId: m2, state: "awaiting-pubcomp" },
        { packetId: m3, state: "awaiting-pubrec", topic: `${topic}/m3` },
        { packetId: m4, state: "awaiting-pubrec", topic: `${topic}/m4` },
      ]);
      assert.deepEqual(crashed.saves.at(-1), ["publish"], "the last save: m4's publication");
      assert.match(crashed.m4Error, /ConnectionClosedError: .*kept in the session/);
      // The broker got m1 to m3 once each, and nothing of m4: it was saved, never written.
      assert.deepEqual(
        ["m1", "m2", "m3", "m4"].map((m) => publishesReceived(beforeRestart, `${topic}/${m}`)),
        [[`d0 m${m1}`], [`d0 m${m2}`], [`d0 m${m3}`], []],
      );
      assert.doesNotMatch(beforeRestart, new RegExp(`Received DISCONNECT from ${CLIENT_ID}`));
    });

    await t.step("the reloaded page loaded the session the first one saved", () => {
      assert.equal(restarted.clientId, CLIENT_ID);
      assert.deepEqual(restarted.loaded, crashed.flights);
      assert.equal(restarted.expired, 0);
      console.log(`opens on reload until the lock was free: ${restarted.openAttempts}`);
    });

    await t.step("it resumed with Clean Start 0 and completed every flight", () => {
      assert.equal(restarted.sessionPresent, true);
      assert.deepEqual(restarted.resent, [m2, m3, m4]);
      assert.deepEqual(
        restarted.acks.filter((a) => a.startsWith("completed")).sort(),
        [
          `completed ${m2} 0`,
          `completed ${m3} 0`,
          `completed ${m4} 0`,
        ].sort(),
      );
      assert.deepEqual(restarted.storedAfter, [], "the store holds no flight after");
      // The resends carried DUP 1 [MQTT-3.3.1-1]: m3 came again, m4 came for the first time.
      const logs = broker.logs();
      assert.deepEqual(publishesReceived(logs, `${topic}/m3`), [`d0 m${m3}`, `d1 m${m3}`]);
      assert.deepEqual(publishesReceived(logs, `${topic}/m4`), [`d1 m${m4}`]);
    });

    await t.step("the broker delivered each QoS 2 message exactly once", async () => {
      const received = new Map<string, string[]>();
      let released = 0;
      await pollUntil(observer, (event) => {
        if (event.type === "message") {
          received.set(event.topic, [...received.get(event.topic) ?? [], text(event.payload)]);
        }
        if (event.type === "released") released++;
        return received.size === 4 && released === 4;
      }, 10_000);
      // Anything still queued for the observer (a second delivery) comes before PINGRESP.
      await assertQuiet(observer);
      assert.deepEqual(
        Object.fromEntries([...received].sort()),
        Object.fromEntries(
          ["m1", "m2", "m3", "m4"].map((m) => [`${topic}/${m}`, [`${m} from the page`]]),
        ),
      );
    });
  },
});
