/**
 * {@linkcode Publisher}: a connected {@linkcode Events} registry that
 * registers streams, emits, requests and monitors.
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
  type PubAck,
} from "@nats-io/jetstream";
/** @ignore */
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nuid,
  type Subscription,
} from "@nats-io/nats-core";
import { CloudEvent } from "./cloud_event.ts";
import type { Codec } from "./codec.ts";
import {
  DecodeError,
  PayloadTooLargeError,
  RequestTimeoutError,
  StreamConfigError,
  StreamExistsError,
} from "./errors.ts";
import type { AnyEvent, Event } from "./event.ts";
import { publishAcked } from "./publish/_retry.ts";
import { inboxPrefix } from "./_connection_options.ts";
import {
  HEADER_DELAY,
  HEADER_ID,
  HEADER_REPLY,
  HEADER_TRACE,
  headersToRecord,
} from "./headers.ts";

/** Options for {@linkcode Publisher.register}. */
export interface RegisterOptions {
  /** Create streams that do not exist. @default {true} */
  create?: boolean;
  /** Update streams whose configuration differs. @default {true} */
  update?: boolean;
}

/** What {@linkcode Publisher.register} did, by event name. */
export interface RegisterReport {
  /** Events whose stream was created. */
  created: string[];
  /** Events whose existing stream was updated to the event's configuration. */
  updated: string[];
  /** Events whose stream already had the event's configuration. */
  unchanged: string[];
  /** Events skipped because their stream is missing and `create` is false. */
  skipped: string[];
}

/** Options for {@linkcode Publisher.emit}. */
export interface EmitOptions {
  /**
   * Unique id of the message (`Nats-Msg-Id`): the stream stores a message
   * with the same id only once within its duplicate window.
   * @default {the CloudEvent id when `meta` is a CloudEvent, else none}
   */
  uid?: string;
  /** Trace id for distributed tracing (`Walnats-Trace`). */
  traceId?: string;
  /**
   * Milliseconds to wait before any handler may run the message
   * (`Walnats-Delay`, stamped as UTC epoch seconds).
   */
  delay?: number;
  /**
   * Extra headers (a W3C `traceparent` passes through as it is), or
   * {@linkcode CloudEvent} metadata sent as `ce-*` headers.
   */
  meta?: Readonly<Record<string, string>> | CloudEvent;
  /**
   * Wait for the stream's acknowledgement. With `false` the message is
   * published without one: the fastest, but a message can be lost.
   * @default {true}
   */
  sync?: boolean;
  /**
   * Milliseconds an acknowledged emit may take, retries included: it is
   * sent again (same `Nats-Msg-Id`) through a stream-leader election or a
   * server restart until the stream acknowledges it.
   * @default {5000}
   */
  timeout?: number;
}

/** The stream's acknowledgement of an emitted message. */
export interface EmitResult {
  /** Stream sequence number of the stored message. */
  sequence: number;
  /**
   * True if a message with the same `uid` was already stored within the
   * duplicate window (this one was dropped; `sequence` is the original's).
   */
  duplicate: boolean;
}

/**
 * Options for {@linkcode Publisher.emitMany}.
 *
 * @typeParam I The messages' type.
 */
export interface EmitManyOptions<I = unknown>
  extends Omit<EmitOptions, "sync" | "uid"> {
  /**
   * Most publishes awaiting their acknowledgement at once (nats.js has no
   * back-pressure of its own).
   * @default {256}
   */
  window?: number;
  /**
   * Per-message `uid`, from the message and its index. With a CloudEvent
   * `meta` and no `uid`, message `i` gets the id `<id>-<i>` (in `ce-id` and
   * `Nats-Msg-Id`).
   */
  uid?: (message: I, index: number) => string | undefined;
  /** Stop sending: messages not sent yet are reported as failed. */
  signal?: AbortSignal;
}

/** One message that {@linkcode Publisher.emitMany} could not store. */
export interface EmitFailure {
  /** Index of the message in the input. */
  index: number;
  /** Why it failed. */
  error: Error;
}

