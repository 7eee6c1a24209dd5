// Worker entry for Web Workers (Bun; Deno in "thread" isolation).
import { serve } from "./_runner.ts";
import type { ToWorker } from "./_protocol.ts";

interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: ToWorker }) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
serve({
  send: (message) => scope.postMessage(message),
  onMessage: (callback) => {
    scope.onmessage = (event) => callback(event.data);
  },
});
