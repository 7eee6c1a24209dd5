/**
 * {@linkcode WorkerContext}: what a handler running in a worker knows about
 * its job.
 *
 * @module
 */

/**
 * The job context inside a worker: the fields of `Context` that can cross
 * a thread or process boundary. The event is given by name (an `Event`
 * holds codecs, which are functions), and `signal` is a signal of the
 * worker's own that aborts when the job's signal aborts on the main thread.
 */
export interface WorkerContext {
  /** Name of the actor running the job. */
  readonly actor: string;
  /** Name of the event the message belongs to. */
  readonly event: string;
  /**
   * Attempt number, 1-based; redeliveries made only to wait out a
   * `delay` are not counted.
   */
  readonly attempt: number;
  /** Raw delivery count reported by JetStream, 1-based. */
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
   * Aborts when the job runs past `jobTimeout` or the listener shuts down;
   * the worker is terminated `terminateGrace` ms later if still running.
   */
  readonly signal: AbortSignal;
}