/** What {@linkcode Publisher.emitMany} did. */
export interface EmitManyResult {
  /** Acknowledgements by input index (`undefined` where it failed). */
  results: (EmitResult | undefined)[];
  /** Messages not stored, with their error, in input order. */
  failures: EmitFailure[];
}

/** Options for {@linkcode Publisher.request}. */
export interface RequestOptions extends Omit<EmitOptions, "sync"> {
  /**
   * Milliseconds to wait for the reply, counted from the call (it covers
   * storing the request too).
   * @default {4000}
   */
  timeout?: number;
  /** Abort waiting for the reply; the request rejects with its reason. */
  signal?: AbortSignal;
}

/** Options for {@linkcode Publisher.monitor}. */
export interface MonitorOptions {
  /** Ends the feed (it also ends when the publisher is closed). */
  signal?: AbortSignal;
}

/** One message seen by {@linkcode Publisher.monitor}. */
export type MonitorItem =
  | {
    /** The event it belongs to. */
    event: AnyEvent;
    /** The NATS subject. */
    subject: string;
    /** The message's headers. */
    headers: Record<string, string>;
    /** The decoded payload. */
    message: unknown;
    error?: undefined;
    data?: undefined;
  }
  | {
    /** The event it belongs to. */
    event: AnyEvent;
    /** The NATS subject. */
    subject: string;
    /** The message's headers. */
    headers: Record<string, string>;
    message?: undefined;
    /** Why the payload did not decode (`DecodeError`, `ValidationError`). */
    error: Error;
    /** The raw payload. */
    data: Uint8Array;
  };

const DEFAULT_WINDOW = 256;
const DEFAULT_TIMEOUT = 4000;
/** Milliseconds an acknowledged emit may take, retries included. */
const EMIT_TIMEOUT = 5000;
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_EXISTS = 10058;

/**
 * Adds headers to every emitted message (see `EventsConnectOptions`).
 *
 * @param event The event being emitted.
 * @param headers The message's headers, to set more on.
 */
export type HeaderHook = (event: AnyEvent, headers: MsgHdrs) => void;

/** What only one emit carries, beyond its options. */
interface Extra {
  uid?: string | undefined;
  /** Overrides the CloudEvent's id (emitMany). */
  ceId?: string | undefined;
  reply?: string | undefined;
}

