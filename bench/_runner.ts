// The bench runner: starts a nats-server (unless given one), runs
// bench/run.ts once per runtime, collects its JSON lines, and builds the
// report and the table. Uses only `node:` APIs, so it runs on Deno, Bun and
// Node alike.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { NatsServer } from "../src/testing/mod.ts";
import {
  ALONE,
  type ScenarioName,
  type ScenarioResult,
  SCENARIOS,
} from "./_scenarios.ts";
import { grouped, mib, ms } from "./_stats.ts";
import { DEFAULTS } from "./scenarios/handle.ts";

/** The three runtimes. */
export const RUNTIMES = ["deno", "bun", "node"] as const;
/** One of them. */
export type RuntimeName = typeof RUNTIMES[number];

/** Repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** How to start a runtime on a script: command and the arguments before it. */
export type Command = [string, string[]];

/** The default command of each runtime (the repository's own binaries). */
export function defaultCommand(runtime: RuntimeName): Command {
  const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
  switch (runtime) {
    case "deno":
      return [join(ROOT, "node_modules/.bin/deno"), ["run", "-A"]];
    case "bun":
      return [join(ROOT, "node_modules/.bin/bun"), ["run"]];
    case "node":
      return [isNode ? process.execPath : "node", ["--import", "tsx"]];
  }
}

/** Options for {@linkcode runBench}. */
export interface BenchOptions {
  /** Small N and one round: a smoke run. @default {false} */
  quick?: boolean;
  /** Runtimes to run, in order. @default {all three} */
  runtimes?: readonly RuntimeName[];
  /** Scenarios to run. @default {all} */
  scenarios?: readonly ScenarioName[];
  /** Multiplies the full-size N of every scenario. @default {1} */
  scale?: number;
  /** Rounds per side (ABBA order). @default {2, or 1 when quick} */
  rounds?: number;
  /** Use this server instead of starting one. */
  url?: string;
  /** Override how a runtime is started. */
  commands?: Partial<Record<RuntimeName, Command>>;
  /** Where to write the JSON report; `null` writes nothing. */
  out?: string | null;
  /** Progress lines (the children's stderr). @default {none} */
  progress?: (line: string) => void;
  /** Milliseconds one runtime may take before it is killed. @default {1_800_000} */
  timeout?: number;
}

/** A scenario result from one runtime. */
export type RuntimeResult = ScenarioResult & {
  runtime: RuntimeName;
  seconds: number;
};

/** What {@linkcode runBench} produces (and writes as JSON). */
export interface BenchReport {
  date: string;
  quick: boolean;
  scale: number;
  rounds: number;
  machine: {
    cpus: number;
    cpuModel: string;
    os: string;
    memory: number;
    /** 1/5/15-minute load averages before and after the run. */
    loadBefore: number[];
    loadAfter: number[];
  };
  natsServer: string;
  runtimes: Partial<Record<RuntimeName, string>>;
  results: RuntimeResult[];
  errors: { runtime: RuntimeName; scenario?: string; message: string }[];
}

interface ChildLine {
  type: "info" | "result" | "error";
  runtime?: string;
  version?: string;
  server?: string;
  scenario?: string;
  message?: string;
}

