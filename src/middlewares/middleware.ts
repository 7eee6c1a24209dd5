/**
 * The {@linkcode Middleware} hooks run around every job.
 *
 * @module
 */
import type { Context } from "../context.ts";

/** What `onSuccess` receives. */
export interface SuccessContext<T = unknown> extends Context<T> {
  /** The decoded message. */
  readonly message: T;
  /** How long the handler ran, in milliseconds. */
  readonly duration: number;
}

/** What `onFailure` receives. */
export interface FailureContext<T = unknown> extends Context<T> {
  /** The decoded message; absent when the payload did not decode. */
  readonly message: T | undefined;
  /** What went wrong. */
  readonly error: Error;
  /** How long the handler ran before failing, in milliseconds. */
  readonly duration: number;
  /** What happens to the message now. */
  readonly outcome: "retry" | "dead-letter" | "terminate";
}

/** What `onStart` receives. */
export interface StartContext<T = unknown> extends Context<T> {
  /** The decoded message. */
  readonly message: T;
}

/**
 * Hooks called around each job: for logs, metrics, traces and alerts, never
 * for flow control. Hooks may be sync or async; they never delay or fail
 * the job, and an error inside one is logged and otherwise ignored. Hooks
 * of several middlewares run in list order.
 */
export interface Middleware<T = unknown> {
  /** Before the handler runs. */
  onStart?(ctx: StartContext<T>): void | Promise<void>;
  /** After the handler succeeded and the message was acked. */
  onSuccess?(ctx: SuccessContext<T>): void | Promise<void>;
  /** After the handler failed, or the payload did not decode. */
  onFailure?(ctx: FailureContext<T>): void | Promise<void>;
}
