import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "../mod.ts";
import { consumerInfo, deferred, NatsServer, waitFor } from "./_helpers.ts";

describe("walking skeleton", () => {
  let server: NatsServer;
  before(async () => {
    server = await NatsServer.start();
  });
  after(async () => {
    await server.close();
  });

  test("an emitted event is handled once with the exact payload and acked", async () => {
    const User = v.object({ id: v.number(), name: v.string() });
    const USER_CREATED = new Event("user-created", User);
    const got = deferred<{ id: number; name: string }>();
    let calls = 0;
    const GREET = new Actor("greet", USER_CREATED, (user) => {
      calls++;
      got.resolve(user);
    });

    await using pub = await new Events(USER_CREATED).connect(server.url);
    await pub.register();
    await using sub = await new Actors(GREET).connect(server.url);
    await sub.register();

    const ack = await pub.emit(USER_CREATED, { id: 7, name: "Ann" });
    assert.equal(ack.sequence, 1);
    assert.equal(ack.duplicate, false);

    const stop = new AbortController();
    const listening = sub.listen({ signal: stop.signal });
    assert.deepEqual(await got.promise, { id: 7, name: "Ann" });
    await waitFor(async () => {
      const info = await consumerInfo(sub.nc, "user-created", "greet");
      return info.num_ack_pending === 0 && info.num_pending === 0 &&
        info.ack_floor.stream_seq === 1;
    }, { what: "the message to be acked" });
    stop.abort();
    const report = await listening;
    assert.equal(calls, 1);
    assert.equal(report.succeeded, 1);
    assert.equal(report.failed, 0);
  });
});
