// Every numbered example runs on this runtime, exits 0 and prints what it
// promises: one table, one row an example.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { NatsServer } from "@walnats/walnats/testing";
import { spawnScript } from "./_process.ts";

interface Row {
  /** The file under examples/. */
  example: string;
  /**
   * Give the example a server in `NATS_URL`; without one, an example starts
   * its own nats-server.
   */
  server?: boolean;
  /** Assertions on the example's output (stdout and stderr interleaved). */
  check: (out: string) => void;
}

const EXAMPLES: Row[] = [
  {
    example: "01_hello.ts",
    check(out) {
      assert.match(out, /^handled 3 greetings$/m);
      for (const to of ["Ann", "Bob", "Cid"]) {
        assert.match(out, new RegExp(`Hello, ${to}!$`, "m"));
      }
    },
  },
  {
    example: "02_request.ts",
    check(out) {
      assert.match(out, /^12 walnuts cost 3$/m);
    },
  },
  {
    example: "03_clock.ts",
    server: true,
    check(out) {
      const ticks = [...out.matchAll(/^tick \d: (\S+)$/gm)].map((m) => m[1]);
      assert.equal(ticks.length, 3, out);
      assert.equal(new Set(ticks).size, 3, "each tick handled once");
      for (const tick of ticks) {
        assert.equal(new Date(tick!).getTime() % 1000, 0, "whole seconds");
      }
      assert.match(out, /done: 3 ticks handled/);
    },
  },
  {
    example: "04_observability.ts",
    check(out) {
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
      assert.match(out, /\[INF\] walnats: listening/);

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
      const text = out.slice(
        out.indexOf("[observability] Prometheus metrics:"),
      );
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
        assert.ok(
          text.split("\n").includes(line),
          `missing "${line}" in:\n${out}`,
        );
      }
      assert.match(
        text,
        new RegExp(
          `^walnats_job_duration_seconds_sum\\{${l}\\} [0-9.e-]+$`,
          "m",
        ),
      );
      assert.match(out, /\[observability\] done\n?$/);
    },
  },
  {
    example: "05_operations.ts",
    check(out) {
      const lines = out.split("\n");
      for (
        const line of [
          "example-ops-charge: pending=0 ackPending=0 deadLetters=1 config=ok",
          "example-ops-ship: pending=5 ackPending=0 deadLetters=0 config=ok",
          "GET /healthz -> 200",
          "GET /readyz -> 503",
          'walnats_actor_pending{actor="example-ops-ship",event="example-ops-order"} 5',
          "walnats dead-letters list exited 0",
        ]
      ) {
        assert.ok(lines.includes(line), `missing "${line}" in:\n${out}`);
      }
      assert.match(out, /^#1 .* actor=example-ops-charge reason=exhausted/m);
    },
  },
  {
    example: "07_testing_with_memory_broker.ts",
    check(out) {
      assert.match(out, /^attempts: 1, 2, 3$/m);
      assert.match(
        out,
        /^dead letter: exhausted after 3 attempts: Error: carrier down$/m,
      );
      assert.match(out, /^consumer: delivered 3, ack pending 0, pending 0$/m);
      // Two minutes of retry delays on the virtual clock, and the drain.
      const m = /^virtual time: (\d+) s, real time: \d+ ms$/m.exec(out);
      assert.ok(m !== null && Number(m[1]) >= 120, out);
    },
  },
  {
    example: "08_failures.ts",
    check(out) {
      assert.match(out, /^charge 2 done on attempt 2$/m);
      assert.match(out, /^charge 3 done on attempt 3$/m);
      assert.match(out, /^succeeded 3, retried 3, dead-lettered 1$/m);
      assert.match(
        out,
        /^dead letter: permanent, PermanentError: charge 4: negative amount$/m,
      );
      assert.match(out, /^replayed and succeeded 1$/m);
    },
  },
];

for (const row of EXAMPLES) {
  test(`examples/${row.example} runs, exits 0 and prints what it promises`, async () => {
    await using server = row.server ? await NatsServer.start() : undefined;
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: "1",
    };
    delete env.NATS_URL;
    if (server !== undefined) env.NATS_URL = server.url;
    const script = spawnScript(
      new URL(`../examples/${row.example}`, import.meta.url),
      env,
    );
    const killer = setTimeout(() => script.proc.kill("SIGKILL"), 110_000);
    try {
      const code = await script.exited;
      const out = script.output();
      assert.equal(code, 0, `${row.example} failed:\n${out}`);
      row.check(out);
    } finally {
      clearTimeout(killer);
    }
  });
}
