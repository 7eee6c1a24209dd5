// Worker entry for node:worker_threads (Node).
import { parentPort } from "node:worker_threads";
import { serve } from "./_runner.ts";
import type { ToWorker } from "./_protocol.ts";

const port = parentPort;
if (port === null) {
  throw new Error("walnats worker runner started outside a worker thread");
}
serve({
  send: (message) => port.postMessage(message),
  onMessage: (callback) => port.on("message", (m: ToWorker) => callback(m)),
});
