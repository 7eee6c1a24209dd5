import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  Actor,
  Actors,
  Event,
  Events,
  healthHandler,
  silentLogger,
  status,
} from "../mod.ts";
import {
  listPaused,
  listSchedules,
  pauseActor,
  removeSchedule,
  resumeActor,
  upsertSchedule,
} from "../src/ops/mod.ts";
import {
  PrometheusEmitMetrics,
  PrometheusStatusCollector,
} from "../src/middlewares/prometheus.ts";
import { otelEmitMetrics, otelStatusMetrics } from "../src/otel/mod.ts";
import {
  connectActors,
  listenInBackground,
  NatsServer,
  rawConnect,
  uniq,
  waitFor,
} from "./_helpers.ts";
import { BILL, NOTIFY, PACK, PLACED, scenario, SHIPPED } from "./_scenario.ts";

class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

test("status() numbers equal the server's consumer and stream info", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  const jsm = await jetstreamManager(sys.nc);
  for (const report of [await sys.sub.status(), await status(sys.nc)]) {
    assert.deepEqual(
      report.actors.map((a) => `${a.event}/${a.name}`),
      [
        "shop.order-placed/bill-order",
        "shop.order-placed/pack-order",
        "shop.order-shipped/notify-customer",
      ],
    );
    for (const a of report.actors) {
      const info = await jsm.consumers.info(a.stream, a.name);
      assert.equal(a.exists, true);
      assert.equal(a.pending, info.num_pending, `${a.name} pending`);
      assert.equal(a.ackPending, info.num_ack_pending, `${a.name} ack pending`);
      assert.equal(
        a.redelivered,
        info.num_redelivered,
        `${a.name} redelivered`,
      );
      assert.equal(a.waiting, info.num_waiting, `${a.name} waiting`);
      assert.equal(a.paused, false);
      assert.equal(a.delayed, 0);
    }
    const by = new Map(report.actors.map((a) => [a.name, a]));
    assert.equal(by.get("pack-order")!.pending, 3);
    assert.equal(by.get("bill-order")!.pending, 0);
    assert.equal(by.get("bill-order")!.waiting, 1);
    assert.equal(by.get("bill-order")!.deadLetters, 1);
    assert.equal(by.get("pack-order")!.deadLetters, 0);
    assert.equal(by.get("notify-customer")!.ackPending, 1);
    assert.equal(by.get("notify-customer")!.redelivered, 1);
    assert.equal(by.get("notify-customer")!.pending, 1);
    for (const e of report.events) {
      const info = await jsm.streams.info(e.stream);
      assert.equal(e.messages, info.state.messages);
      assert.equal(e.bytes, info.state.bytes);
      assert.equal(e.lastSequence, info.state.last_seq);
      assert.equal(e.consumers, info.state.consumer_count);
      assert.ok(e.firstTime !== null && e.lastTime !== null);
      assert.ok(Date.parse(e.firstTime) <= Date.parse(e.lastTime));
    }
    const placed = report.events.find((e) => e.name === PLACED.name)!;
    assert.equal(placed.messages, 3);
    assert.equal(placed.deadLetters, 1);
    // JSON in, JSON out: nothing lost by serialising.
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  }
  // The subscriber knows the code: configurations are checked.
  const coded = await sys.sub.status();
  assert.ok(coded.actors.every((a) => a.config.matches === true));
  const discovered = await status(sys.nc);
  assert.ok(discovered.actors.every((a) => a.config.matches === null));
  const published = await sys.pub.status();
  assert.ok(published.events.every((e) => e.config.matches === true));
  assert.equal(published.actors.length, 3);
});

