/**
 * The types of the handler decorators: each takes a handler and returns one
 * with the same message and result types, ready for an `Actor`.
 *
 * @module
 */
import type { Handler } from "../actor.ts";
import type { Context } from "../context.ts";

/**
 * Wraps a handler so that it may wait before it runs (`rateLimit`,
 * `requireReady`); the wrapped handler takes the same message and context
 * and resolves with the same result.
 *
 * The message type is inferred from where the result is used, so a handler
 * written inline inside `new Actor(...)` gets its parameter types from the
 * event, as an undecorated one does.
 */
export type Decorator = <T, R>(
  handler: Handler<T, R>,
) => (message: T, ctx: Context<T>) => Promise<R>;

/**
 * Wraps a handler so that it may not run, or its error may be swallowed
 * (`filterTime`, `suppress`); then the wrapped handler returns `undefined`.
 * A synchronous handler stays synchronous.
 */
export type OptionalDecorator = <T, R>(
  handler: Handler<T, R>,
) => Handler<T, R | undefined>;

/**
 * Give the wrapper the handler's name, so logs and stack traces still say
 * which handler it is.
 */
export function keepName<F extends (...args: never[]) => unknown>(
  wrapper: F,
  handler: { name: string },
): F {
  if (handler.name !== "") {
    Object.defineProperty(wrapper, "name", {
      value: handler.name,
      configurable: true,
    });
  }
  return wrapper;
}

/** Throw unless `handler` is a function. */
export function checkHandler(decorator: string, handler: unknown): void {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot decorate a handler with ${decorator}: expected a function, got ${
        handler === null ? "null" : typeof handler
      }`,
    );
  }
}
