// mqtt5 on Node, Bun and Deno: `_integration.ts` bundled by esbuild (from npm) into one .mjs, run
// by each runtime against one Mosquitto (TCP, TLS requiring a client certificate, WebSocket) and a
// proxy that cuts a connection; the test asserts on the JSON the script prints. It also measures
// QoS 1 throughput and the import time of the bundled library on each runtime, and logs them.
//
// It needs to run node, bun and esbuild's binary and to pass them the environment, which the
// `broker` permission set does not give: `deno test -P=runtimes tests/runtimes/` runs it (CI
// does); under `deno task test` it shows as ignored, with the reason. With the permissions but
// without node or bun, it fails and says how to install them.

import assert from "node:assert/strict";
import { brokerAvailable, freePort, startMosquitto, tlsConfig } from "../_util/mosquitto.ts";
import { makePki } from "../_util/pki.ts";
import { bundleForNode } from "../browser/_bundle.ts";
import { startProxy } from "../_util/proxy.ts";
import type { CheckReport, Config, Report } from "./_integration.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const BROKER_ROOT = `${ROOT}.broker`;
/** QoS 1 messages of each throughput measurement. */
const BENCH_MESSAGES = 10_000;
/** How long one runtime may take for the whole script. */
const RUN_TIMEOUT_MS = 30_000;
/** Fresh processes per runtime for the import time (the median is reported). */
const IMPORT_RUNS = 5;

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/** Whether this run may spawn the runtimes and esbuild: `-P=runtimes` (or `-A`). */
const runtimesAvailable = brokerAvailable && granted({ name: "run" }) &&
  granted({ name: "env" });
if (!runtimesAvailable) {
  console.warn(
    "Ignoring the cross-runtime test: it runs node, bun and esbuild with the environment: " +
      "run it with `deno test -P=runtimes tests/runtimes/`",
  );
}

type Runtime = Report["runtime"];

interface RuntimeCommand {
  /** The program and the arguments before the script. */
  command: string;
  args: string[];
  version: string;
}

const INSTALL: Record<Runtime, string> = {
  node: "install Node 20 or later (CI images have it)",
  bun: "`.ci/run` installs it (`npm install -g bun`); or install Bun yourself",
  deno: "run the test with deno",
};

