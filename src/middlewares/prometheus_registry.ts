/**
 * {@linkcode PrometheusRegistry}: counters and histograms rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * @module
 */

/** The `Content-Type` to serve {@linkcode PrometheusRegistry.metrics} with. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A sample value as Prometheus writes it (Go's float syntax). */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Escape a label value: backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

/** Escape a HELP text: backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatLabels(names: readonly string[], values: readonly string[]) {
  if (names.length === 0) return "";
  const pairs = names.map((name, i) =>
    `${name}="${escapeLabelValue(values[i] ?? "")}"`
  );
  return `{${pairs.join(",")}}`;
}

/**
 * What {@linkcode PrometheusCounter} and {@linkcode PrometheusHistogram}
 * share: a named metric with one series per set of label values. Both come
 * from {@linkcode PrometheusRegistry}; this base is exported as a type only,
 * to document the members they inherit.
 *
 * @typeParam S The state kept per series.
 */
export abstract class MetricFamily<S> {
  /** The metric name, as written in the exposition. */
  readonly name: string;
  /** The HELP text: what the metric measures. */
  readonly help: string;
  /** Names of the labels, in output order; frozen. */
  readonly labelNames: readonly string[];
  readonly #series = new Map<string, { values: string[]; state: S }>();

  /**
   * Check the names and set up an empty family.
   *
   * @param kind `"counter"` or `"histogram"`, for error messages.
   * @param name Metric name, matching `[a-zA-Z_:][a-zA-Z0-9_:]*`.
   * @param help What the metric measures.
   * @param labelNames Label names, matching `[a-zA-Z_][a-zA-Z0-9_]*`, not
   *   starting with `__`, not repeated.
   * @param reserved Label names this kind writes itself (`le`).
   * @throws {TypeError} A name is invalid, repeated or reserved.
   */
  constructor(
    kind: string,
    name: string,
    help: string,
    labelNames: readonly string[],
    reserved: readonly string[] = [],
  ) {
    const what = `Cannot create ${kind} "${name}"`;
    if (!METRIC_NAME.test(name)) {
      throw new TypeError(
        `${what}: name must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
      );
    }
    const seen = new Set<string>();
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new TypeError(
          `${what}: label "${label}" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"`,
        );
      }
      if (reserved.includes(label)) {
        throw new TypeError(`${what}: label "${label}" is reserved`);
      }
      if (seen.has(label)) {
        throw new TypeError(`${what}: label "${label}" is repeated`);
      }
      seen.add(label);
    }
    this.name = name;
    this.help = help;
    this.labelNames = Object.freeze([...labelNames]);
  }

  /**
   * A fresh state for a series seen for the first time.
   *
   * @returns The zeroed state.
   */
  protected abstract create(): S;

  /**
   * The state of the series with these label values, created on first use.
   *
   * @param labels A value for every label name.
   * @returns The state, to update in place.
   * @throws {TypeError} A label is missing.
   */
  protected series(labels: Labels): S {
    const values = this.labelNames.map((name) => {
      const value = labels[name];
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot record metric "${this.name}": label "${name}" is missing`,
        );
      }
      return value;
    });
    const key = JSON.stringify(values);
    let entry = this.#series.get(key);
    if (entry === undefined) {
      entry = { values, state: this.create() };
      this.#series.set(key, entry);
    }
    return entry.state;
  }

  /**
   * The state of the series with these label values, without creating it.
   *
   * @param labels Label values; missing ones count as `""`.
   * @returns The state, or `undefined` if the series was never recorded.
   */
  protected peek(labels: Labels): S | undefined {
    const values = this.labelNames.map((name) => labels[name] ?? "");
    return this.#series.get(JSON.stringify(values))?.state;
  }

  /**
   * All series, ordered by label values (for a stable output).
   *
   * @returns Label values (in `labelNames` order) and state of each
   *   series.
   */
  protected all(): { labels: string[]; state: S }[] {
    return [...this.#series.values()]
      .map((e) => ({ labels: e.values, state: e.state }))
      .sort((a, b) => {
        for (let i = 0; i < a.labels.length; i++) {
          const x = a.labels[i]!;
          const y = b.labels[i]!;
          if (x !== y) return x < y ? -1 : 1;
        }
        return 0;
      });
  }

  /**
   * The metric in the text exposition format: HELP and TYPE lines, then
   * one or more lines per series.
   *
   * @returns The text, ending in a line feed.
   */
  abstract render(): string;

  /** Forget every series; the metric stays registered. */
  clear(): void {
    this.#series.clear();
  }
}

/**
 * A counter: a value that only goes up, one per set of label values.
 */
export class PrometheusCounter extends MetricFamily<{ value: number }> {
  /** @internal Use {@linkcode PrometheusRegistry.counter}. */
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super("counter", name, help, labelNames);
  }

  /**
   * A new series starts at 0.
   *
   * @returns `{ value: 0 }`.
   */
  protected override create(): { value: number } {
    return { value: 0 };
  }

  /**
   * Add to the counter of these label values.
   *
   * @param labels A value for every label name.
   * @param value How much to add; not negative.
   * @throws {TypeError} A label is missing.
   * @throws {RangeError} `value` is negative or not a number.
   */
  inc(labels: Labels = {}, value = 1): void {
    if (!(value >= 0)) {
      throw new RangeError(
        `Cannot increment counter "${this.name}": value must be a number >= 0, got ${value}`,
      );
    }
    this.series(labels).value += value;
  }

  /**
   * The counter's current value for these label values (0 if never
   * incremented).
   *
   * @param labels A value for every label name.
   * @returns The value.
   */
  get(labels: Labels = {}): number {
    return this.peek(labels)?.value ?? 0;
  }

  /** @internal Text exposition of this counter. */
  override render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n` +
      `# TYPE ${this.name} counter\n`;
    for (const { labels, state } of this.all()) {
      out += `${this.name}${formatLabels(this.labelNames, labels)} ${
        formatValue(state.value)
      }\n`;
    }
    return out;
  }
}

/**
 * A histogram: observations counted into cumulative buckets, with their sum
 * and count, one per set of label values.
 */
export class PrometheusHistogram extends MetricFamily<{
  counts: number[];
  sum: number;
  count: number;
}> {
  /** Upper bounds of the buckets, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];

  /** @internal Use {@linkcode PrometheusRegistry.histogram}. */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    super("histogram", name, help, labelNames, ["le"]);
    if (buckets.length === 0) {
      throw new RangeError(
        `Cannot create histogram "${name}": buckets must not be empty`,
      );
    }
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i]!;
      if (!Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!)) {
        throw new RangeError(
          `Cannot create histogram "${name}": buckets must be finite and strictly ascending`,
        );
      }
    }
    this.buckets = Object.freeze([...buckets]);
  }

  /**
   * A new series has every bucket, the sum and the count at 0.
   *
   * @returns Zeroed bucket counts (cumulative: each counts the
   *   observations up to its bound), sum and count.
   */
  protected override create(): {
    counts: number[];
    sum: number;
    count: number;
  } {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  /**
   * Record one observation.
   *
   * @param labels A value for every label name.
   * @param value The observed value.
   * @throws {TypeError} A label is missing.
   */
  observe(labels: Labels, value: number): void {
    const state = this.series(labels);
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) state.counts[i]!++;
    }
    state.sum += value;
    state.count++;
  }

  /**
   * Count and sum of the observations for these label values.
   *
   * @param labels A value for every label name.
   * @returns Count and sum (zeros if nothing was observed).
   */
  get(labels: Labels = {}): { count: number; sum: number } {
    const state = this.peek(labels);
    return { count: state?.count ?? 0, sum: state?.sum ?? 0 };
  }

  /** @internal Text exposition of this histogram. */
  override render(): string {
    const names = [...this.labelNames, "le"];
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n` +
      `# TYPE ${this.name} histogram\n`;
    for (const { labels, state } of this.all()) {
      for (let i = 0; i < this.buckets.length; i++) {
        out += `${this.name}_bucket${
          formatLabels(names, [...labels, formatValue(this.buckets[i]!)])
        } ${state.counts[i]}\n`;
      }
      out += `${this.name}_bucket${
        formatLabels(names, [...labels, "+Inf"])
      } ${state.count}\n`;
      const own = formatLabels(this.labelNames, labels);
      out += `${this.name}_sum${own} ${formatValue(state.sum)}\n`;
      out += `${this.name}_count${own} ${state.count}\n`;
    }
    return out;
  }
}

