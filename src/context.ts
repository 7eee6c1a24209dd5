/**
 * {@linkcode Context}: what a handler knows about the job it runs.
 *
 * @module
 */
import type { AnyEvent } from "./event.ts";

/** What a handler and middlewares know about the current job. */
export interface Context<_T = unknown> {
  /** Name of the actor running the job. */
  readonly actor: string;
  /** The event the message belongs to. */
  readonly event: AnyEvent;
  /**
   * Attempt number, 1-based: handler runs of this message so far, this one
   * included. Deliveries made only to wait out a `delay` are not counted
   * (see docs/failures.md for the exact rule).
   */
  readonly attempt: number;
  /**
   * Delivery count reported by JetStream, 1-based; where a server before
   * nats-server 2.10.14 counted backwards after a retry this connection
   * nak'd, one more than the delivery before (docs/failures.md).
   */
  readonly deliveryCount: number;
  /** Stream sequence of the message. */
  readonly sequence: number;
  /** When the message was stored in the stream. */
  readonly timestamp: Date;
  /** `Walnats-Trace` header, if the emitter set one. */
  readonly traceId: string | undefined;
  /** The message headers (first value of each). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Aborts when the job runs past `jobTimeout` or the listener shuts down
   * and the grace period is over; pass it to fetch, timers, queries.
   */
  readonly signal: AbortSignal;
  /**
   * Tell JetStream the job is still making progress: resets the ack timer
   * so no other copy gets the message for another `ackWait`. The automatic
   * pulse (`pulse: true`) does this every `ackWait / 2` anyway; call it
   * yourself with `pulse: false`, so that a handler that stops making
   * progress is redelivered elsewhere. It does not extend `jobTimeout`.
   */
  working(): void;
}
