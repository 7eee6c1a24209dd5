// Delays that never block ready work: the delay stream, the movers, moving
// Python-style Walnats-Delay messages, crashes. docs/delays-and-schedules.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Actor, Event, silentLogger } from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  listenInBackground,
  NatsServer,
  rawConnect,
  uniq,
  waitFor,
} from "./_helpers.ts";
import { Child } from "./_process.ts";
import { releaseId } from "../src/listen/_delay_mover.ts";
import { moveId } from "../src/listen/_delay_move.ts";

const Num = v.object({ n: v.number() });

async function streamMessages(
  nc: Parameters<typeof jetstreamManager>[0],
  name: string,
): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(name)).state.messages;
}

test("a delayed emit waits in the delay stream, not the event's, and runs once on time as attempt 1", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("later"), Num);
  const runs: { n: number; at: number; attempt: number; delivery: number }[] =
    [];
  const A = new Actor("later-worker", EV, ({ n }, ctx) => {
    runs.push({
      n,
      at: Date.now(),
      attempt: ctx.attempt,
      delivery: ctx.deliveryCount,
    });
  });
  await using app = await connectActors(server, A);
  const emittedAt = Date.now();
  await app.pub.emit(EV, { n: 1 }, { delay: 1500, uid: "one" });
  await app.pub.emit(EV, { n: 1 }, { delay: 1500, uid: "one" }); // a retry
  assert.equal(
    await streamMessages(app.pub.nc, `walnats_delay_${EV.stream}`),
    1,
  );
  assert.equal(await streamMessages(app.pub.nc, EV.stream), 0);
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await waitFor(() => runs.length === 1, {
    what: "the delayed message to run",
  });
  const report = await listening.stop();
  const run = runs[0]!;
  assert.ok(
    run.at >= emittedAt + 1500,
    `ran ${emittedAt + 1500 - run.at} ms early`,
  );
  assert.ok(
    run.at <= emittedAt + 1500 + 1500,
    `ran ${run.at - emittedAt - 1500} ms late`,
  );
  assert.equal(run.attempt, 1);
  assert.equal(run.delivery, 1, "waiting is not a delivery of the actor");
  assert.equal(runs.length, 1);
  assert.equal(report.released, 1);
  assert.equal(report.delayed, 0, "the actor never saw it early");
  assert.equal(
    await streamMessages(app.pub.nc, `walnats_delay_${EV.stream}`),
    0,
  );
});

test("a delayed fire-and-forget emit waits in the delay stream too, and runs once on time", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("later-unacked"), Num);
  const runs: { at: number; attempt: number }[] = [];
  const A = new Actor("later-unacked-worker", EV, (_m, ctx) => {
    runs.push({ at: Date.now(), attempt: ctx.attempt });
  });
  await using app = await connectActors(server, A);
  const emittedAt = Date.now();
  const sent = app.pub.emit(EV, { n: 1 }, { delay: 1500, sync: false });
  assert.equal(await sent, undefined);
  await app.pub.nc.flush();
  await waitFor(
    async () =>
      await streamMessages(app.pub.nc, `walnats_delay_${EV.stream}`) === 1,
    { what: "the message in the delay stream" },
  );
  assert.equal(await streamMessages(app.pub.nc, EV.stream), 0);
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await waitFor(() => runs.length === 1, { what: "the delayed message" });
  const report = await listening.stop();
  assert.ok(runs[0]!.at >= emittedAt + 1500, "not before its time");
  assert.equal(runs[0]!.attempt, 1);
  assert.equal(runs.length, 1);
  assert.equal(report.released, 1);
});

