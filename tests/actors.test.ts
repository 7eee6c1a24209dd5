// The failure rules of DESIGN.md, one test per row, against a real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  Actor,
  Actors,
  ConsumerConfigError,
  Event,
  JobTimeoutError,
  type Middleware,
  silentLogger,
} from "../mod.ts";
import { serverAtLeast } from "../src/_server_version.ts";
import {
  connectActors,
  consumerInfo,
  deferred,
  listenInBackground,
  NatsServer,
  settled,
  waitFor,
} from "./_helpers.ts";

const Num = v.object({ n: v.number() });

test("a failing handler is retried after retryDelay[attempt - 1], then dead-lettered with its error", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("retry-me", Num);
  const attempts: { attempt: number; at: number }[] = [];
  const done = deferred();
  const failures: string[] = [];
  const mw: Middleware = {
    onFailure(ctx) {
      failures.push(`${ctx.attempt}:${ctx.outcome}`);
      if (ctx.outcome === "dead-letter") done.resolve();
    },
  };
  const FAIL = new Actor("always-fails", EV, (_msg, ctx) => {
    attempts.push({ attempt: ctx.attempt, at: performance.now() });
    throw new Error(`boom ${ctx.attempt}`);
  }, { retryDelay: [300, 5000], maxAttempts: 3, middlewares: [mw] });
  // Second retry uses the last entry again: cap it to keep the test short.
  const FAIL_SHORT = new Actor("always-fails", EV, FAIL.handler, {
    retryDelay: [300, 800],
    maxAttempts: 3,
    middlewares: [mw],
  });
  await using app = await connectActors(server, FAIL_SHORT);
  await app.pub.emit(EV, { n: 1 });
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await done.promise;
  await settled(app.sub.nc, "retry-me", "always-fails");
  const report = await listening.stop();

  assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
  // The first retry waits retryDelay[0] (walnats waits retryDelay[1] here),
  // the second retryDelay[1]: lower bounds only, with a little clock slack.
  const gap1 = attempts[1]!.at - attempts[0]!.at;
  const gap2 = attempts[2]!.at - attempts[1]!.at;
  assert.ok(gap1 >= 280, `first retry came after ${gap1} ms, before 300`);
  assert.ok(gap1 < 800, `first retry waited ${gap1} ms: retryDelay[1]?`);
  assert.ok(gap2 >= 780, `second retry came after ${gap2} ms, before 800`);
  assert.deepEqual(failures, ["1:retry", "2:retry", "3:dead-letter"]);
  // Every failed attempt counts, the last one (dead-lettered) too.
  assert.equal(report.failed, 3);
  assert.equal(report.retried, 2);
  assert.equal(report.deadLettered, 1);

  const dead = await app.sub.deadLetters(FAIL_SHORT);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.reason, "exhausted");
  assert.equal(dead[0]!.attempts, 3);
  assert.equal(dead[0]!.error, "Error: boom 3");
  assert.match(dead[0]!.stack, /boom 3/);
  assert.equal(dead[0]!.event, "retry-me");
  assert.equal(dead[0]!.actor, "always-fails");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(dead[0]!.data)), {
    n: 1,
  });
  const info = await consumerInfo(app.sub.nc, "retry-me", "always-fails");
  assert.equal(info.num_ack_pending, 0, "the original was terminated");
});

test("a job past jobTimeout has its signal aborted and counts as a failed attempt", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("slow-job", Num);
  const reasons: unknown[] = [];
  const second = deferred<number>();
  const SLOW = new Actor("slow", EV, async (_msg, ctx) => {
    if (ctx.attempt === 2) {
      second.resolve(ctx.attempt);
      return;
    }
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener("abort", () => {
        reasons.push(ctx.signal.reason);
        resolve();
      });
    });
  }, { jobTimeout: 200, retryDelay: [0] });
  await using app = await connectActors(server, SLOW);
  await app.pub.emit(EV, { n: 1 });
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  assert.equal(await second.promise, 2);
  await settled(app.sub.nc, "slow-job", "slow");
  const report = await listening.stop();
  assert.equal(reasons.length, 1);
  assert.ok(reasons[0] instanceof JobTimeoutError);
  assert.equal(report.failed, 1);
  assert.equal(report.succeeded, 1);
});

