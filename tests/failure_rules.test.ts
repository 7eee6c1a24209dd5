// The failure rules as unit tests: one Job run against a fake message that
// records what the engine answered (ack, nak with its delay, term, pulse),
// with fake timers and a fake dead-letter publisher. Deterministic and fast;
// tests/actors.test.ts checks the same rules against a real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import {
  Actor,
  type ActorOptions,
  DEFAULT_MAX_ATTEMPTS,
  Event,
  exponentialBackoff,
  HEADER_DELAY,
  HEADER_REPLAY_ACTOR,
  JobTimeoutError,
  MAX_RETRY_DELAY,
  PermanentError,
  RetryError,
} from "../mod.ts";
import { Job, type JobEnv, type JobStats } from "../src/listen/_job.ts";
import { JobMessage } from "../src/listen/_jsmsg.ts";
import { planDelivery } from "../src/listen/_attempts.ts";
import { DLQ_HEADERS } from "../src/dead_letter.ts";
import { FakeTimers, MemoryLogger, settle } from "./_fakes.ts";

const Num = v.object({ n: v.number() });
const EV = new Event("rules", Num);
const NOW = 1_800_000_000_000;

/** What the engine answered to one delivery. */
type Answer =
  | { kind: "ack" }
  | { kind: "nak"; delay: number }
  | { kind: "term"; reason: string | undefined }
  | { kind: "working" };

function parseAnswer(bytes: Uint8Array): Answer {
  const text = new TextDecoder().decode(bytes);
  if (text === "+ACK") return { kind: "ack" };
  if (text === "+WPI") return { kind: "working" };
  if (text.startsWith("+TERM")) {
    return { kind: "term", reason: text.slice(6) || undefined };
  }
  const nak = /^-NAK(?: (.*))?$/.exec(text);
  if (nak) {
    const delay = nak[1] ? Number(JSON.parse(nak[1]).delay) / 1e6 : 0;
    return { kind: "nak", delay };
  }
  throw new Error(`unexpected answer ${text}`);
}

interface Delivery {
  deliveryCount?: number;
  /** Stored time, epoch ms. */
  timestamp?: number;
  headers?: Record<string, string>;
  data?: string;
  sequence?: number;
}

/** One fake delivery: a real JobMessage over a Msg that records answers. */
function deliver(d: Delivery = {}): { msg: JobMessage; answers: Answer[] } {
  const answers: Answer[] = [];
  const h = natsHeaders();
  for (const [k, value] of Object.entries(d.headers ?? {})) h.set(k, value);
  const raw = {
    subject: "rules",
    reply: "$JS.ACK.rules.w.1.1.1.0.0",
    data: new TextEncoder().encode(d.data ?? '{"n":1}'),
    headers: d.headers ? h : undefined,
    respond(bytes: Uint8Array) {
      answers.push(parseAnswer(bytes));
      return true;
    },
  } as unknown as Msg;
  const msg = new JobMessage(raw, {
    stream: "rules",
    consumer: "w",
    deliveryCount: d.deliveryCount ?? 1,
    streamSequence: d.sequence ?? 7,
    consumerSequence: 1,
    timestamp: d.timestamp ?? NOW - 1000,
    pending: 0,
  });
  return { msg, answers };
}

interface Harness {
  env: JobEnv;
  timers: FakeTimers;
  logger: MemoryLogger;
  stats: JobStats;
  deadLetters: { subject: string; headers: Record<string, string> }[];
}

function harness(options: { dlqFails?: boolean } = {}): Harness {
  const timers = new FakeTimers(NOW);
  const logger = new MemoryLogger();
  const deadLetters: Harness["deadLetters"] = [];
  const js = {
    publish(
      subject: string,
      _data: Uint8Array,
      opts: { headers: Iterable<[string, string[]]> },
    ) {
      if (options.dlqFails) return Promise.reject(new Error("no stream"));
      const headers: Record<string, string> = {};
      for (const [k, vs] of opts.headers) headers[k] = vs[0] ?? "";
      deadLetters.push({ subject, headers });
      return Promise.resolve({ seq: deadLetters.length, duplicate: false });
    },
  };
  const nc = { publish() {} };
  const env = {
    nc,
    js,
    logger,
    termReasons: false,
    timers,
  } as unknown as JobEnv;
  const stats: JobStats = {
    succeeded: 0,
    failed: 0,
    deadLettered: 0,
    delayed: 0,
    timedOut: 0,
    skipped: 0,
  };
  return { env, timers, logger, stats, deadLetters };
}

