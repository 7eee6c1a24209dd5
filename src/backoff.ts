/**
 * {@linkcode exponentialBackoff}: a `retryDelay` that doubles per attempt,
 * capped, with jitter so that many messages failing together do not retry
 * in lock-step.
 *
 * @module
 */

/** Options for {@linkcode exponentialBackoff}; times in milliseconds. */
export interface ExponentialBackoffOptions {
  /** Milliseconds before the first retry (before jitter). @default {500} */
  base?: number;
  /** Longest delay, in milliseconds. @default {60000} */
  max?: number;
  /** Growth per attempt. @default {2} */
  factor?: number;
  /**
   * `"full"`: a uniform random delay from 0 to the exponential value (AWS'
   * "full jitter": the best spread); `"equal"`: half fixed, half random;
   * `"none"`: the exponential value itself.
   * @default {"full"}
   */
  jitter?: "full" | "equal" | "none";
  /** Random numbers in [0, 1). @default {Math.random} */
  random?: () => number;
}

function check(field: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Cannot create exponentialBackoff: ${field} must be a finite number of at least ${min}, got ${
        String(value)
      }`,
    );
  }
  return value;
}

/**
 * A retry schedule for an actor's `retryDelay`: the retry after failed
 * attempt `n` waits `min(max, base * factor ** (n - 1))`, jittered.
 *
 * @param options Base, cap, growth and jitter.
 * @returns `(attempt) => milliseconds`, `attempt` 1-based.
 * @throws {RangeError} An option is negative, not finite, or `max < base`.
 *
 * @example Capped exponential backoff with full jitter
 * ```ts
 * import { exponentialBackoff } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const delay = exponentialBackoff({ base: 1000, max: 8000, jitter: "none" });
 * assert.deepEqual([1, 2, 3, 4, 5].map(delay), [1000, 2000, 4000, 8000, 8000]);
 * const jittered = exponentialBackoff({ base: 1000, max: 8000 });
 * assert.ok(jittered(3) >= 0 && jittered(3) <= 4000);
 * ```
 */
export function exponentialBackoff(
  options: ExponentialBackoffOptions = {},
): (attempt: number) => number {
  const base = check("base", options.base ?? 500, 0);
  const max = check("max", options.max ?? 60_000, 0);
  const factor = check("factor", options.factor ?? 2, 1);
  const jitter = options.jitter ?? "full";
  const random = options.random ?? Math.random;
  if (max < base) {
    throw new RangeError(
      `Cannot create exponentialBackoff: max (${max} ms) must not be less than base (${base} ms)`,
    );
  }
  if (jitter !== "full" && jitter !== "equal" && jitter !== "none") {
    throw new TypeError(
      `Cannot create exponentialBackoff: jitter must be "full", "equal" or "none", got ${
        String(jitter)
      }`,
    );
  }
  if (typeof random !== "function") {
    throw new TypeError(
      "Cannot create exponentialBackoff: random must be a function",
    );
  }
  return (attempt: number): number => {
    const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
    // factor ** large n overflows to Infinity; min() caps it.
    const ceiling = Math.min(max, base * factor ** (n - 1));
    if (jitter === "none") return ceiling;
    const r = Math.min(Math.max(random(), 0), 1);
    if (jitter === "equal") return Math.round(ceiling / 2 + r * ceiling / 2);
    return Math.round(r * ceiling);
  };
}
