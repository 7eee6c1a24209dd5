// Idle cost: 1, 10, 100 and 1,000 actors on one empty stream in one
// listener, and what they cost while nothing happens: pull requests per
// second (counted by a plain subscription on the pull subjects, which sees
// every request the server gets), messages per second the server sends the
// listener (heartbeats, expiries; the connection's own counters), CPU and RSS
// of the process.
import process from "node:process";
import { Actor, Actors, Event, silentLogger } from "../../mod.ts";
import {
  type BenchContext,
  type IdleFigure,
  uniqueName,
  User,
} from "./_common.ts";

/** The actor counts measured. */
export function idleCounts(ctx: BenchContext): number[] {
  return ctx.quick ? [1, 10] : [1, 10, 100, 1000];
}

/** Seconds to let the pulls settle (the first ones expire), then to measure. */
function windows(ctx: BenchContext): { settle: number; measure: number } {
  // A full window spans one expiry of the idle probes (30 s), so their
  // renewals are counted.
  return ctx.quick ? { settle: 2.5, measure: 2 } : { settle: 4, measure: 32 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One idle measurement with `count` actors. */
export async function idleOnce(
  ctx: BenchContext,
  count: number,
): Promise<IdleFigure> {
  const event = new Event(uniqueName("idle"), User);
  const actors = Array.from(
    { length: count },
    (_, i) => new Actor(`${event.name}-a${i}`, event, () => {}),
  );
  await ctx.jsm.streams.add(event.streamConfig());
  try {
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        actors.slice(i, i + 100).map((a) =>
          ctx.jsm.consumers.add(event.stream, a.consumerConfig())
        ),
      );
    }
    let pulls = 0;
    const counter = ctx.admin.subscribe(
      `$JS.API.CONSUMER.MSG.NEXT.${event.stream}.>`,
      {
        callback: () => {
          pulls++;
        },
      },
    );
    await ctx.admin.flush();
    await using sub = await new Actors(...actors).connect(ctx.url);
    const stop = new AbortController();
    // Slots for every actor's default 16, as if each were alone: every
    // actor pulls at once and, its pulls expired, turns idle (with the 16
    // default slots shared by 1,000 actors, they would take turns for
    // minutes before all were idle).
    const listening = sub.listen({
      maxJobs: 16 * count,
      signal: stop.signal,
      logger: silentLogger,
    });
    try {
      const { settle, measure } = windows(ctx);
      await sleep(settle * 1000);
      const pulls0 = pulls;
      const in0 = sub.nc.stats().inMsgs;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(measure * 1000);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const figure: IdleFigure = {
        actors: count,
        seconds,
        pullsPerSecond: (pulls - pulls0) / seconds,
        deliveredPerSecond: (sub.nc.stats().inMsgs - in0) / seconds,
        cpuPercent: (cpu.user + cpu.system) / 1000 / (seconds * 1000) * 100,
        rss: process.memoryUsage().rss,
      };
      ctx.note(
        `idle: ${count} actors, ${figure.pullsPerSecond.toFixed(1)} pulls/s, ${
          figure.deliveredPerSecond.toFixed(1)
        } msgs/s in, CPU ${figure.cpuPercent.toFixed(1)}%`,
      );
      return figure;
    } finally {
      stop.abort();
      await listening;
      counter.unsubscribe();
    }
  } finally {
    await ctx.jsm.streams.delete(event.stream).catch(() => {});
  }
}
