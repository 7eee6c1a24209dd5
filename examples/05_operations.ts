// deno-lint-ignore-file no-console -- a program: printing is its job
// 05: seeing a running system — status and lag, health probes, lag
// metrics, and the walnats CLI.
//
//   npx deno run -A examples/05_operations.ts  (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
//
// Emits five orders; "charge" handles them (one is dead-lettered), "ship"
// is not running so it lags; then prints what an operator sees.
import * as v from "valibot";
import {
  Actor,
  Actors,
  Event,
  Events,
  healthHandler,
  silentLogger,
} from "@walnats/walnats";
import { PrometheusStatusCollector } from "@walnats/walnats/prometheus";
import { main } from "@walnats/walnats/cli";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

const ORDER = new Event("example-ops-order", v.object({ id: v.number() }));
const CHARGE = new Actor("example-ops-charge", ORDER, ({ id }) => {
  if (id === 3) throw new Error("card declined");
}, { maxAttempts: 1 });
const SHIP = new Actor("example-ops-ship", ORDER, () => {});

const { url, server } = await exampleNats();
try {
  await using pub = await new Events(ORDER).connect(url);
  await using sub = await new Actors(CHARGE, SHIP).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [CHARGE, SHIP],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await pub.register(); // the event has an actor now
  for (let id = 1; id <= 5; id++) await pub.emit(ORDER, { id });
  await using charging = await new Actors(CHARGE).connect(url);
  await charging.listen({ burst: true, batch: 10, logger: silentLogger });

  // status(): one call, plain JSON.
  const status = await sub.status();
  for (const a of status.actors) {
    console.log(
      `${a.name}: pending=${a.pending} ackPending=${a.ackPending} deadLetters=${a.deadLetters} config=${
        a.config.matches ? "ok" : "differs"
      }`,
    );
  }

  // Probes: nothing is listening on `sub` yet, so it is live but not ready.
  const probe = healthHandler(sub);
  for (const path of ["/healthz", "/readyz"]) {
    const res = await probe(new Request(`http://localhost${path}`));
    console.log(`GET ${path} -> ${res.status}`);
  }

  // Lag gauges for Prometheus, read from status() on each scrape.
  const lag = new PrometheusStatusCollector(sub);
  const text = await lag.metrics();
  console.log(
    text.split("\n").find((l) =>
      l.startsWith("walnats_actor_pending{") && l.includes("ship")
    ),
  );

  // The CLI, in-process (the same as `walnats status --server URL`).
  const code = await main([
    "dead-letters",
    "list",
    ORDER.name,
    "--server",
    url,
  ]);
  console.log(`walnats dead-letters list exited ${code}`);
} finally {
  await server?.close();
}
