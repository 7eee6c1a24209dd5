// The runtime seam of the pool: one worker, however it is made. The pool
// (pool.ts) only sees this; each `_runtime_*.ts` file makes one kind.
import type { FromWorker, ToWorker } from "./_protocol.ts";

/** What a worker reports to its pool. */
export interface LinkEvents {
  /** A reply arrived. */
  message(message: FromWorker): void;
  /**
   * The worker is gone (crashed, exited, out of memory, broke the
   * protocol); called at most once, and never after `terminate()`.
   */
  exit(error: Error): void;
}

/** One running worker. */
export interface WorkerLink {
  /**
   * Send a message.
   * @throws {Error} The message cannot be cloned or framed (nothing sent).
   */
  send(message: ToWorker): void;
  /**
   * Stop the worker; resolves once it can run no more code (for a process,
   * once it exited), or as soon as the runtime offers nothing better.
   */
  terminate(): Promise<void>;
}

/** How workers are started, resolved by the pool from its options. */
export interface SpawnOptions {
  /** V8 old-generation limit in bytes, where the kind of worker allows it. */
  maxHeapSize: number | undefined;
  /** Arguments for the process pool's runtime, replacing the derived ones. */
  execArgv: readonly string[] | undefined;
}

/** A runtime's way of starting a worker. */
export type Spawn = (events: LinkEvents, options: SpawnOptions) => WorkerLink;

/** Extension of the runner files next to this one (.ts from source, .js built). */
export function runnerUrl(base: string, name: string): URL {
  const ext = /\.[cm]?js$/.test(new URL(base).pathname) ? ".js" : ".ts";
  return new URL(`./${name}${ext}`, base);
}
