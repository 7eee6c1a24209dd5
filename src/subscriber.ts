/**
 * {@linkcode Subscriber}: a connected {@linkcode Actors} registry that
 * registers consumers, listens, and manages dead letters.
 *
 * @module
 */
// `@ignore`: the types of these two packages are public there; deno doc
// --lint would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  jetstream,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "./actor.ts";
import {
  type DeadLetter,
  ensureDeadLetterStream,
  listDeadLetters,
  replayDeadLetters,
} from "./dead_letter.ts";
import { ConsumerConfigError, ConsumerGoneError } from "./errors.ts";
import type { AnyEvent } from "./event.ts";
import { consoleLogger, type Logger } from "./log.ts";
import type { JobEnv, JobStats } from "./_job.ts";
import { Puller, type PullerFailure } from "./_puller.ts";
import { Scheduler } from "./_scheduler.ts";
import { WorkerPool, type WorkerPoolOptions } from "./workers/pool.ts";

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
  /** Most messages asked for in one pull request. @default {1} */
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

/** What a finished {@linkcode Subscriber.listen} did. */
export interface ListenReport {
  /** Jobs that succeeded (acked). */
  succeeded: number;
  /** Failed attempts that will be retried. */
  failed: number;
  /** Messages moved to the dead-letter stream (or terminated). */
  deadLettered: number;
  /** Deliveries nak'd to wait out a `delay`. */
  delayed: number;
}

/** Options for {@linkcode Subscriber.deadLetters}. */
export interface DeadLettersOptions {
  /** Most dead letters returned. @default {1000} */
  limit?: number;
}

/** Options for {@linkcode Subscriber.replay}. */
export interface ReplayOptions extends DeadLettersOptions {
  /** Only replay the dead letters this returns true for. */
  filter?: (letter: DeadLetter) => boolean;
}

/** Parse `major.minor.patch` and compare with a minimum. */
export function serverAtLeast(
  version: string | undefined,
  min: [number, number, number],
): boolean {
  if (version === undefined) return false;
  const parts = version.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const want = min[i] ?? 0;
    if (Number.isNaN(have)) return false;
    if (have !== want) return have > want;
  }
  return true;
}

/**
 * A subscriber: the connection made by {@linkcode Actors.connect}.
 */
