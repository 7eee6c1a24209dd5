import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  Actor,
  type AnyEvent,
  CloudEvent,
  Event,
  Events,
  PayloadTooLargeError,
  RequestTimeoutError,
  StreamConfigError,
  StreamExistsError,
  ValidationError,
} from "../mod.ts";
import { resolveOptions } from "../src/transports/_connection_options.ts";
import {
  connectActors,
  listenInBackground,
  NatsServer,
  rawConnect,
  waitFor,
} from "./_helpers.ts";

const User = v.object({ id: v.number(), name: v.string() });
const USER_CREATED = new Event("user-created", User);
const utf8 = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

/** A durable consumer, so interest retention keeps what is emitted. */
async function keep(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, {
    durable_name: "keep",
    ack_policy: "explicit" as never,
  });
}

async function state(jsm: JetStreamManager, stream: string) {
  return (await jsm.streams.info(stream)).state;
}

async function stored(jsm: JetStreamManager, stream: string, seq: number) {
  const msg = await jsm.streams.getMessage(stream, { seq });
  assert.ok(msg, `message ${seq} of ${stream} is stored`);
  const headers: Record<string, string> = {};
  for (const [key, values] of msg.header ?? []) headers[key] = values[0]!;
  return { subject: msg.subject, headers, body: utf8.decode(msg.data) };
}

/** Subscriptions the connection holds (nats-core keeps them in a map). */
function subscriptions(nc: NatsConnection): number {
  return (nc as unknown as {
    protocol: { subscriptions: { size(): number } };
  }).protocol.subscriptions.size();
}

/** A publisher with USER_CREATED registered and kept. */
async function setup(server: NatsServer, ...more: AnyEvent[]) {
  const pub = await new Events(USER_CREATED, ...more).connect(server.url);
  await pub.register();
  await keep(pub.nc, USER_CREATED.stream);
  for (const event of more) await keep(pub.nc, event.stream);
  const jsm = await jetstreamManager(pub.nc);
  return { pub, jsm };
}

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

// --- emit --------------------------------------------------------------

test("emit() rejects a payload that fails the schema and publishes nothing", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const error = await pub.emit(
    USER_CREATED,
    { id: "x", name: 5 } as unknown as { id: number; name: string },
  ).then(() => assert.fail("emit() should throw"), (e: unknown) => e);
  assert.ok(error instanceof ValidationError);
  assert.equal(error.event, "user-created");
  assert.equal(error.issues.length, 2);
  assert.deepEqual(error.issues.map((i) => i.path), [["id"], ["name"]]);
  assert.match(
    error.message,
    /^Invalid payload for event "user-created": id: .*; name: .*/,
  );
  await pub.nc.flush();
  const s = await state(jsm, "user-created");
  assert.equal(s.messages, 0);
  assert.equal(s.last_seq, 0, "nothing reached the stream");
});

test("emit() with a uid sets Nats-Msg-Id and the stream stores it once", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const first = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    uid: "user-1",
  });
  const second = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    uid: "user-1",
  });
  assert.deepEqual(first, { sequence: 1, duplicate: false });
  assert.deepEqual(second, { sequence: 1, duplicate: true });
  assert.equal((await state(jsm, "user-created")).messages, 1);
  const msg = await stored(jsm, "user-created", 1);
  assert.equal(msg.headers["Nats-Msg-Id"], "user-1");
  const third = await pub.emit(USER_CREATED, { id: 2, name: "Bob" }, {
    uid: "user-2",
  });
  assert.deepEqual(third, { sequence: 2, duplicate: false });
  await assert.rejects(
    pub.emit(USER_CREATED, { id: 1, name: "Ann" }, { uid: "" }),
    new TypeError('Cannot emit event "user-created": uid must not be empty'),
  );
});

