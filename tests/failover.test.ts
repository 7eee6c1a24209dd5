// Failover: a 3-node JetStream cluster losing its stream leader and then its
// consumer leader under load, and one server killed twice under concurrent
// emit loops. Nothing is lost, nothing is handled or stored twice, every
// failure is explained.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  Actors,
  EmitError,
  Event,
  Events,
  type Publisher,
} from "../mod.ts";
import { NatsCluster } from "../src/testing/mod.ts";
import {
  listenInBackground,
  NatsServer,
  rawConnect,
  waitFor,
} from "./_helpers.ts";

const Item = v.object({ i: v.number() });

/** Message ids of everything a stream holds, with how often each is there. */
async function storedIds(
  jsm: JetStreamManager,
  stream: string,
): Promise<Map<string, number>> {
  const info = await jsm.streams.info(stream);
  const ids = new Map<string, number>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    const id = msg?.header?.get("Nats-Msg-Id");
    if (id) ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return ids;
}

/** Emit `{ i }` with uid `<prefix>-<i>` until `stop()`; what happened. */
function emitLoop(
  pub: Publisher,
  event: Event<unknown, { i: number }, unknown, unknown>,
  prefix: string,
) {
  let stopped = false;
  const resolved: string[] = [];
  const rejected: { uid: string; error: unknown }[] = [];
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const uid = `${prefix}-${i}`;
      try {
        await pub.emit(event, { i }, { uid });
        resolved.push(uid);
      } catch (error) {
        rejected.push({ uid, error });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    resolved,
    rejected,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

test("a 3-node cluster loses its stream leader, then its consumer leader, under load: nothing lost or handled twice", async () => {
  await using cluster = await NatsCluster.start({ nodes: 3 });
  const EV = new Event("failover-item", Item, { limits: { replicas: 3 } });
  const runs = new Map<string, number>();
  const sequences = new Map<string, number[]>();
  const handledAt: number[] = [];
  const A = new Actor("failover-worker", EV, (_m, ctx) => {
    const uid = ctx.headers["Nats-Msg-Id"] ?? "";
    runs.set(uid, (runs.get(uid) ?? 0) + 1);
    sequences.set(uid, [...(sequences.get(uid) ?? []), ctx.sequence]);
    handledAt.push(performance.now());
  }, { ackWait: 5_000 });
  const servers = { servers: cluster.urls, reconnectTimeWait: 100 };
  await using pub = await new Events(EV).connect(servers);
  await pub.register();
  await using sub = await new Actors(A).connect(servers);
  await sub.register();
  await using listening = listenInBackground(sub);
  const load = emitLoop(pub, EV, "m");
  try {
    await waitFor(() => runs.size >= 20, { what: "handling before the kills" });
    const stalls: Record<string, number> = {};
    for (const role of ["stream", "consumer"] as const) {
      const leader = role === "stream"
        ? await cluster.streamLeader(EV.stream)
        : await cluster.consumerLeader(EV.stream, A.consumer);
      const killedAt = performance.now();
      await leader.kill();
      // Handling resumes: a message handled after a new leader is in place.
      const next = role === "stream"
        ? await cluster.streamLeader(EV.stream)
        : await cluster.consumerLeader(EV.stream, A.consumer);
      assert.notEqual(next, leader);
      const before = handledAt.length;
      await waitFor(() => handledAt.length > before + 5, {
        timeout: 20_000,
        what: `handling after the ${role} leader was killed`,
      });
      let gap = 0;
      let previous = killedAt;
      for (const t of handledAt.filter((t) => t > killedAt)) {
        gap = Math.max(gap, t - previous);
        previous = t;
      }
      stalls[role] = Math.round(gap);
      await leader.resume();
      await cluster.ready();
    }
    // deno-lint-ignore no-console -- the measured stall, for the record
    console.log(`failover stalls (ms): ${JSON.stringify(stalls)}`);
  } finally {
    await load.stop();
  }
  // Every acknowledged emit is handled exactly once.
  await waitFor(() => load.resolved.every((uid) => runs.has(uid)), {
    timeout: 30_000,
    what: () =>
      `every stored message handled (${
        load.resolved.filter((uid) => !runs.has(uid)).length
      } missing)`,
  });
  await listening.stop();
  const twice = [...runs].filter(([, n]) => n > 1).map(([uid]) => [
    uid,
    sequences.get(uid),
  ]);
  assert.deepEqual(
    twice,
    [],
    "no message handled twice (uid, stream sequences of its runs)",
  );
  for (const { uid, error } of load.rejected) {
    assert.ok(error instanceof EmitError, `${uid}: ${String(error)}`);
    if (!error.mayBeStored) assert.ok(!runs.has(uid), `${uid} not stored`);
  }
  assert.ok(load.resolved.length > 50, "the load kept going");
});

test("a server killed twice under 8 emit loops: every resolved emit stored once, every rejection explained", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("restart-item", Item);
  // A durable consumer keeps what is stored (interest retention).
  const KEEP = new Actor("restart-keep", EV, () => {});
  await using pub = await new Events(EV).connect({
    servers: server.url,
    reconnectTimeWait: 100,
  });
  await pub.register();
  await using sub = await new Actors(KEEP).connect(server.url);
  await sub.register();
  const loops = Array.from({ length: 8 }, (_, k) => emitLoop(pub, EV, `l${k}`));
  try {
    for (let round = 0; round < 2; round++) {
      const before = loops.reduce((n, l) => n + l.resolved.length, 0);
      await waitFor(
        () => loops.reduce((n, l) => n + l.resolved.length, 0) > before + 40,
        { what: "emits before the kill" },
      );
      await server.kill();
      await new Promise((r) => setTimeout(r, 300)); // down for a moment
      await server.resume();
    }
    const before = loops.reduce((n, l) => n + l.resolved.length, 0);
    await waitFor(
      () => loops.reduce((n, l) => n + l.resolved.length, 0) > before + 40,
      { timeout: 20_000, what: "emits after the restarts" },
    );
  } finally {
    for (const l of loops) await l.stop();
  }
  const nc = await rawConnect(server);
  try {
    const ids = await storedIds(await jetstreamManager(nc), EV.stream);
    const twice = [...ids].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], "no message stored twice");
    let resolved = 0;
    for (const l of loops) {
      for (const uid of l.resolved) {
        assert.equal(ids.get(uid), 1, `${uid} stored once`);
        resolved++;
      }
      for (const { uid, error } of l.rejected) {
        assert.ok(error instanceof EmitError, `${uid}: ${String(error)}`);
        assert.match(error.message, /^Cannot emit event "restart-item": /);
        assert.match(error.message, /stored/);
        if (!error.mayBeStored) assert.ok(!ids.has(uid), `${uid} not stored`);
      }
    }
    const rejected = loops.reduce((n, l) => n + l.rejected.length, 0);
    // deno-lint-ignore no-console -- how many emits rode out the restarts
    console.log(`restarts: ${resolved} resolved, ${rejected} rejected`);
    assert.ok(resolved > 100);
  } finally {
    await nc.close();
  }
});

