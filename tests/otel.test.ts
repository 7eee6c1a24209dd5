import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  context,
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Actor, type Context, Event, silentLogger } from "../mod.ts";
import {
  DURATION_BUCKETS,
  otelHeaders,
  otelMetrics,
  OtelTracing,
} from "../src/otel/mod.ts";
import { MemoryLogger } from "./_fakes.ts";
import {
  connectActors,
  deferred,
  listenInBackground,
  NatsServer,
  waitFor,
} from "./_helpers.ts";

// Spans are kept in memory; the active context follows async calls.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

function tracing(): {
  exporter: InMemorySpanExporter;
  tracer: ReturnType<BasicTracerProvider["getTracer"]>;
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, tracer: provider.getTracer("test") };
}

class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const Order = v.object({ id: v.number() });
const ORDERED = new Event("order-placed", Order);

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `no span "${name}" in ${spans.map((s) => s.name)}`);
  return span;
}

test("a span around emit is the parent of the consumer span, across a real nats-server", async () => {
  await using server = await NatsServer.start();
  const { exporter, tracer } = tracing();
  const seenHeaders = deferred<Record<string, string>>();
  const otel = new OtelTracing({ tracer });
  const SHIP = new Actor("ship", ORDERED, (_order, ctx) => {
    seenHeaders.resolve({ ...ctx.headers });
  }, { middlewares: [otel] });

  await using app = await connectActors(server, SHIP, {
    headerHooks: [otelHeaders()],
  });
  const { pub, sub } = app;

  await tracer.startActiveSpan("checkout", async (span) => {
    await pub.emit(ORDERED, { id: 1 }, { uid: "order-1", traceId: "t-9" });
    span.end();
  });
  const report = await sub.listen({ burst: true, logger: silentLogger });
  assert.equal(report.succeeded, 1);

  const spans = exporter.getFinishedSpans();
  const producer = byName(spans, "checkout");
  const consumer = byName(spans, "process order-placed");
  const headers = await seenHeaders.promise;
  assert.equal(
    headers.traceparent,
    `00-${producer.spanContext().traceId}-${producer.spanContext().spanId}-01`,
  );
  assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
  assert.equal(
    consumer.parentSpanContext?.spanId,
    producer.spanContext().spanId,
  );
  assert.equal(consumer.parentSpanContext?.isRemote, true);
  assert.equal(consumer.kind, SpanKind.CONSUMER);
  assert.equal(consumer.status.code, SpanStatusCode.UNSET);
  assert.deepEqual(consumer.attributes, {
    "messaging.system": "nats",
    "messaging.operation.type": "process",
    "messaging.operation.name": "process",
    "messaging.destination.name": "order-placed",
    "messaging.consumer.group.name": "ship",
    "messaging.message.id": "order-1",
    "walnats.actor": "ship",
    "walnats.event": "order-placed",
    "walnats.attempt": 1,
    "walnats.sequence": 1,
    "walnats.delivery_count": 1,
    "walnats.trace_id": "t-9",
  });
  assert.equal(otel.openSpans, 0);
});

test("a job without trace context gets a root consumer span", async () => {
  await using server = await NatsServer.start();
  const { exporter, tracer } = tracing();
  const SHIP = new Actor("ship", ORDERED, () => {}, {
    middlewares: [new OtelTracing({ tracer })],
  });
  await using app = await connectActors(server, SHIP, {
    headerHooks: [otelHeaders()],
  });
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 }); // no active span: no traceparent
  await sub.listen({ burst: true, logger: silentLogger });
  const [span] = exporter.getFinishedSpans();
  assert.ok(span);
  assert.equal(span.parentSpanContext, undefined);
});

test("a failed job's span has error status, the exception, error.type and the outcome", async () => {
  await using server = await NatsServer.start();
  const { exporter, tracer } = tracing();
  const otel = new OtelTracing({ tracer });
  const SHIP = new Actor("ship", ORDERED, () => {
    throw new TypeError("out of stock");
  }, { middlewares: [otel], retryDelay: [60_000] });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 });
  await pub.js.publish("order-placed", new TextEncoder().encode("{nope"));
  await sub.listen({ burst: true, batch: 2, logger: silentLogger });

  const spans = exporter.getFinishedSpans();
  assert.equal(spans.length, 2);
  const failed = spans.find((s) => s.attributes["walnats.sequence"] === 1);
  assert.ok(failed);
  assert.equal(failed.status.code, SpanStatusCode.ERROR);
  assert.equal(failed.status.message, "out of stock");
  assert.equal(failed.attributes["error.type"], "TypeError");
  assert.equal(failed.attributes["walnats.outcome"], "retry");
  const exception = failed.events.find((e) => e.name === "exception");
  assert.equal(exception?.attributes?.["exception.type"], "TypeError");
  assert.equal(exception?.attributes?.["exception.message"], "out of stock");

  // The payload that did not decode gets an error span of its own.
  const poison = spans.find((s) => s.attributes["walnats.sequence"] === 2);
  assert.ok(poison);
  assert.equal(poison.kind, SpanKind.CONSUMER);
  assert.equal(poison.status.code, SpanStatusCode.ERROR);
  assert.equal(poison.attributes["walnats.outcome"], "dead-letter");
  assert.equal(otel.openSpans, 0);
});

