// deno-lint-ignore-file no-console -- a program: printing is its job
// Example 3: a clock drives periodic jobs.
//
// A Clock emits a tick event every period (a minute by default, here a
// second) or on a cron schedule. Run a clock in every service that needs
// one: each tick is stored once however many clocks emit it, and the actor
// handles it once however many subscribers run.
//
// Uses NATS at NATS_URL (default nats://127.0.0.1:4222); stops after three
// ticks.
//
//   deno run -A examples/03_clock.ts
import process from "node:process";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { Clock, tickCodec } from "@walnats/walnats";

const SECOND_PASSED = new Event("second-passed", tickCodec("second-passed"), {
  description: "a second passed; the payload is the tick's time",
  limits: { maxAge: 60_000 },
});

const stop = new AbortController();
let handled = 0;
const REPORT_TIME = new Actor("report-time", SECOND_PASSED, (tick) => {
  handled++;
  console.log(`tick ${handled}: ${tick.toISOString()}`);
  if (handled === 3) stop.abort();
});

const server = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
await using pub = await new Events(SECOND_PASSED).connect(server);
await pub.register();
await using sub = await new Actors(REPORT_TIME).connect(server);
await sub.register();

// Two clocks, as two services would run them.
const clocks = [1, 2].map(() =>
  new Clock({ event: SECOND_PASSED, period: 1000 }).run(pub, {
    signal: stop.signal,
  })
);
await sub.listen({ signal: stop.signal, pollDelay: 500 });
const reports = await Promise.all(clocks);
const emitted = reports.reduce((sum, r) => sum + r.emitted, 0);
console.log(`done: ${handled} ticks handled, ${emitted} emits by two clocks`);