test("emit() sets trace, delay and meta headers, and passes traceparent through", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const before = Date.now();
  await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    traceId: "trace-42",
    delay: 90_000,
    meta: { traceparent, "X-Tenant": "acme" },
  });
  const after = Date.now();
  const msg = await stored(jsm, "user-created", 1);
  assert.equal(msg.headers["Walnats-Trace"], "trace-42");
  assert.equal(msg.headers["traceparent"], traceparent);
  assert.equal(msg.headers["X-Tenant"], "acme");
  const delay = msg.headers["Walnats-Delay"]!;
  assert.match(delay, /^\d+(\.\d+)?$/, "epoch seconds as a decimal string");
  const until = Number(delay);
  assert.ok(until >= (before + 90_000) / 1000, `${until} is not too early`);
  assert.ok(until <= (after + 90_000) / 1000, `${until} is not too late`);
  // No uid: a generated id, so retries cannot store it twice.
  assert.match(msg.headers["Nats-Msg-Id"] ?? "", /^[0-9A-Za-z]{22}$/);
  assert.equal(msg.body, '{"id":1,"name":"Ann"}');

  // No options: only the generated id; a fresh one each time.
  await pub.emit(USER_CREATED, { id: 2, name: "Bob" });
  const plain = (await stored(jsm, "user-created", 2)).headers;
  assert.deepEqual(Object.keys(plain), ["Nats-Msg-Id"]);
  assert.notEqual(plain["Nats-Msg-Id"], msg.headers["Nats-Msg-Id"]);
  // Not acknowledged, not retried: no id.
  await pub.emit(USER_CREATED, { id: 3, name: "Cy" }, { sync: false });
  await pub.nc.flush();
  await waitFor(async () => (await state(jsm, "user-created")).messages === 3);
  assert.deepEqual((await stored(jsm, "user-created", 3)).headers, {});

  await assert.rejects(
    pub.emit(USER_CREATED, { id: 1, name: "Ann" }, { delay: -1 }),
    new RangeError(
      'Cannot emit event "user-created": delay must be a non-negative number of milliseconds, got -1',
    ),
  );
  await assert.rejects(
    pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
      meta: { "Bad Header": "x" },
    }),
    /^TypeError: Cannot emit event "user-created": meta header "Bad Header" is not a valid NATS header/,
  );
  await assert.rejects(
    pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
      meta: { "X-Multi": "a\r\nb" },
    }),
    /meta header "X-Multi" is not a valid NATS header/,
  );
  assert.equal((await state(jsm, "user-created")).last_seq, 3);
});

test("emit() with a CloudEvent sets ce-* headers and uses its id as Nats-Msg-Id unless uid is given", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const meta = new CloudEvent({
    id: "evt-1",
    source: "/users",
    type: "com.example.user.created",
    datacontenttype: "application/json",
    subject: "user 1",
    time: new Date("2024-01-02T03:04:05.678Z"),
    extensions: { partitionkey: "p1", sampledrate: 10 },
  });
  await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, { meta });
  const msg = await stored(jsm, "user-created", 1);
  assert.deepEqual(msg.headers, {
    "ce-specversion": "1.0",
    "ce-id": "evt-1",
    "ce-source": "/users",
    "ce-type": "com.example.user.created",
    "ce-datacontenttype": "application/json",
    "ce-subject": "user%201",
    "ce-time": "2024-01-02T03:04:05.678Z",
    "ce-partitionkey": "p1",
    "ce-sampledrate": "10",
    "Nats-Msg-Id": "evt-1",
  });
  const again = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, { meta });
  assert.equal(again.duplicate, true, "the CloudEvent id de-duplicates");
  const own = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    meta,
    uid: "mine",
  });
  assert.equal(own.duplicate, false);
  const ownMsg = await stored(jsm, "user-created", own.sequence);
  assert.equal(ownMsg.headers["Nats-Msg-Id"], "mine");
  assert.equal(ownMsg.headers["ce-id"], "evt-1");
  const back = CloudEvent.fromHeaders(msg.headers)!;
  assert.equal(back.attributes.subject, "user 1", "percent-decoded");
  assert.deepEqual(back.attributes.extensions, {
    partitionkey: "p1",
    sampledrate: "10",
  });
});