async function runChild(
  runtime: RuntimeName,
  command: Command,
  args: string[],
  timeout: number,
  progress: ((line: string) => void) | undefined,
  onLine: (line: ChildLine) => void,
): Promise<number | null> {
  const [cmd, pre] = command;
  const child = spawn(cmd, [...pre, join(ROOT, "bench/run.ts"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
  const lines = (
    stream: NodeJS.ReadableStream,
    each: (line: string) => void,
  ) => {
    let partial = "";
    stream.on("data", (chunk: Uint8Array | string) => {
      partial += typeof chunk === "string"
        ? chunk
        : new TextDecoder().decode(chunk);
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const part of parts) if (part !== "") each(part);
    });
    stream.on("end", () => {
      if (partial !== "") each(partial);
    });
  };
  const stderr: string[] = [];
  lines(child.stdout!, (line) => {
    try {
      onLine(JSON.parse(line) as ChildLine);
    } catch {
      progress?.(`[${runtime}] ${line}`);
    }
  });
  lines(child.stderr!, (line) => {
    stderr.push(line);
    if (stderr.length > 50) stderr.shift();
    progress?.(line);
  });
  const code = await new Promise<number | null>((resolve) => {
    child.once("close", (c) => resolve(c));
    child.once("error", (error) => {
      stderr.push(`spawn failed: ${error.message}`);
      resolve(-1);
    });
  });
  clearTimeout(timer);
  if (code !== 0) {
    onLine({
      type: "error",
      runtime,
      message: `exited with code ${code}: ${stderr.slice(-10).join("\n")}`,
    });
  }
  return code;
}

/**
 * Run the benchmarks and return (and write) the report.
 *
 * @param options Which runtimes and scenarios, sizes, server, output.
 * @returns The report.
 */
export async function runBench(
  options: BenchOptions = {},
): Promise<BenchReport> {
  const quick = options.quick ?? false;
  const scale = options.scale ?? 1;
  const rounds = options.rounds ?? (quick ? 1 : 2);
  const runtimes = options.runtimes ?? RUNTIMES;
  const cpus = os.cpus();
  const report: BenchReport = {
    date: new Date().toISOString(),
    quick,
    scale,
    rounds,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? "unknown",
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      memory: os.totalmem(),
      loadBefore: os.loadavg(),
      loadAfter: [],
    },
    natsServer: "unknown",
    runtimes: {},
    results: [],
    errors: [],
  };
  const server = options.url === undefined
    ? await NatsServer.start()
    : undefined;
  try {
    const url = options.url ?? server!.url;
    const args = [`--url=${url}`, `--scale=${scale}`, `--rounds=${rounds}`];
    if (quick) args.push("--quick");
    // The soak and the idle cost get a process each: RSS never shrinks
    // back, so after the other scenarios it would show their high-water
    // mark, not their own.
    const wanted = options.scenarios ?? SCENARIOS;
    const groups = [
      wanted.filter((s) => !ALONE.includes(s)),
      ...ALONE.filter((s) => wanted.includes(s)).map((s) => [s]),
    ].filter((group) => group.length > 0);
    for (const runtime of runtimes) {
      const command = options.commands?.[runtime] ?? defaultCommand(runtime);
      options.progress?.(`=== ${runtime} ===`);
      for (const group of groups) {
        await runChild(
          runtime,
          command,
          [...args, `--scenario=${group.join(",")}`],
          options.timeout ?? 1_800_000,
          options.progress,
          (line) => {
            if (line.type === "info") {
              report.runtimes[runtime] = line.version ?? "unknown";
              if (line.server) report.natsServer = line.server;
            } else if (line.type === "result") {
              const { type: _type, ...rest } = line as
                & ChildLine
                & RuntimeResult;
              report.results.push({ ...rest, runtime });
            } else if (line.type === "error") {
              report.errors.push({
                runtime,
                ...(line.scenario ? { scenario: line.scenario } : {}),
                message: line.message ?? "unknown error",
              });
            }
          },
        );
      }
    }
  } finally {
    await server?.close();
  }
  report.machine.loadAfter = os.loadavg();
  const out = options.out === undefined
    ? join(
      ROOT,
      quick ? "bench/results/quick.tmp" : "bench/results/latest.json",
    )
    : options.out;
  if (out !== null) {
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + "\n");
  }
  return report;
}

/** Throughput ratio targets (ours / baseline, at least). */
const MIN_RATIO: Partial<Record<string, number>> = {
  "emit-sequential": 0.9,
  "emit-bulk": 0.9,
  "emit-fire-and-forget": 0.9,
  "emit-fire-and-forget-awaited": 0.9,
  "handle-defaults": 0.9,
  "handle-tuned": 0.9,
};

