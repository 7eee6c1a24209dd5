/**
 * The {@linkcode Logger} the engine reports to. Defaults to the console;
 * pass your own (or the `@logtape/logtape` adapter from `./middlewares`).
 *
 * @module
 */

/** Structured fields logged with a message. */
export type LogFields = Record<string, unknown>;

/** Where the engine writes what it does and what went wrong. */
export interface Logger {
  /** Something failed. */
  error(message: string, fields?: LogFields): void;
  /** Something unusual that was handled. */
  warn(message: string, fields?: LogFields): void;
  /** Lifecycle: started, draining, stopped. */
  info(message: string, fields?: LogFields): void;
  /** Per-message detail. */
  debug(message: string, fields?: LogFields): void;
}

function format(message: string, fields?: LogFields): string {
  if (fields === undefined) return `walnats: ${message}`;
  const parts = Object.entries(fields).map(([k, v]) => {
    if (v instanceof Error) return `${k}=${v.name}: ${v.message}`;
    return `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
  });
  return `walnats: ${message} ${parts.join(" ")}`;
}

/**
 * A logger writing one line per entry to the console.
 *
 * @param level Least severe level written.
 * @returns The logger.
 */
export function consoleLogger(
  level: "error" | "warn" | "info" | "debug" = "warn",
): Logger {
  const rank = { error: 0, warn: 1, info: 2, debug: 3 }[level];
  return {
    // deno-lint-ignore no-console -- consoleLogger writes to the console
    error: (m, f) => console.error(format(m, f)),
    // deno-lint-ignore no-console -- consoleLogger writes to the console
    warn: (m, f) => rank >= 1 && console.warn(format(m, f)),
    // deno-lint-ignore no-console -- consoleLogger writes to the console
    info: (m, f) => rank >= 2 && console.info(format(m, f)),
    // deno-lint-ignore no-console -- consoleLogger writes to the console
    debug: (m, f) => rank >= 3 && console.debug(format(m, f)),
  } as Logger;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};
