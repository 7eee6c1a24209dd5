// deno-lint-ignore-file no-console -- a program: printing is its job
// CPU profile of the measured part of one scenario (both sides), through
// the V8 inspector, and a summary of where the time goes: top functions by
// self time, and framework-owned (src/) functions by self and total time.
// Runs on Node (and on Deno where `node:inspector/promises` works):
//
//   node --import tsx bench/profile.ts [--scenario=handle-tuned] [--scale=0.5]
//     [--side=ours|raw] [--interval=100]
//
// The raw .cpuprofile files are written to the temp directory (open them in
// Chrome DevTools or speedscope) and their paths printed.
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { NatsServer } from "../src/testing/mod.ts";
import {
  isCompared,
  openContext,
  runOnce,
  SCENARIOS,
  type Side,
  sizeOf,
} from "./_scenarios.ts";

interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
    columnNumber: number;
  };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

const scenario = flag("scenario") ?? "handle-tuned";
if (!isCompared(scenario)) {
  console.error(
    `cannot profile scenario "${scenario}"; known: ${
      SCENARIOS.filter(isCompared).join(", ")
    }`,
  );
  process.exit(2);
}
const sides = (flag("side")?.split(",") ?? ["ours", "raw"]) as Side[];
// --heap: allocations instead of CPU time (V8's sampling heap profiler,
// collected objects included): bytes allocated per message, and where.
const heap = process.argv.includes("--heap");
const interval = Number(flag("interval") ?? "100");

const root = new URL("..", import.meta.url).pathname;
const sources = new Map<string, string[]>();
// Profiles carry lines of the transpiled JavaScript; for our own TypeScript
// files, find the declaration of the function in the source instead
// ("~" marks a line that could not be resolved and is the transpiled one).
function sourceLine(file: string, name: string, fallback: number): string {
  if (!file.endsWith(".ts") || name === "" || name === "(anonymous)") {
    return `~${fallback}`;
  }
  let lines = sources.get(file);
  if (lines === undefined) {
    try {
      lines = readFileSync(file, "utf8").split("\n");
    } catch {
      lines = [];
    }
    sources.set(file, lines);
  }
  const bare = name.replace(/^(get|set) /, "");
  const esc = bare.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const decl = new RegExp(
    `^\\s*(?:(?:export|async|static|get|set|readonly|function)\\s+)*\\*?${esc}\\s*[(<]|` +
      `(?:function\\s+|const\\s+|let\\s+)${esc}\\b`,
  );
  // Stripping types and comments only removes lines: the declaration is the
  // first candidate at or after the transpiled line.
  const candidates = lines.flatMap((l, i) => decl.test(l) ? [i + 1] : []);
  const line = candidates.find((c) => c >= fallback) ?? candidates.at(-1);
  return line === undefined ? `~${fallback}` : String(line);
}
function where(frame: ProfileNode["callFrame"]): string {
  const file = frame.url.replace(/^file:\/\//, "");
  let url = file;
  if (url.startsWith(root)) url = url.slice(root.length);
  url = url.replace(/^.*node_modules\//, "");
  const name = frame.functionName || "(anonymous)";
  const line = file.startsWith(root) && !file.includes("node_modules")
    ? sourceLine(file, name, frame.lineNumber + 1)
    : String(frame.lineNumber + 1);
  return `${name} ${url}:${line}`;
}

function summarize(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = profile.endTime - profile.startTime;
  const self = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const key = where(byId.get(id)!.callFrame);
    self.set(key, (self.get(key) ?? 0) + t);
  }
  // Inclusive time per function, counting each function once per stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const inclusive = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const seen = new Set<string>();
    for (
      let at: number | undefined = id;
      at !== undefined;
      at = parent.get(at)
    ) {
      const key = where(byId.get(at)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    }
  }
  const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`total ${(total / 1000).toFixed(0)} ms sampled`];
  lines.push("", "top self time:");
  for (const [key, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pct(t)}  ${key}`);
  }
  const ours = (key: string) =>
    / (src|mod\.ts)/.test(key) && !key.includes("node_modules");
  lines.push("", "framework-owned (src/), self time:");
  for (
    const [key, t] of [...self].filter(([k]) => ours(k)).sort((a, b) =>
      b[1] - a[1]
    ).slice(0, top)
  ) lines.push(`  ${pct(t)}  ${key}`);
  lines.push("", "framework-owned (src/), total time (self + callees):");
  for (
    const [key, t] of [...inclusive].filter(([k]) => ours(k)).sort((a, b) =>
      b[1] - a[1]
    ).slice(0, top)
  ) lines.push(`  ${pct(t)}  ${key}`);
  return lines.join("\n");
}

interface HeapNode {
  callFrame: ProfileNode["callFrame"];
  selfSize: number;
  children: HeapNode[];
}

function summarizeHeap(root: HeapNode, n: number, top = 15): string {
  const self = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode) => {
    total += node.selfSize;
    const key = where(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    for (const c of node.children) walk(c);
  };
  walk(root);
  const lines = [
    `allocated ${(total / 1024 / 1024).toFixed(1)} MiB sampled, ${
      (total / n).toFixed(0)
    } bytes per message (n=${n})`,
    "",
    "top allocation sites (bytes per message):",
  ];
  for (const [key, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${(t / n).toFixed(0).padStart(6)}  ${key}`);
  }
  return lines.join("\n");
}

await using server = await NatsServer.start();
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval });
const profiles: Profile[] = [];
const ctx = await openContext(
  server.url,
  false,
  Number(flag("scale") ?? "0.5"),
  (text) => console.error(text),
);
const heaps: HeapNode[] = [];
const profiler: NonNullable<typeof ctx.profiler> = heap
  ? {
    async start() {
      await session.post("HeapProfiler.enable");
      await session.post("HeapProfiler.startSampling", {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as Record<string, unknown>);
    },
    async stop() {
      const { profile } = await session.post("HeapProfiler.stopSampling") as {
        profile: { head: HeapNode };
      };
      heaps.push(profile.head);
    },
  }
  : {
    async start() {
      await session.post("Profiler.start");
    },
    async stop() {
      const { profile } = await session.post("Profiler.stop") as {
        profile: Profile;
      };
      profiles.push(profile);
    },
  };
const n = sizeOf(ctx, scenario);
for (const side of sides) {
  // One unprofiled run first, so the profile shows optimized code.
  delete ctx.profiler;
  await runOnce(ctx, scenario, side, Math.ceil(n / 4));
  ctx.profiler = profiler;
  const value = await runOnce(ctx, scenario, side, n);
  if (heap) {
    console.log(
      `\n===== ${scenario}, ${side}: ${JSON.stringify(value)} (n=${n})`,
    );
    console.log(summarizeHeap(heaps.pop()!, n));
    continue;
  }
  const profile = profiles.pop()!;
  const file = join(tmpdir(), `walnats-${scenario}-${side}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  console.log(
    `\n===== ${scenario}, ${side}: ${JSON.stringify(value)} (n=${n})`,
  );
  console.log(`profile: ${file}`);
  console.log(summarize(profile));
}
session.disconnect();
await ctx.admin.close();
