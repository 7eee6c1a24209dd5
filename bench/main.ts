// deno-lint-ignore-file no-console -- a program: printing is its job
// `deno task bench`: how fast is walnats, and what does it cost over raw
// nats.js, on Deno, Bun and Node. Starts its own nats-server, runs every
// scenario in one child process per runtime (ours and raw nats.js measured
// in the same process, alternating), prints a Markdown table and writes
// bench/results/latest.json. Runs on Bun and Node too:
// `bun run bench/main.ts`, `node --import tsx bench/main.ts`.
//
//   --quick                  small N, one round (writes bench/results/quick.tmp)
//   --runtime=deno,bun,node  runtimes to run
//   --scenario=a,b           scenarios to run (see bench/README.md)
//   --scale=0.5              multiply every full-size N
//   --rounds=2               rounds per side (ABBA order)
//   --out=path.json          where to write the report
//   --url=nats://...         use a running server instead of starting one
import process from "node:process";
import {
  type BenchOptions,
  describeMachine,
  runBench,
  type RuntimeName,
  RUNTIMES,
  table,
} from "./_runner.ts";
import { type ScenarioName, SCENARIOS } from "./_scenarios.ts";

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

function list<T extends string>(
  name: string,
  known: readonly T[],
): T[] | undefined {
  const value = flag(name);
  if (value === undefined) return undefined;
  const items = value.split(",").filter((s) => s !== "");
  for (const item of items) {
    if (!(known as readonly string[]).includes(item)) {
      console.error(
        `unknown ${name} "${item}"; known: ${known.join(", ")}`,
      );
      process.exit(2);
    }
  }
  return items as T[];
}

const options: BenchOptions = {
  quick: process.argv.includes("--quick"),
  progress: (line) => console.error(line),
};
const runtimes = list<RuntimeName>("runtime", RUNTIMES);
if (runtimes) options.runtimes = runtimes;
const scenarios = list<ScenarioName>("scenario", SCENARIOS);
if (scenarios) options.scenarios = scenarios;
const scale = flag("scale");
if (scale !== undefined) options.scale = Number(scale);
const rounds = flag("rounds");
if (rounds !== undefined) options.rounds = Number(rounds);
const out = flag("out");
if (out !== undefined) options.out = out;
const url = flag("url");
if (url !== undefined) options.url = url;

const report = await runBench(options);
console.log();
console.log(table(report));
console.log();
console.log(describeMachine(report));
for (const error of report.errors) {
  console.log(
    `\nerror (${error.runtime}${
      error.scenario ? `, ${error.scenario}` : ""
    }): ${error.message}`,
  );
}
process.exit(report.errors.length > 0 ? 1 : 0);