test("a running job pulses so a second listener never receives it", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("long-job", Num);
  let calls = 0;
  const finished = deferred();
  const LONG = new Actor("long", EV, async () => {
    calls++;
    // Three ack waits long: without the pulse it would be redelivered.
    await new Promise((r) => setTimeout(r, 2400));
    finished.resolve();
  }, { ackWait: 800 });
  await using app = await connectActors(server, LONG);
  await using other = await new Actors(LONG).connect(server.url);
  await app.pub.emit(EV, { n: 1 });
  await using a = listenInBackground(app.sub, { pollDelay: 500 });
  await using b = listenInBackground(other, { pollDelay: 500 });
  await finished.promise;
  const info = await settled(app.sub.nc, "long-job", "long");
  const [ra, rb] = await Promise.all([a.stop(), b.stop()]);
  assert.equal(calls, 1);
  assert.equal(ra.succeeded + rb.succeeded, 1);
  assert.equal(info.num_redelivered, 0);
  assert.equal(info.delivered.consumer_seq, 1, "delivered exactly once");
});

test("without the pulse a job longer than ackWait is redelivered", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("no-pulse", Num);
  const deliveries: number[] = [];
  const twice = deferred();
  const LONG = new Actor("long", EV, async (_m, ctx) => {
    deliveries.push(ctx.deliveryCount);
    if (deliveries.length === 2) twice.resolve();
    await new Promise((r) => setTimeout(r, 1500));
  }, { ackWait: 500, pulse: false });
  await using app = await connectActors(server, LONG);
  await app.pub.emit(EV, { n: 1 });
  await using listening = listenInBackground(app.sub, { pollDelay: 500 });
  await twice.promise;
  await listening.stop();
  // Redelivered: a second run with a higher delivery count. Under load the
  // run seen second may carry delivery count 3 (seen once on Node in CI,
  // not explained); what this test promises is the redelivery.
  assert.equal(deliveries[0], 1);
  assert.ok(deliveries[1]! >= 2, `deliveries ${deliveries}`);
});

test("a payload that does not decode is dead-lettered as poison without retries", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("poisoned", Num);
  const seen: number[] = [];
  const failure = deferred<{ message: unknown; error: Error }>();
  const EAT = new Actor("eat", EV, ({ n }) => {
    seen.push(n);
  }, {
    middlewares: [{
      onFailure: (ctx) =>
        failure.resolve({ message: ctx.message, error: ctx.error }),
    }],
  });
  await using app = await connectActors(server, EAT);
  await app.pub.nc.publish("poisoned", new TextEncoder().encode("{not json"));
  await app.pub.js.publish(
    "poisoned",
    new TextEncoder().encode('{"n":"one"}'),
  );
  await app.pub.emit(EV, { n: 3 });
  const report = await app.sub.listen({
    burst: true,
    batch: 10,
    logger: silentLogger,
  });
  assert.deepEqual(seen, [3]);
  assert.equal(report.deadLettered, 2);
  const f = await failure.promise;
  assert.equal(f.message, undefined);
  const info = await settled(app.sub.nc, "poisoned", "eat");
  assert.equal(info.num_redelivered, 0, "poison is never retried");
  const dead = await app.sub.deadLetters("eat");
  assert.equal(dead.length, 2);
  assert.ok(dead.every((d) => d.reason === "poison" && d.attempts === 1));
  assert.match(dead[0]!.error, /DecodeError: .*not valid UTF-8 JSON/);
  assert.match(dead[1]!.error, /ValidationError: .*poisoned.*n/);
  assert.equal(new TextDecoder().decode(dead[0]!.data), "{not json");
});

