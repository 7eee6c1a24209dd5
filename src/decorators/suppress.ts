/**
 * {@linkcode suppress}: swallow chosen errors so the job succeeds.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { consoleLogger, type Logger } from "../log.ts";
import { checkHandler, keepName, type OptionalDecorator } from "./decorator.ts";

/** A class of errors, matched with `instanceof` (subclasses match too). */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => unknown;

/** Options for {@linkcode suppress}. */
export interface SuppressOptions {
  /**
   * Log each suppressed error (at warn level, with the actor, event,
   * sequence and attempt). With `false` they are dropped without a trace.
   * @default {true}
   */
  log?: boolean;
  /** Where to log. @default {consoleLogger("warn")} */
  logger?: Logger;
}

/**
 * Swallow errors of the given classes: the handler resolves `undefined`
 * instead, so the job succeeds and is not retried. Other errors pass
 * through. For errors that retrying cannot fix (a record that no longer
 * exists); not for flow control.
 *
 * Nothing is suppressed once `ctx.signal` has aborted: a job stopped by its
 * timeout or by shutdown did not succeed, so it fails and is retried
 * whatever it threw. Each suppressed error is logged at warn level unless
 * `{ log: false }`.
 * A synchronous handler stays synchronous; errors a returned promise
 * rejects with are suppressed as well.
 *
 * @param first An error class to suppress.
 * @param rest More error classes.
 * @returns A decorator for handlers.
 * @throws {TypeError} An error class is not a class.
 *
 * @example Errors of other classes still fail the job
 * ```ts
 * import { suppress } from "@walnats/walnats/decorators";
 * import type { Context } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * class NotFoundError extends Error {}
 * const update = suppress(NotFoundError)((id: number) => {
 *   if (id < 0) throw new RangeError(`bad parcel id ${id}`);
 *   return id;
 * });
 * const ctx = {} as Context<number>;
 * assert.throws(() => update(-1, ctx), RangeError);
 * assert.equal(update(7, ctx), 7);
 * ```
 */
export function suppress(
  first: ErrorClass,
  ...rest: ErrorClass[]
): OptionalDecorator;
/**
 * Swallow errors of the given classes, as the other overload does, with
 * options first: whether and where each suppressed error is logged.
 *
 * @param options Logging of suppressed errors.
 * @param first An error class to suppress.
 * @param rest More error classes.
 * @returns A decorator for handlers.
 * @throws {TypeError} `options` is not an object, or an error class is not
 *   a class.
 *
 * @example Do not retry updates of deleted parcels, silently
 * ```ts
 * import { suppress } from "@walnats/walnats/decorators";
 * import type { Context } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * class NotFoundError extends Error {}
 * const update = suppress({ log: false }, NotFoundError)((id: number) => {
 *   if (id === 0) throw new NotFoundError(`no parcel ${id}`);
 *   return id;
 * });
 * const ctx = {} as Context<number>;
 * assert.equal(update(0, ctx), undefined);
 * assert.equal(update(7, ctx), 7);
 * ```
 */
export function suppress(
  options: SuppressOptions,
  first: ErrorClass,
  ...rest: ErrorClass[]
): OptionalDecorator;
export function suppress(
  first: SuppressOptions | ErrorClass,
  ...rest: ErrorClass[]
): OptionalDecorator {
  const options: SuppressOptions = typeof first === "function" ||
      first === undefined
    ? {}
    : first;
  const classes = typeof first === "function" ? [first, ...rest] : rest;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot create suppress: expected error classes or options, got ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  if (classes.length === 0) {
    throw new TypeError(
      "Cannot create suppress: give at least one error class to suppress",
    );
  }
  for (const cls of classes) {
    if (typeof cls !== "function") {
      throw new TypeError(
        `Cannot create suppress: every error class must be a class, got ${
          cls === null ? "null" : typeof cls
        }`,
      );
    }
  }
  const logger = options.log === false
    ? undefined
    : options.logger ?? consoleLogger("warn");
  const matches = (error: unknown): boolean =>
    classes.some((cls) => error instanceof cls);

  return <T, R>(handler: (message: T, ctx: Context<T>) => R | Promise<R>) => {
    checkHandler("suppress", handler);
    const swallow = (
      error: unknown,
      ctx: Context<T> | undefined,
    ): undefined => {
      // A job stopped by its timeout or by shutdown did not succeed, whatever
      // the error it stopped with: let the engine retry it.
      if (!matches(error) || ctx?.signal?.aborted) throw error;
      logger?.warn("suppressed an error in a handler", {
        handler: handler.name || "anonymous",
        actor: ctx?.actor,
        event: ctx?.event?.name,
        sequence: ctx?.sequence,
        attempt: ctx?.attempt,
        error,
      });
      return undefined;
    };
    return keepName(
      (message: T, ctx: Context<T>): R | undefined | Promise<R | undefined> => {
        let result: R | Promise<R>;
        try {
          result = handler(message, ctx);
        } catch (error) {
          return swallow(error, ctx);
        }
        if (isThenable(result)) {
          return Promise.resolve(result).then(
            (value) => value,
            (error: unknown) => swallow(error, ctx),
          );
        }
        return result;
      },
      handler,
    );
  };
}

function isThenable<R>(value: R | Promise<R>): value is Promise<R> {
  return (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