/**
 * A publisher: the connection made by {@linkcode Events.connect}.
 *
 * @example Emit and read the acknowledgement
 * ```ts ignore
 * import * as v from "valibot";
 * import { Event, Events } from "@walnats/walnats";
 *
 * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
 * await using pub = await new Events(USER_CREATED).connect();
 * await pub.register();
 * const { sequence, duplicate } = await pub.emit(USER_CREATED, { id: 1 }, {
 *   uid: "user-1",
 * });
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
  readonly #hooks: readonly HeaderHook[];
  readonly #feeds = new Set<Feed>();
  #closed = false;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    events: AnyEvent[],
    closeConnection: boolean,
    hooks: readonly HeaderHook[],
  ) {
    this.#hooks = hooks;
    this.nc = nc;
    this.#jsm = jsm;
    this.js = jetstream(nc);
    this.#events = new Map(events.map((e) => [e.name, e]));
    this.#closeConnection = closeConnection;
  }

  /**
   * Used by {@linkcode Events.connect}; not meant to be called directly.
   *
   * @param nc An open connection.
   * @param events The registered events.
   * @param closeConnection Close `nc` when the publisher is closed.
   * @param hooks Header hooks run on every emit.
   * @returns The publisher.
   */
  static async open(
    nc: NatsConnection,
    events: AnyEvent[],
    closeConnection: boolean,
    hooks: readonly HeaderHook[] = [],
  ): Promise<Publisher> {
    const jsm = await jetstreamManager(nc);
    return new Publisher(nc, jsm, events, closeConnection, hooks);
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
   * @param options Whether to create missing and update differing streams.
   * @returns What was done to each event's stream.
   * @throws {StreamExistsError} A stream differs and `update` is false
   *   (JetStream error 10058).
   * @throws {StreamConfigError} The server refused a configuration or an
   *   update (for example a change of storage type).
   */
  async register(options: RegisterOptions = {}): Promise<RegisterReport> {
    const create = options.create ?? true;
    const update = options.update ?? true;
    const report: RegisterReport = {
      created: [],
      updated: [],
      unchanged: [],
      skipped: [],
    };
    const results = await Promise.allSettled(
      [...this.#events.values()].map(async (event) => {
        const outcome = await this.#registerOne(event, create, update);
        report[outcome].push(event.name);
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    for (const list of Object.values(report)) list.sort();
    return report;
  }

  async #registerOne(
    event: AnyEvent,
    create: boolean,
    update: boolean,
  ): Promise<keyof RegisterReport> {
    const config = event.streamConfig();
    let exists = true;
    try {
      await this.#jsm.streams.info(config.name);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      if (error.code !== STREAM_NOT_FOUND) throw configError(event, error);
      exists = false;
    }
    if (!exists) {
      if (!create) return "skipped";
      try {
        await this.#jsm.streams.add(config);
        return "created";
      } catch (error) {
        if (!(error instanceof JetStreamApiError)) throw error;
        // Someone else created it meanwhile: compare with theirs below.
        if (error.code !== STREAM_NAME_EXISTS) throw configError(event, error);
      }
    }
    // Adding an existing stream succeeds only if the server finds the
    // configuration identical (after filling in its defaults).
    let differs: JetStreamApiError;
    try {
      await this.#jsm.streams.add(config);
      return "unchanged";
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      if (error.code !== STREAM_NAME_EXISTS) throw configError(event, error);
      differs = error;
    }
    if (!update) {
      throw new StreamExistsError(
        event.name,
        differs.code,
        describe(differs),
        { cause: differs },
      );
    }
    try {
      await this.#jsm.streams.update(config.name, config);
      return "updated";
    } catch (error) {
      if (error instanceof JetStreamApiError) throw configError(event, error);
      throw error;
    }
  }

  /** Encode, check size, and build headers; nothing is sent. */
  async #prepare(
    event: AnyEvent,
    message: unknown,
    options: EmitOptions,
    extra: Extra,
  ): Promise<{ data: Uint8Array; headers: MsgHdrs | undefined }> {
    const encoded = event.codec.encode(message);
    const data = encoded instanceof Promise ? await encoded : encoded;
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot emit event "${event.name}": its codec's encode() returned ${typeof data}, not a Uint8Array`,
      );
    }
    let headers = buildHeaders(event.name, options, extra);
    if (this.#hooks.length > 0) {
      headers ??= natsHeaders();
      for (const hook of this.#hooks) hook(event, headers);
      if (headers.keys().length === 0) headers = undefined;
    }
    if (options.sync !== false) {
      // Acknowledged emits are retried, so each carries a message id (a
      // generated one without a uid), counted in the size checks below.
      headers ??= natsHeaders();
      if (headers.get(HEADER_ID) === "") headers.set(HEADER_ID, nuid.next());
    }
    const size = data.length + headerSize(headers);
    const limit = event.limits.maxMessageSize;
    if (limit !== undefined && size > limit) {
      throw new PayloadTooLargeError(
        event.name,
        size,
        limit,
        "maxMessageSize (headers count too)",
      );
    }
    const maxPayload = this.nc.info?.max_payload;
    if (maxPayload !== undefined && size > maxPayload) {
      throw new PayloadTooLargeError(
        event.name,
        size,
        maxPayload,
        "server's max_payload (headers count too)",
      );
    }
    return { data, headers };
  }

  async #publish(
    event: AnyEvent,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    timeout: number = EMIT_TIMEOUT,
  ): Promise<EmitResult> {
    // Every acknowledged emit carries a message id, so a retry through a
    // leader election or a restart can never store it twice.
    headers ??= natsHeaders();
    let uid = headers.get(HEADER_ID);
    if (uid === "") {
      uid = nuid.next();
      headers.set(HEADER_ID, uid);
    }
    const ack = await publishAcked(
      this.js,
      {
        event: event.name,
        subject: event.subject,
        uid,
        timeout,
        streamExists: () => this.#streamExists(event.stream),
      },
      data,
      headers,
    );
    return toResult(ack);
  }

  async #streamExists(stream: string): Promise<boolean | undefined> {
    try {
      await this.#jsm.streams.info(stream);
      return true;
    } catch (error) {
      return error instanceof JetStreamApiError && error.code === 10059
        ? false
        : undefined;
    }
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
   *   headers) is over the event's `maxMessageSize` or the server's
   *   `max_payload`.
   * @throws {TypeError} The event is not registered, the publisher is
   *   closed, or `uid` or a `meta` header is malformed.
   * @throws {RangeError} `delay` or `timeout` is negative or not finite.
   * @throws {EmitError} No acknowledgement within `timeout` although the
   *   emit was retried (no stream leader, server unreachable), or no stream
   *   listens on the subject; it says whether the message may be stored.
   *
   * @example Emit with options
   * ```ts ignore
   * const ack = await pub.emit(USER_CREATED, { id: 1 }, {
   *   uid: "user-1",
   *   delay: 60_000,
   *   meta: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
   * });
   * console.log(ack.sequence, ack.duplicate);
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
  async emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options: EmitOptions = {},
  ): Promise<EmitResult | undefined> {
    const ev = this.#registered(event as AnyEvent, "emit");
    checkTimeout(ev.name, options.timeout);
    const { data, headers } = await this.#prepare(ev, message, options, {});
    if (options.sync === false) {
      this.nc.publish(ev.subject, data, headers ? { headers } : undefined);
      return undefined;
    }
    return await this.#publish(ev, data, headers, options.timeout);
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
   * ```ts ignore
   * const users = [{ id: 1 }, { id: 2 }, { id: 3 }];
   * const { failures } = await pub.emitMany(USER_CREATED, users, {
   *   window: 64,
   *   uid: (user) => `user-${user.id}`,
   * });
   * const retry = failures.map((f) => users[f.index]!);
   * ```
   */
  async emitMany<I>(
    event: Event<unknown, I, unknown, unknown>,
    messages: Iterable<NoInfer<I>>,
    options: EmitManyOptions<NoInfer<I>> = {},
  ): Promise<EmitManyResult> {
    const ev = this.#registered(event as AnyEvent, "emit");
    checkTimeout(ev.name, options.timeout);
    const window = options.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(
        `Cannot emit event "${ev.name}": window must be a positive integer, got ${window}`,
      );
    }
    const shared: EmitOptions = {};
    if (options.traceId !== undefined) shared.traceId = options.traceId;
    if (options.delay !== undefined) shared.delay = options.delay;
    if (options.meta !== undefined) shared.meta = options.meta;
    const cloud = options.meta instanceof CloudEvent ? options.meta : undefined;
    const items = [...messages];
    const results: (EmitResult | undefined)[] = new Array(items.length)
      .fill(undefined);
    const failures: EmitFailure[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const index = next++;
        const item = items[index] as I;
        if (options.signal?.aborted) {
          failures.push({
            index,
            error: new Error(
              `Cannot emit event "${ev.name}": aborted before sending`,
              { cause: options.signal.reason },
            ),
          });
          continue;
        }
        try {
          const ceId = cloud ? `${cloud.attributes.id}-${index}` : undefined;
          const uid = options.uid?.(item, index) ?? ceId;
          const { data, headers } = await this.#prepare(ev, item, shared, {
            uid,
            ceId,
          });
          results[index] = await this.#publish(
            ev,
            data,
            headers,
            options.timeout,
          );
        } catch (error) {
          failures.push({ index, error: asError(error) });
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(window, items.length) }, worker),
    );
    failures.sort((a, b) => a.index - b.index);
    return { results, failures };
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
   * ```ts ignore
   * const GET_USER = new Event("get-user", v.object({ id: v.number() }))
   *   .withResponse(v.object({ name: v.string() }));
   * const { name } = await pub.request(GET_USER, { id: 1 }, { timeout: 2000 });
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
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(
        `Cannot request event "${ev.name}": timeout must be a positive number of milliseconds, got ${timeout}`,
      );
    }
    const signal = options.signal;
    signal?.throwIfAborted();
    const inbox = createInbox(inboxPrefix(this.nc));
    const sub = this.nc.subscribe(inbox, { max: 1 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const stopped = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new RequestTimeoutError(ev.name, timeout)),
          timeout,
        );
        if (signal !== undefined) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      const work = (async (): Promise<Msg> => {
        const { data, headers } = await this.#prepare(ev, message, options, {
          reply: inbox,
        });
        await this.#publish(ev, data, headers);
        for await (const msg of sub) return msg;
        throw new Error(
          `Cannot request event "${ev.name}": the connection closed before a reply arrived`,
        );
      })();
      // Whichever loses the race must not reject unobserved.
      work.catch(() => {});
      stopped.catch(() => {});
      const reply = await Promise.race([work, stopped]);
      return await codec.decode(reply.data);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) {
        signal?.removeEventListener("abort", onAbort);
      }
      if (!sub.isClosed()) sub.unsubscribe();
    }
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
   * ```ts ignore
   * for await (const item of pub.monitor({ signal: AbortSignal.timeout(10_000) })) {
   *   console.log(item.event.name, item.error ?? item.message);
   * }
   * ```
   */
  monitor(options: MonitorOptions = {}): AsyncIterableIterator<MonitorItem> {
    if (this.#closed) {
      throw new TypeError("Cannot monitor events: the publisher is closed");
    }
    const feed = new Feed(
      this.nc,
      [...this.#events.values()],
      options.signal,
      (ended) => this.#feeds.delete(ended),
    );
    if (!feed.ended) this.#feeds.add(feed);
    return feed;
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

/** A monitor feed: subscribed at once, decoded in arrival order. */
class Feed implements AsyncIterableIterator<MonitorItem> {
  readonly #queue: { event: AnyEvent; msg: Msg }[] = [];
  readonly #subs: Subscription[];
  readonly #signal: AbortSignal | undefined;
  readonly #onEnd: (feed: Feed) => void;
  #waiters: (() => void)[] = [];
  #error: Error | undefined;
  #ended = false;

  constructor(
    nc: NatsConnection,
    events: AnyEvent[],
    signal: AbortSignal | undefined,
    onEnd: (feed: Feed) => void,
  ) {
    this.#signal = signal;
    this.#onEnd = onEnd;
    this.#subs = events.map((event) =>
      nc.subscribe(event.subject, {
        callback: (err, msg) => {
          if (err !== null) {
            this.#error ??= err;
            this.end();
            return;
          }
          this.#queue.push({ event, msg });
          this.#wake();
        },
      })
    );
    // The connection closing (or a permissions error) ends the feed too.
    for (const sub of this.#subs) {
      sub.closed.then((error) => {
        if (error instanceof Error && !this.#ended) this.#error ??= error;
        this.end();
      });
    }
    if (signal?.aborted) this.end();
    else signal?.addEventListener("abort", this.end, { once: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Stop: unsubscribe and let pending `next()` calls finish. */
  readonly end = (): void => {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue.length = 0;
    this.#signal?.removeEventListener("abort", this.end);
    for (const sub of this.#subs) {
      if (!sub.isClosed()) sub.unsubscribe();
    }
    this.#onEnd(this);
    this.#wake();
  };

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async next(): Promise<IteratorResult<MonitorItem, undefined>> {
    while (true) {
      const raw = this.#queue.shift();
      if (raw !== undefined) {
        return { done: false, value: await decodeItem(raw.event, raw.msg) };
      }
      if (this.#error !== undefined) {
        const error = this.#error;
        this.#error = undefined;
        throw error;
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  return(): Promise<IteratorResult<MonitorItem, undefined>> {
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<MonitorItem> {
    return this;
  }
}

async function decodeItem(event: AnyEvent, msg: Msg): Promise<MonitorItem> {
  const headers = headersToRecord(msg.headers);
  try {
    const message = await event.codec.decode(msg.data);
    return { event, subject: msg.subject, headers, message };
  } catch (error) {
    return {
      event,
      subject: msg.subject,
      headers,
      error: error instanceof Error ? error : new DecodeError(String(error)),
      data: msg.data,
    };
  }
}

function checkTimeout(event: string, timeout: number | undefined): void {
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" || !(timeout > 0) || !Number.isFinite(timeout))
  ) {
    throw new RangeError(
      `Cannot emit event "${event}": timeout must be a positive number of milliseconds, got ${
        String(timeout)
      }`,
    );
  }
}

function toResult(ack: PubAck): EmitResult {
  return { sequence: ack.seq, duplicate: ack.duplicate };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function describe(error: JetStreamApiError): string {
  return error.apiError().description ?? error.message;
}

function configError(
  event: AnyEvent,
  error: JetStreamApiError,
): StreamConfigError {
  return new StreamConfigError(event.name, error.code, describe(error), {
    cause: error,
  });
}

/** Bytes the headers take on the wire (they count against size limits). */
function headerSize(h: MsgHdrs | undefined): number {
  if (h === undefined) return 0;
  let text = "NATS/1.0\r\n";
  for (const [key, values] of h) {
    for (const value of values) text += `${key}: ${value}\r\n`;
  }
  text += "\r\n";
  return new TextEncoder().encode(text).length;
}

/**
 * Build the wire headers of an emit; `undefined` when there are none.
 *
 * @param event Event name, for error messages.
 * @param options The emit options.
 * @param extra Per-message uid (overrides `options.uid`), CloudEvent id
 *   override, reply inbox.
 * @param now Current time, epoch milliseconds (a seam for tests).
 * @returns The headers.
 * @throws {TypeError} `uid`, `traceId` or a `meta` header is malformed.
 * @throws {RangeError} `delay` is negative or not finite.
 */
export function buildHeaders(
  event: string,
  options: EmitOptions,
  extra: Extra = {},
  now: number = Date.now(),
): MsgHdrs | undefined {
  // Fast path: a plain emit carries no headers at all.
  if (
    options.meta === undefined && options.uid === undefined &&
    options.traceId === undefined && options.delay === undefined &&
    extra.uid === undefined && extra.ceId === undefined &&
    extra.reply === undefined
  ) {
    return undefined;
  }
  const what = `Cannot emit event "${event}"`;
  let meta: Readonly<Record<string, string>> | undefined;
  let uid = extra.uid ?? options.uid;
  if (options.meta instanceof CloudEvent) {
    const cloud = options.meta;
    meta = cloud.headers();
    if (extra.ceId !== undefined) {
      meta = new CloudEvent({ ...cloud.attributes, id: extra.ceId }).headers();
    }
    uid ??= extra.ceId ?? cloud.attributes.id;
  } else if (options.meta !== undefined) {
    if (typeof options.meta !== "object" || options.meta === null) {
      throw new TypeError(
        `${what}: meta must be a record of headers or a CloudEvent`,
      );
    }
    meta = options.meta;
  }
  const h = natsHeaders();
  const set = (key: string, value: unknown, field: string) => {
    if (typeof value !== "string") {
      throw new TypeError(
        `${what}: ${field} must be a string, got ${typeof value}`,
      );
    }
    try {
      h.set(key, value);
    } catch (error) {
      throw new TypeError(
        `${what}: ${field} is not a valid NATS header (${
          (error as Error).message
        })`,
        { cause: error },
      );
    }
  };
  for (const [key, value] of Object.entries(meta ?? {})) {
    set(key, value, `meta header "${key}"`);
  }
  if (uid !== undefined) {
    if (uid === "") throw new TypeError(`${what}: uid must not be empty`);
    set(HEADER_ID, uid, "uid");
  }
  if (options.traceId !== undefined) {
    set(HEADER_TRACE, options.traceId, "traceId");
  }
  if (options.delay !== undefined) {
    if (
      typeof options.delay !== "number" || !Number.isFinite(options.delay) ||
      options.delay < 0
    ) {
      throw new RangeError(
        `${what}: delay must be a non-negative number of milliseconds, got ${
          String(options.delay)
        }`,
      );
    }
    // True UTC epoch seconds with a fraction, as text (walnats' format).
    set(HEADER_DELAY, String((now + options.delay) / 1000), "delay");
  }
  if (extra.reply !== undefined) set(HEADER_REPLY, extra.reply, "reply");
  return h.keys().length === 0 ? undefined : h;
}
