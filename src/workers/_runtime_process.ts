// The process pool: one child process per worker, speaking frames over
// stdin/stdout, killed with SIGKILL. The only way to stop a synchronous loop
// on Deno, where Worker.terminate() does not (see docs/workers.md); it works
// on Bun and Node too.
import { type ChildProcess, spawn as spawnChild } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { deserialize, serialize } from "node:v8";
import { frame, FrameReader } from "./_frames.ts";
import {
  type LinkEvents,
  runnerUrl,
  type Spawn,
  type SpawnOptions,
  type WorkerLink,
} from "./_link.ts";
import { isFromWorker } from "./_protocol.ts";
import { runtime } from "../_runtime.ts";

const DENO_PERMISSIONS = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;

// The child gets the permissions this process was granted in full, no more.
function denoPermissionFlags(): string[] {
  const deno = (globalThis as unknown as {
    Deno: {
      permissions: { querySync(d: { name: string }): { state: string } };
    };
  }).Deno;
  const granted = DENO_PERMISSIONS.filter((name) => {
    try {
      return deno.permissions.querySync({ name }).state === "granted";
    } catch {
      return false;
    }
  });
  return granted.length === DENO_PERMISSIONS.length
    ? ["--allow-all"]
    : granted.map((name) => `--allow-${name}`);
}

// Flags of the parent that must not reach a worker process.
const NOT_INHERITED = /^--(test|inspect|watch|eval|print|cpu-prof|heap-prof)/;

function command(options: SpawnOptions): [string, string[]] {
  const runner = runnerUrl(import.meta.url, "_runner_process");
  const mb = options.maxHeapSize === undefined
    ? undefined
    : Math.max(1, Math.ceil(options.maxHeapSize / 1_048_576));
  if (runtime() === "deno") {
    const flags = options.execArgv ?? [
      "run",
      "--no-prompt",
      ...denoPermissionFlags(),
      ...(mb === undefined ? [] : [`--v8-flags=--max-old-space-size=${mb}`]),
    ];
    return [process.execPath, [...flags, runner.href]];
  }
  const path = runner.protocol === "file:"
    ? fileURLToPath(runner)
    : runner.href;
  if (runtime() === "bun") {
    return [process.execPath, [...(options.execArgv ?? []), path]];
  }
  const flags = options.execArgv ?? [
    ...process.execArgv.filter((a) => !NOT_INHERITED.test(a)),
    ...(mb === undefined ? [] : [`--max-old-space-size=${mb}`]),
  ];
  return [process.execPath, [...flags, path]];
}

/** Start a worker process running the runner. */
export const spawn: Spawn = (
  events: LinkEvents,
  options: SpawnOptions,
): WorkerLink => {
  const [cmd, args] = command(options);
  const child: ChildProcess = spawnChild(cmd, args, {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  let ended = false;
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
  };
  const end = (error: Error): void => {
    if (ended) return;
    ended = true;
    kill();
    events.exit(error);
  };
  const reader = new FrameReader();
  child.stdout!.on("data", (chunk: Uint8Array) => {
    if (ended) return;
    try {
      for (const payload of reader.push(chunk)) {
        const message = deserialize(payload);
        if (!isFromWorker(message)) {
          throw new Error(
            "the worker sent a message that is not a walnats reply",
          );
        }
        events.message(message);
        if (ended) return;
      }
    } catch (error) {
      end(error instanceof Error ? error : new Error(String(error)));
    }
  });
  // A write to a process that just died: its exit is reported below.
  child.stdin!.on("error", () => {});
  child.once("error", (error: Error) => {
    end(
      new Error(`the worker process could not start: ${error.message}`, {
        cause: error,
      }),
    );
  });
  child.once("exit", (code, signal) => {
    end(
      new Error(
        signal === null
          ? `the worker process exited with code ${code}`
          : `the worker process was killed by ${signal}`,
      ),
    );
  });
  return {
    send: (message) => {
      child.stdin!.write(frame(serialize(message)));
    },
    terminate: async () => {
      ended = true;
      kill();
      await exited;
    },
  };
};