test("status() says when a consumer's configuration differs from the code, or is missing", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("ev"), v.object({}));
  const A = new Actor("a", EV, () => {}, { maxAckPending: 10 });
  const GONE = new Actor("never-registered", EV, () => {});
  await using app = await connectActors(server, A);
  const jsm = await jetstreamManager(app.sub.nc);
  await jsm.consumers.update(EV.stream, "a", { max_ack_pending: 7 });
  const report = await status(app.sub.nc, { actors: [A, GONE] });
  const a = report.actors.find((x) => x.name === "a")!;
  assert.equal(a.config.matches, false);
  assert.deepEqual(a.config.differences, [
    { field: "max_ack_pending", expected: 10, actual: 7 },
  ]);
  const gone = report.actors.find((x) => x.name === "never-registered")!;
  assert.equal(gone.exists, false);
  assert.equal(gone.config.matches, null);
  // Names only, for events that do not exist: reported, not thrown.
  const none = await status(app.sub.nc, { events: ["no-such-event"] });
  assert.equal(none.events[0]!.exists, false);
  assert.deepEqual(none.actors, []);
});

test("status() counts a delay stream's messages and paused actors", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("ev"), v.object({}));
  const A = new Actor("worker", EV, () => {});
  await using app = await connectActors(server, A);
  // register() made the delay stream; delayed emits wait there.
  for (let i = 0; i < 4; i++) await app.pub.emit(EV, {}, { delay: 60_000 });
  const js = jetstream(app.sub.nc);
  await pauseActor(app.sub.nc, "worker");
  const report = await app.sub.status();
  assert.equal(report.events[0]!.delayed, 4);
  assert.equal(report.actors[0]!.delayed, 4);
  assert.equal(report.actors[0]!.paused, true);
  assert.ok(report.actors[0]!.pausedAt !== null);
  assert.deepEqual((await listPaused(app.sub.nc)).map((p) => p.actor), [
    "worker",
  ]);
  assert.equal(await resumeActor(app.sub.nc, "worker"), true);
  assert.equal(await resumeActor(app.sub.nc, "worker"), false);
  assert.equal((await app.sub.status()).actors[0]!.paused, false);
  // A hostile or mistaken value in the bucket does not pause.
  await js.publish("$KV.walnats_paused.worker", '{"paused":"yes"}');
  assert.equal((await app.sub.status()).actors[0]!.paused, false);
  await js.publish("$KV.walnats_paused.worker", "not json");
  assert.deepEqual(await listPaused(app.sub.nc), []);
  await assert.rejects(pauseActor(app.sub.nc, "bad key"), TypeError);
});

test("the KV buckets are laid out as nats.js kv lays them out", async () => {
  await using server = await NatsServer.start();
  await using nc = await rawConnect(server).then((nc) => ({
    nc,
    [Symbol.asyncDispose]: () => nc.close(),
  }));
  await pauseActor(nc.nc, "x");
  const jsm = await jetstreamManager(nc.nc);
  const info = await jsm.streams.info("KV_walnats_paused");
  assert.deepEqual(info.config.subjects, ["$KV.walnats_paused.>"]);
  assert.equal(info.config.max_msgs_per_subject, 1);
  assert.equal(info.config.allow_rollup_hdrs, true);
  assert.equal(info.config.deny_delete, true);
  assert.equal(info.config.discard, "new");
  const stored = await jsm.streams.getMessage("KV_walnats_paused", {
    last_by_subj: "$KV.walnats_paused.x",
  });
  assert.equal(stored!.json<{ paused: boolean }>().paused, true);
  await resumeActor(nc.nc, "x");
  const marker = await jsm.streams.getMessage("KV_walnats_paused", {
    last_by_subj: "$KV.walnats_paused.x",
  });
  assert.equal(marker!.header.get("KV-Operation"), "DEL");
});

