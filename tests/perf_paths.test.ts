// The fast paths of issue 19: fire-and-forget emits that reach nats.js in
// the caller's turn, one pull request for the free slots by default, and
// idle probes that cost little and never hold up a shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { Actor, type Codec, Event, ValidationError } from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  listenInBackground,
  NatsServer,
  rawConnect,
  waitFor,
} from "./_helpers.ts";

const Num = v.object({ n: v.number() });

interface PullRequest {
  batch: number;
  expires?: number;
  idle_heartbeat?: number;
  no_wait?: boolean;
}

/** Every pull request the server gets for `consumer`, parsed. */
function recordPulls(
  nc: NatsConnection,
  stream: string,
  consumer: string,
): PullRequest[] {
  const seen: PullRequest[] = [];
  nc.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, {
    callback: (_err: Error | null, msg: Msg) => {
      seen.push(JSON.parse(new TextDecoder().decode(msg.data)));
    },
  });
  return seen;
}

test("fire-and-forget emits with a synchronous codec are handed to nats.js before emit() returns", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("ff-sync", Num);
  const A = new Actor("ff-sync-worker", EV, () => {});
  await using app = await connectActors(server, A);
  const { pub } = app;
  const pending: Promise<undefined>[] = [];
  const before = pub.nc.stats().outMsgs;
  for (let n = 0; n < 500; n++) {
    pending.push(pub.emit(EV, { n }, { sync: false }));
  }
  // Published in this turn, not in later microtasks.
  assert.equal(pub.nc.stats().outMsgs - before, 500);
  // No await in between: a flush now carries every one of them.
  await pub.nc.flush();
  const info = await waitFor(async () => {
    const i = await consumerInfo(pub.nc, "ff-sync", "ff-sync-worker");
    return i.num_pending === 500 ? i : undefined;
  }, { what: "500 messages stored" });
  assert.equal(info.num_pending, 500);
  assert.deepEqual(await Promise.all(pending), Array(500).fill(undefined));
});

test("a fire-and-forget emit rejects (never throws) on a bad payload, a closed publisher, an unknown event", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("ff-bad", Num);
  const OTHER = new Event("ff-other", Num);
  const A = new Actor("ff-bad-worker", EV, () => {});
  await using app = await connectActors(server, A);
  const { pub } = app;
  let result: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    result = pub.emit(EV, { n: "x" } as unknown as { n: number }, {
      sync: false,
    });
  });
  await assert.rejects(result!, ValidationError);
  assert.doesNotThrow(() => {
    result = pub.emit(OTHER, { n: 1 }, { sync: false });
  });
  await assert.rejects(result!, /not registered/);
  assert.doesNotThrow(() => {
    result = pub.emit(EV, { n: 1 }, { sync: false, timeout: -1 });
  });
  await assert.rejects(result!, RangeError);
  await pub.close();
  assert.doesNotThrow(() => {
    result = pub.emit(EV, { n: 1 }, { sync: false });
  });
  await assert.rejects(result!, /closed/);
});

test("a fire-and-forget emit with an asynchronous codec still sends", async () => {
  await using server = await NatsServer.start();
  const slow: Codec<{ n: number }> = {
    contentType: "application/json",
    encode: async (value) =>
      await Promise.resolve(new TextEncoder().encode(JSON.stringify(value))),
    decode: async (bytes) =>
      await Promise.resolve(JSON.parse(new TextDecoder().decode(bytes))),
  };
  const EV = new Event("ff-async", slow);
  const A = new Actor("ff-async-worker", EV, () => {});
  await using app = await connectActors(server, A);
  const { pub } = app;
  assert.equal(await pub.emit(EV, { n: 1 }, { sync: false }), undefined);
  await pub.nc.flush();
  await waitFor(async () => {
    const i = await consumerInfo(pub.nc, "ff-async", "ff-async-worker");
    return i.num_pending === 1;
  }, { what: "the message stored" });
});

test("by default one pull request asks for all free slots; a burst asks for one", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("pull-size", Num);
  const A = new Actor("pull-size-worker", EV, () => {}, { maxJobs: 10 });
  await using app = await connectActors(server, A);
  const nc = await rawConnect(server);
  try {
    const pulls = recordPulls(nc, "pull-size", "pull-size-worker");
    await nc.flush();
    await using listening = listenInBackground(app.sub, { pollDelay: 1000 });
    await waitFor(() => pulls.length > 0, { what: "a pull request" });
    // The listener's 16 slots, the actor's 10: one request for 10.
    assert.deepEqual(pulls[0], {
      batch: 10,
      expires: 1000 * 1_000_000,
      idle_heartbeat: 500 * 1_000_000,
    });
    await listening.stop();
    pulls.length = 0;
    await app.sub.listen({ burst: true });
    await nc.flush();
    await waitFor(() => pulls.length > 0, { what: "the burst's pull" });
    assert.deepEqual(pulls[0], { batch: 1, no_wait: true });
  } finally {
    await nc.close();
  }
});

