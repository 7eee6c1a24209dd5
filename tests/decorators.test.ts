import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Actor, type Context, Event } from "../mod.ts";
import {
  filterTime,
  rateLimit,
  requireReady,
  suppress,
} from "../src/decorators/mod.ts";
import { FakeTimers, MemoryLogger } from "./_fakes.ts";
import {
  connectActors,
  consumerInfo,
  deferred,
  NatsServer,
} from "./_helpers.ts";

function fakeContext<T>(signal: AbortSignal = new AbortController().signal) {
  return {
    actor: "test-actor",
    event: new Event("test-event", v.unknown()),
    attempt: 2,
    deliveryCount: 2,
    sequence: 41,
    timestamp: new Date(0),
    traceId: undefined,
    headers: {},
    signal,
  } as Context<T>;
}

// ---------------------------------------------------------------- rateLimit

test("rateLimit() starts at most max jobs per period and runs the rest in arrival order", async () => {
  const timers = new FakeTimers(0);
  const started: number[] = [];
  const handler = rateLimit(2, 1000, { timers })((n: number) => {
    started.push(n);
    return n * 10;
  });
  const ctx = fakeContext<number>();
  const results = [1, 2, 3, 4, 5].map((n) => handler(n, ctx));
  await timers.advance(0);
  assert.deepEqual(started, [1, 2]);
  await timers.advance(999);
  assert.deepEqual(started, [1, 2]);
  await timers.advance(1);
  assert.deepEqual(started, [1, 2, 3, 4]);
  await timers.advance(1000);
  assert.deepEqual(started, [1, 2, 3, 4, 5]);
  assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50]);
  assert.equal(timers.pending, 0);
});

test("rateLimit() counts the window from each job's own start", async () => {
  const timers = new FakeTimers(0);
  const started: [number, number][] = [];
  const handler = rateLimit(2, 1000, { timers })((n: number) => {
    started.push([n, timers.now()]);
  });
  const ctx = fakeContext<number>();
  const jobs = [handler(1, ctx)];
  await timers.advance(500);
  jobs.push(handler(2, ctx));
  await timers.advance(100);
  jobs.push(handler(3, ctx), handler(4, ctx));
  await timers.advance(2000);
  await Promise.all(jobs);
  // 3 waits for job 1's window to end (t=1000), 4 for job 2's (t=1500).
  assert.deepEqual(started, [[1, 0], [2, 500], [3, 1000], [4, 1500]]);
});

test("rateLimit() lets a waiting job go when ctx.signal aborts, without using a slot", async () => {
  const timers = new FakeTimers(0);
  const started: string[] = [];
  const handler = rateLimit(1, 1000, { timers })((name: string) => {
    started.push(name);
  });
  await handler("first", fakeContext());
  const stop = new AbortController();
  const waiting = handler("aborted", fakeContext(stop.signal));
  const next = handler("next", fakeContext());
  await timers.advance(10);
  const reason = new Error("shutting down");
  stop.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  await timers.advance(990);
  await next;
  assert.deepEqual(started, ["first", "next"]);
  const gone = new AbortController();
  gone.abort(new Error("already gone"));
  await assert.rejects(
    handler("late", fakeContext(gone.signal)),
    /already gone/,
  );
  assert.deepEqual(started, ["first", "next"]);
});

test("rateLimit() shares one budget between the handlers it decorates and keeps results", async () => {
  const timers = new FakeTimers(0);
  const limit = rateLimit(1, 1000, { timers });
  const log: string[] = [];
  const a = limit(async (s: string) => {
    await Promise.resolve();
    log.push(`a:${s}`);
    return s.toUpperCase();
  });
  const b = limit((n: number) => {
    log.push(`b:${n}`);
    return n + 1;
  });
  const ra = a("x", fakeContext());
  const rb = b(1, fakeContext());
  await timers.advance(0);
  assert.deepEqual(log, ["a:x"]);
  await timers.advance(1000);
  assert.deepEqual(log, ["a:x", "b:1"]);
  assert.equal(await ra, "X");
  assert.equal(await rb, 2);
  assert.equal(a.name, "", "anonymous handlers stay anonymous");
  function namedHandler(): void {}
  assert.equal(limit(namedHandler).name, "namedHandler");
});