test("CloudEvent checks its attributes", () => {
  const base = { id: "1", source: "/s", type: "t" };
  assert.throws(
    () => new CloudEvent({ ...base, id: "" }),
    new TypeError(
      'Cannot create CloudEvent: "id" is required and must be a non-empty string',
    ),
  );
  assert.throws(
    () => new CloudEvent({ ...base, extensions: { Bad: "x" } }),
    /extension name "Bad" must be 1-20 lowercase letters or digits/,
  );
  assert.throws(
    () => new CloudEvent({ ...base, extensions: { id: "x" } }),
    /extension name "id" is a core attribute/,
  );
  assert.throws(
    () => new CloudEvent({ ...base, time: new Date(Number.NaN) }),
    /"time" must be a valid Date/,
  );
  const headers = new CloudEvent({ ...base, source: 'a "b" 100% é' })
    .headers();
  assert.equal(headers["ce-source"], "a%20%22b%22%20100%25%20%C3%A9");
  assert.equal(
    CloudEvent.fromHeaders(headers)?.attributes.source,
    'a "b" 100% é',
  );
  assert.equal(
    CloudEvent.fromHeaders({ "CE-ID": "1", "Ce-Source": "/s", "ce-type": "t" })
      ?.attributes.id,
    "1",
    "header names match case-insensitively",
  );
  assert.equal(CloudEvent.fromHeaders({ "ce-id": "1" }), undefined);
  assert.equal(
    CloudEvent.fromHeaders({
      ...{ "ce-id": "%C0%A0" },
      "ce-source": "s",
      "ce-type": "t",
    })?.attributes.id,
    "%C0%A0",
    "escapes that are not UTF-8 are kept as sent",
  );
});

test("emit() with sync: false resolves undefined and the message still arrives", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const result = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    sync: false,
    uid: "fire-and-forget",
  });
  assert.equal(result, undefined);
  await waitFor(async () => (await state(jsm, "user-created")).messages === 1, {
    what: "the message to be stored",
  });
  const msg = await stored(jsm, "user-created", 1);
  assert.equal(msg.headers["Nats-Msg-Id"], "fire-and-forget");
  assert.equal(msg.body, '{"id":1,"name":"Ann"}');
});

test("emit() refuses an event that is not registered", async () => {
  await using server = await NatsServer.start();
  const { pub } = await setup(server);
  await using _ = pub;
  const STRANGER = new Event("stranger", User);
  await assert.rejects(
    pub.emit(STRANGER, { id: 1, name: "Ann" }),
    new TypeError(
      'Cannot emit event "stranger": it is not registered; add it to the Events registry',
    ),
  );
  await assert.rejects(
    pub.emitMany(STRANGER, []),
    /Cannot emit event "stranger": it is not registered/,
  );
  await assert.rejects(
    pub.request(STRANGER.withResponse(v.string()), { id: 1, name: "Ann" }),
    /Cannot request event "stranger": it is not registered/,
  );
});

