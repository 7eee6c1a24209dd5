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
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  type StreamConfig,
} from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { AnyEvent } from "./event.ts";
import { upsertStream } from "./publish/_streams.ts";
import { HEADER_ID } from "./headers.ts";
import { deadLetterCopy, DLQ_HEADERS } from "./_dead_letter_copy.ts";

/** Why a message was dead-lettered. */
export type DeadLetterReason = "poison" | "exhausted";

export { DLQ_HEADERS };

/**
 * The dead-letter stream of an event.
 *
 * @param event The event, or its stream name.
 * @returns The dead-letter stream's name.
 */
export function deadLetterStream(event: AnyEvent | string): string {
  return `walnats_dlq_${typeof event === "string" ? event : event.stream}`;
}

/**
 * The subject an actor's dead letters are stored under.
 *
 * @param event The event, or its stream name.
 * @param actor The actor's name.
 * @returns The subject.
 */
export function deadLetterSubject(
  event: AnyEvent | string,
  actor: string,
): string {
  return `walnats_dlq.${
    typeof event === "string" ? event : event.stream
  }.${actor}`;
}

/** The dead-letter stream's configuration: kept until removed. */
export function deadLetterStreamConfig(
  event: AnyEvent,
): Partial<StreamConfig> & { name: string } {
  return {
    name: deadLetterStream(event),
    subjects: [`walnats_dlq.${event.stream}.*`],
    retention: RetentionPolicy.Limits,
    description: `Dead letters of event ${event.name}`,
  };
}

/**
 * Create the event's dead-letter stream, or update it to the configuration
 * of this version.
 *
 * @throws {StreamConfigError} The server refused the configuration.
 */
export async function ensureDeadLetterStream(
  jsm: JetStreamManager,
  event: AnyEvent,
): Promise<void> {
  await upsertStream(jsm, deadLetterStreamConfig(event), {
    create: true,
    update: true,
    event: event.name,
  });
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
  /** The server's max_payload: the copy is made to fit under it. */
  maxPayload?: number | undefined;
}

/**
 * Store a dead letter; resolves once JetStream acknowledged the copy.
 * The copy's `Nats-Msg-Id` is derived from the original's stream sequence,
 * so a retry after a lost acknowledgement stores it once. The error and
 * stack are cut to a bounded size; when even so the copy would be over
 * `maxPayload`, only the story is stored (`truncated`), and the caller must
 * leave the original in its stream, where the dead letter points.
 *
 * @returns Whether the payload and headers were left out.
 */
export async function publishDeadLetter(
  js: JetStreamClient,
  input: DeadLetterInput,
): Promise<{ truncated: boolean }> {
  const copy = deadLetterCopy(
    {
      event: input.event.name,
      stream: input.event.stream,
      actor: input.actor,
      reason: input.reason,
      attempts: input.attempts,
      error: input.error,
      sequence: input.sequence,
      subject: input.subject,
    },
    input.data,
    input.headers,
    input.maxPayload,
  );
  await js.publish(deadLetterSubject(input.event, input.actor), copy.data, {
    headers: copy.headers,
  });
  return { truncated: copy.truncated };
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
  /** Subject of the original message (where a replay publishes). */
  readonly subject: string;
  /** Stream of the original message (the event's stream). */
  readonly stream: string;
  /** When it was dead-lettered. */
  readonly time: Date;
  /** The original headers (walnats' dead-letter headers removed). */
  readonly headers: Readonly<Record<string, string>>;
  /** The original payload bytes (empty when `truncated`). */
  readonly data: Uint8Array;
  /**
   * The message was too large to copy with its story (a foreign message
   * close to the server's max_payload): `data` and `headers` are empty, the
   * original stays in `stream` at `originalSequence`, and a replay
   * publishes it from there.
   */
  readonly truncated: boolean;
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
    subject: get(DLQ_HEADERS.subject),
    stream: get(DLQ_HEADERS.stream),
    time: new Date(get(DLQ_HEADERS.time)),
    headers,
    data,
    truncated: h?.has(DLQ_HEADERS.truncated) ?? false,
  };
}

/** Options for {@linkcode listDeadLetters}. */
export interface ListDeadLettersOptions {
  /** Only this actor's dead letters. @default {all actors} */
  actor?: string;
  /** Most dead letters returned. @default {1000} */
  limit?: number;
  /** Start at this dead-letter stream sequence. @default {the first} */
  from?: number;
}