test("wrap() makes the job's span active in the handler, so spans it starts nest under it", async () => {
  await using server = await NatsServer.start();
  const { exporter, tracer } = tracing();
  const otel = new OtelTracing({ tracer });
  let explicit: string | undefined;
  const SHIP = new Actor(
    "ship",
    ORDERED,
    otel.wrap(async (order: { id: number }, ctx: Context<{ id: number }>) => {
      await tracer.startActiveSpan("charge", async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        span.setAttribute("order", order.id);
        span.end();
      });
      // Without wrap(), contextOf() parents spans explicitly.
      const child = tracer.startSpan("notify", {}, otel.contextOf(ctx));
      explicit = child.spanContext().spanId;
      child.end();
    }),
    { middlewares: [otel] },
  );
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 4 });
  const report = await sub.listen({ burst: true, logger: silentLogger });
  assert.equal(report.succeeded, 1);

  const spans = exporter.getFinishedSpans();
  const job = byName(spans, "process order-placed");
  const charge = byName(spans, "charge");
  const notify = byName(spans, "notify");
  assert.equal(charge.parentSpanContext?.spanId, job.spanContext().spanId);
  assert.equal(notify.parentSpanContext?.spanId, job.spanContext().spanId);
  assert.equal(notify.spanContext().spanId, explicit);
  assert.equal(charge.attributes.order, 4);
});

test("a job handed back on shutdown ends its span with an error", async () => {
  await using server = await NatsServer.start();
  const { exporter, tracer } = tracing();
  const otel = new OtelTracing({ tracer });
  const started = deferred();
  const release = deferred();
  const SHIP = new Actor("ship", ORDERED, async () => {
    started.resolve();
    await release.promise; // ignores its signal
  }, { middlewares: [otel] });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 });
  await using listening = listenInBackground(sub, {
    grace: 50,
    pollDelay: 500,
    logger: silentLogger,
  });
  await started.promise;
  assert.equal(otel.openSpans, 1);
  await listening.stop();
  release.resolve();
  const span = await waitFor(
    () => exporter.getFinishedSpans()[0],
    { what: "the span to end" },
  );
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "ShutdownError");
  assert.equal(otel.openSpans, 0);
});

test("otelHeaders() writes traceparent and tracestate of the active span only, and keeps an explicit one", () => {
  const hook = otelHeaders();
  const event = new Event("order-placed", Order);

  const none = natsHeaders();
  hook(event, none);
  assert.equal(none.has("traceparent"), false);

  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const spanId = "b7ad6b7169203331";
  const sampled = trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: 1,
  });
  const active = natsHeaders();
  context.with(sampled, () => hook(event, active));
  assert.equal(active.get("traceparent"), `00-${traceId}-${spanId}-01`);
  assert.equal(active.has("tracestate"), false);

  const stated = natsHeaders();
  const withTraceState = trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: 0,
    traceState: createTraceState("vendor=abc"),
  });
  context.with(withTraceState, () => hook(event, stated));
  assert.equal(stated.get("traceparent"), `00-${traceId}-${spanId}-00`);
  assert.equal(stated.get("tracestate"), "vendor=abc");

  const kept = natsHeaders();
  kept.set(
    "traceparent",
    "00-11111111111111111111111111111111-2222222222222222-00",
  );
  context.with(sampled, () => hook(event, kept));
  assert.equal(
    kept.get("traceparent"),
    "00-11111111111111111111111111111111-2222222222222222-00",
  );
});

