// Hostile and mistaken input: what a raw nats.js publisher (or a careless
// caller) can put on the wire or in options, and what the engine refuses.
// Every wire test runs a real nats-server and checks the consumer's own
// counts: nothing is redelivered in a loop, poison is dead-lettered once.
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
  PayloadTooLargeError,
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
  DEAD_LETTER_HEADROOM,
  DLQ_ERROR_BYTES,
  DLQ_STACK_BYTES,
  MAX_DELAY_MS,
  MAX_NAK_DELAY_MS,
  MAX_TIMEOUT_MS,
  nakDelayNanos,
  truncateUtf8,
} from "../src/_bounds.ts";
import { judgeDelay } from "../src/listen/_delay.ts";
import {
  MAX_REPLY_LENGTH,
  refuseReply,
  REPLY_WARNING_PERIOD,
  ReplyGuard,
} from "../src/listen/_reply.ts";
import { JobMessage, parseAckSubject } from "../src/listen/_jsmsg.ts";
import { deadLetterCopy } from "../src/_dead_letter_copy.ts";
import { toDeadLetter } from "../src/dead_letter.ts";
import { buildHeaders, headerSize } from "../src/publish/_wire.ts";
import type { NatsConnection } from "@nats-io/nats-core";

const Num = v.object({ n: v.number() });
const encoder = new TextEncoder();
const YEAR_3000 = String(Date.parse("3000-01-01T00:00:00Z") / 1000);
const DAY = 86_400_000;

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function bytes(text: string): number {
  return encoder.encode(text).length;
}

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

// --- Delays ---------------------------------------------------------------

test("nats-server's nak delay range: integer nanoseconds within int64, clamped", () => {
  assert.equal(nakDelayNanos(0), 0);
  assert.equal(nakDelayNanos(-5), 0);
  assert.equal(nakDelayNanos(Number.NaN), 0);
  assert.equal(nakDelayNanos(1.5), 1_500_000);
  assert.equal(nakDelayNanos(0.0000001), 0, "rounded, never a float");
  const max = MAX_NAK_DELAY_MS * 1_000_000;
  assert.equal(nakDelayNanos(Infinity), max);
  assert.equal(nakDelayNanos(1000 * 365 * DAY), max);
  assert.ok(max < 2 ** 63, "inside a Go time.Duration");
  assert.ok(Number.isInteger(max) && !String(max).includes("e"));
});

test("JobMessage.nak never sends a delay nats-server would misread", () => {
  const sent: string[] = [];
  const meta = parseAckSubject("$JS.ACK.s.c.1.1.1.1700000000000000000.0")!;
  const nak = (delay: number): string => {
    const msg = {
      respond: (data: Uint8Array) => {
        sent.push(new TextDecoder().decode(data));
        return true;
      },
    } as unknown as Msg;
    new JobMessage(msg, meta).nak(delay);
    return sent.at(-1)!;
  };
  for (const delay of [1e13, 1e300, Infinity, 1000 * 365 * DAY]) {
    const text = nak(delay);
    const m = /^-NAK \{"delay":(\d+)\}$/.exec(text);
    assert.ok(m, `an integer delay for ${delay}: ${text}`);
    assert.equal(Number(m[1]), MAX_NAK_DELAY_MS * 1_000_000);
  }
  assert.equal(nak(Number.NaN), "-NAK");
  assert.equal(nak(-1), "-NAK");
  assert.equal(nak(250), '-NAK {"delay":250000000}');
});

test("Walnats-Delay headers: malformed or too far ahead is poison, the past runs now", () => {
  const now = Date.parse("2030-06-01T00:00:00Z");
  const stored = now - 10;
  const kind = (header: string, maxAge?: number) =>
    judgeDelay(header, now, stored, maxAge).kind;
  for (
    const header of [
      "abc",
      "NaN",
      "Infinity",
      "-Infinity",
      "1e400",
      "0x10",
      "1,5",
      " ",
      "1 2",
      "9".repeat(100_000),
      YEAR_3000,
      String(now / 1000 + 367 * 86_400),
    ]
  ) {
    assert.equal(kind(header), "poison", header.slice(0, 40));
  }
  assert.equal(kind(""), "run", "empty: no delay");
  assert.equal(kind("-5"), "run", "before the epoch: due");
  assert.equal(kind("0"), "run");
  assert.equal(kind(String(now / 1000 - 60)), "run");
  assert.equal(kind(String(now / 1000 + 60)), "wait");
  assert.equal(kind(`${now / 1e12}e3`), "run", "an exponent is a number");
  const wait = judgeDelay(String(now / 1000 + 30), now, stored, undefined);
  assert.deepEqual(wait, { kind: "wait", ms: 30_000 });
  // Past the stream's maxAge the message would expire before it is due.
  assert.equal(kind(String(now / 1000 + 3600), 60_000), "poison");
  assert.equal(kind(String(now / 1000 + 30), 60_000), "wait");
  const verdict = judgeDelay("9".repeat(100_000), now, stored, undefined);
  assert.ok(verdict.kind === "poison");
  assert.ok(verdict.error.message.length < 200, "a huge header is cut");
});

