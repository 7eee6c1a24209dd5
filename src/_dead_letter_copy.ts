// The dead-letter copy of a message as it goes on the wire: the original
// headers and payload with the story of its failure, bounded so that it
// always fits under the server's max_payload.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { DLQ_ERROR_BYTES, DLQ_STACK_BYTES, truncateUtf8 } from "./_bounds.ts";
import { HEADER_ID } from "./headers.ts";
import { headerSize } from "./publish/_wire.ts";

/** Header names of a dead letter's story. */
export const DLQ_HEADERS = {
  event: "Walnats-Dlq-Event",
  actor: "Walnats-Dlq-Actor",
  reason: "Walnats-Dlq-Reason",
  attempts: "Walnats-Dlq-Attempts",
  error: "Walnats-Dlq-Error",
  stack: "Walnats-Dlq-Stack",
  sequence: "Walnats-Dlq-Sequence",
  subject: "Walnats-Dlq-Subject",
  stream: "Walnats-Dlq-Stream",
  time: "Walnats-Dlq-Time",
  originalId: "Walnats-Dlq-Msg-Id",
  /**
   * Set on a dead letter stored without the payload and headers, which
   * did not fit: they stay in the event's stream at
   * `Walnats-Dlq-Sequence`. The value is the original's size in bytes.
   */
  truncated: "Walnats-Dlq-Truncated",
} as const;

/** The story of one failure, with the event and actor it belongs to. */
export interface DeadLetterStory {
  event: string;
  stream: string;
  actor: string;
  reason: string;
  attempts: number;
  error: Error;
  sequence: number;
  subject: string;
}

/** A dead letter ready to publish. */
export interface DeadLetterCopy {
  data: Uint8Array;
  headers: MsgHdrs;
  /** True when only the story fits: payload and headers stay behind. */
  truncated: boolean;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const DLQ_NAMES = new Set<string>(Object.values(DLQ_HEADERS));

/**
 * A header value: CR and LF are not allowed in one, so such text is
 * JSON-quoted (and read back by `toDeadLetter`), then cut to `bytes`.
 */
export function headerText(value: string, bytes: number): string {
  // Cut first so the quoted form stays valid JSON; quoting can grow it (up
  // to six bytes a character), so cut harder until it fits.
  let budget = bytes;
  for (;;) {
    const text = truncateUtf8(value, budget);
    const quoted = /[\r\n]/.test(text) ? JSON.stringify(text) : text;
    if (budget <= 16 || encoder.encode(quoted).length <= bytes) return quoted;
    budget = Math.floor(budget * 0.75);
  }
}

function story(h: MsgHdrs, s: DeadLetterStory): void {
  h.set(DLQ_HEADERS.event, s.event);
  h.set(DLQ_HEADERS.actor, s.actor);
  h.set(DLQ_HEADERS.reason, s.reason);
  h.set(DLQ_HEADERS.attempts, String(s.attempts));
  h.set(
    DLQ_HEADERS.error,
    headerText(`${s.error.name}: ${s.error.message}`, DLQ_ERROR_BYTES),
  );
  if (s.error.stack !== undefined && s.error.stack !== "") {
    h.set(DLQ_HEADERS.stack, headerText(s.error.stack, DLQ_STACK_BYTES));
  }
  h.set(DLQ_HEADERS.sequence, String(s.sequence));
  h.set(DLQ_HEADERS.subject, truncateUtf8(s.subject, 256));
  h.set(DLQ_HEADERS.stream, s.stream);
  h.set(DLQ_HEADERS.time, new Date().toISOString());
  // Derived from the original's place, so a retry after a lost
  // acknowledgement stores it once.
  h.set(HEADER_ID, `dlq:${s.stream}:${s.actor}:${s.sequence}`);
}

/**
 * Build the dead-letter copy of a message.
 *
 * The copy holds the original payload and headers (its `Nats-Msg-Id` moved
 * to `Walnats-Dlq-Msg-Id`, forged `Walnats-Dlq-*` headers dropped) and the
 * story, the error and stack cut to `DLQ_ERROR_BYTES` and `DLQ_STACK_BYTES`.
 * When that is over `maxPayload` (a message published by another client
 * close to the limit; `emit` keeps `DEAD_LETTER_HEADROOM` free), the copy
 * is the story alone with `Walnats-Dlq-Truncated` set to the original's size,
 * and the caller must leave the original in its stream.
 *
 * @param story What happened.
 * @param data The original payload.
 * @param original The original headers.
 * @param maxPayload The server's max_payload, if known.
 * @returns The copy to publish.
 */
export function deadLetterCopy(
  s: DeadLetterStory,
  data: Uint8Array,
  original: MsgHdrs | undefined,
  maxPayload: number | undefined,
): DeadLetterCopy {
  const h = natsHeaders();
  if (original !== undefined) {
    for (const [key, values] of original) {
      if (key === HEADER_ID) {
        h.set(DLQ_HEADERS.originalId, values[0] ?? "");
        continue;
      }
      // A publisher may forge the story's headers; the engine writes them.
      if (DLQ_NAMES.has(key)) continue;
      for (const value of values) h.append(key, value);
    }
  }
  story(h, s);
  if (maxPayload === undefined || data.length + headerSize(h) <= maxPayload) {
    return { data, headers: h, truncated: false };
  }
  const alone = natsHeaders();
  story(alone, s);
  alone.set(
    DLQ_HEADERS.truncated,
    String(data.length + headerSize(original)),
  );
  return { data: EMPTY, headers: alone, truncated: true };
}
