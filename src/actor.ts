/**
 * {@linkcode Actor}: a named handler bound to one event; every running copy
 * shares the work through one durable pull consumer.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import { AckPolicy, type ConsumerConfig } from "@nats-io/jetstream";
import type { Context } from "./context.ts";
import { type Event, isEvent } from "./event.ts";
import { msToNanos } from "./limits.ts";
import {
  checkDeadLetterStreamOptions,
  type DeadLetterStreamOptions,
} from "./dead_letter.ts";
import type { Middleware } from "./middlewares/middleware.ts";
import { checkDescription, checkName, checkPositiveInteger } from "./_names.ts";
import { checkDelay, checkTimeout } from "./_bounds.ts";

/** Which waiting actor gets a freed job slot first. */
export type Priority = "high" | "normal" | "low";

/**
 * A handler: a plain function of the message and the job context.
 *
 * @typeParam T The payload type.
 * @typeParam R What it returns (the response, for events with one).
 */
export type Handler<T, R = unknown> = (
  message: T,
  ctx: Context<T>,
) => R | Promise<R>;

/**
 * What a handler of an event returns: the response type for events made by
 * `withResponse`, anything otherwise.
 */
export type HandlerResult<RI> = [RI] extends [never] ? unknown : RI;

/** Options for {@linkcode Actor}; times are in milliseconds. */
export interface ActorOptions<T = unknown> {
  /** What the actor does; the consumer's description. */
  description?: string;
  /**
   * Check the name with Python walnats' rules instead of ours, for names
   * shared with Python services: lowercase letters, digits and dashes
   * anywhere (`user--created`, `-x` pass), no dots (its linter's WNS003
   * and WNS004). Our default is kebab-case with single dashes.
   * @default {false}
   */
  pythonNames?: boolean;

  /**
   * Milliseconds without an ack or pulse after which JetStream redelivers
   * the message to any copy of the actor; at most 2147483647 (about 24.8
   * days, the longest a timer waits).
   * @default {16000}
   */
  ackWait?: number;
  /**
   * Handler runs before a failing message is dead-lettered: at most this
   * many, exactly counted (waiting out a `delay` is never an attempt).
   * `Infinity` retries for ever (never the default: one poison message
   * would loop for ever). Five spends each delay of the default
   * `retryDelay` once.
   * @default {5}
   */
  maxAttempts?: number;
  /**
   * Messages in progress (delivered, not acked) across all copies before
   * JetStream stops delivering.
   * @default {1000}
   */
  maxAckPending?: number;
  /** Hooks around each job, in order. @default {[]} */
  middlewares?: Middleware<T>[];
  /** Jobs of this actor running at once in one process. @default {16} */
  maxJobs?: number;
  /**
   * Milliseconds a job may run; then `ctx.signal` aborts and the attempt
   * counts as failed. At most 2147483647 (about 24.8 days).
   * @default {32000}
   */
  jobTimeout?: number;
  /**
   * Milliseconds to wait before retry N (`retryDelay[N-1]`); the last entry
   * repeats. An empty list retries at once. Each at most 365 days, and
   * shorter than the event's `maxAge`. A function gets the failed attempt
   * (1-based) and returns the milliseconds, e.g.
   * `exponentialBackoff({ base: 500, max: 60_000 })`.
   * @default {[500, 1000, 2000, 4000]}
   */
  retryDelay?: number[] | ((attempt: number) => number);
  /**
   * Decides which errors are permanent (poison): `true` dead-letters the
   * message at once, without the attempts left. A `PermanentError` is
   * always permanent.
   * @default {undefined}
   */
  isPermanent?: (error: Error) => boolean;
  /**
   * Tell JetStream the job is still running every `ackWait / 2`, so no
   * other copy takes the message while it runs.
   * @default {true}
   */
  pulse?: boolean;
  /** Which waiting actor gets a freed slot first. @default {"normal"} */
  priority?: Priority;
  /**
   * Copy poison, permanent and exhausted messages into the event's
   * dead-letter stream before terminating them; an object also sets the
   * limits of that stream (see {@linkcode DeadLetterStreamOptions}).
   * @default {true}
   */
  deadLetter?: boolean | DeadLetterStreamOptions;
}

const PRIORITIES: readonly Priority[] = ["high", "normal", "low"];

/** Handler runs before dead-lettering when `maxAttempts` is not given. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Milliseconds before each retry when `retryDelay` is not given. */
export const DEFAULT_RETRY_DELAY: readonly number[] = Object.freeze([
  500,
  1000,
  2000,
  4000,
]);

