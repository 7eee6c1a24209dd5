// Keeps bench/ from rotting: a quick run of two short scenarios on the
// current runtime must produce a report whose every figure is a positive
// finite number. No timing is asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchReport, runBench } from "../bench/_runner.ts";
import { NatsServer } from "./_helpers.ts";
import { currentRuntime } from "./_process.ts";

function positiveFinite(value: unknown, path: string): void {
  assert.ok(
    typeof value === "number" && Number.isFinite(value) && value > 0,
    `${path} should be a positive finite number, got ${value}`,
  );
}

test("the benchmark's quick run reports positive figures for ours and every raw nats.js baseline", async () => {
  await using server = await NatsServer.start();
  const dir = await mkdtemp(join(tmpdir(), "walnats-bench-"));
  try {
    const { name: runtime, command } = currentRuntime();
    const out = join(dir, "quick.json");
    await runBench({
      quick: true,
      runtimes: [runtime],
      scenarios: ["emit-sequential", "handle-defaults", "handle-tuned"],
      url: server.url,
      commands: { [runtime]: command },
      out,
      timeout: 60_000,
    });
    const report = JSON.parse(await readFile(out, "utf8")) as BenchReport;
    assert.deepEqual(report.errors, []);
    assert.equal(typeof report.runtimes[runtime], "string");
    assert.deepEqual(
      report.results.map((r) => [r.runtime, r.scenario, r.kind]),
      [
        [runtime, "emit-sequential", "throughput"],
        [runtime, "handle-defaults", "throughput"],
        [runtime, "handle-tuned", "throughput"],
      ],
    );
    for (const r of report.results) {
      assert.ok(r.kind === "throughput");
      positiveFinite(r.n, `${r.scenario}.n`);
      positiveFinite(r.ours.rate, `${r.scenario}.ours.rate`);
      positiveFinite(r.raw.rate, `${r.scenario}.raw.rate`);
      for (const value of [...r.ours.rounds, ...r.raw.rounds]) {
        positiveFinite(value, `${r.scenario} round`);
      }
      if (r.scenario.startsWith("handle-")) {
        positiveFinite(r.strong?.rate, `${r.scenario}.strong.rate`);
      }
      // Only the defaults have a raw loop held to our in-flight bound (with
      // tuned's 100 slots the raw loop's default buffer is that bound).
      if (r.scenario === "handle-defaults") {
        positiveFinite(r.budget?.rate, `${r.scenario}.budget.rate`);
      } else assert.equal(r.budget, undefined);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
