// Handle scenarios: a pre-filled stream drained by walnats' listen(), by the
// idiomatic raw consume() loop, by that loop held to our in-flight budget,
// and by the strongest raw consumer.
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import {
  type ActorOptions,
  Actors,
  type ListenOptions,
  silentLogger,
} from "../../mod.ts";
import {
  type BenchContext,
  deferred,
  fill,
  fresh,
  rate,
  rawConnect,
  type Side,
  storedAll,
  type User,
} from "./_common.ts";

/** How one handle measurement runs. */
export interface HandleSetup {
  label: string;
  /** Options of our listen(). */
  listen: ListenOptions;
  /** Options of our actor (also its consumer's configuration). */
  actor: ActorOptions;
  /** Handlers the strong raw consumer runs at once (our job slots). */
  concurrency: number;
}

/** `listen()` with its defaults (one pull for the free slots, 16 jobs). */
export const DEFAULTS: HandleSetup = {
  label: "hd",
  listen: {},
  actor: {},
  concurrency: 16,
};

/** `listen({ batch: 100, maxJobs: 100 })`, actor `maxJobs: 100`. */
export const TUNED: HandleSetup = {
  label: "ht",
  listen: { batch: 100, maxJobs: 100 },
  actor: { maxJobs: 100 },
  concurrency: 100,
};

/** What the strong raw consumer asks `consume()` for. */
export function strongMaxMessages(concurrency: number): number {
  return Math.max(100, 2 * concurrency);
}

/**
 * Drain `n` pre-filled messages with one side; messages per second, the
 * clock stopped when the handler has run for the Nth message.
 */
export async function handle(
  ctx: BenchContext,
  side: Side,
  n: number,
  setup: HandleSetup,
): Promise<number> {
  let handled = 0;
  const done = deferred<number>();
  // The trivial async handler every side awaits; it notes when the Nth
  // message is handled, so the clock stops there and not when the listener
  // has drained (listen() then waits up to pollDelay for its outstanding
  // pull requests to expire, which is shutdown, not throughput).
  // deno-lint-ignore require-await -- the scenario wants an async handler
  const handler = async (_message: User): Promise<void> => {
    if (++handled === n) done.resolve(performance.now());
  };
  await using f = await fresh(ctx, setup.label, handler, setup.actor);
  await fill(ctx, f.event.subject, n);
  await storedAll(ctx, f.event.stream, n);
  if (side === "ours") {
    await using sub = await new Actors(f.actor).connect(ctx.url);
    const stop = new AbortController();
    await ctx.profiler?.start();
    const start = performance.now();
    const listening = sub.listen({
      ...setup.listen,
      signal: stop.signal,
      logger: silentLogger,
    });
    const end = await Promise.race([
      done.promise,
      listening.then(() => {
        throw new Error("listen() ended before all messages were handled");
      }),
    ]);
    await ctx.profiler?.stop();
    stop.abort();
    const report = await listening;
    if (report.succeeded < n) {
      throw new Error(`only ${report.succeeded} of ${n} succeeded`);
    }
    return rate(n, start, end);
  }
  const nc = await rawConnect(ctx.url);
  try {
    const js = jetstream(nc);
    const consumer = await js.consumers.get(f.event.stream, f.actor.consumer);
    await ctx.profiler?.start();
    const start = performance.now();
    if (side === "raw" || side === "budget") {
      // The idiomatic loop: nats.js defaults, one handler at a time; for
      // "budget", consume() asked to keep no more messages than we have job
      // slots (its default keeps up to 100 buffered: messages no other
      // process can take meanwhile, which our listen() never pulls).
      const messages = await consumer.consume(
        side === "budget" ? { max_messages: setup.concurrency } : undefined,
      );
      for await (const m of messages) {
        await handler(m.json<User>());
        m.ack();
        if (handled === n) break;
      }
    } else {
      // The strongest raw consumer: consume() with a callback (no async
      // iterator between the socket and the handler), up to `concurrency`
      // handlers at once (as many as our job slots; the rest wait in a
      // local queue), each acked when it resolves without awaiting the ack, and consume() asked to keep twice that buffered.
      const limit = setup.concurrency;
      const queued: JsMsg[] = [];
      let running = 0;
      const run = (m: JsMsg): void => {
        running++;
        handler(m.json<User>()).then(() => {
          m.ack();
          running--;
          const next = queued.shift();
          if (next !== undefined) run(next);
        }, () => m.nak());
      };
      const messages = await consumer.consume({
        max_messages: strongMaxMessages(limit),
        callback: (m) => {
          if (running < limit) run(m);
          else queued.push(m);
        },
      });
      await done.promise;
      await messages.close();
    }
    const end = await done.promise;
    await ctx.profiler?.stop();
    return rate(n, start, end);
  } finally {
    await nc.close();
  }
}
