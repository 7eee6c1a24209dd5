/**
 * {@linkcode otelStatusMetrics} (observable gauges of lag, unacknowledged,
 * dead letters, delayed per actor) and {@linkcode otelEmitMetrics} (emit
 * counters and durations) through the OpenTelemetry meter.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  type Attributes,
  type BatchObservableResult,
  type Meter,
  metrics,
  type Observable,
} from "@opentelemetry/api";
import type { EmitObserver, EmitRecord } from "../ops/emit_observer.ts";
import type { StatusSource } from "../ops/prometheus.ts";
import type { Status } from "../ops/status.ts";
import { DURATION_BUCKETS } from "../middlewares/_duration_buckets.ts";
import { INSTRUMENTATION_SCOPE } from "./tracing.ts";

/** Options for {@linkcode otelStatusMetrics}. */
export interface OtelStatusMetricsOptions {
  /** Where measurements go. @default {metrics.getMeter("@walnats/walnats")} */
  meter?: Meter;
}

/** What {@linkcode otelStatusMetrics} returns. */
export interface OtelStatusMetrics {
  /** Stop observing (the gauges report nothing more). */
  stop(): void;
}

const GAUGES = [
  [
    "pending",
    "walnats.actor.pending",
    "Messages not delivered to the actor yet (consumer lag)",
  ],
  [
    "ackPending",
    "walnats.actor.ack_pending",
    "Messages delivered to the actor and not acknowledged yet",
  ],
  [
    "redelivered",
    "walnats.actor.redelivered",
    "Unacknowledged messages delivered to the actor more than once",
  ],
  [
    "waiting",
    "walnats.actor.waiting_pulls",
    "Pull requests of the actor waiting for messages",
  ],
  ["deadLetters", "walnats.actor.dead_letters", "Dead letters of the actor"],
  [
    "delayed",
    "walnats.actor.delayed",
    "Messages of the actor's event waiting in its delay stream",
  ],
] as const;

/**
 * Observable gauges read from `status()` each time the SDK collects (one
 * status read per collection), with attributes `messaging.system`
 * (`"nats"`), `messaging.destination.name` (the event) and
 * `messaging.consumer.group.name` (the actor): `walnats.actor.pending`,
 * `walnats.actor.ack_pending`, `walnats.actor.redelivered`,
 * `walnats.actor.waiting_pulls`, `walnats.actor.dead_letters`,
 * `walnats.actor.delayed`, `walnats.actor.paused` (1 or 0). A failed read
 * reports nothing for that collection.
 *
 * @param source A subscriber, a publisher, or a function returning a status.
 * @param options The meter.
 * @returns A handle to stop observing.
 * @throws {TypeError} The source has no `status()`.
 *
 * @example Export lag with the SDK
 * ```ts ignore
 * import { otelStatusMetrics } from "@walnats/walnats/otel";
 *
 * const lag = otelStatusMetrics(sub);
 * // ... on shutdown
 * lag.stop();
 * ```
 */
export function otelStatusMetrics(
  source: StatusSource,
  options: OtelStatusMetricsOptions = {},
): OtelStatusMetrics {
  let read: () => Promise<Status>;
  if (typeof source === "function") read = source;
  else if (typeof source?.status === "function") read = () => source.status();
  else {
    throw new TypeError(
      "Cannot observe status: the source must be a Subscriber, a Publisher or a function returning a status",
    );
  }
  const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_SCOPE);
  const gauges = GAUGES.map(([key, name, description]) =>
    [
      key,
      meter.createObservableGauge(name, { description, unit: "{message}" }),
    ] as const
  );
  const paused = meter.createObservableGauge("walnats.actor.paused", {
    description: "1 when the actor is paused",
  });
  const all: Observable[] = [...gauges.map(([, g]) => g), paused];
  const callback = async (result: BatchObservableResult): Promise<void> => {
    let s: Status;
    try {
      s = await read();
    } catch {
      return; // nothing observed: the gauges have no point this round
    }
    for (const a of s.actors) {
      const attributes: Attributes = {
        "messaging.system": "nats",
        "messaging.destination.name": a.event,
        "messaging.consumer.group.name": a.name,
      };
      for (const [key, gauge] of gauges) {
        result.observe(gauge, a[key], attributes);
      }
      result.observe(paused, a.paused ? 1 : 0, attributes);
    }
  };
  meter.addBatchObservableCallback(callback, all);
  return {
    stop: () => meter.removeBatchObservableCallback(callback, all),
  };
}

/** Options for {@linkcode otelEmitMetrics}. */
export interface OtelEmitMetricsOptions {
  /** Where measurements go. @default {metrics.getMeter("@walnats/walnats")} */
  meter?: Meter;
  /** Advised bucket boundaries of the duration histogram, in seconds. @default {DURATION_BUCKETS} */
  buckets?: readonly number[];
}

/**
 * An `onEmit` observer recording `walnats.emits` (counter, attribute
 * `walnats.emit.outcome`: `ok`, `duplicate` or `error`) and
 * `walnats.emit.duration` (histogram in seconds, acknowledged emits),
 * with `messaging.system` and `messaging.destination.name`.
 *
 * @param options Meter and buckets.
 * @returns The observer: pass it in `onEmit` of `Events.connect`.
 *
 * @example Count emits
 * ```ts ignore
 * import { otelEmitMetrics } from "@walnats/walnats/otel";
 *
 * await using pub = await events.connect(url, { onEmit: [otelEmitMetrics()] });
 * ```
 */
export function otelEmitMetrics(
  options: OtelEmitMetricsOptions = {},
): EmitObserver {
  const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_SCOPE);
  const emits = meter.createCounter("walnats.emits", {
    description: "Messages published by emit, emitMany and request",
    unit: "{message}",
  });
  const duration = meter.createHistogram("walnats.emit.duration", {
    description: "Time from publishing to the stream's acknowledgement",
    unit: "s",
    advice: {
      explicitBucketBoundaries: [...(options.buckets ?? DURATION_BUCKETS)],
    },
  });
  return (record: EmitRecord) => {
    const attributes: Attributes = {
      "messaging.system": "nats",
      "messaging.destination.name": record.event.name,
    };
    emits.add(1, { ...attributes, "walnats.emit.outcome": record.outcome });
    if (record.sync) duration.record(record.duration / 1000, attributes);
  };
}
