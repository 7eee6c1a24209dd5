// The failure semantics against a real server: maxJobs as a hard cap, exact
// attempts for delayed, backlogged and crashing messages, handler-directed
// outcomes, replay to one actor, idle-listener latency, dead-letter stream
// limits, a Python-made consumer. (tests/failure_rules.test.ts has the same
// rules as fast unit tests; tests/actors.test.ts the basic rows.)
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import { createInbox } from "@nats-io/nats-core";
import {
  Actor,
  Actors,
  Event,
  PermanentError,
  RetryError,
  silentLogger,
} from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  deferred,
  listenInBackground,
  type Listening,
  NatsServer,
  rawConnect,
  settled,
  waitFor,
} from "./_helpers.ts";
import { MemoryLogger } from "./_fakes.ts";
import { serverAtLeast } from "../src/_server_version.ts";
import { Child } from "./_process.ts";

const Num = v.object({ n: v.number() });

// The figures these tests measure, printed for the test log.
function figure(line: string): void {
  process.stderr.write(`[figure] ${line}\n`);
}

test("maxJobs is a hard cap: handlers that ignore ctx.signal past jobTimeout keep their slots", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("stubborn", Num);
  let running = 0;
  let peak = 0;
  let runs = 0;
  const STUBBORN = new Actor("stubborn-worker", EV, async () => {
    runs++;
    running++;
    peak = Math.max(peak, running);
    // Ignores ctx.signal: runs 4 job timeouts long.
    await new Promise((r) => setTimeout(r, 400));
    running--;
  }, { jobTimeout: 100, retryDelay: [0], maxAttempts: 2 });
  await using app = await connectActors(server, STUBBORN);
  await app.pub.emitMany(EV, Array.from({ length: 4 }, (_, n) => ({ n })));
  const logger = new MemoryLogger();
  await using listening = listenInBackground(app.sub, {
    maxJobs: 1,
    pollDelay: 500,
    logger,
  });
  await settled(app.sub.nc, "stubborn", "stubborn-worker", { timeout: 30_000 });
  const report = await listening.stop();
  figure(`peak concurrency ${peak} with maxJobs 1 (${runs} runs)`);
  assert.equal(peak, 1, `peak concurrency ${peak} > maxJobs 1`);
  assert.equal(runs, 8, "4 messages x 2 attempts, never overlapping");
  assert.equal(report.timedOut, 8);
  assert.equal(report.deadLettered, 4);
  assert.equal(report.succeeded, 0);
  assert.equal(
    logger.find(/keeps its slot until its handler settles/).length,
    8,
  );
  assert.ok(logger.find(/timed-out job settled/).length >= 8);
});

test("a delayed message emitted into a backlog runs exactly maxAttempts times with exact attempts", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("late-backlog", Num);
  const attempts: number[] = [];
  const LATE = new Actor("late-worker", EV, (_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("always");
  }, { maxAttempts: 2, retryDelay: [50] });
  await using app = await connectActors(server, LATE);
  await app.pub.emit(EV, { n: 1 }, { delay: 200 });
  // Nobody listens until the delay is long over: a backlog.
  await new Promise((r) => setTimeout(r, 500));
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  // The delay stream keeps it until a listener's mover releases it.
  await waitFor(async () => (await app.sub.deadLetters(LATE)).length === 1, {
    what: "the dead letter",
  });
  await settled(app.sub.nc, "late-backlog", "late-worker");
  const report = await listening.stop();
  figure(`backlogged delayed message: attempts ${attempts.join(",")}`);
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(report.released, 1, "released from the delay stream");
  const dead = await app.sub.deadLetters(LATE);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.attempts, 2);
});

