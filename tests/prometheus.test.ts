import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Actor, Event, silentLogger } from "../mod.ts";
import {
  DURATION_BUCKETS,
  PROMETHEUS_CONTENT_TYPE,
  PrometheusMiddleware,
  PrometheusRegistry,
} from "../src/middlewares/prometheus.ts";
import { fakeContext } from "./_fakes.ts";
import { connectActors, NatsServer } from "./_helpers.ts";

test("a counter renders HELP, TYPE and one sample per label set, sorted by label values", () => {
  const registry = new PrometheusRegistry();
  const sent = registry.counter("emails_sent_total", "Emails sent.", [
    "kind",
    "lang",
  ]);
  sent.inc({ kind: "welcome", lang: "en" });
  sent.inc({ kind: "reset", lang: "de" }, 2.5);
  sent.inc({ kind: "welcome", lang: "en" }, 2);
  assert.equal(sent.get({ kind: "welcome", lang: "en" }), 3);
  assert.equal(sent.get({ kind: "nope", lang: "en" }), 0);
  assert.equal(
    registry.metrics(),
    "# HELP emails_sent_total Emails sent.\n" +
      "# TYPE emails_sent_total counter\n" +
      'emails_sent_total{kind="reset",lang="de"} 2.5\n' +
      'emails_sent_total{kind="welcome",lang="en"} 3\n',
  );
});

test("label values escape backslash, double quote and line feed; HELP escapes backslash and line feed", () => {
  const registry = new PrometheusRegistry();
  const c = registry.counter("odd_total", 'Odd "names" with \\ and\nlines.', [
    "actor",
  ]);
  c.inc({ actor: 'a\\b"c\nd' });
  assert.equal(
    registry.metrics(),
    '# HELP odd_total Odd "names" with \\\\ and\\nlines.\n' +
      "# TYPE odd_total counter\n" +
      'odd_total{actor="a\\\\b\\"c\\nd"} 1\n',
  );
});

test("a counter without labels renders a bare sample, and an unused metric only its HELP and TYPE", () => {
  const registry = new PrometheusRegistry();
  registry.counter("unused_total", "Never incremented.");
  const up = registry.counter("ticks_total", "Ticks.");
  up.inc();
  assert.equal(
    registry.metrics(),
    "# HELP unused_total Never incremented.\n" +
      "# TYPE unused_total counter\n" +
      "# HELP ticks_total Ticks.\n" +
      "# TYPE ticks_total counter\n" +
      "ticks_total 1\n",
  );
  registry.clear();
  assert.equal(
    registry.metrics(),
    "# HELP unused_total Never incremented.\n" +
      "# TYPE unused_total counter\n" +
      "# HELP ticks_total Ticks.\n" +
      "# TYPE ticks_total counter\n",
  );
  assert.equal(new PrometheusRegistry().metrics(), "");
});

test("a histogram renders cumulative buckets with le, +Inf, sum and count", () => {
  const registry = new PrometheusRegistry();
  const h = registry.histogram(
    "job_seconds",
    "Job time in seconds.",
    ["actor"],
    [0.1, 1, 2.5],
  );
  h.observe({ actor: "a" }, 0.05);
  h.observe({ actor: "a" }, 0.1); // on the bound: counted in le="0.1"
  h.observe({ actor: "a" }, 2);
  h.observe({ actor: "a" }, 7);
  h.observe({ actor: "b" }, 1);
  assert.deepEqual(h.get({ actor: "a" }), { count: 4, sum: 9.15 });
  assert.equal(
    registry.metrics(),
    "# HELP job_seconds Job time in seconds.\n" +
      "# TYPE job_seconds histogram\n" +
      'job_seconds_bucket{actor="a",le="0.1"} 2\n' +
      'job_seconds_bucket{actor="a",le="1"} 2\n' +
      'job_seconds_bucket{actor="a",le="2.5"} 3\n' +
      'job_seconds_bucket{actor="a",le="+Inf"} 4\n' +
      'job_seconds_sum{actor="a"} 9.15\n' +
      'job_seconds_count{actor="a"} 4\n' +
      'job_seconds_bucket{actor="b",le="0.1"} 0\n' +
      'job_seconds_bucket{actor="b",le="1"} 1\n' +
      'job_seconds_bucket{actor="b",le="2.5"} 1\n' +
      'job_seconds_bucket{actor="b",le="+Inf"} 1\n' +
      'job_seconds_sum{actor="b"} 1\n' +
      'job_seconds_count{actor="b"} 1\n',
  );
});

