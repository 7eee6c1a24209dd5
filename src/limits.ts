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

const INTEGER_FIELDS = [
  ["maxAge", " (milliseconds)"],
  ["maxMessages", ""],
  ["maxBytes", " (bytes)"],
  ["maxMessageSize", " (bytes)"],
  ["maxConsumers", ""],
  ["replicas", ""],
  ["duplicateWindow", " (milliseconds)"],
] as const;

/** Check limits at event construction (walnats' WNS011-012). */
export function checkLimits(event: string, limits: Limits): void {
  const what = `Cannot create event "${event}"`;
  if (typeof limits !== "object" || limits === null) {
    throw new TypeError(`${what}: limits must be an object`);
  }
  for (const [field, unit] of INTEGER_FIELDS) {
    checkPositiveInteger(what, `limits.${field}`, limits[field], unit);
  }
  if (limits.replicas !== undefined && limits.replicas > 5) {
    throw new RangeError(
      `${what}: limits.replicas must be 1 to 5, got ${limits.replicas}`,
    );
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
