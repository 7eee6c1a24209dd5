/**
 * Header names on the wire, shared with Python walnats.
 *
 * @module
 */
/** @ignore */
import type { MsgHdrs } from "@nats-io/nats-core";

/** Server-side de-duplication id (JetStream). */
export const HEADER_ID = "Nats-Msg-Id";
/** Inbox to send an actor's response to (walnats request/response). */
export const HEADER_REPLY = "Walnats-Reply";
/** Trace id for distributed tracing (walnats). */
export const HEADER_TRACE = "Walnats-Trace";
/**
 * UTC epoch seconds (a decimal string, fractions allowed) before which no
 * handler may run the message (walnats).
 */
export const HEADER_DELAY = "Walnats-Delay";
/**
 * On a replayed dead letter: the one actor that should run it again; other
 * actors of the event ack it without running (TypeScript walnats only).
 */
export const HEADER_REPLAY_ACTOR = "Walnats-Replay-Actor";
/** W3C trace context. */
export const HEADER_TRACEPARENT = "traceparent";

/**
 * Headers as a plain record (first value of each key).
 *
 * @param h The headers.
 * @returns Header names to their first value.
 */
export function headersToRecord(
  h: MsgHdrs | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  for (const [key, values] of h) {
    const first = values[0];
    if (first !== undefined) out[key] = first;
  }
  return out;
}
