// The benchmark scenarios: each one measured with walnats ("ours") and with
// the raw nats.js code a user would write without it ("raw"), in the same
// process against the same server.
//
// Fairness rules, applied to every scenario:
// - connections are made before the clock starts; raw nats.js connects with
//   `@nats-io/transport-node` directly (what a nats.js user installs), ours
//   with walnats' `connect()`;
// - both sides get a fresh stream and durable consumer with the same
//   configuration (the event's and actor's), deleted afterwards;
// - the raw side does the work a raw user must do to get the same result:
//   `JSON.stringify` + encode when publishing, `m.json()` when consuming,
//   and awaits the same trivial async handler; schema validation, headers
//   and the failure rules are what the framework adds, and are counted.
import process from "node:process";
import * as v from "valibot";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect as nodeConnect } from "@nats-io/transport-node";
import {
  Actor,
  type ActorOptions,
  Actors,
  connect,
  Event,
  Events,
  type ListenOptions,
  silentLogger,
} from "../mod.ts";
import { type LatencyFigure, summarize } from "./_stats.ts";

/** The payload of every scenario. */
export const User = v.object({ id: v.number(), name: v.string() });
/** Its type. */
export type User = v.InferOutput<typeof User>;

/** Names of the scenarios, in the order they run. */
export const SCENARIOS = [
  "emit-sequential",
  "emit-bulk",
  "emit-fire-and-forget",
  "handle-defaults",
  "handle-tuned",
  "latency",
  "delays",
  "soak",
] as const;
/** One scenario's name. */
export type ScenarioName = typeof SCENARIOS[number];

/** Which implementation a measurement uses. */
export type Side = "ours" | "raw";

/** Messages per second, best of the rounds, and every round. */
export interface ThroughputFigure {
  rate: number;
  rounds: number[];
}

/** RSS (bytes) through the soak run, sampled at every 10%. */
export interface SoakFigure {
  rss10: number;
  rss100: number;
  /** Growth from 10% to 100% of the run, percent. */
  growth: number;
  heap10: number;
  heap100: number;
  /** Messages handled per second over the whole run. */
  rate: number;
  samples: { percent: number; rss: number; heapUsed: number }[];
}

/** One line of a scenario runner's output. */
export type ScenarioResult =
  | {
    kind: "throughput";
    scenario: ScenarioName;
    n: number;
    window?: number;
    ours: ThroughputFigure;
    raw: ThroughputFigure;
  }
  | {
    kind: "latency";
    scenario: ScenarioName;
    n: number;
    ours: LatencyFigure;
    raw: LatencyFigure;
  }
  | {
    kind: "memory";
    scenario: ScenarioName;
    n: number;
    ours: SoakFigure;
  };

/** What every scenario gets. */
export interface BenchContext {
  url: string;
  quick: boolean;
  /** Multiplies the full-size N (not used in quick mode). */
  scale: number;
  /** Admin connection (ours), for creating, polling and deleting streams. */
  admin: NatsConnection;
  jsm: JetStreamManager;
  /** Progress notes (stderr). */
  note(text: string): void;
  /** Called around the measured part of the handle scenarios (profiling). */
  profiler?: { start(): Promise<void>; stop(): Promise<void> };
}

/** Window of in-flight publishes for the bulk scenarios (emitMany default). */
export const WINDOW = 256;

const FULL: Record<ScenarioName, number> = {
  "emit-sequential": 20_000,
  "emit-bulk": 100_000,
  "emit-fire-and-forget": 400_000,
  "handle-defaults": 120_000,
  "handle-tuned": 200_000,
  "latency": 5_000,
  "delays": 1_000,
  "soak": 500_000,
};
const QUICK: Record<ScenarioName, number> = {
  "emit-sequential": 300,
  "emit-bulk": 500,
  "emit-fire-and-forget": 500,
  "handle-defaults": 300,
  "handle-tuned": 300,
  "latency": 100,
  "delays": 50,
  "soak": 5_000,
};

/** The N of a scenario. */
export function sizeOf(ctx: BenchContext, scenario: ScenarioName): number {
  if (ctx.quick) return QUICK[scenario];
  return Math.max(1, Math.round(FULL[scenario] * ctx.scale));
}

const encoder = new TextEncoder();
const NAME = "bench-user";
let counter = 0;
const runId = Date.now().toString(36);

function payload(i: number): User {
  return { id: i, name: NAME };
}

async function trivial(_message: unknown): Promise<void> {}

/** A fresh event and actor (stream and consumer created on the server). */
async function fresh(
  ctx: BenchContext,
  label: string,
  handler: (message: User) => void | Promise<void>,
  actorOptions: ActorOptions = {},
): Promise<
  {
    event: Event<User>;
    actor: Actor<User>;
    [Symbol.asyncDispose](): Promise<void>;
  }
