// Mixed fleets with Python walnats 1.2.6, part 2: clock ticks, replies,
// codecs and names, against the bytes recorded in tests/fixtures/python/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createDecipheriv, createHmac } from "node:crypto";
import * as v from "valibot";
import { jetstream } from "@nats-io/jetstream";
import {
  createInbox,
  headers as natsHeaders,
  type MsgHdrs,
} from "@nats-io/nats-core";
import { Actor, Clock, DecodeError, Event, Events, tickCodec } from "../mod.ts";
import { fernet, gzip, hmac, json } from "../src/codecs/mod.ts";
import { openToken, parseFernetKey, sealToken } from "../src/codecs/_fernet.ts";
import { replyHeaders } from "../src/headers.ts";
import {
  connectActors,
  listenInBackground,
  NatsServer,
  rawConnect,
  waitFor,
} from "./_helpers.ts";
import {
  fixture,
  fromBase64,
  headersOf,
  recorded,
  utf8,
} from "./_python_fixtures.ts";

// ---------------------------------------------------------------- clock

test("Python ticks are naive local time: read in the clock's zone, they are exact", async () => {
  for (
    const [zone, codec] of [
      ["Europe/Berlin", tickCodec("t", { timeZone: "Europe/Berlin" })],
      ["UTC", tickCodec("t")],
    ] as const
  ) {
    const m = recorded("clock.json", `tick-tz-${zone}`);
    const tick = (await codec.decode(fromBase64(m.payload))).getTime() / 1000;
    const [before, after] = m.emittedBetween!;
    assert.ok(
      tick >= before - 0.01 && tick <= after + 0.01,
      `${zone}: ${tick}`,
    );
    assert.match(m.headers[0]![1], /^0\.\d+$/, "uid: the sub-period remainder");
  }
  // Read as UTC (the default), a Berlin tick is an hour late.
  const berlin = recorded("clock.json", "tick-tz-Europe/Berlin");
  const asUtc = (await tickCodec().decode(fromBase64(berlin.payload)))
    .getTime();
  assert.ok(Math.abs(asUtc / 1000 - berlin.emittedBetween![0] - 3600) < 2);
  assert.throws(() => tickCodec("t", { timeZone: "Mars/Olympus" }), RangeError);
});

test("a Python clock and ours on one event both store the tick: their ids never match", async () => {
  await using server = await NatsServer.start();
  const TICK = new Event("py-tick-utc", tickCodec("py-tick-utc"));
  const ticks: Date[] = [];
  const ids: string[] = [];
  await using c = await connectActors(
    server,
    new Actor("ts-tick", TICK, (at, ctx) => {
      ticks.push(at);
      ids.push(ctx.headers["Nats-Msg-Id"] ?? "");
    }),
  );
  const m = recorded("clock.json", "tick-tz-UTC");
  const raw = await rawConnect(server);
  await jetstream(raw).publish(TICK.subject, fromBase64(m.payload), {
    headers: headersOf(m),
  });
  await raw.close();
  const report = await new Clock({ event: TICK, period: 1000 }).run(c.pub, {
    burst: true,
  });
  assert.equal(report.emitted, 1);
  await using _ = listenInBackground(c.sub);
  await waitFor(() => ticks.length === 2, { what: "both ticks handled" });
  // Python's id is a float remainder, ours the tick's index: JetStream
  // de-duplicates neither against the other.
  assert.match(ids[0]!, /^0\.\d+$/);
  assert.match(ids[1]!, /^py-tick-utc:\d+$/);
  // Python's tick reads back as the instant it was sent.
  assert.ok(
    Math.abs(ticks[0]!.getTime() / 1000 - m.emittedBetween![0]) < 1.5,
  );
});

// ---------------------------------------------------------------- replies

test("our actor's reply copies the request's headers, as Python's does, without Nats-* ones", async () => {
  await using server = await NatsServer.start();
  const GET = new Event("py-get-user", v.object({ id: v.number() }))
    .withResponse(v.object({ id: v.number(), name: v.string() }));
  await using c = await connectActors(
    server,
    new Actor("ts-get-user", GET, ({ id }) => ({ id, name: "Ann" })),
  );
  const raw = await rawConnect(server);
  const inbox = createInbox();
  const sub = raw.subscribe(inbox, { max: 1 });
  // The request as another client sent it in the recording, replied to
  // here (Python's actor copied exactly these headers into its reply).
  const python = recorded("reply.json", "reply");
  const request = headersOf(python, { "Walnats-Reply": inbox });
  await jetstream(raw).publish(
    GET.subject,
    new TextEncoder().encode('{"id":9}'),
    {
      headers: request,
    },
  );
  await using _ = listenInBackground(c.sub);
  let reply: { data: Uint8Array; headers?: MsgHdrs } | undefined;
  for await (const msg of sub) reply = msg;
  assert.ok(reply);
  assert.deepEqual(JSON.parse(utf8.decode(reply.data)), { id: 9, name: "Ann" });
  const keys = reply.headers?.keys() ?? [];
  assert.deepEqual(keys, ["Walnats-Trace", "traceparent", "ce-id", "X-Tenant"]);
  assert.equal(reply.headers?.get("X-Tenant"), "acme");
  // Python's reply had these too; ours drops what means something to the
  // server or to walnats.
  assert.deepEqual(
    python.headers.map(([k]) => k).filter((k) => !keys.includes(k)),
    ["Nats-Msg-Id", "Walnats-Reply"],
  );
  await raw.close();
});

