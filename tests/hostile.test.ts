// Hostile and mistaken input: what a raw nats.js publisher (or a careless
// caller) can put on the wire or in options, and what the engine refuses.
// Every wire test runs a real nats-server and checks the consumer's own
// counts: nothing is redelivered in a loop, poison is dead-lettered once.
// Here: Walnats-Reply and bad input from a raw publisher; delays are in
// hostile_delays.test.ts, dead letters near max_payload in
// hostile_dead_letters.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  Actors,
  DLQ_HEADERS,
  Event,
  Events,
  silentLogger,
} from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  listenInBackground,
  NatsServer,
  rawConnect,
  settled,
  waitFor,
} from "./_helpers.ts";
import { FakeTimers, MemoryLogger } from "./_fakes.ts";
import {
  MAX_REPLY_LENGTH,
  refuseReply,
  REPLY_WARNING_PERIOD,
  ReplyGuard,
} from "../src/listen/_reply.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import { json, Num } from "./_hostile.ts";

// --- Walnats-Reply --------------------------------------------------------

test("a reply goes only to a valid subject under the inbox prefix", () => {
  const refused = [
    "$JS.API.STREAM.PURGE.orders",
    "$JS.API.STREAM.DELETE.orders",
    ">",
    "*",
    "_INBOX.>",
    "_INBOX.*",
    "_INBOX.a.*.b",
    "_INBOX.a b",
    "_INBOX.a\tb",
    "_INBOX..a",
    "_INBOX.a.",
    "_INBOX.",
    "_INBOX",
    "_INBOXES.a",
    "",
    `_INBOX.${"a".repeat(MAX_REPLY_LENGTH)}`,
    "orders",
  ];
  for (const subject of refused) {
    assert.equal(
      typeof refuseReply(subject, "_INBOX"),
      "string",
      `${JSON.stringify(subject)} must be refused`,
    );
  }
  assert.equal(
    refuseReply("_INBOX.6iOHL1oRZ5VxBomWkK3y2x", "_INBOX"),
    undefined,
  );
  assert.equal(refuseReply("_INBOX.abc.def", "_INBOX"), undefined);
  assert.equal(refuseReply("svc.inbox.abc", "svc.inbox"), undefined);
  assert.match(
    refuseReply("_INBOX.abc", "svc.inbox") ?? "",
    /not under the connection's inbox prefix "svc\.inbox\."/,
  );
});

test("refused replies are warned about at most once per period, with a count", () => {
  const timers = new FakeTimers(1_000_000);
  const logger = new MemoryLogger();
  const nc = {
    options: { inboxPrefix: "svc.inbox" },
  } as unknown as NatsConnection;
  const guard = new ReplyGuard(nc, logger, timers);
  assert.equal(guard.check("svc.inbox.x1", "a", 1), "svc.inbox.x1");
  for (let i = 0; i < 1000; i++) {
    assert.equal(guard.check(`$JS.API.STREAM.PURGE.s${i}`, "a", i), undefined);
  }
  assert.equal(guard.check("_INBOX.python", "a", 2), undefined);
  const warned = logger.find(/reply refused/);
  assert.equal(warned.length, 1, "a flood gives one warning");
  assert.equal(warned[0]!.fields!.subject, "$JS.API.STREAM.PURGE.s0");
  timers.jump(REPLY_WARNING_PERIOD);
  guard.check(`x${"y".repeat(10_000)}`, "a", 3);
  const again = logger.find(/reply refused/);
  assert.equal(again.length, 2);
  assert.equal(again[1]!.fields!.alsoRefusedSinceLastWarning, 1000);
  assert.ok(
    (again[1]!.fields!.subject as string).length < 200,
    "a huge subject is cut in the log",
  );
});

