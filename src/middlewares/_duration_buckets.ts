// Default histogram buckets of job durations, shared by the Prometheus and
// OpenTelemetry metrics.

/**
 * Default histogram bucket boundaries (upper bounds) for job durations, in
 * seconds: Prometheus clients' defaults, plus 30 and 60 for jobs near the
 * default 32-second `jobTimeout`.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
]);
