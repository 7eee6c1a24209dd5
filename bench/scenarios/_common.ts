// What every scenario shares: the payload, the result types, the context,
// fresh streams and consumers, raw connections, filling and polling.
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
import * as v from "valibot";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect as nodeConnect } from "@nats-io/transport-node";
import { Actor, type ActorOptions, Event } from "../../mod.ts";
import type { LatencyFigure } from "../_stats.ts";

/** The payload of every scenario. */
export const User = v.object({ id: v.number(), name: v.string() });
/** Its type. */
export type User = v.InferOutput<typeof User>;

/**
 * Which implementation a measurement uses: walnats, the idiomatic raw
 * nats.js code, the best raw nats.js code a performance-minded user would
 * write, or a peer framework.
 */
export type Side = "ours" | "raw" | "strong" | "budget" | "bullmq";

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

/** What idle actors cost, for one count of actors in one listener. */
export interface IdleFigure {
  actors: number;
  /** Seconds measured (after the pulls settled). */
  seconds: number;
  /** Pull requests per second the server received. */
  pullsPerSecond: number;
  /** Messages per second the server sent the listener (idle heartbeats, pull expiries). */
  deliveredPerSecond: number;
  /** Process CPU (user + system) over the window, percent of one core. */
  cpuPercent: number;
  /** Resident set size at the end of the window, bytes. */
  rss: number;
}

/** Handling throughput with several listener processes. */
export interface ProcessesFigure {
  processes: number;
  rate: number;
  rounds: number[];
}

/** One line of a scenario runner's output. */
export type ScenarioResult =
  | {
    kind: "throughput";
    scenario: string;
    n: number;
    window?: number;
    /** What "raw" is: "nats.js" (default) or a peer such as "BullMQ". */
    baseline?: string;
    ours: ThroughputFigure;
    raw: ThroughputFigure;
    /** The strongest raw nats.js code (concurrent, acks not awaited). */
    strong?: ThroughputFigure;
    /** How the strong baseline runs. */
    strongNote?: string;
    /**
     * The idiomatic raw loop held to as many buffered messages as our job
     * slots (handle-defaults): the same in-flight bound as ours.
     */
    budget?: ThroughputFigure;
  }
  | {
    kind: "latency";
    scenario: string;
    n: number;
    baseline?: string;
    ours: LatencyFigure;
    raw: LatencyFigure;
  }
  | {
    kind: "memory";
    scenario: string;
    n: number;
    ours: SoakFigure;
  }
  | {
    kind: "idle";
    scenario: string;
    n: number;
    ours: IdleFigure[];
  }
  | {
    kind: "processes";
    scenario: string;
    n: number;
    ours: ProcessesFigure[];
  }
  | {
    kind: "skipped";
    scenario: string;
    n: number;
    reason: string;
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

export const encoder = new TextEncoder();
const NAME = "bench-user";
let counter = 0;
/** Unique per process: names of streams, consumers and queues. */
export const runId: string = `${Date.now().toString(36)}-${
  Math.random().toString(36).slice(2, 6)
}`;

/** The `i`th payload. */
export function payload(i: number): User {
  return { id: i, name: NAME };
}

/** The handler of the emit scenarios. */
export async function trivial(_message: unknown): Promise<void> {}

/** A unique name. */
export function uniqueName(label: string): string {
  counter++;
  return `b-${label}-${runId}-${counter}`;
}

/** A fresh event and actor (stream and consumer created on the server). */
export async function fresh(
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
  const name = uniqueName(label);
  const event = new Event(name, User);
  const actor = new Actor(`${name}-a`, event, handler, { ...actorOptions });
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

/** A raw nats.js connection, as a nats.js user makes one. */
export async function rawConnect(url: string): Promise<NatsConnection> {
  return await nodeConnect({ servers: url });
}

/** Publish `n` messages with at most `window` awaiting their ack. */
export async function rawWindow(
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

/** The raw side's encoding of the `i`th payload. */
export function rawData(i: number): Uint8Array {
  return encoder.encode(JSON.stringify(payload(i)));
}

/** Fill a stream with `n` messages (not measured). */
export async function fill(
  ctx: BenchContext,
  subject: string,
  n: number,
): Promise<void> {
  await rawWindow(jetstream(ctx.admin), subject, n, WINDOW, rawData);
}

/** Wait until the stream holds at least `n` messages; returns when seen. */
export async function storedAll(
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

/** Messages per second. */
export function rate(n: number, start: number, end: number): number {
  return n / ((end - start) / 1000);
}

/** Stop the profiler (if any) and return the rate. */
export async function finish(
  ctx: BenchContext,
  n: number,
  start: number,
  end: number,
): Promise<number> {
  await ctx.profiler?.stop();
  return rate(n, start, end);
}

/** A promise and its resolve function. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

/** A new {@linkcode Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Wait until `check()` is true, polling every `every` ms, up to `timeout`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeout = 60_000,
  every = 20,
): Promise<void> {
  const end = performance.now() + timeout;
  while (!(await check())) {
    if (performance.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}
