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
  HEADER_REPLY,
  HEADER_TRACE,
  headersToRecord,
  replyHeaders,
} from "../headers.ts";
import type { Logger } from "../log.ts";
import type { Middleware } from "../middlewares/middleware.ts";
import type { JobMessage } from "./_jsmsg.ts";
import { judgeDelay } from "./_delay.ts";
import { waitOut } from "./_delay_move.ts";
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
  ) {
    this.actor = actor;
    this.msg = msg;
    this.env = env;
    this.#onSettled = onSettled;
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

    // Delay: nak for the time left, without calling anything. A header
    // that is malformed or beyond what can be waited is poison.
    const delay = judgeDelay(
      h?.get(HEADER_DELAY),
      env.timers.now(),
      meta.timestamp,
      actor.event.limits.maxAge,
    );
    if (delay.kind === "wait") {
      this.#claimed = true;
      stats.delayed++;
      await waitOut(msg, delay.ms, actor, env);
      this.#settle();
      return;
    }
    if (delay.kind === "poison") {
      this.#claimed = true;
      this.#hooksFailure(delay.error, undefined, "dead-letter");
      await this.#deadLetter("poison", delay.error, stats);
      return;
    }
    const delayedStart = delay.delayed && meta.deliveryCount > 1;
    this.attempt = Math.max(1, meta.deliveryCount - (delayedStart ? 1 : 0));

    // The previous attempt was the last one and never reported back (its
    // process died): dead-letter without running it again.
    if (actor.maxAttempts !== undefined && this.attempt > actor.maxAttempts) {
      this.#claimed = true;
      const error = new Error(
        `attempt ${actor.maxAttempts} of ${actor.maxAttempts} did not finish (its process died or lost the connection)`,
      );
      this.#hooksFailure(error, undefined, "dead-letter");
      await this.#deadLetter("exhausted", error, stats);
      return;
    }

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
    if (this.#claimed) return; // timed out or shut down while decoding

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
      await this.#failed(asError(error), stats);
      return;
    }
    await this.#succeeded(result, stats);
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
    const last = actor.maxAttempts !== undefined &&
      this.attempt >= actor.maxAttempts;
    if (last) {
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
    this.msg.nak(actor.retryDelayFor(this.attempt));
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
      attempts: this.attempt,
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
          attempts: this.attempt,
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

  /** Time out: abort the signal and count a failure. */
  timeout(stats: JobStats): void {
    if (this.#claimed) return;
    const error = new JobTimeoutError(this.actor.name, this.actor.jobTimeout);
    this.#controller ??= new AbortController();
    this.#controller.abort(error);
    void this.#failed(error, stats);
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
