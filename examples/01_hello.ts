// deno-lint-ignore-file no-console -- a program: printing is its job
// 01: one event, one actor, in one process.
//
//   deno run -A examples/01_hello.ts      (NATS_URL, else a local nats-server)
//
// Emits three greetings and handles them with `listen({ burst: true })`,
// which pulls once, handles what came, and returns.
import process from "node:process";
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { NatsServer } from "@walnats/walnats/testing";

const GREETING = new Event(
  "example-greeting",
  v.object({ to: v.string(), text: v.string() }),
  { description: "someone should be greeted" },
);

const PRINT = new Actor("example-print-greeting", GREETING, (msg, ctx) => {
  console.log(`#${ctx.sequence}: ${msg.text}, ${msg.to}!`);
});

// Use NATS_URL when set, else a throwaway local server.
const server = process.env.NATS_URL ? undefined : await NatsServer.start();
const url = process.env.NATS_URL ?? server!.url;
try {
  await using pub = await new Events(GREETING).connect(url);
  await pub.register();
  await using sub = await new Actors(PRINT).connect(url);
  await sub.register();

  for (const to of ["Ann", "Bob", "Cid"]) {
    await pub.emit(GREETING, { to, text: "Hello" });
  }
  const report = await sub.listen({ burst: true, batch: 10 });
  console.log(`handled ${report.succeeded} greetings`);
} finally {
  await server?.close();
}