/** Idle pull requests per second allowed at 1,000 actors. */
export const IDLE_PULLS_MAX = 100;

/**
 * Whether a result meets the issue's target; undefined where none is set.
 * `strong`: the ratio to the strongest raw consumer (handle scenarios).
 */
export function verdict(
  r: RuntimeResult,
  strong = false,
): { target: string; met?: boolean } {
  switch (r.kind) {
    case "throughput": {
      if (r.baseline === "BullMQ") {
        return { target: "> 1×", met: r.ours.rate > r.raw.rate };
      }
      const want = MIN_RATIO[r.scenario];
      const other = strong ? r.strong : r.raw;
      if (want === undefined || other === undefined) return { target: "—" };
      return { target: `≥ ${want}×`, met: r.ours.rate / other.rate >= want };
    }
    case "latency":
      if (r.scenario === "delays") {
        // Both columns are walnats: behind 100,000 delayed vs none.
        return {
          target: "p50 ≤ 1.5× of none pending",
          met: r.ours.p50 / r.raw.p50 <= 1.5,
        };
      }
      if (r.baseline === "BullMQ") {
        return {
          target: "p50 and p99 below BullMQ's",
          met: r.ours.p50 < r.raw.p50 && r.ours.p99 < r.raw.p99,
        };
      }
      return {
        target: "p50 ≤ 1.1×, p99 ≤ 1.5×",
        met: r.ours.p50 / r.raw.p50 <= 1.1 && r.ours.p99 / r.raw.p99 <= 1.5,
      };
    case "memory":
      return { target: "growth < 10%", met: r.ours.growth < 10 };
    case "idle": {
      const most = r.ours.at(-1);
      if (most === undefined || most.actors < 1000) return { target: "—" };
      return {
        target: `< ${IDLE_PULLS_MAX} pulls/s at 1,000 actors`,
        met: most.pullsPerSecond < IDLE_PULLS_MAX,
      };
    }
    case "processes":
    case "skipped":
      return { target: "—" };
  }
}

