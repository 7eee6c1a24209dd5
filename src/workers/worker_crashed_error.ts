/**
 * {@linkcode WorkerCrashedError}: the worker running a job died.
 *
 * @module
 */

/**
 * The worker running a job died before it replied: the module threw
 * outside the handler, the worker exited, ran out of memory, or broke the
 * protocol. Only that job fails (and is retried by the actor's rules); the
 * pool starts a new worker for the next one.
 */
export class WorkerCrashedError extends Error {
  /**
   * Always `"WorkerCrashedError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "WorkerCrashedError";
}
