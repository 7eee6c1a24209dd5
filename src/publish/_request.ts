// request(): emit with a `Walnats-Reply` header naming a fresh inbox, then
// wait for the first reply within the timeout; the inbox subscription is
// removed whatever the outcome.
import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core";
import type { Codec } from "../codecs/codec.ts";
import { RequestTimeoutError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import { inboxPrefix } from "../transports/_connection_options.ts";
import { deadline } from "../_async.ts";
import { timersOf } from "../_timers.ts";
import type { Emitter } from "./_emitter.ts";
import type { RequestOptions } from "./options.ts";

const DEFAULT_TIMEOUT = 4000;

/**
 * Emit `message` and decode the first reply.
 *
 * @throws {RequestTimeoutError} No reply within `timeout`.
 * @throws {RangeError} `timeout` is not a positive number.
 */
export async function requestReply<R>(
  nc: NatsConnection,
  emitter: Emitter,
  event: AnyEvent,
  codec: Codec<R, unknown>,
  message: unknown,
  options: RequestOptions,
): Promise<R> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (!(timeout > 0) || !Number.isFinite(timeout)) {
    throw new RangeError(
      `Cannot request event "${event.name}": timeout must be a positive number of milliseconds, got ${timeout}`,
    );
  }
  const signal = options.signal;
  signal?.throwIfAborted();
  const inbox = createInbox(inboxPrefix(nc));
  const sub = nc.subscribe(inbox, { max: 1 });
  try {
    const work = (async (): Promise<Msg> => {
      const prepared = await emitter.prepare(event, message, options, {
        reply: inbox,
      });
      await emitter.send(event, prepared, undefined, options.delay);
      for await (const msg of sub) return msg;
      throw new Error(
        `Cannot request event "${event.name}": the connection closed before a reply arrived`,
      );
    })();
    let reply: Msg;
    try {
      reply = await deadline(work, timeout, {
        ...(signal ? { signal } : {}),
        timers: timersOf(nc),
      });
    } catch (error) {
      work.catch(() => {}); // the loser of the race must not go unobserved
      if (error instanceof DOMException && error.name === "TimeoutError") {
        throw new RequestTimeoutError(event.name, timeout, { cause: error });
      }
      throw error;
    }
    return await codec.decode(reply.data);
  } finally {
    if (!sub.isClosed()) sub.unsubscribe();
  }
}
