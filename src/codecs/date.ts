/**
 * {@linkcode date}: a point in time, as the ISO 8601 text Python walnats
 * sends for `datetime` events.
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { DecodeError, ValidationError } from "../errors.ts";
import { wallTimeToEpoch } from "../_local_time.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// What Python's datetime.isoformat() and date.isoformat() produce, plus the
// common ISO 8601 extended forms (`Z`, a space separator, 1-9 fraction
// digits). Groups: year, month, day, hour, minute, second, fraction, offset.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?)?)?$/;
const OFFSET = /^([+-])(\d{2}):?(\d{2})?:?(\d{2})?(?:\.(\d{1,6}))?$/;

const pad = (n: number, width: number): string =>
  String(n).padStart(width, "0");

/** Options for {@linkcode date}. */
export interface DateOptions {
  /**
   * IANA time zone of texts that carry no offset (naive local times);
   * texts with `Z` or an offset are exact whatever this says. A wall time
   * repeated when clocks go back reads as its first occurrence.
   * @default {"UTC"}
   */
  timeZone?: string;
}

/**
 * Date codec, wire-compatible with Python walnats' `datetime` events: the
 * payload is the ISO 8601 text of `datetime.isoformat()`, with no quotes.
 *
 * `encode` writes UTC the way Python writes an aware UTC datetime:
 * `2024-05-06T07:08:09.123000+00:00` (six fraction digits, omitted when the
 * milliseconds are zero), which `datetime.fromisoformat` reads on every
 * Python version. `decode` reads any offset, `Z`, a date alone
 * (`2024-05-06`, midnight UTC), and a datetime without an offset, which
 * it takes as UTC: that is what Python services using `datetime.utcnow()`
 * mean (or, with `options.timeZone`, as wall-clock time in that zone: Python
 * walnats' clock sends `datetime.now().isoformat()`, the naive local time of
 * its machine). Fractions finer than a millisecond are truncated.
 *
 * @param name Used in error messages (the event name).
 * @param options The zone of texts without an offset.
 * @returns The codec, with content type `text/plain; charset=utf-8`.
 * @throws {ValidationError} From `encode`: not a `Date`, an invalid `Date`,
 *   or a year outside 1-9999 (Python's `datetime` range).
 * @throws {DecodeError} From `decode`: the bytes are not an ISO 8601 date or
 *   date-time, or name a day or time that does not exist.
 *
 * @example Pin the wire format
 * ```ts
 * import { date } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = date();
 * const data = await codec.encode(new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)));
 * assert.equal(new TextDecoder().decode(data), "2024-05-06T07:08:09.123000+00:00");
 * const back = await codec.decode(new TextEncoder().encode("2024-05-06T09:08:09+02:00"));
 * assert.equal(back.toISOString(), "2024-05-06T07:08:09.000Z");
 * ```
 */
export function date(
  name = "payload",
  options: DateOptions = {},
): Codec<Date> {
  const timeZone = options.timeZone ?? "UTC";
  if (timeZone !== "UTC") {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone });
    } catch {
      throw new RangeError(
        `Cannot create date codec "${name}": unknown time zone ${
          JSON.stringify(timeZone)
        }`,
      );
    }
  }
  return {
    contentType: "text/plain; charset=utf-8",
    encode(value: Date): Uint8Array {
      return encoder.encode(format(value, name));
    },
    decode(data: Uint8Array): Date {
      let raw: string;
      try {
        raw = decoder.decode(data);
      } catch (error) {
        throw new DecodeError(
          `Cannot decode a payload of "${name}": not valid UTF-8 text`,
          { cause: error },
        );
      }
      const parsed = parse(raw.trim(), timeZone);
      if (parsed === undefined) {
        const shown = raw.length > 64 ? `${raw.slice(0, 64)}...` : raw;
        throw new DecodeError(
          `Cannot decode a payload of "${name}": not an ISO 8601 date or date-time (${
            JSON.stringify(shown)
          })`,
        );
      }
      return parsed;
    },
  };
}

function format(value: Date, name: string): string {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ValidationError(name, [{
      message: value instanceof Date
        ? "expected a valid Date, got Invalid Date"
        : `expected a Date, got ${value === null ? "null" : typeof value}`,
    }]);
  }
  const year = value.getUTCFullYear();
  if (year < 1 || year > 9999) {
    throw new ValidationError(name, [{
      message:
        `expected a year between 1 and 9999 (Python's datetime range), got ${year}`,
    }]);
  }
  const ms = value.getUTCMilliseconds();
  return `${pad(year, 4)}-${pad(value.getUTCMonth() + 1, 2)}-${
    pad(value.getUTCDate(), 2)
  }T${pad(value.getUTCHours(), 2)}:${pad(value.getUTCMinutes(), 2)}:${
    pad(value.getUTCSeconds(), 2)
  }${ms === 0 ? "" : `.${pad(ms, 3)}000`}+00:00`;
}

function parse(raw: string, timeZone: string): Date | undefined {
  const m = ISO.exec(raw);
  if (m === null) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", offset] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  if (year < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Number(frac.padEnd(3, "0").slice(0, 3));
  const at = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  at.setUTCFullYear(year, month - 1, day);
  if (at.getUTCMonth() !== month - 1 || at.getUTCDate() !== day) {
    return undefined;
  }
  at.setUTCHours(hour, minute, second, ms);
  if (offset === undefined && timeZone !== "UTC") {
    return new Date(wallTimeToEpoch(at.getTime(), timeZone));
  }
  let shift = 0;
  if (offset !== undefined && offset !== "Z" && offset !== "z") {
    const o = OFFSET.exec(offset);
    if (o === null) return undefined;
    const [, sign, oh, om = "0", os = "0", of = ""] = o;
    if (Number(om) > 59 || Number(os) > 59) return undefined;
    shift = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * 1000 +
      Number(of.padEnd(3, "0").slice(0, 3));
    if (shift >= 86_400_000) return undefined;
    if (sign === "-") shift = -shift;
  }
  return new Date(at.getTime() - shift);
}
