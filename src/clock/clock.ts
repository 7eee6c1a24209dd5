/**
 * {@linkcode Clock}: emits a tick event every period or on a cron schedule,
 * exactly once per tick however many clocks run.
 *
 * @module
 */
import type { Codec } from "../codecs/codec.ts";
import { date, type DateOptions } from "../codecs/date.ts";
import { ValidationError } from "../errors.ts";
import { abortable, deadline } from "../_async.ts";
import { Event } from "../event.ts";
import { consoleLogger, type Logger } from "../log.ts";
import type { EmitOptions } from "../publish/options.ts";
import {
  MAX_DELAY,
  sleep,
  sleepUntil,
  type Timers,
  timersOf,
} from "../_timers.ts";

/** Options for {@linkcode tickCodec}. */
export type TickCodecOptions = DateOptions;

/**
 * The codec of tick events: {@linkcode date}, a `Date` as ISO 8601 text
 * without quotes, the wire format of Python walnats' `datetime` events.
 * `encode` writes UTC as Python writes an aware UTC datetime
 * (`2025-03-30T01:00:00+00:00`, with six fraction digits when there are
 * milliseconds), which `datetime.fromisoformat` reads on every Python
 * version. `decode` reads `Z` or any `±hh:mm` offset; text without an
 * offset is wall-clock time in `options.timeZone` (UTC unless given).
 *
 * Python walnats' `Clock` sends `datetime.now().isoformat()`: naive local
 * time of the clock's machine (`2024-05-06T09:08:00.001234`). Those ticks
 * are read right as they are only when that machine runs in UTC; for a
 * Python clock in another zone, pass that zone.
 *
 * @param name Used in error messages (the event name).
 * @param options The zone of ticks that carry no offset.
 * @returns The codec.
 * @throws {RangeError} The time zone is unknown.
 * @throws {ValidationError} From `encode`: not a valid `Date`.
 * @throws {DecodeError} From `decode`: not an ISO 8601 date-time.
 *
 * @example Round-trip a tick
 * ```ts
 * import { tickCodec } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const codec = tickCodec();
 * const bytes = await codec.encode(new Date("2025-03-30T01:00:00Z"));
 * assert.equal(new TextDecoder().decode(bytes), "2025-03-30T01:00:00+00:00");
 * assert.equal((await codec.decode(bytes)).getTime(), Date.UTC(2025, 2, 30, 1));
 * ```
 */
export function tickCodec(
  name = "tick",
  options: TickCodecOptions = {},
): Codec<Date> {
  return date(name, options);
}

/**
 * The default tick event of {@linkcode Clock}: `minute-passed`, whose
 * payload is the tick's scheduled time (Python walnats' name and format).
 */
export const MINUTE_PASSED: Event<Date> = new Event(
  "minute-passed",
  date("minute-passed"),
);

/**
 * What {@linkcode Clock.run} emits through: a connected `Publisher` (from
 * `events.connect()`) fits.
 */
export interface TickPublisher {
  /**
   * Emit one tick.
   *
   * @param event The clock's event.
   * @param message The tick's scheduled time.
   * @param options The tick's `uid`, and `meta`.
   * @returns Settles when the stream stored the tick.
   */
  emit(
    event: Event<Date>,
    message: Date,
    options: EmitOptions,
  ): Promise<unknown>;
}

/** Options for {@linkcode Clock}. */
export interface ClockOptions {
  /**
   * The tick event; its payload is a `Date` (the tick's scheduled time).
   * @default {MINUTE_PASSED}
   */
  event?: Event<Date>;
  /**
   * Milliseconds between ticks, counted from the Unix epoch, so every clock
   * ticks at the same instants (`60_000`: at the start of each minute).
   * Not with `cron`.
   * @default {60000}
   */
  period?: number;
  /**
   * A cron pattern instead of a period: five fields (minute precision) or
   * six (seconds first), as `croner` reads them, such as `"0 30 2 * * *"`.
   * `croner` is loaded only when this is set.
   */
  cron?: string;
  /**
   * IANA time zone the cron pattern is read in; only with `cron`.
   * @default {"UTC"}
   */
  timeZone?: string;
  /** Extra headers sent with every tick. */
  meta?: Record<string, string>;
  /** Where to report skipped ticks and emit failures. @default {consoleLogger("warn")} */
  logger?: Logger;
  /**
   * The time source; tests pass fake timers.
   * @default {the publisher's connection's (the memory broker's virtual clock), else the system clock}
   */
  timers?: Timers;
}

