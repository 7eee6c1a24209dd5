/**
 * {@linkcode EmitObserver}: a seam on the publisher that sees every emit's
 * outcome and duration, for metrics (`PrometheusEmitMetrics`,
 * `otelEmitMetrics`) or your own accounting.
 *
 * @module
 */
import type { AnyEvent } from "../event.ts";

/** One emit, as an {@linkcode EmitObserver} sees it. */
export interface EmitRecord {
  /** The event emitted. */
  event: AnyEvent;
  /**
   * Milliseconds from handing the message to the connection to the
   * stream's acknowledgement (0 for `sync: false`).
   */
  duration: number;
  /** `"ok"`, `"duplicate"` (dropped by de-duplication) or `"error"`. */
  outcome: "ok" | "duplicate" | "error";
  /** Whether the stream's acknowledgement was awaited. */
  sync: boolean;
  /** Why it failed (with `outcome: "error"`). */
  error?: Error;
}

/**
 * Called after every publish of `emit`, `emitMany` and `request` (payloads
 * that fail validation are never published and not reported). It must not
 * block: it runs on the emit path. An observer that throws is reported on
 * `console.error` and does not fail the emit.
 *
 * @param record What happened.
 */
export type EmitObserver = (record: EmitRecord) => void;

/** Call every observer; a throwing one cannot fail the emit. */
export function notifyEmit(
  observers: readonly EmitObserver[],
  record: EmitRecord,
): void {
  for (const observe of observers) {
    try {
      observe(record);
    } catch (error) {
      // The publisher has no logger; an observer bug must be seen without
      // failing the emit.
      // deno-lint-ignore no-console -- the only place left to report it
      console.error("walnats: an onEmit observer threw", error);
    }
  }
}