test("delays and timeouts beyond the documented maximum are a RangeError at construction and emit", async () => {
  const EV = new Event("bounded", Num);
  const SHORT = new Event("short-lived", Num, { limits: { maxAge: 60_000 } });
  const make = (options: Record<string, unknown>, event = EV) => () =>
    new Actor("a", event, () => {}, options);
  assert.throws(make({ retryDelay: [500, 1000 * 365 * DAY] }), {
    name: "RangeError",
    message:
      /retryDelay\[1\] must be at most 31536000000 milliseconds \(365 days\)/,
  });
  assert.throws(make({ retryDelay: [Infinity] }), RangeError);
  assert.throws(make({ retryDelay: [MAX_DELAY_MS + 1] }), RangeError);
  new Actor("a", EV, () => {}, { retryDelay: [MAX_DELAY_MS] });
  assert.throws(make({ retryDelay: [60_000] }, SHORT), {
    name: "RangeError",
    message: /shorter than the event's maxAge/,
  });
  assert.throws(make({ ackWait: MAX_TIMEOUT_MS + 1 }), {
    name: "RangeError",
    message: /ackWait must be at most 2147483647/,
  });
  assert.throws(make({ jobTimeout: 1000 * 365 * DAY }), {
    name: "RangeError",
    message: /jobTimeout must be at most/,
  });
  new Actor("a", EV, () => {}, {
    ackWait: MAX_TIMEOUT_MS,
    jobTimeout: MAX_TIMEOUT_MS,
  });

  const now = Date.now();
  assert.throws(() => buildHeaders("bounded", { delay: 1000 * 365 * DAY }), {
    name: "RangeError",
    message: /Cannot emit event "bounded": delay must be at most/,
  });
  assert.equal(
    buildHeaders("bounded", { delay: MAX_DELAY_MS }, {}, now)!.get(
      "Walnats-Delay",
    ),
    String((now + MAX_DELAY_MS) / 1000),
  );

  await using server = await NatsServer.start();
  await using pub = await new Events(EV, SHORT).connect(server.url);
  await pub.register();
  await assert.rejects(pub.emit(EV, { n: 1 }, { delay: 1000 * 365 * DAY }), {
    name: "RangeError",
  });
  await assert.rejects(pub.emit(SHORT, { n: 1 }, { delay: 60_000 }), {
    name: "RangeError",
    message: /expires before it is due/,
  });
  assert.equal(
    (await pub.emit(SHORT, { n: 1 }, { delay: 1000 })).sequence,
    1,
    "the first message stored is the valid one",
  );
  const jsm = await jetstreamManager(pub.nc);
  assert.equal((await jsm.streams.info("bounded")).state.last_seq, 0);
});

test("a nak of a thousand years is clamped on a real server: no redelivery loop", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("clamped", Num);
  await using app = await connectActors(
    server,
    new Actor("clamp", EV, () => {}),
  );
  await app.pub.emit(EV, { n: 1 });
  const nc = app.pub.nc;
  const data: Msg[] = [];
  let expired = 0;
  const inbox = "_INBOX.clamp-test";
  const sub = nc.subscribe(inbox, {
    callback: (_e, m) => {
      if (m.headers?.code) expired++;
      else data.push(m);
    },
  });
  const pull = (expires: number) =>
    nc.publish(
      "$JS.API.CONSUMER.MSG.NEXT.clamped.clamp",
      JSON.stringify({ batch: 10, expires: expires * 1_000_000 }),
      { reply: inbox },
    );
  pull(10_000);
  await waitFor(() => data.length === 1, { what: "the first delivery" });
  const got = data[0]!;
  new JobMessage(got, parseAckSubject(got.reply!)!).nak(1000 * 365 * DAY);
  // Unclamped, nats-server would redeliver at once, about a thousand
  // times a second; ask for more and see that nothing comes.
  pull(1500);
  await waitFor(() => expired >= 1, {
    timeout: 20_000,
    what: "the pull requests to expire",
  });
  sub.unsubscribe();
  assert.equal(data.length, 1, "no redelivery");
  const info = await consumerInfo(nc, "clamped", "clamp");
  assert.equal(info.delivered.consumer_seq, 1);
  assert.equal(info.num_redelivered, 0);
  assert.equal(info.num_ack_pending, 1, "still held, for a year");
});

