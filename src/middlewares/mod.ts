/**
 * Built-in middlewares: structured logs through `@logtape/logtape`, a
 * plain-text console variant for development, the `errorThreshold` and
 * `frequency` wrappers that keep alerts meaningful, and a LogTape-backed
 * `Logger` for the engine. Metrics and traces live in
 * `./prometheus` and `./otel`.
 *
 * Middlewares observe jobs; they never delay, fail or re-order them. The
 * handler gets its job's context as `ctx`, so no `currentContext` helper
 * is needed.
 *
 * @example Log jobs and alert on piling failures
 * ```ts ignore
 * import { Actor } from "@walnats/walnats";
 * import {
 *   errorThreshold,
 *   frequency,
 *   logging,
 * } from "@walnats/walnats/middlewares";
 *
 * const alerts = frequency(errorThreshold(pager, { actor: 5 }), {
 *   timeframe: 600_000,
 * });
 * const GREET = new Actor("greet", USER_CREATED, greet, {
 *   middlewares: [logging(), alerts],
 * });
 * ```
 *
 * @module
 */

export { consoleLogging } from "./console.ts";
export type { ConsoleLevel, ConsoleLoggingOptions } from "./console.ts";
export { errorThreshold } from "./error_threshold.ts";
export type { ErrorThresholdOptions } from "./error_threshold.ts";
export { frequency } from "./frequency.ts";
export type { FrequencyOptions } from "./frequency.ts";
export { logging } from "./logging.ts";
export type { LoggingOptions } from "./logging.ts";
export { logtapeLogger } from "./logtape_logger.ts";
export type { LogtapeLoggerOptions } from "./logtape_logger.ts";
