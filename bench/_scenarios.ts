// The benchmark scenarios: each one measured with walnats ("ours") and with
// what a user would write without it, in the same process against the same
// server: the idiomatic raw nats.js code ("raw"), the strongest raw nats.js
// code ("strong", the handle scenarios), the idiomatic code held to our
// in-flight bound ("budget", handle-defaults), or BullMQ on Redis ("bullmq").
// The scenarios themselves are in scenarios/, one file per group; the
// fairness rules are at the top of scenarios/_common.ts.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "../mod.ts";
import { summarize } from "./_stats.ts";
import {
  type BenchContext,
  type ScenarioResult,
  type Side,
  type ThroughputFigure,
  WINDOW,
} from "./scenarios/_common.ts";
import {
  emitBulk,
  emitFireAndForget,
  emitSequential,
} from "./scenarios/emit.ts";
import {
  DEFAULTS,
  handle,
  strongMaxMessages,
  TUNED,
} from "./scenarios/handle.ts";
import { latency } from "./scenarios/latency.ts";
import { delays } from "./scenarios/delays.ts";
import { soak } from "./scenarios/soak.ts";
import { idleCounts, idleOnce } from "./scenarios/idle.ts";
import { processes } from "./scenarios/processes.ts";
import {
  bullAdd,
  bullAddBulk,
  bullLatency,
  bullmq,
  bullWork,
} from "./scenarios/bullmq.ts";

export type {
  BenchContext,
  IdleFigure,
  ProcessesFigure,
  ScenarioResult,
  Side,
  SoakFigure,
  ThroughputFigure,
} from "./scenarios/_common.ts";
export { User, WINDOW } from "./scenarios/_common.ts";

/** Names of the scenarios, in the order they run. */
export const SCENARIOS = [
  "emit-sequential",
  "emit-bulk",
  "emit-fire-and-forget",
  "emit-fire-and-forget-awaited",
  "handle-defaults",
  "handle-tuned",
  "latency",
  "delays",
  "bullmq-add",
  "bullmq-add-bulk",
  "bullmq-worker-1",
  "bullmq-worker-100",
  "bullmq-latency",
  "processes",
  "idle",
  "soak",
] as const;
/** One scenario's name. */
export type ScenarioName = typeof SCENARIOS[number];

/** Scenarios that run in a process of their own (RSS is a high-water mark). */
export const ALONE: readonly ScenarioName[] = ["idle", "soak"];

const FULL: Record<ScenarioName, number> = {
  "emit-sequential": 20_000,
  "emit-bulk": 100_000,
  "emit-fire-and-forget": 400_000,
  "emit-fire-and-forget-awaited": 100_000,
  "handle-defaults": 120_000,
  "handle-tuned": 200_000,
  "latency": 5_000,
  "delays": 1_000,
  "bullmq-add": 20_000,
  "bullmq-add-bulk": 100_000,
  "bullmq-worker-1": 20_000,
  "bullmq-worker-100": 100_000,
  "bullmq-latency": 5_000,
  "processes": 200_000,
  "idle": 1_000,
  "soak": 500_000,
};
const QUICK: Record<ScenarioName, number> = {
  "emit-sequential": 300,
  "emit-bulk": 500,
  "emit-fire-and-forget": 500,
  "emit-fire-and-forget-awaited": 500,
  "handle-defaults": 300,
  "handle-tuned": 300,
  "latency": 100,
  "delays": 50,
  "bullmq-add": 300,
  "bullmq-add-bulk": 500,
  "bullmq-worker-1": 300,
  "bullmq-worker-100": 300,
  "bullmq-latency": 100,
  "processes": 2_000,
  "idle": 10,
  "soak": 5_000,
};

/** The N of a scenario. */
export function sizeOf(ctx: BenchContext, scenario: ScenarioName): number {
  if (ctx.quick || scenario === "idle") {
    return ctx.quick ? QUICK[scenario] : FULL[scenario];
  }
  return Math.max(1, Math.round(FULL[scenario] * ctx.scale));
}

/** Scenarios measured side by side (ours against a baseline). */
export type Compared = Exclude<ScenarioName, "idle" | "soak" | "processes">;

/** Whether a scenario is measured side by side. */
export function isCompared(scenario: string): scenario is Compared {
  return (SCENARIOS as readonly string[]).includes(scenario) &&
    scenario !== "idle" && scenario !== "soak" && scenario !== "processes";
}