test("a Walnats-Delay of year 3000 is dead-lettered once, without a redelivery loop", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("far-future", Num);
  const ran: number[] = [];
  const A = new Actor("far-worker", EV, ({ n }) => {
    ran.push(n);
  });
  await using app = await connectActors(server, A);
  const nc = await rawConnect(server);
  try {
    const js = jetstream(nc);
    await js.publish("far-future", json({ n: 1 }));
    const h = natsHeaders();
    h.set("Walnats-Delay", YEAR_3000);
    await js.publish("far-future", json({ n: 2 }), { headers: h });
    await js.publish("far-future", json({ n: 3 }));
    await using _ = listenInBackground(app.sub, {
      pollDelay: 500,
      logger: silentLogger,
    });
    const info = await settled(nc, "far-future", "far-worker");
    const letters = await app.sub.deadLetters(A);
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.reason, "poison");
    assert.match(
      letters[0]!.error,
      /RangeError: Walnats-Delay "32503680000" is \d+ days ahead/,
    );
    assert.equal(letters[0]!.headers["Walnats-Delay"], YEAR_3000);
    assert.deepEqual(ran.sort(), [1, 3]);
    assert.equal(info.delivered.consumer_seq, 3, "each delivered once");
    assert.equal(info.num_redelivered, 0);
  } finally {
    await nc.close();
  }
});

// --- Dead letters near max_payload -----------------------------------------

test("a dead letter's diagnostics are bounded and its overhead fits the headroom", () => {
  const name64 = `${"e".repeat(62)}-x`.slice(0, 64);
  const actor64 = `${"a".repeat(62)}-y`.slice(0, 64);
  const huge = new Error(`boom\r\n${"é".repeat(200_000)}`);
  huge.stack = `Error: boom\n${"    at frame (file.ts:1:1)\n".repeat(50_000)}`;
  const original = natsHeaders();
  original.set("Nats-Msg-Id", "id-1");
  original.set(DLQ_HEADERS.event, "forged");
  original.set(DLQ_HEADERS.truncated, "forged");
  const story = {
    event: name64,
    stream: name64,
    actor: actor64,
    reason: "exhausted",
    attempts: Number.MAX_SAFE_INTEGER,
    error: huge,
    sequence: Number.MAX_SAFE_INTEGER,
    subject: name64,
  };
  const data = new Uint8Array(100);
  const copy = deadLetterCopy(story, data, original, 1024 * 1024);
  assert.equal(copy.truncated, false);
  const overhead = headerSize(copy.headers) - headerSize(original);
  assert.ok(
    overhead <= DEAD_LETTER_HEADROOM,
    `overhead ${overhead} <= ${DEAD_LETTER_HEADROOM}`,
  );
  // Without any original headers the preamble counts too.
  const bare = deadLetterCopy(story, data, undefined, 1024 * 1024);
  assert.ok(headerSize(bare.headers) <= DEAD_LETTER_HEADROOM);
  assert.ok(bytes(copy.headers.get(DLQ_HEADERS.error)) <= DLQ_ERROR_BYTES);
  assert.ok(bytes(copy.headers.get(DLQ_HEADERS.stack)) <= DLQ_STACK_BYTES);
  assert.equal(copy.headers.get(DLQ_HEADERS.event), name64, "forgery replaced");
  assert.equal(copy.headers.has(DLQ_HEADERS.truncated), false);
  const letter = toDeadLetter(1, copy.headers, copy.data);
  assert.match(letter.error, /^Error: boom\r\néé/, "read back unquoted");
  assert.ok(letter.error.endsWith("…"));
  assert.equal(letter.headers["Nats-Msg-Id"], "id-1");
  assert.equal(letter.truncated, false);

  // Too large to copy: the story alone, pointing at the original.
  const big = new Uint8Array(1024 * 1024 - 50);
  const alone = deadLetterCopy(story, big, original, 1024 * 1024);
  assert.equal(alone.truncated, true);
  assert.equal(alone.data.length, 0);
  assert.equal(
    alone.headers.get(DLQ_HEADERS.truncated),
    String(big.length + headerSize(original)),
  );
  assert.equal(toDeadLetter(2, alone.headers, alone.data).truncated, true);
  assert.equal(truncateUtf8("ab😀cd", 7), "ab…");
  assert.equal(truncateUtf8("abc", 3), "abc");
});

/** A server with the default max_payload and an actor that always fails. */
async function failingForGood(event: string, server: NatsServer) {
  const BLOB = new Event(event, v.object({ blob: v.string() }));
  let fixed = false;
  const handled: number[] = [];
  const A = new Actor(`${event}-worker`, BLOB, ({ blob }) => {
    if (!fixed) {
      const error = new Error(`cannot handle ${"it ".repeat(100_000)}`);
      throw error;
    }
    handled.push(blob.length);
  }, { maxAttempts: 2, retryDelay: [50], ackWait: 4000 });
  const app = await connectActors(server, A);
  return {
    BLOB,
    A,
    app,
    handled,
    fix: () => (fixed = true),
  };
}