test("a delayed message that keeps failing counts attempts 1, 2, 3 and runs three times", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("late-fail", Num);
  const attempts: number[] = [];
  const LATE = new Actor("late-fail-worker", EV, (_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("always");
  }, { maxAttempts: 3, retryDelay: [50] });
  await using app = await connectActors(server, LATE);
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await app.pub.emit(EV, { n: 1 }, { delay: 300 });
  await settled(app.sub.nc, "late-fail", "late-fail-worker");
  await waitFor(async () => (await app.sub.deadLetters(LATE)).length === 1);
  await listening.stop();
  figure(`delayed failing message: attempts ${attempts.join(",")}`);
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal((await app.sub.deadLetters(LATE))[0]!.attempts, 3);
});

test("a message whose process dies on every attempt is dead-lettered after maxAttempts runs, recording them", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("crashes", Num);
  const A = new Actor("crash-worker", EV, () => {}, {
    maxAttempts: 2,
    ackWait: 500,
  });
  await using app = await connectActors(server, A);
  await app.sub.close();
  const config = {
    url: server.url,
    event: "crashes",
    actor: "crash-worker",
    delay: 60_000,
    ackWait: 500,
    maxAttempts: 2,
  };
  await app.pub.emit(EV, { n: 9 });
  // Kill the worker running it until delivery 2 (attempt 2, the last) has
  // started. (A busy server may take a delivery to a dead connection back
  // without counting it, so count what the workers saw, not the kills.)
  let last = 0;
  for (let i = 0; i < 4 && last < 2; i++) {
    await using worker = new Child("worker.ts", JSON.stringify(config));
    const line = await waitFor(
      () => worker.lines.find((l) => l.startsWith("start 9 ")),
      {
        timeout: 30_000,
        what: () => `a delivery: ${worker.lines.join("\n")}`,
      },
    );
    last = Number(line.split(" ")[2]);
    worker.proc.kill("SIGKILL");
    await worker.exited;
  }
  assert.equal(last, 2);
  // Delivery 3 reaches a live copy: it dead-letters without running.
  let runs = 0;
  const LIVE = new Actor("crash-worker", EV, () => void runs++, {
    maxAttempts: 2,
    ackWait: 500,
  });
  await using sub = await new Actors(LIVE).connect(server.url);
  await using listening = listenInBackground(sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await waitFor(async () => (await sub.deadLetters(LIVE)).length === 1, {
    timeout: 20_000,
    what: "the dead letter",
  });
  await listening.stop();
  const dead = (await sub.deadLetters(LIVE))[0]!;
  assert.equal(runs, 0);
  assert.equal(dead.reason, "exhausted");
  assert.equal(dead.attempts, 2, "two runs happened, both died");
  await settled(app.pub.nc, "crashes", "crash-worker");
});