for (const maxAckPending of [5, undefined]) {
  test(
    `ready messages are handled at once behind 50 and 20,000 delayed ones (maxAckPending ${
      maxAckPending ?? "default"
    })`,
    async () => {
      await using server = await NatsServer.start();
      const EV = new Event(uniq("backlog"), Num);
      const handled = new Map<number, number>();
      const A = new Actor("ready-worker", EV, ({ n }) => {
        handled.set(n, Date.now());
      }, maxAckPending === undefined ? {} : { maxAckPending });
      await using app = await connectActors(server, A);
      // The listener starts with 50 pending, and gets 20,000 more later.
      const fifty = Array.from({ length: 50 }, (_, i) => ({ n: 1000 + i }));
      await app.pub.emitMany(EV, fifty, { delay: 120_000 });
      await using _ = listenInBackground(app.sub, {
        pollDelay: 500,
        logger: silentLogger,
      });
      let sent = Date.now();
      await app.pub.emit(EV, { n: 1 });
      await waitFor(() => handled.has(1), { timeout: 3000, what: "ready 1" });
      assert.ok(handled.get(1)! - sent <= 3000);

      const many = Array.from(
        { length: 20_000 },
        (_, i) => ({ n: 10_000 + i }),
      );
      const { failures } = await app.pub.emitMany(EV, many, {
        delay: 120_000,
        window: 512,
      });
      assert.equal(failures.length, 0);
      sent = Date.now();
      await app.pub.emit(EV, { n: 2 });
      await waitFor(() => handled.has(2), { timeout: 3000, what: "ready 2" });
      assert.ok(handled.get(2)! - sent <= 3000);
      assert.deepEqual([...handled.keys()].sort(), [1, 2], "nothing ran early");
      await waitFor(async () => {
        const info = await consumerInfo(app.pub.nc, EV.stream, "ready-worker");
        return info.num_ack_pending === 0 && info.num_pending === 0;
      }, { what: "no slot held by a future job" });
    },
  );
}

test("a Walnats-Delay published to the event's subject (Python walnats) is moved out of the consumer, then runs once on time", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("py-delay"), Num);
  const runs = new Map<number, { at: number; attempt: number }[]>();
  const record =
    (name: string) => ({ n }: { n: number }, ctx: { attempt: number }) => {
      const list = runs.get(n) ?? [];
      list.push({ at: Date.now(), attempt: ctx.attempt });
      runs.set(n, list);
      void name;
    };
  // Two actors on the event: one copy in the delay stream serves both.
  const A = new Actor("py-a", EV, record("a"), { maxAckPending: 5 });
  const B = new Actor("py-b", EV, record("b"), { maxAckPending: 5 });
  await using app = await connectActors(server, [A, B]);
  const raw = await rawConnect(server);
  const js = jetstream(raw);
  const due = Date.now() + 2500;
  for (let n = 1; n <= 20; n++) {
    const h = natsHeaders();
    h.set("Walnats-Delay", String(due / 1000));
    await js.publish(EV.subject, JSON.stringify({ n }), { headers: h });
  }
  await js.publish(EV.subject, JSON.stringify({ n: 0 })); // ready
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await waitFor(() => (runs.get(0)?.length ?? 0) === 2, {
    timeout: 3000,
    what: "the ready message behind 20 delayed ones, maxAckPending 5",
  });
  assert.ok(Date.now() < due, "the ready one did not wait for the delayed");
  await waitFor(
    () => [...runs.values()].every((r) => r.length === 2) && runs.size === 21,
    {
      timeout: 8000,
      what: "every delayed message to run once per actor",
    },
  );
  const report = await listening.stop();
  for (const [n, list] of runs) {
    assert.equal(list.length, 2, `message ${n} ran twice per actor`);
    for (const r of list) {
      assert.equal(r.attempt, 1);
      if (n > 0) {
        assert.ok(r.at >= due, `${n} ran ${due - r.at} ms early`);
        assert.ok(r.at <= due + 1500, `${n} ran ${r.at - due} ms late`);
      }
    }
  }
  assert.equal(report.delayed, 40, "each actor moved each delayed one");
  assert.equal(report.released, 20, "one copy per message for both actors");
  await raw.close();
});

test("a release is stored once even if a mover died between publishing it and acking", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("crash-release"), Num);
  const runs: number[] = [];
  const A = new Actor("once", EV, ({ n }) => void runs.push(n));
  await using app = await connectActors(server, A);
  await app.pub.emit(EV, { n: 7 }, { delay: 1000, uid: "seven" });
  const raw = await rawConnect(server);
  const jsm = await jetstreamManager(raw);
  const stored = await jsm.streams.getMessage(`walnats_delay_${EV.stream}`, {
    seq: 1,
  });
  assert.equal(stored?.header?.get("Nats-Msg-Id"), "seven");
  // What the dead mover had published: the same id its successor will use.
  const h = natsHeaders();
  h.set(
    "Nats-Msg-Id",
    releaseId(stored!.header, `walnats_delay_${EV.stream}`, 1),
  );
  await jetstream(raw).publish(EV.subject, JSON.stringify({ n: 7 }), {
    headers: h,
  });
  await using listening = listenInBackground(app.sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await waitFor(
    async () =>
      runs.length > 0 &&
      await streamMessages(raw, `walnats_delay_${EV.stream}`) === 0,
    { what: "the delay message to be released and run" },
  );
  assert.equal((await listening.stop()).released, 1);
  assert.deepEqual(runs, [7]);
  const info = await jsm.streams.info(EV.stream);
  assert.equal(info.state.last_seq, 1, "the second release was a duplicate");
  assert.equal(await streamMessages(raw, `walnats_delay_${EV.stream}`), 0);
  assert.equal(moveId("s", 3), "moved:s:3");
  await raw.close();
});

