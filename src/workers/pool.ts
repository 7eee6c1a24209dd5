/**
 * {@linkcode WorkerPool}: the workers of one listener, started lazily,
 * reused, replaced when they crash or are terminated.
 *
 * The core of the pool is runtime-agnostic: the kind of worker (a Web
 * Worker, a `node:worker_threads` thread, a child process) is loaded with
 * `await import()` from `_runtime_*.ts` the first time a worker is needed.
 *
 * @module
 */
import { ShutdownError } from "../errors.ts";
import type { LinkEvents, Spawn, SpawnOptions, WorkerLink } from "./_link.ts";
import {
  fromWireError,
  type FromWorker,
  toWireError,
  type ToWorker,
  type WireContext,
} from "./_protocol.ts";
import { WorkerCrashedError } from "./worker_crashed_error.ts";
import { runtime } from "../_runtime.ts";

/**
 * How a worker is isolated: `"thread"` (a Web Worker on Bun and Deno,
 * `node:worker_threads` on Node) or `"process"` (a child process of the
 * same runtime, killed with SIGKILL).
 */
export type Isolation = "thread" | "process";

/** Options of a listener's {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * Workers running at once; jobs beyond that wait for a free worker
   * (their `jobTimeout` keeps running while they wait).
   * @default {navigator.hardwareConcurrency, else 1}
   */
  maxWorkers?: number;
  /**
   * `"process"` is the default on Deno, where `Worker.terminate()` does
   * not stop a synchronous loop; `"thread"` elsewhere.
   * @default {"process" on Deno, "thread" on Bun and Node}
   */
  isolation?: Isolation;
  /**
   * Most bytes of V8 heap (old generation) a worker may use; over it the
   * worker dies and only its job fails. Enforced by Node threads
   * (`resourceLimits`) and by processes on Deno and Node
   * (`--max-old-space-size`); not by Web Workers.
   * @default {undefined}
   */
  maxHeapSize?: number;
  /**
   * Arguments for a worker process, before the runner's path, replacing
   * the derived ones (on Deno: `run --no-prompt` and this process's
   * permissions; on Node: this process's `execArgv`).
   * @default {undefined}
   */
  execArgv?: string[];
}

/** One job for a worker. */
export interface WorkerTask {
  /** URL of the module exporting the function. */
  readonly module: string;
  /** Name of the exported function. */
  readonly export: string;
  /** The decoded message. */
  readonly message: unknown;
  /** The job's context fields. */
  readonly ctx: WireContext;
  /** The job's signal: its abort is forwarded, then the grace starts. */
  readonly signal: AbortSignal;
  /** Milliseconds between the abort and the worker's termination. */
  readonly terminateGrace: number;
}

interface Pending {
  readonly id: number;
  readonly task: WorkerTask;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
}

interface PoolWorker {
  link: WorkerLink | undefined;
  job: Pending | undefined;
  // Set once the pool decided to stop it (termination or crash).
  gone: boolean;
}

// Workers of every pool in this process that were started and have not
// stopped yet: the leak check of the tests.
let running = 0;

/**
 * Workers started by any pool of this process and not stopped yet.
 *
 * @returns The count.
 */
export function runningWorkers(): number {
  return running;
}

function defaultWorkers(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } })
    .navigator?.hardwareConcurrency;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 1;
}

function loadSpawn(isolation: Isolation): Promise<Spawn> {
  if (isolation === "process") {
    return import("./_runtime_process.ts").then((m) => m.spawn);
  }
  if (runtime() !== "node") {
    return import("./_runtime_web.ts").then((m) => m.spawn);
  }
  return import("./_runtime_node.ts").then((m) => m.spawn);
}

/**
 * The workers of one listener. Nothing starts until the first job; a
 * worker runs one job at a time and is reused; a worker that crashes, or
 * is terminated after its job's signal aborted and the grace passed, is
 * dropped and a new one started when a job needs it.
 */
export class WorkerPool implements AsyncDisposable {
  /** Workers running at once, at most. */
  readonly maxWorkers: number;
  /** How workers are isolated. */
  readonly isolation: Isolation;
  readonly #spawnOptions: SpawnOptions;
  #spawn: Promise<Spawn> | undefined;
  readonly #workers = new Set<PoolWorker>();
  readonly #idle: PoolWorker[] = [];
  readonly #queue: Pending[] = [];
  readonly #terminations = new Set<Promise<void>>();
  #nextId = 1;
  #closed = false;

