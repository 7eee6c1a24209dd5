import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  Actor,
  Event,
  type FailureContext,
  type ListenReport,
  type Middleware,
  type SuccessContext,
} from "../mod.ts";
import {
  consoleLogging,
  errorThreshold,
  frequency,
  logging,
  logtapeLogger,
} from "../src/middlewares/mod.ts";
import { fakeContext, FakeTimers, MemoryLogger } from "./_fakes.ts";
import {
  connectActors,
  consumerInfo,
  deferred,
  NatsServer,
  waitFor,
} from "./_helpers.ts";

const Order = v.object({ id: v.number() });
type Order = v.InferOutput<typeof Order>;
const ORDERED = new Event("order-placed", Order);

/** LogTape's "walnats" records, from debug up, until disposed. */
async function logTapeRecords(): Promise<
  { records: LogRecord[] } & AsyncDisposable
> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { buffer: (record: LogRecord) => void records.push(record) },
    loggers: [
      { category: ["walnats"], lowestLevel: "debug", sinks: ["buffer"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
    reset: true,
  });
  return { records, [Symbol.asyncDispose]: reset };
}

/**
 * Emit orders with ids 0 to `count` - 1 and let `actor` handle them in one
 * burst, logging to memory.
 */
async function handleOrders(
  server: NatsServer,
  actor: Actor<Order>,
  count: number,
): Promise<ListenReport> {
  await using app = await connectActors(server, actor);
  for (let id = 0; id < count; id++) await app.pub.emit(ORDERED, { id });
  return await app.sub.listen({
    burst: true,
    batch: count,
    logger: new MemoryLogger(),
  });
}

/** Record every hook call as "<name>:<hook>". */
function recorder(name: string, calls: string[]): Middleware {
  return {
    onStart: () => void calls.push(`${name}:start`),
    onSuccess: () => void calls.push(`${name}:success`),
    onFailure: () => void calls.push(`${name}:failure`),
  };
}

test("hooks run in middleware list order around the handler and see the job's context", async () => {
  await using server = await NatsServer.start();
  const calls: string[] = [];
  const seen: Record<string, unknown>[] = [];
  const SHIP = new Actor("ship", ORDERED, () => {
    calls.push("handler");
  }, {
    middlewares: [
      recorder("a", calls),
      {
        onStart(ctx) {
          seen.push({
            actor: ctx.actor,
            event: ctx.event.name,
            attempt: ctx.attempt,
            deliveryCount: ctx.deliveryCount,
            sequence: ctx.sequence,
            traceId: ctx.traceId,
            trace: ctx.headers["Walnats-Trace"],
            message: ctx.message,
            stored: ctx.timestamp instanceof Date,
            signal: ctx.signal instanceof AbortSignal,
          });
        },
      },
      recorder("b", calls),
      recorder("c", calls),
    ],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 }, { traceId: "trace-1" });
  const report = await sub.listen({ burst: true });
  assert.equal(report.succeeded, 1);
  assert.deepEqual(seen, [{
    actor: "ship",
    event: "order-placed",
    attempt: 1,
    deliveryCount: 1,
    sequence: 1,
    traceId: "trace-1",
    trace: "trace-1",
    message: { id: 1 },
    stored: true,
    signal: true,
  }]);
  assert.deepEqual(calls, [
    "a:start",
    "b:start",
    "c:start",
    "handler",
    "a:success",
    "b:success",
    "c:success",
  ]);
});

test("onFailure hooks run in list order with the error, the message and the outcome", async () => {
  await using server = await NatsServer.start();
  const calls: string[] = [];
  const failures: FailureContext[] = [];
  const boom = new TypeError("out of stock");
  const SHIP = new Actor("ship", ORDERED, () => {
    calls.push("handler");
    throw boom;
  }, {
    middlewares: [
      recorder("a", calls),
      { onFailure: (ctx) => void failures.push(ctx) },
      recorder("b", calls),
    ],
    retryDelay: [60_000],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 7 });
  const report = await sub.listen({ burst: true, logger: new MemoryLogger() });
  assert.equal(report.failed, 1);
  assert.deepEqual(calls, [
    "a:start",
    "b:start",
    "handler",
    "a:failure",
    "b:failure",
  ]);
  assert.equal(failures.length, 1);
  const ctx = failures[0]!;
  assert.equal(ctx.error, boom);
  assert.deepEqual(ctx.message, { id: 7 });
  assert.equal(ctx.outcome, "retry");
  assert.equal(ctx.actor, "ship");
  assert.equal(ctx.event.name, "order-placed");
  assert.equal(ctx.attempt, 1);
  assert.equal(ctx.sequence, 1);
  assert.ok(ctx.duration >= 0);
});

