/**
 * {@linkcode filterTime}: run a handler only at times matching a pattern.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { systemTimers, type Timers } from "../_timers.ts";
import { checkHandler, keepName, type OptionalDecorator } from "./decorator.ts";

/**
 * A time pattern, like the fields of a cron line: a field left out matches
 * any value; a number matches that value; a list (any iterable, such as an
 * array or a `Set`) matches any of its values.
 */
export interface TimePattern {
  /** Full year, such as 2025. */
  year?: number | Iterable<number>;
  /** Month, 1 (January) to 12 (December); not JavaScript's 0-based month. */
  month?: number | Iterable<number>;
  /** Day of the month, 1 to 31. */
  day?: number | Iterable<number>;
  /** Hour, 0 to 23. */
  hour?: number | Iterable<number>;
  /** Minute, 0 to 59. */
  minute?: number | Iterable<number>;
  /** Day of the week, 0 (Sunday) to 6 (Saturday); 7 is Sunday too, as in cron. */
  weekday?: number | Iterable<number>;
}

/** Options for {@linkcode filterTime}. */
export interface FilterTimeOptions {
  /**
   * IANA time zone the pattern is read in (`"Europe/Berlin"`), using the
   * runtime's `Intl` data.
   * @default {"UTC"}
   */
  timeZone?: string;
  /**
   * The time source, used when the message is not a `Date`; tests pass
   * fake timers.
   * @default {systemTimers}
   */
  timers?: Timers;
}

type Field = keyof TimePattern;

const RANGES: Record<Field, [number, number]> = {
  year: [1, 9999],
  month: [1, 12],
  day: [1, 31],
  hour: [0, 23],
  minute: [0, 59],
  weekday: [0, 7],
};

const FIELDS = Object.keys(RANGES) as Field[];

const WEEKDAYS: Record<string, number> = {
  Sun: 0,
  Mon: 1,
  Tue: 2,
  Wed: 3,
  Thu: 4,
  Fri: 5,
  Sat: 6,
};

type Parts = Record<Field, number>;

function compile(pattern: TimePattern): [Field, Set<number>][] {
  if (typeof pattern !== "object" || pattern === null) {
    throw new TypeError(
      `Cannot create filterTime: pattern must be an object, got ${
        pattern === null ? "null" : typeof pattern
      }`,
    );
  }
  for (const key of Object.keys(pattern)) {
    if (!(FIELDS as string[]).includes(key)) {
      throw new TypeError(
        `Cannot create filterTime: unknown field "${key}"; use ${
          FIELDS.join(", ")
        }`,
      );
    }
  }
  const compiled: [Field, Set<number>][] = [];
  for (const field of FIELDS) {
    const value = pattern[field];
    if (value === undefined) continue;
    const values = typeof value === "number" ? [value] : value;
    if (
      typeof values !== "object" || values === null ||
      typeof (values as Iterable<number>)[Symbol.iterator] !== "function"
    ) {
      throw new TypeError(
        `Cannot create filterTime: ${field} must be a number or a list of numbers`,
      );
    }
    const [min, max] = RANGES[field];
    const set = new Set<number>();
    for (const n of values) {
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new RangeError(
          `Cannot create filterTime: ${field} must be an integer from ${min} to ${max}, got ${n}`,
        );
      }
      set.add(field === "weekday" && n === 7 ? 0 : n);
    }
    if (set.size === 0) {
      throw new RangeError(
        `Cannot create filterTime: ${field} is an empty list, which matches no time`,
      );
    }
    compiled.push([field, set]);
  }
  return compiled;
}

function utcParts(date: Date): Parts {
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    weekday: date.getUTCDay(),
  };
}

function zonedParts(format: Intl.DateTimeFormat): (date: Date) => Parts {
  return (date) => {
    const parts: Parts = {
      year: 0,
      month: 0,
      day: 0,
      hour: 0,
      minute: 0,
      weekday: 0,
    };
    for (const part of format.formatToParts(date)) {
      if (part.type === "weekday") {
        parts.weekday = WEEKDAYS[part.value] ?? 0;
      } else if (part.type in parts) {
        parts[part.type as Field] = Number.parseInt(part.value, 10);
      }
    }
    // Some engines write midnight as 24 even with hourCycle h23.
    parts.hour %= 24;
    return parts;
  };
}

function partsReader(timeZone: string): (date: Date) => Parts {
  if (typeof timeZone !== "string" || timeZone === "") {
    throw new TypeError(
      "Cannot create filterTime: timeZone must be an IANA time zone name",
    );
  }
  if (timeZone.toUpperCase() === "UTC") return utcParts;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      weekday: "short",
      hourCycle: "h23",
    });
  } catch (error) {
    throw new RangeError(
      `Cannot create filterTime: unknown time zone "${timeZone}"`,
      { cause: error },
    );
  }
  return zonedParts(format);
}

/**
 * Run the handler only when the time matches `pattern`; otherwise return
 * `undefined` at once, so the job succeeds without doing anything.
 *
 * A companion of the `Clock`: one tick event per minute can drive actors
 * that run hourly, daily or on weekdays only. When the message is a `Date`
 * (a clock tick), that date is matched, so a tick retried or delivered late
 * still runs as the time it stands for; for any other message the current
 * time is matched. Fields are read in UTC unless `timeZone` is given.
 *
 * @param pattern The fields to match; `{}` matches every time.
 * @param options Time zone, and the current time for tests.
 * @returns A decorator for handlers.
 * @throws {TypeError} The pattern has an unknown field or a field of the
 *   wrong type.
 * @throws {RangeError} A value is out of its field's range, a list is
 *   empty, or the time zone is unknown.
 *
 * @example Back up at midnight, and ping every 5 minutes
 * ```ts
 * import { filterTime } from "@walnats/walnats/decorators";
 * import type { Context } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const ran: string[] = [];
 * const backup = filterTime({ hour: 0, minute: 0 })((tick: Date) => {
 *   ran.push(tick.toISOString());
 * });
 * const ping = filterTime({ minute: [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55] })(
 *   (tick: Date) => tick.getUTCMinutes(),
 * );
 * const ctx = {} as Context<Date>;
 * backup(new Date("2025-01-01T00:00:00Z"), ctx);
 * backup(new Date("2025-01-01T00:01:00Z"), ctx);
 * assert.deepEqual(ran, ["2025-01-01T00:00:00.000Z"]);
 * assert.equal(ping(new Date("2025-01-01T10:35:00Z"), ctx), 35);
 * assert.equal(ping(new Date("2025-01-01T10:36:00Z"), ctx), undefined);
 * ```
 */
export function filterTime(
  pattern: TimePattern,
  options: FilterTimeOptions = {},
): OptionalDecorator {
  const compiled = compile(pattern);
  const read = partsReader(options.timeZone ?? "UTC");
  const timers = options.timers ?? systemTimers;
  const matches = (date: Date): boolean => {
    if (Number.isNaN(date.getTime())) {
      throw new RangeError("Cannot filter by time: the date is invalid");
    }
    if (compiled.length === 0) return true;
    const parts = read(date);
    return compiled.every(([field, values]) => values.has(parts[field]));
  };
  return <T, R>(handler: (message: T, ctx: Context<T>) => R | Promise<R>) => {
    checkHandler("filterTime", handler);
    return keepName(
      (message: T, ctx: Context<T>): R | undefined | Promise<R | undefined> => {
        const when = message instanceof Date ? message : new Date(timers.now());
        if (!matches(when)) return undefined;
        return handler(message, ctx);
      },
      handler,
    );
  };
}
