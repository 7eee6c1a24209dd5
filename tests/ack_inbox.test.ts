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
import { NatsServer, rawConnect } from "./_helpers.ts";
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
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const other = await rawConnect(server);
  try {
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
      acks.publish(subject, bytes("x"), headers(), 2000).then(
        () => assert.fail(`${subject} should reject`),
        (e: unknown) => e as Error,
      );
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
  } finally {
    await other.close();
    await nc.close();
  }
});

test("the ack inbox: a forged reply to an unknown token and a reply after the timeout are ignored", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const other = await rawConnect(server);
  try {
    const late: string[] = [];
    responder(other, "late", (r) => late.push(r));
    await other.flush();
    const acks = ackInbox(nc);
    const error = await acks.publish("late", bytes("x"), headers(), 150).then(
      () => assert.fail("should time out"),
      (e: unknown) => e as Error,
    );
    assert.ok(error instanceof errors.TimeoutError, String(error));
    assert.equal(acks.waiting, 0);
    // The late answer and a forged one for a token never handed out.
    const reply = late[0]!;
    other.publish(reply, bytes('{"stream":"x","seq":1}'));
    other.publish(
      reply.replace(/[^.]+$/, "zzzz"),
      bytes('{"stream":"x","seq":2}'),
    );
    await other.flush();
    await nc.flush();
    // The next publish still gets its own answer, not one of those.
    responder(
      other,
      "prompt",
      (r) => other.publish(r, bytes('{"stream":"prompt","seq":7}')),
    );
    await other.flush();
    const ack = await acks.publish("prompt", bytes("x"), headers(), 2000);
    assert.equal(ack.stream, "prompt");
    assert.equal(ack.seq, 7);
    assert.equal(acks.waiting, 0);
  } finally {
    await other.close();
    await nc.close();
  }
});

test("the ack inbox: closing the connection fails every publish still waiting, at once", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  const other = await rawConnect(server);
  try {
    responder(other, "silent", () => {});
    await other.flush();
    const acks = ackInbox(nc);
    const waiting = [1, 2, 3].map(() =>
      acks.publish("silent", bytes("x"), headers(), 30_000).then(
        () => assert.fail("should reject"),
        (e: unknown) => e as Error,
      )
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
    const after = await acks.publish("silent", bytes("x"), headers(), 1000)
      .then(() => assert.fail("should reject"), (e: unknown) => e as Error);
    assert.ok(after instanceof errors.ClosedConnectionError, String(after));
  } finally {
    await other.close();
  }
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
  const error = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    timeout: 20_000,
  }).then(() => assert.fail("should reject"), (e: unknown) => e as Error);
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
      const error = await acks.publish(
        "user-created",
        bytes("{}"),
        headers(),
        20_000,
      ).then(() => assert.fail("should reject"), (e: unknown) => e as Error);
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