> {
  counter++;
  const event = new Event(`b-${label}-${runId}-${counter}`, User);
  const actor = new Actor(`b-${label}-${runId}-${counter}-a`, event, handler, {
    ...actorOptions,
  });
  await ctx.jsm.streams.add(event.streamConfig());
  await ctx.jsm.consumers.add(event.stream, actor.consumerConfig());
  return {
    event,
    actor,
    async [Symbol.asyncDispose]() {
      await ctx.jsm.streams.delete(event.stream).catch(() => {});
    },
  };
}

async function rawConnect(url: string): Promise<NatsConnection> {
  return await nodeConnect({ servers: url });
}

/** Publish `n` messages with at most `window` awaiting their ack. */
async function rawWindow(
  js: JetStreamClient,
  subject: string,
  n: number,
  window: number,
  data: (i: number) => Uint8Array,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await js.publish(subject, data(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, worker));
}

function rawData(i: number): Uint8Array {
  return encoder.encode(JSON.stringify(payload(i)));
}

/** Fill a stream with `n` messages (not measured). */
async function fill(ctx: BenchContext, subject: string, n: number) {
  await rawWindow(jetstream(ctx.admin), subject, n, WINDOW, rawData);
}

/** Wait until the stream holds at least `n` messages; returns when seen. */
async function storedAll(
  ctx: BenchContext,
  stream: string,
  n: number,
): Promise<number> {
  let last = -1;
  let lastChange = performance.now();
  while (true) {
    const info = await ctx.jsm.streams.info(stream);
    const have = info.state.messages;
    const now = performance.now();
    if (have >= n) return now;
    if (have !== last) {
      last = have;
      lastChange = now;
    } else if (now - lastChange > 15_000) {
      throw new Error(
        `stream ${stream} stopped at ${have} of ${n} messages (lost in transit)`,
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function rate(n: number, start: number, end: number): number {
  return n / ((end - start) / 1000);
}

async function finish(
  ctx: BenchContext,
  n: number,
  start: number,
  end: number,
): Promise<number> {
  await ctx.profiler?.stop();
  return rate(n, start, end);
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// ---------------------------------------------------------------- emit

async function emitSequential(
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

async function emitBulk(
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

async function emitFireAndForget(
  ctx: BenchContext,
  side: Side,
  n: number,
): Promise<number> {
  await using f = await fresh(ctx, "ef", trivial);
  if (side === "ours") {
    await using pub = await new Events(f.event).connect(ctx.url);
    await ctx.profiler?.start();
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      await pub.emit(f.event, payload(i), { sync: false });
    }
    return await finish(
      ctx,
      n,
      start,
      await storedAll(ctx, f.event.stream, n),
    );
  }
  const nc = await rawConnect(ctx.url);
  try {
    const subject = f.event.subject;
    await ctx.profiler?.start();
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      nc.publish(subject, encoder.encode(JSON.stringify(payload(i))));
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

// ---------------------------------------------------------------- handle

async function handle(
  ctx: BenchContext,
  side: Side,
  n: number,
  tuned: boolean,
): Promise<number> {
  let handled = 0;
  const done = deferred<number>();
  // The trivial async handler both sides await; it notes when the Nth
  // message is handled, so the clock stops there and not when the listener
  // has drained (listen() then waits up to pollDelay for its outstanding
  // pull requests to expire, which is shutdown, not throughput).
  // deno-lint-ignore require-await -- the scenario wants an async handler
  const handler = async (_message: User): Promise<void> => {
    if (++handled === n) done.resolve(performance.now());
  };
  const actorOptions: ActorOptions = tuned ? { maxJobs: 100 } : {};
  await using f = await fresh(
    ctx,
    tuned ? "ht" : "hd",
    handler,
    actorOptions,
  );
  await fill(ctx, f.event.subject, n);
  await storedAll(ctx, f.event.stream, n);
  if (side === "ours") {
    await using sub = await new Actors(f.actor).connect(ctx.url);
    const stop = new AbortController();
    const options: ListenOptions = tuned ? { batch: 100, maxJobs: 100 } : {};
    await ctx.profiler?.start();
    const start = performance.now();
    const listening = sub.listen({
      ...options,
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
    const messages = await consumer.consume();
    for await (const m of messages) {
      await handler(m.json<User>());
      m.ack();
      if (handled === n) break;
    }
    const end = await done.promise;
    await ctx.profiler?.stop();
    return rate(n, start, end);
  } finally {
    await nc.close();
  }
}

// ---------------------------------------------------------------- latency

async function latency(
  ctx: BenchContext,
  side: Side,
  n: number,
): Promise<number[]> {
  let arrived: Deferred<number> = deferred();
  const handler = (_message: User): void => {
    arrived.resolve(performance.now());
  };
  await using f = await fresh(ctx, "lat", handler);
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
  // Publisher and consumer on separate connections, as ours (and as they
  // are in real deployments: a shared socket would batch the pub ack and the
  // delivery into one read).
  const nc = await rawConnect(ctx.url);
  const pubNc = await rawConnect(ctx.url);
  try {
    const js = jetstream(nc);
    const pubJs = jetstream(pubNc);
    const consumer = await js.consumers.get(f.event.stream, f.actor.consumer);
    const messages = await consumer.consume();
    const consuming = (async () => {
      for await (const m of messages) {
        const message = m.json<User>();
        handler(message);
        m.ack();
      }
    })();
    const subject = f.event.subject;
    try {
      await loop((i) =>
        pubJs.publish(subject, encoder.encode(JSON.stringify(payload(i))))
      );
    } finally {
      await messages.close();
      await consuming;
    }
    return samples;
  } finally {
    await pubNc.close();
    await nc.close();
  }
}

// ---------------------------------------------------------------- delays

/** Delayed messages pending in the `delays` scenario's "ours" column. */
export function delayBacklog(ctx: BenchContext): number {
  return ctx.quick ? 2_000 : Math.max(1, Math.round(100_000 * ctx.scale));
}

// Ready-message latency through walnats, with 100,000 delayed messages
// pending ("ours") and with none ("raw": the same walnats code, no backlog).
// The listener starts after the backlog was emitted; the samples start once
// its mover made its first pass over the backlog (that pass is timed and
// printed as a note). Both columns are ours:
// the ratio is what a backlog of future jobs costs a ready one.
async function delays(
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
      name: NAME,
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

// ---------------------------------------------------------------- soak

async function soak(ctx: BenchContext, n: number): Promise<SoakFigure> {
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

// ---------------------------------------------------------------- runner

/** Run one side of one throughput or latency scenario once. */
export function runOnce(
  ctx: BenchContext,
  scenario: Exclude<ScenarioName, "soak">,
  side: Side,
  n: number,
): Promise<number | number[]> {
  switch (scenario) {
    case "emit-sequential":
      return emitSequential(ctx, side, n);
    case "emit-bulk":
      return emitBulk(ctx, side, n);
    case "emit-fire-and-forget":
      return emitFireAndForget(ctx, side, n);
    case "handle-defaults":
      return handle(ctx, side, n, false);
    case "handle-tuned":
      return handle(ctx, side, n, true);
    case "latency":
      return latency(ctx, side, n);
    case "delays":
      return delays(ctx, side, n);
  }
}

/**
 * Run a scenario: an unmeasured warm-up of both sides (except in quick
 * mode), then both sides `rounds` times each in ABBA order (ours, raw, raw,
 * ours, ...) so drift hits both alike. Throughput is the best round of each
 * side; latency pools the samples of all rounds.
 */
export async function runScenario(
  ctx: BenchContext,
  scenario: ScenarioName,
  rounds: number,
): Promise<ScenarioResult> {
  const n = sizeOf(ctx, scenario);
  if (scenario === "soak") {
    ctx.note(`${scenario}: ${n} messages`);
    return { kind: "memory", scenario, n, ours: await soak(ctx, n) };
  }
  const got: Record<Side, (number | number[])[]> = { ours: [], raw: [] };
  if (!ctx.quick) {
    // Unmeasured warm-up of both sides, so no round pays for the JIT.
    for (const side of ["ours", "raw"] as const) {
      ctx.note(`${scenario}: ${side}, warm-up`);
      await runOnce(ctx, scenario, side, Math.ceil(n / 10));
    }
  }
  for (let r = 0; r < rounds; r++) {
    const order: Side[] = r % 2 === 0 ? ["ours", "raw"] : ["raw", "ours"];
    for (const side of order) {
      ctx.note(`${scenario}: ${side}, round ${r + 1}/${rounds}, n=${n}`);
      got[side].push(await runOnce(ctx, scenario, side, n));
    }
  }
  if (scenario === "latency" || scenario === "delays") {
    return {
      kind: "latency",
      scenario,
      n,
      ours: summarize((got.ours as number[][]).flat()),
      raw: summarize((got.raw as number[][]).flat()),
    };
  }
  const figure = (values: (number | number[])[]): ThroughputFigure => {
    const rounds = values as number[];
    return { rate: Math.max(...rounds), rounds };
  };
  return {
    kind: "throughput",
    scenario,
    n,
    ...(scenario === "emit-bulk" ? { window: WINDOW } : {}),
    ours: figure(got.ours),
    raw: figure(got.raw),
  };
}

/** Connect the admin connection of a scenario runner. */
export async function openContext(
  url: string,
  quick: boolean,
  scale: number,
  note: (text: string) => void,
): Promise<BenchContext> {
  const admin = await connect({ servers: url, maxReconnectAttempts: 2 });
  return {
    url,
    quick,
    scale,
    admin,
    jsm: await jetstreamManager(admin),
    note,
  };
}
