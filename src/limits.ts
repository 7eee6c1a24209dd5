/**
 * Stream limits of an event, in milliseconds and bytes, and their mapping
 * to a JetStream stream configuration.
 *
 * @module
 */
import { checkPositiveInteger } from "./_names.ts";

/** Limits of an event's stream. Every field is optional. */
export interface Limits {
  /** Oldest message kept, in milliseconds. @default {unlimited} */
  maxAge?: number;
  /** Most messages kept. @default {unlimited} */
  maxMessages?: number;
  /** Most bytes kept. @default {unlimited} */
  maxBytes?: number;
  /** Largest message accepted, in bytes. @default {the server's max_payload} */
  maxMessageSize?: number;
  /** Most consumers (actors) on the stream. @default {unlimited} */
  maxConsumers?: number;
  /** Copies of each message in a cluster (1 to 5). @default {1} */
  replicas?: number;
  /** Where messages are kept. @default {"file"} */
  storage?: "file" | "memory";
  /**
   * Window for de-duplicating messages by `uid`, in milliseconds.
   * @default {120000}
   */
  duplicateWindow?: number;
  /**
   * What to drop when a limit is reached: the oldest messages, or the new
   * one (the emit then fails).
   * @default {"old"}
   */
  discard?: "old" | "new";
}

// [field, unit for messages, largest value the server accepts]. Ages are
// sent in nanoseconds as a Go int64, so they stop at ~292 years (a larger
// value is almost always nanoseconds passed where milliseconds belong);
// `max_msg_size` is an int32 on the server.
const MAX_MS = Math.floor(9_223_372_036_854_775_807 / 1_000_000);
const INT32_MAX = 2_147_483_647;
const INTEGER_FIELDS = [
  ["maxAge", " (milliseconds)", MAX_MS],
  ["maxMessages", "", Number.MAX_SAFE_INTEGER],
  ["maxBytes", " (bytes)", Number.MAX_SAFE_INTEGER],
  ["maxMessageSize", " (bytes)", INT32_MAX],
  ["maxConsumers", "", INT32_MAX],
  ["replicas", "", 5],
  ["duplicateWindow", " (milliseconds)", MAX_MS],
] as const;

const KNOWN = new Set<string>([
  ...INTEGER_FIELDS.map(([field]) => field),
  "storage",
  "discard",
]);

/**
 * Check limits at event construction (walnats' WNS011-012).
 *
 * @param event Event name, for messages.
 * @param limits The limits to check.
 * @throws {TypeError} A limit has the wrong type, or is unknown.
 * @throws {RangeError} A number is not positive or too large.
 */
export function checkLimits(event: string, limits: Limits): void {
  const what = `Cannot create event "${event}"`;
  if (typeof limits !== "object" || limits === null) {
    throw new TypeError(`${what}: limits must be an object`);
  }
  for (const key of Object.keys(limits)) {
    if (!KNOWN.has(key)) {
      throw new TypeError(
        `${what}: unknown limit "${key}"; known limits are ${
          [...KNOWN].join(", ")
        }`,
      );
    }
  }
  for (const [field, unit, max] of INTEGER_FIELDS) {
    const value = limits[field];
    checkPositiveInteger(what, `limits.${field}`, value, unit);
    if (value !== undefined && value > max) {
      const hint = unit === " (milliseconds)"
        ? "; is it in nanoseconds? limits are in milliseconds"
        : "";
      throw new RangeError(
        `${what}: limits.${field} must be at most ${max}${unit}, got ${value}${hint}`,
      );
    }
  }
  if (
    limits.storage !== undefined && limits.storage !== "file" &&
    limits.storage !== "memory"
  ) {
    throw new TypeError(
      `${what}: limits.storage must be "file" or "memory", got ${
        String(limits.storage)
      }`,
    );
  }
  if (
    limits.discard !== undefined && limits.discard !== "old" &&
    limits.discard !== "new"
  ) {
    throw new TypeError(
      `${what}: limits.discard must be "old" or "new", got ${
        String(limits.discard)
      }`,
    );
  }
  if (
    limits.duplicateWindow !== undefined && limits.maxAge !== undefined &&
    limits.duplicateWindow > limits.maxAge
  ) {
    throw new RangeError(
      `${what}: limits.duplicateWindow (${limits.duplicateWindow} ms) must not be longer than limits.maxAge (${limits.maxAge} ms)`,
    );
  }
}

/** Milliseconds to the nanoseconds JetStream wants. */
export function msToNanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}

/** JetStream's default de-duplication window, in milliseconds. */
export const DEFAULT_DUPLICATE_WINDOW = 120_000;
