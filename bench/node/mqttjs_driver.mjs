// The end-to-end benchmark's workloads for MQTT.js, shared by its Node worker (`mqttjs.mjs`, the
// baseline) and its Deno worker (`../e2e/mqttjs_deno.ts`): one publisher and one subscriber
// connection, one workload, the same window as the other clients (see `../e2e/_common.ts`).
//
// MQTT.js does not honour the server's Receive Maximum: it sends every publication it is given.
// The window here is the application's (as for the other clients), not the server's, and a
// publication the server refuses with 0x97 (Quota exceeded) is counted and published again, so
// that every message arrives.

/**
 * Runs the workload `cfg` with the `mqtt` module given; `probe` reads the process's CPU seconds
 * (`cpu()`), another process's (`cpuOf(pid)`), its minor page faults (`faults()`) and
 * `/proc/self/status` fields (`memory(name)`).
 *
 * @param {any} mqtt
 * @param {import("../e2e/_common.ts").WorkerConfig} cfg
 * @param {{ cpu(): number; cpuOf(pid: number): number; faults(): number; memory(name: string): number }} probe
 * @returns {Promise<import("../e2e/_common.ts").WorkerResult>}
 */
export async function run(mqtt, cfg, probe) {
  const qos = cfg.qos;
  const payload = new Uint8Array(cfg.size);
  for (let i = 0; i < cfg.size; i++) payload[i] = (i * 31 + 7) & 0xff;
  const message = globalThis.Buffer ? globalThis.Buffer.from(payload.buffer, 0, cfg.size) : payload;
  const base = {
    protocolVersion: 5,
    username: cfg.username,
    password: cfg.password,
    clean: true,
    keepalive: 0,
    reconnectPeriod: 0,
  };
  const url = `mqtt://127.0.0.1:${cfg.port}`;
  const sub = await mqtt.connectAsync(url, { ...base, clientId: `${cfg.clientId}-sub` });
  await sub.subscribeAsync(cfg.topic, { qos });
  const pub = await mqtt.connectAsync(url, { ...base, clientId: `${cfg.clientId}-pub` });
  const receiveMaximum = pub.connackPacket?.properties?.receiveMaximum ?? 65535;
  const fail = (error) => {
    console.error(error);
    process.exit(1);
  };
  pub.on("error", fail);
  sub.on("error", fail);

  let expected = 0;
  let received = 0;
  let payloadBytes = 0;
  let lastAt = 0;
  let onAll = () => {};
  sub.on("message", (_topic, bytes) => {
    received++;
    payloadBytes += bytes.length;
    if (received === expected) {
      lastAt = performance.now();
      onAll();
    }
  });
  const allReceived = () => new Promise((resolve) => onAll = resolve);

  let refused = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  /** Publishes `n` messages as fast as the window allows and waits until all are received. */
  function throughput(n) {
    expected += n;
    const done = allReceived();
    const t0 = performance.now();
    return new Promise((resolve) => {
      if (qos === 0) {
        let i = 0;
        const next = () => {
          // A window's publications in one turn; the last one's callback says the stream took it.
          const end = Math.min(n, i + cfg.window);
          for (; i < end - 1; i++) pub.publish(cfg.topic, message, { qos: 0 });
          i++;
          pub.publish(cfg.topic, message, { qos: 0 }, (err) => {
            if (err) fail(err);
            if (i < n) next();
            else done.then(() => resolve(lastAt - t0));
          });
        };
        next();
        return;
      }
      let sent = 0;
      let acked = 0;
      const send = () => {
        pub.publish(cfg.topic, message, { qos }, (err) => {
          if (err) {
            if (err.code !== 0x97) fail(err);
            refused++;
            send();
            return;
          }
          inFlight--;
          acked++;
          if (acked === n) done.then(() => resolve(lastAt - t0));
          else fill();
        });
      };
      const fill = () => {
        while (inFlight < cfg.window && sent < n) {
          inFlight++;
          sent++;
          send();
        }
        if (inFlight > maxInFlight) maxInFlight = inFlight;
      };
      fill();
    });
  }

  /** Sends `n` messages one at a time; returns each one's time from publish to receipt (ms). */
  async function latency(n) {
    const times = [];
    for (let i = 0; i < n; i++) {
      expected++;
      const done = allReceived();
      const t0 = performance.now();
      const sent = new Promise((resolve) =>
        pub.publish(cfg.topic, message, { qos }, (err) => err ? fail(err) : resolve())
      );
      await done;
      times.push(lastAt - t0);
      await sent;
    }
    maxInFlight = qos > 0 ? 1 : 0;
    return times;
  }

  const rssStart = probe.memory("VmRSS");
  let result;
  if (cfg.kind === "throughput") {
    if (cfg.warmup > 0) await throughput(cfg.warmup);
    const bytesBefore = payloadBytes;
    const refusedBefore = refused;
    maxInFlight = 0;
    const cpu0 = probe.cpu();
    const faults0 = probe.faults();
    const broker0 = cfg.brokerPid > 0 ? probe.cpuOf(cfg.brokerPid) : 0;
    const ms = await throughput(cfg.count);
    result = {
      messages: cfg.count,
      seconds: ms / 1000,
      cpu: probe.cpu() - cpu0,
      faults: probe.faults() - faults0,
      brokerCpu: cfg.brokerPid > 0 ? probe.cpuOf(cfg.brokerPid) - broker0 : 0,
      payloadBytes: payloadBytes - bytesBefore,
      rssStart,
      peakRss: probe.memory("VmHWM"),
      refused: refused - refusedBefore,
      maxInFlight,
      receiveMaximum,
    };
  } else {
    if (cfg.warmup > 0) await latency(cfg.warmup);
    const cpu0 = probe.cpu();
    const faults0 = probe.faults();
    const broker0 = cfg.brokerPid > 0 ? probe.cpuOf(cfg.brokerPid) : 0;
    const t0 = performance.now();
    const times = await latency(cfg.count);
    const ms = performance.now() - t0;
    const sorted = times.sort((a, b) => a - b);
    const pct = (p) =>
      sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p / 100 * sorted.length))) - 1];
    result = {
      messages: cfg.count,
      seconds: ms / 1000,
      cpu: probe.cpu() - cpu0,
      faults: probe.faults() - faults0,
      brokerCpu: cfg.brokerPid > 0 ? probe.cpuOf(cfg.brokerPid) - broker0 : 0,
      payloadBytes: cfg.count * cfg.size,
      rssStart,
      peakRss: probe.memory("VmHWM"),
      latency: { p50: pct(50) * 1000, p99: pct(99) * 1000 },
      refused,
      maxInFlight,
      receiveMaximum,
    };
  }
  if (received !== expected) fail(new Error(`received ${received} of ${expected}`));
  await pub.endAsync();
  await sub.endAsync();
  return result;
}

/**
 * User + system CPU seconds of a process from the text of its `/proc/<pid>/stat`.
 *
 * @param {string} stat
 * @returns {number}
 */
export function cpuFromStat(stat) {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Minor page faults of a process from the text of its `/proc/<pid>/stat`.
 *
 * @param {string} stat
 * @returns {number}
 */
export function faultsFromStat(stat) {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/**
 * A field of `/proc/self/status` in bytes.
 *
 * @param {string} status
 * @param {string} name
 * @returns {number}
 */
export function memoryFromStatus(status, name) {
  const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
  return match ? Number(match[1]) * 1024 : 0;
}
