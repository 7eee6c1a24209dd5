/**
 * Handler-directed outcomes: a handler throws {@linkcode PermanentError} to
 * dead-letter its message at once, or {@linkcode RetryError} to be retried
 * after a delay of its own choosing instead of the actor's `retryDelay`.
 *
 * @module
 */

/** Longest delay a {@linkcode RetryError} may ask for: 365 days in milliseconds. */
export const MAX_RETRY_DELAY = 365 * 24 * 3600_000;

/**
 * Throw from a handler when retrying cannot help (a deleted account, a
 * request the downstream API rejects as invalid): the message is
 * dead-lettered at once with reason `"permanent"`, whatever attempts are
 * left.
 *
 * @example Dead-letter at once
 * ```ts
 * import { PermanentError } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const handler = (order: { id: number }) => {
 *   if (order.id < 0) throw new PermanentError(`order ${order.id} is invalid`);
 * };
 * assert.throws(() => handler({ id: -1 }), PermanentError);
 * ```
 */
export class PermanentError extends Error {
  /**
   * Always `"PermanentError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "PermanentError";
}

/** Options for {@linkcode RetryError}. */
export interface RetryErrorOptions extends ErrorOptions {
  /**
   * Milliseconds to wait before the next attempt, in place of the actor's
   * `retryDelay` (at most {@linkcode MAX_RETRY_DELAY}).
   */
  delay: number;
}

/**
 * Throw from a handler to be retried after `delay` ms (a downstream API
 * said "429, retry in 30 s"). It counts as an attempt like any failure: the
 * handler ran, and a message that asks to be retried for ever must still
 * end in the dead-letter stream after `maxAttempts`.
 *
 * @example Retry after the time the API asked for
 * ```ts
 * import { RetryError } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const error = new RetryError("rate limited", { delay: 30_000 });
 * assert.equal(error.delay, 30_000);
 * ```
 */
export class RetryError extends Error {
  /**
   * Always `"RetryError"`: shown in logs and stack traces, and comparable
   * where `instanceof` fails (two copies of the package loaded).
   */
  override name = "RetryError";
  /** Milliseconds to wait before the next attempt. */
  readonly delay: number;

  /**
   * Build the error.
   *
   * @param message What went wrong.
   * @param options `delay` in milliseconds, and the standard `cause`.
   * @throws {RangeError} `delay` is not a number from 0 to
   *   {@linkcode MAX_RETRY_DELAY}.
   */
  constructor(message: string, options: RetryErrorOptions) {
    super(message, options);
    const delay = options?.delay;
    if (
      typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 ||
      delay > MAX_RETRY_DELAY
    ) {
      throw new RangeError(
        `Cannot create RetryError: delay must be a number of milliseconds from 0 to ${MAX_RETRY_DELAY}, got ${
          String(delay)
        }`,
      );
    }
    this.delay = delay;
  }
}

/** Whether `error` is a {@linkcode PermanentError} (from any copy of the package). */
export function isPermanentError(error: unknown): boolean {
  return error instanceof PermanentError ||
    (error instanceof Error && error.name === "PermanentError");
}

/**
 * The delay a {@linkcode RetryError} asks for (from any copy of the
 * package), or `undefined` for any other error or an unusable delay.
 */
export function retryErrorDelay(error: unknown): number | undefined {
  if (!(error instanceof Error) || error.name !== "RetryError") {
    return undefined;
  }
  const delay = (error as { delay?: unknown }).delay;
  return typeof delay === "number" && Number.isFinite(delay) && delay >= 0
    ? Math.min(delay, MAX_RETRY_DELAY)
    : undefined;
}