test("with all defaults an always-failing message is dead-lettered after 5 attempts, within seconds", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("hopeless", Num);
  const attempts: number[] = [];
  const runs: string[] = [];
  const HOPELESS = new Actor("hopeless-worker", EV, (_m, ctx) => {
    attempts.push(ctx.attempt);
    runs.push(
      `attempt ${ctx.attempt} delivery ${ctx.deliveryCount} seq ${ctx.sequence} at ${
        Math.round(performance.now() - t0)
      } ms`,
    );
    throw new Error("never works");
  });
  await using app = await connectActors(server, HOPELESS);
  const logger = new MemoryLogger();
  let t0 = performance.now();
  await using listening = listenInBackground(app.sub, { logger });
  t0 = performance.now();
  await app.pub.emit(EV, { n: 1 });
  await waitFor(async () => (await app.sub.deadLetters(HOPELESS)).length, {
    timeout: 90_000,
    interval: 250,
    what: () =>
      `the dead letter; attempts ${attempts}; log:\n${
        logger.entries.map((e) => `${e.level} ${e.message}`).join("\n")
      }`,
  });
  const took = performance.now() - t0;
  await listening.stop();
  figure(`always-failing, all defaults: dead-lettered in ${took} ms`);
  // Rarely (seen under load on nats-server 2.9.10, twice in CI) the server
  // rewinds the consumer when a retry is due just as the only pull request
  // expires (nats-io/nats-server#5305, fixed in 2.10.14): the count comes
  // back at 1 (corrected in-process, _rewinds.ts) or one higher than the
  // deliveries made (a run too few). The message must still end
  // dead-lettered, after a bounded number of runs.
  const story = `${runs.join("\n")}\nlog:\n${
    logger.entries.map((e) => `${e.level} ${e.message}`).join("\n")
  }`;
  const dead = (await app.sub.deadLetters(HOPELESS))[0]!;
  assert.deepEqual(attempts.slice(0, 4), [1, 2, 3, 4], story);
  assert.ok(attempts.length <= 10, story);
  if (attempts.some((attempt, i) => attempt !== i + 1)) {
    figure(`the server reset the delivery count:\n${story}`);
    assert.ok(dead.attempts >= 1 && dead.attempts <= 5, story);
    return;
  }
  assert.deepEqual(attempts, [1, 2, 3, 4, 5], story);
  assert.equal(dead.attempts, 5, story);
  // 500 + 1000 + 2000 + 4000 ms of retry delays.
  assert.ok(took >= 7_400, `dead-lettered after ${took} ms`);
  // Generous: the machine may be loaded; the point is "bounded".
  assert.ok(took < 60_000, `dead-lettered after ${took} ms`);
});

test("PermanentError dead-letters at once; RetryError waits its own delay", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("steered", Num);
  const runs: { n: number; at: number }[] = [];
  const STEER = new Actor("steered-worker", EV, ({ n }, ctx) => {
    runs.push({ n, at: performance.now() });
    if (n === 1) throw new PermanentError("cannot ever work");
    if (n === 2 && ctx.attempt === 1) {
      throw new RetryError("rate limited", { delay: 400 });
    }
  }, { retryDelay: [5_000] });
  await using app = await connectActors(server, STEER);
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await app.pub.emit(EV, { n: 1 });
  await app.pub.emit(EV, { n: 2 });
  await settled(app.sub.nc, "steered", "steered-worker");
  const report = await listening.stop();
  assert.equal(runs.filter((r) => r.n === 1).length, 1, "never retried");
  const two = runs.filter((r) => r.n === 2);
  assert.equal(two.length, 2);
  const gap = two[1]!.at - two[0]!.at;
  assert.ok(gap >= 380 && gap < 4_000, `retried after ${gap} ms, not 400`);
  assert.equal(report.deadLettered, 1);
  const dead = await app.sub.deadLetters(STEER);
  assert.equal(dead[0]!.reason, "permanent");
  assert.equal(dead[0]!.attempts, 1);
});

test("replay reaches the actor that dead-lettered the message alone", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("fan-out", Num);
  let broken = true;
  const runs = { fragile: 0, steady: 0 };
  const FRAGILE = new Actor("fragile", EV, () => {
    runs.fragile++;
    if (broken) throw new Error("down");
  }, { maxAttempts: 1 });
  const STEADY = new Actor("steady", EV, () => void runs.steady++);
  await using app = await connectActors(server, [FRAGILE, STEADY]);
  await app.pub.emit(EV, { n: 1 });
  const first = await app.sub.listen({
    burst: true,
    logger: silentLogger,
  });
  assert.equal(first.deadLettered, 1);
  assert.deepEqual(runs, { fragile: 1, steady: 1 });
  broken = false;
  assert.equal(await app.sub.replay(FRAGILE), 1);
  const second = await app.sub.listen({ burst: true, logger: silentLogger });
  assert.deepEqual(runs, { fragile: 2, steady: 1 }, "steady did not run again");
  assert.equal(second.skipped, 1);
  assert.equal(second.succeeded, 1);
  await settled(app.sub.nc, "fan-out", "steady");
  await settled(app.sub.nc, "fan-out", "fragile");
});

