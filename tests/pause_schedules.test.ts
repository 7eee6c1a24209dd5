// Cluster-wide pause and durable schedules, run by the listeners
// themselves. docs/delays-and-schedules.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import { Actor, Actors, Event, silentLogger } from "../mod.ts";
import {
  connectActors,
  listenInBackground,
  NatsServer,
  rawConnect,
  uniq,
  waitFor,
} from "./_helpers.ts";
import { pauseActor } from "../src/ops/pause.ts";
import { kvPut } from "../src/ops/_kv.ts";
import { ensureBucket } from "../src/ops/_kv.ts";
import { TICKS_BUCKET } from "../src/listen/_schedules.ts";
import { jetstream } from "@nats-io/jetstream";

const Num = v.object({ n: v.number() });

test("pause stops handling on every listener within 2 s, survives a restart, and resume restarts it", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("pausable"), Num);
  const handled: { n: number; by: string }[] = [];
  const make = (by: string) =>
    new Actor("pausable-worker", EV, ({ n }) => void handled.push({ n, by }));
  await using app = await connectActors(server, make("one"));
  await using other = await new Actors(make("two")).connect(server.url);
  const opts = { pollDelay: 500, logger: silentLogger };
  await using one = listenInBackground(app.sub, opts);
  await using two = listenInBackground(other, opts);
  await app.pub.emit(EV, { n: 0 });
  await waitFor(() => handled.length === 1, { what: "the first message" });

  await app.sub.pause("pausable-worker");
  const pausedAt = Date.now();
  assert.deepEqual((await app.sub.paused()).map((p) => p.actor), [
    "pausable-worker",
  ]);
  // Messages emitted from 2 s after the pause on are never handled.
  await waitFor(() => Date.now() - pausedAt >= 2000, { timeout: 3000 });
  for (let n = 1; n <= 10; n++) await app.pub.emit(EV, { n });
  await assert.rejects(
    waitFor(() => handled.length > 1, { timeout: 1500 }),
    /Timed out/,
  );
  assert.equal(handled.length, 1, "nothing ran while paused");
  const jsm = await jetstreamManager(app.pub.nc);
  assert.equal((await jsm.streams.info(EV.stream)).state.messages, 10);

  // A listener started while paused does not run it either.
  await one.stop();
  await using three = listenInBackground(app.sub, opts);
  await assert.rejects(
    waitFor(() => handled.length > 1, { timeout: 1500 }),
    /Timed out/,
  );

  assert.equal(await app.sub.resume("pausable-worker"), true);
  const resumedAt = Date.now();
  await waitFor(() => handled.length === 11, {
    timeout: 4000,
    what: "the accumulated messages after resume",
  });
  assert.ok(Date.now() - resumedAt <= 4000);
  assert.deepEqual(
    handled.map((h) => h.n).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.equal(await app.sub.resume("pausable-worker"), false);
  await two.stop();
  await three.stop();
  await other.close();
});

test("a pause stored by the CLI's layout pauses; a value that is not a pause record does not", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("pause-raw"), Num);
  const ran: string[] = [];
  const A = new Actor("raw-a", EV, () => void ran.push("a"));
  const B = new Actor("raw-b", EV, () => void ran.push("b"));
  await using app = await connectActors(server, [A, B]);
  await pauseActor(app.pub.nc, "raw-a");
  const raw = await rawConnect(server);
  await kvPut(
    jetstream(raw),
    "walnats_paused",
    "raw-b",
    new TextEncoder().encode("yes"),
  );
  await raw.close();
  await using _ = listenInBackground(app.sub, {
    pollDelay: 300,
    logger: silentLogger,
  });
  await app.pub.emit(EV, { n: 1 });
  await waitFor(() => ran.includes("b"), { what: "b, not paused" });
  await assert.rejects(waitFor(() => ran.includes("a"), { timeout: 1200 }));
});

test("two listeners running one schedule every second emit each tick once", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("every-second"), Num);
  const got: { id: string; schedule: string; n: number }[] = [];
  const A = new Actor("tick-worker", EV, ({ n }, ctx) => {
    got.push({
      id: ctx.headers["Nats-Msg-Id"]!,
      schedule: ctx.headers["Walnats-Schedule"]!,
      n,
    });
  });
  await using app = await connectActors(server, A);
  await using other = await new Actors(A).connect(server.url);
  const opts = { pollDelay: 500, logger: silentLogger };
  const stored = await app.pub.upsertSchedule("each-second", EV, {
    every: 1000,
    message: { n: 42 },
  });
  assert.deepEqual(stored, {
    id: "each-second",
    event: EV.name,
    every: 1000,
    message: { n: 42 },
  });
  await using one = listenInBackground(app.sub, opts);
  await using two = listenInBackground(other, opts);
  const jsm = await jetstreamManager(app.pub.nc);
  const lastSeq = async () =>
    (await jsm.streams.info(EV.stream)).state.last_seq;
  await waitFor(async () => await lastSeq() >= 1, { timeout: 5000 });
  const start = Date.now();
  const first = await lastSeq();
  await waitFor(() => Date.now() - start >= 10_000, {
    timeout: 11_000,
    interval: 200,
  });
  const count = await lastSeq() - first;
  assert.ok(count >= 9 && count <= 11, `${count} ticks stored in 10 s`);
  assert.equal(await app.pub.removeSchedule("each-second"), true);
  const [r1, r2] = await Promise.all([one.stop(), two.stop()]);
  const last = await lastSeq();
  await waitFor(() => got.length === last, { what: "every tick handled" });
  // Every stored tick has its own index: none twice.
  assert.equal(got.length, last, "every stored tick was handled once");
  const ids = new Set<string>();
  for (const { id, schedule, n } of got) {
    assert.match(id, /^schedule:each-second:\d+$/);
    assert.ok(!ids.has(id), `${id} stored twice`);
    ids.add(id);
    assert.equal(schedule, "each-second");
    assert.equal(n, 42);
  }
  const indices = [...ids].map((id) => Number(id.split(":")[2])).sort();
  assert.equal(indices.at(-1)! - indices[0]! + 1, indices.length, "no gaps");
  assert.ok(r1.ticks + r2.ticks >= last, "both listeners tried the ticks");
  await other.close();
});

