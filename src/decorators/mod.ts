/**
 * Handler decorators for flow control: wrap a handler before giving it to
 * an `Actor`. Each keeps the handler's message and result types.
 *
 * - {@linkcode rateLimit}: at most N jobs started per period in this process.
 * - {@linkcode suppress}: swallow chosen errors so the job succeeds.
 * - {@linkcode requireReady}: wait until a dependency is ready.
 * - {@linkcode filterTime}: run only at times matching a pattern.
 *
 * @example Decorate a handler
 * ```ts
 * import * as v from "valibot";
 * import { Actor, Event } from "@walnats/walnats";
 * import { rateLimit, suppress } from "@walnats/walnats/decorators";
 * import assert from "node:assert/strict";
 *
 * class NotFoundError extends Error {}
 * const PARCEL_MOVED = new Event("parcel-moved", v.object({ id: v.number() }));
 * const TRACK = new Actor(
 *   "track-parcel",
 *   PARCEL_MOVED,
 *   suppress(NotFoundError)(rateLimit(10, 1000)(async (parcel, ctx) => {
 *     await fetch(`https://parcels.example/${parcel.id}`, { signal: ctx.signal });
 *   })),
 * );
 * assert.equal(TRACK.name, "track-parcel");
 * ```
 *
 * @module
 */
export type { Decorator, OptionalDecorator } from "./decorator.ts";
export { filterTime } from "./filter_time.ts";
export type { FilterTimeOptions, TimePattern } from "./filter_time.ts";
export { rateLimit } from "./rate_limit.ts";
export type { RateLimitOptions } from "./rate_limit.ts";
export { requireReady } from "./require_ready.ts";
export type { RequireReadyOptions } from "./require_ready.ts";
export { suppress } from "./suppress.ts";
export type { ErrorClass, SuppressOptions } from "./suppress.ts";
export type { Timers } from "../timers.ts";
