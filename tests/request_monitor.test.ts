// The publisher: request() and monitor().
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  Actor,
  CloudEvent,
  Event,
  Events,
  RequestTimeoutError,
  ValidationError,
} from "../mod.ts";
import {
  connectActors,
  listenInBackground,
  NatsServer,
  rawConnect,
} from "./_helpers.ts";
import {
  bytes,
  keep,
  subscriptions,
  User,
  USER_CREATED,
  utf8,
} from "./_publisher.ts";

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
  // The first acknowledged emit subscribes the connection's acknowledgement
  // inbox, kept for the connection's life (as nats.js' request inbox is).
  await pub.emit(USER_CREATED, { id: 0, name: "Zed" });
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
