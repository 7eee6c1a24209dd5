// deno-lint-ignore-file no-console -- a program: printing is its job
// Example 10: delayed jobs, a durable schedule and a cluster-wide pause.
//
// A delayed emit waits in the event's delay stream, not in the actor's
// consumer, so it never holds back ready work; the listener releases it
// when it is due. A schedule stored in NATS (upsertSchedule) is emitted by
// the listeners themselves, each tick once, with no Clock process. Pausing
// an actor (stored in NATS KV) stops every listener from pulling for it.
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done (and
// the KV buckets of pauses and schedules, when it was the one to make them).
//
//   npx deno run -A examples/10_schedules.ts   (or: npx bun run, npx tsx)
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { PAUSED_BUCKET, SCHEDULES_BUCKET } from "@walnats/walnats/ops";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

const REMINDER = new Event(
  "example-reminder-due",
  v.object({ text: v.string() }),
  { description: "a reminder is due", limits: { maxAge: 2 * 86_400_000 } },
);

const stop = new AbortController();
const seen: string[] = [];
const start = Date.now();
const REMIND = new Actor("example-remind", REMINDER, ({ text }) => {
  seen.push(text);
  console.log(`${text} after ${Math.round((Date.now() - start) / 100) / 10} s`);
});

const { url, server } = await exampleNats();
try {
  await using pub = await new Events(REMINDER).connect(url);
  await using sub = await new Actors(REMIND).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [REMIND],
    buckets: [PAUSED_BUCKET, SCHEDULES_BUCKET],
  });
  await sub.register({ events: true }); // also creates the event's delay stream
  await pub.register(); // the event has an actor now

  const listening = sub.listen({ signal: stop.signal, pollDelay: 500 });

  // A thousand jobs for tomorrow do not delay the one for now.
  const { failures } = await pub.emitMany(
    REMINDER,
    Array.from({ length: 1000 }, (_, i) => ({ text: `tomorrow ${i}` })),
    { delay: 86_400_000 },
  );
  if (failures.length > 0) throw failures[0]!.error;
  await pub.emit(REMINDER, { text: "in 1.5 s" }, { delay: 1500 });
  await pub.emit(REMINDER, { text: "now" });

  // A durable schedule: every second, emitted once per tick by the listeners.
  await pub.upsertSchedule("example-every-second", REMINDER, {
    every: 1000,
    message: { text: "tick" },
  });
  while (seen.filter((t) => t === "tick").length < 2) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await pub.removeSchedule("example-every-second");

  // Pause: no listener pulls for the actor until it is resumed.
  await sub.pause(REMIND);
  await new Promise((r) => setTimeout(r, 1500)); // every listener has seen it
  await pub.emit(REMINDER, { text: "after resume" });
  console.log(`paused: ${(await sub.paused()).map((p) => p.actor).join(", ")}`);
  await sub.resume(REMIND);
  while (!seen.includes("after resume")) {
    await new Promise((r) => setTimeout(r, 100));
  }

  stop.abort();
  const report = await listening;
  const status = await sub.status();
  console.log(
    `done: ${report.succeeded} handled, ${report.released} released when due, ${
      status.events[0]!.delayed
    } still delayed`,
  );
} finally {
  await server?.close();
}