test("a ready message on an idle listener starts within milliseconds at any phase of the pull cycle", async () => {
  await using server = await NatsServer.start();
  const A_EV = new Event("idle-a", Num);
  const B_EV = new Event("idle-b", Num);
  let onA = () => {};
  let onB = () => {};
  const A = new Actor("idle-a-worker", A_EV, () => onA());
  const B = new Actor("idle-b-worker", B_EV, () => onB());
  await using app = await connectActors(server, [A, B]);
  await using listening = listenInBackground(app.sub, {
    pollDelay: 2000,
    logger: silentLogger,
  });
  const latencies: number[] = [];
  const start = async (ev: typeof A_EV, set: (f: () => void) => void) => {
    const started = deferred<number>();
    set(() => started.resolve(performance.now()));
    const t0 = performance.now();
    await app.pub.emit(ev, { n: 1 });
    return (await started.promise) - t0;
  };
  // A's job leaves it pulling for every free slot for pollDelay; B's message
  // arrives at several phases of that cycle, and once both are idle again.
  for (const phase of [0, 300, 1000, 1700, 2300]) {
    await start(A_EV, (f) => (onA = f));
    await new Promise((r) => setTimeout(r, phase));
    latencies.push(await start(B_EV, (f) => (onB = f)));
  }
  latencies.push(await start(A_EV, (f) => (onA = f)));
  await listening.stop();
  figure(`idle start latencies (ms): ${latencies.map(Math.round)}`);
  for (const ms of latencies) {
    assert.ok(ms < 500, `a ready message waited ${ms} ms: ${latencies}`);
  }
});

test("the dead-letter stream gets limits: defaults, and the actors' options", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("limited", Num, { limits: { replicas: 1 } });
  const OTHER = new Event("unlimited", Num);
  const A = new Actor("a", EV, () => {}, {
    deadLetter: { maxAge: 3_600_000, maxMessages: 10, storage: "memory" },
  });
  const B = new Actor("b", EV, () => {}, {
    deadLetter: { maxAge: 7_200_000, maxBytes: 1_000_000 },
  });
  const C = new Actor("c", OTHER, () => {});
  await using app = await connectActors(server, [A, B, C]);
  const jsm = await jetstreamManager(app.sub.nc);
  const limited = (await jsm.streams.info("walnats_dlq_limited")).config;
  assert.equal(limited.max_age, 7_200_000 * 1_000_000, "the longest wins");
  assert.equal(limited.max_msgs, 10);
  assert.equal(limited.max_bytes, 1_000_000);
  assert.equal(limited.storage, "file", "file wins over memory");
  assert.equal(limited.num_replicas, 1);
  assert.equal(limited.discard, "old");
  const plain = (await jsm.streams.info("walnats_dlq_unlimited")).config;
  assert.equal(plain.max_age, 30 * 24 * 3600_000 * 1_000_000);
  assert.equal(plain.max_msgs, 100_000);
  assert.equal(plain.max_bytes, -1);
  assert.equal(plain.storage, "file");
});

