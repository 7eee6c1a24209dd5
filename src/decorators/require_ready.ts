/**
 * {@linkcode requireReady}: hold jobs back until a dependency is ready.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { checkHandler, type Decorator, keepName } from "./decorator.ts";
import { sleep, systemTimers, type Timers } from "../_timers.ts";

/** Options for {@linkcode requireReady}. */
export interface RequireReadyOptions {
  /**
   * Milliseconds between checks of the predicate while it is false.
   * @default {1000}
   */
  pause?: number;
  /**
   * The time source; tests pass fake timers.
   * @default {the system clock and global timers}
   */
  timers?: Timers;
}

/**
 * Run the handler only once `predicate` returns true; until then the job
 * waits, checking again every `pause` milliseconds. For dependencies that
 * come up after the subscriber does (a database connection, a warm cache).
 *
 * The wait ends when `ctx.signal` aborts (job timeout, shutdown): the job
 * then rejects with the signal's reason and is retried later like any other
 * failure. An error thrown by the predicate fails the job.
 *
 * @param predicate Whether the handler may run now; sync or async.
 * @param options How often to check again.
 * @returns A decorator for handlers.
 * @throws {TypeError} `predicate` is not a function.
 * @throws {RangeError} `pause` is negative or not a number.
 *
 * @example Wait for the database
 * ```ts
 * import { requireReady } from "@walnats/walnats/decorators";
 * import type { Context } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const db = { connected: true, rows: [] as string[] };
 * const save = requireReady(() => db.connected, { pause: 500 })(
 *   (row: string) => {
 *     db.rows.push(row);
 *   },
 * );
 * await save("a", { signal: new AbortController().signal } as Context<string>);
 * assert.deepEqual(db.rows, ["a"]);
 * ```
 */
export function requireReady(
  predicate: () => boolean | Promise<boolean>,
  options: RequireReadyOptions = {},
): Decorator {
  if (typeof predicate !== "function") {
    throw new TypeError(
      `Cannot create requireReady: predicate must be a function, got ${
        predicate === null ? "null" : typeof predicate
      }`,
    );
  }
  const pause = options.pause ?? 1000;
  if (!Number.isFinite(pause) || pause < 0) {
    throw new RangeError(
      `Cannot create requireReady: pause must be a non-negative number of milliseconds, got ${pause}`,
    );
  }
  const timers = options.timers ?? systemTimers;
  return <T, R>(handler: (message: T, ctx: Context<T>) => R | Promise<R>) => {
    checkHandler("requireReady", handler);
    return keepName(async (message: T, ctx: Context<T>): Promise<R> => {
      const signal = ctx?.signal;
      for (;;) {
        signal?.throwIfAborted();
        if (await predicate()) break;
        await sleep(pause, signal, timers);
      }
      return await handler(message, ctx);
    }, handler);
  };
}
