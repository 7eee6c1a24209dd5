/**
 * Header names on the wire, shared with Python walnats.
 *
 * @module
 */

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
/** W3C trace context. */
export const HEADER_TRACEPARENT = "traceparent";