test("emit() to an event whose stream is gone fails at once with an EmitError saying so", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("gone-item", Item);
  await using pub = await new Events(EV).connect(server.url);
  await pub.register();
  const nc = await rawConnect(server);
  try {
    await (await jetstreamManager(nc)).streams.delete(EV.stream);
  } finally {
    await nc.close();
  }
  const started = performance.now();
  const error = await pub.emit(EV, { i: 1 }, { uid: "g-1" }).then(
    () => assert.fail("emit() should reject"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof EmitError);
  assert.equal(error.reason, "no-stream");
  assert.equal(error.mayBeStored, false);
  assert.equal(error.uid, "g-1");
  assert.match(error.message, /no stream listens on the subject/);
  assert.match(error.message, /it was not stored/);
  assert.ok(performance.now() - started < 4_000, "not retried to the end");
});

test("emit() rejects a timeout that is not a positive number", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("timeout-item", Item);
  await using pub = await new Events(EV).connect(server.url);
  for (const timeout of [0, -1, Number.NaN, Infinity]) {
    await assert.rejects(
      pub.emit(EV, { i: 1 }, { timeout }),
      new RangeError(
        `Cannot emit event "timeout-item": timeout must be a positive number of milliseconds, got ${timeout}`,
      ),
    );
  }
});
