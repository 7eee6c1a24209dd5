// Emit scenarios: acknowledged one by one, in bulk with a window, and
// fire-and-forget (not awaited, and awaited one by one).
import { jetstream } from "@nats-io/jetstream";
import { Events } from "../../mod.ts";
import {
  type BenchContext,
  encoder,
  finish,
  fresh,
  payload,
  rate,
  rawConnect,
  rawWindow,
  type Side,
  storedAll,
  trivial,
  WINDOW,
} from "./_common.ts";

/** `await pub.emit` one by one; raw `await js.publish` one by one. */
export async function emitSequential(
  ctx: BenchContext,
  side: Side,
  n: number,
): Promise<number> {
  await using f = await fresh(ctx, "es", trivial);
  if (side === "ours") {
    await using pub = await new Events(f.event).connect(ctx.url);
    await ctx.profiler?.start();
    const start = performance.now();
    for (let i = 0; i < n; i++) await pub.emit(f.event, payload(i));
    return await finish(ctx, n, start, performance.now());
  }
  const nc = await rawConnect(ctx.url);
  try {
    const js = jetstream(nc);
    const subject = f.event.subject;
    await ctx.profiler?.start();
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      await js.publish(subject, encoder.encode(JSON.stringify(payload(i))));
    }
    return await finish(ctx, n, start, performance.now());
  } finally {
    await nc.close();
  }
}

/** `emitMany` with a window; raw: that many workers awaiting `js.publish`. */
export async function emitBulk(
  ctx: BenchContext,
  side: Side,
  n: number,
): Promise<number> {
  await using f = await fresh(ctx, "eb", trivial);
  const payloads = Array.from({ length: n }, (_, i) => payload(i));
  if (side === "ours") {
    await using pub = await new Events(f.event).connect(ctx.url);
    await ctx.profiler?.start();
    const start = performance.now();
    const { failures } = await pub.emitMany(f.event, payloads, {
      window: WINDOW,
    });
    const end = performance.now();
    await ctx.profiler?.stop();
    if (failures.length > 0) {
      throw new Error(`emitMany failed ${failures.length} messages`, {
        cause: failures[0]?.error,
      });
    }
    return rate(n, start, end);
  }
  const nc = await rawConnect(ctx.url);
  try {
    const js = jetstream(nc);
    await ctx.profiler?.start();
    const start = performance.now();
    await rawWindow(
      js,
      f.event.subject,
      n,
      WINDOW,
      (i) => encoder.encode(JSON.stringify(payloads[i])),
    );
    return await finish(ctx, n, start, performance.now());
  } finally {
    await nc.close();
  }
}

/**
 * Fire-and-forget, the clock stopped when the stream reports all stored.
 * `awaited`: each emit (and each raw publish) is awaited before the next,
 * which costs both sides one socket write per message.
 */
export async function emitFireAndForget(
  ctx: BenchContext,
  side: Side,
  n: number,
  awaited: boolean,
): Promise<number> {
  await using f = await fresh(ctx, awaited ? "efa" : "ef", trivial);
  if (side === "ours") {
    await using pub = await new Events(f.event).connect(ctx.url);
    let failed: unknown;
    const onError = (error: unknown): void => {
      failed ??= error;
    };
    await ctx.profiler?.start();
    const start = performance.now();
    if (awaited) {
      for (let i = 0; i < n; i++) {
        await pub.emit(f.event, payload(i), { sync: false });
      }
    } else {
      // What a performance-minded user writes: errors (validation, a closed
      // connection) still caught, no await per message.
      for (let i = 0; i < n; i++) {
        pub.emit(f.event, payload(i), { sync: false }).catch(onError);
      }
    }
    const end = await storedAll(ctx, f.event.stream, n);
    if (failed !== undefined) {
      throw new Error("a fire-and-forget emit failed", { cause: failed });
    }
    return await finish(ctx, n, start, end);
  }
  const nc = await rawConnect(ctx.url);
  try {
    const subject = f.event.subject;
    await ctx.profiler?.start();
    const start = performance.now();
    if (awaited) {
      for (let i = 0; i < n; i++) {
        nc.publish(subject, encoder.encode(JSON.stringify(payload(i))));
        await undefined;
      }
    } else {
      for (let i = 0; i < n; i++) {
        nc.publish(subject, encoder.encode(JSON.stringify(payload(i))));
      }
    }
    return await finish(
      ctx,
      n,
      start,
      await storedAll(ctx, f.event.stream, n),
    );
  } finally {
    await nc.close();
  }
}
