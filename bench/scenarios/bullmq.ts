// BullMQ, the peer: the same payload and counts through BullMQ on the
// Redis at REDIS_URL (default redis://127.0.0.1:6379), measured beside ours
// in the same process. Every run uses a queue of its own and obliterates it
// afterwards (never FLUSHALL).
//
// BullMQ needs a Redis client: on Bun it uses Bun's built-in RedisClient
// (through BullMQ's createBunRedisClient adapter); on Node and Deno it needs
// the `ioredis` package, and the scenarios are skipped with a note when that
// is not installed, or when no Redis answers.
import { createRequire } from "node:module";
import { Socket } from "node:net";
import process from "node:process";
import type { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import { Actors, Events, type ListenOptions, silentLogger } from "../../mod.ts";
import {
  type BenchContext,
  type Deferred,
  deferred,
  fill,
  fresh,
  payload,
  rate,
  type Side,
  storedAll,
  trivial,
  uniqueName,
  until,
  type User,
  WINDOW,
} from "./_common.ts";

/** Where BullMQ's Redis is. */
export const REDIS_URL: string = process.env.REDIS_URL ??
  "redis://127.0.0.1:6379";

/** Jobs per `addBulk` call (and per `emitMany` call on our side). */
export const BULK_CHUNK = 1000;

type BullMQ = typeof import("bullmq");
let loaded: Promise<BullMQ | string> | undefined;

/** Whether a Redis answers PING at `url` within a second. */
function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.once("error", () => done(false));
    socket.once("data", (chunk: Uint8Array | string) => {
      // +PONG, or -NOAUTH from a server that wants a password: it answers.
      const text = typeof chunk === "string"
        ? chunk
        : new TextDecoder().decode(chunk);
      done(text.startsWith("+") || text.startsWith("-"));
    });
    socket.connect(
      Number(port || 6379),
      hostname.replace(/^\[|\]$/g, ""),
      () => socket.write("PING\r\n"),
    );
  });
}

/**
 * BullMQ wired to a Redis client this runtime has, or why it cannot run
 * here (the scenario is then skipped with that note).
 */
export function bullmq(): Promise<BullMQ | string> {
  loaded ??= (async (): Promise<BullMQ | string> => {
    if (!(await redisAnswers(REDIS_URL))) {
      return `no Redis answers at ${REDIS_URL} (set REDIS_URL)`;
    }
    const mod = await import("bullmq");
    const bun = (globalThis as { Bun?: unknown }).Bun;
    if (bun !== undefined) {
      // Bun's built-in client, one per BullMQ connection.
      const { RedisClient } = await import("bun" as string) as {
        RedisClient: new (url: string) => unknown;
      };
      mod.RedisConnection.clientFactory = () =>
        mod.createBunRedisClient(
          new RedisClient(REDIS_URL) as Parameters<
            typeof mod.createBunRedisClient
          >[0],
        );
      return mod;
    }
    try {
      createRequire(import.meta.url).resolve("ioredis");
    } catch {
      return "BullMQ needs the ioredis package on this runtime and it is not installed (npm install -D ioredis); Bun runs it with its built-in RedisClient";
    }
    return mod;
  })();
  return loaded;
}

