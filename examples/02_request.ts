// deno-lint-ignore-file no-console -- a program: printing is its job
// 02: request/response. The actor's return value is the reply.
//
//   deno run -A examples/02_request.ts    (NATS_URL, else a local nats-server)
import process from "node:process";
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { NatsServer } from "@walnats/walnats/testing";

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

const server = process.env.NATS_URL ? undefined : await NatsServer.start();
const url = process.env.NATS_URL ?? server!.url;
try {
  await using pub = await new Events(QUOTE).connect(url);
  await pub.register();
  await using sub = await new Actors(QUOTER).connect(url);
  await sub.register();
  const stop = new AbortController();
  const listening = sub.listen({ signal: stop.signal, pollDelay: 500 });

  const reply = await pub.request(QUOTE, { item: "walnut", quantity: 12 });
  console.log(`12 walnuts cost ${reply.total}`);

  stop.abort();
  await listening;
} finally {
  await server?.close();
}
