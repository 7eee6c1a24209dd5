/**
 * {@linkcode consoleLogging}: one plain-text line per job event, for
 * development.
 *
 * @module
 */
import type { Context } from "../context.ts";
import type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "./middleware.ts";

/** Severity of a line written by {@linkcode consoleLogging}. */
export type ConsoleLevel = "info" | "warn" | "error";

/** Options for {@linkcode consoleLogging}. */
export interface ConsoleLoggingOptions {
  /**
   * Where a line goes.
   * @default {console.info, console.warn or console.error by level}
   */
  write?: (line: string, level: ConsoleLevel) => void;
  /**
   * Write a line when a job starts, not only when it ends.
   * @default {true}
   */
  starts?: boolean;
}

const OUTCOMES = {
  "retry": "will retry",
  "dead-letter": "dead-lettered",
  "terminate": "terminated",
} as const;

function subject(ctx: Context): string {
  return `walnats: ${ctx.actor} ${ctx.event.name}#${ctx.sequence} attempt ${ctx.attempt}`;
}

function describe(error: Error): string {
  return `${error.name}: ${error.message}`;
}

function defaultWrite(line: string, level: ConsoleLevel): void {
  // deno-lint-ignore no-console -- this logger writes to the console
  if (level === "error") console.error(line);
  // deno-lint-ignore no-console -- this logger writes to the console
  else if (level === "warn") console.warn(line);
  // deno-lint-ignore no-console -- this logger writes to the console
  else console.info(line);
}

/**
 * A middleware writing one readable line per job event to the console,
 * for development (use `logging()` in production):
 *
 * ```text
 * walnats: greet user-created#12 attempt 1 started
 * walnats: greet user-created#12 attempt 1 succeeded in 3 ms
 * walnats: greet user-created#13 attempt 1 failed in 1 ms, will retry: TypeError: boom
 * walnats: greet user-created#14 attempt 1 did not decode, dead-lettered: ValidationError: ...
 * ```
 *
 * Starts and successes are `info`, failures to be retried `warn`, and
 * messages given up on `error`.
 *
 * @param options Where lines go, and whether starts are written.
 * @returns The middleware.
 *
 * @example Collect the lines
 * ```ts
 * import { consoleLogging } from "@walnats/walnats/middlewares";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const middleware = consoleLogging({ write: (line) => lines.push(line) });
 * assert.equal(typeof middleware.onStart, "function");
 * ```
 */
export function consoleLogging(
  options: ConsoleLoggingOptions = {},
): Middleware {
  const write = options.write ?? defaultWrite;
  const starts = options.starts ?? true;
  const middleware: Middleware = {
    onSuccess(ctx: SuccessContext): void {
      write(
        `${subject(ctx)} succeeded in ${Math.round(ctx.duration)} ms`,
        "info",
      );
    },
    onFailure(ctx: FailureContext): void {
      const what = ctx.message === undefined
        ? "did not decode"
        : `failed in ${Math.round(ctx.duration)} ms`;
      write(
        `${subject(ctx)} ${what}, ${OUTCOMES[ctx.outcome]}: ${
          describe(ctx.error)
        }`,
        ctx.outcome === "retry" ? "warn" : "error",
      );
    },
  };
  if (starts) {
    middleware.onStart = (ctx: StartContext): void => {
      write(`${subject(ctx)} started`, "info");
    };
  }
  return middleware;
}