test("rateLimit() rejects a bad max or period", () => {
  assert.throws(() => rateLimit(0, 1000), RangeError);
  assert.throws(() => rateLimit(1.5, 1000), /max must be a positive integer/);
  assert.throws(() => rateLimit(1, 0), /period must be a positive number/);
  assert.throws(() => rateLimit(1, Number.NaN), RangeError);
  assert.throws(
    () => rateLimit(1, 1)(42 as unknown as () => void),
    /Cannot decorate a handler with rateLimit: expected a function, got number/,
  );
});

// ----------------------------------------------------------------- suppress

class NotFoundError extends Error {}
class GoneError extends NotFoundError {}

test("suppress() swallows the given errors of a sync handler, stays sync, and logs them", () => {
  const logger = new MemoryLogger();
  const handler = suppress({ logger }, NotFoundError, RangeError)(
    function updateParcel(error: Error | null): string {
      if (error !== null) throw error;
      return "ok";
    },
  );
  const ctx = fakeContext<Error | null>();
  assert.equal(handler(null, ctx), "ok");
  assert.equal(handler(new NotFoundError("no parcel"), ctx), undefined);
  assert.equal(handler(new GoneError("gone"), ctx), undefined, "subclasses");
  assert.equal(handler(new RangeError("out"), ctx), undefined);
  assert.throws(() => handler(new TypeError("bug"), ctx), TypeError);
  assert.equal(handler.name, "updateParcel");
  assert.equal(logger.entries.length, 3);
  const [first] = logger.entries;
  assert.equal(first?.level, "warn");
  assert.equal(first?.message, "suppressed an error in a handler");
  assert.equal(first?.fields?.handler, "updateParcel");
  assert.equal(first?.fields?.actor, "test-actor");
  assert.equal(first?.fields?.event, "test-event");
  assert.equal(first?.fields?.sequence, 41);
  assert.equal(first?.fields?.attempt, 2);
  assert.ok(first?.fields?.error instanceof NotFoundError);
});

test("suppress() swallows rejections of async handlers and of returned promises", async () => {
  const logger = new MemoryLogger();
  const deco = suppress({ logger }, NotFoundError);
  const asyncHandler = deco(async (fail: boolean) => {
    await Promise.resolve();
    if (fail) throw new NotFoundError("async");
    return 1;
  });
  const promiseHandler = deco((error: Error) => Promise.reject(error));
  const ctx = fakeContext<boolean>();
  assert.equal(await asyncHandler(false, ctx), 1);
  assert.equal(await asyncHandler(true, ctx), undefined);
  assert.equal(
    await promiseHandler(new NotFoundError("p"), fakeContext()),
    undefined,
  );
  await assert.rejects(
    Promise.resolve(promiseHandler(new Error("other"), fakeContext())),
    /other/,
  );
  assert.equal(logger.entries.length, 2);
});

test("suppress() with log: false drops suppressed errors without logging", async () => {
  const logger = new MemoryLogger();
  const handler = suppress({ log: false, logger }, NotFoundError)(async () => {
    await Promise.resolve();
    throw new NotFoundError("quiet");
  });
  assert.equal(await handler(undefined, fakeContext()), undefined);
  assert.equal(logger.entries.length, 0);
});

test("suppress() lets errors through once ctx.signal has aborted", async () => {
  const logger = new MemoryLogger();
  const handler = suppress({ logger }, Error)(async (_: unknown, ctx) => {
    await Promise.resolve();
    ctx.signal.throwIfAborted();
    throw new Error("not suppressed when stopped");
  });
  const stop = new AbortController();
  stop.abort(new Error("job timed out"));
  await assert.rejects(
    Promise.resolve(handler(undefined, fakeContext(stop.signal))),
    /job timed out/,
  );
  assert.equal(await handler(undefined, fakeContext()), undefined);
  assert.equal(logger.entries.length, 1);
});

