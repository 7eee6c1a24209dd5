// The acknowledgement inbox of acknowledged publishes (src/publish/_ack_inbox.ts):
// every answer the wire can bring, forged and late ones included, ends the
// wait of exactly the publish it belongs to, with nats.js' own error
// classes, and nothing is left waiting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors, headers, type NatsConnection } from "@nats-io/nats-core";
import { connect, EmitError, Events } from "../mod.ts";
import { ackInbox } from "../src/publish/_ack_inbox.ts";
import { NatsServer, rawConnect, waitFor } from "./_helpers.ts";
import { bytes, keep, USER_CREATED } from "./_publisher.ts";

/** A core responder on `subject` that answers each request with `answer`. */
function responder(
  nc: NatsConnection,
  subject: string,
  answer: (reply: string) => void,
): void {
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      if (msg.reply) answer(msg.reply);
    },
  });
}

/** What `promise` rejects with (fails the test if it resolves). */
function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => assert.fail("should reject"),
    (e: unknown) => e as Error,
  );
}

/**
 * Run `body` with a server, the connection whose inbox is tested, and
 * another connection that plays the stream (answering on core subjects).
 */
async function withPair(
  body: (nc: NatsConnection, other: NatsConnection) => Promise<void>,
): Promise<void> {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const other = await rawConnect(server);
  try {
    await body(nc, other);
  } finally {
    await other.close();
    await nc.close();
  }
}

test("the ack inbox: a stored message resolves with its sequence; a duplicate says so", async () => {
  await using server = await NatsServer.start();
  await using pub = await new Events(USER_CREATED).connect(server.url);
  await pub.register();
  await keep(pub.nc, USER_CREATED.stream);
  const acks = ackInbox(pub.nc);
  assert.equal(ackInbox(pub.nc), acks, "one inbox per connection");
  const h = headers();
  h.set("Nats-Msg-Id", "same");
  const first = await acks.publish("user-created", bytes("{}"), h, 2000);
  assert.equal(first.seq, 1);
  assert.equal(first.stream, "user-created");
  assert.equal(first.duplicate, false);
  const again = await acks.publish("user-created", bytes("{}"), h, 2000);
  assert.equal(again.seq, 1);
  assert.equal(again.duplicate, true);
  assert.equal(acks.waiting, 0);
});

test("the ack inbox: garbage, an API error, an empty status and no responders each fail their own publish", async () => {
  await withPair(async (nc, other) => {
    responder(other, "garbage", (r) => other.publish(r, bytes("not json")));
    responder(
      other,
      "refused",
      (r) =>
        other.publish(
          r,
          bytes(
            '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}',
          ),
        ),
    );
    responder(other, "nostream", (r) => other.publish(r, bytes('{"seq":4}')));
    await other.flush();
    const acks = ackInbox(nc);
    const fail = (subject: string) =>
      rejection(acks.publish(subject, bytes("x"), headers(), 2000));
    const [garbage, refused, nostream, nobody] = await Promise.all([
      fail("garbage"),
      fail("refused"),
      fail("nostream"),
      fail("nobody-listens"),
    ]);
    assert.ok(garbage instanceof JetStreamError, String(garbage));
    assert.match(garbage.message, /invalid ack response/);
    assert.ok(refused instanceof JetStreamApiError, String(refused));
    assert.equal(refused.code, 10071);
    assert.match(refused.message, /wrong last sequence/);
    assert.ok(nostream instanceof JetStreamError, String(nostream));
    // No responders: the name _retry.ts reads as "nothing stored, retry".
    assert.equal(nobody.name, "JetStreamNotEnabled");
    assert.ok(nobody.cause instanceof errors.NoRespondersError);
    assert.equal(acks.waiting, 0);
  });
});