test("emit() refuses a message over maxMessageSize, counting headers, before sending", async () => {
  await using server = await NatsServer.start();
  const SMALL = new Event("small", v.string(), {
    limits: { maxMessageSize: 64 },
  });
  const { pub, jsm } = await setup(server, SMALL);
  await using _ = pub;
  const error = await pub.emit(SMALL, "x".repeat(100)).then(
    () => assert.fail("emit() should throw"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof PayloadTooLargeError);
  assert.ok(error instanceof RangeError);
  // 102 bytes of JSON and 49 of headers (the generated message id).
  assert.equal(error.size, 151);
  assert.equal(error.limit, 64);
  assert.match(
    error.message,
    /^Cannot emit event "small": .*151 bytes.*64 bytes$/,
  );
  // The generated message id (22 characters) counts: 10 bytes of payload
  // fit beside it (49 header bytes), not beside a 30-byte uid.
  await pub.emit(SMALL, "y".repeat(8));
  await assert.rejects(
    pub.emit(SMALL, "y".repeat(8), { uid: "u".repeat(30) }),
    PayloadTooLargeError,
  );
  await pub.nc.flush();
  assert.equal((await state(jsm, "small")).last_seq, 1, "only one was sent");
});

test("emit() refuses a message over the server's max_payload", async () => {
  const dir = await mkdtemp(join(tmpdir(), "walnats-conf-"));
  const conf = join(dir, "server.conf");
  await writeFile(conf, "max_payload: 2048\n");
  await using server = await NatsServer.start({ args: ["-c", conf] });
  const BLOB = new Event("blob", v.string());
  const { pub } = await setup(server, BLOB);
  await using _ = pub;
  assert.equal(pub.nc.info?.max_payload, 2048);
  await rm(dir, { recursive: true });
  await assert.rejects(
    pub.emit(BLOB, "z".repeat(3000)),
    (error: PayloadTooLargeError) => {
      assert.ok(error instanceof PayloadTooLargeError);
      // An eighth is kept free on so small a server, for dead letters.
      assert.equal(error.limit, 2048 - 256);
      assert.match(error.message, /server's max_payload is 2048 bytes/);
      return true;
    },
  );
});

// --- emitMany ----------------------------------------------------------

test("emitMany() keeps at most `window` publishes in flight and stores all", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const original = pub.js.publish.bind(pub.js);
  let inFlight = 0;
  let peak = 0;
  (pub.js as { publish: typeof original }).publish = async (...args) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      return await original(...args);
    } finally {
      inFlight--;
    }
  };
  const users = Array.from({ length: 50 }, (_, i) => ({
    id: i,
    name: `u${i}`,
  }));
  const { results, failures } = await pub.emitMany(USER_CREATED, users, {
    window: 4,
    uid: (user) => `user-${user.id}`,
  });
  assert.equal(peak, 4, "the window was filled and never exceeded");
  assert.equal(inFlight, 0);
  assert.deepEqual(failures, []);
  assert.equal(results.length, 50);
  assert.deepEqual(
    results.map((r) => r!.sequence).sort((a, b) => a - b),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  assert.equal((await state(jsm, "user-created")).messages, 50);
  const first = await stored(jsm, "user-created", results[0]!.sequence);
  assert.equal(first.headers["Nats-Msg-Id"], "user-0");
  assert.equal(first.body, '{"id":0,"name":"u0"}');

  // The same uids again: all duplicates, nothing new stored.
  const again = await pub.emitMany(USER_CREATED, users, {
    uid: (user) => `user-${user.id}`,
  });
  assert.ok(again.results.every((r) => r?.duplicate === true));
  assert.equal((await state(jsm, "user-created")).messages, 50);
  await assert.rejects(
    pub.emitMany(USER_CREATED, users, { window: 0 }),
    RangeError,
  );
});

test("emitMany() reports failures by index so exactly those can be retried", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const items = [
    { id: 0, name: "ok" },
    { id: "bad", name: "x" },
    { id: 2, name: "ok" },
    { id: 3 },
    { id: 4, name: "ok" },
  ] as { id: number; name: string }[];
  const { results, failures } = await pub.emitMany(USER_CREATED, items, {
    window: 2,
  });
  assert.deepEqual(failures.map((f) => f.index), [1, 3]);
  assert.ok(failures.every((f) => f.error instanceof ValidationError));
  assert.deepEqual(results.map((r) => r !== undefined), [
    true,
    false,
    true,
    false,
    true,
  ]);
  assert.equal((await state(jsm, "user-created")).messages, 3);

  // Retry exactly the failed ones, fixed.
  const retry = failures.map((f) => ({ id: f.index, name: "fixed" }));
  const second = await pub.emitMany(USER_CREATED, retry);
  assert.deepEqual(second.failures, []);
  assert.equal((await state(jsm, "user-created")).messages, 5);

  // An aborted signal fails what was not sent yet.
  const aborted = await pub.emitMany(USER_CREATED, items, {
    signal: AbortSignal.abort(),
  });
  assert.equal(aborted.failures.length, 5);
  assert.match(aborted.failures[0]!.error.message, /aborted before sending/);
  assert.equal((await state(jsm, "user-created")).messages, 5);
});