test("suppress() needs at least one error class", () => {
  assert.throws(
    () => (suppress as (...a: unknown[]) => unknown)(),
    /Cannot create suppress: give at least one error class to suppress/,
  );
  assert.throws(
    () => (suppress as (...a: unknown[]) => unknown)({ log: false }),
    /at least one error class/,
  );
  assert.throws(
    () => (suppress as (...a: unknown[]) => unknown)(NotFoundError, "Error"),
    /every error class must be a class, got string/,
  );
});

test("a job whose handler throws a suppressed error succeeds and is acked once", async () => {
  await using server = await NatsServer.start();
  const PARCEL = new Event("parcel-moved", v.object({ id: v.number() }));
  const logger = new MemoryLogger();
  let calls = 0;
  const TRACK = new Actor(
    "track-parcel",
    PARCEL,
    suppress({ logger }, NotFoundError)(
      rateLimit(10, 1000)(async (parcel, ctx) => {
        calls++;
        await Promise.resolve();
        ctx.signal.throwIfAborted();
        throw new NotFoundError(`no parcel ${parcel.id}`);
      }),
    ),
    { maxAttempts: 3, retryDelay: [0] },
  );
  await using app = await connectActors(server, TRACK);
  const { pub, sub } = app;
  await pub.emit(PARCEL, { id: 9 });
  const report = await sub.listen({ burst: true, pollDelay: 2000 });
  assert.equal(report.succeeded, 1);
  assert.equal(report.failed, 0);
  assert.equal(calls, 1);
  const info = await consumerInfo(sub.nc, "parcel-moved", "track-parcel");
  assert.equal(info.num_ack_pending, 0);
  assert.equal(info.num_pending, 0);
  assert.equal(logger.entries.length, 1);
  assert.equal(logger.entries[0]?.fields?.actor, "track-parcel");
});

// ------------------------------------------------------------- requireReady

test("requireReady() holds the job until the predicate is true, checking every pause", async () => {
  const timers = new FakeTimers(0);
  let ready = false;
  let checks = 0;
  const ran = deferred<number>();
  const handler = requireReady(() => {
    checks++;
    return ready;
  }, { pause: 500, timers })((n: number) => {
    ran.resolve(timers.now());
    return n * 2;
  });
  const result = handler(21, fakeContext());
  await timers.advance(0);
  assert.equal(checks, 1);
  await timers.advance(499);
  assert.equal(checks, 1);
  await timers.advance(1);
  assert.equal(checks, 2);
  await timers.advance(500);
  assert.equal(checks, 3);
  ready = true;
  await timers.advance(500);
  assert.equal(checks, 4);
  assert.equal(await result, 42);
  assert.equal(await ran.promise, 1500);
  // Ready at once: no wait, one check.
  assert.equal(await handler(1, fakeContext()), 2);
  assert.equal(checks, 5);
});

test("requireReady() awaits an async predicate and fails the job when it throws", async () => {
  const timers = new FakeTimers(0);
  let state: "down" | "up" | "broken" = "down";
  const handler = requireReady(async () => {
    await Promise.resolve();
    if (state === "broken") throw new Error("health check failed");
    return state === "up";
  }, { pause: 100, timers })(() => "done");
  const first = handler(undefined, fakeContext());
  await timers.advance(100);
  state = "up";
  await timers.advance(100);
  assert.equal(await first, "done");
  state = "broken";
  await assert.rejects(
    handler(undefined, fakeContext()),
    /health check failed/,
  );
});

