/**
 * Prometheus metrics for walnats jobs without OpenTelemetry: a middleware
 * that counts and times jobs, and a registry that renders them in the
 * Prometheus text exposition format for any HTTP server to serve.
 *
 * @example Serve job metrics
 * ```ts ignore
 * import { Actor } from "@walnats/walnats";
 * import { PrometheusMiddleware } from "@walnats/walnats/prometheus";
 *
 * const prometheus = new PrometheusMiddleware();
 * const GREET = new Actor("greet", USER_CREATED, greet, {
 *   middlewares: [prometheus],
 * });
 * Deno.serve({ port: 9100 }, () =>
 *   new Response(prometheus.metrics(), {
 *     headers: { "content-type": prometheus.contentType },
 *   }));
 * ```
 *
 * @module
 */
import type { Context } from "../context.ts";
import type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "./middleware.ts";
import { DURATION_BUCKETS } from "./_duration_buckets.ts";
import {
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusCounter,
  type PrometheusHistogram,
  PrometheusRegistry,
} from "./prometheus_registry.ts";

export { DURATION_BUCKETS } from "./_duration_buckets.ts";
export {
  PROMETHEUS_CONTENT_TYPE,
  PrometheusCounter,
  PrometheusGauge,
  PrometheusHistogram,
  PrometheusRegistry,
} from "./prometheus_registry.ts";
export {
  PrometheusEmitMetrics,
  PrometheusStatusCollector,
} from "../ops/prometheus.ts";
export type {
  PrometheusEmitOptions,
  PrometheusStatusOptions,
  StatusSource,
} from "../ops/prometheus.ts";
export type { Labels, MetricFamily } from "./prometheus_registry.ts";

/** Options for {@linkcode PrometheusMiddleware}. */
export interface PrometheusOptions {
  /**
   * Registry to add the metrics to (to render them with your own).
   * @default {a new registry}
   */
  registry?: PrometheusRegistry;
  /**
   * Prefix of every metric name.
   * @default {"walnats"}
   */
  prefix?: string;
  /**
   * Upper bounds of the duration histogram's buckets, in seconds.
   * @default {DURATION_BUCKETS}
   */
  buckets?: readonly number[];
}

/**
 * A middleware counting and timing jobs as Prometheus metrics, labelled
 * `actor` and `event` (with the default prefix):
 *
 * | metric | type | counts |
 * | --- | --- | --- |
 * | `walnats_jobs_started_total` | counter | handler runs started |
 * | `walnats_jobs_succeeded_total` | counter | jobs that succeeded (acked) |
 * | `walnats_jobs_failed_total` | counter | failed attempts, including payloads that did not decode |
 * | `walnats_jobs_dead_lettered_total` | counter | messages given up on: dead-lettered, or terminated when dead letters are off |
 * | `walnats_jobs_redelivered_total` | counter | handler runs on attempt 2 or later |
 * | `walnats_job_duration_seconds` | histogram | time the handler ran, successful or not |
 *
 * Use one instance for all actors and serve {@linkcode metrics} from your
 * HTTP server with {@linkcode contentType}.
 *
 * @example Count a job
 * ```ts
 * import { PrometheusMiddleware } from "@walnats/walnats/prometheus";
 * import assert from "node:assert/strict";
 *
 * const prometheus = new PrometheusMiddleware();
 * assert.match(
 *   prometheus.metrics(),
 *   /^# TYPE walnats_jobs_started_total counter$/m,
 * );
 * ```
 */
export class PrometheusMiddleware implements Middleware {
  /** The registry holding the metrics. */
  readonly registry: PrometheusRegistry;
  /** The `Content-Type` to serve {@linkcode metrics} with. */
  readonly contentType: string = PROMETHEUS_CONTENT_TYPE;
  readonly #started: PrometheusCounter;
  readonly #succeeded: PrometheusCounter;
  readonly #failed: PrometheusCounter;
  readonly #deadLettered: PrometheusCounter;
  readonly #redelivered: PrometheusCounter;
  readonly #duration: PrometheusHistogram;

  /**
   * Register the metrics.
   *
   * @param options Registry, name prefix and histogram buckets.
   * @throws {TypeError} The prefix makes invalid names, or the registry
   *   already has these metrics.
   * @throws {RangeError} The buckets are empty, not finite or not ascending.
   */
  constructor(options: PrometheusOptions = {}) {
    const registry = options.registry ?? new PrometheusRegistry();
    const p = options.prefix ?? "walnats";
    const labels = ["actor", "event"];
    this.registry = registry;
    this.#started = registry.counter(
      `${p}_jobs_started_total`,
      "Jobs whose handler started.",
      labels,
    );
    this.#succeeded = registry.counter(
      `${p}_jobs_succeeded_total`,
      "Jobs that succeeded and were acked.",
      labels,
    );
    this.#failed = registry.counter(
      `${p}_jobs_failed_total`,
      "Failed attempts: the handler threw or timed out, or the payload did not decode.",
      labels,
    );
    this.#deadLettered = registry.counter(
      `${p}_jobs_dead_lettered_total`,
      "Messages given up on: dead-lettered, or terminated when dead letters are off.",
      labels,
    );
    this.#redelivered = registry.counter(
      `${p}_jobs_redelivered_total`,
      "Jobs whose handler started on attempt 2 or later.",
      labels,
    );
    this.#duration = registry.histogram(
      `${p}_job_duration_seconds`,
      "Seconds the handler ran, successful or not.",
      labels,
      options.buckets ?? DURATION_BUCKETS,
    );
  }

  /**
   * Count a started job (and a redelivery on attempt 2 or later).
   *
   * @param ctx The job's context.
   */
  onStart(ctx: StartContext): void {
    const labels = labelsOf(ctx);
    this.#started.inc(labels);
    if (ctx.attempt > 1) this.#redelivered.inc(labels);
  }

  /**
   * Count a success and record its duration.
   *
   * @param ctx The job's context.
   */
  onSuccess(ctx: SuccessContext): void {
    const labels = labelsOf(ctx);
    this.#succeeded.inc(labels);
    this.#duration.observe(labels, ctx.duration / 1000);
  }

  /**
   * Count a failure (and a dead letter when the message is given up on),
   * and record its duration when the handler ran.
   *
   * @param ctx The job's context.
   */
  onFailure(ctx: FailureContext): void {
    const labels = labelsOf(ctx);
    this.#failed.inc(labels);
    if (ctx.outcome !== "retry") this.#deadLettered.inc(labels);
    if (ctx.message !== undefined) {
      this.#duration.observe(labels, ctx.duration / 1000);
    }
  }

  /**
   * The registry's metrics in the Prometheus text exposition format.
   *
   * @returns The text.
   */
  metrics(): string {
    return this.registry.metrics();
  }
}

function labelsOf(ctx: Context): { actor: string; event: string } {
  return { actor: ctx.actor, event: ctx.event.name };
}