test("missed: catch-up emits the ticks missed since the last one; skip does not", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("missed"), Num);
  const ids: string[] = [];
  const A = new Actor("missed-worker", EV, (_m, ctx) => {
    ids.push(ctx.headers["Nats-Msg-Id"]!);
  });
  await using app = await connectActors(server, A);
  const period = 60_000;
  const now = Date.now();
  const current = Math.floor(now / period) * period;
  const jsm = await jetstreamManager(app.pub.nc);
  await ensureBucket(jsm, TICKS_BUCKET, "test");
  await kvPut(
    app.pub.js,
    TICKS_BUCKET,
    "catching-up",
    new TextEncoder().encode(
      JSON.stringify({ tick: new Date(current - 3 * period).toISOString() }),
    ),
  );
  await app.pub.upsertSchedule("catching-up", EV, {
    every: period,
    message: { n: 1 },
    missed: "catch-up",
  });
  await app.pub.upsertSchedule("skipping", EV, {
    every: period,
    message: { n: 2 },
  });
  await using listening = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  const count = async () => (await jsm.streams.info(EV.stream)).state.last_seq;
  await waitFor(async () => await count() >= 3, {
    what: "three caught-up ticks",
  });
  await waitFor(async () => ids.length === await count(), { what: "handled" });
  const report = await listening.stop();
  const index = current / period;
  const expected = [index - 2, index - 1, index].map((i) =>
    `schedule:catching-up:${i}`
  );
  // "skipping" emits the current tick only if it is under 5 s old.
  if (now - current <= 5000) expected.push(`schedule:skipping:${index}`);
  assert.deepEqual(ids.sort(), expected.sort());
  assert.ok(report.ticks >= 3);
  const saved = await jsm.streams.getMessage(`KV_${TICKS_BUCKET}`, {
    last_by_subj: `$KV.${TICKS_BUCKET}.catching-up`,
  });
  assert.equal(
    JSON.parse(new TextDecoder().decode(saved!.data)).tick,
    new Date(current).toISOString(),
  );
});

test("upsertSchedule checks its arguments and the message against the event", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("checked"), Num);
  await using app = await connectActors(server, new Actor("c", EV, () => {}));
  const OTHER = new Event("not-registered", Num);
  await assert.rejects(app.pub.upsertSchedule("x", OTHER, { every: 1000 }), {
    name: "TypeError",
    message: /not registered/,
  });
  await assert.rejects(
    app.pub.upsertSchedule("x", EV, { every: 1000, cron: "* * * * *" }),
    { name: "TypeError", message: /exactly one of every and cron/ },
  );
  await assert.rejects(app.pub.upsertSchedule("x", EV, { every: 0 }), {
    name: "RangeError",
  });
  await assert.rejects(
    app.pub.upsertSchedule("x", EV, { cron: "61 * * * *" }),
    {
      name: "TypeError",
      message: /does not parse/,
    },
  );
  await assert.rejects(
    app.pub.upsertSchedule("x", EV, {
      cron: "0 9 * * *",
      timeZone: "Mars/Base",
    }),
    { name: "TypeError", message: /unknown time zone/ },
  );
  await assert.rejects(
    app.pub.upsertSchedule("bad id", EV, { every: 1000 }),
    { name: "TypeError", message: /not a valid key/ },
  );
  await assert.rejects(
    app.pub.upsertSchedule("x", EV, {
      every: 1000,
      missed: "sometimes" as never,
    }),
    { name: "TypeError", message: /missed must be/ },
  );
  await assert.rejects(
    app.pub.upsertSchedule("x", EV, {
      every: 1000,
      message: { n: "one" } as never,
    }),
    { name: "ValidationError" },
  );
  await app.pub.upsertSchedule("berlin", EV, {
    cron: "0 30 2 * * *",
    timeZone: "Europe/Berlin",
    message: { n: 1 },
    missed: "catch-up",
  });
  assert.deepEqual(await app.pub.listSchedules(), [{
    id: "berlin",
    event: EV.name,
    cron: "0 30 2 * * *",
    timeZone: "Europe/Berlin",
    message: { n: 1 },
    missed: "catch-up",
  }]);
  assert.equal(await app.pub.removeSchedule("berlin"), true);
  assert.equal(await app.pub.removeSchedule("berlin"), false);
  assert.deepEqual(await app.pub.listSchedules(), []);
});