function markdown(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.map((row) => [...row[i]!].length))
  );
  const line = (row: string[]) =>
    `| ${
      row.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join(" | ")
    } |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

/** Results in scenario order, runtimes in their order within each. */
function ordered(report: BenchReport): RuntimeResult[] {
  const order = new Map(RUNTIMES.map((r, i) => [r, i]));
  const scenarios: readonly string[] = SCENARIOS;
  return [...report.results].sort((a, b) =>
    scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario) ||
    order.get(a.runtime)! - order.get(b.runtime)!
  );
}

/** The report as a Markdown table (and the idle cost as a second one). */
export function table(report: BenchReport): string {
  const rows: string[][] = [[
    "scenario",
    "runtime",
    "ours",
    "baseline",
    "ours/baseline",
    "target",
  ]];
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const mark = (v: { target: string; met?: boolean }) =>
    v.target + (v.met === undefined ? "" : v.met ? " ✅" : " ❌");
  const idle: RuntimeResult[] = [];
  for (const r of ordered(report)) {
    if (r.kind === "throughput") {
      const name = `${r.scenario} (n=${grouped(r.n)}${
        r.window ? `, window ${r.window}` : ""
      })`;
      const who = r.baseline ?? "raw nats.js";
      rows.push([
        name,
        r.runtime,
        `${grouped(r.ours.rate)} msg/s`,
        `${who} ${grouped(r.raw.rate)} msg/s`,
        x(r.ours.rate, r.raw.rate),
        mark(verdict(r)),
      ]);
      if (r.strong !== undefined) {
        rows.push([
          `${name} vs strong raw`,
          r.runtime,
          `${grouped(r.ours.rate)} msg/s`,
          `strong raw ${grouped(r.strong.rate)} msg/s`,
          x(r.ours.rate, r.strong.rate),
          mark(verdict(r, true)),
        ]);
      }
      if (r.budget !== undefined) {
        // No target of its own: it shows how much of the gap to the raw
        // loop is the raw loop's larger buffer.
        rows.push([
          `${name} vs raw at our in-flight bound`,
          r.runtime,
          `${grouped(r.ours.rate)} msg/s`,
          `raw, max_messages ${DEFAULTS.concurrency}: ${
            grouped(r.budget.rate)
          } msg/s`,
          x(r.ours.rate, r.budget.rate),
          "—",
        ]);
      }
    } else if (r.kind === "latency") {
      const f = (l: typeof r.ours) =>
        `p50 ${ms(l.p50)} / p99 ${ms(l.p99)} / max ${ms(l.max)} ms`;
      rows.push([
        `${r.scenario} (${grouped(r.n)} samples)`,
        r.runtime,
        f(r.ours),
        `${r.baseline ?? "raw nats.js"} ${f(r.raw)}`,
        `p50 ${x(r.ours.p50, r.raw.p50)} / p99 ${
          x(r.ours.p99, r.raw.p99)
        } / max ${x(r.ours.max, r.raw.max)}`,
        mark(verdict(r)),
      ]);
    } else if (r.kind === "memory") {
      rows.push([
        `${r.scenario} (${grouped(r.n)} events)`,
        r.runtime,
        `RSS ${mib(r.ours.rss10)} at 10% → ${mib(r.ours.rss100)} at 100% (${
          r.ours.growth >= 0 ? "+" : ""
        }${r.ours.growth.toFixed(1)}%), ${grouped(r.ours.rate)} msg/s`,
        "—",
        "—",
        mark(verdict(r)),
      ]);
    } else if (r.kind === "processes") {
      const one = r.ours.find((p) => p.processes === 1);
      const three = r.ours.find((p) => p.processes === 3);
      rows.push([
        `${r.scenario} (n=${grouped(r.n)}, tuned)`,
        r.runtime,
        r.ours.map((p) =>
          `${p.processes} process${p.processes === 1 ? "" : "es"}: ${
            grouped(p.rate)
          } msg/s`
        ).join(", "),
        "—",
        one && three ? `3 vs 1: ${x(three.rate, one.rate)}` : "—",
        mark(verdict(r)),
      ]);
    } else if (r.kind === "skipped") {
      rows.push([r.scenario, r.runtime, `skipped: ${r.reason}`, "—", "—", "—"]);
    } else {
      idle.push(r);
    }
  }
  const parts = [markdown(rows)];
  if (idle.length > 0) {
    const idleRows: string[][] = [[
      "idle actors",
      "runtime",
      "pull requests/s",
      "messages in/s",
      "CPU (one core)",
      "RSS",
      "target",
    ]];
    for (const r of idle) {
      if (r.kind !== "idle") continue;
      const v = verdict(r);
      for (const f of r.ours) {
        idleRows.push([
          grouped(f.actors),
          r.runtime,
          f.pullsPerSecond.toFixed(1),
          f.deliveredPerSecond.toFixed(1),
          `${f.cpuPercent.toFixed(1)}%`,
          mib(f.rss),
          f.actors === 1000 ? mark(v) : "",
        ]);
      }
    }
    parts.push(markdown(idleRows));
  }
  return parts.join("\n\n");
}

/** Machine and versions, one Markdown paragraph. */
export function describeMachine(report: BenchReport): string {
  const m = report.machine;
  const versions = Object.entries(report.runtimes)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ");
  const gib = (m.memory / 1024 ** 3).toFixed(1);
  return `${m.cpus} × ${m.cpuModel}, ${gib} GiB RAM, ${m.os}; ` +
    `nats-server ${report.natsServer}; ${versions}; ${report.date}; ` +
    `load average ${m.loadBefore.map((l) => l.toFixed(2)).join("/")} before, ` +
    `${m.loadAfter.map((l) => l.toFixed(2)).join("/")} after` +
    (report.quick ? " (quick run: small N, figures are not meaningful)" : "");
}