/** Options for {@linkcode Clock.run}. */
export interface ClockRunOptions {
  /** Stop ticking; `run` then resolves. */
  signal?: AbortSignal;
  /**
   * Emit the current tick (the latest one due) once, and resolve: for
   * cron-style jobs and tests.
   * @default {false}
   */
  burst?: boolean;
}

/** What a finished {@linkcode Clock.run} did. */
export interface ClockReport {
  /** Ticks the stream acknowledged (duplicates of another clock included). */
  emitted: number;
  /** Ticks not emitted because the next one was due first. */
  skipped: number;
}

/** When ticks are due. Fire times are epoch milliseconds. */
interface Schedule {
  /** The first fire time after `after`, or `null` if there is none. */
  next(after: number): number | null;
  /** The latest fire time at or before `at`, or `null`. */
  current(at: number): number | null;
  /** The tick's index, used in its de-duplication id. */
  index(tick: number): number;
}

function periodSchedule(period: number): Schedule {
  return {
    next: (after) => (Math.floor(after / period) + 1) * period,
    current: (at) => Math.floor(at / period) * period,
    index: (tick) => Math.floor(tick / period),
  };
}

async function cronSchedule(
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

/**
 * The next `count` fire times of a cron pattern after `from`, in a time
 * zone, as `Clock` computes them (through `croner`). Across daylight saving
 * changes, a pattern naming a fixed time that does not exist that day fires
 * at the first valid time after the gap, and once when the time repeats;
 * interval patterns (`*`, steps) skip the missing times and fire at both
 * repeated ones.
 *
 * @param cron A cron pattern of five or six fields.
 * @param from Start, exclusive (a `Date` or epoch milliseconds).
 * @param count How many fire times.
 * @param timeZone IANA time zone the pattern is read in.
 * @returns The fire times, ascending.
 * @throws {TypeError} The pattern is not valid.
 * @throws {RangeError} `count` is not a non-negative integer, or the time
 *   zone is unknown.
 *
 * @example Half past two in Berlin, across the spring-forward night
 * ```ts
 * import { nextFireTimes } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const times = await nextFireTimes(
 *   "0 30 2 * * *",
 *   new Date("2024-03-30T12:00:00Z"),
 *   2,
 *   "Europe/Berlin",
 * );
 * // 02:30 does not exist on 31 March: it fires at 03:00 CEST.
 * assert.deepEqual(times.map((t) => t.toISOString()), [
 *   "2024-03-31T01:00:00.000Z",
 *   "2024-04-01T00:30:00.000Z",
 * ]);
 * ```
 */
export async function nextFireTimes(
  cron: string,
  from: Date | number,
  count: number,
  timeZone = "UTC",
): Promise<Date[]> {
  const what = "Cannot compute fire times";
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(
      `${what}: count must be a non-negative integer, got ${count}`,
    );
  }
  checkTimeZone(what, timeZone);
  const schedule = await cronSchedule(what, cron, timeZone);
  const times: Date[] = [];
  let at = typeof from === "number" ? from : from.getTime();
  while (times.length < count) {
    const next = schedule.next(at);
    if (next === null) break;
    times.push(new Date(next));
    at = next;
  }
  return times;
}

function checkTimeZone(what: string, timeZone: unknown): void {
  if (typeof timeZone !== "string" || timeZone === "") {
    throw new TypeError(`${what}: timeZone must be an IANA time zone name`);
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch (error) {
    throw new RangeError(`${what}: unknown time zone "${timeZone}"`, {
      cause: error,
    });
  }
}

/** Pause between attempts to emit a tick that failed, in milliseconds. */
const RETRY_PAUSE = 1000;

type Outcome =
  | { type: "done"; value: unknown }
  | { type: "failed"; error: unknown }
  | { type: "timeout" }
  | { type: "aborted" };

/** Wait for `promise`, at most until `until`, or until `signal` aborts. */
async function settleBefore(
  promise: Promise<unknown>,
  until: number | null,
  signal: AbortSignal | undefined,
  timers: Timers,
): Promise<Outcome> {
  try {
    const value = until === null
      ? await (signal === undefined ? promise : abortable(promise, signal))
      : await deadline(
        promise,
        Math.min(Math.max(0, until - timers.now()), MAX_DELAY),
        { ...(signal ? { signal } : {}), timers },
      );
    return { type: "done", value };
  } catch (error) {
    if (signal?.aborted && error === signal.reason) return { type: "aborted" };
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return { type: "timeout" };
    }
    return { type: "failed", error };
  }
}

