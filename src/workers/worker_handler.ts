/**
 * {@linkcode workerHandler}: a handler that runs in a worker of the
 * listener's pool, off the main thread, with real cancellation.
 *
 * @module
 */
import type { Handler } from "../actor.ts";
import type { Context } from "../context.ts";
import { WORKER_POOL, type WorkerPool } from "./pool.ts";
import type { WorkerContext } from "./worker_context.ts";

/**
 * A function a worker module exports for {@linkcode workerHandler}: a plain
 * function of the message and the worker's context.
 *
 * @typeParam T The payload type.
 * @typeParam R What it returns (the response, for events with one).
 */
// deno-lint-ignore no-explicit-any
export type WorkerFunction<T = any, R = any> = (
  message: T,
  ctx: WorkerContext,
) => R | Promise<R>;

/** Options for {@linkcode workerHandler}; times in milliseconds. */
export interface WorkerHandlerOptions {
  /**
   * Milliseconds a job gets between its `ctx.signal` aborting (at
   * `jobTimeout`, or when shutdown's grace is over) and the termination of
   * its worker. The job's slot stays taken until the worker finished or
   * was terminated.
   * @default {1000}
   */
  terminateGrace?: number;
}

/**
 * A handler that runs the function `exportName` of the module at `module`
 * in a worker of the listener's pool (see `listen({ maxWorkers })`).
 *
 * The message is decoded and validated on the main thread (a poison
 * message never costs a worker) and sent to the worker as a structured
 * clone; the return value comes back the same way and is the response of a
 * `withResponse` event. Middlewares run on the main thread.
 *
 * When the job's signal aborts (`jobTimeout`, shutdown), the worker's
 * `ctx.signal` aborts too; a worker still running `terminateGrace` ms later
 * is terminated (a process is killed with SIGKILL), the handler rejects with
 * the signal's reason, and a new worker takes its place.
 *
 * @typeParam F The exported function's type, to check it against the event
 *   (`workerHandler<typeof resize>(...)` with `import type { resize }`);
 *   unchecked by default, the message type is then the actor's.
 * @param module URL of the module (`new URL("./resize.ts", import.meta.url)`);
 *   it is imported in the worker, never on the main thread.
 * @param exportName Name of the exported function.
 * @param options Grace before termination.
 * @returns A handler to give to an `Actor`.
 * @throws {TypeError} `module` is not an absolute URL, or `exportName` is
 *   empty.
 * @throws {RangeError} `terminateGrace` is negative or not finite.
 *
 * @example Run a CPU-bound handler in a worker
 * ```ts ignore
 * import * as v from "valibot";
 * import { Actor, Event, workerHandler } from "@walnats/walnats";
 * import type { resize } from "./resize.ts";
 *
 * const UPLOADED = new Event("image-uploaded", v.object({ path: v.string() }));
 * const RESIZE = new Actor(
 *   "resize",
 *   UPLOADED,
 *   workerHandler<typeof resize>(new URL("./resize.ts", import.meta.url), "resize"),
 *   { jobTimeout: 10_000 },
 * );
 * ```
 */
export function workerHandler<F extends WorkerFunction = WorkerFunction>(
  module: URL | string,
  exportName: string,
  options: WorkerHandlerOptions = {},
): Handler<Parameters<F>[0], Awaited<ReturnType<F>>> {
  const what = "Cannot create a worker handler";
  let url: URL;
  try {
    url = new URL(module);
  } catch {
    throw new TypeError(
      `${what}: module must be an absolute URL (new URL("./file.ts", import.meta.url)), got ${
        String(module)
      }`,
    );
  }
  if (typeof exportName !== "string" || exportName === "") {
    throw new TypeError(`${what}: exportName must be a non-empty string`);
  }
  const grace = options.terminateGrace ?? 1000;
  if (typeof grace !== "number" || !Number.isFinite(grace) || grace < 0) {
    throw new RangeError(
      `${what}: terminateGrace must be a non-negative number of milliseconds, got ${grace}`,
    );
  }
  const href = url.href;
  const handler = (message: unknown, ctx: Context): Promise<unknown> => {
    const pool = (ctx as { [WORKER_POOL]?: WorkerPool })[WORKER_POOL];
    if (pool === undefined) {
      return Promise.reject(
        new TypeError(
          `Cannot run worker handler "${exportName}" of ${href}: it runs only inside listen() (the context has no worker pool); to test it, call the exported function directly`,
        ),
      );
    }
    return pool.run({
      module: href,
      export: exportName,
      message,
      ctx: {
        actor: ctx.actor,
        event: ctx.event.name,
        attempt: ctx.attempt,
        deliveryCount: ctx.deliveryCount,
        sequence: ctx.sequence,
        timestamp: ctx.timestamp.getTime(),
        traceId: ctx.traceId,
        headers: { ...ctx.headers },
      },
      signal: ctx.signal,
      terminateGrace: grace,
    });
  };
  return handler as Handler<Parameters<F>[0], Awaited<ReturnType<F>>>;
}
