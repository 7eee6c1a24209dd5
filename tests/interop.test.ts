// Mixed fleets with Python walnats 1.2.6: the bytes Python sends
// (recorded from its own code into tests/fixtures/python/ by record.py) go
// through a real nats-server from a raw nats.js client, and our actors must
// handle them; what we send must be what Python reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createDecipheriv, createHmac } from "node:crypto";
import * as v from "valibot";
import { jetstream } from "@nats-io/jetstream";
import {
  createInbox,
  headers as natsHeaders,
  type MsgHdrs,
} from "@nats-io/nats-core";
import { context, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import {
  Actor,
  Clock,
  CloudEvent,
  type Context,
  DecodeError,
  Event,
  Events,
  tickCodec,
} from "../mod.ts";
import {
  bytes,
  date,
  fernet,
  gzip,
  hmac,
  json,
  text,
} from "../src/codecs/mod.ts";
import { openToken, parseFernetKey, sealToken } from "../src/codecs/_fernet.ts";
import { replyHeaders } from "../src/headers.ts";
import { otelHeaders, OtelTracing } from "../src/otel/mod.ts";
import {
  connectActors,
  listenInBackground,
  NatsServer,
  rawConnect,
  waitFor,
} from "./_helpers.ts";

interface Recorded {
  case: string;
  comment: string;
  subject: string | null;
  headers: [string, string][];
  headerBlock: string;
  payload: string;
  payloadText?: string;
  emittedBetween?: [number, number];
}

interface Fixture {
  comment: string;
  messages: Recorded[];
  [key: string]: unknown;
}

function fixture(name: string): Fixture {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/python/${name}`, import.meta.url), "utf8"),
  );
}

function recorded(file: string, name: string): Recorded {
  const found = fixture(file).messages.find((m) => m.case === name);
  assert.ok(found, `no case "${name}" in ${file}`);
  return found;
}

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** The recorded header block, as nats.js headers in the recorded order. */
function headersOf(
  m: Recorded,
  override: Record<string, string> = {},
): MsgHdrs {
  const block = new TextDecoder().decode(fromBase64(m.headerBlock));
  const lines = block.split("\r\n");
  assert.equal(lines[0], "NATS/1.0");
  const h = natsHeaders();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    const key = line.slice(0, colon);
    h.append(key, override[key] ?? line.slice(colon + 1).trimStart());
  }
  return h;
}

const utf8 = new TextDecoder();

// ---------------------------------------------------------------- payloads

test("Python walnats' default serializers' bytes decode with our codecs", async () => {
  const decode = async <T>(
    codec: { decode(b: Uint8Array): T | Promise<T> },
    name: string,
  ) => await codec.decode(fromBase64(recorded("payloads.json", name).payload));
  assert.deepEqual(
    await decode(
      json(v.object({
        id: v.number(),
        name: v.string(),
        path: v.string(),
        tab: v.string(),
        ratio: v.number(),
      })),
      "dict-non-ascii",
    ),
    { id: 1, name: "Zoë 😀", path: "a/b", tab: "\t", ratio: 1 },
  );
  // A Python `str` event is a JSON string: json(v.string()) reads it,
  // text() would keep the quotes and escapes.
  assert.equal(await decode(json(v.string()), "str"), "hello ü");
  assert.equal(await decode(text(), "str"), '"hello \\u00fc"');
  assert.deepEqual(
    [...await decode(bytes(), "bytes")],
    [0x00, 0xff, ...new TextEncoder().encode("raw")],
  );
  assert.deepEqual(
    await decode(
      json(v.object({ id: v.number(), name: v.string() })),
      "dataclass",
    ),
    { id: 7, name: "Ann" },
  );
  assert.deepEqual(
    await decode(
      json(v.object({ id: v.number(), item: v.string() })),
      "pydantic-v1",
    ),
    { id: 1, item: "thé" },
  );
  assert.equal(
    (await decode(date(), "datetime")).toISOString(),
    "2024-05-06T07:08:09.123Z",
  );
  // json.dumps writes NaN and Infinity, which are not JSON: poison here.
  await assert.rejects(
    async () => await decode(json(v.unknown()), "nan-and-big-int"),
    DecodeError,
  );
  const pydantic = fixture("payloads.json").pydanticV2 as { error: string };
  assert.match(pydantic.error, /dumps_kwargs/);
});

test("what we encode is what Python's json.loads and fromisoformat read back", async () => {
  const User = v.object({ id: v.number(), name: v.string() });
  // Python escapes non-ASCII; we send UTF-8. Both are JSON text Python's
  // json.loads reads; the values are equal once parsed.
  const python = recorded("payloads.json", "dict-non-ascii").payloadText!;
  const ours = utf8.decode(
    await json(v.record(v.string(), v.unknown())).encode(JSON.parse(python)),
  );
  assert.deepEqual(JSON.parse(ours), JSON.parse(python));
  assert.equal(
    ours,
    '{"id":1,"name":"Zoë 😀","path":"a/b","tab":"\\t","ratio":1}',
  );
  assert.equal(
    utf8.decode(await json(v.string()).encode("hello ü")),
    '"hello ü"',
  );
  assert.equal(
    utf8.decode(await json(User).encode({ id: 7, name: "Ann" })),
    recorded("payloads.json", "dataclass").payloadText,
  );
  // Python 3.7+ fromisoformat: six fraction digits and a +00:00 offset.
  assert.match(
    utf8.decode(await date().encode(new Date("2024-05-06T07:08:09.123Z"))),
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/,
  );
});

test("our actors handle the messages Python walnats stored, byte for byte", async () => {
  await using server = await NatsServer.start();
  const seen = new Map<string, unknown>();
  const record = (name: string) => (message: unknown) => {
    seen.set(name, message);
  };
  const actors = [
    new Actor(
      "ts-dict",
      new Event("py-dict", v.object({ name: v.string() })),
      record("dict"),
    ),
    new Actor("ts-str", new Event("py-str", v.string()), record("str")),
    new Actor("ts-bytes", new Event("py-bytes", bytes()), record("bytes")),
    new Actor(
      "ts-datetime",
      new Event("py-datetime", date()),
      record("datetime"),
    ),
  ];
  await using c = await connectActors(server, actors);
  const raw = await rawConnect(server);
  const js = jetstream(raw);
  for (const name of ["dict-non-ascii", "str", "bytes", "datetime"]) {
    const m = recorded("payloads.json", name);
    await js.publish(m.subject!, fromBase64(m.payload));
  }
  await raw.close();
  await using _ = listenInBackground(c.sub);
  await waitFor(() => seen.size === 4, { what: "four messages handled" });
  assert.deepEqual(seen.get("dict"), { name: "Zoë 😀" });
  assert.equal(seen.get("str"), "hello ü");
  assert.deepEqual([...seen.get("bytes") as Uint8Array].slice(0, 2), [0, 255]);
  assert.equal(
    (seen.get("datetime") as Date).toISOString(),
    "2024-05-06T07:08:09.123Z",
  );
});

// ---------------------------------------------------------------- headers

test("Python's uid, trace id and meta headers mean the same to our actors", async () => {
  await using server = await NatsServer.start();
  const seen: Context<unknown>[] = [];
  const EVENT = new Event("py-headers", v.object({ n: v.number() }));
  await using c = await connectActors(
    server,
    new Actor("ts-headers", EVENT, (_m, ctx) => {
      seen.push(ctx);
    }),
  );
  const raw = await rawConnect(server);
  const js = jetstream(raw);
  const uid = recorded("headers.json", "uid");
  const first = await js.publish(EVENT.subject, fromBase64(uid.payload), {
    headers: headersOf(uid),
  });
  const again = await js.publish(EVENT.subject, fromBase64(uid.payload), {
    headers: headersOf(uid),
  });
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true, "Nats-Msg-Id de-duplicates");
  for (const name of ["trace-id-plain", "meta-dict"]) {
    const m = recorded("headers.json", name);
    await js.publish(EVENT.subject, fromBase64(m.payload), {
      headers: headersOf(m),
    });
  }
  await raw.close();
  await using _ = listenInBackground(c.sub);
  await waitFor(() => seen.length === 3, { what: "three messages handled" });
  const trace = seen.find((ctx) => ctx.traceId !== undefined)!;
  assert.equal(trace.traceId, "abc123");
  const meta = seen.find((ctx) => ctx.headers["X-Tenant"] !== undefined)!;
  assert.equal(meta.headers["X-Tenant"], "acme");
  assert.equal(meta.headers["Nats-Msg-Id"], "m-1");
});

test("Walnats-Delay from Python is float epoch text: we wait it out, and a zone other than UTC shifts it", async () => {
  // Recorded with delay=5 s: in UTC the stamp is true epoch + 5 s; in
  // Europe/Berlin (UTC+1 then) utcnow().timestamp() is an hour early, so
  // the delay is already over when it arrives (and a Python actor there
  // waits an extra hour for ours).
  for (
    const [zone, offset] of [["UTC", 0], ["Europe/Berlin", -3600]] as const
  ) {
    const m = recorded("headers.json", `delay-tz-${zone}`);
    const value = m.headers.find(([k]) => k === "Walnats-Delay")![1];
    assert.match(value, /^\d+\.\d+$/);
    const [before, after] = m.emittedBetween!;
    const shift = Number(value) - 5 - before;
    assert.ok(
      shift >= offset - 1 && shift <= offset + (after - before) + 1,
      `${zone}: ${value} is ${shift} s from the emit time`,
    );
  }
  await using server = await NatsServer.start();
  const EVENT = new Event("py-headers", v.object({ n: v.number() }));
  let ranAt = 0;
  await using c = await connectActors(
    server,
    new Actor("ts-delay", EVENT, () => {
      ranAt = Date.now();
    }),
  );
  // Python's text for "now + 1.5 s" (repr of a float, six decimals here).
  const until = Date.now() + 1500;
  const raw = await rawConnect(server);
  const m = recorded("headers.json", "delay-tz-UTC");
  await jetstream(raw).publish(EVENT.subject, fromBase64(m.payload), {
    headers: headersOf(m, { "Walnats-Delay": (until / 1000).toFixed(6) }),
  });
  await raw.close();
  await using _ = listenInBackground(c.sub, { pollDelay: 200 });
  await waitFor(() => ranAt > 0, { what: "the delayed message to run" });
  assert.ok(ranAt >= until - 5, `ran ${until - ranAt} ms early`);
});

// ---------------------------------------------------------------- CloudEvents

test("CloudEvent.fromHeaders reads Python's raw ce-* values and all its ce-time forms", async () => {
  await using server = await NatsServer.start();
  const seen: Record<string, string>[] = [];
  const EVENT = new Event("py-cloud", v.object({ case: v.string() }));
  await using c = await connectActors(
    server,
    new Actor("ts-cloud", EVENT, (_m, ctx) => {
      seen.push(ctx.headers);
    }),
  );
  const raw = await rawConnect(server);
  const cases = fixture("cloud_event.json").messages;
  for (const m of cases) {
    await jetstream(raw).publish(EVENT.subject, fromBase64(m.payload), {
      headers: headersOf(m),
    });
  }
  await raw.close();
  await using _ = listenInBackground(c.sub);
  await waitFor(() => seen.length === cases.length, { what: "all handled" });
  const byId = new Map(
    seen.map((h) => [h["ce-id"], CloudEvent.fromHeaders(h)!]),
  );
  const first = byId.get("ce-1")!;
  assert.deepEqual(first.attributes, {
    id: "ce-1",
    source: "/py",
    type: "com.example.thing",
    specversion: "1.0",
    datacontenttype: "application/json",
    subject: "hello world/ü%",
    time: "2024-01-02T03:04:05.678000Z",
    extensions: {
      partitionkey: "k 1",
      sampledrate: "10",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    },
  });
  assert.equal(first.time()?.toISOString(), "2024-01-02T03:04:05.678Z");
  assert.equal(
    byId.get("ce-2")!.time()?.toISOString(),
    "2024-01-02T03:04:05.000Z",
    "without fractional seconds",
  );
  assert.equal(
    byId.get("ce-3")!.time()?.toISOString(),
    "2024-01-02T03:04:05.120Z",
    "Python's +00:00Z",
  );
  // Our own headers stay percent-encoded and read back the same.
  const ours = new CloudEvent({ ...first.attributes }).headers();
  assert.equal(ours["ce-subject"], "hello%20world/%C3%BC%25");
  assert.deepEqual(CloudEvent.fromHeaders(ours)!.attributes, first.attributes);
});

test("CloudEvent.fromHeaders never throws on hostile values", () => {
  const base = { "ce-id": "1", "ce-source": "/s", "ce-type": "t" };
  const cases: [string, string][] = [
    ["100%", "100%"],
    ["%zz%4", "%zz%4"],
    ["%FF%FE", "%FF%FE"], // escapes, but not UTF-8: kept as sent
    ["a%20b", "a b"],
    ["ü%C3%BC", "üü"],
    ['"quoted %41"', "quoted A"],
    ["😀%", "😀%"],
  ];
  for (const [value, expected] of cases) {
    assert.equal(
      CloudEvent.fromHeaders({ ...base, "ce-subject": value })?.attributes
        .subject,
      expected,
      value,
    );
  }
  const timeless = CloudEvent.fromHeaders({ ...base, "ce-time": "" })!;
  assert.equal(timeless.attributes.time, undefined);
  for (
    const time of [
      "yesterday",
      "2024-13-01T00:00:00Z",
      "2024-02-30T00:00:00Z",
      "2024-01-02T03:04:05", // no zone
      "2024-01-02T03:04:05ZZ",
      "2024-01-02T24:00:00Z",
    ]
  ) {
    const meta = CloudEvent.fromHeaders({ ...base, "ce-time": time })!;
    assert.equal(meta.attributes.time, time);
    assert.equal(meta.time(), undefined, time);
  }
  assert.equal(
    CloudEvent.fromHeaders({
      ...base,
      "ce-time": "2024-01-02T03:04:05.5+02:00",
    })!
      .time()?.toISOString(),
    "2024-01-02T01:04:05.500Z",
  );
  assert.equal(CloudEvent.fromHeaders({ ...base, "ce-id": "" }), undefined);
});

// ---------------------------------------------------------------- tracing

// The active context follows async calls (otelHeaders reads it on emit).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

test("a Walnats-Trace traceparent from Python parents our consumer span, and we write one Python reads", async () => {
  await using server = await NatsServer.start();
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  }).getTracer("test");
  const otel = new OtelTracing({ tracer });
  const EVENT = new Event("py-headers", v.object({ n: v.number() }));
  const seen = new Map<number, Record<string, string>>();
  await using c = await connectActors(
    server,
    new Actor("ts-trace", EVENT, ({ n }, ctx) => {
      seen.set(n, ctx.headers);
    }, { middlewares: [otel] }),
    { headerHooks: [otelHeaders({ walnatsTrace: true })] },
  );
  const m = recorded("headers.json", "trace-id-traceparent");
  const raw = await rawConnect(server);
  await jetstream(raw).publish(EVENT.subject, fromBase64(m.payload), {
    headers: headersOf(m),
  });
  await raw.close();
  await using _ = listenInBackground(c.sub);
  await waitFor(() => seen.has(1) && otel.openSpans === 0, {
    what: "the Python message handled",
  });
  const [span] = exporter.getFinishedSpans();
  assert.ok(span);
  assert.equal(span.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(span.parentSpanContext?.spanId, "00f067aa0ba902b7");

  // Our emit inside a span: Walnats-Trace carries the traceparent, in the
  // form Python's TraceContextTextMapPropagator reads (version 00).
  const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: TraceFlags.SAMPLED,
  });
  await context.with(parent, () => c.pub.emit(EVENT, { n: 10 }));
  // A traceparent given in meta is mirrored too; an explicit traceId kept.
  await c.pub.emit(EVENT, { n: 11 }, { meta: { traceparent: tp } });
  await c.pub.emit(EVENT, { n: 12 }, {
    traceId: "mine",
    meta: { traceparent: tp },
  });
  await c.pub.emit(EVENT, { n: 13 }); // no span: nothing to write
  await waitFor(() => seen.size === 5, { what: "our four emits handled" });
  const w3c = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
  assert.match(seen.get(10)!["Walnats-Trace"] ?? "", w3c);
  assert.equal(seen.get(10)!["Walnats-Trace"], tp);
  assert.equal(seen.get(10)!["traceparent"], tp);
  assert.equal(seen.get(11)!["Walnats-Trace"], tp);
  assert.equal(seen.get(12)!["Walnats-Trace"], "mine");
  assert.equal(seen.get(13)!["Walnats-Trace"], undefined);
  assert.equal(seen.get(13)!["traceparent"], undefined);
});

test("a Walnats-Trace that is not a traceparent is ignored, and the fallback can be turned off", () => {
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  }).getTracer("test");
  const EVENT = new Event("e", v.unknown());
  const ctx = (headers: Record<string, string>) =>
    ({
      headers,
      event: EVENT,
      actor: "a",
      sequence: 1,
      deliveryCount: 1,
    }) as unknown as Context;
  const parentOf = (otel: OtelTracing, headers: Record<string, string>) =>
    trace.getSpanContext(otel.contextOf(ctx(headers)));
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  assert.equal(
    parentOf(new OtelTracing({ tracer }), { "Walnats-Trace": tp })?.spanId,
    "00f067aa0ba902b7",
  );
  assert.equal(
    parentOf(new OtelTracing({ tracer }), { "Walnats-Trace": "abc123" }),
    undefined,
  );
  assert.equal(
    parentOf(new OtelTracing({ tracer }), { "Walnats-Trace": `${tp}-x` }),
    undefined,
  );
  assert.equal(
    parentOf(new OtelTracing({ tracer, walnatsTrace: false }), {
      "Walnats-Trace": tp,
    }),
    undefined,
  );
  const other = "00-11111111111111111111111111111111-2222222222222222-01";
  assert.equal(
    parentOf(new OtelTracing({ tracer }), {
      traceparent: other,
      "Walnats-Trace": tp,
    })?.spanId,
    "2222222222222222",
    "traceparent wins",
  );
});

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