test("emit keeps headroom under max_payload, and its largest message is dead-lettered whole", async () => {
  await using server = await NatsServer.start();
  const { BLOB, A, app } = await failingForGood("largest", server);
  await using _app = app;
  const maxPayload = app.pub.nc.info!.max_payload;
  const limit = maxPayload - DEAD_LETTER_HEADROOM;
  const frame = bytes(JSON.stringify({ blob: "" }));
  // Every acknowledged emit carries a generated Nats-Msg-Id (a 22-character
  // nuid): its header block counts against the limit too.
  const id = bytes(`NATS/1.0\r\nNats-Msg-Id: ${"x".repeat(22)}\r\n\r\n`);
  await assert.rejects(
    app.pub.emit(BLOB, { blob: "x".repeat(limit - frame - id + 1) }),
    (error: PayloadTooLargeError) => {
      assert.ok(error instanceof PayloadTooLargeError);
      assert.equal(error.size, limit + 1);
      assert.equal(error.limit, limit);
      assert.match(
        error.message,
        new RegExp(
          `max_payload is ${maxPayload} bytes and 4096 are kept free so the message can always be dead-lettered`,
        ),
      );
      return true;
    },
  );
  await app.pub.emit(BLOB, { blob: "x".repeat(limit - frame - id) });
  await using _l = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  const info = await settled(app.pub.nc, "largest", "largest-worker");
  const letters = await app.sub.deadLetters(A);
  assert.equal(letters.length, 1);
  assert.equal(letters[0]!.truncated, false);
  assert.equal(
    letters[0]!.data.length,
    limit - id,
    "the payload is kept whole",
  );
  assert.ok(bytes(letters[0]!.error) <= DLQ_ERROR_BYTES + 8);
  assert.equal(info.delivered.consumer_seq, 2, "two attempts, no more");
});

test("a foreign message too large to copy is dead-lettered without its payload, kept in its stream, and replayable", async () => {
  await using server = await NatsServer.start();
  const { A, app, handled, fix } = await failingForGood("oversized", server);
  await using _app = app;
  const maxPayload = app.pub.nc.info!.max_payload;
  const nc = await rawConnect(server);
  try {
    const js = jetstream(nc);
    // Published by a raw client, bypassing emit's headroom.
    const frame = bytes(JSON.stringify({ blob: "" }));
    const h = natsHeaders();
    h.set(
      "traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    const size = maxPayload - headerSize(h) - 16;
    await js.publish("oversized", json({ blob: "y".repeat(size - frame) }), {
      headers: h,
    });
    await js.publish("oversized", json({ blob: "small" }));
    const logger = new MemoryLogger();
    const listening = listenInBackground(app.sub, { logger, pollDelay: 500 });
    const letters = await waitFor(async () => {
      const all = await app.sub.deadLetters(A);
      return all.length === 2 ? all : undefined;
    }, { timeout: 30_000, what: "two dead letters" });
    const truncated = letters.find((l) => l.truncated)!;
    const whole = letters.find((l) => !l.truncated)!;
    assert.ok(truncated && whole);
    assert.equal(truncated.data.length, 0);
    assert.equal(truncated.stream, "oversized");
    assert.equal(truncated.originalSequence, 1);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(whole.data)), {
      blob: "small",
    });
    assert.equal(
      logger.find(/without its payload/).length,
      1,
      "the fallback is logged, not silent",
    );
    // Parked: held by the consumer, not redelivered.
    const before = await consumerInfo(nc, "oversized", "oversized-worker");
    await new Promise((r) => setTimeout(r, 1500));
    const after = await consumerInfo(nc, "oversized", "oversized-worker");
    assert.equal(after.delivered.consumer_seq, before.delivered.consumer_seq);
    assert.ok(after.delivered.consumer_seq <= 4, "two attempts each");
    assert.equal(after.num_ack_pending, 1, "the original is parked");
    const jsm = await jetstreamManager(nc);
    assert.equal((await jsm.streams.info("oversized")).state.messages, 1);

    // The replay publishes the parked original and removes it.
    fix();
    assert.equal(await app.sub.replay(A, { filter: (l) => l.truncated }), 1);
    await waitFor(() => handled.length === 1, {
      timeout: 20_000,
      what: "the replayed original to be handled",
    });
    assert.equal(handled[0], size - frame);
    await settled(nc, "oversized", "oversized-worker");
    const remaining = await app.sub.deadLetters(A);
    assert.equal(remaining.length, 1);
    assert.equal(remaining[0]!.truncated, false);
    await listening.stop();
  } finally {
    await nc.close();
  }
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
