import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Actor, Event, Events } from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  deferred,
  listenInBackground,
  NatsServer,
  waitFor,
} from "./_helpers.ts";

test("an emitted event is handled once with the exact payload and acked", async () => {
  await using server = await NatsServer.start();
  const User = v.object({ id: v.number(), name: v.string() });
  const USER_CREATED = new Event("user-created", User);
  const got = deferred<{ id: number; name: string }>();
  let calls = 0;
  const GREET = new Actor("greet", USER_CREATED, (user) => {
    calls++;
    got.resolve(user);
  });

  await using app = await connectActors(server, GREET);
  const { pub, sub } = app;

  const ack = await pub.emit(USER_CREATED, { id: 7, name: "Ann" });
  assert.equal(ack.sequence, 1);
  assert.equal(ack.duplicate, false);

  await using listening = listenInBackground(sub, { pollDelay: 500 });
  assert.deepEqual(await got.promise, { id: 7, name: "Ann" });
  await waitFor(async () => {
    const info = await consumerInfo(sub.nc, "user-created", "greet");
    return info.num_ack_pending === 0 && info.num_pending === 0 &&
      info.ack_floor.stream_seq === 1;
  }, { what: "the message to be acked" });
  const report = await listening.stop();
  assert.equal(calls, 1);
  assert.equal(report.succeeded, 1);
  assert.equal(report.failed, 0);
});

test("burst listening handles what is there and resolves", async () => {
  await using server = await NatsServer.start();
  const PING = new Event("ping", v.object({ n: v.number() }));
  const seen: number[] = [];
  const COUNT = new Actor("count", PING, ({ n }) => {
    seen.push(n);
  });
  await using app = await connectActors(server, COUNT);
  const { pub, sub } = app;
  for (let n = 0; n < 5; n++) await pub.emit(PING, { n });
  const report = await sub.listen({ burst: true, batch: 10 });
  assert.equal(report.succeeded, 5);
  assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4]);
  const info = await consumerInfo(sub.nc, "ping", "count");
  assert.equal(info.num_pending, 0);
  assert.equal(info.num_ack_pending, 0);
});

test("the harness fails fast with an install hint when nats-server is missing", async () => {
  await assert.rejects(
    NatsServer.start({ bin: "/nonexistent/nats-server" }),
    (error: Error) => {
      assert.equal(error.name, "NatsServerNotFoundError");
      assert.match(
        error.message,
        /^nats-server not found on PATH: install it with apt-get install nats-server, brew install nats-server, or go install/,
      );
      return true;
    },
  );
  await assert.rejects(
    NatsServer.start({ bin: "definitely-not-a-nats-server-binary" }),
    /nats-server not found on PATH/,
  );
});

test("the harness restarts on the same port and store, and kills", async () => {
  await using server = await NatsServer.start();
  const port = server.port;
  assert.ok(port > 0);
  const PING = new Event("ping", v.object({ n: v.number() }));
  {
    await using pub = await new Events(PING).connect({
      servers: server.url,
      maxReconnectAttempts: 0,
    });
    await pub.register();
    await pub.emit(PING, { n: 1 });
  }
  await server.restart();
  assert.equal(server.port, port);
  {
    await using pub = await new Events(PING).connect({
      servers: server.url,
      maxReconnectAttempts: 0,
    });
    const ack = await pub.emit(PING, { n: 2 });
    assert.equal(ack.sequence, 2, "the store survived the restart");
  }
  const pid = server.pid;
  await server.kill();
  assert.equal(server.running, false);
  assert.throws(() => process.kill(pid!, 0), "the process is gone");
  await server.resume();
  assert.equal(server.running, true);
});