function defaultDelay(attempt: number): number {
  const i = Math.min(Math.max(Math.floor(attempt) || 1, 1), 4) - 1;
  return DEFAULT_RETRY_DELAY[i]!;
}

/**
 * The consumer's `max_deliver` for `maxAttempts` handler runs: one more
 * delivery to wait out a `delay`, one to dead-letter a message whose last
 * attempt died with its process; `-1` (unbounded) for `Infinity`.
 */
export function maxDeliverFor(maxAttempts: number): number {
  return Number.isFinite(maxAttempts) ? maxAttempts + 2 : -1;
}

/**
 * An actor: a named handler bound to one event.
 *
 * @typeParam T The event's payload type (inferred from the event).
 * @typeParam RI The response type the handler returns, for events made with
 *   `withResponse`.
 *
 * @example Declare an actor
 * ```ts
 * import * as v from "valibot";
 * import { Actor, Event } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
 * const GREET = new Actor("greet", USER_CREATED, (user) => {
 *   console.log(`hello, user ${user.id}`);
 * }, { maxAttempts: 3 });
 * assert.equal(GREET.name, "greet");
 * ```
 */
export class Actor<T = unknown, RI = unknown> {
  /** The actor name: the durable consumer's name. */
  readonly name: string;
  /** The event it handles. */
  readonly event: Event<T, unknown, unknown, RI>;
  /** The handler. */
  readonly handler: Handler<T, HandlerResult<RI>>;
  /** What the actor does. */
  readonly description: string | undefined;
  /** Milliseconds before JetStream redelivers an un-acked message. */
  readonly ackWait: number;
  /** Handler runs before dead-lettering; `Infinity` means unbounded. */
  readonly maxAttempts: number;
  /** Messages in progress across all copies. */
  readonly maxAckPending: number;
  /** Hooks around each job. */
  readonly middlewares: readonly Middleware<T>[];
  /** Jobs running at once in one process. */
  readonly maxJobs: number;
  /** Milliseconds a job may run. */
  readonly jobTimeout: number;
  /** Milliseconds before each retry: a list, or a function of the attempt. */
  readonly retryDelay: readonly number[] | ((attempt: number) => number);
  /** Which errors dead-letter at once, besides `PermanentError`. */
  readonly isPermanent: ((error: Error) => boolean) | undefined;
  /** Whether running jobs pulse. */
  readonly pulse: boolean;
  /** Priority for freed slots. */
  readonly priority: Priority;
  /** Whether failed-for-good messages go to the dead-letter stream. */
  readonly deadLetter: boolean;
  /** Limits asked for the event's dead-letter stream (defaults filled in by `register()`). */
  readonly deadLetterStream: Readonly<DeadLetterStreamOptions>;

