// deno-lint-ignore-file no-console -- a program: printing is its job
// 02: request/response. The actor's return value is the reply.
//
//   npx deno run -A examples/02_request.ts      (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

const QUOTE = new Event(
  "example-quote-requested",
  v.object({ item: v.string(), quantity: v.number() }),
).withResponse(v.object({ total: v.number() }));

const PRICES: Record<string, number> = { walnut: 0.25, pecan: 0.4 };
const QUOTER = new Actor("example-quoter", QUOTE, ({ item, quantity }) => {
  const price = PRICES[item];
  if (price === undefined) throw new Error(`no price for ${item}`);
  return { total: price * quantity };
});

const { url, server } = await exampleNats();
try {
  await using sub = await new Actors(QUOTER).connect(url);
  await using _made = await leaveNothing(sub.nc, server, { actors: [QUOTER] });
  await sub.register({ events: true }); // the stream, then the consumer
  await using pub = await new Events(QUOTE).connect(url);
  await pub.register();
  const stop = new AbortController();
  const listening = sub.listen({ signal: stop.signal, pollDelay: 500 });

  const reply = await pub.request(QUOTE, { item: "walnut", quantity: 12 });
  console.log(`12 walnuts cost ${reply.total}`);

  stop.abort();
  await listening;
} finally {
  await server?.close();
}