test("deadLetters() lists hundreds in a few round trips, honouring limit and actor", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("many-dead", Num);
  const A = new Actor("many-a", EV, () => {}, { maxAttempts: 1 });
  const B = new Actor("many-b", EV, () => {}, { maxAttempts: 1 });
  await using app = await connectActors(server, [A, B]);
  // Garbage is poison for both actors: 300 dead letters each.
  const garbage = new TextEncoder().encode("not json");
  await Promise.all(
    Array.from({ length: 300 }, () => app.pub.js.publish("many-dead", garbage)),
  );
  await app.sub.listen({
    burst: true,
    batch: 256,
    maxJobs: 512,
    logger: silentLogger,
  });
  await waitFor(async () => {
    await app.sub.listen({
      burst: true,
      batch: 256,
      maxJobs: 512,
      logger: silentLogger,
    });
    const a = await consumerInfo(app.sub.nc, "many-dead", "many-a");
    const b = await consumerInfo(app.sub.nc, "many-dead", "many-b");
    return a.num_pending + a.num_ack_pending + b.num_pending +
        b.num_ack_pending === 0;
  }, { timeout: 30_000, what: "all dead-lettered" });
  const t0 = performance.now();
  const all = await app.sub.deadLetters(A);
  const took = performance.now() - t0;
  figure(`listed ${all.length} dead letters in ${Math.round(took)} ms`);
  assert.equal(all.length, 300);
  assert.ok(all.every((d) => d.actor === "many-a" && d.reason === "poison"));
  const seqs = all.map((d) => d.sequence);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "oldest first");
  assert.equal((await app.sub.deadLetters(B, { limit: 7 })).length, 7);
  const jsm = await jetstreamManager(app.sub.nc);
  const info = await jsm.streams.info("walnats_dlq_many-dead");
  assert.equal(info.state.consumer_count, 0, "the listing consumer is gone");
});

test("register() keeps a Python walnats max_deliver and listeners count against it", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("mixed-fleet", Num);
  const attempts: number[] = [];
  const A = new Actor("mixed", EV, (_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("always");
  }, { maxAttempts: 3, retryDelay: [50] });
  await using app = await connectActors(server, A);
  const jsm = await jetstreamManager(app.pub.nc);
  // What Python walnats registers for max_attempts=3.
  await jsm.consumers.update("mixed-fleet", "mixed", { max_deliver: 3 });
  const logger = new MemoryLogger();
  await app.sub.register({ logger });
  const info = await consumerInfo(app.pub.nc, "mixed-fleet", "mixed");
  assert.equal(info.config.max_deliver, 3, "not rewritten");
  assert.match(
    logger.at("warn")[0]?.message ?? "",
    /max_deliver 3, as Python walnats sets for max_attempts=3; keeping it/,
  );
  // A delayed emit waits in the delay stream, so all 3 deliveries the
  // consumer allows are attempts: dead-lettered on the last delivery
  // instead of dropped by the server.
  await using listening = listenInBackground(app.sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await app.pub.emit(EV, { n: 1 }, { delay: 200 });
  await waitFor(async () => (await app.sub.deadLetters(A)).length === 1, {
    what: "the dead letter",
  });
  await listening.stop();
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal((await app.sub.deadLetters(A))[0]!.attempts, 3);

  // Any other difference is rewritten, and said so.
  await jsm.consumers.update("mixed-fleet", "mixed", { max_deliver: 9 });
  const logger2 = new MemoryLogger();
  await app.sub.register({ logger: logger2 });
  assert.equal(
    (await consumerInfo(app.pub.nc, "mixed-fleet", "mixed")).config
      .max_deliver,
    5,
  );
  assert.match(
    logger2.at("warn")[0]?.message ?? "",
    /had max_deliver 9; setting 5/,
  );
});

/** How {@linkcode stageRewind} went. */
interface Staged {
  /** The server's version. */
  version: string | undefined;
  /** Parked before the retry was due (else no request waited at all). */
  inTime: boolean;
}

