// A JetStream domain moves the API to `$JS.<domain>.API`: registering,
// emitting, pulling and acking must all follow the connection's prefix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { Actor, Actors, Event, Events } from "../mod.ts";
import { deferred, NatsServer, uniq } from "./_helpers.ts";

test("events and actors work in a JetStream domain (API prefix $JS.<domain>.API)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "walnats-domain-"));
  const config = join(dir, "server.conf");
  writeFileSync(config, "jetstream {\n  domain: hub\n}\n");
  try {
    await using server = await NatsServer.start({ args: ["-c", config] });
    const EVENT = new Event(uniq("in-domain"), v.object({ n: v.number() }));
    const got = deferred<{ n: number; attempt: number }>();
    const ACTOR = new Actor("domain-reader", EVENT, (msg, ctx) => {
      got.resolve({ n: msg.n, attempt: ctx.attempt });
    });
    await using pub = await new Events(EVENT).connect(server.url, {
      jetstream: { domain: "hub" },
    });
    const report = await pub.register();
    assert.deepEqual(report.created, [EVENT.name]);
    await using sub = await new Actors(ACTOR).connect(server.url, {
      jetstream: { domain: "hub" },
    });
    await sub.register();
    const ack = await pub.emit(EVENT, { n: 7 });
    assert.equal(ack.sequence, 1);
    const stop = new AbortController();
    const listening = sub.listen({ signal: stop.signal, pollDelay: 500 });
    assert.deepEqual(await got.promise, { n: 7, attempt: 1 });
    stop.abort();
    const done = await listening;
    assert.equal(done.succeeded, 1);

    // Everything was acked through the domain's API.
    const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(
      sub.nc,
      { domain: "hub" },
    );
    const info = await jsm.consumers.info(EVENT.stream, ACTOR.consumer);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
