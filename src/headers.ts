/**
 * Header names on the wire, shared with Python walnats.
 *
 * @module
 */
/** @ignore */
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";

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

const encoder = new TextEncoder();

/**
 * The headers of an actor's reply: the request's own, as Python walnats'
 * actor sends them (so trace ids, `traceparent`, `ce-*` and the caller's
 * meta headers come back with the response), minus those that would mean
 * something to the server or to walnats on the reply subject: every
 * `Nats-*` header (`Nats-Msg-Id` among them), `Walnats-Reply` and
 * `Walnats-Delay`.
 *
 * @param request The request's headers.
 * @param room Bytes the header block may take (what `max_payload` leaves
 *   beside the payload); when the copy needs more, no headers are sent, so
 *   the reply still fits.
 * @returns The reply's headers, or `undefined` when there are none to send.
 */
export function replyHeaders(
  request: MsgHdrs | undefined,
  room: number = Infinity,
): MsgHdrs | undefined {
  if (request === undefined) return undefined;
  const out = natsHeaders();
  let size = "NATS/1.0\r\n\r\n".length;
  for (const [key, values] of request) {
    const lower = key.toLowerCase();
    if (
      lower.startsWith("nats-") || lower === "walnats-reply" ||
      lower === "walnats-delay"
    ) continue;
    for (const value of values) {
      out.append(key, value);
      size += encoder.encode(`${key}: ${value}\r\n`).length;
    }
  }
  if (out.keys().length === 0 || size > room) return undefined;
  return out;
}
