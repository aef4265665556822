// Crash tests with real process kills (issue 14): a publisher, then a subscriber, each a Deno
// process with a FileSessionStore, killed with SIGKILL at random moments and restarted from its
// store each time, against one Mosquitto that runs throughout.
//
// - Publisher killed (`_crash_publisher.ts`, the explicit Client): it publishes the numbers 0, 1,
//   2, ... An observer in this process, subscribed at QoS 2 with a persistent session, counts
//   what arrives. QoS 2: nothing lost, nothing twice. QoS 1: nothing lost (duplicates counted).
//   "Lost" concerns the numbers whose publish() had returned; the program's header says why a
//   number whose call had not returned is not owed (it was then not written either).
// - Subscriber killed (`_crash_subscriber.ts`, the run loop with manual ack): this process
//   publishes numbered messages; the subscriber appends each number to a file and syncs it before
//   acknowledging, and skips on restart what the file holds. The file must hold each number
//   exactly once, at QoS 2 and at QoS 1.
//
// Each kill comes at a random moment (seeded: the seed is printed, `-- --seed=n` replays it):
// four in five after the program said it was connected (0 to 100 ms later), one in five at a
// random moment of its start (0 to 150 ms after the spawn: loading the store, connecting,
// resending). Sizes: `--crash-kills` kills per QoS level and side (the CI default, or the long
// one with `-- --long`).
//
// It runs `deno`, which the `broker` permission set does not allow; with the permission missing
// it shows as ignored, with the command that runs it.

import assert from "node:assert/strict";
import { Client, connectTcp } from "../../mod.ts";
import { supervise } from "../../src/supervisor/mod.ts";
import { brokerAvailable, type Mosquitto, startMosquitto } from "../_util/mosquitto.ts";
import { type Proxy, startProxy } from "../_util/proxy.ts";
import { param, prng, report, seed } from "../reliability/_params.ts";
import type { PublisherConfig } from "./_crash_publisher.ts";
import type { SubscriberConfig } from "./_crash_subscriber.ts";

/** Kills per QoS level and per side (publisher, subscriber). */
const KILLS = param("crash-kills", 200, 500);
/** How long the last run of a program may take to finish what the killed ones left. */
const FINISH_MS = 60_000;

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/** How to start Deno: by name when `--allow-run=deno` allows it, else by its path. */
const DENO = granted({ name: "run", command: "deno" })
  ? "deno"
  : granted({ name: "run", command: Deno.execPath() })
  ? Deno.execPath()
  : undefined;
const crashIgnoreReason = !brokerAvailable
  ? "it needs the broker permissions: run it with -P"
  : DENO === undefined
  ? "it runs `deno`, which the broker permission set does not allow: run it with " +
    "`deno test -P=runtimes tests/store/crash_test.ts`"
  : "";
if (crashIgnoreReason !== "") console.warn(`Ignoring the crash tests: ${crashIgnoreReason}`);

const PUBLISHER = new URL("./_crash_publisher.ts", import.meta.url).pathname;
const SUBSCRIBER = new URL("./_crash_subscriber.ts", import.meta.url).pathname;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A program of this test running as a process: its output lines as they come. */
class Life {
  readonly lines: string[] = [];
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  #stderr = "";
  #waiters: { prefix: string; resolve: (seen: boolean) => void }[] = [];
  #output: Promise<void>;
  #exited = false;

