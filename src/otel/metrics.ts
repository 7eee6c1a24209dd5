/**
 * {@linkcode otelMetrics}: job metrics through the OpenTelemetry meter.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import { type Attributes, type Meter, metrics } from "@opentelemetry/api";
import type { Context } from "../context.ts";
import type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "../middlewares/middleware.ts";
import { INSTRUMENTATION_SCOPE } from "./tracing.ts";
import { DURATION_BUCKETS } from "../middlewares/_duration_buckets.ts";

/** Options for {@linkcode otelMetrics}. */
export interface OtelMetricsOptions {
  /**
   * Where measurements go.
   * @default {metrics.getMeter("@walnats/walnats")}
   */
  meter?: Meter;
  /**
   * Advised bucket boundaries of the duration histogram, in seconds (a
   * view configured in the SDK takes precedence).
   * @default {DURATION_BUCKETS}
   */
  buckets?: readonly number[];
}

function attributesOf(ctx: Context): Attributes {
  return {
    "messaging.system": "nats",
    "messaging.destination.name": ctx.event.name,
    "messaging.consumer.group.name": ctx.actor,
  };
}

/**
 * A middleware recording job metrics with the OpenTelemetry meter:
 *
 * | instrument | kind | counts |
 * | --- | --- | --- |
 * | `walnats.jobs.started` | counter | handler runs started |
 * | `walnats.jobs.succeeded` | counter | jobs that succeeded (acked) |
 * | `walnats.jobs.failed` | counter | failed attempts, including payloads that did not decode (with `error.type`) |
 * | `walnats.jobs.dead_lettered` | counter | messages given up on: dead-lettered, or terminated when dead letters are off |
 * | `walnats.jobs.redelivered` | counter | handler runs on attempt 2 or later |
 * | `walnats.job.duration` | histogram, `s` | time the handler ran, successful or not |
 *
 * Every measurement carries `messaging.system` (`"nats"`),
 * `messaging.destination.name` (the event) and
 * `messaging.consumer.group.name` (the actor). Durations are in seconds, as
 * the OpenTelemetry conventions ask.
 *
 * @param options Meter and histogram buckets.
 * @returns The middleware; use one for all actors.
 *
 * @example Record metrics
 * ```ts ignore
 * import { Actor } from "@walnats/walnats";
 * import { otelMetrics } from "@walnats/walnats/otel";
 *
 * const SEND_EMAIL = new Actor("send-email", USER_REGISTERED, sendEmail, {
 *   middlewares: [otelMetrics()],
 * });
 * ```
 */
export function otelMetrics(options: OtelMetricsOptions = {}): Middleware {
  const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_SCOPE);
  const started = meter.createCounter("walnats.jobs.started", {
    description: "Jobs whose handler started",
    unit: "{job}",
  });
  const succeeded = meter.createCounter("walnats.jobs.succeeded", {
    description: "Jobs that succeeded and were acked",
    unit: "{job}",
  });
  const failed = meter.createCounter("walnats.jobs.failed", {
    description:
      "Failed attempts: the handler threw or timed out, or the payload did not decode",
    unit: "{job}",
  });
  const deadLettered = meter.createCounter("walnats.jobs.dead_lettered", {
    description:
      "Messages given up on: dead-lettered, or terminated when dead letters are off",
    unit: "{message}",
  });
  const redelivered = meter.createCounter("walnats.jobs.redelivered", {
    description: "Jobs whose handler started on attempt 2 or later",
    unit: "{job}",
  });
  const duration = meter.createHistogram("walnats.job.duration", {
    description: "Time the handler ran, successful or not",
    unit: "s",
    advice: {
      explicitBucketBoundaries: [...(options.buckets ?? DURATION_BUCKETS)],
    },
  });
  return {
    onStart(ctx: StartContext): void {
      const attributes = attributesOf(ctx);
      started.add(1, attributes);
      if (ctx.attempt > 1) redelivered.add(1, attributes);
    },
    onSuccess(ctx: SuccessContext): void {
      const attributes = attributesOf(ctx);
      succeeded.add(1, attributes);
      duration.record(ctx.duration / 1000, attributes);
    },
    onFailure(ctx: FailureContext): void {
      const attributes = attributesOf(ctx);
      failed.add(1, { ...attributes, "error.type": ctx.error.name });
      if (ctx.outcome !== "retry") deadLettered.add(1, attributes);
      // A payload that did not decode never reached the handler.
      if (ctx.message !== undefined) {
        duration.record(ctx.duration / 1000, {
          ...attributes,
          "error.type": ctx.error.name,
        });
      }
    },
  };
}