/** Run one delivery through a job; resolves when the message is answered. */
async function runJob(
  h: Harness,
  actor: Actor<{ n: number }>,
  d: Delivery = {},
  maxDeliver?: number,
): Promise<{ answers: Answer[]; job: Job }> {
  const { msg, answers } = deliver(d);
  let done!: () => void;
  const settled = new Promise<void>((r) => (done = r));
  const job = new Job(actor, msg, h.env, () => done(), maxDeliver);
  job.run(h.stats);
  await settled;
  return { answers, job };
}

function actor(
  handler: (m: { n: number }, ctx: { attempt: number }) => unknown,
  options: ActorOptions<{ n: number }> = {},
): Actor<{ n: number }> {
  return new Actor("w", EV, handler, options);
}

test("a handler that resolves is acked", async () => {
  const h = harness();
  const { answers } = await runJob(h, actor(() => {}));
  assert.deepEqual(answers, [{ kind: "ack" }]);
  assert.equal(h.stats.succeeded, 1);
});

test("a failing attempt is nak'd with retryDelay[attempt - 1], the last entry repeating", async () => {
  for (const [count, delay] of [[1, 500], [2, 1000], [4, 4000]] as const) {
    const h = harness();
    const { answers } = await runJob(
      h,
      actor(() => {
        throw new Error("boom");
      }),
      { deliveryCount: count },
    );
    assert.deepEqual(answers, [{ kind: "nak", delay }], `attempt ${count}`);
  }
  const h = harness();
  const seen: number[] = [];
  const { answers } = await runJob(
    h,
    actor(() => {
      throw new Error("boom");
    }, { retryDelay: [10, 20], maxAttempts: 10 }),
    { deliveryCount: 7 },
  );
  seen.push(answers.length);
  assert.deepEqual(answers, [{ kind: "nak", delay: 20 }]);
});

test("maxAttempts defaults to 5: the fifth failure dead-letters, then terminates", async () => {
  assert.equal(DEFAULT_MAX_ATTEMPTS, 5);
  const A = actor(() => {
    throw new Error("boom");
  });
  assert.equal(A.maxAttempts, 5);
  assert.equal(A.consumerConfig().max_deliver, 7);
  const h = harness();
  const fourth = await runJob(h, A, { deliveryCount: 4 });
  assert.deepEqual(fourth.answers, [{ kind: "nak", delay: 4000 }]);
  const fifth = await runJob(h, A, { deliveryCount: 5 });
  assert.deepEqual(fifth.answers, [{ kind: "term", reason: undefined }]);
  assert.equal(h.deadLetters.length, 1);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "5");
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.reason], "exhausted");
});

test("maxAttempts: Infinity retries for ever and leaves max_deliver unbounded", async () => {
  const A = actor(() => {
    throw new Error("boom");
  }, { maxAttempts: Infinity });
  assert.equal(A.consumerConfig().max_deliver, -1);
  const h = harness();
  const { answers } = await runJob(h, A, { deliveryCount: 1000 }, -1);
  assert.deepEqual(answers, [{ kind: "nak", delay: 4000 }]);
});

test("a delivery after the last attempt died dead-letters without running, recording the runs that happened", async () => {
  let runs = 0;
  const A = actor(() => {
    runs++;
  }, { maxAttempts: 3 });
  const h = harness();
  const { answers } = await runJob(h, A, { deliveryCount: 4 });
  assert.equal(runs, 0);
  assert.deepEqual(answers, [{ kind: "term", reason: undefined }]);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "3");
  assert.match(
    h.deadLetters[0]!.headers[DLQ_HEADERS.error]!,
    /attempt 3 of 3 did not finish/,
  );
});

