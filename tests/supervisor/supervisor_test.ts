// The supervisor's behaviours against a real Mosquitto: the bounded queue, many requests at once,
// manual acks across cuts, a server that lost the session, Message Expiry while queued, a
// publication the server refuses, stopping, giving up, and MQTT 3.1.1. What is asserted is what a
// peer saw: an observer (an explicit client connected straight to the broker) for publications,
// the broker's log for DISCONNECT, the supervised subscriber's iterators for messages.
//
// One broker for the module, with an ACL that denies writing to `denied/#`; each step uses its
// own topics and client ids. Redirection, which no broker does on request, is in redirect_test.ts.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { ConnectionRefusedError, ProtocolVersionError } from "../../mod.ts";
import {
  type Message,
  supervise,
  type Supervisor,
  type SupervisorStatus,
  SupervisorStoppedError,
  UndeliveredError,
} from "../../src/supervisor/mod.ts";
import { brokerAvailable, type Mosquitto, startMosquitto } from "../_util/mosquitto.ts";
import { startProxy } from "../_util/proxy.ts";
import { delay, Gate, Observer, rejection, track } from "./_helpers.ts";

const BROKER_ROOT = new URL("../../.broker/", import.meta.url);

/** The fast reconnect policy of these tests: tens of milliseconds, not seconds. */
const FAST = { initialDelay: 10, maxDelay: 50 } as const;

function url(broker: Mosquitto, port = broker.port): string {
  return `mqtt://${broker.username}:${broker.password}@127.0.0.1:${port}`;
}

function login(broker: Mosquitto) {
  return { username: broker.username, password: broker.password };
}

/** Collects `n` messages from an iterator (fails after `ms`). */
async function take(
  iterable: AsyncIterable<Message>,
  n: number,
  ms = 10_000,
): Promise<Message[]> {
  const got: Message[] = [];
  if (n === 0) return got;
  const timeout = delay(ms).then(() => "timeout" as const);
  const iterator = iterable[Symbol.asyncIterator]();
  while (got.length < n) {
    const next = await Promise.race([iterator.next(), timeout]);
    if (next === "timeout") throw new Error(`Only ${got.length} of ${n} messages within ${ms} ms`);
    if (next.done) break;
    got.push(next.value);
  }
  return got;
}

/** Waits until `check()` holds (polling every 5 ms), or fails after `ms`. */
async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await delay(5);
  }
}

