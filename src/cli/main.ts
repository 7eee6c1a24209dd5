// deno-lint-ignore-file no-console -- a program: printing is its job
/**
 * The `walnats` command line: see and operate a walnats system without the
 * services' code — status and lag, a live feed, dead letters, schedules,
 * pauses, what exists on the server, and AsyncAPI documents and diagrams
 * of a `Services` module.
 *
 * ```sh
 * npx deno run -A jsr:@walnats/walnats/cli status      # Deno (or: deno run -A ...)
 * bunx walnats status                                  # Bun, package installed
 * npx walnats status                                   # Node, package and tsx installed
 * npx deno task walnats status                         # inside this repository
 * ```
 *
 * Commands: `status`, `monitor`, `dead-letters list|show|replay|delete`,
 * `schedules list|add|remove`, `pause`, `resume`, `events`, `actors`,
 * `asyncapi`, `diagram`, `help`. Every command that talks to NATS takes
 * `--server` (default `NATS_URL`, else `nats://127.0.0.1:4222`), `--creds`,
 * `--user`/`--password`, `--token` and `--tls-ca`. Exit codes: 0 done, 1
 * failed (server down, unknown event, ...), 2 bad usage.
 *
 * @example Run the CLI from code
 * ```ts ignore
 * import { main } from "@walnats/walnats/cli";
 *
 * const code = await main(["status", "--json"]);
 * ```
 *
 * @module
 */
import process from "node:process";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CliError, didYouMean, parse, UsageError } from "./_args.ts";
import type { Command } from "./_command.ts";
import { deadLettersCommand } from "./_dead_letters.ts";
import { actorsCommand, eventsCommand } from "./_inventory.ts";
import type { CliOutput } from "./output.ts";
import { monitorCommand } from "./_monitor.ts";
import { pauseCommand, resumeCommand } from "./_pause.ts";
import { schedulesCommand } from "./_schedules.ts";
import { asyncapiCommand, diagramCommand } from "./_services.ts";
import { statusCommand } from "./_status.ts";

export type { CliOutput } from "./output.ts";

const COMMANDS: readonly Command[] = [
  statusCommand,
  monitorCommand,
  deadLettersCommand,
  schedulesCommand,
  pauseCommand,
  resumeCommand,
  eventsCommand,
  actorsCommand,
  asyncapiCommand,
  diagramCommand,
];

/** The overview printed by `walnats --help`. */
export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `usage: walnats <command> [arguments] [options]

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}
  ${"help".padEnd(width)}  help on a command: walnats help <command>

Every command that talks to NATS takes --server URL (default NATS_URL, else
nats://127.0.0.1:4222), --creds FILE, --user U --password P, --token T and
--tls-ca FILE. "walnats <command> --help" shows a command's options.
Exit codes: 0 done, 1 failed, 2 bad usage.`;
}

/** Options for {@linkcode main}. */
export interface MainOptions {
  /** Stops long-running commands (`monitor`, `status --watch`, replays). */
  signal?: AbortSignal;
  /** Environment lookup. @default {process.env} */
  env?: (name: string) => string | undefined;
  /** Directory module paths are relative to. @default {process.cwd()} */
  cwd?: string;
}

function consoleOutput(): CliOutput {
  const out: CliOutput = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    tty: process.stdout?.isTTY === true,
  };
  if (process.stderr?.isTTY === true) {
    out.progress = (line) => {
      process.stderr.write(line === "" ? "\n" : `\r\x1b[2K${line}`);
    };
  }
  return out;
}

/**
 * Run the CLI.
 *
 * @param args Arguments after the program name.
 * @param output Where to write; the console by default.
 * @param options Signal, environment and working directory.
 * @returns The exit code: 0 on success, 1 on failure, 2 on bad usage.
 */
export async function main(
  args: readonly string[],
  output: CliOutput = consoleOutput(),
  options: MainOptions = {},
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    output.err(usage());
    return 2;
  }
  if (name === "--help" || name === "-h") {
    output.out(usage());
    return 0;
  }
  if (name === "help") {
    if (rest[0] === undefined) {
      output.out(usage());
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === rest[0]);
    if (command === undefined) {
      output.err(
        `walnats: unknown command "${rest[0]}"${
          didYouMean(rest[0], COMMANDS.map((c) => c.name))
        }\n\n${usage()}`,
      );
      return 2;
    }
    output.out(command.help);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const hint = didYouMean(name, [...COMMANDS.map((c) => c.name), "help"]);
    output.err(
      `walnats: unknown command "${name}"${hint}\n\nRun "walnats --help" for the commands.`,
    );
    return 2;
  }
  const env = options.env ?? ((n: string) => process.env[n]);
  try {
    const parsed = parse(rest, command.flags);
    if (parsed.flags.get("help") === true) {
      output.out(command.help);
      return 0;
    }
    return await command.run(parsed, {
      io: output,
      env,
      signal: options.signal ?? new AbortController().signal,
      cwd: options.cwd ?? process.cwd(),
    });
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(
        `walnats ${command.name}: ${error.message}\n\nRun "walnats ${command.name} --help" for usage.`,
      );
      return 2;
    }
    const message = error instanceof CliError ? error.message : describe(error);
    output.err(`walnats ${command.name}: ${message}`);
    return 1;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = error.message || error.name;
  // nats.js reports a lost connection as a bare "CONNECTION_CLOSED", a
  // request to a server gone as a timeout: say what it means.
  if (/closed|disconnect/i.test(text)) {
    return `the connection to the NATS server was lost (${text})`;
  }
  if (/timeout/i.test(text)) {
    return `the NATS server did not answer in time (${text})`;
  }
  return text;
}

/**
 * Run as a program: arguments from the process, Ctrl-C stops long-running
 * commands, output flushed, then the process exits with the code. Used by
 * the `walnats` bin and when this module is the main module.
 *
 * @param argv Arguments after the program name.
 * @returns Never: the process exits.
 */
export async function run(
  argv: readonly string[] = process.argv.slice(2),
): Promise<never> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    // The first Ctrl-C stops cleanly; a second one now.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let code: number;
  try {
    code = await main(argv, consoleOutput(), { signal: controller.signal });
  } catch (error) {
    console.error(`walnats: ${describe(error)}`);
    code = 1;
  }
  await new Promise<void>((resolve) =>
    process.stdout.write("", () => resolve())
  );
  await new Promise<void>((resolve) =>
    process.stderr.write("", () => resolve())
  );
  process.exit(code);
}

/** Whether this module is the program's entry (Node 20 has no import.meta.main). */
function isMain(): boolean {
  const meta = import.meta as { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) ===
      realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) await run();
