// What a job does with the `Walnats-Delay` it was delivered with (the
// format and its parser are in publish/_wire.ts, beside the writer).
import { MAX_HEADER_DELAY_MS } from "../_bounds.ts";
import { parseDelay } from "../publish/_wire.ts";

/** What a job does with the `Walnats-Delay` it was delivered with. */
export type DelayVerdict =
  /** No delay, or it has passed: run now. */
  | { readonly kind: "run"; readonly delayed: boolean }
  /** Due later: nak for `ms` without running anything. */
  | { readonly kind: "wait"; readonly ms: number }
  /** Malformed or out of range: poison (dead-lettered, never run). */
  | { readonly kind: "poison"; readonly error: RangeError };

const RUN: DelayVerdict = { kind: "run", delayed: false };
const RAN_LATE: DelayVerdict = { kind: "run", delayed: true };

/**
 * Judge a `Walnats-Delay` header.
 *
 * @param header The header's value (`""` when absent: nats.js cannot tell
 *   the two apart, and an empty value asks for nothing).
 * @param now The listener's wall clock, epoch milliseconds.
 * @param stored When the stream stored the message, epoch milliseconds.
 * @param maxAge The stream's `maxAge` in milliseconds, if it has one: a
 *   delay past the message's expiry could never be honoured.
 * @returns Run now, wait, or poison.
 */
export function judgeDelay(
  header: string | undefined,
  now: number,
  stored: number,
  maxAge: number | undefined,
): DelayVerdict {
  const parsed = parseDelay(header);
  if (parsed.kind === "none") return RUN;
  if (parsed.kind === "malformed") return poison(parsed.reason);
  const { until, shown } = parsed;
  const left = until - now;
  if (left <= 1) return until > stored + 1 ? RAN_LATE : RUN;
  if (left > MAX_HEADER_DELAY_MS) {
    return poison(
      `Walnats-Delay "${shown}" is ${
        Math.round(left / 86_400_000)
      } days ahead, more than the ${
        MAX_HEADER_DELAY_MS / 86_400_000
      } days a delay may wait`,
    );
  }
  if (maxAge !== undefined && until > stored + maxAge) {
    return poison(
      `Walnats-Delay "${shown}" is after the message expires (the stream's maxAge is ${maxAge} ms)`,
    );
  }
  return { kind: "wait", ms: left };
}

function poison(message: string): DelayVerdict {
  return { kind: "poison", error: new RangeError(message) };
}