test("OtelTracing reads traceparent and tracestate and ignores malformed ones", () => {
  const otel = new OtelTracing();
  const ctx = (headers: Record<string, string>) =>
    ({
      actor: "ship",
      event: { name: "order-placed" },
      sequence: 1,
      deliveryCount: 1,
      headers,
    }) as unknown as Context;
  const good = trace.getSpanContext(otel.contextOf(ctx({
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate: "vendor=abc,other=1",
  })));
  assert.equal(good?.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(good?.spanId, "b7ad6b7169203331");
  assert.equal(good?.traceFlags, 1);
  assert.equal(good?.isRemote, true);
  assert.equal(good?.traceState?.get("vendor"), "abc");
  assert.equal(good?.traceState?.serialize(), "vendor=abc,other=1");
  // Header names are matched ignoring case.
  assert.ok(trace.getSpanContext(otel.contextOf(ctx({
    Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
  }))));
  for (
    const bad of [
      "",
      "garbage",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    ]
  ) {
    assert.equal(
      trace.getSpanContext(otel.contextOf(ctx({ traceparent: bad }))),
      undefined,
      bad,
    );
  }
  // A future version may carry more fields.
  assert.ok(trace.getSpanContext(otel.contextOf(ctx({
    traceparent: "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more",
  }))));
});

test("otelMetrics() counts started, succeeded, failed, dead-lettered and redelivered jobs and records durations", async () => {
  await using server = await NatsServer.start();
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  let attempts = 0;
  const SHIP = new Actor("ship", ORDERED, ({ id }) => {
    // Order 2 fails once, then succeeds on its second attempt.
    if (id === 2 && ++attempts === 1) throw new RangeError("flaky");
  }, {
    middlewares: [otelMetrics({ meter: meterProvider.getMeter("test") })],
    retryDelay: [0],
  });
  await using app = await connectActors(server, SHIP);
  const { pub, sub } = app;
  await pub.emit(ORDERED, { id: 1 });
  await pub.emit(ORDERED, { id: 2 });
  await pub.js.publish("order-placed", new TextEncoder().encode("{nope"));
  const logger = new MemoryLogger();
  let succeeded = 0;
  await using listening = listenInBackground(sub, {
    batch: 3,
    pollDelay: 200,
    logger,
  });
  await waitFor(async () => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics[0]?.metrics.find((m) =>
      m.descriptor.name === "walnats.jobs.succeeded"
    );
    succeeded = Number(metric?.dataPoints[0]?.value ?? 0);
    return succeeded === 2;
  }, { timeout: 30_000, what: "two successes" });
  await listening.stop();
  assert.deepEqual(logger.at("error"), []);

  const { resourceMetrics } = await reader.collect();
  const found = new Map(
    resourceMetrics.scopeMetrics[0]!.metrics.map((m) => [m.descriptor.name, m]),
  );
  const base = {
    "messaging.system": "nats",
    "messaging.destination.name": "order-placed",
    "messaging.consumer.group.name": "ship",
  };
  const points = (name: string) =>
    (found.get(name)?.dataPoints ?? []) as DataPoint<unknown>[];
  const sum = (name: string) =>
    points(name).reduce((total, p) => total + Number(p.value), 0);

  assert.equal(sum("walnats.jobs.started"), 3);
  assert.equal(sum("walnats.jobs.succeeded"), 2);
  assert.equal(sum("walnats.jobs.failed"), 2);
  assert.equal(sum("walnats.jobs.dead_lettered"), 1);
  assert.equal(sum("walnats.jobs.redelivered"), 1);
  assert.deepEqual(points("walnats.jobs.started")[0]!.attributes, base);
  assert.deepEqual(
    points("walnats.jobs.failed").map((p) => p.attributes["error.type"]).sort(),
    ["DecodeError", "RangeError"].sort(),
  );
  assert.equal(found.get("walnats.jobs.failed")!.descriptor.unit, "{job}");

  const duration = found.get("walnats.job.duration")!;
  assert.equal(duration.descriptor.unit, "s");
  const histograms = duration.dataPoints as DataPoint<Histogram>[];
  // Two successes and one failure that ran the handler; not the poison one.
  assert.equal(histograms.reduce((n, p) => n + p.value.count, 0), 3);
  assert.deepEqual(histograms[0]!.value.buckets.boundaries, [
    ...DURATION_BUCKETS,
  ]);
});

test("wrap() keeps the handler's payload type and OTel middlewares fit any actor", () => {
  const otel = new OtelTracing();
  const SHIP = new Actor(
    "ship",
    ORDERED,
    otel.wrap((order, ctx) => {
      const id: number = order.id;
      return `${id}@${ctx.attempt}`;
    }),
    { middlewares: [otel, otelMetrics()] },
  );
  assert.equal(SHIP.middlewares.length, 2);
  new Actor(
    "bill",
    ORDERED,
    otel.wrap((order) => {
      // @ts-expect-error the payload's id is a number
      const id: string = order.id;
      return id;
    }),
  );
});
