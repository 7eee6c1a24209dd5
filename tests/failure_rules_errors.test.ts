// The failure rules for errors and retry delays: PermanentError,
// isPermanent, RetryError, retryDelay functions, exponentialBackoff (see
// failure_rules.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  exponentialBackoff,
  MAX_RETRY_DELAY,
  PermanentError,
  RetryError,
} from "../mod.ts";
import { DLQ_HEADERS } from "../src/dead_letter.ts";
import { actor, harness, runJob } from "./_failure_rules.ts";

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