/**
 * List the dead letters of an event's stream, oldest first. Works without
 * the event's schema (for tools such as the CLI).
 *
 * @param jsm A JetStream manager.
 * @param stream The event's stream name (`Event.stream`).
 * @param options Actor filter, limit, start.
 * @returns The dead letters; none if the dead-letter stream does not exist.
 */
export async function listDeadLetters(
  jsm: JetStreamManager,
  stream: string,
  options: ListDeadLettersOptions = {},
): Promise<DeadLetter[]> {
  const name = deadLetterStream(stream);
  const subject = options.actor === undefined
    ? `walnats_dlq.${stream}.*`
    : deadLetterSubject(stream, options.actor);
  const limit = options.limit ?? 1000;
  const out: DeadLetter[] = [];
  let info;
  try {
    info = await jsm.streams.info(name);
  } catch (error) {
    if (
      error instanceof JetStreamApiError &&
      error.code === JetStreamApiCodes.StreamNotFound
    ) {
      return out;
    }
    throw error;
  }
  if (info.state.messages === 0) return out;
  let seq = Math.max(info.state.first_seq, options.from ?? 0);
  const last = info.state.last_seq;
  while (seq <= last && out.length < limit) {
    let stored;
    try {
      // The server (2.9+) accepts next_by_subj on MSG.GET; nats.js only
      // types it for direct gets.
      stored = await jsm.streams.getMessage(name, {
        next_by_subj: subject,
        seq,
      } as unknown as { seq: number });
    } catch (error) {
      if (
        error instanceof JetStreamApiError &&
        error.code === JetStreamApiCodes.NoMessageFound
      ) {
        break;
      }
      throw error;
    }
    if (stored === null) break;
    out.push(toDeadLetter(stored.seq, stored.header, stored.data));
    seq = stored.seq + 1;
  }
  return out;
}

/** Options for {@linkcode replayDeadLetters}. */
export interface ReplayDeadLettersOptions {
  /** Called after each dead letter is replayed, with the count so far. */
  onReplayed?: (count: number, letter: DeadLetter) => void;
  /** Stop before the next dead letter (those replayed stay replayed). */
  signal?: AbortSignal;
}

/**
 * Publish dead letters again to the subject they came from (every actor of
 * the event receives them), each acknowledged by JetStream before it is
 * removed from the dead-letter stream.
 *
 * @param js A JetStream client.
 * @param jsm A JetStream manager.
 * @param letters Dead letters from {@linkcode listDeadLetters}.
 * @param options Progress callback and a signal to stop early.
 * @returns How many were replayed.
 */
export async function replayDeadLetters(
  js: JetStreamClient,
  jsm: JetStreamManager,
  letters: Iterable<DeadLetter>,
  options: ReplayDeadLettersOptions = {},
): Promise<number> {
  let count = 0;
  for (const letter of letters) {
    if (options.signal?.aborted) break;
    const { data, headers } = letter.truncated
      ? await parkedOriginal(jsm, letter)
      : letter;
    const h = natsHeaders();
    for (const [key, value] of Object.entries(headers)) {
      // A re-emit must not be de-duplicated against the original.
      if (key === HEADER_ID) continue;
      h.set(key, value);
    }
    await js.publish(letter.subject, data, { headers: h });
    if (letter.truncated) {
      // Otherwise the parked original would come back to the actor.
      await jsm.streams.deleteMessage(
        letter.stream,
        letter.originalSequence,
        false,
      );
    }
    await jsm.streams.deleteMessage(
      deadLetterStream(letter.stream),
      letter.sequence,
      false,
    );
    count++;
    options.onReplayed?.(count, letter);
  }
  return count;
}

// The payload and headers of a truncated dead letter, from the event's
// stream where the engine left the original.
async function parkedOriginal(
  jsm: JetStreamManager,
  letter: DeadLetter,
): Promise<{ data: Uint8Array; headers: Record<string, string> }> {
  const gone =
    `Cannot replay dead letter ${letter.sequence}: its payload was too large to copy and the original (stream "${letter.stream}", sequence ${letter.originalSequence}) is gone`;
  let stored;
  try {
    stored = await jsm.streams.getMessage(letter.stream, {
      seq: letter.originalSequence,
    });
  } catch (error) {
    throw new Error(gone, { cause: error });
  }
  if (stored === null) throw new Error(gone);
  const headers: Record<string, string> = {};
  if (stored.header !== undefined) {
    for (const [key, values] of stored.header) {
      if (values[0] !== undefined) headers[key] = values[0];
    }
  }
  return { data: stored.data, headers };
}
