// deno-lint-ignore-file no-console -- a program: printing is its job
// Example 4: logs, traces and metrics for an actor.
//
// The actor runs with three middlewares: structured logs through LogTape,
// an OpenTelemetry consumer span per job (a child of the span that emitted
// the message, carried in `traceparent`) with OTel metrics, and Prometheus
// metrics. One order fails once and is retried. At the end the example
// prints the spans, the OTel metric sums and the Prometheus text that an
// HTTP server of yours would serve.
//
// Uses NATS at NATS_URL when a server answers there; else starts a local
// nats-server and stops it on exit (on your own server it removes its
// streams).
//
//   npx deno run -A examples/04_observability.ts
//   npx bun run examples/04_observability.ts
//   npx tsx examples/04_observability.ts
import process from "node:process";
import * as v from "valibot";
import {
  configure,
  getConsoleSink,
  getTextFormatter,
  reset,
} from "@logtape/logtape";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { Actor, Actors, Event, Events } from "@walnats/walnats";
import { logging, logtapeLogger } from "@walnats/walnats/middlewares";
import { otelHeaders, otelMetrics, OtelTracing } from "@walnats/walnats/otel";
import { PrometheusMiddleware } from "@walnats/walnats/prometheus";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

// --- Logs: everything under the "walnats" category to the console. The
// logging() middleware reports every job under walnats·actor·<actor>; the
// engine's logger (walnats·engine) would report a failing job a second
// time, so only its errors about actors are kept.
await configure({
  sinks: {
    console: getConsoleSink({ formatter: getTextFormatter() }),
  },
  loggers: [
    { category: ["walnats"], lowestLevel: "debug", sinks: ["console"] },
    { category: ["walnats", "engine", "actor"], lowestLevel: "error" },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
  ],
});

// --- OpenTelemetry: an SDK of your choice; here spans and metrics are kept
// in memory and printed at the end.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spans)],
});
trace.setGlobalTracerProvider(tracerProvider);
const metricExporter = new InMemoryMetricExporter(
  AggregationTemporality.CUMULATIVE,
);
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 3_600_000,
    }),
  ],
});
metrics.setGlobalMeterProvider(meterProvider);
const tracer = trace.getTracer("shop");

// --- The event and the actor.
const ORDER_PLACED = new Event(
  "order-placed",
  v.object({ id: v.number(), total: v.number() }),
  { description: "a customer placed an order" },
);

const ORDERS = 4;
const stop = new AbortController();
const tracing = new OtelTracing();
const prometheus = new PrometheusMiddleware();
let shipped = 0;
const SHIP_ORDER = new Actor(
  "ship-order",
  ORDER_PLACED,
  // wrap(): spans started by the handler nest under the job's span.
  tracing.wrap(async (order: { id: number; total: number }, ctx) => {
    await tracer.startActiveSpan("reserve-stock", async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      span.end();
    });
    if (order.id === 3 && ctx.attempt === 1) {
      throw new Error("warehouse busy");
    }
    shipped++;
    if (shipped === ORDERS) stop.abort();
  }),
  {
    middlewares: [tracing, otelMetrics(), prometheus, logging()],
    retryDelay: [100],
  },
);

// --- NATS: NATS_URL when a server answers there, or a server of our own.
const { url, server } = await exampleNats();
if (server !== undefined) {
  console.log(`[observability] started nats-server at ${url}`);
}

const timeout = setTimeout(() => {
  console.error("[observability] gave up waiting for the orders");
  stop.abort();
  process.exitCode = 1;
}, 60_000);

try {
  const logger = logtapeLogger({ category: ["walnats", "engine"] });
  await using sub = await new Actors(SHIP_ORDER).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [SHIP_ORDER],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await using pub = await new Events(ORDER_PLACED).connect(url, {
    headerHooks: [otelHeaders()], // carries the active span as traceparent
    logger,
  });
  await pub.register();

  for (let id = 1; id <= ORDERS; id++) {
    await tracer.startActiveSpan("checkout", async (span) => {
      await pub.emit(ORDER_PLACED, { id, total: 10 * id });
      span.end();
    });
  }
  const report = await sub.listen({
    signal: stop.signal,
    pollDelay: 500,
    logger,
  });
  console.log(
    `[observability] listen: ${report.succeeded} succeeded, ${report.failed} failed`,
  );
} finally {
  clearTimeout(timeout);
  await server?.close();
}

// --- What was recorded.
const finished = spans.getFinishedSpans();
const byId = new Map(finished.map((s) => [s.spanContext().spanId, s]));
console.log("[observability] spans:");
for (const span of finished) {
  const parent = span.parentSpanContext &&
    byId.get(span.parentSpanContext.spanId);
  const status = span.status.code === 2 ? " ERROR" : "";
  console.log(
    `  ${span.name}${status} trace=${span.spanContext().traceId.slice(0, 8)}` +
      (parent ? ` parent=${parent.name}` : ""),
  );
}

await meterProvider.forceFlush();
console.log("[observability] OpenTelemetry metrics:");
const exported = metricExporter.getMetrics().at(-1);
for (const metric of exported?.scopeMetrics.flatMap((s) => s.metrics) ?? []) {
  const total = metric.dataPoints.reduce(
    (sum, point) =>
      sum +
      (typeof point.value === "number"
        ? point.value
        : (point.value as { count: number }).count),
    0,
  );
  console.log(`  ${metric.descriptor.name} ${total}`);
}

console.log("[observability] Prometheus metrics:");
console.log(prometheus.metrics().trimEnd());

await meterProvider.shutdown();
await tracerProvider.shutdown();
await reset();
console.log("[observability] done");
