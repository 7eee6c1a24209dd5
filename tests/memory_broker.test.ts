// The memory broker on its own: the virtual clock, core NATS semantics,
// stream limits and retention, hostile input, determinism. Its agreement
// with a real server is tests/fidelity.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  Actors,
  Clock,
  Event,
  Events,
  RequestTimeoutError,
  silentLogger,
} from "../mod.ts";
import { MemoryBroker } from "../src/testing/mod.ts";
import { TIMERS, timersOf } from "../src/timers.ts";

const User = v.object({ name: v.string() });

function collect(nc: NatsConnection, subject: string, queue?: string): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(subject, {
    ...(queue ? { queue } : {}),
    callback: (_e, m) => {
      got.push(m);
    },
  });
  return got;
}

test("MemoryBroker rejects a bad start, version or maxPayload", () => {
  assert.throws(() => new MemoryBroker({ start: Number.NaN }), RangeError);
  assert.throws(
    () => new MemoryBroker({ start: new Date("nope") }),
    RangeError,
  );
  assert.throws(() => new MemoryBroker({ version: "two" }), TypeError);
  assert.throws(() => new MemoryBroker({ maxPayload: 0 }), RangeError);
  assert.throws(() => new MemoryBroker({ maxPayload: 1.5 }), RangeError);
});

test("connect() gives a NatsConnection carrying the virtual clock under walnats.timers", async () => {
  await using broker = new MemoryBroker({ start: 1_000_000 });
  const nc = broker.connect();
  assert.equal(timersOf(nc), broker.timers);
  assert.equal(
    (nc as unknown as Record<symbol, unknown>)[TIMERS],
    broker.timers,
  );
  assert.equal(nc.info?.version, "2.9.10");
  assert.equal(broker.now(), 1_000_000);
  await broker.advance(1500);
  assert.equal(broker.now(), 1_001_500);
  assert.equal(broker.timers.monotonic(), 1500);
  assert.throws(() => broker.connect({ inboxPrefix: "bad.*" }), TypeError);
  await broker.close();
  assert.ok(nc.isClosed());
  assert.throws(() => broker.connect(), TypeError);
});

test("advance() runs timers in time order, equal times in creation order, intervals repeatedly", async () => {
  await using broker = new MemoryBroker({ start: 0 });
  const t = broker.timers;
  const order: string[] = [];
  t.setTimeout(() => order.push("b@20"), 20);
  t.setTimeout(() => order.push("a@10"), 10);
  t.setTimeout(() => order.push("c@20"), 20);
  const gone = t.setTimeout(() => order.push("cleared"), 15);
  t.clearTimeout(gone);
  const every = t.setInterval(() => order.push(`tick@${t.monotonic()}`), 8);
  t.setTimeout(() => {
    order.push("nested@25");
    t.setTimeout(() => order.push("zero@25"), 0);
  }, 25);
  await broker.advance(24);
  t.clearInterval(every);
  await broker.advance(10);
  assert.deepEqual(order, [
    "tick@8",
    "a@10",
    "tick@16",
    "b@20",
    "c@20",
    "tick@24",
    "nested@25",
    "zero@25",
  ]);
  await assert.rejects(broker.advance(-1), RangeError);
  await assert.rejects(broker.advance(Number.POSITIVE_INFINITY), RangeError);
});

test("advance() lets promises settle between steps and rejects with what a timer threw, after time moved", async () => {
  await using broker = new MemoryBroker({ start: 0 });
  const t = broker.timers;
  const seen: number[] = [];
  // A chain of awaited sleeps: each step runs only after the previous
  // step's promise reactions.
  void (async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((r) => t.setTimeout(r, 100));
      seen.push(t.monotonic());
    }
  })();
  t.setTimeout(() => {
    throw new Error("bug in a timer");
  }, 50);
  await assert.rejects(broker.advance(1000), /bug in a timer/);
  assert.deepEqual(seen, [100, 200, 300]);
  assert.equal(t.monotonic(), 1000);
  const second = broker.advance(1);
  await assert.rejects(broker.advance(1), TypeError);
  await second;
});

test("advanceUntil() steps to each next timer and gives up after its virtual timeout", async () => {
  await using broker = new MemoryBroker({ start: 0 });
  let fired = false;
  broker.timers.setTimeout(() => {
    fired = true;
  }, 90_000);
  await broker.advanceUntil(() => fired);
  assert.equal(broker.timers.monotonic(), 90_000);
  await assert.rejects(
    broker.advanceUntil(() => false, { timeout: 5000, what: "nothing" }),
    /Timed out after 5000 virtual ms waiting for nothing/,
  );
});