/** Errors that retrying cannot fix: bad configuration or a bad payload. */
function isPermanent(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError ||
    error instanceof ValidationError;
}

/**
 * A clock: emits a tick event every `period` milliseconds, or on a cron
 * schedule, so actors can run periodic jobs with all of walnats' retries
 * and load sharing.
 *
 * Run as many clocks as you like (one per subscriber, for availability):
 * every tick is emitted with the de-duplication id
 * `${event.name}:${index}`, where the index is `floor(tickTime / period)`
 * (for cron: the scheduled fire time in milliseconds), and the stream keeps
 * only the first copy within its duplicate window (2 minutes by default).
 * So clocks that share an event must share its schedule. The payload is
 * the tick's scheduled time, not the moment it was sent.
 *
 * A tick that cannot be emitted before the next one is due (the publisher
 * is slow or disconnected, the process was paused) is skipped and logged,
 * never sent late; a publish already on the wire may still be stored.
 *
 * The clock registers nothing: add its event to the `Events` registry the
 * publisher was connected from, and `register()` it.
 *
 * @example Tick every minute, and handle midnight
 * ```ts ignore
 * import { Actor, Actors, Clock, Events, MINUTE_PASSED } from "@walnats/walnats";
 * import { filterTime } from "@walnats/walnats/decorators";
 *
 * await using pub = await new Events(MINUTE_PASSED).connect();
 * await pub.register();
 * const stop = new AbortController();
 * const ticking = new Clock().run(pub, { signal: stop.signal });
 *
 * const BACKUP = new Actor("backup", MINUTE_PASSED, filterTime({ hour: 0, minute: 0 })(
 *   async (tick) => { console.log("backing up", tick.toISOString()); },
 * ));
 * await using sub = await new Actors(BACKUP).connect();
 * await sub.register();
 * await sub.listen({ signal: stop.signal });
 * await ticking;
 * ```
 */
export class Clock {
  /** The tick event. */
  readonly event: Event<Date>;
  /** Milliseconds between ticks; `undefined` with a cron schedule. */
  readonly period: number | undefined;
  /** The cron pattern, if the clock runs on one. */
  readonly cron: string | undefined;
  /** Time zone of the cron pattern. */
  readonly timeZone: string;
  readonly #meta: Record<string, string> | undefined;
  readonly #logger: Logger;
  readonly #timers: Timers | undefined;

  /**
   * Declare a clock. It does nothing until {@linkcode Clock.run} is called.
   *
   * @param options The event, and a period or a cron schedule.
   * @throws {TypeError} Both `period` and `cron` are given, `timeZone` is
   *   given without `cron`, or `event` is not an `Event`.
   * @throws {RangeError} `period` is not a positive integer, or the time
   *   zone is unknown.
   */
  constructor(options: ClockOptions = {}) {
    const event = options.event ?? MINUTE_PASSED;
    if (
      typeof event !== "object" || event === null ||
      typeof (event as { streamConfig?: unknown }).streamConfig !== "function"
    ) {
      throw new TypeError("Cannot create clock: event must be an Event");
    }
    const what = `Cannot create clock "${event.name}"`;
    if (options.cron !== undefined) {
      if (options.period !== undefined) {
        throw new TypeError(`${what}: give either period or cron, not both`);
      }
      if (typeof options.cron !== "string" || options.cron.trim() === "") {
        throw new TypeError(`${what}: cron must be a cron pattern`);
      }
      checkTimeZone(what, options.timeZone ?? "UTC");
    } else {
      if (options.timeZone !== undefined) {
        throw new TypeError(
          `${what}: timeZone applies to cron schedules only (periods count from the Unix epoch)`,
        );
      }
      const period = options.period ?? 60_000;
      if (!Number.isInteger(period) || period < 1) {
        throw new RangeError(
          `${what}: period must be a positive integer of milliseconds, got ${period}`,
        );
      }
    }
    this.event = event;
    this.cron = options.cron;
    this.period = options.cron === undefined
      ? options.period ?? 60_000
      : undefined;
    this.timeZone = options.timeZone ?? "UTC";
    this.#meta = options.meta;
    this.#logger = options.logger ?? consoleLogger("warn");
    this.#timers = options.timers;
  }