test("a delayed message waits on its first delivery and is attempt 1 on the next", async () => {
  let attempts: number[] = [];
  const A = actor((_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("boom");
  }, { maxAttempts: 2 });
  const until = NOW + 5_000;
  const headers = { [HEADER_DELAY]: String(until / 1000) };
  const h = harness();
  const first = await runJob(h, A, { deliveryCount: 1, headers });
  assert.equal(first.answers[0]!.kind, "nak");
  const waited = (first.answers[0] as { delay: number }).delay;
  assert.ok(Math.abs(waited - 5000) < 2, `waited ${waited} ms`);
  assert.deepEqual(attempts, [], "the handler did not run for the wait");
  assert.equal(h.stats.delayed, 1);
  await h.timers.advance(5_000);
  await runJob(h, A, { deliveryCount: 2, headers });
  await runJob(h, A, { deliveryCount: 3, headers });
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(h.deadLetters.length, 1, "maxAttempts 2: two runs, then dead");
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "2");
  attempts = [];
});

test("a backlogged delayed message (first delivered after its delay) still spends its first delivery waiting, so attempts stay exact", async () => {
  const attempts: number[] = [];
  const A = actor((_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("boom");
  }, { maxAttempts: 2 });
  // Stored an hour ago with a 10-minute delay: long over at delivery 1.
  const timestamp = NOW - 3_600_000;
  const headers = { [HEADER_DELAY]: String((timestamp + 600_000) / 1000) };
  const h = harness();
  const runs: Answer[][] = [];
  for (let count = 1; count <= 4; count++) {
    if (h.deadLetters.length > 0) break;
    runs.push(
      (await runJob(h, A, { deliveryCount: count, timestamp, headers }))
        .answers,
    );
  }
  assert.deepEqual(runs[0], [{ kind: "nak", delay: 0 }], "redelivered at once");
  assert.deepEqual(attempts, [1, 2], "ran exactly maxAttempts times");
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "2");
});

test("a delayed message whose last attempt died is dead-lettered with the true count", async () => {
  const A = actor(() => {}, { maxAttempts: 3 });
  const timestamp = NOW - 10_000;
  const headers = { [HEADER_DELAY]: String((timestamp + 5_000) / 1000) };
  const h = harness();
  // Delivery 1 waited, 2..4 were attempts 1..3 that died: delivery 5.
  const { answers } = await runJob(h, A, {
    deliveryCount: 5,
    timestamp,
    headers,
  });
  assert.deepEqual(answers, [{ kind: "term", reason: undefined }]);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "3");
});

test("a message without a delay header, or with a delay not after its stored time, waits for nothing; a malformed one is poison", async () => {
  const attempts: number[] = [];
  const A = actor((_m, ctx) => void attempts.push(ctx.attempt));
  const h = harness();
  const timestamp = NOW - 1000;
  await runJob(h, A, {
    deliveryCount: 1,
    timestamp,
    headers: { [HEADER_DELAY]: String((timestamp - 60_000) / 1000) },
  });
  await runJob(h, A, { deliveryCount: 1 });
  assert.deepEqual(attempts, [1, 1]);
  assert.equal(h.stats.delayed, 0);
  // A malformed header is poison: never run, dead-lettered with 0 attempts.
  const bad = await runJob(h, A, {
    deliveryCount: 1,
    headers: { [HEADER_DELAY]: "not a number" },
  });
  assert.deepEqual(bad.answers, [{ kind: "term", reason: undefined }]);
  assert.deepEqual(attempts, [1, 1]);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.reason], "poison");
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "0");
});

test("PermanentError dead-letters at once with reason permanent", async () => {
  let runs = 0;
  const A = actor(() => {
    runs++;
    throw new PermanentError("account deleted");
  });
  const h = harness();
  const { answers } = await runJob(h, A, { deliveryCount: 1 });
  assert.equal(runs, 1);
  assert.deepEqual(answers, [{ kind: "term", reason: undefined }]);
  const dead = h.deadLetters[0]!.headers;
  assert.equal(dead[DLQ_HEADERS.reason], "permanent");
  assert.equal(dead[DLQ_HEADERS.attempts], "1");
  assert.equal(dead[DLQ_HEADERS.error], "PermanentError: account deleted");
});

test("an error named PermanentError from another copy of the package is permanent too", async () => {
  const foreign = new Error("x");
  foreign.name = "PermanentError";
  const h = harness();
  await runJob(
    h,
    actor(() => {
      throw foreign;
    }),
  );
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.reason], "permanent");
});

