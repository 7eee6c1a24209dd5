// deno-lint-ignore-file no-console -- console output is moved off stdout, which carries the frames
// Worker entry for the process pool: frames on stdin and stdout. The pool
// kills the process with SIGKILL to cancel, which stops any loop.
import process from "node:process";
import { deserialize, serialize } from "node:v8";
import { serve } from "./_runner.ts";
import type { ToWorker } from "./_protocol.ts";
import { frame, FrameReader } from "./_frames.ts";
import { runtime } from "../_runtime.ts";

// stdout carries frames: keep its writer, and send everything a handler
// prints to stderr instead.
const stdout = process.stdout;
const write = stdout.write.bind(stdout);
const toStderr = (...args: unknown[]): void => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write;

const reader = new FrameReader();
let receive: ((message: ToWorker) => void) | undefined;
process.stdin.on("data", (chunk: Uint8Array) => {
  for (const payload of reader.push(chunk)) {
    receive?.(deserialize(payload) as ToWorker);
  }
});
// The pool is gone (closed, or its process died): so is this worker.
process.stdin.on("end", () => process.exit(0));

// The end of stdin is never seen by a handler stuck in a synchronous loop,
// so a thread of its own kills this process when its parent dies (SIGKILL,
// the OOM killer): no orphan keeps burning a CPU.
function watchParent(): void {
  const parent = process.ppid;
  const check = (kill: string) =>
    `setInterval(() => { if (process.ppid !== ${parent}) ${kill}; }, 1000);`;
  if (runtime() === "deno") {
    const source = `import process from "node:process"; ${
      check('process.kill(process.pid, "SIGKILL")')
    }`;
    const Ctor = (globalThis as unknown as {
      Worker: new (url: string, options: { type: "module" }) => unknown;
    }).Worker;
    new Ctor(
      `data:text/javascript,${encodeURIComponent(source)}`,
      { type: "module" },
    );
    return;
  }
  void import("node:worker_threads").then(({ Worker }) => {
    const source = `const process = require("node:process"); ${
      check('process.kill(process.pid, "SIGKILL")')
    }`;
    new Worker(source, { eval: true }).unref();
  });
}
watchParent();

serve({
  send: (message) => {
    write(frame(serialize(message)));
  },
  onMessage: (callback) => {
    receive = callback;
  },
});