test("core subjects: wildcards, queue groups take turns, headers, max, iterators", async () => {
  await using broker = new MemoryBroker();
  const nc = broker.connect();
  const star = collect(nc, "orders.*");
  const full = collect(nc, "orders.>");
  const q1 = collect(nc, "orders.created", "workers");
  const q2 = collect(nc, "orders.created", "workers");
  const h = headers();
  h.set("X-Trace", "abc");
  for (let i = 0; i < 4; i++) {
    nc.publish("orders.created", `${i}`, { headers: h });
  }
  nc.publish("orders.eu.created", "deep");
  await nc.flush();
  assert.equal(star.length, 4);
  assert.equal(full.length, 5);
  assert.deepEqual([q1.length, q2.length], [2, 2]);
  assert.equal(star[0]!.headers?.get("X-Trace"), "abc");
  assert.equal(star[3]!.string(), "3");

  const once = nc.subscribe("one.shot", { max: 1 });
  nc.publish("one.shot", "a");
  nc.publish("one.shot", "b");
  const got: string[] = [];
  for await (const m of once) got.push(m.string());
  assert.deepEqual(got, ["a"]);
  await once.closed;
  assert.ok(once.isClosed());
});

test("requests: a reply, no responders, and a timeout on the virtual clock", async () => {
  await using broker = new MemoryBroker();
  const nc = broker.connect();
  nc.subscribe("echo", {
    callback: (_e, m) => {
      m.respond(`echo ${m.string()}`);
    },
  });
  assert.equal((await nc.request("echo", "hi")).string(), "echo hi");
  await assert.rejects(
    nc.request("nobody.home", "?"),
    (e: Error) => e.name === "RequestError" && /no responders/.test(e.message),
  );
  nc.subscribe("silent", { callback: () => {} });
  let outcome: unknown;
  void nc.request("silent", "?", { timeout: 3000 }).catch((e) => {
    outcome = e;
  });
  await broker.advance(2999);
  assert.equal(outcome, undefined);
  await broker.advance(1);
  assert.equal((outcome as unknown as Error).name, "TimeoutError");
});

test("closing and draining: closed() resolves, publish after close throws, drain delivers first", async () => {
  await using broker = new MemoryBroker();
  const a = broker.connect();
  const b = broker.connect();
  const got = collect(b, "x");
  a.publish("x", "1");
  a.publish("x", "2");
  await b.drain();
  assert.equal(got.length, 2);
  assert.ok(b.isClosed());
  await b.closed();
  await a.close();
  assert.throws(
    () => a.publish("x", "3"),
    (e: Error) => e.name === "ClosedConnectionError",
  );
  const c = broker.connect();
  assert.throws(
    () => c.publish("", "x"),
    (e: Error) => e.name === "InvalidSubjectError",
  );
  assert.throws(
    () => c.publish("big", new Uint8Array(2 * 1024 * 1024)),
    /max_payload/,
  );
});

test("limits: max_msgs drops the oldest (discard old) or refuses (discard new), max_age expires on the clock", async () => {
  await using broker = new MemoryBroker();
  const nc = broker.connect();
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: "old", subjects: ["old"], max_msgs: 2 });
  await jsm.streams.add({
    name: "new",
    subjects: ["new"],
    max_msgs: 2,
    discard: "new" as never,
  });
  await jsm.streams.add({
    name: "aged",
    subjects: ["aged"],
    max_age: 60_000 * 1e6,
  });
  for (let i = 0; i < 3; i++) await js.publish("old", `${i}`);
  assert.deepEqual(
    (await jsm.streams.info("old")).state.first_seq,
    2,
  );
  await js.publish("new", "1");
  await js.publish("new", "2");
  await assert.rejects(js.publish("new", "3"), /maximum messages exceeded/);
  await js.publish("aged", "x");
  await broker.advance(59_999);
  assert.equal((await jsm.streams.info("aged")).state.messages, 1);
  await broker.advance(1);
  assert.equal((await jsm.streams.info("aged")).state.messages, 0);
});

