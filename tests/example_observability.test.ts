import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { spawnScript } from "./_process.ts";

const example = new URL("../examples/04_observability.ts", import.meta.url);

async function run(): Promise<{ code: number | null; out: string }> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: "1",
  };
  // Without NATS_URL the example starts its own nats-server.
  delete env.NATS_URL;
  const script = spawnScript(example, env);
  const killer = setTimeout(() => script.proc.kill("SIGKILL"), 110_000);
  try {
    return { code: await script.exited, out: script.output() };
  } finally {
    clearTimeout(killer);
  }
}

test("the observability example logs, traces and prints Prometheus metrics, and exits 0", async () => {
  const { code, out } = await run();
  assert.equal(code, 0, out);
  assert.match(out, /\[observability\] started nats-server at nats:\/\//);
  assert.match(out, /\[observability\] listen: 4 succeeded, 1 failed/);

  // LogTape records of the logging() middleware and the engine's logger.
  assert.match(out, /\[DBG\] walnats·actor·ship-order: Job started/);
  assert.match(
    out,
    /\[DBG\] walnats·actor·ship-order: Job succeeded in \d+ ms/,
  );
  assert.match(
    out,
    /\[WRN\] walnats·actor·ship-order: Job failed on attempt 1, will retry: Error: warehouse busy/,
  );
  assert.match(out, /\[INF\] walnats·engine: listening/);
  // The failure is logged once, by the middleware, not again by the engine.
  assert.equal(
    out.match(/warehouse busy/g)?.length ?? 0,
    1,
    out,
  );

  // Every consumer span is a child of the checkout span that emitted.
  const consumers = [
    ...out.matchAll(
      /^ {2}process order-placed( ERROR)? trace=(\w+)(?: parent=(\S+))?$/gm,
    ),
  ];
  assert.equal(consumers.length, 5, out);
  for (const m of consumers) assert.equal(m[3], "checkout", m[0]);
  assert.equal(consumers.filter((m) => m[1] === " ERROR").length, 1);
  const children = [
    ...out.matchAll(/^ {2}reserve-stock trace=\w+ parent=(\S+ \S+)$/gm),
  ];
  assert.equal(children.length, 5, out);
  for (const m of children) assert.equal(m[1], "process order-placed");

  // OpenTelemetry metric sums.
  assert.match(out, /^ {2}walnats\.jobs\.started 5$/m);
  assert.match(out, /^ {2}walnats\.jobs\.succeeded 4$/m);
  assert.match(out, /^ {2}walnats\.jobs\.failed 1$/m);
  assert.match(out, /^ {2}walnats\.jobs\.redelivered 1$/m);
  assert.match(out, /^ {2}walnats\.job\.duration 5$/m);

  // The Prometheus text.
  const l = 'actor="ship-order",event="order-placed"';
  const text = out.slice(out.indexOf("[observability] Prometheus metrics:"));
  for (
    const line of [
      "# HELP walnats_jobs_started_total Jobs whose handler started.",
      "# TYPE walnats_jobs_started_total counter",
      `walnats_jobs_started_total{${l}} 5`,
      `walnats_jobs_succeeded_total{${l}} 4`,
      `walnats_jobs_failed_total{${l}} 1`,
      `walnats_jobs_redelivered_total{${l}} 1`,
      "# TYPE walnats_job_duration_seconds histogram",
      `walnats_job_duration_seconds_bucket{${l},le="+Inf"} 5`,
      `walnats_job_duration_seconds_count{${l}} 5`,
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing "${line}" in:\n${out}`);
  }
  assert.match(
    text,
    new RegExp(`^walnats_job_duration_seconds_sum\\{${l}\\} [0-9.e-]+$`, "m"),
  );
  assert.match(out, /\[observability\] done\n?$/);
});