test("a malformed delay in the delay stream is released at once and dead-lettered as poison", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("bad-delay"), Num);
  const runs: number[] = [];
  const A = new Actor("strict", EV, ({ n }) => void runs.push(n));
  await using app = await connectActors(server, A);
  const raw = await rawConnect(server);
  const js = jetstream(raw);
  const h = natsHeaders();
  h.set("Walnats-Delay", "soon");
  await js.publish(`walnats_delay.${EV.stream}`, JSON.stringify({ n: 1 }), {
    headers: h,
  });
  await js.publish(`walnats_delay.${EV.stream}`, JSON.stringify({ n: 2 })); // no delay
  await using _ = listenInBackground(app.sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await waitFor(async () => (await app.sub.deadLetters(A)).length === 1, {
    what: "the poison to be dead-lettered",
  });
  await waitFor(() => runs.length === 1, { what: "the undelayed one to run" });
  assert.deepEqual(runs, [2]);
  const [letter] = await app.sub.deadLetters(A);
  assert.equal(letter!.reason, "poison");
  assert.match(letter!.error, /Walnats-Delay "soon"/);
  await raw.close();
});

test("without a delay stream a delayed emit goes to the event's subject with its header, as Python walnats sends it", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("no-ts-actor"), Num);
  const { Events } = await import("../mod.ts");
  await using pub = await new Events(EV).connect(server.url);
  await pub.register();
  const jsm = await jetstreamManager(pub.nc);
  // Only a Python actor consumes it: no TypeScript register, no delay stream.
  await jsm.consumers.add(EV.stream, {
    durable_name: "python-actor",
    ack_policy: "explicit" as never,
  });
  const ack = await pub.emit(EV, { n: 1 }, { delay: 60_000 });
  const msg = await jsm.streams.getMessage(EV.stream, { seq: ack.sequence });
  assert.equal(msg?.subject, EV.subject);
  const until = Number(msg?.header?.get("Walnats-Delay"));
  assert.ok(until > Date.now() / 1000, `${until} is in the future`);
});

test("delayed messages stay on time across a listener's SIGKILL", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("kill-delay"), Num);
  const runs: { n: number; at: number; attempt: number }[] = [];
  const A = new Actor("kill-worker", EV, ({ n }, ctx) => {
    runs.push({ n, at: Date.now(), attempt: ctx.attempt });
  });
  await using app = await connectActors(server, A);
  await using first = new Child(
    "delay_worker.ts",
    JSON.stringify({ url: server.url, event: EV.name, actor: A.name }),
  );
  await waitFor(() => first.has("ready"), { timeout: 20_000, what: "first" });
  const emittedAt = Date.now();
  const delays = [2000, 2500, 3000, 3500];
  for (const [i, delay] of delays.entries()) {
    await app.pub.emit(EV, { n: i }, { delay });
  }
  // The child's mover has nak'd them all: the server holds their timers.
  await waitFor(async () => {
    const info = await consumerInfo(
      app.pub.nc,
      `walnats_delay_${EV.stream}`,
      "walnats-mover",
    );
    return info.num_ack_pending === delays.length && info.num_pending === 0;
  }, { what: "the child's mover to take the delayed messages" });
  first.proc.kill("SIGKILL");
  await first.exited;
  await using _ = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  await waitFor(() => runs.length === delays.length, {
    timeout: 10_000,
    what: "all to run",
  });
  assert.equal(first.count("ran "), 0, "nothing ran before its time");
  const seen = new Set<number>();
  for (const { n, at, attempt } of runs) {
    assert.ok(!seen.has(n), `message ${n} ran twice`);
    seen.add(n);
    const due = emittedAt + delays[n]!;
    assert.ok(at >= due, `message ${n} ran ${due - at} ms early`);
    // emittedAt is taken before the emits: their own time is slack.
    assert.ok(at <= due + 1500 + 200, `message ${n} ran ${at - due} ms late`);
    assert.equal(attempt, 1);
  }
});