  /**
   * Emit ticks until `signal` aborts. The first tick is the first one due
   * after the call; with `burst`, only the current tick (the latest one due)
   * is emitted.
   *
   * @param pub A connected publisher whose registry has the clock's event.
   * @param options `signal` stops the clock; `burst` emits one tick.
   * @returns What was emitted and skipped, once stopped.
   * @throws {TypeError} The cron pattern is not valid, or the event is not
   *   registered with the publisher.
   */
  async run(
    pub: TickPublisher,
    options: ClockRunOptions = {},
  ): Promise<ClockReport> {
    const { signal, burst = false } = options;
    const what = `Cannot run clock "${this.event.name}"`;
    const schedule = this.cron === undefined
      ? periodSchedule(this.period!)
      : await cronSchedule(what, this.cron, this.timeZone);
    const timers = this.#timersFor(pub);
    const report: ClockReport = { emitted: 0, skipped: 0 };
    if (burst) {
      const tick = schedule.current(timers.now());
      if (tick !== null) {
        await this.#emit(pub, schedule, tick, signal, report);
      }
      return report;
    }
    this.#logger.info("clock started", this.#fields());
    let due = schedule.next(timers.now());
    while (due !== null && !signal?.aborted) {
      try {
        await sleepUntil(due, signal, timers);
      } catch (error) {
        if (signal?.aborted) break;
        throw error;
      }
      const tick = Math.max(due, schedule.current(timers.now()) ?? due);
      if (tick > due) {
        const missed = countTicks(schedule, due, tick);
        report.skipped += missed;
        this.#logger.warn(
          "clock skipped ticks that fell due while it could not run",
          {
            ...this.#fields(),
            first: new Date(due).toISOString(),
            count: missed,
          },
        );
      }
      await this.#emit(pub, schedule, tick, signal, report);
      due = schedule.next(tick);
    }
    this.#logger.info("clock stopped", { ...this.#fields(), ...report });
    return report;
  }

  // The clock given, else the publisher connection's own (the memory
  // broker's virtual clock), else the system's.
  #timersFor(pub: TickPublisher): Timers {
    return this.#timers ?? timersOf((pub as { nc?: unknown }).nc);
  }

  #fields(): Record<string, unknown> {
    return this.cron === undefined
      ? { event: this.event.name, period: this.period }
      : { event: this.event.name, cron: this.cron, timeZone: this.timeZone };
  }

  /** Emit one tick, retrying failures until the next tick is due. */
  async #emit(
    pub: TickPublisher,
    schedule: Schedule,
    tick: number,
    signal: AbortSignal | undefined,
    report: ClockReport,
  ): Promise<void> {
    const timers = this.#timersFor(pub);
    const deadline = schedule.next(tick);
    const uid = `${this.event.name}:${schedule.index(tick)}`;
    const fields = {
      ...this.#fields(),
      tick: new Date(tick).toISOString(),
      uid,
    };
    const options: EmitOptions = this.#meta === undefined
      ? { uid }
      : { uid, meta: this.#meta };
    let emitting: Promise<unknown> | undefined;
    let lastError: unknown;
    for (;;) {
      if (signal?.aborted) return;
      if (deadline !== null && timers.now() >= deadline) {
        report.skipped++;
        this.#logger.warn(
          "clock skipped a tick it could not emit before the next was due",
          lastError === undefined ? fields : { ...fields, error: lastError },
        );
        return;
      }
      if (emitting === undefined) {
        emitting = Promise.resolve().then(() =>
          pub.emit(this.event, new Date(tick), options)
        );
        // Settled later if the deadline wins; nothing to report then.
        emitting.catch(() => {});
      }
      const outcome = await settleBefore(emitting, deadline, signal, timers);
      if (outcome.type === "done") {
        report.emitted++;
        const ack = outcome.value as { duplicate?: unknown } | undefined;
        this.#logger.debug("clock emitted a tick", {
          ...fields,
          duplicate: ack?.duplicate === true,
        });
        return;
      }
      if (outcome.type === "failed") {
        if (isPermanent(outcome.error)) throw outcome.error;
        lastError = outcome.error;
        emitting = undefined;
        this.#logger.warn("clock could not emit a tick; retrying", {
          ...fields,
          error: outcome.error,
        });
        const left = deadline === null
          ? RETRY_PAUSE
          : Math.min(RETRY_PAUSE, deadline - timers.now());
        try {
          await sleep(left, signal, timers);
        } catch {
          return; // aborted
        }
      }
      // "timeout": the loop sees the deadline; "aborted": it sees the signal.
    }
  }
}

/** Fire times in `[from, to)`, counted up to a cap for long stalls. */
function countTicks(schedule: Schedule, from: number, to: number): number {
  let count = 0;
  for (let at: number | null = from; at !== null && at < to; count++) {
    if (count === 100_000) break;
    at = schedule.next(at);
  }
  return count;
}
