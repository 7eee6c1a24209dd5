// Small numeric helpers shared by the scenarios and the runner.

/** Latency summary, milliseconds. */
export interface LatencyFigure {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
}

/** The `q`-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** Summarise latency samples (milliseconds). */
export function summarize(samples: readonly number[]): LatencyFigure {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((s, x) => s + x, 0);
  return {
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN,
    samples: sorted.length,
  };
}

/** `12345.6` → `"12,346"`. */
export function grouped(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Milliseconds, with microsecond precision below 1 ms. */
export function ms(n: number): string {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  if (n >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

/** Bytes as MiB with one decimal. */
export function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
