// deno-lint-ignore-file no-console -- a program: printing is its job
// Demo publisher: emits an order every 150 ms until SIGINT/SIGTERM.
import process from "node:process";
import { Events } from "@walnats/walnats";
import { ORDER_PLACED } from "./events.ts";

const ITEMS = ["walnut", "hazelnut", "pecan", "almond", "cashew"];
const stop = new AbortController();
process.on("SIGINT", () => stop.abort());
process.on("SIGTERM", () => stop.abort());

const pub = await new Events(ORDER_PLACED).connect(process.env.NATS_URL);
await pub.register();
let id = 0;
while (!stop.signal.aborted) {
  id++;
  const order = {
    id,
    item: ITEMS[id % ITEMS.length]!,
    quantity: 1 + (id % 3),
  };
  const ack = await pub.emit(ORDER_PLACED, order, { uid: `order-${id}` });
  console.log(`[publisher] emitted order #${id} (stream seq ${ack.sequence})`);
  await new Promise((resolve) => setTimeout(resolve, 150));
}
await pub.close();
console.log(`[publisher] stopped after ${id} orders`);
