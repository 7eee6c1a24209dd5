/**
 * {@linkcode Publisher}: a connected {@linkcode Events} registry that
 * registers streams, emits, requests and monitors.
 *
 * @module
 */
import {
  jetstream,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type PubAck,
} from "@nats-io/jetstream";
import {
  createInbox,
  headers as natsHeaders,
  type MsgHdrs,
  type NatsConnection,
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
import { inboxPrefix } from "./_connection_options.ts";
import {
  HEADER_DELAY,
  HEADER_ID,
  HEADER_REPLY,
  HEADER_TRACE,
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
  /** Events whose stream was created, or already had this configuration. */
  created: string[];
  /** Events whose existing stream was updated. */
  updated: string[];
  /** Events skipped because their stream is missing and `create` is false. */
  skipped: string[];
}

/** Options for {@linkcode Publisher.emit}. */
export interface EmitOptions {
  /**
   * Unique id of the message (`Nats-Msg-Id`): the stream stores a message
   * with the same id only once within its duplicate window.
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
   * Extra headers (a `traceparent` passes through as it is), or
   * {@linkcode CloudEvent} metadata sent as `ce-*` headers.
   */
  meta?: Record<string, string> | CloudEvent;
  /**
   * Wait for the stream's acknowledgement. With `false` the message is
   * published without one: the fastest, but a message can be lost.
   * @default {true}
   */
  sync?: boolean;
}

/** The stream's acknowledgement of an emitted message. */
export interface EmitResult {
  /** Stream sequence number of the stored message. */
  sequence: number;
  /** True if a message with the same `uid` was already stored. */
  duplicate: boolean;
}

/** Options for {@linkcode Publisher.emitMany}. */
export interface EmitManyOptions extends Omit<EmitOptions, "sync" | "uid"> {
  /**
   * Most publishes awaiting their acknowledgement at once.
   * @default {256}
   */
  window?: number;
  /** Per-message `uid`, from the message and its index. */
  uid?: (message: unknown, index: number) => string | undefined;
  /** Stop sending (the rest are reported as failed). */
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
  /** Milliseconds to wait for the reply. @default {4000} */
  timeout?: number;
  /** Abort waiting for the reply. */
  signal?: AbortSignal;
}

/** Options for {@linkcode Publisher.monitor}. */
export interface MonitorOptions {
  /** Stops the feed. */
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
    /** Why the payload did not decode. */
    error: Error;
    /** The raw payload. */
    data: Uint8Array;
  };

const DEFAULT_WINDOW = 256;

/**
 * Adds headers to every emitted message (see `EventsConnectOptions`).
 *
 * @param event The event being emitted.
 * @param headers The message's headers, to set more on.
 */
export type HeaderHook = (event: AnyEvent, headers: MsgHdrs) => void;

/**
 * A publisher: the connection made by {@linkcode Events.connect}.
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

  /** @internal Used by {@linkcode Events.connect}. */
  static async open(
    nc: NatsConnection,
    events: AnyEvent[],
    closeConnection: boolean,
    hooks: readonly HeaderHook[] = [],
  ): Promise<Publisher> {
    const jsm = await jetstreamManager(nc);
    return new Publisher(nc, jsm, events, closeConnection, hooks);
  }

  #registered(event: AnyEvent, action: string): AnyEvent {
    const known = this.#events.get(event?.name);
    if (known === undefined) {
      throw new TypeError(
        `Cannot ${action} event "${
          event?.name ?? String(event)
        }": it is not registered; add it to the Events registry`,
      );
    }
    return event;
  }

  /**
   * Create or update the streams of all registered events, concurrently.
   *
   * @param options Whether to create missing and update differing streams.
   * @returns What was done to each event's stream.
   * @throws {StreamExistsError} A stream differs and `update` is false.
   * @throws {StreamConfigError} The server refused a configuration.
   */
  async register(options: RegisterOptions = {}): Promise<RegisterReport> {
    const create = options.create ?? true;
    const update = options.update ?? true;
    const report: RegisterReport = { created: [], updated: [], skipped: [] };
    const results = await Promise.allSettled(
      [...this.#events.values()].map(async (event) => {
        const outcome = await this.#registerOne(event, create, update);
        report[outcome].push(event.name);
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    return report;
  }

  async #registerOne(
    event: AnyEvent,
    create: boolean,
    update: boolean,
  ): Promise<keyof RegisterReport> {
    const config = event.streamConfig();
    if (!create) {
      try {
        await this.#jsm.streams.info(config.name);
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === 10059) {
          return "skipped";
        }
        throw error;
      }
      if (!update) return "skipped";
      return await this.#update(event, config);
    }
    try {
      await this.#jsm.streams.add(config);
      return "created";
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      if (error.code === 10058) {
        if (!update) {
          throw new StreamExistsError(event.name, error.code, error.message, {
            cause: error,
          });
        }
        return await this.#update(event, config);
      }
      throw new StreamConfigError(event.name, error.code, error.message, {
        cause: error,
      });
    }
  }

  async #update(
    event: AnyEvent,
    config: ReturnType<AnyEvent["streamConfig"]>,
  ): Promise<"updated"> {
    try {
      await this.#jsm.streams.update(config.name, config);
      return "updated";
    } catch (error) {
      if (error instanceof JetStreamApiError) {
        throw new StreamConfigError(event.name, error.code, error.message, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Encode, check size, and build headers; nothing is sent. */
  async #prepare(
    event: AnyEvent,
    message: unknown,
    options: EmitOptions,
    uid: string | undefined,
  ): Promise<{ data: Uint8Array; headers: MsgHdrs | undefined }> {
    const data = await event.codec.encode(message);
    const limit = event.limits.maxMessageSize;
    if (limit !== undefined && data.length > limit) {
      throw new PayloadTooLargeError(
        event.name,
        data.length,
        limit,
        "maxMessageSize",
      );
    }
    const maxPayload = this.nc.info?.max_payload;
    if (maxPayload !== undefined && data.length > maxPayload) {
      throw new PayloadTooLargeError(
        event.name,
        data.length,
        maxPayload,
        "server's max_payload",
      );
    }
    let headers = buildHeaders(options, uid);
    if (this.#hooks.length > 0) {
      headers ??= natsHeaders();
      for (const hook of this.#hooks) hook(event, headers);
      if ([...headers.keys()].length === 0) headers = undefined;
    }
    return { data, headers };
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
   * @throws {PayloadTooLargeError} The encoded payload is over a size limit.
   * @throws {TypeError} The event is not registered.
   */
  emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options?: EmitOptions & { sync?: true },
  ): Promise<EmitResult>;
  emit<I>(
    event: Event<unknown, I, unknown, unknown>,
    message: NoInfer<I>,
    options: EmitOptions & { sync: false },
  ): Promise<undefined>;
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
    const uid = options.uid ??
      (options.meta instanceof CloudEvent
        ? options.meta.attributes.id
        : undefined);
    const { data, headers } = await this.#prepare(ev, message, options, uid);
    if (options.sync === false) {
      this.nc.publish(ev.subject, data, headers ? { headers } : undefined);
      return undefined;
    }
    const ack = await this.js.publish(
      ev.subject,
      data,
      headers ? { headers } : undefined,
    );
    return toResult(ack);
  }

  /**
   * Emit many messages of one event with a bounded window of publishes in
   * flight, and report exactly which failed so they can be retried.
   *
   * @typeParam I The event's input payload type.
   * @param event A registered event.
   * @param messages The payloads.
   * @param options Window size, per-message uid, shared emit options.
   * @returns Acknowledgements and failures by index.
   * @throws {TypeError} The event is not registered.
   */
  async emitMany<I>(
    event: Event<unknown, I, unknown, unknown>,
    messages: Iterable<NoInfer<I>>,
    options: EmitManyOptions = {},
  ): Promise<EmitManyResult> {
    const ev = this.#registered(event as AnyEvent, "emit");
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
    const items = [...messages];
    const results: (EmitResult | undefined)[] = new Array(items.length);
    const failures: EmitFailure[] = [];
    let next = 0;
    const worker = async () => {
      while (true) {
        const index = next++;
        if (index >= items.length) return;
        if (options.signal?.aborted) {
          failures.push({
            index,
            error: new Error("Aborted before sending", {
              cause: options.signal.reason,
            }),
          });
          continue;
        }
        try {
          const uid = options.uid?.(items[index], index) ??
            (options.meta instanceof CloudEvent
              ? `${options.meta.attributes.id}-${index}`
              : undefined);
          const { data, headers } = await this.#prepare(
            ev,
            items[index],
            shared,
            uid,
          );
          const ack = await this.js.publish(
            ev.subject,
            data,
            headers ? { headers } : undefined,
          );
          results[index] = toResult(ack);
        } catch (error) {
          failures.push({ index, error: asError(error) });
        }
      }
    };
    const workers = Array.from(
      { length: Math.min(window, items.length) },
      worker,
    );
    await Promise.all(workers);
    failures.sort((a, b) => a.index - b.index);
    return { results, failures };
  }

  /**
   * Emit a message and wait for the first actor's reply.
   *
   * @typeParam I The event's input payload type.
   * @typeParam R The response type.
   * @param event A registered event made with `withResponse`.
   * @param message The payload.
   * @param options Timeout (ms), abort signal, and emit options.
   * @returns The decoded reply.
   * @throws {RequestTimeoutError} No reply within `timeout`.
   * @throws {TypeError} The event has no response codec or is not registered.
   */
  async request<I, R>(
    event: Event<unknown, I, R, unknown>,
    message: NoInfer<I>,
    options: RequestOptions = {},
  ): Promise<R> {
    const ev = this.#registered(event as AnyEvent, "request");
    const codec = event.response as Codec<R, unknown> | undefined;
    if (codec === undefined) {
      throw new TypeError(
        `Cannot request event "${ev.name}": it has no response; use event.withResponse(schema)`,
      );
    }
    const timeout = options.timeout ?? 4000;
    const inbox = createInbox(inboxPrefix(this.nc));
    const sub = this.nc.subscribe(inbox, { max: 1 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => sub.unsubscribe();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const meta = options.meta instanceof CloudEvent
        ? options.meta.headers()
        : options.meta;
      await this.emit(event, message, {
        ...options,
        meta: { ...meta, [HEADER_REPLY]: inbox },
        sync: true,
      });
      const reply = (async () => {
        for await (const msg of sub) return msg;
        return undefined;
      })();
      const expired = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeout);
      });
      const msg = await Promise.race([reply, expired]);
      if (msg === "timeout") throw new RequestTimeoutError(ev.name, timeout);
      if (msg === undefined) {
        options.signal?.throwIfAborted();
        throw new RequestTimeoutError(ev.name, timeout);
      }
      return await codec.decode(msg.data);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      sub.unsubscribe();
    }
  }

  /**
   * A live feed of every registered event's messages (a core subscription:
   * nothing is stored or acknowledged). Payloads that do not decode are
   * yielded with their error and bytes.
   *
   * @param options `signal` ends the feed.
   * @returns The feed.
   */
  async *monitor(options: MonitorOptions = {}): AsyncIterableIterator<
    MonitorItem
  > {
    const queue: MonitorItem[] = [];
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const subs = [...this.#events.values()].map((event) =>
      this.nc.subscribe(event.subject, {
        callback: (err, msg) => {
          if (err !== null) return;
          const headers = headersToRecord(msg.headers);
          const push = (item: MonitorItem) => {
            queue.push(item);
            notify();
          };
          const fail = (error: unknown) =>
            push({
              event,
              subject: msg.subject,
              headers,
              error: error instanceof DecodeError ||
                  error instanceof Error
                ? error
                : new DecodeError(String(error)),
              data: msg.data,
            });
          try {
            const decoded = event.codec.decode(msg.data);
            if (decoded instanceof Promise) {
              decoded.then(
                (message) =>
                  push({ event, subject: msg.subject, headers, message }),
                fail,
              );
            } else {
              push({ event, subject: msg.subject, headers, message: decoded });
            }
          } catch (error) {
            fail(error);
          }
        },
      })
    );
    const signal = options.signal;
    signal?.addEventListener("abort", notify, { once: true });
    try {
      await this.nc.flush();
      while (!signal?.aborted) {
        const item = queue.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      signal?.removeEventListener("abort", notify);
      for (const sub of subs) sub.unsubscribe();
    }
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Flush pending publishes, then close the connection if this publisher
   * owns it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#closeConnection) {
      if (!this.nc.isClosed()) await this.nc.drain();
    } else if (!this.nc.isClosed()) {
      await this.nc.flush();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function toResult(ack: PubAck): EmitResult {
  return { sequence: ack.seq, duplicate: ack.duplicate };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Build the wire headers of an emit. */
export function buildHeaders(
  options: EmitOptions,
  uid: string | undefined,
  now: number = Date.now(),
): MsgHdrs | undefined {
  const meta = options.meta instanceof CloudEvent
    ? options.meta.headers()
    : options.meta;
  if (
    uid === undefined && options.traceId === undefined &&
    options.delay === undefined && (meta === undefined ||
      Object.keys(meta).length === 0)
  ) {
    return undefined;
  }
  const h = natsHeaders();
  if (meta !== undefined) {
    for (const [key, value] of Object.entries(meta)) h.set(key, value);
  }
  if (uid !== undefined) h.set(HEADER_ID, uid);
  if (options.traceId !== undefined) h.set(HEADER_TRACE, options.traceId);
  if (options.delay !== undefined) {
    if (!Number.isFinite(options.delay) || options.delay < 0) {
      throw new RangeError(
        `Cannot emit: delay must be a non-negative number of milliseconds, got ${options.delay}`,
      );
    }
    // True UTC epoch seconds with a fraction, as text (walnats' format).
    h.set(HEADER_DELAY, String((now + options.delay) / 1000));
  }
  return h;
}

/** Headers as a plain record (first value of each key). */
export function headersToRecord(
  h: MsgHdrs | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  for (const [key, values] of h) {
    const first = values[0];
    if (first !== undefined) out[key] = first;
  }
  return out;
}