test("sample values use Prometheus' spelling of infinities and NaN", () => {
  const registry = new PrometheusRegistry();
  const h = registry.histogram("x_seconds", "X.", [], [1]);
  h.observe({}, Infinity);
  const c = registry.counter("y_total", "Y.");
  c.inc({}, Infinity);
  const nan = registry.histogram("z_seconds", "Z.", [], [1]);
  nan.observe({}, Number.NaN);
  assert.equal(
    registry.metrics(),
    "# HELP x_seconds X.\n# TYPE x_seconds histogram\n" +
      'x_seconds_bucket{le="1"} 0\n' +
      'x_seconds_bucket{le="+Inf"} 1\n' +
      "x_seconds_sum +Inf\n" +
      "x_seconds_count 1\n" +
      "# HELP y_total Y.\n# TYPE y_total counter\n" +
      "y_total +Inf\n" +
      "# HELP z_seconds Z.\n# TYPE z_seconds histogram\n" +
      'z_seconds_bucket{le="1"} 0\n' +
      'z_seconds_bucket{le="+Inf"} 1\n' +
      "z_seconds_sum NaN\n" +
      "z_seconds_count 1\n",
  );
});

test("the registry rejects invalid names, labels, buckets, duplicates and negative increments", () => {
  const registry = new PrometheusRegistry();
  assert.throws(
    () => registry.counter("bad-name", "x"),
    /^TypeError: Cannot create counter "bad-name": name must match/,
  );
  assert.throws(
    () => registry.counter("ok_total", "x", ["bad-label"]),
    /^TypeError: Cannot create counter "ok_total": label "bad-label" must match/,
  );
  assert.throws(
    () => registry.counter("ok_total", "x", ["__reserved"]),
    /label "__reserved" must match/,
  );
  assert.throws(
    () => registry.counter("ok_total", "x", ["a", "a"]),
    /label "a" is repeated/,
  );
  assert.throws(
    () => registry.histogram("h", "x", ["le"], [1]),
    /^TypeError: Cannot create histogram "h": label "le" is reserved/,
  );
  for (const buckets of [[], [2, 1], [1, 1], [1, Infinity], [Number.NaN]]) {
    assert.throws(
      () => registry.histogram("h", "x", [], buckets),
      RangeError,
      JSON.stringify(buckets),
    );
  }
  const c = registry.counter("c_total", "x", ["actor"]);
  assert.throws(
    () => registry.counter("c_total", "x"),
    /^TypeError: Cannot register metric "c_total": a metric with this name is already registered/,
  );
  assert.throws(
    () => c.inc({}),
    /^TypeError: Cannot record metric "c_total": label "actor" is missing/,
  );
  assert.throws(
    () => c.inc({ actor: "a" }, -1),
    /^RangeError: Cannot increment counter "c_total": value must be a number >= 0/,
  );
});