test("dead letters can be replayed to the event and are then removed", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("flaky", Num);
  let broken = true;
  const handled: number[] = [];
  const FLAKY = new Actor("flaky-worker", EV, ({ n }) => {
    if (broken) throw new Error("downstream is down");
    handled.push(n);
  }, { maxAttempts: 1 });
  await using app = await connectActors(server, FLAKY);
  await app.pub.emit(EV, { n: 1 }, { uid: "one", traceId: "t-1" });
  await app.pub.emit(EV, { n: 2 });
  const first = await app.sub.listen({
    burst: true,
    batch: 10,
    logger: silentLogger,
  });
  assert.equal(first.deadLettered, 2);
  const dead = await app.sub.deadLetters(FLAKY);
  assert.equal(dead.length, 2);
  assert.equal(dead[0]!.headers["Walnats-Trace"], "t-1");
  assert.equal(dead[0]!.headers["Nats-Msg-Id"], "one");
  broken = false;
  assert.equal(await app.sub.replay(FLAKY), 2);
  assert.equal((await app.sub.deadLetters(FLAKY)).length, 0);
  const second = await app.sub.listen({ burst: true, batch: 10 });
  assert.equal(second.succeeded, 2);
  assert.deepEqual(handled.sort(), [1, 2]);
});

test("a delayed message waits without calling the handler or middlewares, and is attempt 1 of its first delivery", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("later", Num);
  const started: number[] = [];
  const got = deferred<
    { attempt: number; deliveryCount: number; at: number }
  >();
  const LATER = new Actor("later-worker", EV, (_m, ctx) => {
    got.resolve({
      attempt: ctx.attempt,
      deliveryCount: ctx.deliveryCount,
      at: Date.now(),
    });
  }, { middlewares: [{ onStart: () => void started.push(Date.now()) }] });
  await using app = await connectActors(server, LATER);
  await using listening = listenInBackground(app.sub, { pollDelay: 500 });
  const emittedAt = Date.now();
  await app.pub.emit(EV, { n: 1 }, { delay: 1200 });
  const job = await got.promise;
  const report = await listening.stop();
  assert.ok(
    job.at >= emittedAt + 1200 - 20,
    `handled ${job.at - emittedAt} ms after emit, before the delay`,
  );
  assert.equal(job.attempt, 1, "waiting is not an attempt");
  // It waited in the delay stream: the actor got it once, when due.
  assert.equal(job.deliveryCount, 1);
  assert.equal(started.length, 1, "middlewares ran once, not for the delay");
  assert.ok(started[0]! >= emittedAt + 1200 - 20);
  assert.equal(report.delayed, 0);
  assert.equal(report.released, 1);
  assert.equal(report.succeeded, 1);
});

test("an actor's reply reaches request() with the response codec applied", async () => {
  await using server = await NatsServer.start();
  const ADD = new Event(
    "add-numbers",
    v.object({ a: v.number(), b: v.number() }),
  )
    .withResponse(v.object({ sum: v.number() }));
  const ADDER = new Actor("adder", ADD, ({ a, b }) => ({ sum: a + b }));
  await using app = await connectActors(server, ADDER);
  const { pub, sub } = app;
  await using listening = listenInBackground(sub, { pollDelay: 500 });
  const reply = await pub.request(ADD, { a: 2, b: 3 }, { timeout: 10_000 });
  assert.deepEqual(reply, { sum: 5 });
  await listening.stop();
});

test("register() tells to register the events first when the stream is missing", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("not-there", Num);
  const A = new Actor("a", EV, () => {});
  await using sub = await new Actors(A).connect(server.url);
  await assert.rejects(sub.register(), (error: Error) => {
    assert.ok(error instanceof ConsumerConfigError);
    assert.match(error.message, /register the events first/);
    return true;
  });
});