/**
 * A gauge: a value that goes up and down (a queue's length, a lag), one per
 * set of label values.
 */
export class PrometheusGauge extends MetricFamily<{ value: number }> {
  /** @internal Use {@linkcode PrometheusRegistry.gauge}. */
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super("gauge", name, help, labelNames);
  }

  /**
   * A new series starts at 0.
   *
   * @returns `{ value: 0 }`.
   */
  protected override create(): { value: number } {
    return { value: 0 };
  }

  /**
   * Set the gauge of these label values.
   *
   * @param labels A value for every label name.
   * @param value The value.
   * @throws {TypeError} A label is missing.
   */
  set(labels: Labels, value: number): void {
    this.series(labels).value = value;
  }

  /**
   * The gauge's current value for these label values (0 if never set).
   *
   * @param labels A value for every label name.
   * @returns The value.
   */
  get(labels: Labels = {}): number {
    return this.peek(labels)?.value ?? 0;
  }

  /** @internal Text exposition of this gauge. */
  override render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n` +
      `# TYPE ${this.name} gauge\n`;
    for (const { labels, state } of this.all()) {
      out += `${this.name}${formatLabels(this.labelNames, labels)} ${
        formatValue(state.value)
      }\n`;
    }
    return out;
  }
}

/**
 * A set of metrics rendered together in the Prometheus text exposition
 * format. No HTTP server comes with it: serve {@linkcode metrics} from
 * yours.
 *
 * @example Render a counter
 * ```ts
 * import { PrometheusRegistry } from "@walnats/walnats/prometheus";
 * import assert from "node:assert/strict";
 *
 * const registry = new PrometheusRegistry();
 * const sent = registry.counter("emails_sent_total", "Emails sent", ["kind"]);
 * sent.inc({ kind: "welcome" });
 * assert.equal(
 *   registry.metrics(),
 *   "# HELP emails_sent_total Emails sent\n" +
 *     "# TYPE emails_sent_total counter\n" +
 *     'emails_sent_total{kind="welcome"} 1\n',
 * );
 * ```
 */
