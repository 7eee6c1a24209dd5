/**
 * Dead letters: poison and exhausted messages, copied with their story into
 * one dead-letter stream per event before the original is terminated.
 *
 * Naming: event stream `user-created` has the dead-letter stream
 * `walnats_dlq_user-created`, and actor `send-email`'s dead letters are on
 * subject `walnats_dlq.user-created.send-email`. Event names are kebab-case,
 * so no event stream can collide with these names.
 *
 * @module
 */
import {
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { AnyEvent } from "./event.ts";
import { HEADER_ID } from "./headers.ts";

/** Why a message was dead-lettered. */
export type DeadLetterReason = "poison" | "exhausted";

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
  time: "Walnats-Dlq-Time",
  originalId: "Walnats-Dlq-Msg-Id",
} as const;

/** The dead-letter stream of an event. */
export function deadLetterStream(event: AnyEvent): string {
  return `walnats_dlq_${event.stream}`;
}

/** The subject an actor's dead letters are stored under. */
export function deadLetterSubject(event: AnyEvent, actor: string): string {
  return `walnats_dlq.${event.stream}.${actor}`;
}

/** The dead-letter stream's configuration: kept until removed. */
export function deadLetterStreamConfig(
  event: AnyEvent,
): Partial<StreamConfig> & { name: string } {
  return {
    name: deadLetterStream(event),
    subjects: [`walnats_dlq.${event.stream}.*`],
    retention: "limits" as StreamConfig["retention"],
    description: `Dead letters of event ${event.name}`,
  };
}

/** Create (or leave as it is) the event's dead-letter stream. */
export async function ensureDeadLetterStream(
  jsm: JetStreamManager,
  event: AnyEvent,
): Promise<void> {
  const config = deadLetterStreamConfig(event);
  try {
    await jsm.streams.add(config);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === 10058) {
      await jsm.streams.update(config.name, config);
      return;
    }
    throw error;
  }
}

// Header values may not hold CR or LF; JSON-escape them.
function headerSafe(value: string): string {
  return /[\r\n]/.test(value) ? JSON.stringify(value) : value;
}

function headerRestore(value: string | undefined): string {
  if (value === undefined) return "";
  if (value.startsWith('"') && value.endsWith('"')) {
    try {
      return JSON.parse(value) as string;
    } catch {
      return value;
    }
  }
  return value;
}

/** What is recorded about one message being dead-lettered. */
export interface DeadLetterInput {
  event: AnyEvent;
  actor: string;
  reason: DeadLetterReason;
  attempts: number;
  error: Error;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  sequence: number;
  subject: string;
}

/**
 * Store a dead letter; resolves once JetStream acknowledged the copy.
 * The copy's `Nats-Msg-Id` is derived from the original's stream sequence,
 * so a retry after a lost acknowledgement stores it once.
 */
export async function publishDeadLetter(
  js: JetStreamClient,
  input: DeadLetterInput,
): Promise<void> {
  const h = natsHeaders();
  if (input.headers !== undefined) {
    for (const [key, values] of input.headers) {
      if (key === HEADER_ID) {
        h.set(DLQ_HEADERS.originalId, values[0] ?? "");
        continue;
      }
      for (const value of values) h.append(key, value);
    }
  }
  h.set(DLQ_HEADERS.event, input.event.name);
  h.set(DLQ_HEADERS.actor, input.actor);
  h.set(DLQ_HEADERS.reason, input.reason);
  h.set(DLQ_HEADERS.attempts, String(input.attempts));
  h.set(
    DLQ_HEADERS.error,
    headerSafe(`${input.error.name}: ${input.error.message}`),
  );
  if (input.error.stack !== undefined) {
    h.set(DLQ_HEADERS.stack, headerSafe(input.error.stack));
  }
  h.set(DLQ_HEADERS.sequence, String(input.sequence));
  h.set(DLQ_HEADERS.subject, input.subject);
  h.set(DLQ_HEADERS.time, new Date().toISOString());
  h.set(
    HEADER_ID,
    `dlq:${input.event.stream}:${input.actor}:${input.sequence}`,
  );
  await js.publish(deadLetterSubject(input.event, input.actor), input.data, {
    headers: h,
  });
}

/** A stored dead letter. */
export interface DeadLetter {
  /** Sequence in the dead-letter stream (use it to delete or replay). */
  readonly sequence: number;
  /** Event name. */
  readonly event: string;
  /** Actor name. */
  readonly actor: string;
  /** `"poison"` (did not decode) or `"exhausted"` (out of attempts). */
  readonly reason: DeadLetterReason;
  /** Attempts made. */
  readonly attempts: number;
  /** `Name: message` of the last error. */
  readonly error: string;
  /** Stack of the last error, if any. */
  readonly stack: string;
  /** Stream sequence of the original message. */
  readonly originalSequence: number;
  /** When it was dead-lettered. */
  readonly time: Date;
  /** The original headers (walnats' dead-letter headers removed). */
  readonly headers: Readonly<Record<string, string>>;
  /** The original payload bytes. */
  readonly data: Uint8Array;
}

const DLQ_NAMES = new Set<string>(Object.values(DLQ_HEADERS));

/** Turn a stored message back into a {@linkcode DeadLetter}. */
export function toDeadLetter(
  sequence: number,
  h: MsgHdrs | undefined,
  data: Uint8Array,
): DeadLetter {
  const get = (name: string) => h?.get(name) ?? "";
  const headers: Record<string, string> = {};
  if (h !== undefined) {
    for (const [key, values] of h) {
      if (DLQ_NAMES.has(key) || key === HEADER_ID) continue;
      headers[key] = values[0] ?? "";
    }
    const originalId = h.get(DLQ_HEADERS.originalId);
    if (originalId) headers[HEADER_ID] = originalId;
  }
  return {
    sequence,
    event: get(DLQ_HEADERS.event),
    actor: get(DLQ_HEADERS.actor),
    reason: get(DLQ_HEADERS.reason) as DeadLetterReason,
    attempts: Number(get(DLQ_HEADERS.attempts)),
    error: headerRestore(get(DLQ_HEADERS.error)),
    stack: headerRestore(get(DLQ_HEADERS.stack)),
    originalSequence: Number(get(DLQ_HEADERS.sequence)),
    time: new Date(get(DLQ_HEADERS.time)),
    headers,
    data,
  };
}
