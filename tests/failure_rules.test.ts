// The failure rules as unit tests: one Job run against a fake message that
// records what the engine answered (ack, nak with its delay, term, pulse),
// with fake timers and a fake dead-letter publisher. Deterministic and fast;
// tests/actors.test.ts checks the same rules against a real server.
// Here: attempts, delays and the delivery plan; errors and retry delays are
// in failure_rules_errors.test.ts, timeouts and the rest of a job's life in
// failure_rules_jobs.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_ATTEMPTS, HEADER_DELAY } from "../mod.ts";
import { planDelivery } from "../src/listen/_attempts.ts";
import { DLQ_HEADERS } from "../src/dead_letter.ts";
import { RewindGuard } from "../src/listen/_rewinds.ts";
import {
  actor,
  type Answer,
  deliver,
  harness,
  NOW,
  runJob,
} from "./_failure_rules.ts";

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

test("a delayed message due within a second waits on its first delivery and is attempt 1 on the next", async () => {
  let attempts: number[] = [];
  const A = actor((_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("boom");
  }, { maxAttempts: 2 });
  const until = NOW + 800;
  const headers = { [HEADER_DELAY]: String(until / 1000) };
  const h = harness();
  const first = await runJob(h, A, { deliveryCount: 1, headers });
  assert.equal(first.answers[0]!.kind, "nak");
  const waited = (first.answers[0] as { delay: number }).delay;
  assert.ok(Math.abs(waited - 800) < 2, `waited ${waited} ms`);
  assert.deepEqual(attempts, [], "the handler did not run for the wait");
  assert.equal(h.stats.delayed, 1);
  await h.timers.advance(800);
  await runJob(h, A, { deliveryCount: 2, headers });
  await runJob(h, A, { deliveryCount: 3, headers });
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(h.deadLetters.length, 1, "maxAttempts 2: two runs, then dead");
  assert.equal(h.deadLetters[0]!.headers[DLQ_HEADERS.attempts], "2");
  attempts = [];
});

test("a delayed message due later than a second is moved to the delay stream and acked, not run", async () => {
  const attempts: number[] = [];
  const A = actor((_m, ctx) => void attempts.push(ctx.attempt));
  const headers = { [HEADER_DELAY]: String((NOW + 5_000) / 1000) };
  const h = harness();
  const first = await runJob(h, A, { deliveryCount: 1, headers });
  assert.equal(
    first.answers[0]!.kind,
    "ack",
    "the original leaves the consumer",
  );
  assert.deepEqual(attempts, [], "the handler did not run");
  assert.equal(h.stats.delayed, 1);
  const moved = h.deadLetters.at(-1)!;
  assert.match(moved.subject, /^walnats_delay\./);
  assert.match(moved.headers["Nats-Msg-Id"] ?? "", /^moved:/);
  assert.equal(moved.headers[HEADER_DELAY], headers[HEADER_DELAY]);
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

test("a delivery count that went backwards after a nak counts on from the last delivery", () => {
  const guard = new RewindGuard(2);
  // Nothing nak'd: every delivery is taken as it comes.
  const fresh = deliver({ sequence: 7, deliveryCount: 1 }).msg;
  assert.equal(guard.rewound(fresh), undefined);
  // Nak'd at delivery 2; the server sends it again as new (count 1).
  const second = deliver({ sequence: 7, deliveryCount: 2 }).msg;
  second.nak(50);
  assert.equal(second.nakked, true);
  guard.nakked(second);
  const back = deliver({ sequence: 7, deliveryCount: 1 });
  const counted = guard.rewound(back.msg);
  assert.ok(counted !== undefined);
  assert.equal(counted.meta.deliveryCount, 3);
  assert.equal(counted.meta.streamSequence, 7);
  // The copy answers through the same message.
  counted.ack();
  assert.deepEqual(back.answers, [{ kind: "ack" }]);
  // Checked once: the next delivery is taken as it comes again.
  assert.equal(guard.size, 0);
  // An unreadable count (a forged ack subject) counts on too.
  const nakked = deliver({ sequence: 9, deliveryCount: 2 }).msg;
  nakked.nak(0);
  guard.nakked(nakked);
  assert.equal(
    guard.rewound(deliver({ sequence: 9, deliveryCount: NaN }).msg)?.meta
      .deliveryCount,
    3,
  );
  // A higher count is no rewind.
  guard.nakked(deliver({ sequence: 8, deliveryCount: 1 }).msg);
  const next = deliver({ sequence: 8, deliveryCount: 2 }).msg;
  assert.equal(guard.rewound(next), undefined);
  // Bounded: the oldest is forgotten first.
  for (const sequence of [1, 2, 3]) {
    guard.nakked(deliver({ sequence, deliveryCount: 4 }).msg);
  }
  assert.equal(guard.size, 2);
  assert.equal(
    guard.rewound(deliver({ sequence: 1, deliveryCount: 1 }).msg),
    undefined,
  );
  assert.ok(
    guard.rewound(deliver({ sequence: 3, deliveryCount: 1 }).msg) !== undefined,
  );
  // A consumer made again counts from 1: nothing is corrected after clear().
  guard.clear();
  assert.equal(
    guard.rewound(deliver({ sequence: 2, deliveryCount: 1 }).msg),
    undefined,
  );
});
