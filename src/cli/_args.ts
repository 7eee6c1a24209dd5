// Argument parsing shared by every command: flags with values or not,
// repeated flags, `--flag=value`, `--` ends the flags; mistakes are usage
// errors (exit 2) that suggest the nearest flag.

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure while doing the work: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

/** How a flag takes its value. */
export type FlagKind =
  | "boolean"
  | "string"
  | "strings"
  | "integer"
  | "integers";

/** The flags a command accepts, by long name (without `--`). */
export type FlagSpec = Readonly<Record<string, FlagKind>>;

/** Parsed flags: values by long name. */
export interface Parsed {
  flags: Map<string, string | boolean | number | string[] | number[]>;
  positionals: string[];
}

/** The connection flags every command that talks to NATS takes. */
export const CONNECTION_FLAGS: FlagSpec = {
  server: "string",
  creds: "string",
  user: "string",
  password: "string",
  token: "string",
  "tls-ca": "string",
};

/** Help text for {@linkcode CONNECTION_FLAGS}. */
export const CONNECTION_HELP = `connection:
  --server URL[,URL]   NATS server(s) (default: NATS_URL, else nats://127.0.0.1:4222)
  --creds FILE         NATS credentials file (JWT and NKey seed)
  --user U --password P   user and password
  --token T            authentication token
  --tls-ca FILE        CA certificate (PEM) that signed the server's certificate`;

/** Levenshtein distance, for "did you mean". */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The nearest of `candidates` to `word`, if it is near enough to be a typo. */
export function nearest(
  word: string,
  candidates: Iterable<string>,
): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  // A third of the word's length, at least 2: "stauts" -> "status".
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3))
    ? best
    : undefined;
}

/** ` (did you mean "x"?)` or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const near = nearest(word, candidates);
  return near === undefined ? "" : `; did you mean "${near}"?`;
}

/**
 * Parse `args` against `spec`. `--help`/`-h` is always accepted (as
 * `help`).
 *
 * @throws {UsageError} An unknown flag, a missing or malformed value.
 */
export function parse(args: readonly string[], spec: FlagSpec): Parsed {
  const flags: Parsed["flags"] = new Map();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      flags.set("help", true);
      continue;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
        throw new UsageError(`unknown option "${arg}" (options start with --)`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) {
      throw new UsageError(
        `unknown option "--${name}"${
          didYouMean(name, Object.keys(spec)).replace(/"([^"]+)"\?$/, '"--$1"?')
        }`,
      );
    }
    if (kind === "boolean") {
      if (eq !== -1) {
        throw new UsageError(`option --${name} takes no value`);
      }
      flags.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      value = args[i + 1];
      if (value === undefined || (value.startsWith("--") && value !== "--")) {
        throw new UsageError(`option --${name} needs a value`);
      }
      i++;
    }
    if (kind === "integer" || kind === "integers") {
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
        throw new UsageError(
          `option --${name} must be a positive integer, got "${value}"`,
        );
      }
      if (kind === "integer") flags.set(name, n);
      else flags.set(name, [...((flags.get(name) as number[]) ?? []), n]);
    } else if (kind === "strings") {
      flags.set(name, [...((flags.get(name) as string[]) ?? []), value]);
    } else {
      if (flags.has(name)) {
        throw new UsageError(`option --${name} is given twice`);
      }
      flags.set(name, value);
    }
  }
  return { flags, positionals };
}

/** Typed access to parsed flags. */
export function str(p: Parsed, name: string): string | undefined {
  return p.flags.get(name) as string | undefined;
}

/** A boolean flag. */
export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

/** An integer flag. */
export function int(p: Parsed, name: string): number | undefined {
  return p.flags.get(name) as number | undefined;
}

/** A repeated integer flag. */
export function ints(p: Parsed, name: string): number[] {
  return (p.flags.get(name) as number[] | undefined) ?? [];
}

/** A repeated string flag. */
export function strs(p: Parsed, name: string): string[] {
  return (p.flags.get(name) as string[] | undefined) ?? [];
}

/**
 * Parse a duration: milliseconds as a bare integer, or with a unit
 * (`500ms`, `30s`, `5m`, `2h`, `1d`).
 *
 * @throws {UsageError} It is not one.
 */
export function duration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  if (m === null) {
    throw new UsageError(
      `${flag} must be a duration such as 500ms, 30s, 5m, 2h or 1d (a bare number is milliseconds), got "${text}"`,
    );
  }
  const ms = Math.round(
    Number(m[1]) * unit[(m[2] ?? "ms") as keyof typeof unit],
  );
  if (!(ms > 0)) {
    throw new UsageError(`${flag} must be positive, got "${text}"`);
  }
  return ms;
}
