/**
 * Prometheus gauges from {@linkcode status} (lag, unacknowledged,
 * redelivered, dead letters, delayed, paused per actor; size per event),
 * refreshed on scrape, and emit counters and durations from the
 * publisher's `onEmit` seam.
 *
 * @module
 */
import { DURATION_BUCKETS } from "../middlewares/_duration_buckets.ts";
import {
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusCounter,
  type PrometheusGauge,
  type PrometheusHistogram,
  PrometheusRegistry,
} from "../middlewares/prometheus_registry.ts";
import type { EmitObserver, EmitRecord } from "./emit_observer.ts";
import type { Status } from "./status.ts";

/** Where a collector gets its status: a subscriber, a publisher, or a function. */
export type StatusSource =
  | { status(): Promise<Status> }
  | (() => Promise<Status>);

/** Options for {@linkcode PrometheusStatusCollector}. */
export interface PrometheusStatusOptions {
  /** Registry to add the gauges to. @default {a new registry} */
  registry?: PrometheusRegistry;
  /** Prefix of every metric name. @default {"walnats"} */
  prefix?: string;
  /**
   * Milliseconds a status is reused: scrapes closer together than this do
   * not ask the server again.
   * @default {1000}
   */
  maxAge?: number;
}

const ACTOR_GAUGES = [
  [
    "pending",
    "actor_pending",
    "Messages not delivered to the actor yet (consumer lag).",
  ],
  [
    "ackPending",
    "actor_ack_pending",
    "Messages delivered to the actor and not acknowledged yet.",
  ],
  [
    "redelivered",
    "actor_redelivered",
    "Unacknowledged messages delivered to the actor more than once.",
  ],
  [
    "waiting",
    "actor_waiting_pulls",
    "Pull requests of the actor waiting for messages.",
  ],
  ["deadLetters", "actor_dead_letters", "Dead letters of the actor."],
  [
    "delayed",
    "actor_delayed",
    "Messages of the actor's event waiting in its delay stream.",
  ],
] as const;

const EVENT_GAUGES = [
  ["messages", "event_messages", "Messages in the event's stream."],
  ["bytes", "event_bytes", "Bytes of the event's stream."],
  ["delayed", "event_delayed", "Messages waiting in the event's delay stream."],
  ["deadLetters", "event_dead_letters", "Dead letters of the event's actors."],
] as const;

/**
 * Gauges of the system's state, read from {@linkcode status} when scraped
 * (at most once per `maxAge`), labelled `actor` and `event` (with the
 * default prefix):
 *
 * | metric | what |
 * | --- | --- |
 * | `walnats_actor_pending` | consumer lag: messages not delivered yet (autoscale on this) |
 * | `walnats_actor_ack_pending` | delivered, not acknowledged yet |
 * | `walnats_actor_redelivered` | unacknowledged messages delivered more than once |
 * | `walnats_actor_waiting_pulls` | pull requests waiting (idle capacity) |
 * | `walnats_actor_dead_letters` | dead letters |
 * | `walnats_actor_delayed` | messages of its event waiting in the delay stream |
 * | `walnats_actor_paused` | 1 when paused |
 * | `walnats_actor_config_matches` | 1 when the consumer has the code's configuration (code-backed sources) |
 * | `walnats_event_messages`, `_bytes`, `_delayed`, `_dead_letters` | per event (`event` label only) |
 * | `walnats_status_up` | 1 when the last status read succeeded; on failure the other gauges are left out |
 *
 * @example Serve job counters and lag together
 * ```ts ignore
 * import { PrometheusMiddleware, PrometheusStatusCollector } from "@walnats/walnats/prometheus";
 *
 * const jobs = new PrometheusMiddleware();
 * const lag = new PrometheusStatusCollector(sub, { registry: jobs.registry });
 * Deno.serve({ port: 9100 }, async () =>
 *   new Response(await lag.metrics(), { headers: { "content-type": lag.contentType } }));
 * ```
 */
export class PrometheusStatusCollector {
  /** The registry holding the gauges. */
  readonly registry: PrometheusRegistry;
  /** The `Content-Type` to serve {@linkcode metrics} with. */
  readonly contentType: string = PROMETHEUS_CONTENT_TYPE;
  readonly #source: () => Promise<Status>;
  readonly #maxAge: number;
  readonly #actor: Map<string, PrometheusGauge>;
  readonly #event: Map<string, PrometheusGauge>;
  readonly #paused: PrometheusGauge;
  readonly #matches: PrometheusGauge;
  readonly #up: PrometheusGauge;
  #at = -Infinity;
  #inFlight: Promise<void> | undefined;