test("a hook that throws or rejects is logged with the actor's name and the job still succeeds and is acked", async () => {
  await using server = await NatsServer.start();
  const calls: string[] = [];
  const handled = deferred<number>();
  const SHIP = new Actor("ship", ORDERED, ({ id }) => {
    calls.push("handler");
    handled.resolve(id);
  }, {
    middlewares: [
      {
        onStart() {
          throw new Error("sync start failure");
        },
      },
      {
        // Never settles: must not hold the job up.
        onStart: () => new Promise<void>(() => {}),
        onSuccess: () => new Promise<void>(() => {}),
      },
      {
        onSuccess: () =>
          Promise.reject(new RangeError("async success failure")),
      },
      recorder("last", calls),
    ],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 3 });
  const logger = new MemoryLogger();
  const report = await sub.listen({ burst: true, logger });
  assert.equal(await handled.promise, 3);
  assert.equal(report.succeeded, 1);
  assert.equal(report.failed, 0);
  // Hooks after a failing one still ran, in order.
  assert.deepEqual(calls, ["last:start", "handler", "last:success"]);
  const info = await consumerInfo(sub.nc, "order-placed", "ship");
  assert.equal(info.num_ack_pending, 0);
  assert.equal(info.num_pending, 0);
  assert.equal(info.ack_floor.stream_seq, 1);

  const errors = await waitFor(() => {
    const found = logger.at("error");
    return found.length >= 2 ? found : undefined;
  }, { what: "both hook failures to be logged" });
  const start = errors.find((e) => /onStart/.test(e.message));
  const success = errors.find((e) => /onSuccess/.test(e.message));
  assert.ok(start, JSON.stringify(errors));
  assert.ok(success, JSON.stringify(errors));
  assert.equal(start.fields?.actor, "ship");
  assert.equal((start.fields?.error as Error).message, "sync start failure");
  assert.equal(success.fields?.actor, "ship");
  assert.equal(
    (success.fields?.error as Error).message,
    "async success failure",
  );
});

test("onFailure gets the error and no message when the payload does not decode", async () => {
  await using server = await NatsServer.start();
  const calls: string[] = [];
  const failures: FailureContext[] = [];
  const SHIP = new Actor("ship", ORDERED, () => {
    calls.push("handler");
  }, {
    middlewares: [
      recorder("a", calls),
      { onFailure: (ctx) => void failures.push(ctx) },
    ],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.js.publish("order-placed", new TextEncoder().encode("{not json"));
  const report = await sub.listen({ burst: true, logger: new MemoryLogger() });
  assert.equal(report.deadLettered, 1);
  assert.deepEqual(calls, ["a:failure"]);
  assert.equal(failures.length, 1);
  const ctx = failures[0]!;
  assert.equal(ctx.message, undefined);
  assert.ok(ctx.error instanceof Error);
  assert.equal(ctx.outcome, "dead-letter");
  assert.equal(ctx.actor, "ship");
});

test("onSuccess gets how long the handler ran, in milliseconds", async () => {
  await using server = await NatsServer.start();
  const successes: SuccessContext[] = [];
  const SHIP = new Actor("ship", ORDERED, async () => {
    await new Promise((resolve) => setTimeout(resolve, 60));
  }, { middlewares: [{ onSuccess: (ctx) => void successes.push(ctx) }] });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 });
  await sub.listen({ burst: true });
  assert.equal(successes.length, 1);
  const { duration, message } = successes[0]!;
  assert.equal(typeof duration, "number");
  // The handler waited 60 ms; a lower bound only (timers may round).
  assert.ok(duration >= 50, `duration ${duration}`);
  assert.deepEqual(message, { id: 1 });
});