export class Subscriber implements AsyncDisposable {
  /** The underlying NATS connection. */
  readonly nc: NatsConnection;
  /** The JetStream client. */
  readonly js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #actors: readonly AnyActor[];
  readonly #closeConnection: boolean;
  #closed = false;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    actors: readonly AnyActor[],
    closeConnection: boolean,
  ) {
    this.nc = nc;
    this.#jsm = jsm;
    this.js = jetstream(nc);
    this.#actors = actors;
    this.#closeConnection = closeConnection;
  }

  /** @internal Used by {@linkcode Actors.connect}. */
  static async open(
    nc: NatsConnection,
    actors: readonly AnyActor[],
    closeConnection: boolean,
  ): Promise<Subscriber> {
    return new Subscriber(
      nc,
      await jetstreamManager(nc),
      actors,
      closeConnection,
    );
  }

  /**
   * Create or update one durable pull consumer per actor, and the
   * dead-letter streams of actors that keep dead letters.
   *
   * @throws {ConsumerConfigError} The event's stream does not exist (register
   *   the events first), or the server refused the configuration.
   */
  async register(): Promise<void> {
    const events = new Map<string, AnyEvent>();
    for (const actor of this.#actors) {
      if (actor.deadLetter) events.set(actor.event.name, actor.event);
    }
    await Promise.all([
      ...this.#actors.map((actor) => this.#registerOne(actor)),
      ...[...events.values()].map((event) =>
        ensureDeadLetterStream(this.#jsm, event)
      ),
    ]);
  }

  async #registerOne(actor: AnyActor): Promise<void> {
    const stream = actor.event.stream;
    const config = actor.consumerConfig();
    try {
      await this.#jsm.consumers.add(stream, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      if (error.code === 10059) {
        throw new ConsumerConfigError(
          actor.name,
          `Cannot register actor "${actor.name}": the stream of event "${actor.event.name}" does not exist; register the events first (events.connect() then register())`,
          error.code,
          error.message,
          { cause: error },
        );
      }
      try {
        await this.#jsm.consumers.update(stream, actor.consumer, config);
      } catch (updateError) {
        const e = updateError instanceof JetStreamApiError
          ? updateError
          : error;
        throw new ConsumerConfigError(
          actor.name,
          `Cannot register actor "${actor.name}": the server refused its consumer configuration (${e.message})`,
          e.code,
          e.message,
          { cause: updateError },
        );
      }
    }
  }

  /**
   * Run all actors until `signal` aborts, then drain gracefully: stop
   * pulling, let running jobs finish within `grace`, hand back the rest,
   * and resolve once every pulled message was acked or nak'd.
   *
   * @param options Signal, burst, batch, concurrency, timings, logger.
   * @returns Counts of what happened.
   * @throws {ConsumerGoneError} An actor's consumer was deleted while
   *   listening (after draining the others).
   */
  async listen(options: ListenOptions = {}): Promise<ListenReport> {
    const batch = options.batch ?? 1;
    const maxJobs = options.maxJobs ?? 16;
    const pollDelay = options.pollDelay ?? 2000;
    const grace = options.grace ?? 10_000;
    const burst = options.burst ?? false;
    const logger = options.logger ?? consoleLogger("warn");
    const what = "Cannot listen";
    for (
      const [field, value] of [["batch", batch], ["maxJobs", maxJobs], [
        "pollDelay",
        pollDelay,
      ]] as const
    ) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new RangeError(
          `${what}: ${field} must be a positive integer, got ${value}`,
        );
      }
    }
    if (this.#actors.length === 0) {
      throw new TypeError(`${what}: no actors are registered`);
    }
    const maxPolls = options.maxPolls;
    const stats: JobStats = {
      succeeded: 0,
      failed: 0,
      deadLettered: 0,
      delayed: 0,
    };
    // Nothing starts until a worker handler runs; closed when listen ends.
    const workers = new WorkerPool({
      ...options.workers,
      ...(options.maxWorkers === undefined
        ? {}
        : { maxWorkers: options.maxWorkers }),
    });
    const env: JobEnv = {
      nc: this.nc,
      js: this.js,
      logger,
      termReasons: serverAtLeast(this.nc.info?.version, [2, 10, 4]),
      now: Date.now,
      clock: () => performance.now(),
      workers,
    };
    const scheduler = new Scheduler(maxJobs);
    const stop = new AbortController();
    let failure: Error | undefined;
    const onFailure = (f: PullerFailure) => {
      void this.#checkFailure(f, pullers, logger, pollDelay).then((error) => {
        if (error !== undefined && failure === undefined) {
          failure = error;
          stop.abort(error);
        }
      });
    };
    const pullers = this.#actors.map((actor) =>
      new Puller(this.nc, actor, scheduler, env, stats, {
        batch: maxPolls === undefined
          ? batch
          : Math.max(batch, Math.ceil(actor.maxJobs / maxPolls)),
        pollDelay,
        burst,
        apiPrefix: "$JS.API",
      }, onFailure)
    );

    // Pull requests die with the connection: ask again after a reconnect.
    const statuses = this.nc.status();
    const statusWatch = (async () => {
      for await (const s of statuses) {
        if (s.type === "reconnect") {
          logger.info("reconnected; pulling again");
          for (const p of pullers) p.resetCredit();
        }
      }
    })().catch(() => {});

    const onAbort = () => stop.abort(options.signal?.reason);
    if (options.signal?.aborted) stop.abort(options.signal.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    logger.info("listening", {
      actors: this.#actors.map((a) => a.name),
      maxJobs,
      batch,
    });
    try {
      for (const p of pullers) p.start();
      if (burst) {
        await Promise.race([
          Promise.all(pullers.map((p) => p.drained())),
          aborted(stop.signal),
        ]);
      } else {
        await aborted(stop.signal);
      }
      await this.#drain(pullers, grace, pollDelay, logger);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      for (const p of pullers) p.close();
      if (!this.nc.isClosed()) {
        await this.nc.flush().catch(() => {});
      }
      // status() is a QueuedIterator at run time: stop it, or every
      // listen() call would leave one behind.
      (statuses as { stop?: () => void }).stop?.();
      await statusWatch;
      await workers.close();
    }
    if (failure !== undefined) throw failure;
    return { ...stats };
  }

  async #checkFailure(
    f: PullerFailure,
    pullers: Puller[],
    logger: Logger,
    pollDelay: number,
  ): Promise<Error | undefined> {
    const puller = pullers.find((p) => p.actor.name === f.actor);
    if (puller === undefined) return undefined;
    const actor = puller.actor;
    try {
      await this.#jsm.consumers.info(actor.event.stream, actor.consumer);
    } catch (error) {
      if (
        error instanceof JetStreamApiError &&
        (error.code === 10014 || error.code === 10059)
      ) {
        return new ConsumerGoneError(actor.name, error.message);
      }
      logger.warn("JetStream not available; retrying", {
        actor: actor.name,
        error,
      });
    }
    if (f.detail.toLowerCase().includes("deleted")) {
      // Deleted and already recreated by someone: carry on.
      logger.warn("consumer was deleted and exists again", {
        actor: actor.name,
      });
    }
    setTimeout(() => puller.resetCredit(), Math.min(pollDelay, 1000));
    return undefined;
  }

  async #drain(
    pullers: Puller[],
    grace: number,
    pollDelay: number,
    logger: Logger,
  ): Promise<void> {
    for (const p of pullers) p.stop();
    const running = pullers.reduce((n, p) => n + p.running, 0);
    if (running > 0) {
      logger.info("draining", { running, grace });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace">((resolve) => {
      timer = setTimeout(() => resolve("grace"), grace);
    });
    const allDrained = Promise.all(pullers.map((p) => p.drained()));
    const first = await Promise.race([allDrained, graceOver]);
    clearTimeout(timer);
    if (first === "grace") {
      let abandoned = 0;
      for (const p of pullers) {
        for (const job of p.jobs()) {
          job.abandon();
          abandoned++;
        }
      }
      if (abandoned > 0) {
        logger.warn("grace period over; running jobs handed back", {
          abandoned,
        });
      }
      // Outstanding pull requests expire within pollDelay; their messages
      // are handed back as they arrive.
      const cap = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, pollDelay + 5_000);
      });
      await Promise.race([allDrained, cap]);
      clearTimeout(timer);
    }
  }

  /**
   * List an actor's dead letters, oldest first.
   *
   * @param actor The actor (or its name) whose dead letters to list.
   * @param options How many at most.
   * @returns The dead letters.
   */
  async deadLetters(
    actor: AnyActor | string,
    options: DeadLettersOptions = {},
  ): Promise<DeadLetter[]> {
    const a = this.#actor(actor);
    return await listDeadLetters(this.#jsm, a.event.stream, {
      actor: a.name,
      limit: options.limit ?? 1000,
    });
  }

  /**
   * Emit an actor's dead letters again to its event (every actor of the
   * event receives them), then remove them from the dead-letter stream.
   *
   * @param actor The actor (or its name).
   * @param options Which dead letters.
   * @returns How many were replayed.
   */
  async replay(
    actor: AnyActor | string,
    options: ReplayOptions = {},
  ): Promise<number> {
    const a = this.#actor(actor);
    let letters = await this.deadLetters(a, options);
    if (options.filter) letters = letters.filter(options.filter);
    return await replayDeadLetters(this.js, this.#jsm, letters);
  }

  #actor(actor: AnyActor | string): AnyActor {
    const name = typeof actor === "string" ? actor : actor.name;
    const found = this.#actors.find((a) => a.name === name);
    if (found === undefined) {
      throw new TypeError(
        `Unknown actor "${name}": it is not in this Actors registry`,
      );
    }
    return found;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Close the connection if this subscriber owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#closeConnection && !this.nc.isClosed()) await this.nc.drain();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
