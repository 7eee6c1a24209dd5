// Running test fixtures as separate processes of the current runtime.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The runtime running the tests, and the command that runs a script on it. */
export function currentRuntime(): {
  name: "deno" | "bun" | "node";
  command: [string, string[]];
} {
  if ("Deno" in globalThis) {
    return { name: "deno", command: [process.execPath, ["run", "-A"]] };
  }
  if ("Bun" in globalThis) {
    return { name: "bun", command: [process.execPath, ["run"]] };
  }
  return { name: "node", command: [process.execPath, ["--import", "tsx"]] };
}

/** The executable and arguments that run `script` on the current runtime. */
export function runtimeArgs(script: string): [string, string[]] {
  const [cmd, args] = currentRuntime().command;
  return [cmd, [...args, script]];
}

/** A script running on the current runtime, stdout and stderr collected. */
export interface Script {
  readonly proc: ChildProcess;
  /** Everything written to stdout and stderr so far, interleaved. */
  readonly output: () => string;
  /** The exit code; null when the process ended by a signal. */
  readonly exited: Promise<number | null>;
}

/** Run `script` on the current runtime with exactly `env`. */
export function spawnScript(
  script: URL,
  env: Record<string, string | undefined>,
  args: readonly string[] = [],
): Script {
  const [cmd, argv] = runtimeArgs(fileURLToPath(script));
  const proc = spawn(cmd, [...argv, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  const decoder = new TextDecoder();
  const collect = (chunk: Uint8Array) => (out += decoder.decode(chunk));
  proc.stdout!.on("data", collect);
  proc.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) =>
    proc.once("close", (code) => resolve(code))
  );
  return { proc, output: () => out, exited };
}

/** A child process whose output lines are collected. */
export class Child implements AsyncDisposable {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<void>;

  constructor(fixture: string, ...args: string[]) {
    const script = fileURLToPath(
      new URL(`./fixtures/${fixture}`, import.meta.url),
    );
    const [cmd, argv] = runtimeArgs(script);
    // Children get their server as an argument, never from NATS_URL.
    const env = { ...process.env };
    delete env.NATS_URL;
    this.proc = spawn(cmd, [...argv, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    let partial = "";
    this.proc.stdout!.on("data", (chunk: Uint8Array) => {
      partial += new TextDecoder().decode(chunk);
      const parts = partial.split("\n");
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.proc.stderr!.on("data", (chunk: Uint8Array) => {
      this.lines.push(`stderr: ${new TextDecoder().decode(chunk)}`);
    });
    this.exited = new Promise((resolve) =>
      this.proc.once("close", () => resolve())
    );
  }

  has(line: string | RegExp): boolean {
    return this.lines.some((l) =>
      typeof line === "string" ? l === line : line.test(l)
    );
  }

  count(prefix: string): number {
    return this.lines.filter((l) => l.startsWith(prefix)).length;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
    }
    await this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
    }
    await this.exited;
  }
}
