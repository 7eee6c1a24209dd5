/**
 * The time source of decorators and the clock: the system clock by default,
 * a fake one in tests, so nothing has to measure wall time.
 *
 * @module
 */

/**
 * Where the current time comes from and how wake-ups are scheduled. The
 * default is the system clock and the global `setTimeout`; tests pass fake
 * timers that they advance by hand.
 */
export interface Timers {
  /** The current time, in epoch milliseconds. */
  now(): number;
  /**
   * Call `callback` once, `ms` milliseconds from now.
   *
   * @param callback What to call.
   * @param ms Delay in milliseconds.
   * @returns A handle for {@linkcode Timers.clearTimeout}.
   */
  setTimeout(callback: () => void, ms: number): unknown;
  /**
   * Cancel a callback scheduled by {@linkcode Timers.setTimeout}.
   *
   * @param handle The handle `setTimeout` returned.
   */
  clearTimeout(handle: unknown): void;
}

/** The system clock and the global timers. */
export const systemTimers: Timers = {
  now: (): number => Date.now(),
  setTimeout: (callback: () => void, ms: number): unknown =>
    setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void =>
    clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Longest delay `setTimeout` accepts (about 24.8 days); longer waits loop. */
export const MAX_DELAY = 2_147_483_647;

/**
 * Wait `ms` milliseconds, or reject with `signal.reason` when it aborts.
 *
 * @param ms Milliseconds; capped at {@linkcode MAX_DELAY}.
 * @param signal Stops the wait.
 * @param timers The time source.
 * @returns Resolves after the delay.
 */
export function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  timers: Timers,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(Math.max(0, ms), MAX_DELAY));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Wait until `timers.now()` reaches `at` (timers may fire early or be capped,
 * so this re-checks the time), or reject with `signal.reason`.
 *
 * @param at Epoch milliseconds.
 * @param signal Stops the wait.
 * @param timers The time source.
 * @returns Resolves at or after `at`.
 */
export async function sleepUntil(
  at: number,
  signal: AbortSignal | undefined,
  timers: Timers,
): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    const ms = at - timers.now();
    if (ms <= 0) return;
    await sleep(ms, signal, timers);
  }
}
