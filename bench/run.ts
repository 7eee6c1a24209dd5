// deno-lint-ignore-file no-console -- a program: printing is its job
// Scenario runner: one process of one runtime runs the scenarios asked for
// against a running server and prints one JSON line per result on stdout
// (progress goes to stderr). bench/main.ts spawns it once per runtime.
//
//   deno run -A bench/run.ts --url=nats://127.0.0.1:4222 [--quick]
//     [--scenario=emit-bulk,latency] [--scale=1] [--rounds=2]
//     [--side=ours|raw]   (one side once: for profiling)
import process from "node:process";
import {
  isCompared,
  openContext,
  runOnce,
  runScenario,
  type ScenarioName,
  SCENARIOS,
  sizeOf,
} from "./_scenarios.ts";

/** The runtime running this script, and its version. */
export function currentRuntime(): { name: string; version: string } {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  if (g.Deno !== undefined) {
    return { name: "deno", version: g.Deno.version.deno };
  }
  if (g.Bun !== undefined) return { name: "bun", version: g.Bun.version };
  return { name: "node", version: process.versions.node };
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  return arg?.slice(prefix.length);
}

const url = flag("url");
if (url === undefined) {
  console.error("usage: run.ts --url=nats://... [--quick] [--scenario=a,b]");
  process.exit(2);
}
const quick = process.argv.includes("--quick");
const scale = Number(flag("scale") ?? "1");
const rounds = Number(flag("rounds") ?? (quick ? "1" : "2"));
const side = flag("side");
const wanted = (flag("scenario")?.split(",") ?? [...SCENARIOS]) as string[];
for (const name of wanted) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    console.error(`unknown scenario "${name}"; known: ${SCENARIOS.join(", ")}`);
    process.exit(2);
  }
}
const runtime = currentRuntime();
const emit = (line: object) =>
  process.stdout.write(JSON.stringify(line) + "\n");
const ctx = await openContext(
  url,
  quick,
  scale,
  (text) => process.stderr.write(`[${runtime.name}] ${text}\n`),
);
emit({
  type: "info",
  runtime: runtime.name,
  version: runtime.version,
  server: ctx.admin.info?.version,
});
let failed = false;
for (const scenario of SCENARIOS.filter((s) => wanted.includes(s))) {
  const started = performance.now();
  try {
    if (side === "ours" || side === "raw") {
      if (!isCompared(scenario)) continue;
      const value = await runOnce(ctx, scenario, side, sizeOf(ctx, scenario));
      emit({ type: "single", runtime: runtime.name, scenario, side, value });
      continue;
    }
    const result = await runScenario(ctx, scenario as ScenarioName, rounds);
    emit({
      type: "result",
      runtime: runtime.name,
      seconds: (performance.now() - started) / 1000,
      ...result,
    });
  } catch (error) {
    failed = true;
    emit({
      type: "error",
      runtime: runtime.name,
      scenario,
      message: error instanceof Error
        ? error.stack ?? error.message
        : String(error),
    });
  }
}
await ctx.admin.close();
process.exit(failed ? 1 : 0);
