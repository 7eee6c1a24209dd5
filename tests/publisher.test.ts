// The publisher: connecting and register().
import { test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Event, Events, StreamConfigError, StreamExistsError } from "../mod.ts";
import { resolveOptions } from "../src/transports/_connection_options.ts";
import { NatsServer, rawConnect } from "./_helpers.ts";
import { User, USER_CREATED } from "./_publisher.ts";

// --- connecting --------------------------------------------------------

test("connect() takes a URL, a URL list or connection options, and owns that connection", async () => {
  await using server = await NatsServer.start();
  const events = new Events(USER_CREATED);
  for (
    const target of [
      server.url,
      [server.url],
      { servers: server.url, name: "publisher-test" },
    ]
  ) {
    const pub = await events.connect(target);
    await pub.register();
    const ack = await pub.emit(USER_CREATED, { id: 1, name: "Ann" });
    assert.ok(ack.sequence >= 1);
    assert.ok(!pub.closed);
    await pub.close();
    assert.ok(pub.closed);
    assert.ok(pub.nc.isClosed(), "a connection it made is closed");
    await pub.close(); // twice is fine
  }
});

test("connect() with an open NatsConnection leaves it open unless closeConnection is set", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const events = new Events(USER_CREATED);
  {
    await using pub = await events.connect(nc);
    assert.equal(pub.nc, nc);
    await pub.register();
    await pub.emit(USER_CREATED, { id: 1, name: "Ann" });
  }
  assert.ok(!nc.isClosed(), "a borrowed connection stays open");
  const pub = await events.connect(nc, { closeConnection: true });
  await pub.close();
  assert.ok(nc.isClosed(), "closeConnection: true closes it");
});

test("a closed publisher refuses to emit", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const pub = await new Events(USER_CREATED).connect(nc);
  await pub.register();
  await pub.close();
  await assert.rejects(
    pub.emit(USER_CREATED, { id: 1, name: "Ann" }),
    new TypeError(
      'Cannot emit event "user-created": the publisher is closed',
    ),
  );
  assert.throws(() => pub.monitor(), TypeError);
  await nc.close();
});

test("connection options fall back to NATS_URL and reconnect forever by default", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(
    resolveOptions(undefined, env({})).servers,
    "nats://127.0.0.1:4222",
  );
  assert.deepEqual(
    resolveOptions(undefined, env({ NATS_URL: "nats://a:1, nats://b:2" }))
      .servers,
    ["nats://a:1", "nats://b:2"],
  );
  const fromUrl = resolveOptions("nats://c:3", env({ NATS_URL: "nats://a:1" }));
  assert.equal(fromUrl.servers, "nats://c:3");
  assert.equal(fromUrl.maxReconnectAttempts, -1);
  assert.deepEqual(resolveOptions(["nats://d:4"], env({})).servers, [
    "nats://d:4",
  ]);
  const options = resolveOptions(
    { servers: "nats://e:5", maxReconnectAttempts: 3, name: "mine" },
    env({}),
  );
  assert.equal(options.maxReconnectAttempts, 3, "the user's choice wins");
  assert.equal(options.name, "mine");
  assert.equal(
    resolveOptions({}, env({ NATS_URL: "nats://f:6" })).servers?.[0],
    "nats://f:6",
  );
  assert.throws(() => resolveOptions(42 as never, env({})), TypeError);
});

// --- register ----------------------------------------------------------

