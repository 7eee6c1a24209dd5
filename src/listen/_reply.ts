// Where an actor may send its response. `Walnats-Reply` is a header any
// publisher can write, so it is an address the actor would call with its own
// credentials (a forged `$JS.API.STREAM.PURGE.x` would purge a stream, and
// NATS permissions cannot tell: the subject is not the message's reply
// subject). Only inboxes of the connection's own prefix are answered.
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../log.ts";
import type { Timers } from "../_timers.ts";
import { inboxPrefix } from "../transports/_connection_options.ts";

/** Longest reply subject answered, in characters. */
export const MAX_REPLY_LENGTH = 256;

/** Milliseconds between two warnings about refused reply subjects. */
export const REPLY_WARNING_PERIOD = 10_000;

// deno-lint-ignore no-control-regex
const BAD_CHARACTER = /[\s*>\x00-\x1f\x7f]/;

/**
 * Why `subject` may not be replied to, or `undefined` if it may.
 *
 * @param subject The `Walnats-Reply` value.
 * @param prefix The connection's inbox prefix (`_INBOX` by default).
 * @returns The reason it is refused, or `undefined`.
 */
export function refuseReply(
  subject: string,
  prefix: string,
): string | undefined {
  if (subject === "") return "it is empty";
  if (subject.length > MAX_REPLY_LENGTH) {
    return `it is ${subject.length} characters long, the limit is ${MAX_REPLY_LENGTH}`;
  }
  const bad = BAD_CHARACTER.exec(subject);
  if (bad !== null) {
    return `it contains ${
      JSON.stringify(bad[0])
    } (wildcards, spaces and control characters are not allowed)`;
  }
  if (!subject.startsWith(`${prefix}.`)) {
    return `it is not under the connection's inbox prefix "${prefix}."`;
  }
  if (subject.split(".").some((token) => token === "")) {
    return "it has an empty token";
  }
  return undefined;
}

/**
 * Decides, for one listener, whether each reply may be sent, and warns
 * about refused ones at most once per {@linkcode REPLY_WARNING_PERIOD}
 * (a flood of forged messages must not flood the logs), counting the ones
 * it kept quiet about.
 */
export class ReplyGuard {
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #timers: Timers;
  #lastWarning = -Infinity;
  #quiet = 0;

  constructor(nc: NatsConnection, logger: Logger, timers: Timers) {
    this.#prefix = inboxPrefix(nc) || "_INBOX";
    this.#logger = logger;
    this.#timers = timers;
  }

  /**
   * The subject to reply to, or `undefined` when there is none or it is
   * refused (then a warning names it, rate-limited).
   *
   * @param subject The `Walnats-Reply` value, `undefined` when absent.
   * @param actor Actor name, for the warning.
   * @param sequence Stream sequence of the message, for the warning.
   * @returns The subject, or `undefined`.
   */
  check(
    subject: string | undefined,
    actor: string,
    sequence: number,
  ): string | undefined {
    if (subject === undefined) return undefined;
    const reason = refuseReply(subject, this.#prefix);
    if (reason === undefined) return subject;
    const now = this.#timers.monotonic();
    if (now - this.#lastWarning < REPLY_WARNING_PERIOD) {
      this.#quiet++;
      return undefined;
    }
    this.#lastWarning = now;
    const shown = subject.length > 128 ? `${subject.slice(0, 128)}…` : subject;
    this.#logger.warn(
      "reply refused: Walnats-Reply is not an inbox of this connection; the job ran, no reply was sent",
      {
        actor,
        sequence,
        subject: shown,
        reason,
        ...(this.#quiet > 0
          ? { alsoRefusedSinceLastWarning: this.#quiet }
          : {}),
      },
    );
    this.#quiet = 0;
    return undefined;
  }
}

const guards = new WeakMap<object, ReplyGuard>();

/**
 * The {@linkcode ReplyGuard} of one listener's job environment (made on
 * first use, so the environment needs no field of its own).
 */
export function replyGuard(env: {
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly timers: Timers;
}): ReplyGuard {
  let guard = guards.get(env);
  if (guard === undefined) {
    guard = new ReplyGuard(env.nc, env.logger, env.timers);
    guards.set(env, guard);
  }
  return guard;
}