test("PrometheusMiddleware renders every job metric with actor and event labels", () => {
  const prometheus = new PrometheusMiddleware({ buckets: [0.01, 1] });
  assert.equal(prometheus.contentType, PROMETHEUS_CONTENT_TYPE);
  assert.equal(
    PROMETHEUS_CONTENT_TYPE,
    "text/plain; version=0.0.4; charset=utf-8",
  );
  prometheus.onStart(fakeContext());
  prometheus.onSuccess(fakeContext({ duration: 5 }));
  prometheus.onStart(fakeContext({ attempt: 2 }));
  prometheus.onFailure(fakeContext({ duration: 1500, outcome: "retry" }));
  prometheus.onFailure(
    fakeContext({ message: undefined, outcome: "dead-letter" }),
  );
  prometheus.onFailure(
    fakeContext({ actor: "bill", duration: 20, outcome: "terminate" }),
  );
  const l = 'actor="ship",event="order-placed"';
  const b = 'actor="bill",event="order-placed"';
  assert.equal(
    prometheus.metrics(),
    "# HELP walnats_jobs_started_total Jobs whose handler started.\n" +
      "# TYPE walnats_jobs_started_total counter\n" +
      `walnats_jobs_started_total{${l}} 2\n` +
      "# HELP walnats_jobs_succeeded_total Jobs that succeeded and were acked.\n" +
      "# TYPE walnats_jobs_succeeded_total counter\n" +
      `walnats_jobs_succeeded_total{${l}} 1\n` +
      "# HELP walnats_jobs_failed_total Failed attempts: the handler threw or timed out, or the payload did not decode.\n" +
      "# TYPE walnats_jobs_failed_total counter\n" +
      `walnats_jobs_failed_total{${b}} 1\n` +
      `walnats_jobs_failed_total{${l}} 2\n` +
      "# HELP walnats_jobs_dead_lettered_total Messages given up on: dead-lettered, or terminated when dead letters are off.\n" +
      "# TYPE walnats_jobs_dead_lettered_total counter\n" +
      `walnats_jobs_dead_lettered_total{${b}} 1\n` +
      `walnats_jobs_dead_lettered_total{${l}} 1\n` +
      "# HELP walnats_jobs_redelivered_total Jobs whose handler started on attempt 2 or later.\n" +
      "# TYPE walnats_jobs_redelivered_total counter\n" +
      `walnats_jobs_redelivered_total{${l}} 1\n` +
      "# HELP walnats_job_duration_seconds Seconds the handler ran, successful or not.\n" +
      "# TYPE walnats_job_duration_seconds histogram\n" +
      `walnats_job_duration_seconds_bucket{${b},le="0.01"} 0\n` +
      `walnats_job_duration_seconds_bucket{${b},le="1"} 1\n` +
      `walnats_job_duration_seconds_bucket{${b},le="+Inf"} 1\n` +
      `walnats_job_duration_seconds_sum{${b}} 0.02\n` +
      `walnats_job_duration_seconds_count{${b}} 1\n` +
      `walnats_job_duration_seconds_bucket{${l},le="0.01"} 1\n` +
      `walnats_job_duration_seconds_bucket{${l},le="1"} 1\n` +
      `walnats_job_duration_seconds_bucket{${l},le="+Inf"} 2\n` +
      `walnats_job_duration_seconds_sum{${l}} 1.505\n` +
      `walnats_job_duration_seconds_count{${l}} 2\n`,
  );
});

test("PrometheusMiddleware takes a prefix and a shared registry, with the default buckets", () => {
  const registry = new PrometheusRegistry();
  registry.counter("app_requests_total", "Requests.");
  const prometheus = new PrometheusMiddleware({ registry, prefix: "jobs" });
  assert.equal(prometheus.registry, registry);
  prometheus.onSuccess(fakeContext({ duration: 0 }));
  const text = registry.metrics();
  assert.match(text, /^# HELP app_requests_total Requests\.\n/);
  assert.match(
    text,
    /^jobs_jobs_succeeded_total\{actor="ship",event="order-placed"\} 1$/m,
  );
  const les = [
    ...text.matchAll(/jobs_job_duration_seconds_bucket\{[^}]*le="([^"]+)"\}/g),
  ]
    .map((m) => m[1]);
  assert.deepEqual(les, [...DURATION_BUCKETS.map(String), "+Inf"]);
  // The same metrics cannot be registered twice in one registry.
  assert.throws(
    () => new PrometheusMiddleware({ registry, prefix: "jobs" }),
    /already registered/,
  );
});

test("PrometheusMiddleware counts real jobs: successes, a retry, a poison message", async () => {
  await using server = await NatsServer.start();
  const prometheus = new PrometheusMiddleware();
  const ORDERED = new Event("order-placed", v.object({ id: v.number() }));
  const SHIP = new Actor("ship", ORDERED, ({ id }) => {
    if (id === 3) throw new Error("no stock");
  }, { middlewares: [prometheus], retryDelay: [60_000] });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  for (const id of [1, 2, 3]) await pub.emit(ORDERED, { id });
  await pub.js.publish("order-placed", new TextEncoder().encode("{nope"));
  const report = await sub.listen({
    burst: true,
    batch: 4,
    logger: silentLogger,
  });
  assert.equal(report.succeeded, 2);
  const text = prometheus.metrics();
  const value = (name: string) => {
    const m = text.match(
      new RegExp(
        `^${name}\\{actor="ship",event="order-placed"\\} (\\S+)$`,
        "m",
      ),
    );
    return m ? Number(m[1]) : undefined;
  };
  assert.equal(value("walnats_jobs_started_total"), 3);
  assert.equal(value("walnats_jobs_succeeded_total"), 2);
  assert.equal(value("walnats_jobs_failed_total"), 2);
  assert.equal(value("walnats_jobs_dead_lettered_total"), 1);
  assert.equal(value("walnats_jobs_redelivered_total"), undefined);
  assert.equal(value("walnats_job_duration_seconds_count"), 3);
  assert.match(
    text,
    /^walnats_job_duration_seconds_bucket\{actor="ship",event="order-placed",le="\+Inf"\} 3$/m,
  );
});