test("the ack inbox: a forged reply to an unknown token and a reply after the timeout are ignored", async () => {
  await withPair(async (nc, other) => {
    const asked: string[] = [];
    responder(other, "late", (r) => asked.push(r));
    responder(other, "held", (r) => asked.push(r));
    await other.flush();
    const acks = ackInbox(nc);
    const error = await rejection(
      acks.publish("late", bytes("x"), headers(), 150),
    );
    assert.ok(error instanceof errors.TimeoutError, String(error));
    assert.equal(acks.waiting, 0);
    // A publish waits; the late answer of the first one and a forged one
    // for a token never handed out arrive while it does.
    const held = acks.publish("held", bytes("x"), headers(), 10_000);
    await waitFor(() => asked.length === 2, { what: "the held request" });
    const [late, own] = asked as [string, string];
    other.publish(late, bytes('{"stream":"late","seq":1}'));
    other.publish(
      own.replace(/[^.]+$/, "zzzz"),
      bytes('{"stream":"forged","seq":2}'),
    );
    await other.flush();
    await nc.flush();
    assert.equal(acks.waiting, 1, "neither answer ended the held publish");
    // Its own answer does.
    other.publish(own, bytes('{"stream":"held","seq":7}'));
    const ack = await held;
    assert.equal(ack.stream, "held");
    assert.equal(ack.seq, 7);
    assert.equal(acks.waiting, 0);
  });
});

test("the ack inbox: closing the connection fails every publish still waiting, at once", async () => {
  // withPair closes nc again afterwards: closing twice is a no-op.
  await withPair(async (nc, other) => {
    responder(other, "silent", () => {});
    await other.flush();
    const acks = ackInbox(nc);
    const waiting = [1, 2, 3].map(() =>
      rejection(acks.publish("silent", bytes("x"), headers(), 30_000))
    );
    await nc.flush();
    assert.equal(acks.waiting, 3);
    const started = performance.now();
    await nc.close();
    for (const error of await Promise.all(waiting)) {
      assert.ok(error instanceof errors.RequestError, String(error));
      assert.match(error.message, /connection closed/);
    }
    assert.ok(performance.now() - started < 5_000);
    assert.equal(acks.waiting, 0);
    const after = await rejection(
      acks.publish("silent", bytes("x"), headers(), 1000),
    );
    assert.ok(after instanceof errors.ClosedConnectionError, String(after));
  });
});

const PERMISSIONS = `authorization {
  users: [
    { user: admin, password: admin }
    { user: nopub, password: nopub, permissions: { publish: { deny: ["user-created"] } } }
    { user: noinbox, password: noinbox, permissions: { subscribe: { deny: ["_INBOX.>"] } } }
  ]
}`;

test("an emit refused by a publish permission fails at once with the server's words, not after its timeout", async () => {
  await using server = await NatsServer.start({ config: PERMISSIONS });
  await using admin = await new Events(USER_CREATED).connect({
    servers: server.url,
    user: "admin",
    pass: "admin",
  });
  await admin.register();
  await keep(admin.nc, USER_CREATED.stream);
  await using pub = await new Events(USER_CREATED).connect({
    servers: server.url,
    user: "nopub",
    pass: "nopub",
  });
  const started = performance.now();
  const error = await rejection(
    pub.emit(USER_CREATED, { id: 1, name: "Ann" }, { timeout: 20_000 }),
  );
  const took = performance.now() - started;
  assert.ok(!(error instanceof EmitError), String(error));
  assert.match(error.message, /Permissions Violation for Publish/);
  assert.ok(took < 10_000, `took ${Math.round(took)} ms`);
  assert.equal(ackInbox(pub.nc).waiting, 0);
});

test("the ack inbox: a connection that may not subscribe its inbox fails each publish at once, and says why", async () => {
  // With inboxes denied nothing request-shaped works (nats.js' own request
  // inbox is refused alike), so this drives the inbox directly.
  await using server = await NatsServer.start({ config: PERMISSIONS });
  await using admin = await new Events(USER_CREATED).connect({
    servers: server.url,
    user: "admin",
    pass: "admin",
  });
  await admin.register();
  await keep(admin.nc, USER_CREATED.stream);
  const nc = await connect({
    servers: server.url,
    user: "noinbox",
    pass: "noinbox",
  });
  try {
    const acks = ackInbox(nc);
    for (let i = 0; i < 2; i++) {
      // Twice: the second publish subscribes again and is told again.
      const started = performance.now();
      const error = await rejection(
        acks.publish("user-created", bytes("{}"), headers(), 20_000),
      );
      const took = performance.now() - started;
      assert.ok(error instanceof errors.RequestError, String(error));
      assert.match(error.message, /Permissions Violation for Subscription/);
      assert.ok(took < 10_000, `took ${Math.round(took)} ms`);
      assert.equal(acks.waiting, 0);
    }
  } finally {
    await nc.close();
  }
});
