// deno-lint-ignore-file no-console -- a program: printing is its job
// Example 3: a clock drives periodic jobs.
//
// A Clock emits a tick event every period (a minute by default, here a
// second) or on a cron schedule. Run a clock in every service that needs
// one: each tick is stored once however many clocks emit it, and the actor
// handles it once however many subscribers run.
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done. Stops
// after three ticks.
//
//   npx deno run -A examples/03_clock.ts        (or: npx bun run, npx tsx)
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { Clock, tickCodec } from "@walnats/walnats";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

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

const { url, server } = await exampleNats();
try {
  await using sub = await new Actors(REPORT_TIME).connect(url);
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [REPORT_TIME],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await using pub = await new Events(SECOND_PASSED).connect(url);
  await pub.register();

  // Two clocks, as two services would run them.
  const clocks = [1, 2].map(() =>
    new Clock({ event: SECOND_PASSED, period: 1000 }).run(pub, {
      signal: stop.signal,
    })
  );
  await sub.listen({ signal: stop.signal, pollDelay: 500 });
  const reports = await Promise.all(clocks);
  const emitted = reports.reduce((sum, r) => sum + r.emitted, 0);
  console.log(
    `done: ${handled} ticks handled, ${emitted} emits by two clocks`,
  );
} finally {
  await server?.close();
}