test("logging() writes structured records to the actor's LogTape category", async () => {
  await using server = await NatsServer.start();
  await using logs = await logTapeRecords();
  const { records } = logs;
  const SHIP = new Actor("ship", ORDERED, ({ id }) => {
    if (id === 2) throw new TypeError("out of stock");
  }, { middlewares: [logging()], retryDelay: [60_000] });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 }, { traceId: "t-1" });
  await pub.emit(ORDERED, { id: 2 });
  await pub.js.publish("order-placed", new TextEncoder().encode("nope"));
  await sub.listen({ burst: true, batch: 3, logger: new MemoryLogger() });

  const ours = records.filter((r) => r.category[1] === "actor");
  for (const r of ours) {
    assert.deepEqual(r.category, ["walnats", "actor", "ship"]);
  }
  const bySeq = (seq: number) =>
    ours.filter((r) => r.properties.sequence === seq);
  const render = (r: LogRecord) => r.message.map(String).join("");

  const [start1, success1] = bySeq(1);
  assert.equal(bySeq(1).length, 2);
  assert.equal(start1!.level, "debug");
  assert.equal(render(start1!), "Job started");
  assert.deepEqual(start1!.properties, {
    actor: "ship",
    event: "order-placed",
    attempt: 1,
    sequence: 1,
    traceId: "t-1",
  });
  assert.equal(success1!.level, "debug");
  assert.match(render(success1!), /^Job succeeded in \d+ ms$/);
  assert.equal(typeof success1!.properties.duration, "number");

  const failure2 = bySeq(2).find((r) => r.level === "warning");
  assert.ok(failure2, JSON.stringify(bySeq(2)));
  assert.equal(
    render(failure2),
    "Job failed on attempt 1, will retry: TypeError: out of stock",
  );
  assert.equal((failure2.properties.error as Error).message, "out of stock");
  assert.equal(failure2.properties.outcome, "retry");

  const poison = bySeq(3);
  assert.equal(poison.length, 1);
  assert.equal(poison[0]!.level, "error");
  assert.match(render(poison[0]!), /^Job failed on attempt 1, dead-letter: /);
  assert.equal(poison[0]!.properties.decoded, false);
});

test("logtapeLogger() sends the engine's records to LogTape, by actor, with braces kept literal", async () => {
  await using server = await NatsServer.start();
  await using logs = await logTapeRecords();
  const { records } = logs;
  const logger = logtapeLogger();
  logger.info("plain {text}", { n: 1 });
  logger.warn("about an actor", { actor: "ship", n: 2 });
  assert.deepEqual(records[0]!.category, ["walnats"]);
  assert.equal(records[0]!.level, "info");
  assert.equal(records[0]!.message.join(""), "plain {text}");
  assert.deepEqual(records[0]!.properties, { n: 1 });
  assert.deepEqual(records[1]!.category, ["walnats", "actor", "ship"]);
  assert.equal(records[1]!.level, "warning");
  assert.deepEqual(records[1]!.properties, { actor: "ship", n: 2 });

  // The engine's own record of a failing hook arrives through it.
  const SHIP = new Actor("ship", ORDERED, () => {}, {
    middlewares: [{
      onStart() {
        throw new Error("hook broke");
      },
    }],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 });
  const report = await sub.listen({ burst: true, logger });
  assert.equal(report.succeeded, 1);
  const hook = records.find((r) =>
    r.level === "error" && /onStart/.test(r.message.join(""))
  );
  assert.ok(hook, JSON.stringify(records.map((r) => r.message)));
  assert.deepEqual(hook.category, ["walnats", "actor", "ship"]);
  assert.equal((hook.properties.error as Error).message, "hook broke");
});