test("an idle actor keeps one long probe out, and stopping does not wait for it", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("idle-probe", Num);
  const handled: number[] = [];
  const A = new Actor("idle-probe-worker", EV, ({ n }) => {
    handled.push(n);
  });
  await using app = await connectActors(server, A);
  const nc = await rawConnect(server);
  try {
    const pulls = recordPulls(nc, "idle-probe", "idle-probe-worker");
    await nc.flush();
    await using listening = listenInBackground(app.sub, { pollDelay: 300 });
    // The first pull expires unfilled; then the actor probes.
    await waitFor(() => pulls.some((p) => p.batch === 1), {
      what: "the idle probe",
    });
    const probe = pulls.find((p) => p.batch === 1)!;
    assert.equal(probe.expires, 30_000 * 1_000_000);
    assert.equal(probe.idle_heartbeat, 5_000 * 1_000_000);
    const before = pulls.length;
    // A probe that waits: no new requests in the next second.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(pulls.length, before, "no polling while idle");
    // A message wakes it: the probe delivers it at once.
    await app.pub.emit(EV, { n: 1 });
    await waitFor(() => handled.length === 1, { what: "the message handled" });
    // Idle again, then stop: well before the probe's 30 s expiry.
    await waitFor(async () => {
      const i = await consumerInfo(nc, "idle-probe", "idle-probe-worker");
      return i.num_ack_pending === 0 && i.num_waiting === 1;
    }, { what: "the actor idle again, its probe waiting" });
    const start = performance.now();
    const report = await listening.stop();
    assert.ok(
      performance.now() - start < 10_000,
      `stop took ${performance.now() - start} ms`,
    );
    assert.equal(report.succeeded, 1);
    // The server dropped the abandoned probe.
    await waitFor(async () => {
      const i = await consumerInfo(nc, "idle-probe", "idle-probe-worker");
      return i.num_waiting === 0;
    }, { what: "no waiting request left" });
  } finally {
    await nc.close();
  }
});

test("the acked-sequence memory keeps the latest N and forgets the oldest first", async () => {
  const { RecentSet } = await import("../src/listen/_recent.ts");
  const recent = new RecentSet(3);
  for (const n of [1, 2, 3]) recent.add(n);
  recent.add(2); // already there: nothing forgotten
  assert.deepEqual([1, 2, 3].map((n) => recent.has(n)), [true, true, true]);
  recent.add(4); // forgets 1, the oldest
  recent.add(5); // forgets 2
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => recent.has(n)),
    [false, false, true, true, true],
  );
  // Many rounds around the ring: always exactly the last three.
  for (let n = 6; n < 10_000; n++) recent.add(n);
  assert.deepEqual(
    [9995, 9996, 9997, 9998, 9999].map((n) => recent.has(n)),
    [false, false, true, true, true],
  );
});

test("header sizes are counted, not built: the same bytes as the encoded headers, for any text", async () => {
  const { headerSize, utf8Length } = await import("../src/publish/_wire.ts");
  const { headers } = await import("@nats-io/nats-core");
  const encoder = new TextEncoder();
  const texts = [
    "",
    "plain ascii",
    "é",
    "ü€",
    "日本語",
    "emoji 😀 pair",
    "lone high \ud800 surrogate",
    "lone low \udc00 surrogate",
    "trailing high \ud83d",
    "\u007f\u0080\u07ff\u0800\uffff",
  ];
  for (const text of texts) {
    assert.equal(utf8Length(text), encoder.encode(text).length, text);
  }
  assert.equal(headerSize(undefined), 0);
  const h = headers();
  h.set("Nats-Msg-Id", "abc");
  h.append("Walnats-Trace-Id", "t-1");
  h.append("X-Many", "one");
  h.append("X-Many", "twö 😀");
  let wire = "NATS/1.0\r\n";
  for (const [key, values] of h) {
    for (const value of values) wire += `${key}: ${value}\r\n`;
  }
  wire += "\r\n";
  assert.equal(headerSize(h), encoder.encode(wire).length);
  // And what nats.js itself puts on the wire.
  const encoded = (h as unknown as { encode(): Uint8Array }).encode();
  assert.equal(headerSize(h), encoded.length);
});
