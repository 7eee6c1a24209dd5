// Running test fixtures as separate processes of the current runtime.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

export function runtimeArgs(script: string): [string, string[]] {
  if ("Deno" in globalThis) return [process.execPath, ["run", "-A", script]];
  if ("Bun" in globalThis) return [process.execPath, ["run", script]];
  return [process.execPath, ["--import", "tsx", script]];
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
