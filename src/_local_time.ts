// Wall-clock time in an IANA zone to epoch milliseconds, for payloads that
// carry a naive local time (Python's `datetime.now().isoformat()`).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at instant `at`, in milliseconds. */
function offsetAt(at: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(at))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const wall = new Date(0);
  wall.setUTCFullYear(parts.year!, parts.month! - 1, parts.day!);
  wall.setUTCHours(parts.hour!, parts.minute!, parts.second!, 0);
  return wall.getTime() - (at - (((at % 1000) + 1000) % 1000));
}

/**
 * The instant whose wall-clock time in `timeZone` is `wall` (the wall time
 * written as if it were UTC, in epoch milliseconds). A time repeated when
 * the clocks go back is read as its first occurrence; a time skipped when
 * they go forward is moved forward by the gap.
 *
 * @throws {RangeError} The time zone is unknown.
 */
export function wallTimeToEpoch(wall: number, timeZone: string): number {
  if (timeZone === "UTC") return wall;
  // The offset a few hours before settles which side of a transition the
  // wall time is on; one correction after it covers the rest.
  let guess = wall - offsetAt(wall - 6 * 3_600_000, timeZone);
  for (let i = 0; i < 2; i++) {
    const next = wall - offsetAt(guess, timeZone);
    if (next === guess) break;
    guess = next;
  }
  return guess;
}