test("interest retention: kept until every consumer acks; not stored without consumers", async () => {
  await using broker = new MemoryBroker();
  const nc = broker.connect();
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({
    name: "int",
    subjects: ["int"],
    retention: "interest" as never,
  });
  await js.publish("int", "nobody listens");
  assert.equal((await jsm.streams.info("int")).state.messages, 0);
  for (const name of ["a", "b"]) {
    await jsm.consumers.add("int", {
      durable_name: name,
      ack_policy: "explicit" as never,
    });
  }
  await js.publish("int", "for both");
  const a = await (await js.consumers.get("int", "a")).next();
  a!.ack();
  await broker.settle();
  assert.equal((await jsm.streams.info("int")).state.messages, 1);
  const b = await (await js.consumers.get("int", "b")).next();
  b!.ack();
  await broker.settle();
  assert.equal((await jsm.streams.info("int")).state.messages, 0);
});

test("+TERM with a reason is ignored as by 2.9, honoured when the broker presents 2.10.4", async () => {
  for (const [version, left] of [["2.9.10", 1], ["2.10.4", 0]] as const) {
    await using broker = new MemoryBroker({ version });
    const nc = broker.connect();
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({
      name: "t",
      subjects: ["t"],
      retention: "interest" as never,
    });
    await jsm.consumers.add("t", {
      durable_name: "c",
      ack_policy: "explicit" as never,
    });
    await js.publish("t", "x");
    const m = await (await js.consumers.get("t", "c")).next();
    m!.term("done with it");
    await broker.settle();
    assert.equal(
      (await jsm.consumers.info("t", "c")).num_ack_pending,
      left,
      version,
    );
  }
});

test("hostile input never breaks the broker: junk acks, pull requests and API bodies", async () => {
  await using broker = new MemoryBroker();
  const nc = broker.connect();
  const ev = new Event("hostile-target", User);
  let handled = 0;
  const actor = new Actor("hostile-survivor", ev, () => {
    handled++;
  });
  const pub = await new Events(ev).connect(nc);
  await pub.register();
  const sub = await new Actors(actor).connect(nc);
  await sub.register();
  await pub.emit(ev, { name: "a" });
  const statuses: string[] = [];
  nc.subscribe("_INBOX.hostile", {
    callback: (_e, m) => {
      if (!m.reply) {
        statuses.push(`${m.headers?.code} ${m.headers?.description}`);
      }
    },
  });
  const next = `$JS.API.CONSUMER.MSG.NEXT.${ev.stream}.${actor.consumer}`;
  for (
    const body of [
      '{"batch":"many"}',
      '{"expires":1.5}',
      '{"expires":1e30}',
      '{"batch":1,"expires":-5}',
      '{"no_wait":"yes"}',
      '{"batch":1,"idle_heartbeat":100000000}',
    ]
  ) {
    nc.publish(next, body, { reply: "_INBOX.hostile" });
  }
  const ack = `$JS.ACK.${ev.stream}.${actor.consumer}`;
  for (
    const subject of [
      `${ack}.x.y.z.t.p`,
      `${ack}.1.1.1`,
      `${ack}.1.999.999.0.0`,
      `$JS.ACK.nostream.nobody.1.1.1.0.0`,
      `${ack}.-1.-1.-1.0.0`,
    ]
  ) {
    for (
      const body of [
        "+ACK",
        '-NAK {"delay":"soon"}',
        "-NAK {",
        "-NAK 5 parsecs",
        "+TERM",
        "+WPI",
        "+NXT garbage",
        "whatever",
      ]
    ) {
      nc.publish(subject, body);
    }
  }
  for (
    const [subject, body] of [
      ["$JS.API.STREAM.CREATE.hostile", "[]"],
      [
        "$JS.API.STREAM.CREATE.hostile",
        '{"name":"hostile","subjects":"everything"}',
      ],
      ["$JS.API.STREAM.CREATE.hostile", '{"name":"hostile","max_msgs":"lots"}'],
      [
        "$JS.API.STREAM.CREATE.hostile",
        '{"name":"hostile","subjects":["a.>.b"]}',
      ],
      ["$JS.API.CONSUMER.DURABLE.CREATE.hostile-target.x", '{"config":5}'],
      [
        "$JS.API.CONSUMER.DURABLE.CREATE.hostile-target.p",
        '{"config":{"durable_name":"p","ack_policy":"explicit","deliver_subject":"push.here"}}',
      ],
      ["$JS.API.STREAM.MSG.GET.hostile-target", '{"seq":"one"}'],
      ["$JS.API.STREAM.PURGE.hostile-target", "{bad"],
    ]
  ) {
    const m = await nc.request(subject!, body, { timeout: 1000 });
    const error = (m.json() as { error?: { code: number } }).error;
    assert.ok(
      error !== undefined && error.code >= 400,
      `${subject} ${body}: ${m.string()}`,
    );
  }
  await broker.advance(100);
  // Every malformed pull request was answered with a 400 or expired (408).
  // (A body that is not an object nor a number asks for one message, as
  // with nats-server: not sent here, it would take the message.)
  assert.equal(
    statuses.filter((s) => s.startsWith("400")).length,
    5,
    statuses.join("\n"),
  );
  // The already-expired request is dropped without a word when a message
  // is there for it (nats-server's nextWaiting); the message stays.
  assert.ok(!statuses.some((s) => s.startsWith("408")), statuses.join("\n"));
  // And the broker still works.
  const report = await sub.listen({ burst: true, logger: silentLogger });
  assert.equal(report.succeeded, 1);
  assert.equal(handled, 1);
  // No stream was made by the malformed requests.
  assert.deepEqual(broker.streams(), [
    "hostile-target",
    "walnats_dlq_hostile-target",
  ]);
});

