// When ticks are due, shared by the Clock and the durable schedules that
// listeners run (src/listen/_schedules.ts): periods counted from the Unix
// epoch, or cron patterns in a time zone read by croner.

/** When ticks are due. Fire times are epoch milliseconds. */
export interface Schedule {
  /** The first fire time after `after`, or `null` if there is none. */
  next(after: number): number | null;
  /** The latest fire time at or before `at`, or `null`. */
  current(at: number): number | null;
  /** The tick's index, used in its de-duplication id. */
  index(tick: number): number;
}

export function periodSchedule(period: number): Schedule {
  return {
    next: (after) => (Math.floor(after / period) + 1) * period,
    current: (at) => Math.floor(at / period) * period,
    index: (tick) => Math.floor(tick / period),
  };
}

export async function cronSchedule(
  what: string,
  pattern: string,
  timeZone: string,
): Promise<Schedule> {
  const { Cron } = await import("croner");
  let cron: InstanceType<typeof Cron>;
  try {
    cron = new Cron(pattern, { timezone: timeZone, paused: true });
    cron.nextRun(new Date(0));
  } catch (error) {
    throw new TypeError(
      `${what}: invalid cron pattern "${pattern}" (${
        (error as Error).message
      })`,
      { cause: error },
    );
  }
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
    // Fire times are whole seconds: the latest one at or before `at` is the
    // latest one before the next whole second.
    current: (at) =>
      cron.previousRuns(1, new Date(Math.floor(at / 1000) * 1000 + 1000))[0]
        ?.getTime() ?? null,
    index: (tick) => tick,
  };
}
