/**
 * {@linkcode Listener}: one run of {@linkcode Subscriber.listen}, from the
 * first pull to the last hand-back. It owns the job slots, one puller per
 * actor, the watch on the connection's status, and the drain.
 *
 * @module
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import { ActorNotRegisteredError, ConsumerGoneError } from "../errors.ts";
import { consoleLogger, type Logger } from "../log.ts";
import { aborted, pause } from "../_async.ts";
import { ackInbox } from "../publish/_ack_inbox.ts";
import { type Timers, timersOf } from "../_timers.ts";
import type { JobEnv, JobStats } from "./_job.ts";
import { Puller, type PullerFailure } from "./_puller.ts";
import { Scheduler } from "./_scheduler.ts";
import { serverAtLeast } from "../_server_version.ts";
import { WorkerPool, type WorkerPoolOptions } from "../workers/pool.ts";
import { DelayMover, type MoverStats } from "./_delay_mover.ts";
import { PauseWatch } from "./_pause.ts";
import { ScheduleRunner, type ScheduleStats } from "./_schedules.ts";

/** Options for {@linkcode Subscriber.listen}; times in milliseconds. */
export interface ListenOptions {
  /** Stop listening (then drain gracefully) when this aborts. */
  signal?: AbortSignal;
  /**
   * Pull once per actor, handle what came, and resolve (for tests and
   * cron-style runs).
   * @default {false}
   */
  burst?: boolean;
  /**
   * Most messages asked for in one pull request (never more than the
   * actor's free job slots).
   * @default {maxJobs; 1 with `burst`}
   */
  batch?: number;
  /** Jobs running at once in this process, all actors together. @default {16} */
  maxJobs?: number;
  /**
   * Pull requests in flight at once per actor; by default as many as free
   * slots allow (`maxJobs / batch`).
   */
  maxPolls?: number;
  /** Milliseconds a pull request waits for messages. @default {2000} */
  pollDelay?: number;
  /**
   * Milliseconds running jobs get to finish after `signal` aborts; then
   * their `ctx.signal` aborts and their messages are handed back.
   * @default {10000}
   */
  grace?: number;
  /** Where to report. @default {consoleLogger("warn")} */
  logger?: Logger;
  /**
   * Workers running handlers made by `workerHandler` at once, in a pool
   * this listener starts lazily and stops before `listen()` resolves.
   * @default {navigator.hardwareConcurrency}
   */
  maxWorkers?: number;
  /** How the pool's workers are isolated and limited. @default {{}} */
  workers?: Omit<WorkerPoolOptions, "maxWorkers">;
}

/**
 * What a finished {@linkcode Subscriber.listen} did, counted in deliveries
 * this process handled. `failed === retried + deadLettered`; jobs handed
 * back at shutdown are in none of the counts.
 */
export interface ListenReport {
  /** Jobs that succeeded (acked). */
  succeeded: number;
  /**
   * Every delivery that failed: the handler threw or timed out, or the
   * payload was poison (does not decode or validate), whether the message
   * was then retried or dead-lettered.
   */
  failed: number;
  /** Failed deliveries handed back to be retried after `retryDelay`. */
  retried: number;
  /**
   * Failed deliveries that ended: moved to the dead-letter stream (or
   * terminated, with dead letters off) after the last attempt or as poison.
   */
  deadLettered: number;
  /**
   * Deliveries that came before their `Walnats-Delay` (published to the
   * event's subject, as Python walnats does) and were moved to the delay
   * stream or nak'd to wait.
   */
  delayed: number;
  /**
   * Jobs whose handler ran past `jobTimeout`; each kept its job slot (and
   * its pulse) until the handler settled, and counts as failed.
   */
  timedOut: number;
  /**
   * Jobs still running past their `jobTimeout` when the grace period ended
   * (handed back while their handler ignored `ctx.signal`).
   */
  overdue: number;
  /** Replayed dead letters meant for another actor: acked without running. */
  skipped: number;
  /** Delayed messages this listener released to their event when due. */
  released: number;
  /** Schedule ticks this listener emitted (duplicates of others included). */
  ticks: number;
}

type Resolved =
  & Required<
    Omit<ListenOptions, "signal" | "maxPolls" | "maxWorkers" | "workers">
  >
  & {
    signal: AbortSignal | undefined;
    maxPolls: number | undefined;
  };

const WHAT = "Cannot listen";