/** The sides of a compared scenario. */
export function sidesOf(scenario: Compared): Side[] {
  if (scenario.startsWith("bullmq-")) return ["ours", "bullmq"];
  // With 100 job slots (tuned) the raw loop's default buffer of 100 already
  // is our budget; with the defaults' 16 it is six times ours.
  if (scenario === "handle-defaults") {
    return ["ours", "raw", "strong", "budget"];
  }
  if (scenario === "handle-tuned") return ["ours", "raw", "strong"];
  return ["ours", "raw"];
}

/** Run one side of one compared scenario once. */
export async function runOnce(
  ctx: BenchContext,
  scenario: Compared,
  side: Side,
  n: number,
): Promise<number | number[]> {
  switch (scenario) {
    case "emit-sequential":
      return await emitSequential(ctx, side, n);
    case "emit-bulk":
      return await emitBulk(ctx, side, n);
    case "emit-fire-and-forget":
      return await emitFireAndForget(ctx, side, n, false);
    case "emit-fire-and-forget-awaited":
      return await emitFireAndForget(ctx, side, n, true);
    case "handle-defaults":
      return await handle(ctx, side, n, DEFAULTS);
    case "handle-tuned":
      return await handle(ctx, side, n, TUNED);
    case "latency":
      return await latency(ctx, side, n);
    case "delays":
      return await delays(ctx, side, n);
  }
  const mq = await bullmq();
  if (typeof mq === "string") throw new Error(mq);
  switch (scenario) {
    case "bullmq-add":
      return await bullAdd(ctx, side, n, mq);
    case "bullmq-add-bulk":
      return await bullAddBulk(ctx, side, n, mq);
    case "bullmq-worker-1":
      return await bullWork(ctx, side, n, 1, mq);
    case "bullmq-worker-100":
      return await bullWork(ctx, side, n, 100, mq);
    case "bullmq-latency":
      return await bullLatency(ctx, side, n, mq);
  }
}

/**
 * Run a scenario: an unmeasured warm-up of every side (except in quick
 * mode), then every side `rounds` times in ABBA order (ours, raw, raw,
 * ours, ...) so drift hits all alike. Throughput is the best round of each
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
  if (scenario === "idle") {
    const figures = [];
    for (const count of idleCounts(ctx)) {
      figures.push(await idleOnce(ctx, count));
    }
    return { kind: "idle", scenario, n, ours: figures };
  }
  if (scenario === "processes") {
    return {
      kind: "processes",
      scenario,
      n,
      ours: await processes(ctx, n, rounds),
    };
  }
  if (scenario.startsWith("bullmq-")) {
    const mq = await bullmq();
    if (typeof mq === "string") {
      ctx.note(`${scenario}: skipped: ${mq}`);
      return { kind: "skipped", scenario, n, reason: mq };
    }
  }
  const sides = sidesOf(scenario);
  const got = new Map<Side, (number | number[])[]>(sides.map((s) => [s, []]));
  if (!ctx.quick) {
    // Unmeasured warm-up of every side, so no round pays for the JIT.
    for (const side of sides) {
      ctx.note(`${scenario}: ${side}, warm-up`);
      await runOnce(ctx, scenario, side, Math.ceil(n / 10));
    }
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      ctx.note(`${scenario}: ${side}, round ${r + 1}/${rounds}, n=${n}`);
      got.get(side)!.push(await runOnce(ctx, scenario, side, n));
    }
  }
  const baseline = sides[1] === "bullmq" ? "BullMQ" : undefined;
  const other = got.get(sides[1]!)!;
  if (
    scenario === "latency" || scenario === "delays" ||
    scenario === "bullmq-latency"
  ) {
    return {
      kind: "latency",
      scenario,
      n,
      ...(baseline ? { baseline } : {}),
      ours: summarize((got.get("ours") as number[][]).flat()),
      raw: summarize((other as number[][]).flat()),
    };
  }
  const figure = (values: (number | number[])[]): ThroughputFigure => {
    const all = values as number[];
    return { rate: Math.max(...all), rounds: all };
  };
  const strong = got.get("strong");
  const budget = got.get("budget");
  const concurrency = scenario === "handle-tuned"
    ? TUNED.concurrency
    : DEFAULTS.concurrency;
  return {
    kind: "throughput",
    scenario,
    n,
    ...(scenario === "emit-bulk" ? { window: WINDOW } : {}),
    ...(baseline ? { baseline } : {}),
    ours: figure(got.get("ours")!),
    raw: figure(other),
    ...(strong
      ? {
        strong: figure(strong),
        strongNote:
          `${concurrency} handlers at once, acks not awaited, consume() with a callback, ` +
          `consume({ max_messages: ${strongMaxMessages(concurrency)} })`,
      }
      : {}),
    ...(budget ? { budget: figure(budget) } : {}),
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