  /**
   * Describe a pool; nothing is started.
   *
   * @param options Size, isolation, limits.
   * @throws {RangeError} `maxWorkers` or `maxHeapSize` is not a positive
   *   integer.
   * @throws {TypeError} `isolation` or `execArgv` has the wrong form.
   */
  constructor(options: WorkerPoolOptions = {}) {
    const what = "Cannot create a worker pool";
    const max = options.maxWorkers ?? defaultWorkers();
    if (!Number.isInteger(max) || max <= 0) {
      throw new RangeError(
        `${what}: maxWorkers must be a positive integer, got ${max}`,
      );
    }
    const heap = options.maxHeapSize;
    if (heap !== undefined && (!Number.isInteger(heap) || heap <= 0)) {
      throw new RangeError(
        `${what}: maxHeapSize must be a positive integer (bytes), got ${heap}`,
      );
    }
    const isolation = options.isolation ??
      (runtime() === "deno" ? "process" : "thread");
    if (isolation !== "thread" && isolation !== "process") {
      throw new TypeError(
        `${what}: isolation must be "thread" or "process", got ${
          String(isolation)
        }`,
      );
    }
    const argv = options.execArgv;
    if (
      argv !== undefined &&
      (!Array.isArray(argv) || argv.some((a) => typeof a !== "string"))
    ) {
      throw new TypeError(`${what}: execArgv must be an array of strings`);
    }
    this.maxWorkers = max;
    this.isolation = isolation;
    this.#spawnOptions = {
      maxHeapSize: heap,
      execArgv: argv === undefined ? undefined : [...argv],
    };
  }

  /** Workers started and not yet gone. */
  get size(): number {
    return this.#workers.size;
  }

  /** Jobs waiting for a free worker. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Run a task in a worker.
   *
   * @param task What to run, and the signal that cancels it.
   * @returns The function's return value (a structured clone of it).
   * @throws {Error} What the function threw (an `Error` with its name,
   *   message and stack), {@linkcode WorkerCrashedError} if its worker died,
   *   the signal's reason if the worker was terminated after an abort, a
   *   `ShutdownError` if the pool closed first.
   */
  run(task: WorkerTask): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(
        new ShutdownError("The worker pool is closed: the listener stopped"),
      );
    }
    if (task.signal.aborted) return Promise.reject(task.signal.reason);
    return new Promise<unknown>((resolve, reject) => {
      const pending: Pending = {
        id: this.#nextId++,
        task,
        resolve,
        reject,
        onAbort: undefined,
        graceTimer: undefined,
      };
      // Aborted while waiting for a worker: leave the queue at once.
      pending.onAbort = () => {
        const at = this.#queue.indexOf(pending);
        if (at >= 0) {
          this.#queue.splice(at, 1);
          this.#finish(pending);
          reject(task.signal.reason);
        }
      };
      task.signal.addEventListener("abort", pending.onAbort, { once: true });
      this.#queue.push(pending);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let worker = this.#idle.pop();
      if (worker === undefined) {
        if (this.#workers.size >= this.maxWorkers) return;
        worker = this.#start();
      }
      this.#assign(worker, this.#queue.shift()!);
    }
  }

  #start(): PoolWorker {
    const worker: PoolWorker = { link: undefined, job: undefined, gone: false };
    this.#workers.add(worker);
    const events: LinkEvents = {
      message: (m) => this.#onMessage(worker, m),
      exit: (error) => this.#onExit(worker, error),
    };
    this.#spawn ??= loadSpawn(this.isolation);
    this.#spawn.then((spawn) => {
      if (worker.gone) return;
      worker.link = spawn(events, this.#spawnOptions);
      running++;
      if (worker.job !== undefined) this.#send(worker, worker.job);
    }).catch((error) => {
      this.#spawn = undefined;
      this.#onExit(
        worker,
        new Error(`workers cannot start here: ${String(error)}`, {
          cause: error,
        }),
      );
    });
    return worker;
  }

  #assign(worker: PoolWorker, pending: Pending): void {
    worker.job = pending;
    const { task } = pending;
    task.signal.removeEventListener("abort", pending.onAbort!);
    pending.onAbort = () => this.#aborted(worker, pending);
    task.signal.addEventListener("abort", pending.onAbort, { once: true });
    if (worker.link !== undefined) this.#send(worker, pending);
  }

  #send(worker: PoolWorker, pending: Pending): void {
    const { task } = pending;
    const message: ToWorker = {
      type: "run",
      id: pending.id,
      module: task.module,
      export: task.export,
      message: task.message,
      ctx: task.ctx,
    };
    try {
      worker.link!.send(message);
    } catch (error) {
      // Nothing was sent: the worker is still free.
      worker.job = undefined;
      this.#finish(pending);
      pending.reject(
        new TypeError(
          `Cannot send the message to a worker (it must survive structured cloning): ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        ),
      );
      this.#release(worker);
      return;
    }
    // Aborted while the worker was starting: it learns it now.
    if (task.signal.aborted) {
      this.#aborted(worker, pending);
      this.#forwardAbort(worker, pending);
    }
  }

  // The job's signal aborted while a worker runs it: tell the worker, then
  // terminate it if it has not finished within the grace.
  #aborted(worker: PoolWorker, pending: Pending): void {
    if (worker.job !== pending || pending.graceTimer !== undefined) return;
    const reason = pending.task.signal.reason;
    // Not started yet: #send forwards the abort after the job.
    if (worker.link !== undefined) this.#forwardAbort(worker, pending);
    pending.graceTimer = setTimeout(() => {
      if (worker.job !== pending) return;
      this.#terminate(worker, reason);
    }, pending.task.terminateGrace);
  }

  #forwardAbort(worker: PoolWorker, pending: Pending): void {
    try {
      worker.link!.send({
        type: "abort",
        id: pending.id,
        reason: toWireError(pending.task.signal.reason),
      });
    } catch {
      // The worker is going away; the grace timer settles the job.
    }
  }

  #onMessage(worker: PoolWorker, message: FromWorker): void {
    const pending = worker.job;
    if (pending === undefined || message.id !== pending.id) {
      // A reply to nothing: the worker does not follow the protocol.
      this.#terminate(
        worker,
        new WorkerCrashedError("the worker sent a reply to no job"),
      );
      return;
    }
    worker.job = undefined;
    this.#finish(pending);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(fromWireError(message.error));
    this.#release(worker);
  }

  #onExit(worker: PoolWorker, error: Error): void {
    if (worker.gone) return;
    worker.gone = true;
    if (worker.link !== undefined) running--;
    this.#drop(worker);
    const pending = worker.job;
    worker.job = undefined;
    if (pending !== undefined) {
      this.#finish(pending);
      pending.reject(
        new WorkerCrashedError(
          `The worker running export "${pending.task.export}" of ${pending.task.module} died: ${error.message}`,
          { cause: error },
        ),
      );
    }
    this.#replace();
  }

  // Stop a worker and settle its job with `reason` once it cannot run any
  // more code: the job's slot is freed only after that.
  #terminate(worker: PoolWorker, reason: unknown): void {
    if (worker.gone) return;
    worker.gone = true;
    this.#drop(worker);
    const pending = worker.job;
    worker.job = undefined;
    const stopped = (worker.link?.terminate() ?? Promise.resolve())
      .catch(() => {})
      .then(() => {
        if (worker.link !== undefined) running--;
        this.#terminations.delete(stopped);
        if (pending !== undefined) {
          this.#finish(pending);
          pending.reject(reason);
        }
        this.#replace();
      });
    this.#terminations.add(stopped);
  }

  // A worker is gone: start its successor now rather than when the next job
  // comes (a retry of the job that killed it, typically), so that job does
  // not spend its jobTimeout waiting for a worker to boot.
  #replace(): void {
    this.#dispatch();
    if (this.#closed || this.#workers.size >= this.maxWorkers) return;
    this.#idle.push(this.#start());
  }

  #drop(worker: PoolWorker): void {
    this.#workers.delete(worker);
    const at = this.#idle.indexOf(worker);
    if (at >= 0) this.#idle.splice(at, 1);
  }

  #release(worker: PoolWorker): void {
    if (worker.gone) return;
    if (this.#closed) {
      this.#terminate(worker, undefined);
      return;
    }
    this.#idle.push(worker);
    this.#dispatch();
  }

  #finish(pending: Pending): void {
    if (pending.onAbort !== undefined) {
      pending.task.signal.removeEventListener("abort", pending.onAbort);
      pending.onAbort = undefined;
    }
    clearTimeout(pending.graceTimer);
    pending.graceTimer = undefined;
  }

  /**
   * Stop every worker and reject what is left: waiting jobs and jobs still
   * running get a `ShutdownError`. Resolves once every worker stopped.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const error = new ShutdownError(
      "The worker pool closed before the job finished: the listener stopped",
    );
    for (const pending of this.#queue.splice(0)) {
      this.#finish(pending);
      pending.reject(error);
    }
    for (const worker of [...this.#workers]) this.#terminate(worker, error);
    while (this.#terminations.size > 0) {
      await Promise.all(this.#terminations);
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Where a job's context carries its listener's pool (a symbol, so it is
 * neither enumerable on the context nor copied into middleware contexts).
 */
export const WORKER_POOL: unique symbol = Symbol.for("walnats.workerPool");