test("schedules are stored, listed, checked and removed", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  try {
    assert.deepEqual(await listSchedules(nc), []);
    await upsertSchedule(nc, {
      id: "hourly",
      event: "report-due",
      every: 3_600_000,
      message: { kind: "hourly" },
    });
    await upsertSchedule(nc, {
      id: "weekdays",
      event: "report-due",
      cron: "0 9 * * 1-5",
      timeZone: "Europe/Paris",
    });
    assert.deepEqual(await listSchedules(nc), [
      {
        id: "hourly",
        event: "report-due",
        every: 3_600_000,
        message: { kind: "hourly" },
      },
      {
        id: "weekdays",
        event: "report-due",
        cron: "0 9 * * 1-5",
        timeZone: "Europe/Paris",
      },
    ]);
    for (
      const [bad, pattern] of [
        [{ id: "x", event: "e" }, /exactly one of every and cron/],
        [{ id: "x", event: "e", every: 1, cron: "* * * * *" }, /exactly one/],
        [{ id: "x", event: "e", every: -5 }, /every must be a positive/],
        [{ id: "x", event: "e", cron: "61 * * * *" }, /does not parse/],
        [
          { id: "x", event: "e", every: 10, timeZone: "Mars/Base" },
          /unknown time zone/,
        ],
        [{ id: "a b", event: "e", every: 10 }, /not a valid key/],
        [{ id: "x", event: "Bad Name", every: 10 }, /not a valid event name/],
      ] as const
    ) {
      await assert.rejects(
        upsertSchedule(nc, bad as never),
        (e: Error) => pattern.test(e.message),
        JSON.stringify(bad),
      );
    }
    // A value someone else wrote that is not a schedule is shown, not hidden.
    await jetstream(nc).publish("$KV.walnats_schedules.junk", "{");
    const listed = await listSchedules(nc);
    assert.match(listed.find((s) => s.id === "junk")!.error!, /not a valid/);
    assert.equal(await removeSchedule(nc, "hourly"), true);
    assert.equal(await removeSchedule(nc, "hourly"), false);
    assert.deepEqual((await listSchedules(nc)).map((s) => s.id), [
      "junk",
      "weekdays",
    ]);
  } finally {
    await nc.close();
  }
});

test("health() and the probe handler: ready only while listening, 503 while the server is down", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("ev"), v.object({}));
  const A = new Actor("probe-worker", EV, () => {});
  await using app = await connectActors(server, A);
  const handler = healthHandler(app.sub);
  const get = async (path: string, method = "GET") => {
    const res = await handler(new Request(`http://pod${path}`, { method }));
    return { status: res.status, body: await res.json() };
  };
  let ready = await get("/readyz");
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.body.problems, ["no listen() is running"]);
  assert.equal((await get("/healthz")).status, 200);
  assert.equal((await get("/other")).status, 404);
  assert.equal((await get("/readyz", "POST")).status, 405);

  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await waitFor(() => app.sub.listening === 1, { what: "listen() to start" });
  ready = await get("/readyz");
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  const h = ready.body.checks[0];
  assert.equal(h.connection.state, "connected");
  assert.equal(typeof h.connection.rtt, "number");
  assert.equal(h.jetstream, true);
  assert.deepEqual(h.actors, [
    { name: "probe-worker", event: EV.name, consumer: true },
  ]);
  // Publisher readiness: its streams exist.
  assert.equal((await app.pub.health()).ready, true);

  await server.stop();
  await waitFor(async () => (await get("/readyz")).status === 503, {
    what: "readiness to fail with the server down",
  });
  assert.equal((await get("/healthz")).status, 200, "reconnecting is alive");
  const down = await app.sub.health({ timeout: 300 });
  assert.equal(down.ready, false);
  assert.ok(down.problems.length > 0);

  await server.restart();
  await waitFor(async () => (await get("/readyz")).status === 200, {
    timeout: 20_000,
    what: "readiness to come back with the server",
  });
  await listening.stop();
  assert.equal((await get("/readyz")).status, 503);
  await app.sub.close();
  await app.pub.close();
  assert.equal((await get("/healthz")).status, 503);
});

test("health() names an actor whose consumer does not exist", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("ev"), v.object({}));
  await using pub = await new Events(EV).connect(server.url);
  await pub.register();
  await using sub = await new Actors(new Actor("ghost", EV, () => {}))
    .connect(server.url);
  const h = await sub.health({ requireListener: false });
  assert.equal(h.ready, false);
  assert.deepEqual(h.problems, [
    `the consumer of actor "ghost" (event "${EV.name}") does not exist; call register()`,
  ]);
  assert.throws(() => healthHandler([]), TypeError);
});

