// deno-lint-ignore-file no-console -- a program: printing is its job
/**
 * The `walnats` command line: inspect and replay dead letters without the
 * services' code (no schemas needed).
 *
 * ```sh
 * deno run -A jsr:@walnats/walnats/cli dead-letters list user-created
 * deno run -A jsr:@walnats/walnats/cli dead-letters replay user-created --actor send-email
 * bun x jsr:@walnats/walnats/cli ...   # Bun
 * ```
 *
 * Commands (the event is its name, as in `new Event(name, ...)`):
 *
 * - `dead-letters list <event> [--actor A] [--limit N] [--json]`
 * - `dead-letters replay <event> [--actor A] [--sequence N ...]`
 * - `dead-letters delete <event> --sequence N [--sequence N ...]`
 *
 * Every command takes `--server URL` (default `NATS_URL`, else
 * `nats://127.0.0.1:4222`).
 *
 * @example Run the CLI from code
 * ```ts ignore
 * import { main } from "@walnats/walnats/cli";
 *
 * const code = await main(["dead-letters", "list", "user-created", "--json"]);
 * ```
 *
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "./transports/connect.ts";
import {
  type DeadLetter,
  deadLetterStream,
  listDeadLetters,
  replayDeadLetters,
} from "./dead_letter.ts";

/** Where {@linkcode main} writes. */
export interface CliOutput {
  /** Normal output (one line per call). */
  out(line: string): void;
  /** Errors and usage (one line per call). */
  err(line: string): void;
}

const USAGE =
  `usage: walnats dead-letters <list|replay|delete> <event> [options]

  list    <event> [--actor A] [--limit N] [--json]   show dead letters, oldest first
  replay  <event> [--actor A] [--sequence N ...]     emit them again, then remove them
  delete  <event> --sequence N [--sequence N ...]    remove them for good

  --server URL   NATS server (default NATS_URL, else nats://127.0.0.1:4222)`;

interface Parsed {
  command: string;
  event: string;
  actor: string | undefined;
  limit: number;
  json: boolean;
  sequences: number[];
  server: string | undefined;
}

function parse(args: string[]): Parsed | string {
  const [group, command, event, ...rest] = args;
  if (group !== "dead-letters") return `unknown command "${group ?? ""}"`;
  if (!["list", "replay", "delete"].includes(command ?? "")) {
    return `unknown dead-letters command "${command ?? ""}"`;
  }
  if (event === undefined || event.startsWith("--")) {
    return "missing the event name";
  }
  const parsed: Parsed = {
    command: command!,
    event,
    actor: undefined,
    limit: 1000,
    json: false,
    sequences: [],
    server: undefined,
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    const value = rest[i + 1];
    const needValue = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    try {
      switch (flag) {
        case "--actor":
          parsed.actor = needValue();
          break;
        case "--server":
          parsed.server = needValue();
          break;
        case "--limit":
        case "--sequence": {
          const n = Number(needValue());
          if (!Number.isInteger(n) || n <= 0) {
            return `${flag} must be a positive integer, got ${value}`;
          }
          if (flag === "--limit") parsed.limit = n;
          else parsed.sequences.push(n);
          break;
        }
        case "--json":
          parsed.json = true;
          break;
        default:
          return `unknown option "${flag}"`;
      }
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (parsed.command === "delete" && parsed.sequences.length === 0) {
    return "delete needs at least one --sequence";
  }
  return parsed;
}

function describe(letter: DeadLetter): string {
  const when = Number.isNaN(letter.time.getTime())
    ? "?"
    : letter.time.toISOString();
  return `#${letter.sequence} ${when} actor=${letter.actor} reason=${letter.reason} attempts=${letter.attempts} original=${letter.stream}:${letter.originalSequence} error=${
    JSON.stringify(letter.error)
  }`;
}

/**
 * Run the CLI.
 *
 * @param args Arguments after the program name.
 * @param output Where to write; the console by default.
 * @returns The exit code: 0 on success, 1 on failure, 2 on bad usage.
 */
export async function main(
  args: string[],
  output: CliOutput = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  },
): Promise<number> {
  if (args.length === 0 || args.includes("--help") || args.includes("-h")) {
    output.out(USAGE);
    return 0;
  }
  const parsed = parse(args);
  if (typeof parsed === "string") {
    output.err(`walnats: ${parsed}\n\n${USAGE}`);
    return 2;
  }
  // The stream of an event is its name with dots as dashes.
  const stream = parsed.event.replaceAll(".", "-");
  let nc;
  try {
    nc = await connect(
      parsed.server === undefined
        ? { maxReconnectAttempts: 0 }
        : { servers: parsed.server, maxReconnectAttempts: 0 },
    );
  } catch (error) {
    output.err(`walnats: cannot connect: ${(error as Error).message}`);
    return 1;
  }
  try {
    const jsm = await jetstreamManager(nc);
    let letters = await listDeadLetters(jsm, stream, {
      ...(parsed.actor === undefined ? {} : { actor: parsed.actor }),
      limit: parsed.command === "list" ? parsed.limit : Number.MAX_SAFE_INTEGER,
    });
    if (parsed.sequences.length > 0) {
      const wanted = new Set(parsed.sequences);
      letters = letters.filter((l) => wanted.has(l.sequence));
      const found = new Set(letters.map((l) => l.sequence));
      const missing = parsed.sequences.filter((s) => !found.has(s));
      if (missing.length > 0) {
        output.err(
          `walnats: no dead letter ${
            missing.join(", ")
          } for event "${parsed.event}"`,
        );
        return 1;
      }
    }
    switch (parsed.command) {
      case "list":
        for (const letter of letters) {
          output.out(
            parsed.json
              ? JSON.stringify({
                ...letter,
                time: letter.time.toISOString(),
                data: new TextDecoder().decode(letter.data),
              })
              : describe(letter),
          );
        }
        if (!parsed.json) {
          output.err(`${letters.length} dead letter(s) of "${parsed.event}"`);
        }
        return 0;
      case "replay": {
        const n = await replayDeadLetters(jetstream(nc), jsm, letters);
        output.out(`replayed ${n} dead letter(s) of "${parsed.event}"`);
        return 0;
      }
      default: {
        for (const letter of letters) {
          await jsm.streams.deleteMessage(
            deadLetterStream(stream),
            letter.sequence,
            false,
          );
        }
        output.out(
          `deleted ${letters.length} dead letter(s) of "${parsed.event}"`,
        );
        return 0;
      }
    }
  } catch (error) {
    output.err(`walnats: ${(error as Error).message}`);
    return 1;
  } finally {
    await nc.close();
  }
}

if ((import.meta as { main?: boolean }).main) {
  const proc = globalThis.process;
  const code = await main(proc?.argv.slice(2) ?? []);
  if (proc !== undefined) proc.exitCode = code;
}
