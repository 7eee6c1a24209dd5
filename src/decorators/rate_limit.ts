/**
 * {@linkcode rateLimit}: at most N jobs started per period in one process.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { checkHandler, type Decorator, keepName } from "./decorator.ts";
import { systemTimers, type Timers } from "../_timers.ts";

/** Options for {@linkcode rateLimit}. */
export interface RateLimitOptions {
  /**
   * The time source; tests pass fake timers.
   * @default {the system clock and global timers}
   */
  timers?: Timers;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** A sliding window of start times with a first-come-first-served queue. */
class Limiter {
  readonly #max: number;
  readonly #period: number;
  readonly #timers: Timers;
  /** Start times still inside the window, oldest first. */
  readonly #starts: number[] = [];
  readonly #waiting: Waiter[] = [];
  #timer: unknown = undefined;
  #timerAt: number | undefined = undefined;

  constructor(max: number, period: number, timers: Timers) {
    this.#max = max;
    this.#period = period;
    this.#timers = timers;
  }

  acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiting.length === 0 && this.#take()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(signal?.reason);
          this.#pump();
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#pump();
    });
  }

  /** Record a start now if the window has room. */
  #take(): boolean {
    const now = this.#timers.now();
    while (
      this.#starts.length > 0 && this.#starts[0]! + this.#period <= now
    ) {
      this.#starts.shift();
    }
    if (this.#starts.length >= this.#max) return false;
    this.#starts.push(now);
    return true;
  }

  /** Start waiters while there is room, then sleep until the next slot. */
  #pump(): void {
    while (this.#waiting.length > 0 && this.#take()) {
      const waiter = this.#waiting.shift()!;
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve();
    }
    const at = this.#waiting.length > 0
      ? this.#starts[0]! + this.#period
      : undefined;
    if (at === this.#timerAt) return;
    if (this.#timerAt !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = at === undefined ? undefined : this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.#pump();
    }, Math.max(0, at - this.#timers.now()));
  }
}

/**
 * Limit how many jobs start per period, in this process: the handler runs
 * at most `max` times in any `period` milliseconds, counted from when each
 * job starts; more jobs wait their turn, first come first served.
 *
 * The budget belongs to the decorator: apply one `rateLimit(...)` to several
 * handlers and they share it. A waiting job gives up when `ctx.signal`
 * aborts (job timeout, shutdown), rejecting with the signal's reason, and
 * takes no slot. Keep `max / period` well above the rate messages arrive, or
 * jobs wait out their `jobTimeout`; to limit across processes, run fewer
 * copies or use a lower `maxJobs`.
 *
 * @param max Jobs that may start within one period; a positive integer.
 * @param period The window, in milliseconds; positive.
 * @param options The time source, for tests.
 * @returns A decorator for handlers.
 * @throws {RangeError} `max` or `period` is out of range.
 *
 * @example Send at most 30 text messages a minute
 * ```ts
 * import { rateLimit } from "@walnats/walnats/decorators";
 * import type { Context } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const sent: string[] = [];
 * const sendSms = rateLimit(30, 60_000)((phone: string) => {
 *   sent.push(phone);
 *   return phone.length;
 * });
 * const ctx = { signal: new AbortController().signal } as Context<string>;
 * assert.equal(await sendSms("+123", ctx), 4);
 * assert.deepEqual(sent, ["+123"]);
 * ```
 */
export function rateLimit(
  max: number,
  period: number,
  options: RateLimitOptions = {},
): Decorator {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Cannot create rateLimit: max must be a positive integer, got ${max}`,
    );
  }
  if (!Number.isFinite(period) || period <= 0) {
    throw new RangeError(
      `Cannot create rateLimit: period must be a positive number of milliseconds, got ${period}`,
    );
  }
  const limiter = new Limiter(max, period, options.timers ?? systemTimers);
  return <T, R>(handler: (message: T, ctx: Context<T>) => R | Promise<R>) => {
    checkHandler("rateLimit", handler);
    return keepName(async (message: T, ctx: Context<T>): Promise<R> => {
      await limiter.acquire(ctx?.signal);
      return await handler(message, ctx);
    }, handler);
  };
}