test("requireReady() gives up when ctx.signal aborts, and never runs the handler", async () => {
  const timers = new FakeTimers(0);
  let ran = false;
  const handler = requireReady(() => false, { pause: 1000, timers })(() => {
    ran = true;
  });
  const stop = new AbortController();
  const waiting = handler(undefined, fakeContext(stop.signal));
  await timers.advance(3000);
  const reason = new Error("job timed out");
  stop.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  assert.equal(ran, false);
  assert.equal(timers.pending, 0, "the pause timer is cleared");
  assert.throws(() => requireReady(() => true, { pause: -1 }), RangeError);
  assert.throws(
    () => requireReady(true as unknown as () => boolean),
    /predicate must be a function, got boolean/,
  );
});

// --------------------------------------------------------------- filterTime

test("filterTime() runs the handler only for dates matching every given field, in UTC", () => {
  const ran: string[] = [];
  const record = (tick: Date): string => {
    ran.push(tick.toISOString());
    return "ran";
  };
  const ctx = fakeContext<Date>();
  const at = (iso: string) => new Date(iso);

  const midnight = filterTime({ hour: 0, minute: 0 })(record);
  assert.equal(midnight(at("2025-06-01T00:00:00Z"), ctx), "ran");
  assert.equal(midnight(at("2025-06-01T00:01:00Z"), ctx), undefined);
  assert.equal(midnight(at("2025-06-01T12:00:00Z"), ctx), undefined);

  const every5 = filterTime({
    minute: [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55],
  })(record);
  assert.equal(every5(at("2025-06-01T10:55:00Z"), ctx), "ran");
  assert.equal(every5(at("2025-06-01T10:56:00Z"), ctx), undefined);

  // month is 1-based; year and day; a Set works as a list.
  const newYear = filterTime({ year: new Set([2025, 2026]), month: 1, day: 1 })(
    record,
  );
  assert.equal(newYear(at("2026-01-01T08:00:00Z"), ctx), "ran");
  assert.equal(newYear(at("2024-01-01T08:00:00Z"), ctx), undefined);
  assert.equal(newYear(at("2025-02-01T08:00:00Z"), ctx), undefined);

  // weekday: 0 and 7 are Sunday; 2025-06-01 is a Sunday.
  const sunday = filterTime({ weekday: 7 })(record);
  const weekdays = filterTime({ weekday: [1, 2, 3, 4, 5] })(record);
  assert.equal(sunday(at("2025-06-01T23:59:00Z"), ctx), "ran");
  assert.equal(weekdays(at("2025-06-01T23:59:00Z"), ctx), undefined);
  assert.equal(weekdays(at("2025-06-02T00:00:00Z"), ctx), "ran");

  // No fields: every time matches.
  assert.equal(filterTime({})(record)(at("1999-12-31T23:59:59Z"), ctx), "ran");
  assert.equal(ran.length, 6);
});

test("filterTime() reads the pattern in the given time zone, daylight saving included", () => {
  const ctx = fakeContext<Date>();
  const berlinMidnight = filterTime({ hour: 0, minute: 0 }, {
    timeZone: "Europe/Berlin",
  })((tick: Date) => tick.toISOString());
  // CEST (UTC+2) in summer, CET (UTC+1) in winter.
  assert.equal(
    berlinMidnight(new Date("2024-07-01T22:00:00Z"), ctx),
    "2024-07-01T22:00:00.000Z",
  );
  assert.equal(
    berlinMidnight(new Date("2024-01-01T23:00:00Z"), ctx),
    "2024-01-01T23:00:00.000Z",
  );
  assert.equal(
    berlinMidnight(new Date("2024-07-01T23:00:00Z"), ctx),
    undefined,
  );
  assert.equal(
    berlinMidnight(new Date("2024-07-01T00:00:00Z"), ctx),
    undefined,
  );
  // 23:30 UTC on Sunday 2025-06-01 is Monday 01:30 in Berlin.
  const monday = filterTime({ weekday: 1, day: 2, hour: 1 }, {
    timeZone: "Europe/Berlin",
  })(() => "ran");
  assert.equal(monday(new Date("2025-06-01T23:30:00Z"), ctx), "ran");
  // Autumn: 02:30 happens twice in Berlin on 2024-10-27; both match.
  const twoThirty = filterTime({ hour: 2, minute: 30 }, {
    timeZone: "Europe/Berlin",
  })(() => "ran");
  assert.equal(twoThirty(new Date("2024-10-27T00:30:00Z"), ctx), "ran");
  assert.equal(twoThirty(new Date("2024-10-27T01:30:00Z"), ctx), "ran");
});

