/**
 * {@linkcode logging}: structured job logs through `@logtape/logtape`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "./middleware.ts";

/** Options for {@linkcode logging}. */
export interface LoggingOptions {
  /**
   * Category prefix; the actor's name is appended, so each actor logs to
   * `[...category, actor]`.
   * @default {["walnats", "actor"]}
   */
  category?: readonly string[];
}

function propertiesOf(ctx: Context): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    actor: ctx.actor,
    event: ctx.event.name,
    attempt: ctx.attempt,
    sequence: ctx.sequence,
  };
  if (ctx.traceId !== undefined) properties.traceId = ctx.traceId;
  return properties;
}

/**
 * A middleware writing structured job logs through LogTape, to the
 * category `["walnats", "actor", <actor name>]`. The application chooses
 * sinks, formats and levels with LogTape's `configure()`; with no
 * configuration nothing is written.
 *
 * | hook | level | message |
 * | --- | --- | --- |
 * | `onStart` | debug | `Job started` |
 * | `onSuccess` | debug | `Job succeeded in {duration} ms` |
 * | `onFailure`, will retry | warning | `Job failed on attempt {attempt}, will retry: {error}` |
 * | `onFailure`, given up | error | `Job failed on attempt {attempt}, {outcome}: {error}` |
 *
 * Every record carries the properties `actor`, `event`, `attempt`,
 * `sequence` and `traceId` (when set); `onSuccess` adds `duration` (whole ms),
 * `onFailure` adds `error` (the `Error`), `outcome` and `duration`, and
 * `decoded: false` when the payload did not decode.
 *
 * @param options The category prefix.
 * @returns The middleware.
 * @throws {TypeError} The category is empty.
 *
 * @example Log jobs to the console
 * ```ts ignore
 * import { configure, getConsoleSink } from "@logtape/logtape";
 * import { Actor } from "@walnats/walnats";
 * import { logging } from "@walnats/walnats/middlewares";
 *
 * await configure({
 *   sinks: { console: getConsoleSink() },
 *   loggers: [{ category: "walnats", lowestLevel: "info", sinks: ["console"] }],
 * });
 * const GREET = new Actor("greet", USER_CREATED, greet, {
 *   middlewares: [logging()],
 * });
 * ```
 */
export function logging(options: LoggingOptions = {}): Middleware {
  const category = [...(options.category ?? ["walnats", "actor"])];
  if (category.length === 0) {
    throw new TypeError(
      "Cannot create logging middleware: category must not be empty",
    );
  }
  const loggerOf = (ctx: Context) => getLogger([...category, ctx.actor]);
  return {
    onStart(ctx: StartContext): void {
      loggerOf(ctx).debug("Job started", propertiesOf(ctx));
    },
    onSuccess(ctx: SuccessContext): void {
      loggerOf(ctx).debug("Job succeeded in {duration} ms", {
        ...propertiesOf(ctx),
        duration: Math.round(ctx.duration),
      });
    },
    onFailure(ctx: FailureContext): void {
      const properties: Record<string, unknown> = {
        ...propertiesOf(ctx),
        error: ctx.error,
        outcome: ctx.outcome,
        duration: Math.round(ctx.duration),
      };
      if (ctx.message === undefined) properties.decoded = false;
      if (ctx.outcome === "retry") {
        loggerOf(ctx).warn(
          "Job failed on attempt {attempt}, will retry: {error}",
          properties,
        );
      } else {
        loggerOf(ctx).error(
          "Job failed on attempt {attempt}, {outcome}: {error}",
          properties,
        );
      }
    },
  };
}