test("walnats follows the virtual clock: Walnats-Delay, request timeouts, retry delays", async () => {
  await using broker = new MemoryBroker();
  const nc = broker.connect();
  const ev = new Event("clock-follow", User);
  const asked = new Event("clock-ask", User).withResponse(User);
  const runs: number[] = [];
  const actor = new Actor("clock-follower", ev, () => {
    runs.push(broker.timers.monotonic());
  });
  const pub = await new Events(ev, asked).connect(nc);
  await pub.register();
  const sub = await new Actors(actor).connect(nc);
  await sub.register();
  const controller = new AbortController();
  const listening = sub.listen({
    signal: controller.signal,
    logger: silentLogger,
  });
  await pub.emit(ev, { name: "later" }, { delay: 3_600_000 });
  await broker.advance(3_599_000);
  assert.deepEqual(runs, []);
  await broker.advance(2000);
  assert.equal(runs.length, 1);
  assert.ok(runs[0]! >= 3_600_000);
  let timeout: unknown;
  void pub.request(asked, { name: "?" }, { timeout: 30_000 }).catch((e) => {
    timeout = e;
  });
  await broker.advance(29_000);
  assert.equal(timeout, undefined);
  await broker.advance(1000);
  assert.ok((timeout as unknown) instanceof RequestTimeoutError);
  controller.abort();
  let stopped = false;
  void listening.then(() => {
    stopped = true;
  });
  await broker.advanceUntil(() => stopped);
});

test("the same test on two brokers from the same start gives the same result, timestamps included", async () => {
  const once = async (): Promise<unknown> => {
    await using broker = new MemoryBroker({ start: Date.UTC(2026, 0, 1) });
    const nc = broker.connect();
    const ev = new Event("determinism", User);
    const actor = new Actor("determined", ev, (_m, ctx) => {
      if (ctx.attempt < 3) throw new Error("again");
    }, { retryDelay: [1000, 5000] });
    const pub = await new Events(ev).connect(nc);
    await pub.register();
    const sub = await new Actors(actor).connect(nc);
    await sub.register();
    for (let i = 0; i < 5; i++) await pub.emit(ev, { name: `${i}` });
    const controller = new AbortController();
    const listening = sub.listen({
      signal: controller.signal,
      logger: silentLogger,
    });
    await broker.advance(60_000);
    const info = await (await jetstreamManager(nc)).consumers.info(
      ev.stream,
      actor.consumer,
    );
    controller.abort();
    await broker.advance(20_000);
    return { info, report: await listening };
  };
  const first = await once();
  assert.deepEqual(await once(), first);
  assert.deepEqual((first as { report: unknown }).report, {
    succeeded: 5,
    failed: 10,
    deadLettered: 0,
    delayed: 0,
  });
});

test("a Clock on a broker connection ticks on the virtual clock", async () => {
  await using broker = new MemoryBroker({ start: Date.UTC(2026, 0, 1) });
  const clock = new Clock({ period: 60_000, logger: silentLogger });
  const pub = await new Events(clock.event).connect(broker.connect());
  await pub.register();
  const ticks: unknown[] = [];
  const feed = pub.monitor();
  void (async () => {
    for await (const item of feed) ticks.push(item.message);
  })();
  const controller = new AbortController();
  const running = clock.run(pub, { signal: controller.signal });
  await broker.advance(180_000);
  assert.deepEqual(
    ticks.map((t) => (t as Date).toISOString()),
    [
      "2026-01-01T00:01:00.000Z",
      "2026-01-01T00:02:00.000Z",
      "2026-01-01T00:03:00.000Z",
    ],
  );
  controller.abort();
  await broker.settle();
  assert.deepEqual(await running, { emitted: 3, skipped: 0 });
  feed.return?.();
});