// The trigger of the nats-server 2.9 rewind (nats-io/nats-server#5305) for
// a retry due `retry` ms after `firstRun`: stop `first`, the listener that
// nak'd it; wait until the server dropped its pull requests; park one
// without heartbeats (so no sweep drops it early) and unsubscribe, so when
// the retry is due the only request waiting has lost its subscriber; return
// just after it was due (before the server requeues it).
async function stageRewind(
  server: NatsServer,
  first: Listening,
  { stream, consumer, firstRun, retry }: {
    stream: string;
    consumer: string;
    firstRun: number;
    retry: number;
  },
): Promise<Staged> {
  await first.stop();
  const nc = await rawConnect(server);
  let version: string | undefined;
  try {
    version = nc.info?.version;
    // Consumer info sweeps requests that lost their subscriber; it must not
    // be asked once the parked one has lost its own.
    const waiting = async () =>
      (await consumerInfo(nc, stream, consumer)).num_waiting;
    await waitFor(async () => (await waiting()) === 0, {
      what: "the stopped listener's pull requests to be dropped",
    });
    const inbox = createInbox();
    const sub = nc.subscribe(inbox);
    nc.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
      JSON.stringify({ batch: 1, expires: 30_000_000_000 }),
      { reply: inbox },
    );
    await waitFor(async () => (await waiting()) === 1, {
      what: "the parked pull request",
    });
    sub.unsubscribe();
    await nc.flush();
  } finally {
    await nc.close();
  }
  const inTime = performance.now() - firstRun < retry - 250;
  // A wait on the server's clock: nothing to observe without sweeping.
  await new Promise((r) =>
    setTimeout(r, Math.max(0, firstRun + retry + 150 - performance.now()))
  );
  return { version, inTime };
}

test("a retry the server redelivers as new (nats-server before 2.10.14) keeps counting attempts and is dead-lettered", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("rewound", Num);
  // Attempt 1 waits 4 s for its retry: time to stop the first listener and
  // set the trigger up before it is due; attempt 2 waits 0.5 s.
  const RETRY = 4000;
  const runs: string[] = [];
  let firstRun = 0;
  const A = new Actor("rewound-worker", EV, (_m, ctx) => {
    firstRun ||= performance.now();
    runs.push(`attempt ${ctx.attempt} delivery ${ctx.deliveryCount}`);
    throw new Error("always");
  }, { maxAttempts: 3, retryDelay: [RETRY, 500] });
  await using app = await connectActors(server, A);
  const jsm = await jetstreamManager(app.pub.nc);
  // As Python walnats registers it for max_attempts=3: no spare delivery,
  // so a delivery taken as attempt 1 again would be the server's last.
  await jsm.consumers.update("rewound", "rewound-worker", { max_deliver: 3 });
  await app.sub.register({ logger: silentLogger });
  await app.pub.emit(EV, { n: 1 });
  const first = listenInBackground(app.sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await waitFor(() => runs.length === 1, { what: "attempt 1" });
  // nats-server before 2.10.14 then rewinds the consumer: the next delivery
  // comes as new, with count 1.
  const { version, inTime } = await stageRewind(server, first, {
    stream: "rewound",
    consumer: "rewound-worker",
    firstRun,
    retry: RETRY,
  });
  const logger = new MemoryLogger();
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger,
  });
  const story = () =>
    `${runs.join("\n")}\nlog:\n${
      logger.entries.map((e) => `${e.level} ${e.message}`).join("\n")
    }`;
  await waitFor(async () => (await app.sub.deadLetters(A)).length === 1, {
    timeout: 15_000,
    what: () => `the dead letter:\n${story()}`,
  });
  // No copy comes after the dead letter.
  await new Promise((r) => setTimeout(r, 1000));
  await listening.stop();
  const rewound = logger.entries.some((e) =>
    /lower delivery count/.test(e.message)
  );
  if (serverAtLeast(version, [2, 10, 14])) {
    assert.equal(rewound, false, story());
  } else if (inTime) {
    assert.ok(rewound, `the trigger did not rewind the consumer:\n${story()}`);
  } else {
    figure(`rewind trigger set up too late (a loaded machine):\n${story()}`);
  }
  assert.deepEqual(
    runs.map((r) => r.split(" delivery")[0]),
    ["attempt 1", "attempt 2", "attempt 3"],
    story(),
  );
  const dead = (await app.sub.deadLetters(A))[0]!;
  assert.equal(dead.attempts, 3, story());
  assert.equal(dead.reason, "exhausted", story());
});

