// The bounds walnats keeps on every duration and size it sends to, or reads
// from, the server: a value outside them is refused where a caller can fix
// it (a RangeError) and clamped or dead-lettered where it came off the wire.
import { checkPositiveInteger } from "./_names.ts";

const DAY = 86_400_000;

/**
 * Longest `delay` an emit may ask for and longest `retryDelay` entry, in
 * milliseconds: 365 days. nats-server reads a nak delay as a Go
 * `time.Duration` (int64 nanoseconds, about 292 years); past that, or as a
 * float, it ignores the delay and redelivers at once. A year is far inside
 * that range and beyond any job a queue should hold.
 */
export const MAX_DELAY_MS: number = 365 * DAY;

/**
 * Longest wait a `Walnats-Delay` header may ask for, counted from when the
 * listener reads it: {@linkcode MAX_DELAY_MS} and one day for publishers
 * whose clocks run ahead. Further, the message is poison.
 */
export const MAX_HEADER_DELAY_MS: number = MAX_DELAY_MS + DAY;

/**
 * Longest nak delay ever sent, in milliseconds (the last line of defence:
 * `JobMessage.nak` clamps to it).
 */
export const MAX_NAK_DELAY_MS: number = MAX_HEADER_DELAY_MS;

/**
 * Longest `ackWait` and `jobTimeout`, in milliseconds: 2^31 - 1 (about 24.8
 * days), the longest a JavaScript timer waits; a longer one fires at once in
 * every runtime.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Bytes `emit` keeps free under the server's `max_payload` so the message
 * can always be dead-lettered with its headers: the dead-letter story
 * (event, actor, reason, attempts, sequence, subject, stream, time, ids) and
 * the error bounded by {@linkcode DLQ_ERROR_BYTES} and
 * {@linkcode DLQ_STACK_BYTES} take at most about 2 KiB; the rest is slack.
 */
export const DEAD_LETTER_HEADROOM = 4096;

/**
 * The headroom `emit` keeps under a server's `max_payload`:
 * {@linkcode DEAD_LETTER_HEADROOM}, or an eighth of `max_payload` on servers
 * configured below 32 KiB (where a message that still does not fit is
 * dead-lettered without its payload, see `docs/security.md`).
 *
 * @param maxPayload The server's max_payload in bytes.
 * @returns Bytes to keep free.
 */
export function deadLetterHeadroom(maxPayload: number): number {
  return Math.min(DEAD_LETTER_HEADROOM, Math.floor(maxPayload / 8));
}

/** Most bytes of `Name: message` kept in a dead letter's error header. */
export const DLQ_ERROR_BYTES = 512;

/** Most bytes of the stack kept in a dead letter's stack header. */
export const DLQ_STACK_BYTES = 1024;

/**
 * A nak delay as the integer nanoseconds nats-server parses: never
 * negative, never past {@linkcode MAX_NAK_DELAY_MS}, never a float.
 *
 * @param ms Milliseconds; NaN and negatives mean "at once".
 * @returns Nanoseconds, 0 for "at once".
 */
export function nakDelayNanos(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.round(Math.min(ms, MAX_NAK_DELAY_MS) * 1_000_000);
}

/** Check an optional non-negative duration against a maximum. */
export function checkDelay(
  what: string,
  field: string,
  value: unknown,
  max: number = MAX_DELAY_MS,
): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `${what}: ${field} must be a non-negative number of milliseconds, got ${
        String(value)
      }`,
    );
  }
  if (value > max) {
    throw new RangeError(
      `${what}: ${field} must be at most ${max} milliseconds (${
        describe(max)
      }), got ${String(value)}`,
    );
  }
}

/** Check an optional positive integer timeout against {@linkcode MAX_TIMEOUT_MS}. */
export function checkTimeout(
  what: string,
  field: string,
  value: unknown,
): void {
  checkPositiveInteger(what, field, value, " (milliseconds)");
  if (value !== undefined && (value as number) > MAX_TIMEOUT_MS) {
    throw new RangeError(
      `${what}: ${field} must be at most ${MAX_TIMEOUT_MS} milliseconds (about 24.8 days, the longest a timer waits), got ${
        String(value)
      }`,
    );
  }
}

function describe(ms: number): string {
  const days = ms / DAY;
  return Number.isInteger(days) ? `${days} days` : `${ms} ms`;
}

const encoder = new TextEncoder();

/**
 * Cut `text` so that it takes at most `bytes` bytes of UTF-8, on a character
 * boundary, marking the cut with `…`.
 *
 * @param text What to cut.
 * @param bytes Most bytes kept (at least 3, for the mark).
 * @returns `text`, or its start and `…`.
 */
export function truncateUtf8(text: string, bytes: number): string {
  if (text.length * 3 <= bytes || encoder.encode(text).length <= bytes) {
    return text;
  }
  const budget = bytes - 3; // "…" is 3 bytes
  const buf = new Uint8Array(budget + 4);
  const { read } = encoder.encodeInto(text, buf.subarray(0, budget));
  let cut = text.slice(0, read);
  // A lone high surrogate at the end would not encode as it reads.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}
