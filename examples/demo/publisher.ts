// deno-lint-ignore-file no-console -- a program: printing is its job
// Demo publisher: emits an order every 150 ms until SIGINT/SIGTERM.
//
// Every order's uid (its Nats-Msg-Id) carries this run's id, so a second
// run within the stream's duplicate window (two minutes) is not mistaken
// for the first one and dropped; a duplicate the stream reports anyway is
// printed and counted. DEMO_RUN_ID sets the run id (to see duplicates:
// run twice with the same one).
import process from "node:process";
import { Events } from "@walnats/walnats";
import { ORDER_PLACED } from "./events.ts";

const ITEMS = ["walnut", "hazelnut", "pecan", "almond", "cashew"];
const stop = new AbortController();
process.on("SIGINT", () => stop.abort());
process.on("SIGTERM", () => stop.abort());

const runId = process.env.DEMO_RUN_ID ||
  `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
const pub = await new Events(ORDER_PLACED).connect(process.env.NATS_URL);
await pub.register();
console.log(`[publisher] run ${runId}`);
let id = 0;
let duplicates = 0;
while (!stop.signal.aborted) {
  id++;
  const order = {
    id,
    item: ITEMS[id % ITEMS.length]!,
    quantity: 1 + (id % 3),
  };
  const ack = await pub.emit(ORDER_PLACED, order, {
    uid: `order-${runId}-${id}`,
  });
  if (ack.duplicate) {
    duplicates++;
    console.log(
      `[publisher] order #${id} is a DUPLICATE: the stream already had it (seq ${ack.sequence}); no subscriber gets it again`,
    );
  } else {
    console.log(
      `[publisher] emitted order #${id} (stream seq ${ack.sequence})`,
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 150));
}
await pub.close();
console.log(
  `[publisher] stopped after ${id} orders, ${duplicates} duplicate(s)`,
);
