/**
 * {@linkcode frequency}: pass hooks on to a middleware at most once per
 * time frame.
 *
 * @module
 */
import { systemTimers, type Timers } from "../_timers.ts";
import type { Context } from "../context.ts";
import type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "./middleware.ts";

/** Options for {@linkcode frequency}. */
export interface FrequencyOptions {
  /**
   * Milliseconds during which a hook passed on is not passed on again.
   * @default {600000}
   */
  timeframe?: number;
  /**
   * The time source (its monotonic clock is used); tests pass fake timers.
   * @default {systemTimers}
   */
  timers?: Timers;
}

function actorKey(ctx: Context): string {
  return `${ctx.event.name}.${ctx.actor}`;
}

/**
 * Wrap a middleware so each hook reaches it at most once per `timeframe`:
 * `onStart` and `onSuccess` once per actor, `onFailure` once per actor and
 * kind of error (`error.name`). Use it to keep a notification channel from
 * being flooded with copies of the same alert when everything fails at
 * once; share one wrapper between actors.
 *
 * Python walnats means `onFailure` to pass once per error type per actor,
 * but a bug there passes the first failure of each time frame whatever its
 * type; here each error name gets its own time frame, as documented there.
 *
 * @typeParam T The payload type.
 * @param middleware The middleware to pass hooks on to.
 * @param options The time frame and clock.
 * @returns The wrapping middleware.
 * @throws {RangeError} `timeframe` is not a number >= 0.
 *
 * @example Report the same error once a minute
 * ```ts
 * import { systemTimers } from "@walnats/walnats";
 * import { frequency } from "@walnats/walnats/middlewares";
 * import assert from "node:assert/strict";
 *
 * let now = 0; // a hand-driven clock for the example
 * let reports = 0;
 * const report = frequency({ onFailure: () => void reports++ }, {
 *   timeframe: 60_000,
 *   timers: { ...systemTimers, monotonic: () => now },
 * });
 * const failure = {
 *   actor: "greet",
 *   event: { name: "user-created" },
 *   error: new TypeError("boom"),
 * } as Parameters<NonNullable<typeof report.onFailure>>[0];
 * report.onFailure!(failure);
 * report.onFailure!(failure);
 * now = 60_000;
 * report.onFailure!(failure);
 * assert.equal(reports, 2);
 * ```
 */
export function frequency<T = unknown>(
  middleware: Middleware<T>,
  options: FrequencyOptions = {},
): Middleware<T> {
  const timeframe = options.timeframe ?? 600_000;
  if (!(timeframe >= 0)) {
    throw new RangeError(
      `Cannot create frequency middleware: timeframe must be a number >= 0, got ${timeframe}`,
    );
  }
  const timers = options.timers ?? systemTimers;
  const now = (): number => timers.monotonic();
  const last = new Map<string, number>();
  // Whether the hook for this key may pass now; records it if so.
  const pass = (key: string): boolean => {
    const t = now();
    const previous = last.get(key);
    if (previous !== undefined && t - previous < timeframe) return false;
    last.set(key, t);
    return true;
  };
  return {
    onStart(ctx: StartContext<T>): void | Promise<void> {
      if (pass(`start\u0000${actorKey(ctx)}`)) return middleware.onStart?.(ctx);
    },
    onSuccess(ctx: SuccessContext<T>): void | Promise<void> {
      if (pass(`success\u0000${actorKey(ctx)}`)) {
        return middleware.onSuccess?.(ctx);
      }
    },
    onFailure(ctx: FailureContext<T>): void | Promise<void> {
      if (pass(`failure\u0000${actorKey(ctx)}\u0000${ctx.error.name}`)) {
        return middleware.onFailure?.(ctx);
      }
    },
  };
}
