/**
 * The cross-runtime integration script: `runtimes_test.ts` bundles it with esbuild into one `.mjs`
 * and runs it with Node, Bun and Deno against one Mosquitto. It takes its settings as JSON in its
 * first argument ({@linkcode Config}), runs every check, and prints one line of JSON
 * ({@linkcode Report}) for the test to assert on: what each check delivered, and the errors it
 * met. It uses only what all three runtimes share (`node:` modules for files and arguments).
 *
 * @module
 */

import { readFileSync } from "node:fs";
import process from "node:process";
import {
  Client,
  type ClientEvent,
  connect,
  ConnectionClosedError,
  connectTcp,
  type ConnectUrlOptions,
  MqttError,
  openTransport,
  type QoS,
  TlsError,
  type Transport,
} from "../../mod.ts";
import { connectNode } from "../../src/transport/node.ts";

/** The settings the test passes as JSON in the first argument. */
export interface Config {
  /** A unique prefix for client ids and topics. */
  id: string;
  /** The broker's plain TCP port. */
  port: number;
  /** The broker's TLS port (client certificate required; its Common Name is the user). */
  tlsPort: number;
  /** The broker's WebSocket port. */
  wsPort: number;
  /** TLS ports whose server certificate has expired, or is for another host name. */
  expiredPort: number;
  wrongNamePort: number;
  /** The port of the proxy in front of {@linkcode Config.port} that cuts the first connection. */
  proxyPort: number;
  /** The PEM files: CA, client certificate and key, and a client's signed by another CA. */
  ca: string;
  cert: string;
  key: string;
  otherCert: string;
  otherKey: string;
  username: string;
  password: string;
  /** QoS 1 messages of the throughput measurement (0: none). */
  benchMessages: number;
  /** Runs only the checks named (e.g. `["throughput"]` to measure again); all when absent. */
  only?: string[];
}

