// deno-lint-ignore-file no-console -- a program: printing is its job
// 13: services: a system described by its own events and actors, rendered
// as a Mermaid diagram and an AsyncAPI 3 document. Needs no NATS server.
//
//   npx deno run -A examples/13_services.ts    (or: npx bun run, npx tsx)
//   walnats diagram ./examples/13_services.ts          (the CLI reads SYSTEM)
//   walnats asyncapi ./examples/13_services.ts --title shop
//
// See docs/services.md.
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { Actor, Event } from "@walnats/walnats";
import { Service, Services } from "@walnats/walnats/services";

const USER_REGISTERED = new Event(
  "user-registered",
  v.object({ id: v.number(), email: v.pipe(v.string(), v.email()) }),
  { description: "a user finished sign-up" },
);
const ORDER_PLACED = new Event(
  "order-placed",
  v.object({ id: v.number(), user: v.number(), total: v.number() }),
  { description: "a customer placed an order" },
);
const PRICE_REQUESTED = new Event(
  "price-requested",
  v.object({ sku: v.string() }),
).withResponse(v.object({ cents: v.number() }));

/** The system: the CLI's `asyncapi` and `diagram` commands read this. */
export const SYSTEM: Services = new Services(
  new Service("accounts", {
    description: "sign-up and profiles",
    emits: [USER_REGISTERED],
  }),
  new Service("shop", { emits: [ORDER_PLACED, PRICE_REQUESTED] }),
  new Service("mailer", {
    actors: [
      new Actor("send-welcome", USER_REGISTERED, () => {}),
      new Actor("send-receipt", ORDER_PLACED, () => {}),
    ],
  }),
  new Service("catalog", {
    actors: [new Actor("quote", PRICE_REQUESTED, () => ({ cents: 100 }))],
  }),
);

// Print only when run, not when the CLI imports the module (Node has no
// import.meta.main).
const main = (import.meta as { main?: boolean }).main ??
  fileURLToPath(import.meta.url) === process.argv[1];
if (main) {
  console.log(SYSTEM.mermaid());
  const doc = await SYSTEM.asyncapi({
    title: "shop",
    version: "1.0.0",
    server: "nats://nats:4222",
  }) as {
    asyncapi: string;
    channels: Record<string, unknown>;
    operations: Record<string, { action: string }>;
    components: { schemas: Record<string, unknown> };
  };
  console.log(`AsyncAPI ${doc.asyncapi}`);
  console.log(`channels: ${Object.keys(doc.channels).join(", ")}`);
  for (const [id, op] of Object.entries(doc.operations)) {
    console.log(`operation ${id}: ${op.action}`);
  }
  console.log(`schemas: ${Object.keys(doc.components.schemas).join(", ")}`);
}
