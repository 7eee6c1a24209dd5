// What a command is, and what it gets to run.
import type { FlagSpec, Parsed } from "./_args.ts";
import type { CliOutput } from "./_io.ts";

/** What a command runs with. */
export interface Context {
  io: CliOutput;
  env: (name: string) => string | undefined;
  /** Aborts on Ctrl-C (long-running commands stop cleanly). */
  signal: AbortSignal;
  /** The directory module paths are relative to. */
  cwd: string;
}

/** One command (or command group) of the CLI. */
export interface Command {
  name: string;
  /** One line for the overview. */
  summary: string;
  /** Full help, shown by `walnats <command> --help`. */
  help: string;
  flags: FlagSpec;
  /** Run with the parsed arguments (positionals after the command name). */
  run(p: Parsed, ctx: Context): Promise<number>;
}

/** Wait `ms` or until `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