test("Prometheus and OTel lag gauges follow status()", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  const lag = new PrometheusStatusCollector(sys.sub, { maxAge: 0 });
  const text = await lag.metrics();
  const labels = `{actor="pack-order",event="${PLACED.name}"}`;
  assert.match(text, new RegExp(`^walnats_actor_pending\\${labels} 3$`, "m"));
  assert.match(
    text,
    /^walnats_actor_dead_letters\{actor="bill-order",event="shop.order-placed"\} 1$/m,
  );
  assert.match(
    text,
    /^walnats_actor_ack_pending\{actor="notify-customer",event="shop.order-shipped"\} 1$/m,
  );
  assert.match(text, /^walnats_actor_config_matches\{.*\} 1$/m);
  assert.match(
    text,
    /^walnats_event_messages\{event="shop.order-placed"\} 3$/m,
  );
  assert.match(text, /^walnats_status_up 1$/m);
  assert.match(text, /^# TYPE walnats_actor_pending gauge$/m);

  // A status that fails: the gauges go, up is 0.
  let fail = false;
  const flaky = new PrometheusStatusCollector(async () => {
    if (fail) throw new Error("no JetStream");
    return await sys.sub.status();
  }, { maxAge: 0 });
  assert.match(await flaky.metrics(), /^walnats_status_up 1$/m);
  fail = true;
  const failed = await flaky.metrics();
  assert.match(failed, /^walnats_status_up 0$/m);
  assert.doesNotMatch(failed, /^walnats_actor_pending\{/m);

  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const gauges = otelStatusMetrics(sys.sub, {
    meter: provider.getMeter("test"),
  });
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics[0]!.metrics.find((m) =>
    m.descriptor.name === "walnats.actor.pending"
  )!;
  const point = metric.dataPoints.find((p) =>
    p.attributes["messaging.consumer.group.name"] === PACK.name
  )!;
  assert.equal(point.value, 3);
  assert.equal(point.attributes["messaging.destination.name"], PLACED.name);
  gauges.stop();
  void BILL;
  void NOTIFY;
  void SHIPPED;
});

test("onEmit observers count emits by outcome and time them (Prometheus and OTel)", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("ev"), v.object({ n: v.number() }));
  const prom = new PrometheusEmitMetrics();
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  let calls = 0;
  await using pub = await new Events(EV).connect(server.url, {
    onEmit: [
      prom.observer,
      otelEmitMetrics({ meter: provider.getMeter("test") }),
      () => {
        calls++;
        throw new Error("a broken observer");
      },
    ],
  });
  await pub.register();
  // deno-lint-ignore no-console -- silence the broken observer's report
  const originalError = console.error;
  // deno-lint-ignore no-console -- as above
  console.error = () => {};
  try {
    await pub.emit(EV, { n: 1 }, { uid: "one" });
    await pub.emit(EV, { n: 1 }, { uid: "one" });
    await pub.emit(EV, { n: 2 }, { sync: false });
    await pub.emitMany(EV, [{ n: 3 }, { n: 4 }]);
    const jsm = await jetstreamManager(pub.nc);
    await jsm.streams.delete(EV.stream);
    await assert.rejects(pub.emit(EV, { n: 5 }));
  } finally {
    // deno-lint-ignore no-console -- restore it
    console.error = originalError;
  }
  assert.equal(calls, 6, "a throwing observer does not fail the emit");
  const text = prom.metrics();
  const count = (outcome: string) =>
    Number(
      new RegExp(
        `^walnats_emits_total\\{event="${EV.name}",outcome="${outcome}"\\} (\\d+)$`,
        "m",
      ).exec(text)?.[1] ?? 0,
    );
  assert.equal(count("ok"), 4);
  assert.equal(count("duplicate"), 1);
  assert.equal(count("error"), 1);
  assert.match(
    text,
    new RegExp(
      `^walnats_emit_duration_seconds_count\\{event="${EV.name}"\\} 5$`,
      "m",
    ),
  );
  const { resourceMetrics } = await reader.collect();
  const emits = resourceMetrics.scopeMetrics[0]!.metrics.find((m) =>
    m.descriptor.name === "walnats.emits"
  )!;
  const total = emits.dataPoints.reduce((n, p) => n + Number(p.value), 0);
  assert.equal(total, 6);
});
