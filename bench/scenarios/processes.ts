// Handling throughput with 1 and with 3 listener processes on one consumer
// (the tuned options): a pre-filled stream, children started and connected
// before the clock, the clock stopped when the stream is empty (interest
// retention: every message acked).
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  type BenchContext,
  fill,
  fresh,
  type ProcessesFigure,
  rate,
  storedAll,
  trivial,
  until,
} from "./_common.ts";

const CHILD = fileURLToPath(new URL("../_listener_child.ts", import.meta.url));

/** How this runtime starts a script. */
function command(): [string, string[]] {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return [process.execPath, ["run", "-A"]];
  if (g.Bun !== undefined) return [process.execPath, ["run"]];
  return [process.execPath, ["--import", "tsx"]];
}

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
}

function start(url: string, event: string, actor: string): Child {
  const [cmd, pre] = command();
  const proc = spawn(cmd, [...pre, CHILD, url, event, actor], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const ready = new Promise<void>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (chunk: Uint8Array | string) => {
      out += String(chunk);
      if (out.includes("ready")) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`child exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) =>
    proc.once("exit", () => resolve())
  );
  return { proc, ready, exited };
}

/** Drain `n` messages with `count` listener processes; messages per second. */
export async function processesOnce(
  ctx: BenchContext,
  count: number,
  n: number,
): Promise<number> {
  await using f = await fresh(ctx, `p${count}`, trivial, { maxJobs: 100 });
  await fill(ctx, f.event.subject, n);
  await storedAll(ctx, f.event.stream, n);
  const children = Array.from(
    { length: count },
    () => start(ctx.url, f.event.name, f.actor.name),
  );
  try {
    await Promise.all(children.map((c) => c.ready));
    const startAt = performance.now();
    for (const c of children) c.proc.stdin!.write("go\n");
    let end = 0;
    await until(
      async () => {
        const info = await ctx.jsm.streams.info(f.event.stream);
        end = performance.now();
        return info.state.messages === 0;
      },
      `${count} processes to drain ${n} messages`,
      300_000,
      5,
    );
    return rate(n, startAt, end);
  } finally {
    for (const c of children) {
      c.proc.stdin!.write("stop\n");
      c.proc.stdin!.end();
    }
    const killer = setTimeout(() => {
      for (const c of children) c.proc.kill("SIGKILL");
    }, 20_000);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(killer);
  }
}

/** The process counts measured, each `rounds` times (best kept). */
export async function processes(
  ctx: BenchContext,
  n: number,
  rounds: number,
): Promise<ProcessesFigure[]> {
  const counts = [1, 3];
  const got = new Map<number, number[]>(counts.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    for (const count of r % 2 === 0 ? counts : [...counts].reverse()) {
      ctx.note(`processes: ${count}, round ${r + 1}/${rounds}, n=${n}`);
      got.get(count)!.push(await processesOnce(ctx, count, n));
    }
  }
  return counts.map((count) => {
    const all = got.get(count)!;
    return { processes: count, rate: Math.max(...all), rounds: all };
  });
}
