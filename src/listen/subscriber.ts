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
  type ConsumerInfo,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import { OPEN, type Opened } from "../transports/_open.ts";
import {
  type DeadLetter,
  type DeadLetterStreamOptions,
  ensureDeadLetterStream,
  listDeadLetters,
  mergeDeadLetterStreamOptions,
  replayDeadLetters,
} from "../dead_letter.ts";
import { consoleLogger, type Logger } from "../log.ts";
import { ConsumerConfigError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import { Listener, type ListenOptions, type ListenReport } from "./listener.ts";
import { type Health, health } from "../ops/health.ts";
import { type Status, status } from "../ops/status.ts";

export type { ListenOptions, ListenReport };

/** Options for {@linkcode Subscriber.register}. */
export interface SubscriberRegisterOptions {
  /**
   * Where to report consumers whose settings another fleet changed (a
   * Python walnats copy of an actor). @default {consoleLogger("warn")}
   */
  logger?: Logger;
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
  #listening = 0;

  private constructor(opened: Opened, actors: readonly AnyActor[]) {
    this.nc = opened.nc;
    this.js = opened.js;
    this.#jsm = opened.jsm;
    this.#actors = actors;
    this.#closeConnection = opened.owned;
  }

  /**
   * Made by {@linkcode Actors.connect}, not by users.
   *
   * @ignore
   */
  static [OPEN](opened: Opened, actors: readonly AnyActor[]): Subscriber {
    return new Subscriber(opened, actors);
  }

  /**
   * Create or update one durable pull consumer per actor, and the
   * dead-letter streams of actors that keep dead letters.
   *
   * A consumer that exists with `max_deliver` equal to the actor's
   * `maxAttempts` was made by Python walnats (which sets `max_deliver =
   * max_attempts`): its value is kept, not rewritten back and forth by a
   * mixed fleet, and listeners count attempts against it (see
   * docs/failures.md). Any other difference is rewritten, with a warning.
   *
   * @param options Where to report.
   * @throws {ConsumerConfigError} The event's stream does not exist (register
   *   the events first), or the server refused the configuration.
   */
  async register(options: SubscriberRegisterOptions = {}): Promise<void> {
    const logger = options.logger ?? consoleLogger("warn");
    const events = new Map<
      string,
      { event: AnyEvent; options: DeadLetterStreamOptions[] }
    >();
    for (const actor of this.#actors) {
      if (!actor.deadLetter) continue;
      const entry = events.get(actor.event.name) ??
        { event: actor.event, options: [] as DeadLetterStreamOptions[] };
      entry.options.push(actor.deadLetterStream);
      events.set(actor.event.name, entry);
    }
    await Promise.all([
      ...this.#actors.map((actor) => this.#registerOne(actor, logger)),
      ...[...events.values()].map(({ event, options }) =>
        ensureDeadLetterStream(
          this.#jsm,
          event,
          mergeDeadLetterStreamOptions(options),
        )
      ),
    ]);
  }

  #streamMissing(actor: AnyActor, error: JetStreamApiError): Error {
    return new ConsumerConfigError(
      actor.name,
      `Cannot register actor "${actor.name}": the stream of event "${actor.event.name}" does not exist; register the events first (events.connect() then register())`,
      error.code,
      error.message,
      { cause: error },
    );
  }

  async #registerOne(actor: AnyActor, logger: Logger): Promise<void> {
    const stream = actor.event.stream;
    const config = actor.consumerConfig();
    let existing: ConsumerInfo | undefined;
    try {
      existing = await this.#jsm.consumers.info(stream, actor.consumer);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      if (error.code === JetStreamApiCodes.StreamNotFound) {
        throw this.#streamMissing(actor, error);
      }
      if (error.code !== JetStreamApiCodes.ConsumerNotFound) throw error;
    }
    const found = existing?.config.max_deliver ?? -1;
    if (existing !== undefined && found !== config.max_deliver) {
      if (found === actor.maxAttempts) {
        logger.warn(
          `Consumer of actor "${actor.name}" has max_deliver ${found}, as Python walnats sets for max_attempts=${found}; keeping it (this actor asks for ${config.max_deliver}): a delayed message spends one of those deliveries waiting, and a copy that dies on the last delivery is not dead-lettered`,
          { actor: actor.name, maxDeliver: found, wanted: config.max_deliver },
        );
        config.max_deliver = found;
      } else {
        logger.warn(
          `Consumer of actor "${actor.name}" had max_deliver ${found}; setting ${config.max_deliver} (maxAttempts ${actor.maxAttempts} + 2). If a Python walnats fleet runs this actor too, give both the same max attempts, or each register() rewrites the other's`,
          { actor: actor.name, maxDeliver: found, wanted: config.max_deliver },
        );
      }
    }
    if (existing === undefined) {
      try {
        await this.#jsm.consumers.add(stream, config);
        return;
      } catch (error) {
        if (!(error instanceof JetStreamApiError)) throw error;
        if (error.code === JetStreamApiCodes.StreamNotFound) {
          throw this.#streamMissing(actor, error);
        }
        // Created meanwhile by another copy: update it below.
      }
    }
    try {
      await this.#jsm.consumers.update(stream, actor.consumer, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      throw new ConsumerConfigError(
        actor.name,
        `Cannot register actor "${actor.name}": the server refused its consumer configuration (${error.message})`,
        error.code,
        error.message,
        { cause: error },
      );
    }
  }

  /**
   * Run all actors until `signal` aborts, then drain gracefully: stop
   * pulling, let running jobs finish within `grace`, hand back the rest,
   * and resolve once every pulled message was acked or nak'd.
   *
   * @param options Signal, burst, batch, concurrency, timings, logger.
   * @returns Counts of what happened.
   * @throws {RangeError} An option is out of range (`batch: 0`, a negative
   *   `grace`, ...).
   * @throws {TypeError} An option has the wrong type, or there are no actors.
   * @throws {ConsumerGoneError} An actor's consumer was deleted while
   *   listening (after draining the others).
   */
  async listen(options: ListenOptions = {}): Promise<ListenReport> {
    const listener = new Listener(
      this.nc,
      this.js,
      this.#jsm,
      this.#actors,
      options,
    );
    this.#listening++;
    try {
      return await listener.run();
    } finally {
      this.#listening--;
    }
  }

  /** How many {@linkcode listen} calls are running now. */
  get listening(): number {
    return this.#listening;
  }

  /**
   * The state of this registry's actors and their events on the server:
   * lag, unacknowledged, redelivered, waiting pulls, dead letters, delayed,
   * paused, last activity, and whether each consumer still has the actor's
   * configuration. See `docs/operations.md`.
   *
   * @param options Milliseconds each JetStream request may take.
   * @returns The report (plain JSON).
   */
  async status(options: { timeout?: number } = {}): Promise<Status> {
    return await status(this.nc, {
      ...options,
      actors: this.#actors,
      jetstream: this.#jsm.getOptions(),
    });
  }

  /**
   * Liveness and readiness: connection, JetStream, every actor's consumer,
   * and a running {@linkcode listen} (unless `requireListener` is false).
   * Serve it with `healthHandler(sub)`.
   *
   * @param options Whether a running listen() is needed, and the timeout.
   * @returns The report (plain JSON); never throws.
   */
  async health(
    options: { requireListener?: boolean; timeout?: number } = {},
  ): Promise<Health> {
    return await health(this.nc, {
      actors: this.#actors,
      jetstream: this.#jsm.getOptions(),
      ...(options.requireListener === false
        ? {}
        : { listening: this.#listening }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    });
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
   * Emit an actor's dead letters again to its event, for that actor alone:
   * each copy carries `Walnats-Replay-Actor`, and the event's other
   * TypeScript actors ack it without running (Python walnats actors on the
   * same event do run it again). Each is removed from the dead-letter
   * stream once JetStream has the copy.
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
