/**
 * {@linkcode Publisher}: a connected {@linkcode Events} registry that
 * registers streams, emits, requests and monitors.
 *
 * @module
 */
// `@ignore`: the types of these two packages are public there; deno doc
// --lint would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Codec } from "../codecs/codec.ts";
import type { AnyEvent, Event } from "../event.ts";
import { OPEN, type Opened } from "../transports/_open.ts";
import { consoleLogger, type Logger } from "../log.ts";
import type { EmitObserver } from "../ops/emit_observer.ts";
import { type Health, health } from "../ops/health.ts";
import { type Status, status } from "../ops/status.ts";
import {
  listSchedules,
  removeSchedule,
  type Schedule,
  upsertSchedule,
} from "../ops/schedules.ts";
import {
  MonitorFeed,
  type MonitorItem,
  type MonitorOptions,
} from "./monitor.ts";
import type {
  EmitFailure,
  EmitManyOptions,
  EmitManyResult,
  EmitOptions,
  EmitResult,
  HeaderHook,
  RegisterOptions,
  RegisterReport,
  RequestOptions,
  ScheduleOptions,
} from "./options.ts";
import { Emitter } from "./_emitter.ts";
import { NoActorsWarning, registerStreams } from "./_register.ts";
import { requestReply } from "./_request.ts";
import { scheduleOf } from "./_schedule.ts";

export type {
  EmitFailure,
  EmitManyOptions,
  EmitManyResult,
  EmitOptions,
  EmitResult,
  HeaderHook,
  MonitorItem,
  MonitorOptions,
  RegisterOptions,
  RegisterReport,
  RequestOptions,
  Schedule,
  ScheduleOptions,
};

/**
 * A publisher: the connection made by {@linkcode Events.connect}.
 *
 * @example Emit and read the acknowledgement
 * ```ts
 * import * as v from "valibot";
 * import { Event, Events } from "@walnats/walnats";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
 * await using pub = await new Events(USER_CREATED).connect(server.url);
 * await pub.register();
 * const first = await pub.emit(USER_CREATED, { id: 1 }, { uid: "user-1" });
 * const again = await pub.emit(USER_CREATED, { id: 1 }, { uid: "user-1" });
 * assert.deepEqual(first, { sequence: 1, duplicate: false });
 * assert.equal(again.duplicate, true); // stored once
 * ```
 */
export class Publisher implements AsyncDisposable {
  /** The underlying NATS connection. */
  readonly nc: NatsConnection;
  /** The JetStream client. */
  readonly js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #events: ReadonlyMap<string, AnyEvent>;
  readonly #closeConnection: boolean;
  readonly #feeds = new Set<MonitorFeed>();
  readonly #emitter: Emitter;
  readonly #noActors: NoActorsWarning;
  #closed = false;

  private constructor(
    opened: Opened,
    events: readonly AnyEvent[],
    hooks: readonly HeaderHook[],
    observers: readonly EmitObserver[],
    logger: Logger,
  ) {
    this.nc = opened.nc;
    this.js = opened.js;
    this.#jsm = opened.jsm;
    this.#events = new Map(events.map((e) => [e.name, e]));
    this.#closeConnection = opened.owned;
    this.#emitter = new Emitter({ ...opened, hooks, observers });
    this.#noActors = new NoActorsWarning(opened.jsm, logger);
  }

  /**
   * Made by {@linkcode Events.connect}, not by users.
   *
   * @ignore
   */
  static [OPEN](
    opened: Opened,
    events: readonly AnyEvent[],
    hooks: readonly HeaderHook[],
    observers: readonly EmitObserver[] = [],
    logger: Logger = consoleLogger("warn"),
  ): Publisher {
    return new Publisher(opened, events, hooks, observers, logger);
  }

  /** The registered events. */
  get events(): AnyEvent[] {
    return [...this.#events.values()];
  }

  #registered(event: AnyEvent, action: string): AnyEvent {
    const name = (event as { name?: unknown } | null)?.name;
    const known = typeof name === "string" ? this.#events.get(name) : undefined;
    if (known === undefined) {
      throw new TypeError(
        `Cannot ${action} event "${
          typeof name === "string" ? name : String(event)
        }": it is not registered; add it to the Events registry`,
      );
    }
    if (this.#closed) {
      throw new TypeError(
        `Cannot ${action} event "${name}": the publisher is closed`,
      );
    }
    return event;
  }

