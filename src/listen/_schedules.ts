// Durable schedules as one listener runs them: the KV bucket
// `walnats_schedules` is read every SCHEDULE_POLL ms; each schedule whose
// event has an actor here is emitted on its ticks, with the id
// `schedule:<id>:<index>` so that however many listeners run it the
// event's stream stores each tick once (see docs/delays-and-schedules.md).
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import {
  cronSchedule,
  periodSchedule,
  type Schedule as When,
} from "../clock/_schedule.ts";
import { ValidationError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import { HEADER_ID } from "../headers.ts";
import type { Logger } from "../log.ts";
import { ensureBucket, kvEntries, kvGet, kvPut } from "../ops/_kv.ts";
import {
  checkSchedule,
  type Schedule,
  SCHEDULES_BUCKET,
} from "../ops/schedules.ts";
import type { AckInbox } from "../publish/_ack_inbox.ts";
import { publishAcked } from "../publish/_retry.ts";
import { pause } from "../_async.ts";
import type { Timers } from "../_timers.ts";

/** Milliseconds between reads of the schedules bucket. */
export const SCHEDULE_POLL = 2000;
/** Milliseconds between looks at the clock for due ticks. */
const TICK_CHECK = 100;
/** With `missed: "skip"`, a tick older than this is not emitted. */
export const SKIP_AFTER = 5000;
/** With `missed: "catch-up"`, most missed ticks emitted. */
export const CATCH_UP_MAX = 1000;
/** Where the last tick emitted of each catch-up schedule is kept. */
export const TICKS_BUCKET = "walnats_schedule_ticks";
/** The header naming the schedule a tick came from. */
export const HEADER_SCHEDULE = "Walnats-Schedule";

/** The de-duplication id of one tick of a schedule. */
export function tickId(id: string, index: number): string {
  return `schedule:${id}:${index}`;
}

interface Running {
  readonly def: Schedule;
  /** The stored value, to notice changes. */
  readonly text: string;
  readonly when: When;
  readonly event: AnyEvent;
  /** The last tick emitted (or passed over), epoch ms. */
  last: number | undefined;
  busy: boolean;
}

/** Counters the schedules of a listener report to. */
export interface ScheduleStats {
  /** Ticks the event streams acknowledged (another listener's included). */
  ticks: number;
}

/** Runs the stored schedules of the events a listener has actors for. */
export class ScheduleRunner {
  readonly #js: JetStreamClient;
  readonly #acks: AckInbox;
  readonly #jsm: JetStreamManager;
  readonly #events: ReadonlyMap<string, AnyEvent>;
  readonly #timers: Timers;
  readonly #logger: Logger;
  readonly #stats: ScheduleStats;
  readonly #running = new Map<string, Running>();
  readonly #stop = new AbortController();
  readonly #bad = new Set<string>();
  #loops: Promise<unknown> | undefined;
  #failing = false;
  #ticksBucket = false;

  constructor(
    js: JetStreamClient,
    acks: AckInbox,
    jsm: JetStreamManager,
    events: readonly AnyEvent[],
    timers: Timers,
    logger: Logger,
    stats: ScheduleStats,
  ) {
    this.#js = js;
    this.#acks = acks;
    this.#jsm = jsm;
    this.#events = new Map(events.map((e) => [e.name, e]));
    this.#timers = timers;
    this.#logger = logger;
    this.#stats = stats;
  }

  /** Run until {@linkcode ScheduleRunner.stop}. */
  start(): void {
    const signal = this.#stop.signal;
    this.#loops ??= Promise.all([
      (async () => {
        while (!signal.aborted) {
          await this.reload();
          await pause(SCHEDULE_POLL, this.#timers, signal);
        }
      })(),
      (async () => {
        while (!signal.aborted) {
          this.#check();
          await pause(TICK_CHECK, this.#timers, signal);
        }
      })(),
    ]);
  }

  /** Stop; a tick being emitted finishes first. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loops;
    while ([...this.#running.values()].some((r) => r.busy)) {
      await pause(10, this.#timers);
    }
  }

  /** Read the bucket and start, change or drop schedules to match. */
  async reload(): Promise<void> {
    let entries;
    try {
      entries = await kvEntries(this.#jsm, SCHEDULES_BUCKET);
    } catch (error) {
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.warn("could not read schedules; keeping the last ones", {
          error,
        });
      }
      return;
    }
    this.#failing = false;
    const seen = new Set<string>();
    for (const entry of entries) {
      const text = new TextDecoder().decode(entry.value);
      seen.add(entry.key);
      const old = this.#running.get(entry.key);
      if (old !== undefined && old.text === text) continue;
      let def: Schedule;
      let when: When;
      try {
        def = await checkSchedule({ ...JSON.parse(text), id: entry.key });
        when = def.every !== undefined
          ? periodSchedule(def.every)
          : await cronSchedule(
            `Cannot run schedule "${def.id}"`,
            def.cron!,
            def.timeZone ?? "UTC",
          );
      } catch (error) {
        // Reported once per stored value, not every poll.
        const mark = `${entry.key}\n${text}`;
        if (!this.#bad.has(mark)) {
          this.#bad.add(mark);
          this.#logger.error("stored schedule is not valid; not running it", {
            schedule: entry.key,
            error,
          });
        }
        this.#running.delete(entry.key);
        continue;
      }
      const event = this.#events.get(def.event);
      if (event === undefined) {
        // Another service's event: its listeners run it.
        this.#running.delete(entry.key);
        continue;
      }
      this.#running.set(entry.key, {
        def,
        text,
        when,
        event,
        last: old?.last,
        busy: old?.busy ?? false,
      });
      if (old === undefined) {
        this.#logger.info("running schedule", { schedule: def.id, ...def });
      }
    }
    for (const id of [...this.#running.keys()]) {
      if (!seen.has(id)) this.#running.delete(id);
    }
  }

  #check(): void {
    const now = this.#timers.now();
    for (const r of this.#running.values()) {
      if (r.busy) continue;
      const current = r.when.current(now);
      if (current === null) continue;
      if (r.last !== undefined && current <= r.last) continue;
      r.busy = true;
      void this.#catchUp(r, current).finally(() => (r.busy = false));
    }
  }

  // Emit the ticks due up to `current` that the policy wants, in order.
  async #catchUp(r: Running, current: number): Promise<void> {
    const catchUp = r.def.missed === "catch-up";
    if (r.last === undefined && catchUp) r.last = await this.#lastTick(r);
    const ticks: number[] = [];
    if (catchUp && r.last !== undefined) {
      for (
        let t = r.when.next(r.last);
        t !== null && t <= current;
        t = r.when.next(t)
      ) {
        ticks.push(t);
        if (ticks.length > CATCH_UP_MAX) ticks.shift();
      }
    } else if (this.#timers.now() - current <= SKIP_AFTER) {
      ticks.push(current);
    }
    if (ticks.length === 0) {
      r.last = current;
      return;
    }
    for (const tick of ticks) {
      if (this.#stop.signal.aborted) return;
      const done = await this.#emit(r, tick);
      if (!done) return; // tried again on the next check
      r.last = tick;
      if (catchUp) await this.#saveLastTick(r, tick);
    }
  }

  /** Emit one tick; true when stored or given up on for good. */
  async #emit(r: Running, tick: number): Promise<boolean> {
    const { def, event } = r;
    const uid = tickId(def.id, r.when.index(tick));
    const fields = {
      schedule: def.id,
      event: event.name,
      tick: new Date(tick).toISOString(),
      uid,
    };
    let data: Uint8Array;
    try {
      const message = def.message === undefined ? new Date(tick) : def.message;
      const encoded = event.codec.encode(message);
      data = encoded instanceof Promise ? await encoded : encoded;
    } catch (error) {
      // The stored payload does not fit the event: no retry fixes that.
      this.#logger.error(
        "schedule's message does not fit its event; tick not emitted",
        {
          ...fields,
          error,
        },
      );
      return true;
    }
    const headers = natsHeaders();
    headers.set(HEADER_ID, uid);
    headers.set(HEADER_SCHEDULE, def.id);
    try {
      const ack = await publishAcked(
        this.#acks,
        {
          event: event.name,
          subject: event.subject,
          uid,
          timeout: 5000,
          streamExists: () => Promise.resolve(undefined),
        },
        data,
        headers,
      );
      this.#stats.ticks++;
      this.#logger.debug("schedule emitted a tick", {
        ...fields,
        duplicate: ack.duplicate,
      });
      return true;
    } catch (error) {
      const permanent = error instanceof ValidationError;
      this.#logger.warn(
        permanent
          ? "schedule could not emit a tick"
          : "schedule could not emit a tick; retrying",
        { ...fields, error },
      );
      if (!permanent) await pause(500, this.#timers, this.#stop.signal);
      return permanent;
    }
  }

  async #lastTick(r: Running): Promise<number | undefined> {
    try {
      const entry = await kvGet(this.#jsm, TICKS_BUCKET, r.def.id);
      if (entry === undefined) return undefined;
      const value = JSON.parse(new TextDecoder().decode(entry.value));
      const tick = Date.parse(value?.tick);
      return Number.isFinite(tick) ? tick : undefined;
    } catch (error) {
      this.#logger.warn("could not read a schedule's last tick", {
        schedule: r.def.id,
        error,
      });
      return undefined;
    }
  }

  async #saveLastTick(r: Running, tick: number): Promise<void> {
    try {
      if (!this.#ticksBucket) {
        await ensureBucket(
          this.#jsm,
          TICKS_BUCKET,
          "walnats: last ticks of schedules",
        );
        this.#ticksBucket = true;
      }
      await kvPut(
        this.#js,
        TICKS_BUCKET,
        r.def.id,
        new TextEncoder().encode(
          JSON.stringify({ tick: new Date(tick).toISOString() }),
        ),
      );
    } catch (error) {
      this.#logger.warn("could not record a schedule's last tick", {
        schedule: r.def.id,
        error,
      });
    }
  }
}
