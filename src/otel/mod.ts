/**
 * OpenTelemetry for walnats, on `@opentelemetry/api` only (bring your own
 * SDK): a consumer span per job parented to the producer's trace context,
 * a header hook that carries the active context on emit, and job metrics
 * through the meter.
 *
 * @example Trace from emit to handler
 * ```ts ignore
 * import { Actor, Actors, Events } from "@walnats/walnats";
 * import { OtelTracing, otelHeaders, otelMetrics } from "@walnats/walnats/otel";
 *
 * // publisher: every emit carries the active span as `traceparent`
 * await using pub = await new Events(USER_CREATED).connect(url, {
 *   headerHooks: [otelHeaders()],
 * });
 *
 * // subscriber: a consumer span per job, a child of the emitting span
 * const tracing = new OtelTracing();
 * const GREET = new Actor("greet", USER_CREATED, tracing.wrap(greet), {
 *   middlewares: [tracing, otelMetrics()],
 * });
 * ```
 *
 * @module
 */
export { otelHeaders } from "./headers.ts";
export type { OtelHeadersOptions } from "./headers.ts";
export { DURATION_BUCKETS } from "../middlewares/_duration_buckets.ts";
export { otelMetrics } from "./metrics.ts";
export type { OtelMetricsOptions } from "./metrics.ts";
export { INSTRUMENTATION_SCOPE, OtelTracing } from "./tracing.ts";
export type { OtelTracingOptions } from "./tracing.ts";
export { otelEmitMetrics, otelStatusMetrics } from "./status_metrics.ts";
export type {
  OtelEmitMetricsOptions,
  OtelStatusMetrics,
  OtelStatusMetricsOptions,
} from "./status_metrics.ts";
