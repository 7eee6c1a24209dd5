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
   * Attempts before a failing message is dead-lettered; unbounded if absent.
   * @default {undefined}
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
   * shorter than the event's `maxAge`.
   * @default {[500, 1000, 2000, 4000]}
   */
  retryDelay?: number[];
  /**
   * Tell JetStream the job is still running every `ackWait / 2`, so no
   * other copy takes the message while it runs.
   * @default {true}
   */
  pulse?: boolean;
  /** Which waiting actor gets a freed slot first. @default {"normal"} */
  priority?: Priority;
  /**
   * Copy poison and exhausted messages into the event's dead-letter stream
   * before terminating them.
   * @default {true}
   */
  deadLetter?: boolean;
}

const PRIORITIES: readonly Priority[] = ["high", "normal", "low"];

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
  /** Attempts before dead-lettering; `undefined` means unbounded. */
  readonly maxAttempts: number | undefined;
  /** Messages in progress across all copies. */
  readonly maxAckPending: number;
  /** Hooks around each job. */
  readonly middlewares: readonly Middleware<T>[];
  /** Jobs running at once in one process. */
  readonly maxJobs: number;
  /** Milliseconds a job may run. */
  readonly jobTimeout: number;
  /** Milliseconds before each retry. */
  readonly retryDelay: readonly number[];
  /** Whether running jobs pulse. */
  readonly pulse: boolean;
  /** Priority for freed slots. */
  readonly priority: Priority;
  /** Whether failed-for-good messages go to the dead-letter stream. */
  readonly deadLetter: boolean;

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
    checkPositiveInteger(what, "maxAttempts", options.maxAttempts);
    checkPositiveInteger(what, "maxAckPending", options.maxAckPending);
    checkPositiveInteger(what, "maxJobs", options.maxJobs);
    checkTimeout(what, "jobTimeout", options.jobTimeout);
    if (options.retryDelay !== undefined) {
      if (!Array.isArray(options.retryDelay)) {
        throw new TypeError(`${what}: retryDelay must be an array`);
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
    this.maxAttempts = options.maxAttempts;
    this.maxAckPending = options.maxAckPending ?? 1000;
    this.middlewares = Object.freeze([...(options.middlewares ?? [])]);
    this.maxJobs = options.maxJobs ?? 16;
    this.jobTimeout = options.jobTimeout ?? 32_000;
    this.retryDelay = Object.freeze([
      ...(options.retryDelay ?? [500, 1000, 2000, 4000]),
    ]);
    this.pulse = options.pulse ?? true;
    this.priority = options.priority ?? "normal";
    this.deadLetter = options.deadLetter ?? true;
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
    if (delays.length === 0) return 0;
    const index = Math.min(Math.max(attempt, 1), delays.length) - 1;
    return delays[index] ?? 0;
  }

  /**
   * The durable consumer's configuration.
   *
   * `max_deliver` is `maxAttempts + 2`: one delivery may be spent waiting
   * out a `delay`, and one lets a copy dead-letter a message whose last
   * attempt died with its process (walnats itself counts attempts only).
   */
  consumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
    return {
      durable_name: this.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: msToNanos(this.ackWait),
      max_deliver: this.maxAttempts === undefined ? -1 : this.maxAttempts + 2,
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
