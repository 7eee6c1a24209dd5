// node:worker_threads (Node): terminate() stops even a synchronous loop,
// and resourceLimits turn an out-of-memory handler into a worker exit.
import process from "node:process";
import { Worker } from "node:worker_threads";
import {
  type LinkEvents,
  runnerUrl,
  type Spawn,
  type SpawnOptions,
  type WorkerLink,
} from "./_link.ts";
import { isFromWorker } from "./_protocol.ts";

// Running from TypeScript sources under tsx: Node does not apply the main
// thread's `--import tsx` hooks to a worker's entry, so register them first.
function entry(runner: URL): { code: string; eval: true } | { url: URL } {
  const tsx = runner.pathname.endsWith(".ts") &&
    process.execArgv.some((a) => /(^|[=/\s])tsx\b/.test(a));
  if (!tsx) return { url: runner };
  let api: string;
  try {
    api = import.meta.resolve("tsx/esm/api");
  } catch {
    return { url: runner };
  }
  return {
    code: `import(${JSON.stringify(api)}).then((m) => { m.register(); ` +
      `return import(${JSON.stringify(runner.href)}); });`,
    eval: true,
  };
}

/** Start a worker thread running the runner. */
export const spawn: Spawn = (
  events: LinkEvents,
  options: SpawnOptions,
): WorkerLink => {
  const start = entry(runnerUrl(import.meta.url, "_runner_node"));
  const resourceLimits = options.maxHeapSize === undefined ? undefined : {
    maxOldGenerationSizeMb: Math.max(
      1,
      Math.ceil(options.maxHeapSize / 1_048_576),
    ),
  };
  const init = resourceLimits === undefined ? {} : { resourceLimits };
  const worker = "url" in start
    ? new Worker(start.url, init)
    : new Worker(start.code, { ...init, eval: true });
  let ended = false;
  const end = (error: Error): void => {
    if (ended) return;
    ended = true;
    void worker.terminate();
    events.exit(error);
  };
  worker.on("message", (message: unknown) => {
    if (ended) return;
    if (isFromWorker(message)) events.message(message);
    else {end(
        new Error("the worker sent a message that is not a walnats reply"),
      );}
  });
  worker.on("error", (error: Error) => {
    end(new Error(`the worker crashed: ${error.message}`, { cause: error }));
  });
  worker.on("messageerror", (error: Error) => {
    end(
      new Error(`a message from the worker could not be deserialized`, {
        cause: error,
      }),
    );
  });
  worker.on("exit", (code: number) => {
    end(new Error(`the worker exited with code ${code}`));
  });
  return {
    send: (message) => worker.postMessage(message),
    terminate: async () => {
      ended = true;
      await worker.terminate();
    },
  };
};
