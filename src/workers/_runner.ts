// The worker side: load handler modules on demand, run one job at a time
// (the pool never sends a second before the first is done), forward aborts.
import type { WorkerContext } from "./worker_context.ts";
import {
  fromWireError,
  type FromWorker,
  toWireError,
  type ToWorker,
} from "./_protocol.ts";

/** How a runner talks to its pool. */
export interface RunnerPort {
  send(message: FromWorker): void;
  onMessage(callback: (message: ToWorker) => void): void;
}

type Module = Record<string, unknown>;

/** Serve jobs sent through `port` until the worker is terminated. */
export function serve(port: RunnerPort): void {
  // Only modules that loaded are cached: a module that threw at top level
  // is tried again by the next job (after a fix is deployed, say).
  const modules = new Map<string, Promise<Module>>();
  const running = new Map<number, AbortController>();

  const load = (url: string): Promise<Module> => {
    let loading = modules.get(url);
    if (loading === undefined) {
      loading = import(url) as Promise<Module>;
      modules.set(url, loading);
      loading.catch(() => modules.delete(url));
    }
    return loading;
  };

  const reply = (message: FromWorker): void => {
    try {
      port.send(message);
    } catch (error) {
      // The value cannot be cloned (a function, a class with private state,
      // a stream): report that instead, so the job fails rather than hangs.
      port.send({
        type: "done",
        id: message.id,
        ok: false,
        error: toWireError(
          new TypeError(
            `The worker handler's return value cannot be sent back from the worker: ${
              error instanceof Error ? error.message : String(error)
            }`,
          ),
        ),
      });
    }
  };

  const run = async (job: Extract<ToWorker, { type: "run" }>) => {
    const controller = new AbortController();
    running.set(job.id, controller);
    try {
      let mod: Module;
      try {
        mod = await load(job.module);
      } catch (error) {
        throw new Error(
          `Cannot load worker module ${job.module}: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
      const fn = mod[job.export];
      if (typeof fn !== "function") {
        throw new TypeError(
          `Cannot run worker handler: ${job.module} has no exported function "${job.export}"`,
        );
      }
      // Aborted before it could start (while the module loaded): skip it.
      controller.signal.throwIfAborted();
      const ctx: WorkerContext = {
        ...job.ctx,
        timestamp: new Date(job.ctx.timestamp),
        signal: controller.signal,
      };
      const value = await fn(job.message, ctx);
      reply({ type: "done", id: job.id, ok: true, value });
    } catch (error) {
      reply({ type: "done", id: job.id, ok: false, error: toWireError(error) });
    } finally {
      running.delete(job.id);
    }
  };

  port.onMessage((message) => {
    if (message.type === "run") void run(message);
    else if (message.type === "abort") {
      running.get(message.id)?.abort(fromWireError(message.reason));
    }
  });
}