/** What one check delivered, or the error that stopped it. */
export interface CheckReport {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

/** The script's output. */
export interface Report {
  runtime: "node" | "bun" | "deno";
  version: string;
  checks: Record<string, CheckReport>;
  /** QoS 1 messages per second, by transport. */
  throughput: Record<string, number>;
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
const runtime: Report["runtime"] = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";
const version = runtime === "bun"
  ? (globalThis as unknown as { Bun: { version: string } }).Bun.version
  : runtime === "deno"
  ? (globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno
  : process.versions.node;
const base = `${config.id}/${runtime}`;
const login = { username: config.username, password: config.password };
const tcpUrl = `mqtt://127.0.0.1:${config.port}`;
const decoder = new TextDecoder();
const WAIT_MS = 5_000;

/** Polls until `done` says so; every event goes to `done`. */
async function pollUntil(client: Client, done: (event: ClientEvent) => boolean): Promise<void> {
  const signal = AbortSignal.timeout(WAIT_MS);
  for (;;) {
    if (done(await client.poll({ signal }))) return;
  }
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? ` <- ${describe(e.cause)}` : "";
  return `${e.name}: ${e.message}${cause}`;
}

/**
 * Subscribes to `<topic>/#` at QoS 2, publishes `perQoS` messages at each QoS to it, and counts
 * what comes back: QoS 0, 1 and 2 out (PUBACK, PUBREC/PUBREL/PUBCOMP) and in (PUBACK, PUBREC,
 * PUBREL/PUBCOMP answered by the client).
 */
async function roundTrip(client: Client, topic: string, perQoS: number) {
  await client.subscribe({ filter: `${topic}/#`, qos: 2 });
  await pollUntil(client, (e) => e.type === "subscribed");
  const received: Record<string, number> = {};
  let finished = 0;
  for (const qos of [0, 1, 2] as const) {
    for (let i = 0; i < perQoS; i++) {
      client.publish({ topic: `${topic}/${qos}`, qos }, `q${qos}-${i}`);
    }
  }
  const expected = 3 * perQoS;
  let messages = 0;
  const qosIn: Record<string, number> = {};
  await pollUntil(client, (e) => {
    if (e.type === "message") {
      const text = decoder.decode(e.payload);
      received[text] = (received[text] ?? 0) + 1;
      qosIn[text] = e.qos;
      messages++;
    } else if (e.type === "acknowledged" || e.type === "completed") finished++;
    return messages >= expected && finished === 2 * perQoS;
  });
  return { received, qosIn, finished };
}

/** Connects with `open`'s transport and runs a round trip over it. */
async function basic(name: string, open: () => Promise<Transport>) {
  const client = new Client();
  await client.connect(await open(), { clientId: `${base}-${name}`, ...login });
  try {
    return await roundTrip(client, `${base}/${name}`, 5);
  } finally {
    await client.disconnect();
  }
}

/**
 * A publisher behind the proxy, which cuts its first connection after some hundred bytes, sends
 * 30 messages at QoS 1 and 2; on the cut it connects the same client again with its session and
 * resends. A subscriber connected directly counts every delivery.
 */
async function recovery() {
  const topic = `${base}/recovery`;
  const proxyUrl = `mqtt://127.0.0.1:${config.proxyPort}`;
  const { client: sub } = await connect(tcpUrl, { clientId: `${base}-rec-sub`, ...login });
  await sub.subscribe({ filter: `${topic}/#`, qos: 2 });
  await pollUntil(sub, (e) => e.type === "subscribed");
  const received: Record<string, number> = {};
  let distinct = 0;
  let lastAt = Date.now();
  let stopping = false;
  const subLoop = (async () => {
    for (;;) {
      const event = await sub.poll();
      if (event.type !== "message") continue;
      const text = decoder.decode(event.payload);
      if (received[text] === undefined) distinct++;
      received[text] = (received[text] ?? 0) + 1;
      lastAt = Date.now();
    }
  })().catch((e) => {
    if (!stopping) throw e;
  });

  const total = 30;
  const options: ConnectUrlOptions = {
    clientId: `${base}-rec-pub`,
    sessionExpiryInterval: 300,
    ...login,
  };
  const { client: pub } = await connect(proxyUrl, options);
  let next = 0;
  let finished = 0;
  const cuts: { error: string; sessionResumable: boolean; sessionPresent?: boolean }[] = [];
  const deadline = Date.now() + 15_000;
  while (finished < total) {
    if (Date.now() > deadline) throw new Error(`only ${finished} of ${total} flights finished`);
    try {
      if (pub.heldBack.length > 0 && pub.sendQuota > 0) await pub.resend();
      while (next < total && pub.heldBack.length === 0 && pub.sendQuota > 0) {
        const qos: QoS = next % 2 === 0 ? 1 : 2;
        pub.publish({ topic: `${topic}/${qos}`, qos }, `m${next}-q${qos}`).catch(() => {});
        next++;
      }
      const event = await pub.poll({ signal: AbortSignal.timeout(WAIT_MS) });
      if (event.type === "acknowledged" || event.type === "completed") finished++;
      else if (event.type === "rejected") throw new Error(`flight ${event.packetId} refused`);
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) throw e;
      const cut: (typeof cuts)[number] = {
        error: describe(e),
        sessionResumable: e.sessionResumable,
      };
      cuts.push(cut);
      if (cuts.length > 3) throw new Error(`cut ${cuts.length} times: ${cut.error}`);
      const result = await pub.connect(await openTransport(proxyUrl), {
        ...options,
        cleanStart: false,
      });
      cut.sessionPresent = result.sessionPresent;
      if (result.sessionPresent) await pub.resend();
    }
  }
  // Every message in, then a quiet spell for duplicates.
  const waitUntil = Date.now() + WAIT_MS;
  while ((distinct < total || Date.now() - lastAt < 300) && Date.now() < waitUntil) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stopping = true;
  await pub.disconnect();
  await sub.disconnect();
  await subLoop;
  return { received, cuts, published: next };
}

/** The TLS checks: a client certificate accepted, and refused setups reported as TlsError. */
async function tlsChecks(pem: (path: string) => string) {
  const [ca, cert, key] = [pem(config.ca), pem(config.cert), pem(config.key)];
  const url = `mqtts://localhost:${config.tlsPort}`;
  const out: Record<string, unknown> = {};
  {
    const { client } = await connect(url, { clientId: `${base}-tls`, tls: { ca, cert, key } });
    try {
      out.url = await roundTrip(client, `${base}/tls-url`, 2);
    } finally {
      await client.disconnect();
    }
  }
  out.node = await basic(
    "tls-node",
    () => connectNode({ hostname: "localhost", port: config.tlsPort, tls: { ca, cert, key } }),
  );
  /** How a refused setup failed: the TlsError's failure, wherever it surfaced. */
  const failure = async (options: ConnectUrlOptions, port = config.tlsPort) => {
    try {
      const { client } = await connect(`mqtts://localhost:${port}`, {
        clientId: `${base}-tls-bad`,
        ...options,
      });
      await client.disconnect();
      return "connected";
    } catch (e) {
      const tls = e instanceof TlsError ? e : e instanceof MqttError ? e.cause : undefined;
      return tls instanceof TlsError ? tls.failure : `not a TlsError: ${describe(e)}`;
    }
  };
  out.withoutClientCertificate = await failure({ tls: { ca } });
  out.untrustedServer = await failure({ tls: { cert, key } });
  out.otherClientCa = await failure({
    tls: { ca, cert: pem(config.otherCert), key: pem(config.otherKey) },
  });
  out.expiredServer = await failure({ tls: { ca, cert, key } }, config.expiredPort);
  out.wrongName = await failure({ tls: { ca, cert, key } }, config.wrongNamePort);
  return out;
}

async function webSocket() {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== "function") {
    return { skipped: "no global WebSocket" };
  }
  // No path: connect() asks for /mqtt (Mosquitto takes any path).
  const { client } = await connect(`ws://127.0.0.1:${config.wsPort}`, {
    clientId: `${base}-ws`,
    ...login,
  });
  try {
    return await roundTrip(client, `${base}/ws`, 3);
  } finally {
    await client.disconnect();
  }
}

/**
 * QoS 1 throughput as the end-to-end benchmark measures it: a subscriber and a publisher in this
 * process, the publisher keeping the server's Receive Maximum in flight; messages per second from
 * the first PUBLISH until every message is in and every PUBACK back.
 */
async function throughput(open: () => Promise<Transport>, n: number): Promise<number> {
  const id = `${base}-bench-${Math.random().toString(36).slice(2, 8)}`;
  const topic = `${base}/bench/${id}`;
  const sub = new Client();
  await sub.connect(await open(), { clientId: `${id}-sub`, ...login, keepAlive: 0 });
  await sub.subscribe({ filter: topic, qos: 1 });
  await pollUntil(sub, (e) => e.type === "subscribed");
  const pub = new Client();
  await pub.connect(await open(), { clientId: `${id}-pub`, ...login, keepAlive: 0 });
  const payload = new Uint8Array(64).fill(0x61);
  const run = async (count: number) => {
    let received = 0;
    const receiving = (async () => {
      while (received < count) if ((await sub.poll()).type === "message") received++;
    })();
    let sent = 0;
    let acked = 0;
    while (acked < count) {
      while (sent < count && pub.sendQuota > 0) {
        pub.publish({ topic, qos: 1 }, payload);
        sent++;
      }
      const event = await pub.poll();
      if (event.type === "acknowledged") acked++;
    }
    await receiving;
  };
  await run(Math.min(1_000, n)); // Warm-up.
  const t0 = performance.now();
  await run(n);
  const ms = performance.now() - t0;
  await pub.disconnect();
  await sub.disconnect();
  return Math.round(n / (ms / 1000));
}

async function check(
  report: Report,
  name: string,
  fn: () => Promise<Record<string, unknown>>,
): Promise<void> {
  if (config.only !== undefined && !config.only.includes(name)) return;
  try {
    report.checks[name] = { ok: true, ...await fn() };
  } catch (e) {
    report.checks[name] = { ok: false, error: describe(e) };
  }
}

const report: Report = { runtime, version, checks: {}, throughput: {} };
const node = (direct: boolean) => () => connectNode({ port: config.port, direct });
await check(report, "url", () => basic("url", () => openTransport(tcpUrl)));
await check(report, "node", () => basic("node", node(false)));
await check(report, "nodeDirect", () => basic("node-direct", node(true)));
await check(report, "recovery", recovery);
await check(report, "tls", () => tlsChecks((path) => readFileSync(path, "utf8")));
await check(report, "webSocket", webSocket);
await check(report, "throughput", async () => {
  const n = config.benchMessages;
  if (n === 0) return {};
  report.throughput.node = await throughput(node(false), n);
  report.throughput.nodeDirect = await throughput(node(true), n);
  if (runtime === "deno") {
    report.throughput.tcp = await throughput(() => connectTcp({ port: config.port }), n);
    report.throughput.tcpDirect = await throughput(
      () => connectTcp({ port: config.port, direct: true }),
      n,
    );
  }
  return {};
});
console.log(JSON.stringify(report));

// Everything is closed now, so the process should end by itself; if it has not within 2 s,
// something of mqtt5 keeps the event loop alive (a socket, a timer). The timer itself does not.
const lingering = setTimeout(() => {
  console.error("The script still runs 2 s after its report: something keeps it alive");
  process.exit(3);
}, 2_000);
if (typeof lingering === "number") {
  (globalThis as unknown as { Deno: { unrefTimer(id: number): void } }).Deno.unrefTimer(lingering);
} else {
  lingering.unref();
}
