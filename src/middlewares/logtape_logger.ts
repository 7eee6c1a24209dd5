/**
 * {@linkcode logtapeLogger}: the engine's {@linkcode Logger} on
 * `@logtape/logtape`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { LogFields, Logger } from "../log.ts";

/** Options for {@linkcode logtapeLogger}. */
export interface LogtapeLoggerOptions {
  /**
   * Category of the engine's records. A record about one actor (with an
   * `actor` field) goes to `[...category, "actor", <actor name>]`, where
   * the `logging()` middleware writes too.
   * @default {["walnats"]}
   */
  category?: readonly string[];
}

// LogTape reads `{name}` in a message as a placeholder; the engine's
// messages are plain text.
function escape(message: string): string {
  return message.replace(/\{/g, "{{").replace(/\}/g, "}}");
}

/**
 * A {@linkcode Logger} writing the engine's records (listening, draining,
 * failures, dead letters) through LogTape, with the fields as properties:
 * pass it to `listen({ logger })` so the engine's records go where your
 * LogTape configuration sends them.
 *
 * @param options The category.
 * @returns The logger.
 * @throws {TypeError} The category is empty.
 *
 * @example Send the engine's logs to LogTape
 * ```ts ignore
 * import { logtapeLogger } from "@walnats/walnats/middlewares";
 *
 * await sub.listen({ signal, logger: logtapeLogger() });
 * ```
 */
export function logtapeLogger(options: LogtapeLoggerOptions = {}): Logger {
  const category = [...(options.category ?? ["walnats"])];
  if (category.length === 0) {
    throw new TypeError(
      "Cannot create logtape logger: category must not be empty",
    );
  }
  const root = getLogger(category);
  const loggerFor = (fields: LogFields | undefined) =>
    typeof fields?.actor === "string"
      ? root.getChild(["actor", fields.actor])
      : root;
  return {
    error(message: string, fields?: LogFields): void {
      loggerFor(fields).error(escape(message), fields ?? {});
    },
    warn(message: string, fields?: LogFields): void {
      loggerFor(fields).warn(escape(message), fields ?? {});
    },
    info(message: string, fields?: LogFields): void {
      loggerFor(fields).info(escape(message), fields ?? {});
    },
    debug(message: string, fields?: LogFields): void {
      loggerFor(fields).debug(escape(message), fields ?? {});
    },
  };
}
