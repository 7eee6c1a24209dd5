// The failure rules over a job's life: timeouts, replayed dead letters,
// pulses, Python-made consumers, a failing dead-letter copy, poison (see
// failure_rules.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  HEADER_DELAY,
  HEADER_REPLAY_ACTOR,
  JobTimeoutError,
  PermanentError,
} from "../mod.ts";
import { Job } from "../src/listen/_job.ts";
import { DLQ_HEADERS } from "../src/dead_letter.ts";
import { settle } from "./_fakes.ts";
import { actor, deliver, harness, NOW, runJob } from "./_failure_rules.ts";

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
