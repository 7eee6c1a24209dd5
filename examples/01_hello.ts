// deno-lint-ignore-file no-console -- a program: printing is its job
// 01: one event, one actor, in one process.
//
//   npx deno run -A examples/01_hello.ts        (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
//
// Emits three greetings and handles them with `listen({ burst: true })`,
// which pulls once, handles what came, and returns.
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

const GREETING = new Event(
  "example-greeting",
  v.object({ to: v.string(), text: v.string() }),
  { description: "someone should be greeted" },
);

const PRINT = new Actor("example-print-greeting", GREETING, (msg, ctx) => {
  console.log(`#${ctx.sequence}: ${msg.text}, ${msg.to}!`);
});

// NATS_URL when a server answers there, else a throwaway local one.
const { url, server } = await exampleNats();
try {
  // Consumers before emitting: with interest retention a message emitted
  // while its event has no actor is discarded. `events: true` creates the
  // event's stream too; the publisher's register() then finds it unchanged.
  await using sub = await new Actors(PRINT).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, { actors: [PRINT] });
  await sub.register({ events: true });
  await using pub = await new Events(GREETING).connect(url);
  await pub.register();

  for (const to of ["Ann", "Bob", "Cid"]) {
    await pub.emit(GREETING, { to, text: "Hello" });
  }
  const report = await sub.listen({ burst: true, batch: 10 });
  console.log(`handled ${report.succeeded} greetings`);
} finally {
  await server?.close();
}