Deno.test({
  name: "Supervisor",
  ignore: !brokerAvailable,
  async fn(t) {
    await Deno.mkdir(BROKER_ROOT, { recursive: true });
    const acl = await Deno.makeTempFile({ dir: BROKER_ROOT.pathname, prefix: "acl-" });
    await Deno.writeTextFile(acl, "user mqtt5\ntopic deny denied/#\ntopic readwrite #\n");
    await using _cleanup = {
      [Symbol.asyncDispose]: () => Deno.remove(acl),
    };
    await using broker = await startMosquitto({ config: [`acl_file ${acl}`] });
    const address = { hostname: broker.hostname, port: broker.port };

    await t.step("Supervisor.publish() waits while the queue is full", async () => {
      await using observer = await Observer.open(broker, "full/#");
      const gate = new Gate(address);
      await using mqtt = supervise({
        transport: gate.transport,
        ...login(broker),
        clientId: "full",
        queue: { maxMessages: 5 },
        reconnect: FAST,
      });
      const first = [1, 2, 3, 4, 5].map((i) => track(mqtt.publish("full/m", `m${i}`, { qos: 1 })));
      await delay(50);
      equal(mqtt.queued, 5);
      ok(first.every((p) => !p.settled), "nothing is delivered while offline");
      // The 6th waits for room: it is not queued, and its signal ends the wait.
      const abort = new AbortController();
      const sixth = track(mqtt.publish("full/m", "m6", { qos: 1, signal: abort.signal }));
      const seventh = track(mqtt.publish("full/m", "m7", { qos: 1 }));
      await delay(100);
      ok(!sixth.settled && !seventh.settled, "the 6th and 7th wait");
      equal(mqtt.queued, 5, "nothing is queued beyond 5");
      abort.abort(new Error("gave up waiting"));
      equal((await rejection(sixth.promise) as Error).message, "gave up waiting");
      await delay(20);
      ok(!seventh.settled, "the 7th still waits: there is still no room");
      equal(mqtt.queued, 5);
      ok(gate.attempts > 1, "it kept trying to connect meanwhile");
      gate.online = true;
      const deliveries = await Promise.all([...first, seventh].map((p) => p.promise));
      ok(deliveries.every((d) => d.reasonCode === 0 && d.packetId !== undefined));
      await observer.collect(6);
      await observer.settle();
      deepStrictEqual(observer.texts(), ["m1", "m2", "m3", "m4", "m5", "m7"]);
    });

    await t.step(
      "Supervisor.publish() waits while the queued bytes would pass maxBytes",
      async () => {
        await using observer = await Observer.open(broker, "bytes/#");
        const gate = new Gate(address);
        await using mqtt = supervise({
          transport: gate.transport,
          ...login(broker),
          clientId: "bytes",
          // Topic and payload bytes: "bytes/m" (7) + 40 = 47 each, so two fit and the third waits.
          queue: { maxBytes: 100 },
          reconnect: FAST,
        });
        const payload = (c: string) => c.repeat(40);
        const a = track(mqtt.publish("bytes/m", payload("a"), { qos: 1 }));
        const b = track(mqtt.publish("bytes/m", payload("b"), { qos: 1 }));
        const abort = new AbortController();
        const c = track(mqtt.publish("bytes/m", payload("c"), { qos: 1, signal: abort.signal }));
        const d = track(mqtt.publish("bytes/m", payload("d"), { qos: 1 }));
        await delay(50);
        equal(mqtt.queued, 2);
        ok(!a.settled && !b.settled && !c.settled && !d.settled);
        abort.abort();
        equal((await rejection(c.promise) as Error).name, "AbortError");
        await delay(20);
        ok(!d.settled, "the 4th waits: 47 bytes more would pass 100");
        equal(mqtt.queued, 2);
        gate.online = true;
        await Promise.all([a.promise, b.promise, d.promise]);
        await observer.collect(3);
        await observer.settle();
        deepStrictEqual(observer.texts(), [payload("a"), payload("b"), payload("d")]);
      },
    );

    await t.step(
      "Supervisor.request() keeps 60 requests apart, some timing out, late responses dropped",
      async () => {
        await using server = supervise({
          url: url(broker),
          clientId: "rpc-server",
          reconnect: FAST,
        });
        await using mqtt = supervise({ url: url(broker), clientId: "rpc-client", reconnect: FAST });
        // The service answers most at once; every 20th only once its request timed out (late),
        // and every 10th + 5 never (its handler throws).
        const timesOut = (n: number) => n % 20 === 0 || n % 10 === 5;
        const gaveUp = new Map<number, Promise<unknown>>();
        let lateStarted = 0;
        let lateAnswered = 0;
        await server.respond("rpc/echo", async (request) => {
          const n = Number(request.text());
          if (n % 10 === 5) throw new Error("no answer for this one");
          if (n % 20 === 0) {
            lateStarted++;
            await gaveUp.get(n);
            lateAnswered++;
          }
          return { payload: `re:${n}`, properties: { userProperties: [["n", String(n)]] } };
        });
        const count = 60;
        const calls = Array.from({ length: count }, (_, n) => {
          const call = mqtt.request("rpc/echo", String(n), {
            signal: AbortSignal.timeout(timesOut(n) ? 300 : 20_000),
          });
          gaveUp.set(n, call.catch(() => {}));
          return call;
        });
        const results = await Promise.allSettled(calls);
        for (const [n, result] of results.entries()) {
          if (timesOut(n)) {
            equal(result.status, "rejected", `request ${n}`);
            const reason = (result as PromiseRejectedResult).reason;
            equal(reason?.name, "TimeoutError", `request ${n}: ${reason}`);
          } else {
            equal(result.status, "fulfilled", `request ${n}`);
            const reply = (result as PromiseFulfilledResult<Message>).value;
            equal(reply.text(), `re:${n}`);
            deepStrictEqual(reply.properties.userProperties, [["n", String(n)]]);
          }
        }
        // The late answers come after their requests gave up: dropped, and the next request works.
        await until(
          () => lateStarted > 0 && lateAnswered === lateStarted,
          "late answers were sent",
        );
        await delay(50);
        equal((await mqtt.request("rpc/echo", "7")).text(), "re:7");
        equal(mqtt.status.type, "connected");
      },
    );

    await t.step("Supervisor.request() matches responses that come in another order", async () => {
      await using server = supervise({ url: url(broker), clientId: "rev-server", reconnect: FAST });
      await using mqtt = supervise({ url: url(broker), clientId: "rev-client", reconnect: FAST });
      const requests = await server.subscribe("rpc/reverse", { qos: 1 });
      const count = 12;
      const calls = Array.from(
        { length: count },
        (_, n) => mqtt.request("rpc/reverse", `q${n}`, { signal: AbortSignal.timeout(10_000) }),
      );
      // Answered last first, once all have come.
      const received = await take(requests, count);
      for (const request of received.reverse()) {
        await server.publish(request.properties.responseTopic!, `a:${request.text()}`, {
          qos: 1,
          properties: { correlationData: request.properties.correlationData! },
        });
      }
      deepStrictEqual(
        (await Promise.all(calls)).map((m) => m.text()),
        Array.from({ length: count }, (_, n) => `a:q${n}`),
      );
    });

    await t.step(
      "Supervisor.publish() fails as expired after its Message Expiry passed in the queue",
      async () => {
        await using observer = await Observer.open(broker, "expiry/#");
        const gate = new Gate(address);
        await using mqtt = supervise({
          transport: gate.transport,
          ...login(broker),
          clientId: "expiry",
          reconnect: FAST,
        });
        const short = track(
          mqtt.publish("expiry/short", "short", {
            qos: 1,
            properties: { messageExpiryInterval: 1 },
          }),
        );
        const long = track(
          mqtt.publish("expiry/long", "long", {
            qos: 1,
            properties: { messageExpiryInterval: 30 },
          }),
        );
        await delay(2100);
        ok(!short.settled && !long.settled);
        gate.online = true;
        const e = await rejection(short.promise);
        ok(e instanceof UndeliveredError, String(e));
        equal(e.reason, "expired");
        equal(e.sent, false);
        equal(e.publication.topic, "expiry/short");
        equal(new TextDecoder().decode(e.publication.payload), "short");
        await long.promise;
        await observer.collect(1);
        await observer.settle();
        deepStrictEqual(observer.texts(), ["long"]);
        const left = observer.seen[0]!.event.properties.messageExpiryInterval;
        ok(left !== undefined && left <= 28 && left >= 20, `Message Expiry Interval ${left}`);
      },
    );

    await t.step(
      "Supervisor.publish() fails as rejected when the server refuses it (0x87)",
      async () => {
        await using mqtt = supervise({ url: url(broker), clientId: "acl", reconnect: FAST });
        for (const qos of [1, 2] as const) {
          const e = await rejection(mqtt.publish("denied/x", "no", { qos }));
          ok(e instanceof UndeliveredError, String(e));
          equal(e.reason, "rejected");
          equal(e.reasonCode, 0x87);
          equal(e.sent, true);
          equal(e.publication.topic, "denied/x");
        }
        // The connection stays up and other topics are delivered.
        ok((await mqtt.publish("allowed/x", "yes", { qos: 1 })).reasonCode < 0x80);
      },
    );

    await t.step(
      "Supervisor with manualAck processes QoS 2 exactly once and QoS 1 at least once across cuts",
      async () => {
        await using proxy = await startProxy({ target: broker });
        await using worker = supervise({
          url: url(broker, proxy.port),
          clientId: "worker",
          sessionExpiryInterval: 60,
          manualAck: true,
          reconnect: FAST,
        });
        const jobs = await worker.subscribe([
          { filter: "work/q2/#", qos: 2 },
          { filter: "work/q1/#", qos: 1 },
        ]);
        await using publisher = supervise({
          url: url(broker),
          clientId: "work-pub",
          reconnect: FAST,
        });
        const count = 40;
        const published = Promise.all(
          Array.from({ length: count }, (_, i) => [
            publisher.publish(`work/q2/${i}`, `q2-${i}`, { qos: 2 }),
            publisher.publish(`work/q1/${i}`, `q1-${i}`, { qos: 1 }),
          ]).flat(),
        );
        const processed = new Map<string, number>();
        const distinct = (prefix: string) =>
          [...processed.keys()].filter((k) => k.startsWith(prefix)).length;
        let cutsBeforeAck = 0;
        let cutsAfterAck = 0;
        // Every 7th new message cuts the connection before its acknowledgement, and the one two
        // later just after it: 12 cuts in all, so that the redeliveries do not cut again.
        const process = async (m: Message, i: number) => {
          const first = !processed.has(m.text());
          processed.set(m.text(), (processed.get(m.text()) ?? 0) + 1);
          const cut = first && cutsBeforeAck + cutsAfterAck < 12;
          const connections = proxy.connections.length;
          if (cut && i % 7 === 3) {
            // Cut while the message is unacknowledged; acknowledged with the connection down.
            proxy.cutNow();
            cutsBeforeAck++;
            await m.ack();
          } else if (cut && i % 7 === 5) {
            // Cut with the acknowledgement on its way (it may or may not reach the broker).
            const acked = m.ack();
            proxy.cutNow();
            cutsAfterAck++;
            await acked;
          }
          if (cut && (i % 7 === 3 || i % 7 === 5)) {
            // Each cut on a live connection: go on once the next one is up.
            await until(
              () => proxy.connections.length > connections && worker.status.type === "connected",
              "the worker reconnected",
            );
          } else {
            await m.ack();
          }
        };
        let i = 0;
        const deadline = AbortSignal.timeout(20_000);
        for await (const m of jobs.messages({ signal: deadline })) {
          await process(m, i++);
          if (distinct("q2-") === count && distinct("q1-") === count) break;
        }
        await published;
        // A last message after everything: redeliveries, if any, come before it.
        await publisher.publish("work/q2/end", "end", { qos: 2 });
        for await (const m of jobs.messages({ signal: deadline })) {
          if (m.text() === "end") {
            await m.ack();
            break;
          }
          await process(m, i++);
        }
        equal(cutsBeforeAck + cutsAfterAck, 12);
        ok(proxy.connections.length >= 13, `${proxy.connections.length} connections`);
        for (let n = 0; n < count; n++) {
          equal(processed.get(`q2-${n}`), 1, `QoS 2 message ${n} processed exactly once`);
          ok((processed.get(`q1-${n}`) ?? 0) >= 1, `QoS 1 message ${n} processed`);
        }
      },
    );

    await t.step(
      "Supervisor queues the flights again and subscribes again when the server lost the session",
      async () => {
        await using proxy = await startProxy({ target: broker });
        const statuses: SupervisorStatus[] = [];
        await using mqtt = supervise({
          url: url(broker, proxy.port),
          clientId: "lost-session",
          sessionExpiryInterval: 60,
          reconnect: FAST,
          onStatus: (s) => statuses.push(s),
        });
        const incoming = await mqtt.subscribe("lost/in", { qos: 1 });
        // The PUBLISHes wait in the paused proxy; the broker restarts without persistence.
        proxy.pause();
        const flights = [1, 2, 3].map((i) => mqtt.publish("lost/out", `f${i}`, { qos: 1 }));
        await until(() => mqtt.inFlight === 3, "three flights are out");
        await broker.restart();
        await using observer = await Observer.open(broker, "lost/out");
        proxy.resume();
        const deliveries = await Promise.all(flights);
        ok(deliveries.every((d) => d.reasonCode < 0x80));
        const connected = statuses.filter((s) => s.type === "connected");
        equal(connected.length, 2);
        equal(connected[1]!.result.sessionPresent, false);
        equal(connected[1]!.requeued, 3);
        await observer.collect(3);
        await observer.settle();
        deepStrictEqual(observer.texts(), ["f1", "f2", "f3"]);
        // The subscription was made again on the new session.
        await using other = supervise({ url: url(broker), clientId: "lost-pub", reconnect: FAST });
        await other.publish("lost/in", "after the restart", { qos: 1 });
        deepStrictEqual((await take(incoming, 1)).map((m) => m.text()), ["after the restart"]);
      },
    );

    await t.step(
      "Supervisor fails the lost flights as discarded with requeueDiscarded: false",
      async () => {
        await using proxy = await startProxy({ target: broker });
        const statuses: SupervisorStatus[] = [];
        await using mqtt = supervise({
          url: url(broker, proxy.port),
          clientId: "lost-discard",
          sessionExpiryInterval: 60,
          requeueDiscarded: false,
          reconnect: FAST,
          onStatus: (s) => statuses.push(s),
        });
        await mqtt.ready();
        proxy.pause();
        const flights = [1, 2].map((i) => mqtt.publish("lost/discard", `d${i}`, { qos: 2 }));
        await until(() => mqtt.inFlight === 2, "two flights are out");
        await broker.restart();
        proxy.resume();
        for (const [i, flight] of flights.entries()) {
          const e = await rejection(flight);
          ok(e instanceof UndeliveredError, String(e));
          equal(e.reason, "discarded");
          equal(e.sent, true);
          equal(new TextDecoder().decode(e.publication.payload), `d${i + 1}`);
        }
        const connected = statuses.filter((s) => s.type === "connected");
        equal(connected.at(-1)?.type === "connected" && connected.at(-1)!.requeued, 0);
        equal(mqtt.queued + mqtt.inFlight, 0);
      },
    );

    await t.step("Supervisor.stop() sends DISCONNECT and ends the iterators", async () => {
      await using observer = await Observer.open(broker, "stop/will");
      const mqtt = supervise({
        url: url(broker),
        clientId: "stop-clean",
        will: { topic: "stop/will", payload: "gone" },
        reconnect: FAST,
      });
      const subscription = await mqtt.subscribe("stop/in", { qos: 1 });
      const all = mqtt.messages();
      const read = async (iterable: AsyncIterable<Message>) => {
        const got: string[] = [];
        for await (const m of iterable) got.push(m.text());
        return got;
      };
      const reading = [read(subscription), read(all)];
      await mqtt.stop();
      deepStrictEqual(await Promise.all(reading), [[], []]);
      equal(mqtt.status.type, "stopped");
      await until(
        () => broker.logs().includes("Client stop-clean disconnected."),
        "the broker logs a clean disconnect",
      );
      await observer.settle();
      deepStrictEqual(observer.texts(), [], "no will");
      // Everything refuses once stopped.
      for (
        const call of [
          () => mqtt.publish("stop/x", "x", { qos: 1 }),
          () => mqtt.subscribe("stop/x"),
          () => mqtt.request("stop/x", "x"),
          () => mqtt.respond("stop/x", () => "x"),
        ]
      ) {
        const e = await rejection(call());
        ok(e instanceof SupervisorStoppedError, String(e));
      }
      await mqtt.stop(); // again: the same end
    });

    await t.step({
      name: "Supervisor.ready() rejects with SupervisorStoppedError once stopped",
      async fn() {
        const mqtt = supervise({ url: url(broker), clientId: "stop-ready", reconnect: FAST });
        await mqtt.ready();
        await mqtt.stop();
        const e = await rejection(mqtt.ready());
        ok(e instanceof SupervisorStoppedError, String(e));
      },
    });

    await t.step({
      name: "Supervisor with a signal aborted already never starts",
      async fn() {
        const statuses: string[] = [];
        const never = supervise({
          url: url(broker),
          signal: AbortSignal.abort(),
          onStatus: (s) => statuses.push(s.type),
        });
        const e = await rejection(never.ready());
        ok(e instanceof SupervisorStoppedError, String(e));
        await never.stop();
        deepStrictEqual(statuses, ["stopped"]);
      },
    });

    await t.step(
      "Supervisor.stop() fails queued publications as unsent and in-flight ones as sent",
      async () => {
        await using proxy = await startProxy({ target: broker });
        const mqtt = supervise({
          url: url(broker, proxy.port),
          clientId: "stop-flights",
          sessionExpiryInterval: 60,
          reconnect: FAST,
        });
        await mqtt.ready();
        proxy.pause();
        const inflight = track(mqtt.publish("stop/out", "a", { qos: 1 }));
        await until(() => mqtt.inFlight === 1, "one flight is out");
        proxy.cutNow();
        // The next CONNECT waits in the paused proxy: "b" stays queued.
        await until(() => mqtt.status.type === "connecting", "reconnecting");
        const queued = track(mqtt.publish("stop/out", "b", { qos: 1 }));
        await delay(20);
        equal(mqtt.queued, 1);
        await mqtt.stop();
        const a = await rejection(inflight.promise);
        ok(a instanceof UndeliveredError, String(a));
        equal(a.reason, "stopped");
        equal(a.sent, true);
        equal(typeof a.packetId, "number");
        ok(a.cause instanceof SupervisorStoppedError);
        const b = await rejection(queued.promise);
        ok(b instanceof UndeliveredError, String(b));
        equal(b.reason, "stopped");
        equal(b.sent, false);
        equal(b.publication.topic, "stop/out");
        proxy.resume();
      },
    );

    await t.step(
      "Supervisor stops when its signal aborts, and at the end of await using",
      async () => {
        const abort = new AbortController();
        const statuses: string[] = [];
        const mqtt = supervise({
          url: url(broker),
          clientId: "stop-signal",
          signal: abort.signal,
          reconnect: FAST,
          onStatus: (s) => statuses.push(s.type),
        });
        await mqtt.ready();
        abort.abort();
        await until(() => mqtt.status.type === "stopped", "stopped");
        await mqtt.stop();
        deepStrictEqual(statuses, ["connecting", "connected", "stopped"]);
        ok(await rejection(mqtt.publish("stop/x")) instanceof SupervisorStoppedError);
        await until(
          () => broker.logs().includes("Client stop-signal disconnected."),
          "the broker logs a clean disconnect",
        );

        let scoped: Supervisor;
        {
          await using mqtt = supervise({
            url: url(broker),
            clientId: "stop-scope",
            reconnect: FAST,
          });
          scoped = mqtt;
          await mqtt.ready();
        }
        equal(scoped.status.type, "stopped");
        await until(
          () => broker.logs().includes("Client stop-scope disconnected."),
          "the broker logs a clean disconnect",
        );
      },
    );

    // Mosquitto 2.0.11 answers a wrong password with 0x87 Not authorized (not 0x86).
    await t.step("Supervisor gives up at once on a refused password (0x87)", async () => {
      const gate = new Gate(address, true);
      const statuses: string[] = [];
      await using mqtt = supervise({
        transport: gate.transport,
        username: broker.username,
        password: "not the password",
        clientId: "bad-password",
        reconnect: FAST,
        onStatus: (s) => statuses.push(s.type),
      });
      await until(() => mqtt.status.type === "stopped", "stopped");
      deepStrictEqual(statuses, ["connecting", "gave-up", "stopped"]);
      equal(gate.attempts, 1);
      const e = await rejection(mqtt.ready());
      ok(e instanceof SupervisorStoppedError, String(e));
      ok(e.cause instanceof ConnectionRefusedError, String(e.cause));
      equal(e.cause.reasonCode, 0x87);
    });

    await t.step({
      name: "Supervisor.ready() called before it gives up rejects with the cause",
      ignore: false,
      async fn() {
        await using mqtt = supervise({
          transport: new Gate(address, true).transport,
          username: broker.username,
          password: "not the password",
          reconnect: FAST,
        });
        const waiting = mqtt.ready(); // called while the first attempt is under way
        const e = await rejection(waiting);
        ok(e instanceof SupervisorStoppedError, String(e));
        ok(e.cause instanceof ConnectionRefusedError, String(e.cause));
      },
    });

    await t.step("Supervisor with reconnect: false gives up when the connection ends", async () => {
      await using proxy = await startProxy({ target: broker });
      const statuses: string[] = [];
      await using mqtt = supervise({
        url: url(broker, proxy.port),
        clientId: "no-reconnect",
        reconnect: false,
        onStatus: (s) => statuses.push(s.type),
      });
      await mqtt.ready();
      proxy.cutNow();
      await until(() => mqtt.status.type === "stopped", "stopped");
      deepStrictEqual(statuses, ["connecting", "connected", "lost", "gave-up", "stopped"]);
      equal(proxy.connections.length, 1);
      ok(await rejection(mqtt.ready()) instanceof SupervisorStoppedError);
    });

    await t.step("Supervisor gives up after maxAttempts failed attempts", async () => {
      const gate = new Gate(address);
      const statuses: SupervisorStatus[] = [];
      await using mqtt = supervise({
        transport: gate.transport,
        ...login(broker),
        reconnect: { ...FAST, maxAttempts: 3 },
        onStatus: (s) => statuses.push(s),
      });
      await until(() => mqtt.status.type === "stopped", "stopped");
      const e = await rejection(mqtt.ready());
      ok(e instanceof SupervisorStoppedError, String(e));
      ok(e.cause instanceof Deno.errors.ConnectionRefused, String(e.cause));
      equal(gate.attempts, 3);
      deepStrictEqual(gate.requests.map((r) => r.attempt), [1, 2, 3]);
      deepStrictEqual(statuses.map((s) => s.type), [
        "connecting",
        "reconnecting",
        "connecting",
        "reconnecting",
        "connecting",
        "gave-up",
        "stopped",
      ]);
      for (const s of statuses) {
        if (s.type === "reconnecting") ok(s.delay >= 0 && s.delay <= FAST.maxDelay, `${s.delay}`);
      }
    });

    await t.step("Supervisor on MQTT 3.1.1 publishes, subscribes and reconnects", async () => {
      await using proxy = await startProxy({ target: broker });
      const statuses: string[] = [];
      await using mqtt = supervise({
        url: url(broker, proxy.port),
        clientId: "v311",
        protocolVersion: 4,
        // 3.1.1 keeps a session only without Clean Session, from the first connection on.
        cleanStart: false,
        reconnect: FAST,
        onStatus: (s) => statuses.push(s.type),
      });
      const subscription = await mqtt.subscribe("v311/#", { qos: 2 });
      equal((await mqtt.publish("v311/a", "one", { qos: 1 })).reasonCode, 0);
      proxy.cutNow();
      equal((await mqtt.publish("v311/b", "two", { qos: 2 })).reasonCode, 0);
      await mqtt.publish("v311/c", "three");
      deepStrictEqual((await take(subscription, 3)).map((m) => m.text()), ["one", "two", "three"]);
      ok(statuses.includes("lost"), statuses.join());
      equal(statuses.filter((s) => s === "connected").length, 2);
      const e = await rejection(mqtt.request("v311/rpc", "x"));
      ok(e instanceof ProtocolVersionError, String(e));
    });
  },
});
