// The mistakes a new user makes in the first hour fail loudly, with the fix
// in the message: emitting before any actor registered, listening before
// register(), registering from several instances at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  ActorNotRegisteredError,
  Actors,
  ConsumerConfigError,
  Event,
  Events,
  silentLogger,
  StreamConfigError,
} from "../mod.ts";
import { serverAtLeast } from "../src/_server_version.ts";
import { MemoryLogger } from "./_fakes.ts";
import { NatsServer, rawConnect } from "./_helpers.ts";

const User = v.object({ id: v.number() });

test("publisher register() warns once that an event without actors loses its messages", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("lonely", User);
  const logger = new MemoryLogger();
  await using pub = await new Events(EV).connect(server.url, { logger });
  await pub.register();
  await pub.register();
  const warnings = logger.find(/has no actor yet/);
  assert.equal(warnings.length, 1, JSON.stringify(logger.entries));
  assert.equal(warnings[0]!.level, "warn");
  assert.match(
    warnings[0]!.message,
    /"lonely".*discarded until an actor registers/,
  );
  // And it is true: the message emitted now is gone for an actor that
  // registers afterwards.
  const ack = await pub.emit(EV, { id: 1 });
  assert.ok(ack.sequence > 0, "emit still resolves");
  const A = new Actor("late", EV, () => {});
  await using sub = await new Actors(A).connect(server.url);
  await sub.register();
  const report = await sub.listen({
    burst: true,
    pollDelay: 300,
    logger: silentLogger,
  });
  assert.equal(report.succeeded, 0, "interest retention discarded it");
});

test("publisher register() does not warn once an actor is registered, nor for limits retention", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("watched", User);
  const KEPT = new Event("kept", User, {
    retention: "limits",
    limits: { maxAge: 60_000 },
  });
  await using sub = await new Actors(new Actor("watcher", EV, () => {}))
    .connect(server.url);
  const subReport = await sub.register({ events: true });
  assert.deepEqual(subReport.events?.created, ["watched"]);
  const logger = new MemoryLogger();
  await using pub = await new Events(EV, KEPT).connect(server.url, { logger });
  const report = await pub.register();
  assert.deepEqual(report.unchanged, ["watched"]);
  assert.deepEqual(report.created, ["kept"]);
  assert.deepEqual(logger.find(/has no actor yet/), []);
});

test('retention: "limits" keeps messages emitted before the actor registered', async () => {
  await using server = await NatsServer.start();
  const EV = new Event("kept-for-later", User, {
    retention: "limits",
    limits: { maxAge: 60_000 },
  });
  await using pub = await new Events(EV).connect(server.url, {
    logger: silentLogger,
  });
  await pub.register();
  await pub.emit(EV, { id: 7 });
  const seen: number[] = [];
  const A = new Actor("late-but-served", EV, ({ id }) => void seen.push(id));
  await using sub = await new Actors(A).connect(server.url);
  await sub.register();
  const report = await sub.listen({ burst: true, logger: silentLogger });
  assert.equal(report.succeeded, 1);
  assert.deepEqual(seen, [7]);
  const jsm = await jetstreamManager(pub.nc);
  const info = await jsm.streams.info("kept-for-later");
  assert.equal(info.config.retention, "limits");
  assert.equal(info.state.messages, 1, "acked, and still kept (limits)");
});

test("an event's retention is checked at construction", () => {
  assert.throws(
    () =>
      new Event("bad-retention", User, {
        retention: "forever" as unknown as "limits",
      }),
    /^TypeError: Cannot create event "bad-retention": retention must be "interest", "limits" or "workqueue", got "forever"/,
  );
  assert.equal(new Event("default-retention", User).retention, "interest");
  assert.equal(
    new Event("wq", User, { retention: "workqueue" }).streamConfig().retention,
    "workqueue",
  );
});

test("changing an existing stream's retention fails register() with StreamConfigError", async (t) => {
  await using server = await NatsServer.start();
  const probe = await rawConnect(server);
  const version = probe.info?.version;
  await probe.close();
  if (serverAtLeast(version, [2, 10, 0])) {
    // Later servers may switch between limits and interest in place.
    t.skip(`nats-server ${version} may allow the change`);
    return;
  }
  const before = new Event("switching", User);
  const after = new Event("switching", User, { retention: "limits" });
  await using pub1 = await new Events(before).connect(server.url, {
    logger: silentLogger,
  });
  await pub1.register();
  await using pub2 = await new Events(after).connect(server.url, {
    logger: silentLogger,
  });
  await assert.rejects(pub2.register(), (error: Error) => {
    assert.ok(error instanceof StreamConfigError, String(error));
    assert.match(error.message, /switching/);
    return true;
  });
});