  /**
   * Create or update the streams of all registered events, concurrently.
   *
   * Each stream is looked up first; a missing one is created (if
   * `create`), an existing one is compared with the event's configuration
   * by the server and updated if it differs (if `update`). Every event is
   * tried; the first failure is thrown after all have settled.
   *
   * An event with interest retention (the default) whose stream has no
   * consumer yet gets one warning through the logger: the server discards
   * its messages until an actor registers (`emit` still resolves).
   *
   * @param options Whether to create missing and update differing streams.
   * @returns What was done to each event's stream.
   * @throws {StreamExistsError} A stream differs and `update` is false
   *   (JetStream error 10058).
   * @throws {StreamConfigError} The server refused a configuration or an
   *   update (for example a change of storage type).
   */
  async register(options: RegisterOptions = {}): Promise<RegisterReport> {
    return await registerStreams(
      this.#jsm,
      [...this.#events.values()],
      options,
      this.#noActors,
    );
  }

  /**
   * Emit a message of a registered event.
   *
   * The message is validated and encoded before anything is sent. With
   * `sync: true` (the default) this resolves once the stream stored it.
   *
   * @typeParam I The event's input payload type.
   * @param event A registered event.
   * @param message The payload.
   * @param options uid, traceId, delay, meta, sync.
   * @returns The stream's acknowledgement, or `undefined` with `sync: false`.
   * @throws {ValidationError} The payload does not match the schema.
   * @throws {PayloadTooLargeError} The encoded message (payload and
   *   headers) is over the event's `maxMessageSize`, or over the server's
   *   `max_payload` less 4096 bytes kept so it can always be dead-lettered.
   * @throws {TypeError} The event is not registered, the publisher is
   *   closed, or `uid` or a `meta` header is malformed.
   * @throws {RangeError} `delay` or `timeout` is negative or not finite,
   *   or `delay` is over 365 days or not shorter than the event's `maxAge`.
   * @throws {EmitError} No acknowledgement within `timeout` although the
   *   emit was retried (no stream leader, server unreachable), or no stream
   *   listens on the subject; it says whether the message may be stored.
   *
   * @example Emit with options
   * ```ts
   * import * as v from "valibot";
   * import { Event, Events } from "@walnats/walnats";
   * import { NatsServer } from "@walnats/walnats/testing";
   * import assert from "node:assert/strict";
   *
   * await using server = await NatsServer.start();
   * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
   * await using pub = await new Events(USER_CREATED).connect(server.url);
   * await pub.register();
   * const ack = await pub.emit(USER_CREATED, { id: 1 }, {
   *   uid: "user-1",
   *   delay: 60_000, // no handler runs it for a minute
   *   meta: { tenant: "acme" },
   * });
   * assert.equal(ack.duplicate, false);
   * ```
   */
  emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options?: EmitOptions & { sync?: true },
  ): Promise<EmitResult>;
  /**
   * Emit without waiting for the stream's acknowledgement (`sync: false`).
   *
   * @typeParam I The event's input payload type.
   * @param event A registered event.
   * @param message The payload.
   * @param options uid, traceId, delay, meta, and `sync: false`.
   * @returns `undefined`, once the message is handed to the connection.
   * @throws {ValidationError} The payload does not match the schema.
   * @throws {PayloadTooLargeError} The encoded message is too large.
   * @throws {TypeError} The event is not registered, or an option is
   *   malformed.
   */
  emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options: EmitOptions & { sync: false },
  ): Promise<undefined>;
  /**
   * Emit, acknowledged or not depending on `options.sync`.
   *
   * @typeParam I The event's input payload type.
   * @param event A registered event.
   * @param message The payload.
   * @param options uid, traceId, delay, meta, sync.
   * @returns The acknowledgement, or `undefined` with `sync: false`.
   * @throws {ValidationError} The payload does not match the schema.
   * @throws {PayloadTooLargeError} The encoded message is too large.
   * @throws {TypeError} The event is not registered, or an option is
   *   malformed.
   */
  emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options?: EmitOptions,
  ): Promise<EmitResult | undefined>;
  emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options: EmitOptions = {},
  ): Promise<EmitResult | undefined> {
    let ev: AnyEvent;
    try {
      ev = this.#registered(event as AnyEvent, "emit");
    } catch (error) {
      return Promise.reject(error); // emit() never throws synchronously
    }
    return options.sync === false
      ? this.#emitter.unacked(ev, message, options)
      : this.#emitter.acked(ev, message, options);
  }

  /**
   * Emit many messages of one event with a bounded window of publishes in
   * flight, and report exactly which failed so they can be retried.
   *
   * Every message is validated and acknowledged like `emit` (`sync: true`).
   * A message that fails (validation, size, the server) does not stop the
   * others.
   *
   * @typeParam I The event's input payload type.
   * @param event A registered event.
   * @param messages The payloads.
   * @param options Window size, per-message uid, shared emit options.
   * @returns Acknowledgements and failures by index.
   * @throws {TypeError} The event is not registered.
   * @throws {RangeError} `window` is not a positive integer.
   *
   * @example Emit in bulk and retry the failures
   * ```ts
   * import * as v from "valibot";
   * import { Event, Events } from "@walnats/walnats";
   * import { NatsServer } from "@walnats/walnats/testing";
   * import assert from "node:assert/strict";
   *
   * await using server = await NatsServer.start();
   * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
   * await using pub = await new Events(USER_CREATED).connect(server.url);
   * await pub.register();
   * const users = [{ id: 1 }, { id: 2 }, { id: Number.NaN }];
   * const { results, failures } = await pub.emitMany(USER_CREATED, users, {
   *   window: 64,
   *   uid: (user) => `user-${user.id}`,
   * });
   * assert.equal(results.filter((r) => r !== undefined).length, 2);
   * assert.deepEqual(failures.map((f) => f.index), [2]); // NaN fails the schema
   * ```
   */
  async emitMany<I>(
    event: Event<unknown, I, unknown, unknown>,
    messages: Iterable<NoInfer<I>>,
    options: EmitManyOptions<NoInfer<I>> = {},
  ): Promise<EmitManyResult> {
    const ev = this.#registered(event as AnyEvent, "emit");
    return await this.#emitter.many(
      ev,
      messages,
      options as EmitManyOptions<unknown>,
    );
  }

  /**
   * Emit a message and wait for the first actor's reply.
   *
   * The message carries a `Walnats-Reply` header naming a fresh inbox; the
   * inbox subscription is removed whatever the outcome.
   *
   * @typeParam I The event's input payload type.
   * @typeParam R The response type.
   * @param event A registered event made with `withResponse`.
   * @param message The payload.
   * @param options Timeout (ms), abort signal, and emit options.
   * @returns The decoded reply.
   * @throws {RequestTimeoutError} No reply within `timeout`.
   * @throws {ValidationError} The payload, or the reply, does not match its
   *   schema.
   * @throws {TypeError} The event has no response codec or is not registered.
   * @throws {RangeError} `timeout` is not a positive number.
   *
   * @example Ask and wait for the answer
   * ```ts
   * import * as v from "valibot";
   * import { Actor, Actors, Event, Events } from "@walnats/walnats";
   * import { NatsServer } from "@walnats/walnats/testing";
   * import assert from "node:assert/strict";
   *
   * await using server = await NatsServer.start();
   * const GET_USER = new Event("get-user", v.object({ id: v.number() }))
   *   .withResponse(v.object({ name: v.string() }));
   * const LOOKUP = new Actor("lookup", GET_USER, (q) => ({ name: `#${q.id}` }));
   * await using pub = await new Events(GET_USER).connect(server.url);
   * await pub.register();
   * await using sub = await new Actors(LOOKUP).connect(server.url);
   * await sub.register();
   * const stop = new AbortController();
   * const listening = sub.listen({ signal: stop.signal });
   * const { name } = await pub.request(GET_USER, { id: 1 }, { timeout: 2000 });
   * assert.equal(name, "#1");
   * stop.abort();
   * await listening;
   * ```
   */
  async request<I, R>(
    // The conditional rejects, at compile time, events without a response.
    event:
      & Event<unknown, I, R, unknown>
      & ([R] extends [never] ? { readonly response: never } : unknown),
    message: NoInfer<I>,
    options: RequestOptions = {},
  ): Promise<R> {
    const ev = this.#registered(event as AnyEvent, "request");
    const codec = (ev.response ?? this.#events.get(ev.name)?.response) as
      | Codec<R, unknown>
      | undefined;
    if (codec === undefined) {
      throw new TypeError(
        `Cannot request event "${ev.name}": it has no response; use event.withResponse(schema)`,
      );
    }
    return await requestReply(
      this.nc,
      this.#emitter,
      ev,
      codec,
      message,
      options,
    );
  }

  /**
   * A live feed of every registered event's messages (a core subscription:
   * nothing is stored or acknowledged). Payloads that do not decode are
   * yielded with their error and bytes, not thrown.
   *
   * The subscriptions are made when `monitor` is called, so messages this
   * publisher emits afterwards are seen; for messages from other
   * connections, `await pub.nc.flush()` first. The feed ends when `signal`
   * aborts, when the publisher closes, or when the loop over it stops.
   *
   * @param options `signal` ends the feed.
   * @returns The feed.
   * @throws {TypeError} The publisher is closed.
   *
   * @example Watch everything for ten seconds
   * ```ts
   * import * as v from "valibot";
   * import { Event, Events } from "@walnats/walnats";
   * import { NatsServer } from "@walnats/walnats/testing";
   * import assert from "node:assert/strict";
   *
   * await using server = await NatsServer.start();
   * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
   * await using pub = await new Events(USER_CREATED).connect(server.url);
   * await pub.register();
   * const feed = pub.monitor({ signal: AbortSignal.timeout(10_000) });
   * await pub.emit(USER_CREATED, { id: 7 });
   * for await (const item of feed) {
   *   assert.equal(item.event.name, "user-created");
   *   assert.deepEqual("message" in item && item.message, { id: 7 });
   *   break; // ends the feed
   * }
   * ```
   */
  monitor(options: MonitorOptions = {}): AsyncIterableIterator<MonitorItem> {
    if (this.#closed) {
      throw new TypeError("Cannot monitor events: the publisher is closed");
    }
    const feed = new MonitorFeed(
      this.nc,
      [...this.#events.values()],
      options.signal,
      (ended) => this.#feeds.delete(ended),
    );
    if (!feed.ended) this.#feeds.add(feed);
    return feed;
  }

  /**
   * The state of the registered events' streams on the server, and of every
   * consumer on them (the publisher does not know the actors' code, so
   * their configuration is not checked). See `docs/operations.md`.
   *
   * @param options Milliseconds each JetStream request may take.
   * @returns The report (plain JSON).
   */
  async status(options: { timeout?: number } = {}): Promise<Status> {
    return await status(this.nc, {
      ...options,
      events: this.events,
      jetstream: this.#jsm.getOptions(),
    });
  }

  /**
   * Liveness and readiness: connection, JetStream, every registered
   * event's stream. Serve it with `healthHandler(pub)`.
   *
   * @param options Milliseconds each check may take.
   * @returns The report (plain JSON); never throws.
   */
  async health(options: { timeout?: number } = {}): Promise<Health> {
    return await health(this.nc, {
      ...options,
      events: this.events,
      jetstream: this.#jsm.getOptions(),
    });
  }

  /**
   * Create or replace a durable schedule: every listener with an actor on
   * `event` emits it on each tick, once per tick however many run (see
   * `docs/delays-and-schedules.md`). Stored in the KV bucket
   * `walnats_schedules`, as `walnats schedules add` stores it.
   *
   * @typeParam I The event's input payload type.
   * @param id The schedule's id (letters, digits and `-/_=.`).
   * @param event A registered event.
   * @param options `every` or `cron` (with `timeZone`), the `message` of
   *   each tick (the tick's time without one), and what to do with `missed`
   *   ticks.
   * @returns The stored schedule.
   * @throws {TypeError} The event is not registered, the id is not a valid
   *   key, neither or both of `every` and `cron` are given, the cron pattern
   *   or time zone is not valid.
   * @throws {RangeError} `every` is not a positive integer of milliseconds.
   * @throws {ValidationError} `message` does not match the event's schema.
   *
   * @example Every hour, and on weekday mornings in Berlin
   * ```ts ignore
   * await pub.upsertSchedule("hourly-report", REPORT_DUE, {
   *   every: 3_600_000,
   *   message: { kind: "hourly" },
   * });
   * await pub.upsertSchedule("morning", REPORT_DUE, {
   *   cron: "0 0 9 * * 1-5",
   *   timeZone: "Europe/Berlin",
   *   message: { kind: "morning" },
   *   missed: "catch-up",
   * });
   * ```
   */
  async upsertSchedule<I>(
    id: string,
    event: Event<unknown, I, unknown, unknown>,
    options: ScheduleOptions<NoInfer<I>>,
  ): Promise<Schedule> {
    const ev = this.#registered(event as AnyEvent, "schedule");
    const schedule = await scheduleOf(
      id,
      ev,
      options as ScheduleOptions<unknown>,
    );
    return await upsertSchedule(this.nc, schedule);
  }

  /**
   * Every stored schedule, by id (of any event; a stored value that is not
   * a valid schedule comes with an `error`).
   *
   * @returns The schedules.
   */
  async listSchedules(): Promise<(Schedule & { error?: string })[]> {
    return await listSchedules(this.nc);
  }

  /**
   * Remove a stored schedule; listeners stop emitting it within a few
   * seconds.
   *
   * @param id The schedule's id.
   * @returns Whether it existed.
   * @throws {TypeError} The id is not a valid key.
   */
  async removeSchedule(id: string): Promise<boolean> {
    return await removeSchedule(this.nc, id);
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * End monitor feeds, then drain and close the connection if this
   * publisher owns it, else flush what was published.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const feed of [...this.#feeds]) feed.end();
    if (this.nc.isClosed()) return;
    if (this.#closeConnection) {
      await this.nc.drain();
    } else {
      await this.nc.flush();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