test("emitMany() with a CloudEvent gives each message its own id", async () => {
  await using server = await NatsServer.start();
  const { pub, jsm } = await setup(server);
  await using _ = pub;
  const meta = new CloudEvent({ id: "batch", source: "/s", type: "t" });
  const { results } = await pub.emitMany(
    USER_CREATED,
    [{ id: 1, name: "a" }, { id: 2, name: "b" }],
    { meta, traceId: "t-1" },
  );
  for (const [i, r] of results.entries()) {
    const msg = await stored(jsm, "user-created", r!.sequence);
    assert.equal(msg.headers["ce-id"], `batch-${i}`);
    assert.equal(msg.headers["Nats-Msg-Id"], `batch-${i}`);
    assert.equal(msg.headers["Walnats-Trace"], "t-1");
  }
});

// --- request -----------------------------------------------------------

const GET_USER = new Event("get-user", v.object({ id: v.number() }))
  .withResponse(User);

test("request() resolves with a plain responder's decoded reply and cleans up its inbox", async () => {
  await using server = await NatsServer.start();
  await using pub = await new Events(GET_USER).connect(server.url);
  await pub.register();
  await keep(pub.nc, "get-user");
  const raw = await rawConnect(server);
  const seen: Record<string, string>[] = [];
  raw.subscribe("get-user", {
    callback: (_err, msg) => {
      const headers: Record<string, string> = {};
      for (const [k, vs] of msg.headers ?? []) headers[k] = vs[0]!;
      const reply = headers["Walnats-Reply"];
      if (reply === undefined) return; // a plain emit
      seen.push(headers);
      const { id } = JSON.parse(utf8.decode(msg.data));
      raw.publish(reply, bytes(`{"id":${id},"name":"Ann"}`));
    },
  });
  await raw.flush();
  await pub.emit(GET_USER, { id: 0 }); // the JetStream reply mux exists now
  const before = subscriptions(pub.nc);

  const user = await pub.request(GET_USER, { id: 7 }, {
    meta: new CloudEvent({ id: "req-1", source: "/s", type: "t" }),
    traceId: "trace-1",
  });
  assert.deepEqual(user, { id: 7, name: "Ann" });
  assert.equal(seen.length, 1);
  assert.match(seen[0]!["Walnats-Reply"]!, /^_INBOX\.[A-Za-z0-9]+$/);
  assert.equal(seen[0]!["Nats-Msg-Id"], "req-1", "the CloudEvent id is kept");
  assert.equal(seen[0]!["Walnats-Trace"], "trace-1");
  assert.equal(subscriptions(pub.nc), before, "the inbox is unsubscribed");
  await raw.close();
});

