// Soak: many events through one tuned actor, RSS sampled along the way.
import process from "node:process";
import { Actors, Events, silentLogger } from "../../mod.ts";
import {
  type BenchContext,
  type Deferred,
  deferred,
  fresh,
  payload,
  rate,
  type SoakFigure,
  type User,
} from "./_common.ts";

/** 500,000 events through one tuned actor with a bounded producer. */
export async function soak(ctx: BenchContext, n: number): Promise<SoakFigure> {
  let handled = 0;
  const samples: SoakFigure["samples"] = [];
  let nextMark = 1;
  const done = deferred<number>();
  let progress: Deferred<void> = deferred();
  // deno-lint-ignore require-await -- the scenario wants an async handler
  const handler = async (_message: User): Promise<void> => {
    handled++;
    if (handled * 10 >= nextMark * n) {
      const m = process.memoryUsage();
      samples.push({
        percent: nextMark * 10,
        rss: m.rss,
        heapUsed: m.heapUsed,
      });
      nextMark++;
    }
    if (handled === n) done.resolve(performance.now());
    if (handled % 1000 === 0) progress.resolve();
  };
  await using f = await fresh(ctx, "soak", handler, { maxJobs: 100 });
  await using pub = await new Events(f.event).connect(ctx.url);
  await using sub = await new Actors(f.actor).connect(ctx.url);
  const stop = new AbortController();
  const start = performance.now();
  const listening = sub.listen({
    batch: 100,
    maxJobs: 100,
    signal: stop.signal,
    logger: silentLogger,
  });
  // Emit in chunks, never more than `ahead` messages ahead of the handler,
  // so the stream (and the server) stay small while the actor works.
  const chunk = 1000;
  const ahead = 20_000;
  for (let sent = 0; sent < n;) {
    while (sent - handled > ahead) {
      progress = deferred();
      await progress.promise;
    }
    const size = Math.min(chunk, n - sent);
    const items = Array.from({ length: size }, (_, i) => payload(sent + i));
    const { failures } = await pub.emitMany(f.event, items);
    if (failures.length > 0) {
      throw new Error(`emitMany failed ${failures.length} messages`, {
        cause: failures[0]?.error,
      });
    }
    sent += size;
  }
  const end = await done.promise;
  stop.abort();
  await listening;
  const at10 = samples.find((s) => s.percent === 10)!;
  const at100 = samples.find((s) => s.percent === 100)!;
  return {
    rss10: at10.rss,
    rss100: at100.rss,
    growth: (at100.rss / at10.rss - 1) * 100,
    heap10: at10.heapUsed,
    heap100: at100.heapUsed,
    rate: rate(n, start, end),
    samples,
  };
}
