// deno-lint-ignore-file no-console -- a program: printing is its job
// Worker pool benchmark (issue 16): a CPU-bound actor (about 20 ms of
// hashing a message) run on the main thread, then in 1 and in 2 workers,
// while a trivial actor in the same process handles a ping every 20 ms; we
// report the CPU actor's rate and the trivial actor's latency (emit to
// handler start: p50, p99).
//
//   deno run -A bench/workers.ts [--quick] [--jobs=240]
//   bun run bench/workers.ts
//   node --import tsx bench/workers.ts
import process from "node:process";
import os from "node:os";
import * as v from "valibot";
import {
  Actor,
  Actors,
  type AnyActor,
  Event,
  Events,
  type Handler,
  silentLogger,
  workerHandler,
} from "../mod.ts";
import { NatsServer } from "../src/testing/mod.ts";
import { burn } from "./_cpu_handler.ts";

const quick = process.argv.includes("--quick");
const jobsFlag = process.argv.find((a) => a.startsWith("--jobs="));
const JOBS = jobsFlag ? Number(jobsFlag.slice(7)) : quick ? 20 : 240;
const TARGET_MS = 20;

// Rounds of the hash that take TARGET_MS here (best of a few tries).
function calibrate(): number {
  let rounds = 100_000;
  for (;;) {
    const t0 = performance.now();
    burn({ seed: 1, rounds });
    const ms = performance.now() - t0;
    if (ms > 5) {
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        burn({ seed: i, rounds });
        best = Math.min(best, performance.now() - t);
      }
      return Math.round(rounds * TARGET_MS / best);
    }
    rounds *= 2;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

interface Figure {
  mode: string;
  rate: number;
  seconds: number;
  pings: number;
  p50: number;
  p99: number;
  max: number;
}

const server = await NatsServer.start();
try {
  const rounds = calibrate();
  const runtime = "Deno" in globalThis
    ? "deno"
    : "Bun" in globalThis
    ? "bun"
    : "node";
  const figures: Figure[] = [];
  const modes = [["main", 0], ["1 worker", 1], ["2 workers", 2]] as const;
  let index = 0;
  for (const [mode, workers] of modes) {
    index++;
    const CPU = new Event(
      `bench-cpu-${index}`,
      v.object({ seed: v.number(), rounds: v.number() }),
    );
    const PING = new Event(`bench-ping-${index}`, v.object({ id: v.number() }));
    let done = 0;
    let finished: () => void = () => {};
    const allDone = new Promise<void>((r) => (finished = r));
    const counted = <T>(h: Handler<T>): Handler<T> => async (m, ctx) => {
      await h(m, ctx);
      if (++done === JOBS) finished();
    };
    const cpuHandler: Handler<{ seed: number; rounds: number }> = workers === 0
      ? (m) => void burn(m)
      : workerHandler<typeof burn>(
        new URL("./_cpu_handler.ts", import.meta.url),
        "burn",
      );
    const sent = new Map<number, number>();
    const latencies: number[] = [];
    const actors: AnyActor[] = [
      new Actor("cpu", CPU, counted(cpuHandler), {
        maxJobs: Math.max(2, workers),
        jobTimeout: 120_000,
      }),
      new Actor("ping", PING, ({ id }) => {
        const at = sent.get(id);
        if (at !== undefined) latencies.push(performance.now() - at);
      }),
    ];
    await using pub = await new Events(CPU, PING).connect(server.url, {
      logger: silentLogger, // no "no actor yet" warning: actors register next
    });
    await pub.register();
    await using sub = await new Actors(...actors).connect(server.url);
    await sub.register();
    await pub.emitMany(
      CPU,
      Array.from({ length: JOBS }, (_, seed) => ({ seed, rounds })),
    );
    const stop = new AbortController();
    const listening = sub.listen({
      signal: stop.signal,
      maxWorkers: Math.max(1, workers),
      maxJobs: 16,
      logger: silentLogger,
    });
    // Warm the workers up (start-up is not throughput): the clock starts
    // at the first CPU job done.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (done > 0) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    const first = done;
    const t0 = performance.now();
    // A ping is due every 20 ms from t0; a busy main thread fires the timer
    // late, so each ping's latency counts from when it was due, not from
    // when the timer got to send it (no coordinated omission).
    let id = 0;
    const pinger = setInterval(() => {
      const due = Math.floor((performance.now() - t0) / 20);
      while (id < due) {
        id++;
        sent.set(id, t0 + id * 20);
        void pub.emit(PING, { id }, { sync: false });
      }
    }, 5);
    await allDone;
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(pinger);
    stop.abort();
    await listening;
    const sorted = [...latencies].sort((a, b) => a - b);
    figures.push({
      mode,
      rate: (JOBS - first) / seconds,
      seconds,
      pings: sorted.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? NaN,
    });
    process.stderr.write(`[${runtime}] ${mode} done\n`);
  }
  const main = figures[0]!.rate;
  console.log(
    `\n${runtime}, ${os.cpus().length} CPUs, load ${
      os.loadavg().map((l) => l.toFixed(2)).join(" ")
    }, ${JOBS} jobs of ~${TARGET_MS} ms (${rounds} hash rounds)\n`,
  );
  console.log(
    "| mode | CPU jobs/s | vs main | ping p50 ms | ping p99 ms | ping max ms | pings |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const f of figures) {
    console.log(
      `| ${f.mode} | ${f.rate.toFixed(1)} | ${(f.rate / main).toFixed(2)}x | ${
        f.p50.toFixed(2)
      } | ${f.p99.toFixed(2)} | ${f.max.toFixed(2)} | ${f.pings} |`,
    );
  }
  console.log(JSON.stringify({ runtime, rounds, jobs: JOBS, figures }));
} finally {
  await server.close();
}