test("request() takes a reply carrying Python's copied headers", async () => {
  await using server = await NatsServer.start();
  const GET = new Event("py-get-user", v.object({ id: v.number() }))
    .withResponse(v.object({ id: v.number(), name: v.string() }));
  await using pub = await new Events(GET).connect(server.url);
  await pub.register();
  const raw = await rawConnect(server);
  const python = recorded("reply.json", "reply");
  raw.subscribe(GET.subject, {
    callback: (_err, msg) => {
      const inbox = msg.headers?.get("Walnats-Reply") ?? "";
      raw.publish(inbox, fromBase64(python.payload), {
        headers: headersOf(python, { "Walnats-Reply": inbox }),
      });
    },
  });
  await raw.flush();
  assert.deepEqual(await pub.request(GET, { id: 9 }), { id: 9, name: "Ann" });
  // The request carries Walnats-Reply as Python's request() does.
  const req = recorded("reply.json", "request");
  assert.deepEqual(req.headers.map(([k]) => k), [
    "Nats-Msg-Id",
    "Walnats-Trace",
    "Walnats-Reply",
  ]);
  await raw.close();
});

test("replyHeaders() drops Nats-* headers and gives up rather than overflow", () => {
  const h = natsHeaders();
  h.set("Nats-Msg-Id", "1");
  h.set("nats-expected-stream", "x");
  h.set("Walnats-Reply", "_INBOX.x");
  h.set("Walnats-Delay", "1.5");
  h.set("Walnats-Trace", "t");
  h.append("X-Multi", "a");
  h.append("X-Multi", "b");
  const out = replyHeaders(h)!;
  assert.deepEqual(out.keys(), ["Walnats-Trace", "X-Multi"]);
  assert.deepEqual(out.values("X-Multi"), ["a", "b"]);
  assert.equal(replyHeaders(h, 20), undefined);
  assert.equal(replyHeaders(undefined), undefined);
  const only = natsHeaders();
  only.set("Nats-Msg-Id", "1");
  assert.equal(replyHeaders(only), undefined);
});

// ---------------------------------------------------------------- codecs

const Note = v.object({ id: v.number(), note: v.string() });
const keys = fixture("codecs.json").keys as { hmac: string; fernet: string };

test("HMAC: Python's SHA-512 default needs hash: SHA-512; the layout is the same", async () => {
  const sha512 = fromBase64(recorded("codecs.json", "hmac-sha512").payload);
  const python = hmac(json(Note), keys.hmac, { hash: "SHA-512" });
  assert.deepEqual(await python.decode(sha512), { id: 1, note: "signé" });
  await assert.rejects(
    async () => await hmac(json(Note), keys.hmac).decode(sha512),
    DecodeError,
    "our default (SHA-256) refuses Python's default",
  );
  const sha256 = fromBase64(recorded("codecs.json", "hmac-sha256").payload);
  assert.deepEqual(await hmac(json(Note), keys.hmac).decode(sha256), {
    id: 1,
    note: "signé",
  });
  // What HMACSerializer.decode checks: digest (64 bytes) then the data.
  const ours = await python.encode({ id: 1, note: "signé" });
  const body = ours.subarray(64);
  const expected = createHmac("sha512", keys.hmac).update(body).digest();
  assert.deepEqual([...ours.subarray(0, 64)], [...expected]);
});

