// The publisher: emit() and emitMany().
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import {
  CloudEvent,
  Event,
  PayloadTooLargeError,
  ValidationError,
} from "../mod.ts";
import { NatsServer, waitFor } from "./_helpers.ts";
import { setup, state, stored, User, USER_CREATED } from "./_publisher.ts";
import { ackInbox } from "../src/publish/_ack_inbox.ts";

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
  // Each publish goes out with its waiter already counted: the count at
  // every publish is what is in flight.
  const acks = ackInbox(pub.nc);
  const original = pub.nc.publish.bind(pub.nc);
  let peak = 0;
  (pub.nc as { publish: typeof original }).publish = (...args) => {
    peak = Math.max(peak, acks.waiting);
    original(...args);
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
  assert.equal(acks.waiting, 0);
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
