// One job: a delivered message run through an actor's handler, with the
// failure rules of DESIGN.md applied to its outcome.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import type { Context } from "../context.ts";
import { publishDeadLetter } from "../dead_letter.ts";
import type { DeadLetterReason } from "../dead_letter.ts";
import { DecodeError, JobTimeoutError, ShutdownError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import {
  HEADER_DELAY,
  HEADER_REPLAY_ACTOR,
  HEADER_REPLY,
  HEADER_TRACE,
  headersToRecord,
  replyHeaders,
} from "../headers.ts";
import { isPermanentError, retryErrorDelay } from "../outcomes.ts";
import { maxDeliverFor } from "../actor.ts";
import { planDelivery } from "./_attempts.ts";
import type { Logger } from "../log.ts";
import type { Middleware } from "../middlewares/middleware.ts";
import type { JobMessage } from "./_jsmsg.ts";
import { judgeDelay } from "./_delay.ts";
import { replyGuard } from "./_reply.ts";
import { MAX_NAK_DELAY_MS } from "../_bounds.ts";
import { asError } from "../_async.ts";
import type { Timers } from "../_timers.ts";

/** What every job of one listener shares. */
export interface JobEnv {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly logger: Logger;
  /** Whether the server understands `+TERM <reason>` (2.10.4+). */
  readonly termReasons: boolean;
  /**
   * The time source: `now()` only for `Walnats-Delay`, `monotonic()` for
   * durations and job deadlines (a wall-clock step never times out running
   * jobs), and every timer of the engine.
   */
  readonly timers: Timers;
}

/** Counters a job reports to. */
export interface JobStats {
  succeeded: number;
  failed: number;
  deadLettered: number;
  delayed: number;
  /** Jobs whose handler ran past `jobTimeout` (each kept its slot until it settled). */
  timedOut: number;
  /** Replayed messages meant for another actor: acked without running. */
  skipped: number;
}

class JobContext implements Context {
  readonly #job: Job;
  #headers: Record<string, string> | undefined;

  constructor(job: Job) {
    this.#job = job;
  }
  get actor(): string {
    return this.#job.actor.name;
  }
  get event(): AnyEvent {
    return this.#job.actor.event as AnyEvent;
  }
  get attempt(): number {
    return this.#job.attempt;
  }
  get deliveryCount(): number {
    return this.#job.msg.meta.deliveryCount;
  }
  get sequence(): number {
    return this.#job.msg.meta.streamSequence;
  }
  get timestamp(): Date {
    return new Date(this.#job.msg.meta.timestamp);
  }
  get traceId(): string | undefined {
    return this.#job.msg.headers?.get(HEADER_TRACE) || undefined;
  }
  get headers(): Readonly<Record<string, string>> {
    return (this.#headers ??= headersToRecord(this.#job.msg.headers));
  }
  get signal(): AbortSignal {
    return this.#job.signal;
  }
  working(): void {
    this.#job.msg.working();
  }
}

type HookName = "onStart" | "onSuccess" | "onFailure";

// Call one hook of every middleware, in list order, without letting any of
// them delay or fail the job.
function runHooks(
  middlewares: readonly Middleware[],
  hook: HookName,
  ctx: Parameters<NonNullable<Middleware[HookName]>>[0],
  logger: Logger,
  actor: string,
): void {
  const report = (error: unknown) =>
    logger.error(`middleware ${hook} failed`, { actor, error });
  for (const mw of middlewares) {
    const fn = mw[hook] as
      | ((c: typeof ctx) => void | Promise<void>)
      | undefined;
    if (fn === undefined) continue;
    try {
      const result = fn.call(mw, ctx);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }
}

/** A job in progress. */
export class Job {
  readonly actor: AnyActor;
  readonly msg: JobMessage;
  readonly env: JobEnv;
  /** Monotonic ms (env.timers) when the handler started (0 before). */
  started = 0;
  /** Monotonic ms after which the job times out. */
  deadline = Infinity;
  attempt = 1;
  /** The consumer's `max_deliver` as the listener found it. */
  readonly maxDeliver: number;
  // No retry after this attempt (the last one, or the last delivery).
  #final = false;
  // Handler runs recorded in a dead letter.
  #attempts = 0;
  // Past jobTimeout, handler not settled yet: the slot and pulse stay.
  #timedOut = false;
  #controller: AbortController | undefined;
  // Claimed: the outcome is decided (the first of handler, timeout and
  // shutdown wins). Settled: the message was acked, nak'd or terminated.
  #claimed = false;
  #settled = false;
  // Called once, when the outcome has been applied to the message: one
  // callback bound per puller instead of a promise per job.
  readonly #onSettled: (job: Job) => void;
  #message: unknown;
  #ctx: JobContext | undefined;

  constructor(
    actor: AnyActor,
    msg: JobMessage,
    env: JobEnv,
    onSettled: (job: Job) => void,
    maxDeliver: number = maxDeliverFor(actor.maxAttempts),
  ) {
    this.actor = actor;
    this.msg = msg;
    this.env = env;
    this.#onSettled = onSettled;
    this.maxDeliver = maxDeliver;
  }

  /** Ran past `jobTimeout` and its handler has not settled yet. */
  get overdue(): boolean {
    return this.#timedOut && !this.#settled;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  #context(): JobContext {
    return (this.#ctx ??= new JobContext(this));
  }

  // A plain copy of the context for hooks, with extra fields.
  #hookContext<E extends object>(extra: E): Context & E {
    const c = this.#context();
    return {
      actor: c.actor,
      event: c.event,
      attempt: c.attempt,
      deliveryCount: c.deliveryCount,
      sequence: c.sequence,
      timestamp: c.timestamp,
      traceId: c.traceId,
      headers: c.headers,
      signal: c.signal,
      working: () => c.working(),
      ...extra,
    };
  }

  /** Run the job to its outcome; never rejects. */
  run(stats: JobStats): void {
    this.#run(stats).catch((error) => {
      // Only a bug of ours lands here: never ack, let JetStream redeliver.
      this.env.logger.error("job crashed", {
        actor: this.actor.name,
        error,
      });
      if (!this.#settled) {
        this.msg.nak(this.actor.retryDelayFor(this.attempt));
        this.#settle();
      }
    });
  }

  async #run(stats: JobStats): Promise<void> {
    const { actor, msg, env } = this;
    const meta = msg.meta;
    const h = msg.headers;

    // A replayed dead letter is for the actor that dead-lettered it alone.
    const replayTo = h?.get(HEADER_REPLAY_ACTOR);
    if (replayTo && replayTo !== actor.name) {
      this.#claimed = true;
      stats.skipped++;
      msg.ack();
      this.#settle();
      return;
    }

    // Delay: a header that is malformed or beyond what can be waited is
    // poison; otherwise nak for the time left, without calling anything,
    // and count attempts exactly from the delivery count (_attempts.ts).
    const now = env.timers.now();
    const delay = judgeDelay(
      h?.get(HEADER_DELAY),
      now,
      meta.timestamp,
      actor.event.limits.maxAge,
    );
    if (delay.kind === "poison") {
      this.#claimed = true;
      this.#attempts = 0; // the handler never ran
      this.#hooksFailure(delay.error, undefined, "dead-letter");
      await this.#deadLetter("poison", delay.error, stats);
      return;
    }
    const until = delay.kind === "wait"
      ? now + delay.ms
      : delay.delayed
      ? now
      : undefined;
    const plan = planDelivery({
      deliveryCount: meta.deliveryCount,
      timestamp: meta.timestamp,
      until,
      now,
    }, { maxAttempts: actor.maxAttempts, maxDeliver: this.maxDeliver });
    if (plan.kind === "wait") {
      this.#claimed = true;
      stats.delayed++;
      msg.nak(plan.delay);
      this.#settle();
      return;
    }
    if (plan.kind === "exhausted") {
      // The last attempt never reported back (its process died), or no
      // delivery is left: dead-letter without running it again.
      this.#claimed = true;
      this.attempt = plan.attempts;
      this.#attempts = plan.attempts;
      const error = new Error(plan.detail);
      this.#hooksFailure(error, undefined, "dead-letter");
      await this.#deadLetter("exhausted", error, stats);
      return;
    }
    this.attempt = plan.attempt;
    this.#attempts = plan.attempt;
    this.#final = plan.final;

    this.started = env.timers.monotonic();
    this.deadline = this.started + actor.jobTimeout;

    let message: unknown;
    try {
      // Await only asynchronous codecs: a microtask per message otherwise.
      const decoded = actor.event.codec.decode(msg.data);
      message = decoded instanceof Promise ? await decoded : decoded;
    } catch (error) {
      const err = error instanceof Error ? error : new DecodeError(
        String(error),
      );
      if (this.#claimed) return;
      this.#claimed = true;
      this.#hooksFailure(err, undefined, "dead-letter");
      await this.#deadLetter("poison", err, stats);
      return;
    }
    this.#message = message;
    if (this.#claimed) return; // shut down while decoding
    if (this.#timedOut) {
      await this.#failed(this.#timeoutError(), stats);
      return;
    }

    const middlewares = actor.middlewares as Middleware[];
    if (middlewares.length > 0) {
      runHooks(
        middlewares,
        "onStart",
        this.#hookContext({ message }),
        env.logger,
        actor.name,
      );
    }

    let result: unknown;
    try {
      result = await actor.handler(message, this.#context());
    } catch (error) {
      await this.#failed(
        this.#timedOut ? this.#timeoutError() : asError(error),
        stats,
      );
      return;
    }
    // A handler that finished after its timeout still failed: its outcome
    // was decided when the time ran out.
    if (this.#timedOut) await this.#failed(this.#timeoutError(), stats);
    else await this.#succeeded(result, stats);
  }

  #timeoutError(): JobTimeoutError {
    return new JobTimeoutError(this.actor.name, this.actor.jobTimeout);
  }

  // Whether the handler said (or the actor decides) retrying cannot help.
  #permanent(error: Error): boolean {
    if (isPermanentError(error)) return true;
    const decide = this.actor.isPermanent;
    if (decide === undefined || error instanceof JobTimeoutError) return false;
    try {
      return decide(error) === true;
    } catch (predicateError) {
      this.env.logger.error("isPermanent failed; the error is retried", {
        actor: this.actor.name,
        error: predicateError,
      });
      return false;
    }
  }

  async #succeeded(result: unknown, stats: JobStats): Promise<void> {
    const { actor, msg, env } = this;
    const response = actor.event.response;
    const reply = response !== undefined && msg.headers?.has(HEADER_REPLY)
      ? replyGuard(env).check(
        msg.headers.get(HEADER_REPLY),
        actor.name,
        msg.meta.streamSequence,
      )
      : undefined;
    let payload: Uint8Array | undefined;
    if (reply !== undefined) {
      try {
        payload = await response!.encode(result);
      } catch (error) {
        await this.#failed(asError(error), stats);
        return;
      }
    }
    if (this.#claimed) return;
    this.#claimed = true;
    msg.ack();
    this.#settle();
    stats.succeeded++;
    if (reply !== undefined && payload !== undefined) {
      try {
        const room = (env.nc.info?.max_payload ?? Infinity) - payload.length;
        const headers = replyHeaders(msg.headers, room);
        env.nc.publish(reply, payload, headers ? { headers } : undefined);
      } catch (error) {
        env.logger.error("reply failed", { actor: actor.name, error });
      }
    }
    const middlewares = actor.middlewares as Middleware[];
    if (middlewares.length > 0) {
      runHooks(
        middlewares,
        "onSuccess",
        this.#hookContext({
          message: this.#message,
          duration: env.timers.monotonic() - this.started,
        }),
        env.logger,
        actor.name,
      );
    }
  }

  async #failed(error: Error, stats: JobStats): Promise<void> {
    if (this.#claimed) return;
    this.#claimed = true;
    const { actor } = this;
    if (this.#timedOut) {
      this.env.logger.info("timed-out job settled; its slot is free again", {
        actor: actor.name,
        sequence: this.msg.meta.streamSequence,
        ms: Math.round(this.env.timers.monotonic() - this.started),
      });
    }
    if (this.#permanent(error)) {
      this.#hooksFailure(error, this.#message, "dead-letter");
      await this.#deadLetter("permanent", error, stats);
      return;
    }
    if (this.#final) {
      this.#hooksFailure(error, this.#message, "dead-letter");
      await this.#deadLetter("exhausted", error, stats);
      return;
    }
    stats.failed++;
    this.env.logger.warn("job failed, will retry", {
      actor: actor.name,
      attempt: this.attempt,
      sequence: this.msg.meta.streamSequence,
      error,
    });
    this.msg.nak(retryErrorDelay(error) ?? actor.retryDelayFor(this.attempt));
    this.#settle();
    this.#hooksFailure(error, this.#message, "retry");
  }

  #hooksFailure(
    error: Error,
    message: unknown,
    outcome: "retry" | "dead-letter" | "terminate",
  ): void {
    const middlewares = this.actor.middlewares as Middleware[];
    if (middlewares.length === 0) return;
    const ctx = this.#hookContext({
      message,
      error,
      outcome: outcome === "dead-letter" && !this.actor.deadLetter
        ? "terminate"
        : outcome,
      duration: this.started ? this.env.timers.monotonic() - this.started : 0,
    });
    runHooks(middlewares, "onFailure", ctx, this.env.logger, this.actor.name);
  }

  async #deadLetter(
    reason: DeadLetterReason,
    error: Error,
    stats: JobStats,
  ): Promise<void> {
    const { actor, msg, env } = this;
    const fields = {
      actor: actor.name,
      reason,
      sequence: msg.meta.streamSequence,
      attempts: this.#attempts,
      error,
    };
    if (actor.deadLetter) {
      // The copy must be stored before the original is terminated: with
      // interest retention a terminated message is gone.
      const pulse = env.timers.setInterval(
        () => msg.working(),
        actor.ackWait / 2,
      );
      let truncated: boolean;
      try {
        ({ truncated } = await publishDeadLetter(env.js, {
          event: actor.event as AnyEvent,
          actor: actor.name,
          reason,
          attempts: this.#attempts,
          error,
          data: msg.data,
          headers: msg.headers,
          sequence: msg.meta.streamSequence,
          subject: msg.subject,
          maxPayload: env.nc.info?.max_payload,
        }));
      } catch (publishError) {
        env.logger.error(
          "dead-letter publish failed; the message is nak'd instead",
          { ...fields, publishError },
        );
        msg.nak(actor.retryDelayFor(this.attempt));
        this.#settle();
        stats.failed++;
        return;
      } finally {
        env.timers.clearInterval(pulse);
      }
      if (truncated) {
        // Too large to copy: the original stays in its stream, where the
        // dead letter points, parked for the longest nak (not a loop).
        env.logger.error(
          "message dead-lettered without its payload (too large to copy); the original stays in its stream",
          { ...fields, stream: msg.meta.stream },
        );
        stats.deadLettered++;
        msg.nak(MAX_NAK_DELAY_MS);
        this.#settle();
        return;
      }
      env.logger.warn("message dead-lettered", fields);
    } else {
      env.logger.error("message dropped (dead letters are off)", fields);
    }
    stats.deadLettered++;
    msg.term(
      env.termReasons ? `${reason}: ${error.message}`.slice(0, 256) : undefined,
    );
    this.#settle();
  }

  /**
   * Time out: abort the signal; the attempt has failed, but the job keeps
   * its slot (and its pulse) until the handler settles, so `maxJobs` stays
   * a hard cap and no other copy runs the message meanwhile.
   */
  timeout(stats: JobStats): void {
    if (this.#claimed || this.#timedOut) return;
    this.#timedOut = true;
    stats.timedOut++;
    this.env.logger.warn(
      "job ran past jobTimeout; it keeps its slot until its handler settles",
      {
        actor: this.actor.name,
        sequence: this.msg.meta.streamSequence,
        attempt: this.attempt,
        jobTimeout: this.actor.jobTimeout,
      },
    );
    this.#controller ??= new AbortController();
    this.#controller.abort(this.#timeoutError());
  }

  /** Shutdown grace is over: abort and hand the message back at once. */
  abandon(): void {
    if (this.#claimed) return;
    this.#claimed = true;
    const error = new ShutdownError(
      `Listener of actor "${this.actor.name}" shut down before the job finished`,
    );
    this.#controller ??= new AbortController();
    this.#controller.abort(error);
    this.msg.nak(0);
    this.#settle();
    this.#hooksFailure(error, this.#message, "retry");
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#onSettled(this);
  }
}