/** A fresh queue (cleaned up with obliterate when disposed). */
async function queue(
  mq: BullMQ,
  label: string,
): Promise<{ queue: BullQueue; [Symbol.asyncDispose](): Promise<void> }> {
  const name = uniqueName(label);
  const q = new mq.Queue(name, {
    connection: { url: REDIS_URL },
    // As our interest streams drop a message once it is acked.
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  await q.waitUntilReady();
  return {
    queue: q,
    async [Symbol.asyncDispose]() {
      try {
        await q.obliterate({ force: true });
      } finally {
        await q.close();
      }
    },
  };
}

async function addBulk(q: BullQueue, n: number): Promise<void> {
  for (let sent = 0; sent < n; sent += BULK_CHUNK) {
    const size = Math.min(BULK_CHUNK, n - sent);
    await q.addBulk(
      Array.from({ length: size }, (_, i) => ({
        name: "user",
        data: payload(sent + i),
      })),
    );
  }
}

/** `await pub.emit` one by one; BullMQ `await queue.add` one by one. */
export async function bullAdd(
  ctx: BenchContext,
  side: Side,
  n: number,
  mq: BullMQ,
): Promise<number> {
  if (side === "ours") {
    await using f = await fresh(ctx, "qa", trivial);
    await using pub = await new Events(f.event).connect(ctx.url);
    const start = performance.now();
    for (let i = 0; i < n; i++) await pub.emit(f.event, payload(i));
    return rate(n, start, performance.now());
  }
  await using q = await queue(mq, "qa");
  const start = performance.now();
  for (let i = 0; i < n; i++) await q.queue.add("user", payload(i));
  return rate(n, start, performance.now());
}

/** `emitMany` in chunks of 1,000; BullMQ `addBulk` in chunks of 1,000. */
export async function bullAddBulk(
  ctx: BenchContext,
  side: Side,
  n: number,
  mq: BullMQ,
): Promise<number> {
  if (side === "ours") {
    await using f = await fresh(ctx, "qb", trivial);
    await using pub = await new Events(f.event).connect(ctx.url);
    const start = performance.now();
    for (let sent = 0; sent < n; sent += BULK_CHUNK) {
      const size = Math.min(BULK_CHUNK, n - sent);
      const items = Array.from({ length: size }, (_, i) => payload(sent + i));
      const { failures } = await pub.emitMany(f.event, items, {
        window: WINDOW,
      });
      if (failures.length > 0) {
        throw new Error(`emitMany failed ${failures.length} messages`);
      }
    }
    return rate(n, start, performance.now());
  }
  await using q = await queue(mq, "qb");
  const start = performance.now();
  await addBulk(q.queue, n);
  return rate(n, start, performance.now());
}

/**
 * Drain `n` waiting jobs with `concurrency` at once: ours `listen()` with
 * `maxJobs` (and `batch`) at that concurrency, BullMQ a Worker with it.
 */
export async function bullWork(
  ctx: BenchContext,
  side: Side,
  n: number,
  concurrency: number,
  mq: BullMQ,
): Promise<number> {
  let handled = 0;
  const done = deferred<number>();
  // deno-lint-ignore require-await -- the scenario wants an async handler
  const handler = async (_message: User): Promise<void> => {
    if (++handled === n) done.resolve(performance.now());
  };
  if (side === "ours") {
    await using f = await fresh(ctx, `qw${concurrency}`, handler, {
      maxJobs: concurrency,
    });
    await fill(ctx, f.event.subject, n);
    await storedAll(ctx, f.event.stream, n);
    await using sub = await new Actors(f.actor).connect(ctx.url);
    const stop = new AbortController();
    const options: ListenOptions = { maxJobs: concurrency, batch: concurrency };
    const start = performance.now();
    const listening = sub.listen({
      ...options,
      signal: stop.signal,
      logger: silentLogger,
    });
    const end = await done.promise;
    stop.abort();
    await listening;
    return rate(n, start, end);
  }
  await using q = await queue(mq, `qw${concurrency}`);
  await addBulk(q.queue, n);
  const worker: BullWorker = new mq.Worker(
    q.queue.name,
    async (job) => await handler(job.data as User),
    { connection: { url: REDIS_URL }, concurrency, autorun: false },
  );
  try {
    await worker.waitUntilReady();
    const start = performance.now();
    void worker.run();
    const end = await done.promise;
    return rate(n, start, end);
  } finally {
    await worker.close();
  }
}

/** Milliseconds from emit (or `queue.add`) to the handler's first line. */
export async function bullLatency(
  ctx: BenchContext,
  side: Side,
  n: number,
  mq: BullMQ,
): Promise<number[]> {
  let arrived: Deferred<number> = deferred();
  const handler = (_message: User): void => {
    arrived.resolve(performance.now());
  };
  const warmup = ctx.quick ? 20 : 100;
  const samples: number[] = [];
  const loop = async (emit: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < warmup + n; i++) {
      arrived = deferred();
      const start = performance.now();
      await emit(i);
      const at = await arrived.promise;
      if (i >= warmup) samples.push(at - start);
    }
  };
  if (side === "ours") {
    await using f = await fresh(ctx, "ql", handler);
    await using pub = await new Events(f.event).connect(ctx.url);
    await using sub = await new Actors(f.actor).connect(ctx.url);
    const stop = new AbortController();
    const listening = sub.listen({ signal: stop.signal, logger: silentLogger });
    try {
      await loop((i) => pub.emit(f.event, payload(i)));
    } finally {
      stop.abort();
      await listening;
    }
    return samples;
  }
  await using q = await queue(mq, "ql");
  const worker: BullWorker = new mq.Worker(
    q.queue.name,
    // deno-lint-ignore require-await -- BullMQ wants an async processor
    async (job) => handler(job.data as User),
    { connection: { url: REDIS_URL }, concurrency: 1 },
  );
  try {
    await worker.waitUntilReady();
    await until(() => worker.isRunning(), "the BullMQ worker to run");
    await loop((i) => q.queue.add("user", payload(i)));
    return samples;
  } finally {
    await worker.close();
  }
}
