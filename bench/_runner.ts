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
  type ScenarioName,
  type ScenarioResult,
  SCENARIOS,
} from "./_scenarios.ts";
import { grouped, mib, ms } from "./_stats.ts";

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
    // The soak gets a process of its own: RSS never shrinks back, so after
    // the other scenarios it would show their high-water mark, not its own.
    const wanted = options.scenarios ?? SCENARIOS;
    const groups = [
      wanted.filter((s) => s !== "soak"),
      wanted.filter((s) => s === "soak"),
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

/** Whether a result meets the issue's target; undefined where none is set. */
export function verdict(r: RuntimeResult): { target: string; met?: boolean } {
  switch (r.kind) {
    case "throughput": {
      const min: Partial<Record<ScenarioName, number>> = {
        "emit-sequential": 0.9,
        "emit-bulk": 0.9,
        "handle-defaults": 0.5,
        "handle-tuned": 0.9,
      };
      const want = min[r.scenario];
      if (want === undefined) return { target: "—" };
      return {
        target: `≥ ${want}×`,
        met: r.ours.rate / r.raw.rate >= want,
      };
    }
    case "latency":
      if (r.scenario === "delays") {
        // Both columns are walnats: behind 100,000 delayed vs none.
        return {
          target: "p50 ≤ 1.5× of none pending",
          met: r.ours.p50 / r.raw.p50 <= 1.5,
        };
      }
      return {
        target: "p50 ≤ 1.1×, p99 ≤ 1.5×",
        met: r.ours.p50 / r.raw.p50 <= 1.1 && r.ours.p99 / r.raw.p99 <= 1.5,
      };
    case "memory":
      return { target: "growth < 10%", met: r.ours.growth < 10 };
  }
}

/** The report as a Markdown table. */
export function table(report: BenchReport): string {
  const rows: string[][] = [[
    "scenario",
    "runtime",
    "ours",
    "raw nats.js",
    "ours/raw",
    "target",
  ]];
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const order = new Map(RUNTIMES.map((r, i) => [r, i]));
  const results = [...report.results].sort((a, b) =>
    a.scenario === b.scenario
      ? order.get(a.runtime)! - order.get(b.runtime)!
      : 0
  );
  const seen: string[] = [];
  for (const r of results) {
    if (!seen.includes(r.scenario)) seen.push(r.scenario);
  }
  results.sort((a, b) =>
    seen.indexOf(a.scenario) - seen.indexOf(b.scenario) ||
    order.get(a.runtime)! - order.get(b.runtime)!
  );
  for (const r of results) {
    const v = verdict(r);
    const mark = v.met === undefined ? "" : v.met ? " ✅" : " ❌";
    const name = r.kind === "throughput"
      ? `${r.scenario} (n=${grouped(r.n)}${
        r.window ? `, window ${r.window}` : ""
      })`
      : r.kind === "latency"
      ? `${r.scenario} (${grouped(r.n)} samples)`
      : `${r.scenario} (${grouped(r.n)} events)`;
    if (r.kind === "throughput") {
      rows.push([
        name,
        r.runtime,
        `${grouped(r.ours.rate)} msg/s`,
        `${grouped(r.raw.rate)} msg/s`,
        x(r.ours.rate, r.raw.rate),
        v.target + mark,
      ]);
    } else if (r.kind === "latency") {
      const f = (l: typeof r.ours) =>
        `p50 ${ms(l.p50)} / p99 ${ms(l.p99)} / max ${ms(l.max)} ms`;
      rows.push([
        name,
        r.runtime,
        f(r.ours),
        f(r.raw),
        `p50 ${x(r.ours.p50, r.raw.p50)} / p99 ${
          x(r.ours.p99, r.raw.p99)
        } / max ${x(r.ours.max, r.raw.max)}`,
        v.target + mark,
      ]);
    } else {
      rows.push([
        name,
        r.runtime,
        `RSS ${mib(r.ours.rss10)} at 10% → ${mib(r.ours.rss100)} at 100% (${
          r.ours.growth >= 0 ? "+" : ""
        }${r.ours.growth.toFixed(1)}%), ${grouped(r.ours.rate)} msg/s`,
        "—",
        "—",
        v.target + mark,
      ]);
    }
  }
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