test("a forged Walnats-Reply is not answered: the JetStream API is not called, the job still runs", async () => {
  await using server = await NatsServer.start();
  const ASK = new Event("ask", Num).withResponse(
    v.object({ twice: v.number() }),
  );
  const VICTIM = new Event("victim", Num);
  const seen: number[] = [];
  const ANSWER = new Actor("answer", ASK, ({ n }) => {
    seen.push(n);
    return { twice: 2 * n };
  });
  await using app = await connectActors(server, ANSWER);
  // Another application's stream, kept by limits.
  await using victims = await new Events(VICTIM).connect(server.url);
  const victimJsm = await jetstreamManager(victims.nc);
  await victimJsm.streams.add({ name: "victim", subjects: ["victim"] });
  for (let n = 0; n < 3; n++) await victims.emit(VICTIM, { n });

  const nc = await rawConnect(server);
  try {
    const js = jetstream(nc);
    const inbox = "_INBOX.hostile-test-reply";
    const replies: Msg[] = [];
    const sub = nc.subscribe(inbox, {
      callback: (_e, m) => void replies.push(m),
    });
    // A JetStream API listener: nothing may be requested by the actor.
    const api: string[] = [];
    const apiSub = nc.subscribe("$JS.API.STREAM.>", {
      callback: (_e, m) => void api.push(m.subject),
    });
    await nc.flush();
    const forged = [
      "$JS.API.STREAM.PURGE.victim",
      "$JS.API.STREAM.DELETE.victim",
      ">",
      "*",
      "",
      `_INBOX.${"x".repeat(5000)}`,
      "_INBOX.a b",
    ];
    for (const [i, subject] of forged.entries()) {
      const h = natsHeaders();
      h.set("Walnats-Reply", subject);
      await js.publish("ask", json({ n: i }), { headers: h });
    }
    const h = natsHeaders();
    h.set("Walnats-Reply", inbox);
    await js.publish("ask", json({ n: 100 }), { headers: h });

    const logger = new MemoryLogger();
    await using _ = listenInBackground(app.sub, { logger, pollDelay: 500 });
    await waitFor(() => replies.length === 1, {
      timeout: 20_000,
      what: "the reply to the valid inbox",
    });
    const info = await settled(nc, "ask", "answer");
    assert.equal(info.num_redelivered, 0);
    assert.equal(info.delivered.stream_seq, forged.length + 1);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 100],
      "every job ran",
    );
    assert.deepEqual(JSON.parse(new TextDecoder().decode(replies[0]!.data)), {
      twice: 200,
    });
    const jsm = await jetstreamManager(nc);
    assert.equal(
      (await jsm.streams.info("victim")).state.messages,
      3,
      "the other stream keeps its messages",
    );
    await nc.flush();
    assert.deepEqual(
      api.filter((s) => !s.startsWith("$JS.API.STREAM.INFO")),
      [],
      "the actor sent nothing to the stream API",
    );
    const warned = logger.find(/reply refused/);
    assert.equal(warned.length, 1, "one warning for the flood of forgeries");
    assert.ok(
      forged.some((s) => (warned[0]!.fields!.subject as string) === s) ||
        (warned[0]!.fields!.subject as string).startsWith("_INBOX.xxx"),
      "the warning names the refused subject",
    );
    sub.unsubscribe();
    apiSub.unsubscribe();
  } finally {
    await nc.close();
  }
});

test("a subscriber with its own inbox prefix answers only under it", async () => {
  await using server = await NatsServer.start();
  const ASK = new Event("ask-prefixed", Num).withResponse(Num);
  const ECHO = new Actor("echo", ASK, (m) => m);
  await using pub = await new Events(ASK).connect({
    servers: server.url,
    inboxPrefix: "svc.inbox",
  });
  await pub.register();
  await using sub = await new Actors(ECHO).connect({
    servers: server.url,
    inboxPrefix: "svc.inbox",
  });
  await sub.register();
  await using _ = listenInBackground(sub, { pollDelay: 500 });
  assert.deepEqual(
    await pub.request(ASK, { n: 7 }, { timeout: 15_000 }),
    { n: 7 },
  );
});
// --- Bad input from a raw publisher -----------------------------------------

