import { test } from "node:test";
import assert from "node:assert/strict";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import { Event, Events, type Publisher } from "../mod.ts";
import {
  Clock,
  MINUTE_PASSED,
  nextFireTimes,
  tickCodec,
  type TickPublisher,
} from "../src/clock/clock.ts";
import { HEADER_ID } from "../src/headers.ts";
import { FakeTimers, MemoryLogger } from "./_fakes.ts";
import { NatsServer, waitFor } from "./_helpers.ts";

interface EmitCall {
  tick: number;
  uid: string | undefined;
  meta: unknown;
}

/** A publisher stand-in: records calls, answers with what `answer` says. */
function fakePublisher(
  answer: (call: EmitCall, n: number) => Promise<unknown> = () =>
    Promise.resolve({ sequence: 1, duplicate: false }),
): TickPublisher & { calls: EmitCall[]; acked: number[] } {
  const calls: EmitCall[] = [];
  const acked: number[] = [];
  return {
    calls,
    acked,
    emit(_event, message, options) {
      const call = {
        tick: message.getTime(),
        uid: options.uid,
        meta: options.meta,
      };
      calls.push(call);
      return answer(call, calls.length).then((value) => {
        acked.push(call.tick);
        return value;
      });
    },
  };
}

const TICK = new Event("tick", tickCodec("tick"));

// ------------------------------------------------------ over a real server

async function storedTicks(
  pub: Publisher,
  stream: string,
): Promise<{ uid: string | undefined; tick: Date }[]> {
  const jsm = await jetstreamManager(pub.nc);
  const info = await jsm.streams.info(stream);
  const out: { uid: string | undefined; tick: Date }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq });
    if (msg === null) continue;
    out.push({
      uid: msg.header.get(HEADER_ID) || undefined,
      tick: await tickCodec().decode(msg.data),
    });
  }
  return out;
}