/** How to start `runtime`, or an error saying how to install it. */
async function find(runtime: Runtime): Promise<RuntimeCommand> {
  const command = runtime === "deno" ? Deno.execPath() : runtime;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args: ["--version"], stdin: "null" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${runtime} not found on PATH: ${INSTALL[runtime]}`, { cause: e });
    }
    throw e;
  }
  const version = new TextDecoder().decode(output.stdout).trim().split("\n")[0]!;
  if (runtime === "node") {
    // Node 20 has a WebSocket only behind a flag.
    const major = Number(/^v(\d+)/.exec(version)?.[1]);
    if (major < 20) throw new Error(`node is ${version}: ${INSTALL.node}`);
    return { command, args: major < 22 ? ["--experimental-websocket"] : [], version };
  }
  if (runtime === "deno") {
    return {
      command,
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--allow-net=127.0.0.1,localhost",
        // The bundles, and the certificates of makePki(), are under .broker/.
        `--allow-read=${BROKER_ROOT}`,
      ],
      version,
    };
  }
  return { command, args: [], version };
}

/** What a script run printed: its last line of stdout, parsed, and how the process ended. */
interface Run<T> {
  json: T;
  code: number;
  stderr: string;
}

/** Runs `script` with `found`; throws with the output when it prints no JSON. */
async function run<T>(
  found: RuntimeCommand,
  dir: string,
  script: string,
  args: string[] = [],
): Promise<Run<T>> {
  const output = await new Deno.Command(found.command, {
    args: [...found.args, `${dir}/${script}`, ...args],
    cwd: dir,
    stdin: "null",
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  try {
    return { json: JSON.parse(stdout.split("\n").at(-1)!) as T, code: output.code, stderr };
  } catch {
    const killed = output.signal === "SIGTERM" ? `: it ran for ${RUN_TIMEOUT_MS} ms` : "";
    throw new Error(
      `${found.command} ${script} printed no JSON (exit code ${output.code}, signal ` +
        `${output.signal}${killed}):\n${stderr}\n${stdout}`.trim(),
    );
  }
}

/** Runs `script` with `found` and returns what it printed; it must exit with 0. */
async function runOk<T>(found: RuntimeCommand, dir: string, script: string): Promise<T> {
  const { json, code, stderr } = await run<T>(found, dir, script);
  assert.equal(code, 0, `${found.command} ${script} exited with ${code}:\n${stderr}`);
  return json;
}

/** Bundles the integration script and the library's root module into `dir` as .mjs files. */
async function bundle(dir: string): Promise<void> {
  await bundleForNode(
    { integration: "tests/runtimes/_integration.ts", mod: "mod.ts" },
    dir,
  );
  await Deno.writeTextFile(
    `${dir}/import_time.mjs`,
    'const t0 = performance.now();\nawait import("./mod.mjs");\n' +
      "console.log(JSON.stringify({ ms: performance.now() - t0 }));\n",
  );
}

/** Asserts that every payload of a round trip came back, QoS 2 exactly once, at its QoS. */
function assertRoundTrip(name: string, check: unknown, perQoS: number): void {
  const { received, qosIn } = check as {
    received: Record<string, number>;
    qosIn: Record<string, number>;
  };
  for (const qos of [0, 1, 2]) {
    for (let i = 0; i < perQoS; i++) {
      const payload = `q${qos}-${i}`;
      const count = received[payload] ?? 0;
      if (qos === 2) assert.equal(count, 1, `${name}: ${payload} delivered exactly once`);
      else assert.ok(count >= 1, `${name}: ${payload} delivered`);
      assert.equal(qosIn[payload], qos, `${name}: ${payload} delivered at QoS ${qos}`);
    }
  }
}

function assertOk(report: Report, name: string): CheckReport {
  const check = report.checks[name];
  assert.ok(check !== undefined, `${report.runtime}: no "${name}" check in the report`);
  assert.ok(check.ok, `${report.runtime} ${name}: ${check.error}`);
  return check;
}

function assertReport(report: Report, runtime: Runtime): void {
  assert.equal(report.runtime, runtime);
  for (const name of ["url", "node", "nodeDirect"]) {
    assertRoundTrip(`${runtime} ${name}`, assertOk(report, name), 5);
  }

  const recovery = assertOk(report, "recovery") as unknown as {
    received: Record<string, number>;
    cuts: { error: string; sessionResumable: boolean; sessionPresent?: boolean }[];
    published: number;
  };
  assert.ok(recovery.cuts.length >= 1, `${runtime}: the proxy cut the publisher's connection`);
  const [cut] = recovery.cuts;
  assert.ok(cut!.sessionResumable, `${runtime}: the session is resumable after ${cut!.error}`);
  assert.equal(cut!.sessionPresent, true, `${runtime}: the server resumed the session`);
  assert.equal(recovery.published, 30);
  for (let i = 0; i < 30; i++) {
    const qos = i % 2 === 0 ? 1 : 2;
    const count = recovery.received[`m${i}-q${qos}`] ?? 0;
    if (qos === 2) assert.equal(count, 1, `${runtime}: m${i} (QoS 2) delivered exactly once`);
    else assert.ok(count >= 1, `${runtime}: m${i} (QoS 1) delivered at least once`);
  }

  const tls = assertOk(report, "tls");
  assertRoundTrip(`${runtime} mqtts:// URL`, tls.url, 2);
  assertRoundTrip(`${runtime} connectNode TLS`, tls.node, 2);
  assert.equal(tls.withoutClientCertificate, "client-certificate-required");
  assert.equal(tls.untrustedServer, "untrusted-certificate");
  assert.equal(tls.otherClientCa, "client-certificate-rejected");
  assert.equal(tls.expiredServer, "expired-certificate");
  assert.equal(tls.wrongName, "name-mismatch");

  const ws = assertOk(report, "webSocket");
  assert.equal(ws.skipped, undefined, `${runtime}: WebSocket was not tested: ${ws.skipped}`);
  assertRoundTrip(`${runtime} ws:// URL`, ws, 3);

  assertOk(report, "throughput");
}