function positiveInteger(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(
      `${WHAT}: ${field} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

/** Check every option of `listen()` and fill in the defaults. */
export function resolveListenOptions(options: ListenOptions): Resolved {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${WHAT}: options must be an object`);
  }
  const {
    signal,
    burst = false,
    maxJobs = 16,
    maxPolls,
    pollDelay = 2000,
    grace = 10_000,
    logger = consoleLogger("warn"),
  } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${WHAT}: signal must be an AbortSignal`);
  }
  if (typeof burst !== "boolean") {
    throw new TypeError(
      `${WHAT}: burst must be a boolean, got ${typeof burst}`,
    );
  }
  // One pull request for all free slots asks the server for no more than
  // pulls of one each would, in one request instead of up to 16: with
  // defaults, 0.7x the raw consume() loop at batch 1, about 1x at 16
  // (bench/, handle-defaults). A burst keeps pulling one message per actor.
  positiveInteger("maxJobs", maxJobs);
  const batch = options.batch ?? (burst ? 1 : maxJobs);
  positiveInteger("batch", batch);
  positiveInteger("pollDelay", pollDelay);
  if (maxPolls !== undefined) positiveInteger("maxPolls", maxPolls);
  if (options.maxWorkers !== undefined) {
    positiveInteger("maxWorkers", options.maxWorkers);
  }
  if (typeof grace !== "number" || !Number.isFinite(grace) || grace < 0) {
    throw new RangeError(
      `${WHAT}: grace must be a non-negative number of milliseconds, got ${
        String(grace)
      }`,
    );
  }
  if (
    typeof logger !== "object" || logger === null ||
    typeof logger.warn !== "function"
  ) {
    throw new TypeError(`${WHAT}: logger must be a Logger`);
  }
  return { signal, burst, batch, maxJobs, maxPolls, pollDelay, grace, logger };
}

/**
 * One run of `listen()`: the state that lives from the first pull request
 * to the end of the drain (nats.js' `PullConsumerMessagesImpl` plays this
 * part for a single consumer).
 */
export class Listener {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #actors: readonly AnyActor[];
  readonly #opts: Resolved;
  readonly #timers: Timers;
  readonly #stats: JobStats = {
    succeeded: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    delayed: 0,
    timedOut: 0,
    skipped: 0,
  };
  #overdue = 0;
  readonly #stop = new AbortController();
  readonly #pullers: Puller[];
  readonly #workers: WorkerPool;
  readonly #background: { released: number; ticks: number } = {
    released: 0,
    ticks: 0,
  };
  readonly #movers: DelayMover[];
  readonly #pauses: PauseWatch;
  readonly #schedules: ScheduleRunner;
  #failure: Error | undefined;

  /**
   * Prepare a run; nothing is pulled until {@linkcode Listener.run}.
   *
   * @throws {RangeError} An option is out of range.
   * @throws {TypeError} An option has the wrong type, or there are no actors.
   */
  constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    actors: readonly AnyActor[],
    options: ListenOptions,
  ) {
    this.#opts = resolveListenOptions(options);
    if (actors.length === 0) {
      throw new TypeError(`${WHAT}: no actors are registered`);
    }
    this.#nc = nc;
    this.#jsm = jsm;
    this.#actors = actors;
    this.#timers = timersOf(nc);
    const { batch, maxJobs, maxPolls, pollDelay, burst, logger } = this.#opts;
    // Nothing starts until a worker handler runs; closed when run() ends.
    this.#workers = new WorkerPool({
      ...options.workers,
      ...(options.maxWorkers === undefined
        ? {}
        : { maxWorkers: options.maxWorkers }),
    });
    const env: JobEnv = {
      nc,
      js,
      logger,
      termReasons: serverAtLeast(nc.info?.version, [2, 10, 4]),
      timers: this.#timers,
      workers: this.#workers,
    };
    const scheduler = new Scheduler(maxJobs);
    const apiPrefix = jsm.getOptions().apiPrefix ?? "";
    this.#pullers = actors.map((actor) =>
      new Puller(nc, actor, scheduler, env, this.#stats, {
        batch: maxPolls === undefined
          ? batch
          : Math.max(batch, Math.ceil(actor.maxJobs / maxPolls)),
        pollDelay,
        burst,
        apiPrefix,
      }, (f) => this.#onFailure(f))
    );
    // One mover per event (several actors may share one), the pause
    // watch, and the schedules of these events: docs/delays-and-schedules.md.
    const events = [...new Map(actors.map((a) => [a.event.name, a.event]))
      .values()];
    const stats: MoverStats & ScheduleStats = this.#background;
    const acks = ackInbox(nc);
    this.#movers = events.map((e) =>
      new DelayMover(e, js, acks, jsm, this.#timers, logger, stats)
    );
    this.#pauses = new PauseWatch(jsm, this.#pullers, this.#timers, logger);
    this.#schedules = new ScheduleRunner(
      js,
      acks,
      jsm,
      events,
      this.#timers,
      logger,
      stats,
    );
  }

  /**
   * Pull and run jobs until the signal aborts (or, in a burst, until the
   * single pull of each actor is handled), then drain.
   *
   * @returns Counts of what happened.
   * @throws {ActorNotRegisteredError} Some actors have no consumer (nothing
   *   was pulled: call `register()` first).
   * @throws {ConsumerGoneError} An actor's consumer was deleted while
   *   listening (after draining the others).
   */
  async run(): Promise<ListenReport> {
    const { signal, burst, logger, maxJobs, batch } = this.#opts;
    await this.#checkConsumers();
    const stop = this.#stop;
    const pullers = this.#pullers;
    // Pull requests die with the connection: ask again after a reconnect.
    const statuses = this.#nc.status();
    const statusWatch = (async () => {
      for await (const s of statuses) {
        if (s.type === "reconnect") {
          logger.info("reconnected; pulling again");
          for (const p of pullers) p.resetCredit();
        }
      }
    })().catch(() => {});

    const onAbort = () => stop.abort(signal?.reason);
    if (signal?.aborted) stop.abort(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    logger.info("listening", {
      actors: this.#actors.map((a) => a.name),
      maxJobs,
      batch,
    });
    let background: Promise<unknown> | undefined;
    try {
      await this.#readMaxDeliver();
      // A paused actor must not pull even once.
      await this.#pauses.check();
      if (burst) {
        await Promise.all(this.#movers.map((m) => m.once()));
      } else {
        for (const m of this.#movers) m.start();
        this.#pauses.start();
        this.#schedules.start();
      }
      for (const p of pullers) p.start();
      if (burst) {
        await Promise.race([
          Promise.all(pullers.map((p) => p.drained())),
          aborted(stop.signal),
        ]);
      } else {
        await aborted(stop.signal);
      }
      background = this.#stopBackground();
      await this.#drain();
    } finally {
      await (background ?? this.#stopBackground());
      signal?.removeEventListener("abort", onAbort);
      for (const p of pullers) p.close();
      if (!this.#nc.isClosed()) {
        await this.#nc.flush().catch(() => {});
      }
      // status() is a QueuedIterator at run time: stop it, or every
      // listen() call would leave one behind.
      (statuses as { stop?: () => void }).stop?.();
      await statusWatch;
      await this.#workers.close();
    }
    if (this.#failure !== undefined) throw this.#failure;
    return { ...this.#stats, overdue: this.#overdue, ...this.#background };
  }

  // Attempts are accounted against the consumer's own max_deliver, which a
  // Python walnats copy of the actor may have set (to max_attempts).
  async #readMaxDeliver(): Promise<void> {
    const { logger } = this.#opts;
    await Promise.all(this.#pullers.map(async (p) => {
      const actor = p.actor;
      try {
        const info = await this.#jsm.consumers.info(
          actor.event.stream,
          actor.consumer,
        );
        const found = info.config.max_deliver ?? -1;
        if (found !== p.maxDeliver) {
          logger.warn(
            "the consumer's max_deliver differs from this actor's; counting against the consumer's",
            {
              actor: actor.name,
              maxDeliver: found,
              expected: p.maxDeliver,
              maxAttempts: actor.maxAttempts,
            },
          );
        }
        p.maxDeliver = found;
      } catch {
        // Missing consumer: the first pull reports it. Anything else: the
        // actor's own value stands.
      }
    }));
  }

  // Pulling from a consumer that does not exist waits for nothing and
  // says nothing: look every consumer up once, in parallel, before the
  // first pull. Only "not found" fails; anything else (JetStream briefly
  // unavailable) is left to the pullers' own retries.
  async #checkConsumers(): Promise<void> {
    const missing: string[] = [];
    const streamless: string[] = [];
    await Promise.all(this.#actors.map(async (actor) => {
      try {
        await this.#jsm.consumers.info(actor.event.stream, actor.consumer);
      } catch (error) {
        if (!(error instanceof JetStreamApiError)) {
          this.#opts.logger.warn("could not look up the consumer", {
            actor: actor.name,
            error,
          });
          return;
        }
        if (error.code === JetStreamApiCodes.StreamNotFound) {
          missing.push(actor.name);
          streamless.push(actor.name);
        } else if (error.code === JetStreamApiCodes.ConsumerNotFound) {
          missing.push(actor.name);
        }
      }
    }));
    if (missing.length > 0) {
      throw new ActorNotRegisteredError(missing.sort(), streamless.sort());
    }
  }

  // Movers finish the fetch in flight (about a second at most); the pause
  // watch and the schedules stop at once (a tick being emitted finishes).
  #stopBackground(): Promise<unknown> {
    return Promise.all([
      ...this.#movers.map((m) => m.stop()),
      this.#pauses.stop(),
      this.#schedules.stop(),
    ]);
  }

  #onFailure(f: PullerFailure): void {
    void this.#checkFailure(f).then((error) => {
      if (error !== undefined && this.#failure === undefined) {
        this.#failure = error;
        this.#stop.abort(error);
      }
    });
  }

  // A puller stopped by itself (503, consumer deleted): find out whether the
  // consumer is gone for good or JetStream is only unavailable for now.
  async #checkFailure(f: PullerFailure): Promise<Error | undefined> {
    const puller = this.#pullers.find((p) => p.actor.name === f.actor);
    if (puller === undefined) return undefined;
    const actor = puller.actor;
    const { logger, pollDelay } = this.#opts;
    // The check may wait out a leader election (the API's whole timeout):
    // pull again after the pause whatever it says by then, and stop only
    // if it finds the consumer gone.
    const check = (async (): Promise<Error | undefined> => {
      try {
        await this.#jsm.consumers.info(actor.event.stream, actor.consumer);
      } catch (error) {
        if (
          error instanceof JetStreamApiError &&
          (error.code === JetStreamApiCodes.ConsumerNotFound ||
            error.code === JetStreamApiCodes.StreamNotFound)
        ) {
          return new ConsumerGoneError(actor.name, error.message);
        }
        logger.warn("JetStream not available; retrying", {
          actor: actor.name,
          error,
        });
      }
      if (f.deleted) {
        // Deleted and already recreated by someone: carry on.
        logger.warn("consumer was deleted and exists again", {
          actor: actor.name,
        });
      }
      return undefined;
    })();
    let gone: Error | undefined;
    void check.then((error) => (gone = error));
    if (!this.#stop.signal.aborted) {
      await pause(Math.min(pollDelay, 1000), this.#timers, this.#stop.signal);
      if (gone !== undefined) return gone;
      puller.resetCredit();
    }
    return await check;
  }

  // Stop pulling; running jobs get `grace`; then abort and hand them back,
  // and wait for outstanding pull requests to expire so nothing is
  // delivered into the void.
  async #drain(): Promise<void> {
    const { grace, pollDelay, logger } = this.#opts;
    const pullers = this.#pullers;
    for (const p of pullers) p.stop();
    const running = pullers.reduce((n, p) => n + p.running, 0);
    if (running > 0) logger.info("draining", { running, grace });
    const allDrained = Promise.all(pullers.map((p) => p.drained()));
    const graceOver = new AbortController();
    const inTime = await Promise.race([
      allDrained.then(() => true),
      pause(grace, this.#timers, graceOver.signal).then(() => false),
    ]);
    graceOver.abort();
    if (inTime) return;
    let abandoned = 0;
    let overdue = 0;
    for (const p of pullers) {
      for (const job of p.jobs()) {
        if (job.overdue) overdue++;
        job.abandon();
        abandoned++;
      }
    }
    this.#overdue += overdue;
    if (abandoned > 0) {
      logger.warn("grace period over; running jobs handed back", {
        abandoned,
        overdue,
      });
    }
    // Outstanding pull requests expire within pollDelay; their messages
    // are handed back as they arrive.
    const capOver = new AbortController();
    await Promise.race([
      allDrained,
      pause(pollDelay + 5_000, this.#timers, capOver.signal),
    ]);
    capOver.abort();
  }
}
