// Mixed fleets with Python walnats 1.2.6: the bytes Python sends
// (recorded from its own code into tests/fixtures/python/ by record.py) go
// through a real nats-server from a raw nats.js client, and our actors must
// handle them; what we send must be what Python reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstream } from "@nats-io/jetstream";
import { context, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Actor, CloudEvent, type Context, DecodeError, Event } from "../mod.ts";
import { bytes, date, json, text } from "../src/codecs/mod.ts";
import { otelHeaders, OtelTracing } from "../src/otel/mod.ts";
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