test("isPermanent decides which errors are poison; a throwing predicate retries", async () => {
  class NotFound extends Error {}
  const A = actor(() => {
    throw new NotFound("gone");
  }, { isPermanent: (e) => e instanceof NotFound });
  const h = harness();
  await runJob(h, A);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.reason], "permanent");

  const B = actor(() => {
    throw new Error("flaky");
  }, {
    isPermanent: () => {
      throw new Error("predicate bug");
    },
  });
  const h2 = harness();
  const { answers } = await runJob(h2, B);
  assert.deepEqual(answers, [{ kind: "nak", delay: 500 }]);
  assert.equal(h2.logger.find(/isPermanent failed/).length, 1);
});

test("RetryError naks with its own delay and counts as an attempt", async () => {
  const A = actor(() => {
    throw new RetryError("429", { delay: 30_000 });
  }, { maxAttempts: 2 });
  const h = harness();
  const first = await runJob(h, A, { deliveryCount: 1 });
  assert.deepEqual(first.answers, [{ kind: "nak", delay: 30_000 }]);
  const second = await runJob(h, A, { deliveryCount: 2 });
  assert.deepEqual(second.answers, [{ kind: "term", reason: undefined }]);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.reason], "exhausted");
});

test("RetryError rejects a delay it cannot honour", () => {
  for (const delay of [-1, NaN, Infinity, MAX_RETRY_DELAY + 1]) {
    assert.throws(
      () => new RetryError("x", { delay }),
      /Cannot create RetryError: delay must be a number of milliseconds/,
    );
  }
  assert.throws(
    () => new RetryError("x", undefined as unknown as { delay: number }),
    RangeError,
  );
  assert.equal(new RetryError("x", { delay: 0 }).delay, 0);
});

test("a retryDelay function gets the failed attempt; nonsense from it falls back to the default schedule", async () => {
  const calls: number[] = [];
  const A = actor(() => {
    throw new Error("boom");
  }, {
    retryDelay: (attempt) => {
      calls.push(attempt);
      return attempt * 100;
    },
  });
  const h = harness();
  const { answers } = await runJob(h, A, { deliveryCount: 3 });
  assert.deepEqual(calls, [3]);
  assert.deepEqual(answers, [{ kind: "nak", delay: 300 }]);
  for (const bad of [() => NaN, () => -5, () => "1" as unknown as number]) {
    const B = actor(() => {
      throw new Error("boom");
    }, { retryDelay: bad });
    assert.equal(B.retryDelayFor(2), 1000);
  }
  const C = actor(() => {}, {
    retryDelay: () => {
      throw new Error("schedule bug");
    },
  });
  assert.equal(C.retryDelayFor(1), 500);
});

test("exponentialBackoff doubles up to its cap and jitters within it", () => {
  const none = exponentialBackoff({ base: 100, max: 1000, jitter: "none" });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 1e6].map(none),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
  const full = exponentialBackoff({ base: 100, max: 1000, random: () => 0.5 });
  assert.deepEqual([1, 4, 9].map(full), [50, 400, 500]);
  const equal = exponentialBackoff({
    base: 100,
    max: 1000,
    jitter: "equal",
    random: () => 0,
  });
  assert.deepEqual([1, 4].map(equal), [50, 400]);
  // A thousand failing jobs spread out instead of retrying together.
  const spread = exponentialBackoff({ base: 1000, max: 60_000 });
  const delays = new Set(Array.from({ length: 1000 }, () => spread(5)));
  assert.ok(delays.size > 500, `only ${delays.size} distinct delays`);
  assert.ok([...delays].every((d) => d >= 0 && d <= 16_000));
  assert.throws(() => exponentialBackoff({ base: -1 }), /base must be/);
  assert.throws(() => exponentialBackoff({ max: NaN }), /max must be/);
  assert.throws(() => exponentialBackoff({ base: 10, max: 5 }), /max \(5 ms\)/);
  assert.throws(() => exponentialBackoff({ factor: 0.5 }), /factor must be/);
  assert.throws(
    () => exponentialBackoff({ jitter: "half" as "full" }),
    /jitter must be "full", "equal" or "none"/,
  );
  // Usable as an actor's retryDelay.
  const A = actor(() => {}, { retryDelay: none });
  assert.equal(A.retryDelayFor(3), 400);
});

