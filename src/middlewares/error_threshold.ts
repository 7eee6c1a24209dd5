/**
 * {@linkcode errorThreshold}: pass failures on to a middleware only once
 * they pile up.
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

/** Options for {@linkcode errorThreshold}; each is a count of failures. */
export interface ErrorThresholdOptions {
  /**
   * Failures in a row, over all actors using this wrapper, from which on
   * they are passed on: the whole system is unhealthy.
   * @default {20}
   */
  total?: number;
  /**
   * Failures in a row of one actor from which on they are passed on: the
   * actor is unhealthy.
   * @default {20}
   */
  actor?: number;
  /**
   * Attempt of one message from which on its failures are passed on: the
   * message is unhealthy.
   * @default {20}
   */
  message?: number;
}

function positiveInteger(name: string, value: number | undefined): number {
  if (value === undefined) return 20;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create errorThreshold middleware: ${name} must be a positive integer, got ${value}`,
    );
  }
  return value;
}

function actorKey(ctx: Context): string {
  return `${ctx.event.name}.${ctx.actor}`;
}

/**
 * Wrap a middleware so its `onFailure` runs only when failures accumulate:
 * the failure is passed on when it is at least the `total`-th failure in a
 * row over all actors sharing the wrapper, or the `actor`-th in a row of
 * its actor, or the message's attempt is at least `message`. Any success
 * resets the overall count and its actor's count. `onStart` and
 * `onSuccess` always pass through. Use it to alert on an unhealthy system,
 * actor or message rather than on every failure; share one wrapper between
 * actors for `total` to mean anything.
 *
 * Python walnats compares the count before the failure with `>`, so with a
 * threshold of 20 it passes failures on from the 22nd; here the 20th
 * failure is the first one passed on.
 *
 * @typeParam T The payload type.
 * @param middleware The middleware to pass failures on to.
 * @param options The thresholds.
 * @returns The wrapping middleware.
 * @throws {RangeError} A threshold is not a positive integer.
 *
 * @example Alert on the third failure in a row
 * ```ts
 * import { errorThreshold } from "@walnats/walnats/middlewares";
 * import assert from "node:assert/strict";
 *
 * let alerts = 0;
 * const alert = errorThreshold({ onFailure: () => void alerts++ }, { actor: 3 });
 * const failure = {
 *   actor: "greet",
 *   event: { name: "user-created" },
 *   attempt: 1,
 *   error: new Error("boom"),
 * } as Parameters<NonNullable<typeof alert.onFailure>>[0];
 * for (let i = 0; i < 4; i++) alert.onFailure!(failure);
 * assert.equal(alerts, 2); // the third and the fourth
 * ```
 */
export function errorThreshold<T = unknown>(
  middleware: Middleware<T>,
  options: ErrorThresholdOptions = {},
): Middleware<T> {
  const total = positiveInteger("total", options.total);
  const actor = positiveInteger("actor", options.actor);
  const message = positiveInteger("message", options.message);
  let overall = 0;
  const perActor = new Map<string, number>();
  return {
    onStart(ctx: StartContext<T>): void | Promise<void> {
      return middleware.onStart?.(ctx);
    },
    onSuccess(ctx: SuccessContext<T>): void | Promise<void> {
      overall = 0;
      perActor.delete(actorKey(ctx));
      return middleware.onSuccess?.(ctx);
    },
    onFailure(ctx: FailureContext<T>): void | Promise<void> {
      const key = actorKey(ctx);
      overall++;
      const count = (perActor.get(key) ?? 0) + 1;
      perActor.set(key, count);
      if (overall >= total || count >= actor || ctx.attempt >= message) {
        return middleware.onFailure?.(ctx);
      }
    },
  };
}
