// Web Workers: Bun, and Deno in "thread" isolation (where terminate() does
// not stop a synchronous loop; see docs/workers.md).
import {
  type LinkEvents,
  runnerUrl,
  type Spawn,
  type SpawnOptions,
  type WorkerLink,
} from "./_link.ts";
import { isFromWorker } from "./_protocol.ts";

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(
    type: string,
    listener: (event: {
      data?: unknown;
      message?: string;
      preventDefault?: () => void;
    }) => void,
  ): void;
}

type WorkerConstructor = new (
  url: URL,
  options: { type: "module" },
) => WebWorker;

/** Start a Web Worker running the runner. */
export const spawn: Spawn = (
  events: LinkEvents,
  _options: SpawnOptions,
): WorkerLink => {
  const Ctor = (globalThis as unknown as { Worker: WorkerConstructor }).Worker;
  const worker = new Ctor(runner(), { type: "module" });
  let ended = false;
  const end = (error: Error): void => {
    if (ended) return;
    ended = true;
    worker.terminate();
    events.exit(error);
  };
  worker.addEventListener("message", (event) => {
    if (ended) return;
    if (isFromWorker(event.data)) events.message(event.data);
    else {end(
        new Error("the worker sent a message that is not a walnats reply"),
      );}
  });
  worker.addEventListener("error", (event) => {
    // Unhandled, a worker's error would also be thrown in this thread.
    event.preventDefault?.();
    end(new Error(`the worker crashed: ${event.message ?? "unknown error"}`));
  });
  worker.addEventListener("messageerror", () => {
    end(new Error("a message from the worker could not be deserialized"));
  });
  // Bun reports a worker that exited by itself (process.exit in it).
  worker.addEventListener("close", () => {
    end(new Error("the worker exited"));
  });
  return {
    send: (message) => worker.postMessage(message),
    terminate: () => {
      ended = true;
      worker.terminate();
      return Promise.resolve();
    },
  };
};

const runner = (): URL => runnerUrl(import.meta.url, "_runner_web");