test("register() creates the consumer with the actor's settings", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("configured", Num);
  const A = new Actor("configured-actor", EV, () => {}, {
    description: "does things",
    ackWait: 5000,
    maxAttempts: 4,
    maxAckPending: 77,
  });
  await using app = await connectActors(server, A);
  const info = await consumerInfo(app.sub.nc, "configured", "configured-actor");
  assert.equal(info.config.durable_name, "configured-actor");
  assert.equal(info.config.ack_policy, "explicit");
  assert.equal(info.config.ack_wait, 5000 * 1_000_000);
  assert.equal(info.config.max_deliver, 6);
  assert.equal(info.config.max_ack_pending, 77);
  assert.equal(info.config.description, "does things");
  // Registering again (with a changed setting) updates in place.
  const B = new Actor("configured-actor", EV, () => {}, { maxAckPending: 5 });
  await using sub2 = await new Actors(B).connect(server.url);
  await sub2.register();
  const updated = await consumerInfo(
    app.sub.nc,
    "configured",
    "configured-actor",
  );
  assert.equal(updated.config.max_ack_pending, 5);
});

test("no more messages are pulled than there are free job slots", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("hoard", Num);
  let running = 0;
  let peak = 0;
  let peakAckPending = 0;
  const HOARD = new Actor("hoard-worker", EV, async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 30));
    running--;
  }, { maxJobs: 3 });
  await using app = await connectActors(server, HOARD);
  await app.pub.emitMany(EV, Array.from({ length: 30 }, (_, n) => ({ n })));
  await using listening = listenInBackground(app.sub, {
    batch: 10,
    maxJobs: 16,
    pollDelay: 500,
  });
  await waitFor(async () => {
    const info = await consumerInfo(app.sub.nc, "hoard", "hoard-worker");
    peakAckPending = Math.max(peakAckPending, info.num_ack_pending);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, { interval: 5, timeout: 20_000, what: "all handled" });
  const report = await listening.stop();
  assert.equal(report.succeeded, 30);
  assert.ok(peak <= 3, `peak concurrency ${peak} > actor.maxJobs 3`);
  // The server applies acks asynchronously: right after a job acks and its
  // slot is pulled again, num_ack_pending may still count the acked message
  // for a moment. Three slots, so at most one more than three.
  assert.ok(
    peakAckPending <= 4,
    `${peakAckPending} messages were out at once with 3 slots`,
  );
});

test("a freed global slot goes to the highest-priority waiting actor", async () => {
  await using server = await NatsServer.start();
  const HIGH_EV = new Event("prio-high", Num);
  const LOW_EV = new Event("prio-low", Num);
  const order: string[] = [];
  const handler = (name: string) => async () => {
    order.push(name);
    await new Promise((r) => setTimeout(r, 5));
  };
  const HIGH = new Actor("high-worker", HIGH_EV, handler("high"), {
    priority: "high",
  });
  const LOW = new Actor("low-worker", LOW_EV, handler("low"), {
    priority: "low",
  });
  await using app = await connectActors(server, [LOW, HIGH]);
  const { pub, sub } = app;
  await pub.emitMany(LOW_EV, Array.from({ length: 10 }, (_, n) => ({ n })));
  await pub.emitMany(HIGH_EV, Array.from({ length: 10 }, (_, n) => ({ n })));
  await using listening = listenInBackground(sub, { maxJobs: 1 });
  await waitFor(() => order.length === 20, { what: "all 20 handled" });
  await listening.stop();
  // One slot for both actors: after whichever job took the first slot,
  // every freed slot goes to the high-priority actor while it has work.
  const firstLow = order.indexOf("low", 1);
  const lastHigh = order.lastIndexOf("high");
  assert.ok(
    lastHigh < firstLow || firstLow === -1,
    `low ran before high was done: ${order.join(",")}`,
  );
});