test("request() throws RequestTimeoutError when nobody replies, and cleans up", async () => {
  await using server = await NatsServer.start();
  await using pub = await new Events(GET_USER).connect(server.url);
  await pub.register();
  await pub.emit(GET_USER, { id: 0 });
  const before = subscriptions(pub.nc);
  const error = await pub.request(GET_USER, { id: 1 }, { timeout: 300 }).then(
    () => assert.fail("request() should throw"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RequestTimeoutError);
  assert.equal(error.event, "get-user");
  assert.equal(error.timeout, 300);
  assert.match(error.message, /^No reply to event "get-user" within 300 ms/);
  assert.equal(subscriptions(pub.nc), before);

  const stop = new AbortController();
  const pending = pub.request(GET_USER, { id: 2 }, {
    timeout: 60_000,
    signal: stop.signal,
  });
  stop.abort(new Error("user gave up"));
  await assert.rejects(pending, /user gave up/);
  assert.equal(subscriptions(pub.nc), before);

  await assert.rejects(
    pub.request(GET_USER, { id: 3 }, { signal: AbortSignal.abort() }),
    { name: "AbortError" },
  );
  await assert.rejects(
    pub.request(GET_USER, { id: 3 }, { timeout: 0 }),
    RangeError,
  );
  await assert.rejects(
    pub.request(GET_USER, { id: "x" } as unknown as { id: number }),
    ValidationError,
  );
  assert.equal(subscriptions(pub.nc), before);
});

test("request() refuses an event without a response", async () => {
  await using server = await NatsServer.start();
  await using pub = await new Events(USER_CREATED).connect(server.url);
  await assert.rejects(
    // @ts-expect-error: USER_CREATED has no response type
    pub.request(USER_CREATED, { id: 1, name: "Ann" }),
    new TypeError(
      'Cannot request event "user-created": it has no response; use event.withResponse(schema)',
    ),
  );
});

test("request() gets the reply of a real actor end to end", async () => {
  await using server = await NatsServer.start();
  const LOOKUP = new Actor("lookup-user", GET_USER, ({ id }) => ({
    id,
    name: `user ${id}`,
  }));
  await using app = await connectActors(server, LOOKUP);
  const { pub, sub } = app;
  await using listening = listenInBackground(sub, { pollDelay: 500 });
  const user = await pub.request(GET_USER, { id: 42 }, { timeout: 20_000 });
  assert.deepEqual(user, { id: 42, name: "user 42" });
  await listening.stop();
});

// --- monitor -----------------------------------------------------------

test("monitor() yields every registered event's messages, garbage included, until the signal aborts", async () => {
  await using server = await NatsServer.start();
  const ORDER = new Event("order-placed", v.object({ total: v.number() }));
  await using pub = await new Events(USER_CREATED, ORDER).connect(
    server.url,
  );
  await pub.register();
  const stop = new AbortController();
  const feed = pub.monitor({ signal: stop.signal });
  await pub.nc.flush();
  await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, { traceId: "t-1" });
  await pub.emit(ORDER, { total: 9.5 });
  const raw = await rawConnect(server);
  raw.publish("order-placed", bytes("not json"));
  raw.publish("order-placed", bytes('{"total":"nine"}'));
  await raw.flush();
  await raw.close();

  const items = [];
  for await (const item of feed) {
    items.push(item);
    if (items.length === 4) stop.abort();
  }
  const users = items.filter((i) => i.event === USER_CREATED);
  assert.equal(users.length, 1);
  assert.deepEqual(users[0]!.message, { id: 1, name: "Ann" });
  assert.equal(users[0]!.subject, "user-created");
  assert.equal(users[0]!.headers["Walnats-Trace"], "t-1");
  const orders = items.filter((i) => i.event === ORDER);
  assert.deepEqual(orders[0]!.message, { total: 9.5 });
  const garbage = orders.filter((i) => i.error !== undefined);
  assert.equal(garbage.length, 2);
  assert.equal(garbage[0]!.error!.name, "DecodeError");
  assert.equal(utf8.decode(garbage[0]!.data!), "not json");
  assert.ok(garbage[1]!.error instanceof ValidationError);
  assert.equal(utf8.decode(garbage[1]!.data!), '{"total":"nine"}');
  assert.deepEqual(await feed.next(), { done: true, value: undefined });
});

test("monitor() unsubscribes when the loop breaks, the signal aborts or the publisher closes", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const pub = await new Events(USER_CREATED).connect(nc);
  await pub.register();
  const before = subscriptions(nc);

  const feed = pub.monitor();
  assert.equal(subscriptions(nc), before + 1);
  await pub.emit(USER_CREATED, { id: 1, name: "Ann" });
  for await (const item of feed) {
    assert.deepEqual(item.message, { id: 1, name: "Ann" });
    break;
  }
  assert.equal(subscriptions(nc), before, "break unsubscribes");

  const stop = new AbortController();
  const aborted = pub.monitor({ signal: stop.signal });
  const waiting = aborted.next();
  stop.abort();
  assert.deepEqual(await waiting, { done: true, value: undefined });
  assert.equal(subscriptions(nc), before, "abort unsubscribes");

  const already = pub.monitor({ signal: AbortSignal.abort() });
  assert.deepEqual(await already.next(), { done: true, value: undefined });

  const open = pub.monitor();
  const pending = open.next();
  await pub.close();
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(subscriptions(nc), before, "close ends every feed");
  await nc.close();

  // The connection closing under a feed ends it as well.
  const nc2 = await rawConnect(server);
  const pub2 = await new Events(USER_CREATED).connect(nc2);
  const orphan = pub2.monitor();
  const last = orphan.next();
  await nc2.close();
  assert.deepEqual(await last, { done: true, value: undefined });
});