export class PrometheusRegistry {
  readonly #families = new Map<
    string,
    PrometheusCounter | PrometheusHistogram | PrometheusGauge
  >();

  #add<F extends PrometheusCounter | PrometheusHistogram | PrometheusGauge>(
    family: F,
  ): F {
    if (this.#families.has(family.name)) {
      throw new TypeError(
        `Cannot register metric "${family.name}": a metric with this name is already registered`,
      );
    }
    this.#families.set(family.name, family);
    return family;
  }

  /**
   * Register a counter. By convention its name ends in `_total`.
   *
   * @param name Metric name.
   * @param help What it counts.
   * @param labelNames Names of its labels, in output order.
   * @returns The counter.
   * @throws {TypeError} A name is invalid or already registered.
   */
  counter(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
  ): PrometheusCounter {
    return this.#add(new PrometheusCounter(name, help, labelNames));
  }

  /**
   * Register a gauge.
   *
   * @param name Metric name.
   * @param help What it measures, with the unit.
   * @param labelNames Names of its labels, in output order.
   * @returns The gauge.
   * @throws {TypeError} A name is invalid or already registered.
   */
  gauge(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
  ): PrometheusGauge {
    return this.#add(new PrometheusGauge(name, help, labelNames));
  }

  /**
   * Register a histogram.
   *
   * @param name Metric name (the `_bucket`, `_sum` and `_count` series get
   *   suffixes).
   * @param help What it measures, with the unit.
   * @param labelNames Names of its labels, in output order (not `le`).
   * @param buckets Upper bounds, strictly ascending; `+Inf` is implied.
   * @returns The histogram.
   * @throws {TypeError} A name is invalid or already registered.
   * @throws {RangeError} The buckets are empty, not finite or not ascending.
   */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): PrometheusHistogram {
    return this.#add(new PrometheusHistogram(name, help, labelNames, buckets));
  }

  /**
   * Every metric in the text exposition format, in registration order; a
   * metric without samples yet is listed with its HELP and TYPE lines only.
   *
   * @returns The text, ending in a line feed (empty if nothing is registered).
   */
  metrics(): string {
    let out = "";
    for (const family of this.#families.values()) out += family.render();
    return out;
  }

  /** Forget every sample, keeping the metrics registered. */
  clear(): void {
    for (const family of this.#families.values()) family.clear();
  }
}