test("listen() reports a deleted consumer as ConsumerGoneError instead of hanging", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("vanishing", Num);
  const A = new Actor("vanishing-worker", EV, () => {});
  await using app = await connectActors(server, A);
  const listening = app.sub.listen({ pollDelay: 300, logger: silentLogger });
  // Expect the rejection before causing it: it may come before delete returns.
  const gone = assert.rejects(listening, (error: Error) => {
    assert.equal(error.name, "ConsumerGoneError");
    assert.match(error.message, /vanishing-worker.*register\(\) again/);
    return true;
  });
  // Delete it while the listener's pull request waits on it.
  await waitFor(async () => {
    const info = await consumerInfo(
      app.pub.nc,
      "vanishing",
      "vanishing-worker",
    );
    return info.num_waiting > 0;
  }, { what: "the listener's pull request" });
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const jsm = await jetstreamManager(app.pub.nc);
  await jsm.consumers.delete("vanishing", "vanishing-worker");
  await gone;
});

test("term reasons are used only on servers that understand them", () => {
  assert.equal(serverAtLeast("2.9.10", [2, 10, 4]), false);
  assert.equal(serverAtLeast("2.10.3", [2, 10, 4]), false);
  assert.equal(serverAtLeast("2.10.4", [2, 10, 4]), true);
  assert.equal(serverAtLeast("2.11.0-beta.1", [2, 10, 4]), true);
  assert.equal(serverAtLeast(undefined, [2, 10, 4]), false);
});

test("Actor rejects bad names and options at construction", () => {
  const EV = new Event("checked", Num);
  assert.throws(() => new Actor("", EV, () => {}), /name must not be empty/);
  assert.throws(
    () => new Actor("Send_Email", EV, () => {}),
    /Cannot create actor "Send_Email": name must be kebab-case/,
  );
  assert.throws(() => new Actor("a.b", EV, () => {}), /must not contain "."/);
  assert.throws(
    () => new Actor("x", EV, () => {}, { ackWait: 0 }),
    /ackWait must be positive/,
  );
  assert.throws(
    () => new Actor("x", EV, () => {}, { maxJobs: 1.5 }),
    /maxJobs must be an integer/,
  );
  assert.throws(
    () => new Actor("x", EV, () => {}, { retryDelay: [-1] }),
    /retryDelay\[0\] must be a non-negative number/,
  );
  assert.throws(
    () =>
      new Actor("x", EV, () => {}, {
        priority: "urgent" as unknown as "high",
      }),
    /priority must be "high", "normal" or "low"/,
  );
  assert.throws(
    () => new Actor("x", EV, () => {}, { description: " " }),
    /description must not be empty/,
  );
  const ok = new Actor("x", EV, () => {}, { retryDelay: [10, 20] });
  assert.equal(ok.retryDelayFor(1), 10);
  assert.equal(ok.retryDelayFor(2), 20);
  assert.equal(ok.retryDelayFor(9), 20);
});

test("when the dead-letter copy cannot be stored the original is nak'd, not lost", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("no-dlq", Num);
  const A = new Actor("no-dlq-worker", EV, () => {}, { retryDelay: [100] });
  await using app = await connectActors(server, A);
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const jsm = await jetstreamManager(app.pub.nc);
  await jsm.streams.delete("walnats_dlq_no-dlq");
  await app.pub.js.publish("no-dlq", new TextEncoder().encode("garbage"));
  const first = await app.sub.listen({ burst: true, logger: silentLogger });
  assert.equal(first.deadLettered, 0);
  assert.equal(first.failed, 1);
  assert.equal(first.retried, 1);
  const info = await consumerInfo(app.sub.nc, "no-dlq", "no-dlq-worker");
  assert.equal(info.num_ack_pending + info.num_pending, 1, "still there");
  // Once the dead-letter stream exists again, the next delivery lands there.
  await app.sub.register();
  await waitFor(async () => {
    const r = await app.sub.listen({ burst: true, logger: silentLogger });
    return r.deadLettered === 1;
  }, { what: "the poison to be dead-lettered" });
  const dead = await app.sub.deadLetters(A);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.reason, "poison");
  await settled(app.sub.nc, "no-dlq", "no-dlq-worker");
});