test("Fernet: Python's token decrypts, ours follows the spec byte for byte", async () => {
  const token = fromBase64(recorded("codecs.json", "fernet").payload);
  const codec = fernet(json(Note), keys.fernet);
  assert.deepEqual(await codec.decode(token), { id: 1, note: "signé" });
  // The reference vector of github.com/fernet/spec (generate.json).
  const k = parseFernetKey(keys.fernet, "x", "key");
  const sealed = await sealToken(k, new TextEncoder().encode("hello"), {
    iv: Uint8Array.from({ length: 16 }, (_, i) => i),
    now: Date.parse("1985-10-26T01:20:00-07:00"),
  });
  assert.equal(
    utf8.decode(sealed),
    "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==",
  );
  // What cryptography's Fernet.decrypt does, with node:crypto.
  const ours = await codec.encode({ id: 2, note: "x" });
  const raw = Buffer.from(utf8.decode(ours), "base64url");
  assert.equal(raw[0], 0x80);
  const rawKey = Buffer.from(keys.fernet, "base64url");
  const mac = createHmac("sha256", rawKey.subarray(0, 16))
    .update(raw.subarray(0, raw.length - 32)).digest();
  assert.deepEqual([...mac], [...raw.subarray(raw.length - 32)]);
  const decipher = createDecipheriv(
    "aes-128-cbc",
    rawKey.subarray(16),
    raw.subarray(9, 25),
  );
  const plain = Buffer.concat([
    decipher.update(raw.subarray(25, raw.length - 32)),
    decipher.final(),
  ]);
  assert.equal(plain.toString(), '{"id":2,"note":"x"}');
  assert.match(utf8.decode(ours), /^[A-Za-z0-9_-]+=*$/);
});

test("Fernet refuses the spec's invalid tokens and hostile input", async () => {
  const k = parseFernetKey(keys.fernet, "x", "key");
  const now = Date.parse("1985-10-26T01:20:01-07:00");
  const invalid: [string, string][] = [
    [
      "incorrect mac",
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==",
    ],
    ["too short", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA=="],
    [
      "invalid base64",
      "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
    ],
    [
      "not a block multiple",
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm",
    ],
    [
      "padding",
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==",
    ],
    [
      "far future",
      "gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==",
    ],
    [
      "incorrect IV",
      "gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==",
    ],
  ];
  for (const [desc, token] of invalid) {
    const out = await openToken([k], new TextEncoder().encode(token), {
      now,
      ttl: 60_000,
    });
    assert.equal(typeof out, "string", desc);
  }
  const expired = await openToken(
    [k],
    new TextEncoder().encode(
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
    ),
    { now: Date.parse("1985-10-26T01:21:31-07:00"), ttl: 60_000 },
  );
  assert.match(String(expired), /expired/);
  const codec = fernet(json(Note), keys.fernet);
  await assert.rejects(
    async () => await codec.decode(new Uint8Array([0xff])),
    DecodeError,
  );
  await assert.rejects(
    async () =>
      await fernet(json(Note), "A".repeat(43) + "=").decode(
        fromBase64(recorded("codecs.json", "fernet").payload),
      ),
    /MAC does not match/,
  );
  const rotated = fernet(json(Note), "A".repeat(43) + "=", {
    previousKeys: [keys.fernet],
  });
  assert.deepEqual(
    await rotated.decode(fromBase64(recorded("codecs.json", "fernet").payload)),
    { id: 1, note: "signé" },
  );
  assert.throws(() => fernet(json(Note), "c2hvcnQ="), RangeError);
  assert.throws(() => fernet(json(Note), "not base64!"), TypeError);
  assert.throws(() => fernet(json(Note), keys.fernet, { ttl: 0 }), RangeError);
});

test("gzip: Python's GZipSerializer output decodes", async () => {
  assert.deepEqual(
    await gzip(json(Note)).decode(
      fromBase64(recorded("codecs.json", "gzip").payload),
    ),
    { id: 1, note: "signé" },
  );
});

// ---------------------------------------------------------------- names

test("pythonNames: the names Python walnats' linter accepts, and the same stream names", () => {
  const names = fixture("names.json").names as {
    name: string;
    event: number[];
    streamName: string;
  }[];
  for (const { name, event, streamName } of names) {
    const pythonOk = event.length === 0;
    let made: Event<unknown> | undefined;
    try {
      made = new Event(name, v.unknown(), { pythonNames: true });
    } catch (error) {
      assert.ok(error instanceof TypeError, name);
    }
    assert.equal(made !== undefined, pythonOk, name);
    if (made) {
      assert.equal(made.stream, streamName);
      const actor = new Actor(name, made, () => {}, { pythonNames: true });
      assert.equal(actor.name, name);
    }
  }
  assert.throws(
    () => new Event("user--created", v.unknown()),
    /kebab-case/,
    "our default rules refuse a double dash",
  );
  assert.throws(
    () => new Event("billing.paid", v.unknown(), { pythonNames: true }),
    /WNS003/,
  );
  // Dots are fine for us by default, and Python accepts them at run time.
  assert.equal(new Event("billing.paid", v.unknown()).stream, "billing-paid");
});