test("consoleLogging() writes one readable line per job event", async () => {
  await using server = await NatsServer.start();
  const lines: [string, string][] = [];
  const SHIP = new Actor("ship", ORDERED, ({ id }) => {
    if (id === 2) throw new TypeError("out of stock");
  }, {
    middlewares: [
      consoleLogging({
        write: (line, level) => void lines.push([level, line]),
      }),
    ],
    retryDelay: [60_000],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 });
  await pub.emit(ORDERED, { id: 2 });
  await pub.js.publish("order-placed", new TextEncoder().encode("nope"));
  await sub.listen({ burst: true, batch: 3, logger: new MemoryLogger() });
  const normalized = lines
    .map(([level, line]) => `${level} ${line.replace(/\d+ ms/, "N ms")}`)
    .map((l) => l.replace(/(dead-lettered: \w+): .*$/, "$1: ..."))
    .sort();
  assert.deepEqual(normalized, [
    "error walnats: ship order-placed#3 attempt 1 did not decode, dead-lettered: DecodeError: ...",
    "info walnats: ship order-placed#1 attempt 1 started",
    "info walnats: ship order-placed#1 attempt 1 succeeded in N ms",
    "info walnats: ship order-placed#2 attempt 1 started",
    "warn walnats: ship order-placed#2 attempt 1 failed in N ms, will retry: TypeError: out of stock",
  ]);

  const quiet: string[] = [];
  const noStarts = consoleLogging({
    write: (line) => void quiet.push(line),
    starts: false,
  });
  assert.equal(noStarts.onStart, undefined);
});

test("errorThreshold() passes a failure on from the Nth in a row of an actor, overall, or of a message", () => {
  const passed: FailureContext[] = [];
  const inner: Middleware = { onFailure: (ctx) => void passed.push(ctx) };

  // actor: the 3rd failure in a row of one actor and later ones.
  const byActor = errorThreshold(inner, { actor: 3, total: 100, message: 100 });
  for (let i = 0; i < 4; i++) byActor.onFailure!(fakeContext());
  assert.equal(passed.length, 2);
  // A success of that actor resets its count.
  byActor.onSuccess!(fakeContext());
  byActor.onFailure!(fakeContext());
  byActor.onFailure!(fakeContext());
  assert.equal(passed.length, 2);
  byActor.onFailure!(fakeContext());
  assert.equal(passed.length, 3);

  // total: failures of different actors add up.
  passed.length = 0;
  const overall = errorThreshold(inner, { total: 3, actor: 100, message: 100 });
  overall.onFailure!(fakeContext({ actor: "a" }));
  overall.onFailure!(fakeContext({ actor: "b" }));
  assert.equal(passed.length, 0);
  overall.onFailure!(fakeContext({ actor: "c" }));
  assert.deepEqual(passed.map((c) => c.actor), ["c"]);
  // Any actor's success resets the overall count.
  overall.onSuccess!(fakeContext({ actor: "d" }));
  overall.onFailure!(fakeContext({ actor: "a" }));
  assert.equal(passed.length, 1);

  // message: from the given attempt on, whatever the counts.
  passed.length = 0;
  const byMessage = errorThreshold(inner, { message: 5 });
  byMessage.onFailure!(fakeContext({ attempt: 4 }));
  byMessage.onFailure!(fakeContext({ attempt: 5 }));
  assert.deepEqual(passed.map((c) => c.attempt), [5]);

  // Defaults are 20 each; the 20th failure in a row is the first passed on.
  passed.length = 0;
  const defaults = errorThreshold(inner);
  for (let i = 0; i < 19; i++) defaults.onFailure!(fakeContext());
  assert.equal(passed.length, 0);
  defaults.onFailure!(fakeContext());
  assert.equal(passed.length, 1);
});

test("errorThreshold() passes starts and successes through, and returns the wrapped hook's promise", async () => {
  const calls: string[] = [];
  const wrapped = errorThreshold({
    onStart: () => void calls.push("start"),
    onSuccess: () => void calls.push("success"),
    onFailure: () => Promise.reject(new Error("alert failed")),
  }, { actor: 1 });
  wrapped.onStart!(fakeContext());
  wrapped.onSuccess!(fakeContext());
  assert.deepEqual(calls, ["start", "success"]);
  await assert.rejects(
    Promise.resolve(wrapped.onFailure!(fakeContext())),
    /alert failed/,
  );
  // A wrapped middleware without the hook is fine.
  const empty = errorThreshold({}, { actor: 1 });
  assert.equal(empty.onFailure!(fakeContext()), undefined);
  assert.equal(empty.onStart!(fakeContext()), undefined);
});