test("a timed-out job keeps its slot and sends nothing until its handler settles", async () => {
  let finish!: () => void;
  const aborted: unknown[] = [];
  const A = actor((_m, ctx) =>
    new Promise<void>((resolve) => {
      const c = ctx as unknown as { signal: AbortSignal };
      c.signal.addEventListener("abort", () => aborted.push(c.signal.reason));
      finish = resolve; // ignores the signal
    }), { jobTimeout: 100 });
  const h = harness();
  const { msg, answers } = deliver({ deliveryCount: 1 });
  let settledAt = -1;
  const job = new Job(A, msg, h.env, () => (settledAt = h.timers.now()));
  job.run(h.stats);
  await settle();
  job.timeout(h.stats);
  job.timeout(h.stats); // the sweep may call it again: counted once
  await settle();
  assert.ok(aborted[0] instanceof JobTimeoutError);
  assert.equal(job.overdue, true);
  assert.deepEqual(answers, [], "no nak while the handler still runs");
  assert.equal(settledAt, -1, "the slot is still taken");
  assert.equal(h.stats.timedOut, 1);
  assert.equal(h.logger.find(/keeps its slot/).length, 1);
  await h.timers.advance(5_000);
  finish(); // it resolves, but its outcome was decided by the timeout
  await settle();
  assert.deepEqual(answers, [{ kind: "nak", delay: 500 }]);
  assert.notEqual(settledAt, -1);
  assert.equal(job.overdue, false);
  assert.equal(h.stats.succeeded, 0);
  assert.equal(h.stats.failed, 1);
});

test("a timed-out last attempt is dead-lettered once the handler settles", async () => {
  let finish!: (e: Error) => void;
  const A = actor(() => new Promise((_r, reject) => (finish = reject)), {
    maxAttempts: 1,
  });
  const h = harness();
  const { msg, answers } = deliver({ deliveryCount: 1 });
  let settled = false;
  const job = new Job(A, msg, h.env, () => (settled = true));
  job.run(h.stats);
  await settle();
  job.timeout(h.stats);
  await settle();
  assert.equal(settled, false);
  finish(new Error("late"));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(answers, [{ kind: "term", reason: undefined }]);
  assert.match(
    h.deadLetters[0]!.headers[DLQ_HEADERS.error]!,
    /JobTimeoutError/,
  );
});

test("a replayed dead letter runs only in the actor it names; others ack it unrun", async () => {
  let runs = 0;
  const A = actor(() => void runs++);
  const h = harness();
  const other = await runJob(h, A, {
    headers: { [HEADER_REPLAY_ACTOR]: "someone-else" },
  });
  assert.deepEqual(other.answers, [{ kind: "ack" }]);
  assert.equal(runs, 0);
  assert.equal(h.stats.skipped, 1);
  await runJob(h, A, { headers: { [HEADER_REPLAY_ACTOR]: "w" } });
  await runJob(h, A, { headers: { [HEADER_REPLAY_ACTOR]: "" } });
  assert.equal(runs, 2);
});

test("ctx.working() pulses the message", async () => {
  const h = harness();
  const { answers } = await runJob(
    h,
    actor((_m, ctx) => {
      (ctx as unknown as { working(): void }).working();
    }),
  );
  assert.deepEqual(answers, [{ kind: "working" }, { kind: "ack" }]);
});

test("with a Python-made consumer (max_deliver = maxAttempts) the last delivery dead-letters", async () => {
  const attempts: number[] = [];
  const A = actor((_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("boom");
  }, { maxAttempts: 3 });
  const timestamp = NOW - 10_000;
  const headers = { [HEADER_DELAY]: String((timestamp + 5_000) / 1000) };
  const h = harness();
  for (let count = 1; count <= 3; count++) {
    await runJob(h, A, { deliveryCount: count, timestamp, headers }, 3);
  }
  assert.deepEqual(attempts, [1, 2], "one of the 3 deliveries was the wait");
  assert.equal(h.deadLetters.length, 1, "dead-lettered on delivery 3");
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "2");
  // Still delayed on the consumer's last delivery: no nak can bring it back.
  const h2 = harness();
  const late = await runJob(h2, A, {
    deliveryCount: 3,
    headers: { [HEADER_DELAY]: String((NOW + 60_000) / 1000) },
  }, 3);
  assert.deepEqual(late.answers, [{ kind: "term", reason: undefined }]);
  assert.match(
    h2.deadLetters[0]!.headers[DLQ_HEADERS.error]!,
    /max_deliver 3.*delay is not over/,
  );
});