test("a retry the server drops for an ackWait (nats-server before 2.10.14) still runs, and nothing runs twice", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("rewound-late", Num);
  const RETRY = 4000;
  const runs: { n: number; attempt: number }[] = [];
  let firstRun = 0;
  const A = new Actor("rewound-late-worker", EV, ({ n }, ctx) => {
    firstRun ||= performance.now();
    runs.push({ n, attempt: ctx.attempt });
    if (n === 1 && ctx.attempt === 1) throw new Error("once");
  }, { maxAttempts: 3, retryDelay: [RETRY], ackWait: 2000 });
  await using app = await connectActors(server, A);
  await app.pub.emitMany(EV, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const first = listenInBackground(app.sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await waitFor(() => runs.length === 3, { what: "three runs" });
  // With the retried message first and the others acked, 2.9.10 drops the
  // retry until its ackWait is over and then counts the delivery it failed
  // to make.
  const { version, inTime } = await stageRewind(server, first, {
    stream: "rewound-late",
    consumer: "rewound-late-worker",
    firstRun,
    retry: RETRY,
  });
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  const story = () => JSON.stringify(runs);
  await waitFor(() => runs.length === 4, {
    timeout: 20_000,
    what: () => `the retry: ${story()}`,
  });
  await settled(app.sub.nc, "rewound-late", "rewound-late-worker");
  await new Promise((r) => setTimeout(r, 500));
  await listening.stop();
  assert.deepEqual(runs.map((r) => r.n), [1, 2, 3, 1], story());
  // 3 where the server counted the delivery it never made; 2 where it is
  // right (or the trigger was set up too late on a loaded machine).
  if (!serverAtLeast(version, [2, 10, 14]) && inTime) {
    assert.equal(runs[3]!.attempt, 3, story());
  } else {
    assert.ok([2, 3].includes(runs[3]!.attempt), story());
  }
  assert.equal((await app.sub.deadLetters(A)).length, 0, story());
});

test("ctx.working() keeps a job without the automatic pulse from being redelivered", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("self-pulse", Num);
  let runs = 0;
  const SELF = new Actor("self-pulse-worker", EV, async (_m, ctx) => {
    runs++;
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 200));
      ctx.working();
    }
  }, { ackWait: 600, pulse: false });
  await using app = await connectActors(server, SELF);
  await using other = await new Actors(SELF).connect(server.url);
  await using a = listenInBackground(app.sub, { pollDelay: 300 });
  await using b = listenInBackground(other, { pollDelay: 300 });
  await app.pub.emit(EV, { n: 1 });
  const info = await settled(app.sub.nc, "self-pulse", "self-pulse-worker");
  await Promise.all([a.stop(), b.stop()]);
  assert.equal(runs, 1, "1.6 s job, 0.6 s ackWait: delivered once");
  assert.equal(info.num_redelivered, 0);
});

test("listen() rejects nonsense options at once, naming the option", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("opts", Num);
  await using app = await connectActors(server, new Actor("o", EV, () => {}));
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ batch: 0 }, /batch must be a positive integer, got 0/],
    [{ maxPolls: 0 }, /maxPolls must be a positive integer, got 0/],
    [{ maxJobs: -1 }, /maxJobs must be a positive integer, got -1/],
    [{ grace: -1 }, /grace must be a non-negative number/],
    [{ pollDelay: NaN }, /pollDelay must be a positive integer, got NaN/],
    [{ batch: 1.5 }, /batch must be a positive integer/],
  ];
  for (const [options, message] of cases) {
    const t0 = performance.now();
    await assert.rejects(app.sub.listen(options), (error: Error) => {
      assert.ok(error instanceof RangeError, String(error));
      assert.match(error.message, /^Cannot listen: /);
      assert.match(error.message, message);
      return true;
    });
    assert.ok(performance.now() - t0 < 1000, "rejected at once");
  }
  await assert.rejects(
    app.sub.listen({ burst: "yes" as unknown as boolean }),
    TypeError,
  );
});