  /**
   * Register the gauges.
   *
   * @param source Where the status comes from.
   * @param options Registry, prefix, and how long a status is reused.
   * @throws {TypeError} The source has no `status()`, or the registry
   *   already has these metrics.
   * @throws {RangeError} `maxAge` is negative.
   */
  constructor(source: StatusSource, options: PrometheusStatusOptions = {}) {
    if (typeof source === "function") {
      this.#source = source;
    } else if (typeof source?.status === "function") {
      this.#source = () => source.status();
    } else {
      throw new TypeError(
        "Cannot create a status collector: the source must be a Subscriber, a Publisher or a function returning a status",
      );
    }
    const maxAge = options.maxAge ?? 1000;
    if (!(maxAge >= 0)) {
      throw new RangeError(
        `Cannot create a status collector: maxAge must be a non-negative number of milliseconds, got ${maxAge}`,
      );
    }
    this.#maxAge = maxAge;
    const registry = options.registry ?? new PrometheusRegistry();
    const p = options.prefix ?? "walnats";
    this.registry = registry;
    this.#actor = new Map(
      ACTOR_GAUGES.map(([key, name, help]) => [
        key,
        registry.gauge(`${p}_${name}`, help, ["actor", "event"]),
      ]),
    );
    this.#paused = registry.gauge(
      `${p}_actor_paused`,
      "1 when the actor is paused.",
      ["actor", "event"],
    );
    this.#matches = registry.gauge(
      `${p}_actor_config_matches`,
      "1 when the actor's consumer has the configuration of the code, 0 when it differs.",
      ["actor", "event"],
    );
    this.#event = new Map(
      EVENT_GAUGES.map(([key, name, help]) => [
        key,
        registry.gauge(`${p}_${name}`, help, ["event"]),
      ]),
    );
    this.#up = registry.gauge(
      `${p}_status_up`,
      "1 when the last status read from NATS succeeded.",
    );
  }

  /**
   * Read the status now and set the gauges (concurrent calls share one
   * read). A failed read clears the gauges and sets `walnats_status_up` to
   * 0; it does not throw.
   */
  async collect(): Promise<void> {
    this.#inFlight ??= this.#collect().finally(() => {
      this.#inFlight = undefined;
    });
    await this.#inFlight;
  }

  async #collect(): Promise<void> {
    let s: Status;
    try {
      s = await this.#source();
    } catch {
      for (const g of [...this.#actor.values(), ...this.#event.values()]) {
        g.clear();
      }
      this.#paused.clear();
      this.#matches.clear();
      this.#up.set({}, 0);
      this.#at = -Infinity;
      return;
    }
    for (const g of [...this.#actor.values(), ...this.#event.values()]) {
      g.clear();
    }
    this.#paused.clear();
    this.#matches.clear();
    for (const a of s.actors) {
      const labels = { actor: a.name, event: a.event };
      for (const [key] of ACTOR_GAUGES) {
        this.#actor.get(key)!.set(labels, a[key]);
      }
      this.#paused.set(labels, a.paused ? 1 : 0);
      if (a.config.matches !== null) {
        this.#matches.set(labels, a.config.matches ? 1 : 0);
      }
    }
    for (const e of s.events) {
      for (const [key] of EVENT_GAUGES) {
        this.#event.get(key)!.set({ event: e.name }, e[key]);
      }
    }
    this.#up.set({}, 1);
    this.#at = performance.now();
  }

  /**
   * Refresh the gauges if the last read is older than `maxAge`, then render
   * the whole registry (job counters registered there included).
   *
   * @returns The Prometheus text exposition.
   */
  async metrics(): Promise<string> {
    if (performance.now() - this.#at >= this.#maxAge) await this.collect();
    return this.registry.metrics();
  }
}

/** Options for {@linkcode PrometheusEmitMetrics}. */
export interface PrometheusEmitOptions {
  /** Registry to add the metrics to. @default {a new registry} */
  registry?: PrometheusRegistry;
  /** Prefix of every metric name. @default {"walnats"} */
  prefix?: string;
  /** Upper bounds of the duration histogram's buckets, in seconds. @default {DURATION_BUCKETS} */
  buckets?: readonly number[];
}

/**
 * Emit counters and durations on the publisher, through `onEmit`:
 *
 * | metric | type | counts |
 * | --- | --- | --- |
 * | `walnats_emits_total` | counter, labels `event`, `outcome` (`ok`, `duplicate`, `error`) | publishes |
 * | `walnats_emit_duration_seconds` | histogram, label `event` | publish to acknowledgement, acknowledged emits only |
 *
 * @example Count emits
 * ```ts
 * import { PrometheusEmitMetrics } from "@walnats/walnats/prometheus";
 * import assert from "node:assert/strict";
 *
 * const emits = new PrometheusEmitMetrics();
 * // await new Events(USER_CREATED).connect(url, { onEmit: [emits.observer] });
 * assert.match(emits.metrics(), /^# TYPE walnats_emits_total counter$/m);
 * ```
 */
export class PrometheusEmitMetrics {
  /** The registry holding the metrics. */
  readonly registry: PrometheusRegistry;
  /** The `Content-Type` to serve {@linkcode metrics} with. */
  readonly contentType: string = PROMETHEUS_CONTENT_TYPE;
  /** Pass this in `onEmit` of `Events.connect`. */
  readonly observer: EmitObserver;
  readonly #emits: PrometheusCounter;
  readonly #duration: PrometheusHistogram;

  /**
   * Register the metrics.
   *
   * @param options Registry, prefix, buckets.
   * @throws {TypeError} The registry already has these metrics.
   */
  constructor(options: PrometheusEmitOptions = {}) {
    const registry = options.registry ?? new PrometheusRegistry();
    const p = options.prefix ?? "walnats";
    this.registry = registry;
    this.#emits = registry.counter(
      `${p}_emits_total`,
      "Messages published by emit, emitMany and request, by outcome.",
      ["event", "outcome"],
    );
    this.#duration = registry.histogram(
      `${p}_emit_duration_seconds`,
      "Seconds from publishing to the stream's acknowledgement.",
      ["event"],
      options.buckets ?? DURATION_BUCKETS,
    );
    this.observer = (record: EmitRecord) => {
      this.#emits.inc({ event: record.event.name, outcome: record.outcome });
      if (record.sync) {
        this.#duration.observe(
          { event: record.event.name },
          record.duration / 1000,
        );
      }
    };
  }

  /**
   * The registry's metrics in the text exposition format.
   *
   * @returns The text.
   */
  metrics(): string {
    return this.registry.metrics();
  }
}
