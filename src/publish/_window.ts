// Bulk work with a bounded window in flight: nats.js has no publish
// back-pressure, so emitMany keeps at most `window` publishes waiting for
// their acknowledgement, and reports failures by index.
import { asError } from "../_async.ts";

/** One failed item: its index and why. */
export interface WindowFailure {
  index: number;
  error: Error;
}

/**
 * Run `work` over `items` with at most `window` calls pending; an aborted
 * `signal` fails the items not started yet.
 *
 * @returns Each item's result (`undefined` where it failed), and the
 *   failures sorted by index.
 */
export async function inWindow<T, R>(
  items: readonly T[],
  window: number,
  signal: AbortSignal | undefined,
  aborted: () => Error,
  work: (item: T, index: number) => Promise<R>,
): Promise<{ results: (R | undefined)[]; failures: WindowFailure[] }> {
  const results: (R | undefined)[] = new Array(items.length).fill(undefined);
  const failures: WindowFailure[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      if (signal?.aborted) {
        failures.push({ index, error: aborted() });
        continue;
      }
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failures.push({ index, error: asError(error) });
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(window, items.length) }, worker),
  );
  failures.sort((a, b) => a.index - b.index);
  return { results, failures };
}
