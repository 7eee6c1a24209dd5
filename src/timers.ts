/**
 * The one time seam of walnats: the engine, the publisher's requests, the
 * clock, decorators and middlewares take their time from a {@linkcode Timers}
 * (the system clock by default, a virtual one under the memory broker or in
 * tests), so nothing has to measure wall time.
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
  /**
   * Call `callback` every `ms` milliseconds.
   *
   * @param callback What to call.
   * @param ms Period in milliseconds.
   * @returns A handle for {@linkcode Timers.clearInterval}.
   */
  setInterval(callback: () => void, ms: number): unknown;
  /**
   * Cancel a callback scheduled by {@linkcode Timers.setInterval}.
   *
   * @param handle The handle `setInterval` returned.
   */
  clearInterval(handle: unknown): void;
  /**
   * A monotonic clock in milliseconds (any origin), for durations and
   * deadlines: a wall-clock step (NTP, a suspended VM) does not move it.
   */
  monotonic(): number;
}

/** The system clock and the global timers. */
export const systemTimers: Timers = {
  now: (): number => Date.now(),
  setTimeout: (callback: () => void, ms: number): unknown =>
    setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void =>
    clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (callback: () => void, ms: number): unknown =>
    setInterval(callback, ms),
  clearInterval: (handle: unknown): void =>
    clearInterval(handle as ReturnType<typeof setInterval>),
  monotonic: (): number => performance.now(),
};

/**
 * Where a connection keeps its own {@linkcode Timers}: the memory broker's
 * connections carry their virtual clock here, so the engine and the
 * publisher running on them follow it.
 */
export const TIMERS: unique symbol = Symbol.for("walnats.timers");

/**
 * The time source for work on `connection`: its own {@linkcode Timers} when it
 * carries one under {@linkcode TIMERS}, else the system's.
 *
 * @param connection A NATS connection (or anything).
 * @returns The timers to use.
 */
export function timersOf(connection: unknown): Timers {
  const own = typeof connection === "object" && connection !== null
    ? (connection as { [TIMERS]?: Timers })[TIMERS]
    : undefined;
  return own ?? systemTimers;
}