test("bad input among good messages: the listener keeps running, poison is dead-lettered once, nothing loops", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("hostile", Num);
  const handled: number[] = [];
  const traces: (string | undefined)[] = [];
  const A = new Actor("hostile-worker", EV, ({ n }, ctx) => {
    handled.push(n);
    traces.push(ctx.traceId);
  });
  await using app = await connectActors(server, A);
  const nc = await rawConnect(server);
  try {
    const js = jetstream(nc);
    const send = async (
      data: Uint8Array | string,
      hdrs: Record<string, string> = {},
    ) => {
      const h = natsHeaders();
      for (const [k, val] of Object.entries(hdrs)) h.set(k, val);
      await js.publish(
        "hostile",
        data,
        Object.keys(hdrs).length > 0 ? { headers: h } : undefined,
      );
    };
    const poison: string[] = [];
    const bad = async (
      what: string,
      data: Uint8Array | string,
      hdrs?: Record<string, string>,
    ) => {
      poison.push(what);
      await send(data, hdrs);
    };
    await send(json({ n: 1 }));
    await bad("not JSON", "{not json");
    await bad("wrong shape", json({ n: "one" }));
    await bad("empty", new Uint8Array(0));
    await bad("binary", new Uint8Array([0xff, 0xfe, 0x00, 0x01]));
    await send(json({ n: 2 }));
    for (
      const delay of ["abc", "NaN", "Infinity", "1e400", "9".repeat(20_000)]
    ) {
      await bad(`delay ${delay.slice(0, 10)}`, json({ n: -1 }), {
        "Walnats-Delay": delay,
      });
    }
    await send(json({ n: 3 }), { "Walnats-Delay": "-5" });
    await send(json({ n: 4 }), { "Nats-Msg-Id": "i".repeat(2000) });
    await send(json({ n: 5 }), {
      [DLQ_HEADERS.reason]: "forged",
      [DLQ_HEADERS.truncated]: "1",
      [DLQ_HEADERS.stream]: "victim",
      "Walnats-Reply": "$JS.API.STREAM.PURGE.hostile",
      "Walnats-Trace": "t".repeat(4000),
    });
    await bad("poison with forged story", "][", {
      [DLQ_HEADERS.event]: "forged",
      [DLQ_HEADERS.truncated]: "999",
      "Nats-Msg-Id": "j".repeat(2000),
    });
    await send(json({ n: 6 }));
    const total = 6 + poison.length;

    await using _ = listenInBackground(app.sub, {
      pollDelay: 500,
      logger: silentLogger,
    });
    const info = await settled(nc, "hostile", "hostile-worker", {
      timeout: 60_000,
    });
    assert.deepEqual(handled.sort(), [1, 2, 3, 4, 5, 6]);
    assert.equal(traces.filter((t) => t?.length === 4000).length, 1);
    assert.equal(info.delivered.consumer_seq, total, "each delivered once");
    assert.equal(info.num_redelivered, 0);
    const letters = await app.sub.deadLetters(A);
    assert.equal(letters.length, poison.length, "each poison once");
    for (const letter of letters) {
      assert.equal(letter.reason, "poison");
      assert.equal(letter.truncated, false);
      assert.equal(letter.stream, "hostile");
      assert.equal(letter.event, "hostile");
    }
    const forged = letters.find((l) => l.data.length === 2)!;
    assert.equal(forged.headers["Nats-Msg-Id"], "j".repeat(2000));
    assert.equal(forged.headers[DLQ_HEADERS.truncated], undefined);
    // Still running: a message sent now is handled.
    await send(json({ n: 7 }));
    await waitFor(() => handled.includes(7), { what: "a later message" });
    // And nothing comes back later.
    await new Promise((r) => setTimeout(r, 1000));
    const later = await consumerInfo(nc, "hostile", "hostile-worker");
    assert.equal(later.delivered.consumer_seq, total + 1);
    assert.equal(later.num_redelivered, 0);
  } finally {
    await nc.close();
  }
});