test("filterTime() matches the current time when the message is not a Date", async () => {
  const timers = new FakeTimers(Date.UTC(2025, 0, 6, 9, 0)); // Monday 09:00 UTC
  const handler = filterTime({ weekday: 1, hour: 9 }, { timers })(
    (order: { id: number }) => Promise.resolve(order.id),
  );
  const ctx = fakeContext<{ id: number }>();
  assert.equal(await handler({ id: 1 }, ctx), 1);
  timers.jump(3600_000); // 10:00
  assert.equal(handler({ id: 2 }, ctx), undefined, "skips synchronously");
  const withDate = filterTime({ hour: 9 }, {
    timers: new FakeTimers(Date.UTC(2025, 0, 6, 9, 0)),
  })(
    () => "ran",
  );
  assert.equal(withDate(undefined, fakeContext()), "ran");
});

test("filterTime() rejects patterns that cannot match and unknown time zones", () => {
  assert.throws(
    () => filterTime({ minute: 60 }),
    /minute must be an integer from 0 to 59, got 60/,
  );
  assert.throws(() => filterTime({ month: 0 }), RangeError);
  assert.throws(
    () => filterTime({ hour: [] }),
    /hour is an empty list, which matches no time/,
  );
  assert.throws(() => filterTime({ day: 1.5 }), RangeError);
  assert.throws(() => filterTime({ weekday: 8 }), RangeError);
  assert.throws(
    () => filterTime({ seconds: 1 } as unknown as Record<string, number>),
    /unknown field "seconds"/,
  );
  assert.throws(
    () => filterTime({ hour: "1" as unknown as number }),
    /hour must be a number or a list of numbers/,
  );
  assert.throws(
    () => filterTime({}, { timeZone: "Mars/Olympus_Mons" }),
    /Cannot create filterTime: unknown time zone "Mars\/Olympus_Mons"/,
  );
});

// --------------------------------------------------------------------- types

test("decorated handlers keep their message and result types", () => {
  // Only type-checked (deno check); never called.
  const typeChecks = async (): Promise<void> => {
    const ctx = fakeContext<number>();
    const limited = rateLimit(1, 1)((n: number) => n * 2);
    const doubled: number = await limited(1, ctx);
    // @ts-expect-error the message must be a number
    await limited("x", ctx);
    const ready = requireReady(() => true)((s: string) =>
      Promise.resolve(s.length)
    );
    const length: number = await ready("abc", fakeContext());
    // @ts-expect-error the result is a number
    const wrong: string = await ready("abc", fakeContext());
    const quiet = suppress(Error)((n: number) => n);
    const maybe: number | undefined = await quiet(1, ctx);
    // @ts-expect-error a suppressed handler may resolve undefined
    const sure: number = await quiet(1, ctx);
    const filtered = filterTime({ hour: 1 })((d: Date) => d.getTime());
    // @ts-expect-error the message must be a Date
    filtered(1, ctx);
    // Inline handlers get their parameter types from the event.
    const E = new Event("typed", v.object({ id: v.number() }));
    new Actor("typed-actor", E, rateLimit(1, 1)((m, c) => m.id + c.attempt));
    new Actor("typed-filter", E, filterTime({ hour: 1 })((m) => m.id));
    // @ts-expect-error the payload has no `name`
    new Actor("typed-wrong", E, requireReady(() => true)((m) => m.name));
    void [doubled, length, wrong, maybe, sure];
  };
  assert.equal(typeof typeChecks, "function");
});