/** Two publishers of TICK, as clocks on two machines have. */
async function twoPublishers(
  server: NatsServer,
): Promise<{ pubA: Publisher; pubB: Publisher } & AsyncDisposable> {
  const events = new Events(TICK);
  const pubA = await events.connect(server.url);
  const pubB = await events.connect(server.url).catch(async (error) => {
    await pubA.close();
    throw error;
  });
  const close = async () => {
    await pubB.close();
    await pubA.close();
  };
  try {
    await pubA.register();
    // Interest retention keeps a message only while a consumer wants it.
    const jsm = await jetstreamManager(pubA.nc);
    await jsm.consumers.add("tick", {
      durable_name: "reader",
      ack_policy: AckPolicy.Explicit,
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { pubA, pubB, [Symbol.asyncDispose]: close };
}

test("two clocks on one NATS emit five ticks as exactly five stored messages", async () => {
  await using server = await NatsServer.start();
  await using clocks = await twoPublishers(server);
  const { pubA, pubB } = clocks;

  // Both clocks share one fake time source, so they see every tick at the
  // same instant and race to emit it, as clocks on two machines do.
  const start = Date.UTC(2025, 0, 1, 12, 0, 0, 250);
  const timers = new FakeTimers(start);
  const logA = new MemoryLogger();
  const logB = new MemoryLogger();
  const period = 1000;
  const stop = new AbortController();
  const runA = new Clock({ event: TICK, period, timers, logger: logA })
    .run(pubA, { signal: stop.signal });
  const runB = new Clock({ event: TICK, period, timers, logger: logB })
    .run(pubB, { signal: stop.signal });
  const emitted = () =>
    logA.find(/emitted a tick/).length + logB.find(/emitted a tick/).length;
  for (let i = 1; i <= 5; i++) {
    await waitFor(() => timers.pending === 2, { what: "both clocks to wait" });
    await timers.advance(period);
    await waitFor(() => emitted() === 2 * i, {
      timeout: 20_000,
      what: `both clocks to emit tick ${i}`,
    });
  }
  stop.abort();
  const [a, b] = await Promise.all([runA, runB]);
  assert.deepEqual(a, { emitted: 5, skipped: 0 });
  assert.deepEqual(b, { emitted: 5, skipped: 0 });

  const jsm = await jetstreamManager(pubA.nc);
  const info = await jsm.streams.info("tick");
  assert.equal(info.state.messages, 5);
  assert.equal(info.state.last_seq, 5, "duplicates never took a sequence");
  const stored = await storedTicks(pubA, "tick");
  const first = Math.floor(start / period) + 1;
  assert.deepEqual(
    stored.map((s) => s.uid),
    [0, 1, 2, 3, 4].map((i) => `tick:${first + i}`),
  );
  assert.deepEqual(
    stored.map((s) => s.tick.getTime()),
    [0, 1, 2, 3, 4].map((i) => (first + i) * period),
  );
  // Each tick: one clock stored it, the other was told it was a duplicate.
  const duplicates = [...logA.entries, ...logB.entries].filter((e) =>
    e.fields?.duplicate === true
  );
  assert.equal(duplicates.length, 5);
});

test("two clocks on real timers store each tick once, in order, with its own time", async () => {
  await using server = await NatsServer.start();
  await using clocks = await twoPublishers(server);
  const { pubA, pubB } = clocks;
  const period = 200;
  const stop = new AbortController();
  const logger = new MemoryLogger();
  const runA = new Clock({ event: TICK, period, logger }).run(pubA, {
    signal: stop.signal,
  });
  const runB = new Clock({ event: TICK, period, logger }).run(pubB, {
    signal: stop.signal,
  });
  const jsm = await jetstreamManager(pubA.nc);
  try {
    await waitFor(
      async () => (await jsm.streams.info("tick")).state.last_seq >= 5,
      { timeout: 30_000, what: "five stored ticks" },
    );
  } finally {
    stop.abort();
  }
  const [a, b] = await Promise.all([runA, runB]);
  const stored = await storedTicks(pubA, "tick");
  assert.ok(stored.length >= 5);
  const indexes = stored.map((s) => Number(s.uid?.split(":")[1]));
  for (const [i, s] of stored.entries()) {
    assert.equal(s.tick.getTime(), indexes[i]! * period, "payload = tick time");
    if (i > 0) assert.ok(indexes[i]! > indexes[i - 1]!, "ascending, unique");
  }
  if (a.skipped === 0 && b.skipped === 0) {
    assert.equal(indexes.at(-1)! - indexes[0]! + 1, stored.length);
  }
  // Every tick both clocks emitted was stored once.
  assert.ok(a.emitted + b.emitted >= stored.length);
});

// ------------------------------------------------------ the skipping rule

test("a tick not emitted before the next is due is skipped and logged, never sent late", async () => {
  const timers = new FakeTimers(0);
  const logger = new MemoryLogger();
  // The publish of the first tick never completes.
  const pub = fakePublisher((call) =>
    call.tick === 1000
      ? new Promise(() => {})
      : Promise.resolve({ sequence: 1, duplicate: false })
  );
  const stop = new AbortController();
  const running = new Clock({ event: TICK, period: 1000, timers, logger })
    .run(pub, { signal: stop.signal });

  await timers.advance(1000); // tick 1 due; its publish hangs
  await timers.advance(1000); // tick 2 due: tick 1 is given up
  assert.deepEqual(pub.acked, [2000]);
  const late = logger.find(/could not emit before the next was due/);
  assert.equal(late.length, 1);
  assert.equal(late[0]?.level, "warn");
  assert.equal(late[0]?.fields?.tick, new Date(1000).toISOString());
  assert.equal(late[0]?.fields?.uid, "tick:1");

  // The process stalls past tick 3: it wakes at 4500, when tick 4 is due.
  timers.jump(2500);
  await timers.advance(0);
  assert.deepEqual(pub.acked, [2000, 4000]);
  const missed = logger.find(/fell due while it could not run/);
  assert.equal(missed.length, 1);
  assert.equal(missed[0]?.fields?.first, new Date(3000).toISOString());
  assert.equal(missed[0]?.fields?.count, 1);

  await timers.advance(500); // 5000: back on schedule
  stop.abort();
  assert.deepEqual(await running, { emitted: 3, skipped: 2 });
  // Tick 3 was never published; tick 1 was tried once and not retried.
  assert.deepEqual(pub.calls.map((c) => c.tick), [1000, 2000, 4000, 5000]);
  assert.deepEqual(pub.calls.map((c) => c.uid), [
    "tick:1",
    "tick:2",
    "tick:4",
    "tick:5",
  ]);
});

test("a failed emit is retried with the same uid until the next tick is due", async () => {
  const timers = new FakeTimers(0);
  const logger = new MemoryLogger();
  const pub = fakePublisher((call, n) =>
    n === 1 || call.tick === 20_000
      ? Promise.reject(new Error("no responders"))
      : Promise.resolve({ sequence: n, duplicate: false })
  );
  const stop = new AbortController();
  const running = new Clock({
    event: TICK,
    period: 10_000,
    timers,
    logger,
    meta: { source: "test" },
  }).run(pub, { signal: stop.signal });
  await timers.advance(10_000); // tick 1: fails
  assert.equal(pub.calls.length, 1);
  await timers.advance(1000); // retried once, stored
  assert.deepEqual(pub.calls.map((c) => c.uid), ["tick:1", "tick:1"]);
  assert.deepEqual(pub.acked, [10_000]);
  assert.deepEqual(pub.calls[0]?.meta, { source: "test" });
  await timers.advance(9000); // tick 2 fails on every try until tick 3
  await timers.advance(10_000);
  stop.abort();
  assert.deepEqual(await running, { emitted: 2, skipped: 1 });
  assert.ok(pub.calls.filter((c) => c.tick === 20_000).length >= 9);
  assert.deepEqual(pub.acked, [10_000, 30_000]);
  const retries = logger.find(/could not emit a tick; retrying/);
  assert.ok(retries.length >= 10);
  assert.match(String(retries[0]?.fields?.error), /no responders/);
  const skipped = logger.find(/could not emit before the next was due/);
  assert.equal(skipped.length, 1);
  assert.match(String(skipped[0]?.fields?.error), /no responders/);
});

test("run() rejects at once on an error retrying cannot fix", async () => {
  await using server = await NatsServer.start();
  // The publisher's registry does not have the clock's event.
  const OTHER = new Event("other", tickCodec("other"));
  await using pub = await new Events(OTHER).connect(server.url);
  await assert.rejects(
    new Clock({ event: TICK }).run(pub, { burst: true }),
    /Cannot emit event "tick": it is not registered/,
  );
});

test("burst emits the current tick once and returns", async () => {
  const timers = new FakeTimers(Date.UTC(2025, 4, 6, 7, 8, 9, 123));
  const pub = fakePublisher();
  const report = await new Clock({ timers, logger: new MemoryLogger() }).run(
    pub,
    { burst: true },
  );
  assert.deepEqual(report, { emitted: 1, skipped: 0 });
  const minute = Date.UTC(2025, 4, 6, 7, 8);
  assert.deepEqual(pub.calls, [{
    tick: minute,
    uid: `minute-passed:${minute / 60_000}`,
    meta: undefined,
  }]);
  assert.equal(timers.pending, 0, "no timer left behind");
});

test("a stopped clock resolves without emitting", async () => {
  const timers = new FakeTimers(0);
  const pub = fakePublisher();
  const stop = new AbortController();
  const running = new Clock({ timers, logger: new MemoryLogger() }).run(pub, {
    signal: stop.signal,
  });
  await timers.advance(59_000);
  stop.abort();
  assert.deepEqual(await running, { emitted: 0, skipped: 0 });
  assert.equal(pub.calls.length, 0);
  assert.equal(timers.pending, 0);
});

// ------------------------------------------------------------------- cron

test("cron fire times skip and repeat correctly across daylight saving changes", async () => {
  const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
  // 02:30 Berlin: 31 March 2024 has no 02:30 (clocks jump 02:00 -> 03:00),
  // so it fires at 03:00 CEST; on 27 October 02:30 happens twice, and it
  // fires once, at the first (CEST).
  assert.deepEqual(
    iso(
      await nextFireTimes(
        "0 30 2 * * *",
        new Date("2024-03-29T12:00:00Z"),
        4,
        "Europe/Berlin",
      ),
    ),
    [
      "2024-03-30T01:30:00.000Z", // 02:30 CET
      "2024-03-31T01:00:00.000Z", // 03:00 CEST, the gap's end
      "2024-04-01T00:30:00.000Z", // 02:30 CEST
      "2024-04-02T00:30:00.000Z",
    ],
  );
  assert.deepEqual(
    iso(
      await nextFireTimes(
        "0 30 2 * * *",
        new Date("2024-10-25T12:00:00Z"),
        4,
        "Europe/Berlin",
      ),
    ),
    [
      "2024-10-26T00:30:00.000Z", // 02:30 CEST
      "2024-10-27T00:30:00.000Z", // the first 02:30 (CEST) only
      "2024-10-28T01:30:00.000Z", // 02:30 CET
      "2024-10-29T01:30:00.000Z",
    ],
  );
  // Hourly: one tick per real hour. In spring local 02:00 does not exist;
  // in autumn local 02:00 comes twice, and both fire.
  assert.deepEqual(
    iso(
      await nextFireTimes(
        "0 0 * * * *",
        new Date("2024-03-30T23:30:00Z"),
        4,
        "Europe/Berlin",
      ),
    ),
    [
      "2024-03-31T00:00:00.000Z", // 01:00 CET
      "2024-03-31T01:00:00.000Z", // 03:00 CEST
      "2024-03-31T02:00:00.000Z", // 04:00 CEST
      "2024-03-31T03:00:00.000Z",
    ],
  );
  assert.deepEqual(
    iso(
      await nextFireTimes(
        "0 0 * * * *",
        new Date("2024-10-26T23:30:00Z"),
        4,
        "Europe/Berlin",
      ),
    ),
    [
      "2024-10-27T00:00:00.000Z", // 02:00 CEST
      "2024-10-27T01:00:00.000Z", // 02:00 CET, again
      "2024-10-27T02:00:00.000Z", // 03:00 CET
      "2024-10-27T03:00:00.000Z",
    ],
  );
  // Five fields mean minute precision; the default zone is UTC; `from` is
  // exclusive.
  assert.deepEqual(
    iso(await nextFireTimes("*/15 * * * *", Date.UTC(2024, 0, 1, 10, 15), 2)),
    ["2024-01-01T10:30:00.000Z", "2024-01-01T10:45:00.000Z"],
  );
  await assert.rejects(
    nextFireTimes("not a cron", 0, 1),
    /Cannot compute fire times: invalid cron pattern "not a cron"/,
  );
  await assert.rejects(
    nextFireTimes("* * * * *", 0, 1, "Nowhere/City"),
    RangeError,
  );
});

test("a cron clock ticks at the pattern's times in its zone, with the fire time as uid", async () => {
  // Sunday 31 March 2024, 00:30 UTC = 01:30 CET in Berlin.
  const timers = new FakeTimers(Date.UTC(2024, 2, 31, 0, 30));
  const pub = fakePublisher();
  const stop = new AbortController();
  const clock = new Clock({
    event: TICK,
    cron: "0 0 * * * *",
    timeZone: "Europe/Berlin",
    timers,
    logger: new MemoryLogger(),
  });
  assert.equal(clock.period, undefined);
  const running = clock.run(pub, { signal: stop.signal });
  await waitFor(() => timers.pending === 1, { what: "the clock to wait" });
  await timers.advance(3 * 3600_000);
  stop.abort();
  assert.deepEqual(await running, { emitted: 3, skipped: 0 });
  const ticks = [
    Date.UTC(2024, 2, 31, 1), // 03:00 CEST (02:00 does not exist)
    Date.UTC(2024, 2, 31, 2),
    Date.UTC(2024, 2, 31, 3),
  ];
  assert.deepEqual(pub.calls.map((c) => c.tick), ticks);
  assert.deepEqual(pub.calls.map((c) => c.uid), ticks.map((t) => `tick:${t}`));

  // burst: the latest fire time at or before now.
  const burst = fakePublisher();
  await new Clock({
    event: TICK,
    cron: "0 30 2 * * *",
    timeZone: "Europe/Berlin",
    timers,
  })
    .run(burst, { burst: true });
  assert.deepEqual(burst.calls.map((c) => c.tick), [Date.UTC(2024, 2, 31, 1)]);
});

// ------------------------------------------------------------ configuration

test("Clock() rejects conflicting or malformed schedules", async () => {
  assert.throws(
    () => new Clock({ period: 1000, cron: "* * * * *" }),
    /Cannot create clock "minute-passed": give either period or cron, not both/,
  );
  assert.throws(() => new Clock({ period: 0 }), RangeError);
  assert.throws(
    () => new Clock({ period: 1.5 }),
    /period must be a positive integer/,
  );
  assert.throws(
    () => new Clock({ timeZone: "Europe/Berlin" }),
    /timeZone applies to cron schedules only/,
  );
  assert.throws(
    () => new Clock({ cron: "* * * * *", timeZone: "Nowhere/City" }),
    /unknown time zone "Nowhere\/City"/,
  );
  assert.throws(
    () => new Clock({ event: "tick" as unknown as Event<Date> }),
    /event must be an Event/,
  );
  const clock = new Clock();
  assert.equal(clock.event, MINUTE_PASSED);
  assert.equal(clock.period, 60_000);
  assert.equal(clock.timeZone, "UTC");
  await assert.rejects(
    new Clock({ cron: "61 * * * *" }).run(fakePublisher(), { burst: true }),
    /Cannot run clock "minute-passed": invalid cron pattern "61 \* \* \* \*"/,
  );
});

test("tick payloads are ISO 8601 text, as Python walnats writes datetimes", async () => {
  const codec = tickCodec();
  const text = (d: Date) =>
    new TextDecoder().decode(codec.encode(d) as Uint8Array);
  assert.equal(
    text(new Date(Date.UTC(2025, 2, 30, 1))),
    "2025-03-30T01:00:00+00:00",
  );
  assert.equal(
    text(new Date(Date.UTC(2025, 2, 30, 1, 2, 3, 45))),
    "2025-03-30T01:02:03.045000+00:00",
  );
  const read = async (s: string) =>
    (await codec.decode(new TextEncoder().encode(s))).toISOString();
  assert.equal(
    await read("2025-03-30T03:00:00+02:00"),
    "2025-03-30T01:00:00.000Z",
  );
  assert.equal(
    await read("2025-03-30T01:00:00.123456"),
    "2025-03-30T01:00:00.123Z",
  );
  assert.equal(await read("2025-03-30T01:00:00Z"), "2025-03-30T01:00:00.000Z");
  assert.equal(
    await read("2025-03-29T20:00:00-0500"),
    "2025-03-30T01:00:00.000Z",
  );
  await assert.rejects(async () => await read("yesterday"), {
    name: "DecodeError",
  });
  await assert.rejects(async () => await read("2025-02-30T00:00:00"), {
    name: "DecodeError",
  });
  assert.throws(() => codec.encode(new Date(Number.NaN)), {
    name: "ValidationError",
  });
  assert.equal(codec.contentType, "text/plain; charset=utf-8");
});