test("register() creates, leaves alone, updates and skips, and reports which", async () => {
  await using server = await NatsServer.start();
  const A = new Event("a-happened", User);
  const B = new Event("b-happened", User, { limits: { maxMessages: 10 } });
  const C = new Event("c-happened", User);
  await using pub = await new Events(A, B, C).connect(server.url);
  assert.deepEqual(await pub.register({ create: false }), {
    created: [],
    updated: [],
    unchanged: [],
    skipped: ["a-happened", "b-happened", "c-happened"],
  });
  assert.deepEqual(await pub.register(), {
    created: ["a-happened", "b-happened", "c-happened"],
    updated: [],
    unchanged: [],
    skipped: [],
  });
  assert.deepEqual(await pub.register(), {
    created: [],
    updated: [],
    unchanged: ["a-happened", "b-happened", "c-happened"],
    skipped: [],
  });
  // B drops its limit, A gains one: both streams change.
  const A2 = new Event("a-happened", User, { limits: { maxAge: 60_000 } });
  const B2 = new Event("b-happened", User);
  await using pub2 = await new Events(A2, B2, C).connect(server.url);
  assert.deepEqual(await pub2.register({ create: false }), {
    created: [],
    updated: ["a-happened", "b-happened"],
    unchanged: ["c-happened"],
    skipped: [],
  });
  const jsm = await jetstreamManager(pub.nc);
  const a = (await jsm.streams.info("a-happened")).config;
  const b = (await jsm.streams.info("b-happened")).config;
  assert.equal(a.max_age, 60_000_000_000);
  assert.equal(b.max_msgs, -1, "a limit dropped from the event is removed");
});

test("register() registers many events concurrently", async () => {
  await using server = await NatsServer.start();
  const events = Array.from(
    { length: 12 },
    (_, i) => new Event(`many.event-${i}`, User),
  );
  await using pub = await new Events(...events).connect(server.url);
  const report = await pub.register();
  assert.equal(report.created.length, 12);
  const jsm = await jetstreamManager(pub.nc);
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  assert.deepEqual(
    names.sort(),
    events.map((e) => e.stream).sort(),
  );
});

test("register({ update: false }) throws StreamExistsError when the stream differs", async () => {
  await using server = await NatsServer.start();
  {
    await using pub = await new Events(USER_CREATED).connect(server.url);
    await pub.register();
  }
  const CHANGED = new Event("user-created", User, {
    limits: { maxMessages: 5 },
  });
  await using pub = await new Events(CHANGED).connect(server.url);
  const error = await pub.register({ update: false }).then(
    () => assert.fail("register() should throw"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof StreamExistsError);
  assert.equal(error.name, "StreamExistsError");
  assert.equal(error.code, 10058);
  assert.equal(error.event, "user-created");
  assert.match(
    error.description,
    /already in use with a different configuration/,
  );
  assert.match(
    error.message,
    /^Cannot register event "user-created": its stream exists with another configuration \(.*\); pass \{ update: true \} to update it$/,
  );
  const jsm = await jetstreamManager(pub.nc);
  assert.equal(
    (await jsm.streams.info("user-created")).config.max_msgs,
    -1,
    "the stream was left as it was",
  );
  // Unchanged streams pass without update.
  await using same = await new Events(USER_CREATED).connect(server.url);
  assert.deepEqual((await same.register({ update: false })).unchanged, [
    "user-created",
  ]);
});

test("register() throws StreamConfigError with the server's code when an update is refused", async () => {
  await using server = await NatsServer.start();
  {
    await using pub = await new Events(USER_CREATED).connect(server.url);
    await pub.register();
  }
  const IN_MEMORY = new Event("user-created", User, {
    limits: { storage: "memory" },
  });
  const OTHER = new Event("other-thing", User);
  await using pub = await new Events(IN_MEMORY, OTHER).connect(server.url);
  const error = await pub.register().then(
    () => assert.fail("register() should throw"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof StreamConfigError);
  assert.equal(error.name, "StreamConfigError");
  assert.equal(error.event, "user-created");
  assert.equal(error.code, 10052);
  assert.equal(
    error.description,
    "stream configuration update can not change storage type",
  );
  assert.match(
    error.message,
    /^Cannot register event "user-created": the server refused its stream configuration \(stream configuration update can not change storage type\)$/,
  );
  const jsm = await jetstreamManager(pub.nc);
  assert.equal((await jsm.streams.info("user-created")).config.storage, "file");
  assert.ok(
    await jsm.streams.info("other-thing"),
    "the other events were still registered",
  );
});