test("listen() before register() fails at once, naming the actors and the fix", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("signed-up", User);
  const A = new Actor("send-email", EV, () => {});
  const B = new Actor("add-to-crm", EV, () => {});
  const C = new Actor("registered-one", EV, () => {});
  await using pub = await new Events(EV).connect(server.url, {
    logger: silentLogger,
  });
  await pub.register();
  {
    await using other = await new Actors(C).connect(server.url);
    await other.register();
  }
  await using sub = await new Actors(A, B, C).connect(server.url);
  const started = performance.now();
  await assert.rejects(
    sub.listen({ logger: silentLogger }),
    (error: Error) => {
      assert.ok(error instanceof ActorNotRegisteredError, String(error));
      assert.deepEqual(error.actors, ["add-to-crm", "send-email"]);
      assert.deepEqual(error.streamless, []);
      assert.match(
        error.message,
        /^Cannot listen: no consumer exists for actors "add-to-crm", "send-email"; call register\(\) on the subscriber first/,
      );
      return true;
    },
  );
  // Generous: the check is two lookups, not a pull that times out.
  const took = performance.now() - started;
  assert.ok(took < 1000, `failed after ${took} ms`);
});

test("listen() with no stream at all says to register the events too", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("never-registered", User);
  const A = new Actor("orphan", EV, () => {});
  await using sub = await new Actors(A).connect(server.url);
  await assert.rejects(
    sub.listen({ burst: true, logger: silentLogger }),
    (error: Error) => {
      assert.ok(error instanceof ActorNotRegisteredError, String(error));
      assert.deepEqual(error.streamless, ["orphan"]);
      assert.match(error.message, /"orphan"; call register\(\)/);
      assert.match(error.message, /register\(\) on the publisher/);
      return true;
    },
  );
});

test("subscriber register() without the stream still fails clearly; with events: true it creates it", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("sub-first", User);
  const A = new Actor("sub-first-worker", EV, () => {});
  await using sub = await new Actors(A).connect(server.url);
  await assert.rejects(sub.register(), (error: Error) => {
    assert.ok(error instanceof ConsumerConfigError);
    assert.match(error.message, /register the events first/);
    return true;
  });
  const report = await sub.register({ events: true });
  assert.deepEqual(report.events, {
    created: ["sub-first"],
    updated: [],
    unchanged: [],
    skipped: [],
  });
  assert.deepEqual(report.created, ["sub-first-worker"]);
});

test("subscriber register() reports created, unchanged and updated consumers", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("reported", User);
  const A = new Actor("reported-a", EV, () => {}, { ackWait: 5000 });
  const B = new Actor("reported-b", EV, () => {});
  await using pub = await new Events(EV).connect(server.url, {
    logger: silentLogger,
  });
  await pub.register();
  await using sub1 = await new Actors(A, B).connect(server.url);
  assert.deepEqual(await sub1.register(), {
    created: ["reported-a", "reported-b"],
    updated: [],
    unchanged: [],
  });
  assert.deepEqual(await sub1.register(), {
    created: [],
    updated: [],
    unchanged: ["reported-a", "reported-b"],
  });
  const A2 = new Actor("reported-a", EV, () => {}, { ackWait: 7000 });
  await using sub2 = await new Actors(A2, B).connect(server.url);
  assert.deepEqual(await sub2.register(), {
    created: [],
    updated: ["reported-a"],
    unchanged: ["reported-b"],
  });
  const info = await (await jetstreamManager(sub2.nc)).consumers.info(
    "reported",
    "reported-a",
  );
  assert.equal(info.config.ack_wait, 7000 * 1e6, "the update was applied");
});

test("concurrent register() calls from several connections are safe: one stream, one consumer", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("busy-deploy", User);
  const A = new Actor("busy-worker", EV, () => {});
  const instances = 4;
  const pubs = await Promise.all(
    Array.from(
      { length: instances },
      () => new Events(EV).connect(server.url, { logger: silentLogger }),
    ),
  );
  const subs = await Promise.all(
    Array.from({ length: instances }, () => new Actors(A).connect(server.url)),
  );
  try {
    // Every instance registers everything at start, all at once.
    const results = await Promise.allSettled([
      ...pubs.map((p) => p.register()),
      ...subs.map((s) => s.register({ events: true })),
    ]);
    const failures = results.filter((r) => r.status === "rejected");
    assert.deepEqual(failures, []);
    const jsm = await jetstreamManager(pubs[0]!.nc);
    const streams = (await jsm.streams.names().next()).filter((n) =>
      n === "busy-deploy"
    );
    assert.deepEqual(streams, ["busy-deploy"]);
    const consumers = await jsm.consumers.list("busy-deploy").next();
    assert.deepEqual(consumers.map((c) => c.name), ["busy-worker"]);
    const deadLetterStreams = (await jsm.streams.names().next()).filter((n) =>
      n.startsWith("walnats_dlq_busy-deploy")
    );
    assert.deepEqual(deadLetterStreams, ["walnats_dlq_busy-deploy"]);
  } finally {
    await Promise.all([...subs, ...pubs].map((c) => c.close()));
  }
});
