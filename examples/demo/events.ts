// deno-lint-ignore-file no-console -- a program: printing is its job
// The demo's events and actors, shared by its publisher and subscribers.
import * as v from "valibot";
import { Actor, Event } from "@walnats/walnats";

export const Order = v.object({
  id: v.pipe(v.number(), v.integer()),
  item: v.string(),
  quantity: v.pipe(v.number(), v.minValue(1)),
});

export const ORDER_PLACED = new Event("demo-order-placed", Order, {
  description: "a customer placed an order (walnats demo)",
  limits: { maxAge: 3_600_000 },
});

/** Pretend to pack an order: 50-250 ms of work, and a rare failure. */
export function packOrder(name: string) {
  return new Actor(
    "demo-pack-order",
    ORDER_PLACED,
    async (order, ctx) => {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 50 + Math.random() * 200);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        }, { once: true });
      });
      if (order.id % 17 === 0 && ctx.attempt === 1) {
        throw new Error(`the shelf for order #${order.id} was empty`);
      }
      console.log(
        `[${name}] packed order #${order.id}: ${order.quantity} x ${order.item}` +
          (ctx.attempt > 1 ? ` (attempt ${ctx.attempt})` : ""),
      );
    },
    { maxJobs: 4, retryDelay: [300], maxAttempts: 3 },
  );
}