  constructor(program: string, dir: string, config: unknown) {
    this.child = new Deno.Command(DENO!, {
      args: [
        "run",
        "--no-config",
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        program,
        JSON.stringify(config),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = this.child.status.then((s) => (this.#exited = true, s));
    this.#output = Promise.all([this.#readLines(), this.#readStderr()]).then(() => {});
  }

  async #readLines(): Promise<void> {
    let rest = "";
    for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!line.startsWith(w.prefix)) return true;
          w.resolve(true);
          return false;
        });
      }
    }
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters = [];
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.child.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderr += chunk;
    }
  }

  /** Resolves `true` once a line starting with `prefix` came, `false` if the output ended. */
  line(prefix: string): Promise<boolean> {
    if (this.lines.some((l) => l.startsWith(prefix))) return Promise.resolve(true);
    return new Promise((resolve) => this.#waiters.push({ prefix, resolve }));
  }

  /** Kills the process with SIGKILL; fails if it had ended by itself. */
  async kill(): Promise<void> {
    if (!this.#exited) this.child.kill("SIGKILL");
    const status = await this.status;
    await this.#output;
    assert.equal(
      status.signal,
      "SIGKILL",
      `the program ended by itself (code ${status.code}) before the kill:\n${this.#stderr}`,
    );
  }

  /** Waits for the process to end by itself with code 0 (killing it after `ms`). */
  async finish(ms: number): Promise<void> {
    const timer = setTimeout(() => {
      if (!this.#exited) this.child.kill("SIGKILL");
    }, ms);
    const status = await this.status;
    clearTimeout(timer);
    await this.#output;
    assert.equal(status.code, 0, `the last run failed or took over ${ms} ms:\n${this.#stderr}`);
  }
}

/**
 * Runs `kills` lives of a program, each killed at a random moment: four in five 0 to 100 ms after
 * its `readyLine`, one in five 0 to 150 ms after its spawn. With a `proxy` (between the program
 * and the broker), half the kills come as a machine's crash would: the proxy holds what the
 * program writes for 0 to 30 ms before the kill, then drops it with the connection, so the last
 * packets the program wrote never reach the broker. Returns how many of each.
 */
async function killRepeatedly(
  kills: number,
  random: () => number,
  start: () => Life,
  readyLine: string,
  each: (life: Life) => void,
  proxy?: Proxy,
): Promise<{ kills: number; killsDuringStart: number; killsLosingWrites?: number }> {
  let killsDuringStart = 0;
  let killsLosingWrites = 0;
  for (let i = 0; i < kills; i++) {
    const life = start();
    if (random() < 0.2) {
      await delay(random() * 150);
      if (!life.lines.some((l) => l.startsWith(readyLine))) killsDuringStart++;
    } else {
      await life.line(readyLine);
      await delay(random() * 100);
    }
    const losing = proxy !== undefined && random() < 0.5;
    if (losing) {
      killsLosingWrites++;
      proxy.pause();
      await delay(random() * 30);
    }
    await life.kill();
    if (losing) {
      proxy.cutNow();
      proxy.resume();
    }
    each(life);
  }
  return proxy === undefined ? { kills, killsDuringStart } : {
    kills,
    killsDuringStart,
    killsLosingWrites,
  };
}

/** An explicit client subscribed at QoS 2 with a persistent session, counting payloads. */
async function observe(broker: Mosquitto, topic: string, clientId: string) {
  const client = new Client();
  await client.connect(await connectTcp({ port: broker.port }), {
    clientId,
    cleanStart: true,
    sessionExpiryInterval: 600,
    username: broker.username,
    password: broker.password,
  });
  await client.subscribe({ filter: topic, qos: 2 });
  const counts = new Map<string, number>();
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => subscribed = resolve);
  let ended!: () => void;
  const end = new Promise<void>((resolve) => ended = resolve);
  const reading = (async () => {
    for (;;) {
      const event = await client.poll();
      if (event.type === "subscribed") subscribed();
      if (event.type !== "message") continue;
      const text = new TextDecoder().decode(event.payload);
      counts.set(text, (counts.get(text) ?? 0) + 1);
      if (text === "end") ended();
    }
  })();
  await ready;
  return {
    counts,
    end,
    async [Symbol.asyncDispose]() {
      await client.disconnect().catch(() => {});
      await reading.catch(() => {});
    },
  };
}

Deno.test({
  name: "FileSessionStore keeps QoS 1 and 2 across SIGKILLs of the publisher and the subscriber",
  ignore: crashIgnoreReason !== "",
  async fn(t) {
    console.log(`crash test: seed ${seed}, ${KILLS} kills per QoS level and side`);
    await using broker = await startMosquitto();

    for (const qos of [2, 1] as const) {
      await t.step(
        `a publisher killed ${KILLS} times at QoS ${qos} loses no message whose publish() returned${
          qos === 2 ? " and sends none twice" : ""
        }`,
        async () => {
          const started = performance.now();
          const dir = `${broker.dir}/publisher-${qos}`;
          await Deno.mkdir(dir);
          const topic = `crash/publisher/${qos}`;
          await using observer = await observe(broker, topic, `crash-observer-${qos}`);
          await using proxy = await startProxy({
            target: { hostname: broker.hostname, port: broker.port },
          });
          const config: PublisherConfig = {
            port: proxy.port,
            username: broker.username,
            password: broker.password,
            dir,
            topic,
            qos,
            until: null,
          };
          // The numbers each life confirmed (every publish() below `ok`'s end had returned).
          const confirmed = new Set<number>();
          let resent = 0;
          const confirm = (life: Life) => {
            for (const line of life.lines) {
              if (line.startsWith("connected ")) resent += Number(line.slice(10));
              const m = /^ok (\d+) (\d+)$/.exec(line);
              if (m) { for (let n = Number(m[1]); n < Number(m[2]); n++) confirmed.add(n); }
            }
          };
          const kills = await killRepeatedly(
            KILLS,
            prng(seed + qos),
            () => new Life(PUBLISHER, dir, config),
            "connected",
            confirm,
            proxy,
          );
          // The last life completes what the killed ones left, and 50 more, then says "end".
          const until = Number(await Deno.readTextFile(`${dir}/next`)) + 50;
          const last = new Life(PUBLISHER, dir, { ...config, until });
          await last.finish(FINISH_MS);
          confirm(last);
          await Promise.race([
            observer.end,
            delay(FINISH_MS).then(() => assert.fail("the observer never got the last message")),
          ]);

          const lost: number[] = [];
          let duplicates = 0;
          let unconfirmedDelivered = 0;
          let unconfirmedNotSent = 0;
          for (let n = 0; n < until; n++) {
            const count = observer.counts.get(String(n)) ?? 0;
            if (count > 1) duplicates += count - 1;
            if (confirmed.has(n)) {
              if (count === 0) lost.push(n);
            } else if (count > 0) unconfirmedDelivered++;
            else unconfirmedNotSent++;
          }
          const strays = [...observer.counts.keys()].filter((k) =>
            k !== "end" && !(Number(k) >= 0 && Number(k) < until)
          );
          report(`store.crash.publisher.qos${qos}`, {
            seed,
            ...kills,
            messages: until,
            confirmed: confirmed.size,
            resentAfterKills: resent,
            received: observer.counts.size - 1,
            lost: lost.length,
            duplicates,
            unconfirmedDelivered,
            unconfirmedNotSent,
            seconds: Math.round((performance.now() - started) / 100) / 10,
          });
          assert.deepEqual(strays, [], "the observer got messages nobody published");
          assert.deepEqual(lost, [], "numbers whose publish() returned never arrived");
          if (qos === 2) assert.equal(duplicates, 0, "QoS 2 numbers arrived twice");
        },
      );
    }

    for (const qos of [2, 1] as const) {
      await t.step(
        `a subscriber killed ${KILLS} times at QoS ${qos}, appending then acknowledging, processes each message once`,
        async () => {
          const started = performance.now();
          const dir = `${broker.dir}/subscriber-${qos}`;
          await Deno.mkdir(dir);
          const topic = `crash/subscriber/${qos}`;
          const config: SubscriberConfig = {
            url: `mqtt://${broker.username}:${broker.password}@127.0.0.1:${broker.port}`,
            dir,
            topic,
            qos,
            total: null,
          };
          // The first life subscribes (the broker keeps the subscription in the session from
          // then on); it is killed like the others once it has.
          const first = new Life(SUBSCRIBER, dir, config);
          assert.ok(await first.line("ready"), "the subscriber did not start");

          // Publish the numbers at a steady pace while the subscriber is killed, so that each life
          // has messages to take: 125 a second, held back while 200 wait unprocessed (the QoS 2
          // subscriber, a sync of its file and two store saves a message, is slower than that on
          // a loaded 2-core machine). Each publish() resolves when its flow completed.
          await using publisher = supervise({
            url: config.url,
            clientId: `crash-feeder-${qos}`,
          });
          let published = 0;
          let feeding = true;
          const feeder = (async () => {
            while (feeding) {
              const out = await Deno.readTextFile(`${dir}/out`).catch(() => "");
              const processed = out.split("\n").length - 1;
              if (published - processed > 200) {
                await delay(40);
                continue;
              }
              const batch: Promise<unknown>[] = [];
              for (let i = 0; i < 5; i++) {
                batch.push(publisher.publish(topic, String(published++), { qos }));
              }
              await Promise.all([...batch, delay(40)]);
            }
          })();
          // Messages a killed life had appended but not acknowledged: the broker sent them again.
          let skipped = 0;
          const skip = (life: Life) => {
            skipped += life.lines.filter((l) => l.startsWith("skip ")).length;
          };
          let kills;
          try {
            await first.kill();
            skip(first);
            kills = await killRepeatedly(
              KILLS - 1,
              prng(seed + 10 + qos),
              () => new Life(SUBSCRIBER, dir, config),
              "ready",
              skip,
            );
          } finally {
            // Also when a kill failed: no publication left waiting when the publisher stops.
            feeding = false;
            await feeder;
          }
          const lastStarted = performance.now();
          const last = new Life(SUBSCRIBER, dir, { ...config, total: published });
          await last.finish(FINISH_MS);
          const lastRunSeconds = Math.round((performance.now() - lastStarted) / 100) / 10;
          skip(last);

          const lines = (await Deno.readTextFile(`${dir}/out`)).split("\n");
          assert.equal(lines.pop(), "", "the output ends with a complete line");
          const counts = new Map<string, number>();
          for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
          const missing: number[] = [];
          let twice = 0;
          for (let n = 0; n < published; n++) {
            const count = counts.get(String(n)) ?? 0;
            if (count === 0) missing.push(n);
            if (count > 1) twice += count - 1;
          }
          report(`store.crash.subscriber.qos${qos}`, {
            seed,
            kills: kills.kills + 1,
            killsDuringStart: kills.killsDuringStart,
            messages: published,
            processed: counts.size,
            sentAgainAfterProcessing: skipped,
            lost: missing.length,
            processedTwice: twice,
            lastRunSeconds,
            seconds: Math.round((performance.now() - started) / 100) / 10,
          });
          assert.deepEqual(missing, [], "messages never processed");
          assert.equal(twice, 0, "messages processed twice");
          assert.equal(counts.size, published, "lines that are no published number");
        },
      );
    }
  },
});
