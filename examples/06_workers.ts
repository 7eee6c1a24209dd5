// deno-lint-ignore-file no-console -- a program: printing is its job
// 06: handlers off the main thread. A CPU-bound handler runs in a worker of
// the listener's pool, its return value is the reply of a request, and a
// runaway handler is terminated at its timeout and retried.
//
//   npx deno run -A examples/06_workers.ts     (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
import * as v from "valibot";
import { Actor, Actors, Event, Events, workerHandler } from "@walnats/walnats";
import { exampleNats, leaveNothing } from "./_cleanup.ts";
import type { checksum, runaway } from "./06_workers_checksum.ts";

const FILE = v.object({ name: v.string(), rounds: v.number() });
const CHECKSUM = new Event("example-checksum-requested", FILE)
  .withResponse(v.object({
    name: v.string(),
    checksum: v.string(),
    attempt: v.number(),
  }));
const RUNAWAY = new Event("example-runaway-requested", FILE)
  .withResponse(v.string());

const worker = new URL("./06_workers_checksum.ts", import.meta.url);
// `typeof checksum` checks the worker's function against the event.
const CHECKSUMMER = new Actor(
  "example-checksummer",
  CHECKSUM,
  workerHandler<typeof checksum>(worker, "checksum"),
);
const RUNNER = new Actor(
  "example-runaway",
  RUNAWAY,
  workerHandler<typeof runaway>(worker, "runaway", { terminateGrace: 200 }),
  { jobTimeout: 4000, retryDelay: [1000] },
);

const { url, server } = await exampleNats();
try {
  await using pub = await new Events(CHECKSUM, RUNAWAY).connect(url);
  await using sub = await new Actors(CHECKSUMMER, RUNNER).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [CHECKSUMMER, RUNNER],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await pub.register(); // the event has an actor now
  const stop = new AbortController();
  const listening = sub.listen({
    signal: stop.signal,
    pollDelay: 500,
    maxWorkers: 2,
  });

  const reply = await pub.request(
    CHECKSUM,
    { name: "walnut.png", rounds: 5_000_000 },
    { timeout: 30_000 },
  );
  console.log(`checksum of ${reply.name}: ${reply.checksum}`);

  // Attempt 1 spins for ever: its worker is terminated 4200 ms in (timeout
  // plus grace), and the retry, a second after the timeout, answers.
  const retried = await pub.request(
    RUNAWAY,
    { name: "loop", rounds: 0 },
    { timeout: 30_000 },
  );
  console.log(`runaway: ${retried}`);

  stop.abort();
  const report = await listening;
  console.log(`succeeded ${report.succeeded}, failed ${report.failed}`);
} finally {
  await server?.close();
}
