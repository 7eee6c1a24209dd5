// Reading a `Walnats-Delay` header off the wire, where anything may be
// written: what the job does with it.
import { MAX_HEADER_DELAY_MS } from "../_bounds.ts";

/** What a job does with the `Walnats-Delay` it was delivered with. */
export type DelayVerdict =
  /** No delay, or it has passed: run now. */
  | { readonly kind: "run"; readonly delayed: boolean }
  /** Due later: nak for `ms` without running anything. */
  | { readonly kind: "wait"; readonly ms: number }
  /** Malformed or out of range: poison (dead-lettered, never run). */
  | { readonly kind: "poison"; readonly error: RangeError };

// Epoch seconds as walnats (Python `str(float)`) and we write them; an
// exponent is allowed, hex, `Infinity`, `NaN` and spaces are not.
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const LONGEST = 64;

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
  if (header === undefined || header === "") return RUN;
  const shown = header.length > LONGEST
    ? `${header.slice(0, LONGEST)}… (${header.length} characters)`
    : header;
  if (header.length > LONGEST || !NUMBER.test(header)) {
    return poison(
      `Walnats-Delay "${shown}" is not a number of UTC epoch seconds`,
    );
  }
  const until = Number(header) * 1000;
  if (!Number.isFinite(until)) {
    return poison(`Walnats-Delay "${shown}" is out of range`);
  }
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