test("when the dead-letter copy fails the original is nak'd, not terminated", async () => {
  const h = harness({ dlqFails: true });
  const { answers } = await runJob(
    h,
    actor(() => {
      throw new PermanentError("x");
    }),
  );
  assert.deepEqual(answers, [{ kind: "nak", delay: 500 }]);
  assert.equal(h.stats.deadLettered, 0);
});

test("a payload that does not decode is poison on any attempt", async () => {
  const h = harness();
  let runs = 0;
  const { answers } = await runJob(h, actor(() => void runs++), {
    data: "{oops",
  });
  assert.equal(runs, 0);
  assert.deepEqual(answers, [{ kind: "term", reason: undefined }]);
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.reason], "poison");
});

test("planDelivery: the table of deliveries, waits and attempts", () => {
  const ts = NOW - 10_000;
  const limits = { maxAttempts: 3, maxDeliver: 5 };
  const plan = (count: number, until?: number, now = NOW) =>
    planDelivery({ deliveryCount: count, timestamp: ts, until, now }, limits);
  assert.deepEqual(plan(1), { kind: "run", attempt: 1, final: false });
  assert.deepEqual(plan(3), { kind: "run", attempt: 3, final: true });
  assert.equal(plan(4).kind, "exhausted");
  assert.deepEqual(plan(1, NOW + 100), { kind: "wait", delay: 100 });
  assert.deepEqual(plan(1, ts + 5_000), { kind: "wait", delay: 0 });
  assert.deepEqual(plan(2, ts + 5_000), {
    kind: "run",
    attempt: 1,
    final: false,
  });
  assert.deepEqual(plan(4, ts + 5_000), {
    kind: "run",
    attempt: 3,
    final: true,
  });
  // Came back early (a copy with a slow clock): wait again.
  assert.deepEqual(plan(2, NOW + 50), { kind: "wait", delay: 50 });
  assert.equal(plan(5, NOW + 50).kind, "exhausted", "no delivery left");
  // Nonsense delivery counts are read as 1.
  assert.deepEqual(plan(NaN), { kind: "run", attempt: 1, final: false });
  assert.deepEqual(plan(0), { kind: "run", attempt: 1, final: false });
});

test("Actor checks the new failure options", () => {
  assert.throws(
    () => actor(() => {}, { maxAttempts: 0 }),
    /maxAttempts must be positive/,
  );
  assert.throws(
    () => actor(() => {}, { maxAttempts: NaN }),
    /maxAttempts must be an integer/,
  );
  assert.throws(
    () => actor(() => {}, { retryDelay: "fast" as unknown as number[] }),
    /retryDelay must be an array or a function/,
  );
  assert.throws(
    () => actor(() => {}, { isPermanent: true as unknown as () => boolean }),
    /isPermanent must be a function/,
  );
  assert.throws(
    () => actor(() => {}, { deadLetter: { maxAge: -1 } }),
    /deadLetter.maxAge must be a positive integer/,
  );
  assert.throws(
    () => actor(() => {}, { deadLetter: { replicas: 6 } }),
    /deadLetter.replicas must be a positive integer up to 5/,
  );
  assert.throws(
    () => actor(() => {}, { deadLetter: { storage: "disk" as "file" } }),
    /deadLetter.storage must be "file" or "memory"/,
  );
  assert.throws(
    () =>
      actor(() => {}, {
        deadLetter: { maxAgee: 1 } as unknown as { maxAge: number },
      }),
    /unknown deadLetter option "maxAgee"/,
  );
  assert.throws(
    () => actor(() => {}, { deadLetter: "yes" as unknown as boolean }),
    /deadLetter must be a boolean or an object/,
  );
  const ok = actor(() => {}, { deadLetter: { maxAge: 1000 } });
  assert.equal(ok.deadLetter, true);
  assert.deepEqual(ok.deadLetterStream, { maxAge: 1000 });
  assert.equal(actor(() => {}, { deadLetter: false }).deadLetter, false);
});
