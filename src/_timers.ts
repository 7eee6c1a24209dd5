// Waiting on a Timers: sleep and sleep-until, capped at what setTimeout
// accepts. The Timers seam itself is public, in timers.ts (re-exported here
// for the modules that import both).
import type { Timers } from "./timers.ts";

export { systemTimers, TIMERS, timersOf } from "./timers.ts";
export type { Timers } from "./timers.ts";

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
