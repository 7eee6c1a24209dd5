// An emit before anything is sent: the payload encoded, the headers built
// (walnats' own, then the header hooks'), a message id for acknowledged
// emits, and every size limit checked.
import { headers as natsHeaders, type MsgHdrs, nuid } from "@nats-io/nats-core";
import { deadLetterHeadroom } from "../_bounds.ts";
import { PayloadTooLargeError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import { HEADER_ID } from "../headers.ts";
import type { EmitOptions, HeaderHook } from "./options.ts";
import { buildHeaders, type Extra, headerSize } from "./_wire.ts";

/** What the checks need from the publisher. */
export interface PrepareEnv {
  readonly hooks: readonly HeaderHook[];
  /** The server's `max_payload`, when known. */
  readonly maxPayload: number | undefined;
  /**
   * Epoch ms from the connection's clock (virtual under the memory broker),
   * the clock listeners compare `Walnats-Delay` with; read only for a
   * delayed emit.
   */
  readonly now?: () => number;
}

/** An encoded message and its headers, ready to publish. */
export interface Prepared {
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

/**
 * Encode `message`, build its headers and check its size.
 *
 * @throws {ValidationError} The payload does not match the schema.
 * @throws {PayloadTooLargeError} It is over `maxMessageSize` or too close to
 *   `max_payload` to be dead-lettered.
 * @throws {RangeError} The delay is not shorter than the stream's `maxAge`.
 *   (Thrown synchronously with a synchronous codec, else rejected.)
 */
export function prepareEmit(
  event: AnyEvent,
  message: unknown,
  options: EmitOptions,
  extra: Extra,
  env: PrepareEnv,
): Prepared | Promise<Prepared> {
  // Synchronous when the codec is (the JSON codec with a synchronous
  // schema): fire-and-forget emits then reach nats.js in the caller's own
  // turn, so a loop of them coalesces into few socket writes (bench/).
  const encoded = event.codec.encode(message);
  return encoded instanceof Promise
    ? encoded.then((data) => checked(event, data, options, extra, env))
    : checked(event, encoded, options, extra, env);
}

function checked(
  event: AnyEvent,
  data: Uint8Array,
  options: EmitOptions,
  extra: Extra,
  env: PrepareEnv,
): Prepared {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot emit event "${event.name}": its codec's encode() returned ${typeof data}, not a Uint8Array`,
    );
  }
  let headers = buildHeaders(
    event.name,
    options,
    extra,
    options.delay === undefined ? undefined : env.now?.(),
  );
  const maxAge = event.limits.maxAge;
  if (
    options.delay !== undefined && maxAge !== undefined &&
    options.delay >= maxAge
  ) {
    throw new RangeError(
      `Cannot emit event "${event.name}": delay (${options.delay} ms) must be shorter than the stream's maxAge (${maxAge} ms), or the message expires before it is due`,
    );
  }
  if (env.hooks.length > 0) {
    headers ??= natsHeaders();
    for (const hook of env.hooks) hook(event, headers);
    if (headers.keys().length === 0) headers = undefined;
  }
  if (options.sync !== false) {
    // Acknowledged emits are retried, so each carries a message id (a
    // generated one without a uid), counted in the size checks below.
    headers ??= natsHeaders();
    if (headers.get(HEADER_ID) === "") headers.set(HEADER_ID, nuid.next());
  }
  const size = data.length + headerSize(headers);
  const limit = event.limits.maxMessageSize;
  if (limit !== undefined && size > limit) {
    throw new PayloadTooLargeError(
      event.name,
      size,
      limit,
      "maxMessageSize (headers count too)",
    );
  }
  const maxPayload = env.maxPayload;
  const headroom = maxPayload === undefined
    ? 0
    : deadLetterHeadroom(maxPayload);
  if (maxPayload !== undefined && size > maxPayload - headroom) {
    throw new PayloadTooLargeError(
      event.name,
      size,
      maxPayload - headroom,
      "dead-letter-safe (headers count too)",
      `the server's max_payload is ${maxPayload} bytes and ${headroom} are kept free so the message can always be dead-lettered with the story of its failure`,
    );
  }
  return { data, headers };
}