/** Three distinct free loopback ports. */
function freePorts(): [number, number, number] {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(freePort());
  return [...ports] as [number, number, number];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

Deno.test({
  name: "mqtt5 bundled for Node 20, Bun and Deno: QoS 0/1/2 both ways, recovery after a cut, " +
    "TLS with a client certificate, WebSocket",
  ignore: !runtimesAvailable,
  async fn(t) {
    await Deno.mkdir(BROKER_ROOT, { recursive: true });
    const dir = await Deno.makeTempDir({ dir: BROKER_ROOT, prefix: "runtimes-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await bundle(dir);
    await using pki = await makePki({ negative: true });
    const [tlsPort, expiredPort, wrongNamePort] = freePorts();
    const server = (name: string) => ({
      cafile: pki.path("ca.crt"),
      certfile: pki.path(`${name}.crt`),
      keyfile: pki.path(`${name}.key`),
    });
    await using broker = await startMosquitto({
      websockets: true,
      config: [
        `listener ${tlsPort} 127.0.0.1`,
        ...tlsConfig(server("server")),
        `listener ${expiredPort} 127.0.0.1`,
        ...tlsConfig(server("expired-server")),
        `listener ${wrongNamePort} 127.0.0.1`,
        ...tlsConfig(server("wrong-name-server")),
      ],
    });
    await using proxy = await startProxy({
      target: { hostname: broker.hostname, port: broker.port },
    });
    const config: Omit<Config, "id"> = {
      port: broker.port,
      tlsPort,
      expiredPort,
      wrongNamePort,
      wsPort: broker.websocketsPort!,
      proxyPort: proxy.port,
      ca: pki.path("ca.crt"),
      cert: pki.path("client.crt"),
      key: pki.path("client.key"),
      otherCert: pki.path("other-client.crt"),
      otherKey: pki.path("other-client.key"),
      username: broker.username,
      password: broker.password,
      benchMessages: BENCH_MESSAGES,
    };
    const id = `rt-${crypto.randomUUID().slice(0, 8)}`;
    const measured: Record<string, { version: string; throughput: Record<string, number> }> = {};
    const importMs: Record<string, number> = {};

    for (const runtime of ["node", "bun", "deno"] as const) {
      // A developer's machine may lack a runtime: that step is ignored, saying how to install it.
      // In CI (`.ci/run` installs every runtime first) a missing one fails.
      let found: RuntimeCommand;
      try {
        found = await find(runtime);
      } catch (e) {
        if (Deno.env.get("CI") === "true") throw e;
        console.warn(`Ignoring the ${runtime} step: ${e instanceof Error ? e.message : e}`);
        await t.step({ name: `on ${runtime}`, ignore: true, fn() {} });
        continue;
      }
      await t.step(`on ${runtime}`, async () => {
        // The publisher's first connection through the proxy is cut after this many bytes to the
        // server: past CONNECT, among the first publications.
        proxy.cutAfter({ toServer: 600 });
        const { json: report, code, stderr } = await run<Report>(found, dir, "integration.mjs", [
          JSON.stringify({ ...config, id: `${id}-${runtime}` }),
        ]);
        measured[runtime] = { version: report.version, throughput: report.throughput };
        const times: number[] = [];
        for (let i = 0; i < IMPORT_RUNS; i++) {
          times.push((await runOk<{ ms: number }>(found, dir, "import_time.mjs")).ms);
        }
        importMs[runtime] = median(times);
        assertReport(report, runtime);
        assert.equal(code, 0, `${runtime} exited with ${code} after its report:\n${stderr}`);
      });
    }

    const size = (await Deno.stat(`${dir}/mod.mjs`)).size;
    const lines = Object.entries(measured).map(([runtime, m]) => {
      const rates = Object.entries(m.throughput).map(([k, v]) => `${k} ${v.toLocaleString("en")}`);
      return `  ${runtime} ${m.version}: QoS 1 msgs/s ${rates.join(", ")}; import ` +
        `${importMs[runtime]?.toFixed(1)} ms`;
    });
    console.log(
      `Cross-runtime measurements (${BENCH_MESSAGES.toLocaleString("en")} QoS 1 messages of ` +
        `64 B; import of the bundled mod.mjs, ${(size / 1024).toFixed(0)} KiB, median of ` +
        `${IMPORT_RUNS}):\n${lines.join("\n")}`,
    );
  },
});
