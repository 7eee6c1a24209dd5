/**
 * The options and results of {@linkcode Publisher}'s calls.
 *
 * @module
 */
/** @ignore */
import type { MsgHdrs } from "@nats-io/nats-core";
import type { CloudEvent } from "../cloud_event.ts";
import type { AnyEvent } from "../event.ts";

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
   * (`Walnats-Delay`, stamped as UTC epoch seconds). At most 365 days, and
   * shorter than the event's `maxAge`.
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

/**
 * Adds headers to every emitted message (see `EventsConnectOptions`).
 *
 * @param event The event being emitted.
 * @param headers The message's headers, to set more on.
 */
export type HeaderHook = (event: AnyEvent, headers: MsgHdrs) => void;

/** Options for {@linkcode Publisher.upsertSchedule}; times in milliseconds. */
export interface ScheduleOptions<I> {
  /**
   * Milliseconds between ticks, counted from the Unix epoch (so `60_000`
   * ticks at the start of each minute). Exactly one of `every` and `cron`.
   */
  every?: number;
  /** A cron pattern of five or six fields, read by `croner`. */
  cron?: string;
  /** IANA time zone the cron pattern is read in. @default {"UTC"} */
  timeZone?: string;
  /**
   * The payload of every tick (stored as JSON); without one, the tick's
   * time as a `Date`.
   */
  message?: I;
  /**
   * Ticks that fell due while no listener ran: `"skip"` them (a tick more
   * than 5 s late is not emitted) or `"catch-up"` (emit each, at most 1000).
   * @default {"skip"}
   */
  missed?: "skip" | "catch-up";
}