  /**
   * Declare an actor. Nothing talks to the server until `register` and
   * `listen` on the subscriber from `new Actors(...).connect()`.
   *
   * @param name Kebab-case, unique per event, never changed (it names the
   *   durable consumer).
   * @param event The event to handle.
   * @param handler The function run for each message.
   * @param options Timing, concurrency, retries, middlewares.
   * @throws {TypeError} A name, description or option has the wrong form.
   * @throws {RangeError} A number is out of range.
   */
  constructor(
    name: string,
    event: Event<T, unknown, unknown, RI>,
    handler: Handler<T, HandlerResult<RI>>,
    options: ActorOptions<NoInfer<T>> = {},
  ) {
    checkName("actor", name, options.pythonNames ? "python" : "kebab");
    const what = `Cannot create actor "${name}"`;
    if (
      typeof event !== "object" || event === null ||
      typeof (event as { streamConfig?: unknown }).streamConfig !== "function"
    ) {
      throw new TypeError(`${what}: event must be an Event`);
    }
    if (typeof handler !== "function") {
      throw new TypeError(`${what}: handler must be a function`);
    }
    checkDescription("actor", name, options.description);
    checkTimeout(what, "ackWait", options.ackWait);
    if (options.maxAttempts !== Infinity) {
      checkPositiveInteger(what, "maxAttempts", options.maxAttempts);
    }
    checkPositiveInteger(what, "maxAckPending", options.maxAckPending);
    checkPositiveInteger(what, "maxJobs", options.maxJobs);
    checkTimeout(what, "jobTimeout", options.jobTimeout);
    if (
      options.retryDelay !== undefined &&
      typeof options.retryDelay !== "function"
    ) {
      if (!Array.isArray(options.retryDelay)) {
        throw new TypeError(
          `${what}: retryDelay must be an array or a function`,
        );
      }
      const maxAge = event.limits?.maxAge;
      options.retryDelay.forEach((d, i) => {
        checkDelay(what, `retryDelay[${i}]`, d);
        if (maxAge !== undefined && d >= maxAge) {
          throw new RangeError(
            `${what}: retryDelay[${i}] (${d} ms) must be shorter than the event's maxAge (${maxAge} ms), or the message expires before its retry`,
          );
        }
      });
    }
    if (
      options.priority !== undefined && !PRIORITIES.includes(options.priority)
    ) {
      throw new TypeError(
        `${what}: priority must be "high", "normal" or "low", got ${
          String(options.priority)
        }`,
      );
    }
    if (
      options.isPermanent !== undefined &&
      typeof options.isPermanent !== "function"
    ) {
      throw new TypeError(`${what}: isPermanent must be a function`);
    }
    if (
      typeof options.deadLetter === "object" && options.deadLetter !== null
    ) {
      checkDeadLetterStreamOptions(what, options.deadLetter);
    } else if (
      options.deadLetter !== undefined &&
      typeof options.deadLetter !== "boolean"
    ) {
      throw new TypeError(
        `${what}: deadLetter must be a boolean or an object of dead-letter stream options`,
      );
    }
    if (options.middlewares !== undefined) {
      if (!Array.isArray(options.middlewares)) {
        throw new TypeError(`${what}: middlewares must be an array`);
      }
    }
    this.name = name;
    this.event = event;
    this.handler = handler;
    this.description = options.description;
    this.ackWait = options.ackWait ?? 16_000;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.maxAckPending = options.maxAckPending ?? 1000;
    this.middlewares = Object.freeze([...(options.middlewares ?? [])]);
    this.maxJobs = options.maxJobs ?? 16;
    this.jobTimeout = options.jobTimeout ?? 32_000;
    this.retryDelay = typeof options.retryDelay === "function"
      ? options.retryDelay
      : Object.freeze([...(options.retryDelay ?? DEFAULT_RETRY_DELAY)]);
    this.isPermanent = options.isPermanent;
    this.pulse = options.pulse ?? true;
    this.priority = options.priority ?? "normal";
    this.deadLetter = options.deadLetter !== false;
    this.deadLetterStream = Object.freeze(
      typeof options.deadLetter === "object" ? { ...options.deadLetter } : {},
    );
  }

  /** The durable consumer name (the actor name). */
  get consumer(): string {
    return this.name;
  }

  /**
   * Milliseconds to wait before the retry that follows failed attempt
   * `attempt` (1-based): `retryDelay[attempt - 1]`, the last entry repeating.
   */
  retryDelayFor(attempt: number): number {
    const delays = this.retryDelay;
    if (typeof delays === "function") {
      let ms: unknown;
      try {
        ms = delays(attempt);
      } catch {
        ms = undefined;
      }
      // A schedule that throws or returns nonsense must not nak with no
      // delay (that burns through the attempts in milliseconds): fall back
      // to the default schedule.
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
        return defaultDelay(attempt);
      }
      return ms;
    }
    if (delays.length === 0) return 0;
    const index = Math.min(Math.max(attempt, 1), delays.length) - 1;
    return delays[index] ?? 0;
  }

  /**
   * The durable consumer's configuration.
   *
   * `max_deliver` is `maxAttempts + 2`: one delivery may be spent waiting
   * out a `delay`, and one lets a copy dead-letter a message whose last
   * attempt died with its process (Python walnats sets `max_attempts`;
   * `register()` keeps such a consumer's value, see docs/failures.md).
   */
  consumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
    return {
      durable_name: this.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: msToNanos(this.ackWait),
      max_deliver: maxDeliverFor(this.maxAttempts),
      max_ack_pending: this.maxAckPending,
      description: this.description ?? "",
    };
  }
}

/** Any actor, whatever its types. */
// deno-lint-ignore no-explicit-any
export type AnyActor = Actor<any, any>;

/**
 * Whether `value` is an {@linkcode Actor} (by shape, so actors from another
 * copy of the package count too).
 *
 * @param value Anything.
 * @returns True for an actor.
 */
export function isActor(value: unknown): value is AnyActor {
  return typeof value === "object" && value !== null &&
    typeof (value as AnyActor).name === "string" &&
    typeof (value as AnyActor).handler === "function" &&
    typeof (value as AnyActor).consumerConfig === "function" &&
    isEvent((value as AnyActor).event);
}