test("errorThreshold() rejects thresholds that are not positive integers", () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => errorThreshold({}, { total: bad }),
      (e: Error) =>
        e instanceof RangeError &&
        /^Cannot create errorThreshold middleware: total must be a positive integer/
          .test(e.message),
    );
  }
  assert.throws(() => errorThreshold({}, { actor: 0 }), RangeError);
  assert.throws(() => errorThreshold({}, { message: 0 }), RangeError);
});

test("errorThreshold() on a real actor alerts from the Nth failing message", async () => {
  await using server = await NatsServer.start();
  const calls: string[] = [];
  const SHIP = new Actor("ship", ORDERED, () => {
    throw new Error("down");
  }, {
    middlewares: [errorThreshold(recorder("alert", calls), { actor: 3 })],
    retryDelay: [60_000],
  });
  const report = await handleOrders(server, SHIP, 5);
  assert.equal(report.failed, 5);
  assert.equal(calls.filter((c) => c === "alert:start").length, 5);
  assert.equal(calls.filter((c) => c === "alert:failure").length, 3);
});

test("frequency() passes starts and successes once per actor per time frame", () => {
  const timers = new FakeTimers(1_000);
  const calls: string[] = [];
  const wrapped = frequency({
    onStart: (ctx) => void calls.push(`start ${ctx.actor}`),
    onSuccess: (ctx) => void calls.push(`success ${ctx.actor}`),
  }, { timeframe: 60_000, timers });
  wrapped.onStart!(fakeContext());
  wrapped.onStart!(fakeContext());
  wrapped.onSuccess!(fakeContext());
  wrapped.onSuccess!(fakeContext());
  wrapped.onStart!(fakeContext({ actor: "other" }));
  assert.deepEqual(calls, ["start ship", "success ship", "start other"]);
  timers.jump(59_999);
  wrapped.onStart!(fakeContext());
  assert.equal(calls.length, 3);
  timers.jump(1);
  wrapped.onStart!(fakeContext());
  wrapped.onSuccess!(fakeContext());
  assert.deepEqual(calls.slice(3), ["start ship", "success ship"]);
});

test("frequency() passes a failure once per actor and error name per time frame", () => {
  const timers = new FakeTimers(0);
  const seen: string[] = [];
  const wrapped = frequency({
    onFailure: (ctx) => void seen.push(`${ctx.actor} ${ctx.error.name}`),
  }, { timeframe: 1_000, timers });
  const fail = (actor: string, error: Error) =>
    wrapped.onFailure!(fakeContext({ actor, error }));
  fail("greet", new TypeError("a"));
  fail("greet", new TypeError("b"));
  fail("greet", new RangeError("c"));
  fail("other", new TypeError("d"));
  fail("greet", new RangeError("e"));
  assert.deepEqual(seen, [
    "greet TypeError",
    "greet RangeError",
    "other TypeError",
  ]);
  timers.jump(1_000);
  fail("greet", new TypeError("f"));
  assert.deepEqual(seen.slice(3), ["greet TypeError"]);
});

test("frequency() returns the wrapped hook's promise and checks its time frame", async () => {
  const wrapped = frequency({
    onFailure: () => Promise.reject(new Error("notify failed")),
  });
  await assert.rejects(
    Promise.resolve(wrapped.onFailure!(fakeContext())),
    /notify failed/,
  );
  assert.throws(
    () => frequency({}, { timeframe: -1 }),
    /^RangeError: Cannot create frequency middleware: timeframe must be a number >= 0/,
  );
});

test("frequency() on a real actor reports one start, one success and one failure for many jobs", async () => {
  await using server = await NatsServer.start();
  const calls: string[] = [];
  const SHIP = new Actor("ship", ORDERED, ({ id }) => {
    if (id % 2 === 0) throw new Error("even");
  }, {
    middlewares: [frequency(recorder("m", calls))],
    retryDelay: [60_000],
  });
  const report = await handleOrders(server, SHIP, 10);
  assert.equal(report.succeeded + report.failed, 10);
  assert.deepEqual(calls.sort(), ["m:failure", "m:start", "m:success"]);
});
