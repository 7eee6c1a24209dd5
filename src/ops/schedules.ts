/**
 * Durable schedules stored in the NATS KV bucket `walnats_schedules` (key:
 * the schedule's id; value: JSON {@linkcode Schedule}). Storing a schedule
 * emits nothing by itself: a listener that runs schedules emits the event
 * on each tick.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import { checkName } from "../_names.ts";
import {
  checkKey,
  ensureBucket,
  kvDelete,
  kvEntries,
  kvGet,
  kvPut,
} from "./_kv.ts";

/** The KV bucket holding schedules. */
export const SCHEDULES_BUCKET = "walnats_schedules";

/** Longest period accepted: about 24.8 days (a 32-bit timer). */
const MAX_EVERY = 2 ** 31 - 1;

/** A stored schedule: emit `event` with `message` every period or by cron. */
export interface Schedule {
  /** The schedule's id (its KV key). */
  id: string;
  /** The event's name. */
  event: string;
  /** Milliseconds between ticks (exactly one of `every` and `cron`). */
  every?: number;
  /** A cron expression (5 or 6 fields; exactly one of `every` and `cron`). */
  cron?: string;
  /** IANA time zone the cron expression is read in. @default {"UTC"} */
  timeZone?: string;
  /** The payload emitted on each tick (any JSON value). */
  message?: unknown;
  /**
   * Ticks that fell due while no listener could emit them: `"skip"` them,
   * or `"catch-up"` (emit each, in order, at most 1000).
   * @default {"skip"}
   */
  missed?: "skip" | "catch-up";
}

/**
 * Check a schedule: id, event name, exactly one of `every` and `cron`, a
 * known time zone, and a cron expression that parses (with `croner`).
 *
 * @param schedule The schedule.
 * @returns A clean copy (unknown fields dropped).
 * @throws {TypeError} A field is missing, malformed or unknown.
 * @throws {RangeError} `every` is not a positive integer of milliseconds.
 */
export async function checkSchedule(schedule: Schedule): Promise<Schedule> {
  const what = `Cannot store schedule ${JSON.stringify(schedule?.id)}`;
  if (typeof schedule !== "object" || schedule === null) {
    throw new TypeError(`Cannot store schedule: it must be an object`);
  }
  if (typeof schedule.id !== "string") {
    throw new TypeError(`${what}: id must be a string`);
  }
  checkKey(what, schedule.id);
  try {
    checkName("event", schedule.event);
  } catch (error) {
    throw new TypeError(
      `${what}: event ${
        JSON.stringify(schedule.event)
      } is not a valid event name (${
        (error as Error).message.replace(/^Cannot create event[^:]*: /, "")
      })`,
    );
  }
  const clean: Schedule = { id: schedule.id, event: schedule.event };
  if ((schedule.every === undefined) === (schedule.cron === undefined)) {
    throw new TypeError(`${what}: give exactly one of every and cron`);
  }
  if (schedule.every !== undefined) {
    if (
      !Number.isInteger(schedule.every) || schedule.every <= 0 ||
      schedule.every > MAX_EVERY
    ) {
      throw new RangeError(
        `${what}: every must be a positive integer of milliseconds up to ${MAX_EVERY}, got ${
          String(schedule.every)
        }`,
      );
    }
    clean.every = schedule.every;
  }
  if (schedule.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: schedule.timeZone });
    } catch {
      throw new TypeError(
        `${what}: unknown time zone ${JSON.stringify(schedule.timeZone)}`,
      );
    }
    clean.timeZone = schedule.timeZone;
  }
  if (schedule.cron !== undefined) {
    if (typeof schedule.cron !== "string") {
      throw new TypeError(`${what}: cron must be a string`);
    }
    const { Cron } = await import("croner");
    try {
      new Cron(schedule.cron, {
        paused: true,
        ...(schedule.timeZone ? { timezone: schedule.timeZone } : {}),
      }).stop();
    } catch (error) {
      throw new TypeError(
        `${what}: cron ${JSON.stringify(schedule.cron)} does not parse (${
          (error as Error).message
        })`,
      );
    }
    clean.cron = schedule.cron;
  }
  if (schedule.missed !== undefined) {
    if (schedule.missed !== "skip" && schedule.missed !== "catch-up") {
      throw new TypeError(
        `${what}: missed must be "skip" or "catch-up", got ${
          JSON.stringify(schedule.missed)
        }`,
      );
    }
    clean.missed = schedule.missed;
  }
  if (schedule.message !== undefined) {
    // Only JSON survives the store; say so now rather than on a tick.
    clean.message = JSON.parse(JSON.stringify(schedule.message));
  }
  return clean;
}

/**
 * Create or replace a schedule.
 *
 * @param nc A NATS connection.
 * @param schedule The schedule.
 * @returns The stored schedule.
 * @throws {TypeError} The schedule is malformed (see {@linkcode checkSchedule}).
 *
 * @example Emit a report every hour
 * ```ts ignore
 * import { upsertSchedule } from "@walnats/walnats/ops";
 *
 * await upsertSchedule(nc, { id: "hourly-report", event: "report-due", every: 3_600_000 });
 * ```
 */
export async function upsertSchedule(
  nc: NatsConnection,
  schedule: Schedule,
): Promise<Schedule> {
  const clean = await checkSchedule(schedule);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureBucket(jsm, SCHEDULES_BUCKET, "walnats: schedules");
  await kvPut(
    jetstream(nc),
    SCHEDULES_BUCKET,
    clean.id,
    new TextEncoder().encode(JSON.stringify(clean)),
  );
  return clean;
}

/**
 * Remove a schedule.
 *
 * @param nc A NATS connection.
 * @param id The schedule's id.
 * @returns Whether it existed.
 * @throws {TypeError} The id is not a valid KV key.
 */
export async function removeSchedule(
  nc: NatsConnection,
  id: string,
): Promise<boolean> {
  checkKey(`Cannot remove schedule ${JSON.stringify(id)}`, id);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  if (await kvGet(jsm, SCHEDULES_BUCKET, id) === undefined) return false;
  await kvDelete(jetstream(nc), SCHEDULES_BUCKET, id);
  return true;
}

/**
 * Every stored schedule, by id. Values that do not parse as a schedule are
 * reported with an `error` rather than hidden.
 *
 * @param nc A NATS connection.
 * @returns The schedules, sorted by id.
 */
export async function listSchedules(
  nc: NatsConnection,
): Promise<(Schedule & { error?: string })[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const out: (Schedule & { error?: string })[] = [];
  for (const entry of await kvEntries(jsm, SCHEDULES_BUCKET)) {
    try {
      const value = JSON.parse(new TextDecoder().decode(entry.value));
      out.push(await checkSchedule({ ...value, id: entry.key }));
    } catch (error) {
      out.push({
        id: entry.key,
        event: "",
        error: `stored value is not a valid schedule: ${
          (error as Error).message
        }`,
      });
    }
  }
  return out;
}
