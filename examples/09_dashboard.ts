// deno-lint-ignore-file no-console -- a program: printing is its job
// 09: the web dashboard — a small system with lag and a dead letter, and
// the dashboard serving it on this machine.
//
//   npx deno run -A examples/09_dashboard.ts   (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when it stops.
//
// Options: --port N (default 8080; 0 picks a free port), --exit-after-ms N
// (stop by itself, for tests). Open the printed URL; the admin token it
// prints enables replay, delete, pause and resume. Ctrl-C stops it.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import * as v from "valibot";
import { Actor, Actors, Event, Events, silentLogger } from "@walnats/walnats";
import { dashboard, nodeListener } from "@walnats/walnats/dashboard";
import { Service, Services } from "@walnats/walnats/services";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i === -1) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${name} needs a whole number, got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  return n;
}
const port = option("--port", 8080);
const exitAfter = option("--exit-after-ms", 0);

const ORDER = new Event("example-dash-order", v.object({ id: v.number() }));
const CHARGE = new Actor("example-dash-charge", ORDER, ({ id }) => {
  if (id === 3) throw new Error("card declined");
}, { maxAttempts: 1 });
const SHIP = new Actor("example-dash-ship", ORDER, () => {});
const services = new Services(
  new Service("shop", { emits: [ORDER] }),
  new Service("billing", { actors: [CHARGE] }),
  new Service("warehouse", { actors: [SHIP] }),
);

const { url, server } = await exampleNats();
// A random admin token for this run (a real one comes from a secret store).
const token = [...crypto.getRandomValues(new Uint8Array(16))]
  .map((b) => b.toString(16).padStart(2, "0")).join("");
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
  // "charge" handles them (order 3 is dead-lettered); "ship" is not
  // running, so it lags by 5.
  await using charging = await new Actors(CHARGE).connect(url);
  await charging.listen({ burst: true, batch: 10, logger: silentLogger });

  await using handler = dashboard({
    nc: pub.nc,
    services,
    readOnly: false,
    token,
    refresh: 2000,
    hosts: ["localhost", "127.0.0.1"],
    onAction: (r) => console.log(`action: ${r.action} ${r.count}`),
  });
  const http = createServer(nodeListener(handler));
  await new Promise<void>((resolve) => http.listen(port, "127.0.0.1", resolve));
  const bound = (http.address() as AddressInfo).port;
  console.log(`dashboard on http://127.0.0.1:${bound}/`);
  console.log(`admin token: ${token}`);

  await new Promise<void>((resolve) => {
    const timer = exitAfter > 0 ? setTimeout(() => stop(), exitAfter) : 0;
    const stop = () => {
      clearTimeout(timer);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  console.log("stopped");
} finally {
  await server?.close();
}
