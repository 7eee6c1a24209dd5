// upsertSchedule() on the publisher: the options turned into a stored
// schedule, its message checked against the event's codec first.
import type { AnyEvent } from "../event.ts";
import type { Schedule } from "../ops/schedules.ts";
import type { ScheduleOptions } from "./options.ts";

/**
 * The schedule to store for `options`.
 *
 * @throws {TypeError} `options` is not an object.
 * @throws {ValidationError} `message` does not match the event's schema.
 */
export async function scheduleOf(
  id: string,
  event: AnyEvent,
  options: ScheduleOptions<unknown>,
): Promise<Schedule> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot store schedule ${JSON.stringify(id)}: options must be an object`,
    );
  }
  const schedule: Schedule = { id, event: event.name };
  if (options.every !== undefined) schedule.every = options.every;
  if (options.cron !== undefined) schedule.cron = options.cron;
  if (options.timeZone !== undefined) schedule.timeZone = options.timeZone;
  if (options.missed !== undefined) schedule.missed = options.missed;
  if (options.message !== undefined) {
    // Stored as JSON and encoded by the listeners on each tick: check now
    // that what survives JSON still encodes.
    const stored = JSON.parse(JSON.stringify(options.message));
    await event.codec.encode(stored);
    schedule.message = stored;
  }
  return schedule;
}
