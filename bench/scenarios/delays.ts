// Delays: what a backlog of future jobs costs a ready one. Ready-message
// latency through walnats with 100,000 delayed messages pending ("ours") and
// with none ("raw": the same walnats code, no backlog); both columns are
// walnats. The listener starts after the backlog was emitted; the samples
// start once its mover made its first pass over the backlog (that pass is
// timed and printed as a note).
import { Actors, Events, silentLogger } from "../../mod.ts";
import {
  type BenchContext,
  type Deferred,
  deferred,
  fresh,
  payload,
  type Side,
  type User,
} from "./_common.ts";

/** Delayed messages pending in the `delays` scenario's "ours" column. */
export function delayBacklog(ctx: BenchContext): number {
  return ctx.quick ? 2_000 : Math.max(1, Math.round(100_000 * ctx.scale));
}

/** Milliseconds from emit to the handler's first line, one per sample. */
export async function delays(
  ctx: BenchContext,
  side: Side,
  n: number,
): Promise<number[]> {
  let arrived: Deferred<number> = deferred();
  const handler = (message: User): void => {
    if (message.id >= 0) arrived.resolve(performance.now());
  };
  await using f = await fresh(ctx, "delay", handler);
  const delayStream = `walnats_delay_${f.event.stream}`;
  await using pub = await new Events(f.event).connect(ctx.url);
  await using sub = await new Actors(f.actor).connect(ctx.url);
  try {
    await sub.register(); // the delay stream and its mover consumer
    const backlog = side === "ours" ? delayBacklog(ctx) : 0;
    ctx.note(`delays: ${side}, ${backlog} delayed pending`);
    const future = Array.from({ length: backlog }, (_, i) => ({
      id: -1 - i,
      name: "bench-user",
    }));
    const { failures } = await pub.emitMany(f.event, future, {
      delay: 3_600_000,
      window: 512,
    });
    if (failures.length > 0) {
      throw new Error(`emitMany failed ${failures.length} messages`, {
        cause: failures[0]?.error,
      });
    }
    const stop = new AbortController();
    const passStart = performance.now();
    const listening = sub.listen({ signal: stop.signal, logger: silentLogger });
    // The mover's first pass: every delayed message taken and nak'd once.
    // Measured and reported apart; the samples are the steady state.
    for (;;) {
      const info = await ctx.jsm.consumers.info(delayStream, "walnats-mover");
      if (info.num_pending === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    ctx.note(
      `delays: ${side}, mover's first pass over ${backlog} took ${
        Math.round(performance.now() - passStart)
      } ms`,
    );
    const warmup = ctx.quick ? 5 : 20;
    const samples: number[] = [];
    try {
      for (let i = 0; i < warmup + n; i++) {
        arrived = deferred();
        const start = performance.now();
        await pub.emit(f.event, payload(i));
        const at = await arrived.promise;
        if (i >= warmup) samples.push(at - start);
      }
    } finally {
      stop.abort();
      await listening;
    }
    return samples;
  } finally {
    await ctx.jsm.streams.delete(delayStream).catch(() => {});
  }
}
