// Hostile and mistaken delays: nak delay ranges, Walnats-Delay headers,
// delays beyond the maximum, and no redelivery loops on a real server (see
// hostile.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Actor, Event, Events, silentLogger } from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  listenInBackground,
  NatsServer,
  rawConnect,
  settled,
  waitFor,
} from "./_helpers.ts";
import {
  MAX_DELAY_MS,
  MAX_NAK_DELAY_MS,
  MAX_TIMEOUT_MS,
  nakDelayNanos,
} from "../src/_bounds.ts";
import { judgeDelay } from "../src/listen/_delay.ts";
import { JobMessage, parseAckSubject } from "../src/listen/_jsmsg.ts";
import { buildHeaders } from "../src/publish/_wire.ts";
import { json, Num } from "./_hostile.ts";

const YEAR_3000 = String(Date.parse("3000-01-01T00:00:00Z") / 1000);
const DAY = 86_400_000;
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
