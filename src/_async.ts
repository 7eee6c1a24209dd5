// The async toolkit of the package: waiting on signals and deadlines the
// way denoland/std's async/abortable.ts and async/deadline.ts do, with time
// taken from a Timers (the one time seam), plus small shared helpers.
import { systemTimers, type Timers } from "./_timers.ts";

/** Turn anything thrown into an `Error` (non-errors become their text). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Resolve with `promise`, or reject with `signal.reason` as soon as `signal`
 * aborts (the promise itself is left to settle on its own).
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** A signal that aborts with a `TimeoutError` `DOMException` after `ms`. */
export function timeoutSignal(
  ms: number,
  timers: Timers = systemTimers,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const handle = timers.setTimeout(
    () =>
      controller.abort(
        new DOMException("Signal timed out.", "TimeoutError"),
      ),
    ms,
  );
  return {
    signal: controller.signal,
    clear: () => timers.clearTimeout(handle),
  };
}

/**
 * Resolve with `promise`, or reject after `ms` milliseconds with a
 * `TimeoutError` `DOMException` (or with `signal.reason` if it aborts first).
 */
export async function deadline<T>(
  promise: Promise<T>,
  ms: number,
  options: { signal?: AbortSignal; timers?: Timers } = {},
): Promise<T> {
  const timeout = timeoutSignal(ms, options.timers);
  const signal = options.signal === undefined
    ? timeout.signal
    : AbortSignal.any([options.signal, timeout.signal]);
  try {
    return await abortable(promise, signal);
  } finally {
    timeout.clear();
  }
}

/** Resolve once `signal` aborts (never rejects). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

/**
 * Resolve after `ms` milliseconds, or early (without rejecting) once
 * `signal` aborts.
 */
export function pause(
  ms: number,
  timers: Timers,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      timers.clearTimeout(handle);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const handle = timers.setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Join byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
