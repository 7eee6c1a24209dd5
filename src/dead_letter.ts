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
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { AnyEvent } from "./event.ts";
import { upsertStream } from "./publish/_streams.ts";
import { HEADER_ID, HEADER_REPLAY_ACTOR } from "./headers.ts";
import { msToNanos } from "./limits.ts";
import { deadLetterCopy, DLQ_HEADERS } from "./_dead_letter_copy.ts";

/**
 * Why a message was dead-lettered: `"poison"` (it did not decode or
 * validate), `"permanent"` (the handler said retrying cannot help), or
 * `"exhausted"` (out of attempts).
 */
export type DeadLetterReason = "poison" | "permanent" | "exhausted";

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

/**
 * Limits of an event's dead-letter stream, given as an actor's
 * `deadLetter` option. When the stream is full the oldest dead letters are
 * dropped first.
 */
export interface DeadLetterStreamOptions {
  /** Oldest dead letter kept, in milliseconds. @default {2592000000 (30 days)} */
  maxAge?: number;
  /** Most dead letters kept. @default {100000} */
  maxMessages?: number;
  /**
   * Most bytes kept. The server reserves this much storage up front, so the
   * default leaves it to `maxAge` and `maxMessages`.
   * @default {unlimited}
   */
  maxBytes?: number;
  /** Copies in a cluster (1 to 5). @default {the event's `limits.replicas`, else 1} */
  replicas?: number;
  /** Where dead letters are kept. @default {"file"} */
  storage?: "file" | "memory";
}

/** Dead letters are kept 30 days unless an actor says otherwise. */
export const DEFAULT_DEAD_LETTER_MAX_AGE = 30 * 24 * 3600_000;
/** At most this many dead letters per event unless an actor says otherwise. */
export const DEFAULT_DEAD_LETTER_MAX_MESSAGES = 100_000;

const MAX_MS = Math.floor(9_223_372_036_854_775_807 / 1_000_000);
const DLQ_FIELDS = [
  ["maxAge", " (milliseconds)", MAX_MS],
  ["maxMessages", "", Number.MAX_SAFE_INTEGER],
  ["maxBytes", " (bytes)", Number.MAX_SAFE_INTEGER],
  ["replicas", "", 5],
] as const;
const DLQ_KNOWN = new Set<string>([
  ...DLQ_FIELDS.map(([f]) => f),
  "storage",
]);

/**
 * Check an actor's dead-letter stream options.
 *
 * @throws {TypeError} An option is unknown or of the wrong type.
 * @throws {RangeError} A number is not a positive integer in range.
 */
export function checkDeadLetterStreamOptions(
  what: string,
  options: DeadLetterStreamOptions,
): void {
  for (const key of Object.keys(options)) {
    if (!DLQ_KNOWN.has(key)) {
      throw new TypeError(`${what}: unknown deadLetter option "${key}"`);
    }
  }
  for (const [field, unit, max] of DLQ_FIELDS) {
    const value = options[field];
    if (value === undefined) continue;
    if (
      typeof value !== "number" || !Number.isInteger(value) || value <= 0 ||
      value > max
    ) {
      throw new RangeError(
        `${what}: deadLetter.${field} must be a positive integer${unit} up to ${max}, got ${
          String(value)
        }`,
      );
    }
  }
  if (
    options.storage !== undefined && options.storage !== "file" &&
    options.storage !== "memory"
  ) {
    throw new TypeError(
      `${what}: deadLetter.storage must be "file" or "memory", got ${
        String(options.storage)
      }`,
    );
  }
}

/**
 * Merge the dead-letter stream options of the actors of one event: each
 * limit takes the largest value asked for (nobody's dead letters are
 * dropped earlier than they asked); memory storage only if every actor
 * asks for it.
 */
export function mergeDeadLetterStreamOptions(
  all: readonly Readonly<DeadLetterStreamOptions>[],
): DeadLetterStreamOptions {
  const out: DeadLetterStreamOptions = {};
  for (const o of all) {
    for (const [field] of DLQ_FIELDS) {
      const v = o[field];
      if (v !== undefined) out[field] = Math.max(out[field] ?? 0, v);
    }
  }
  // Memory only if every actor asked for it: the default is file.
  if (all.length > 0 && all.every((o) => o.storage === "memory")) {
    out.storage = "memory";
  }
  return out;
}

/**
 * The dead-letter stream's configuration, with the defaults of
 * {@linkcode DeadLetterStreamOptions} filled in.
 */
export function deadLetterStreamConfig(
  event: AnyEvent,
  options: DeadLetterStreamOptions = {},
): Partial<StreamConfig> & { name: string } {
  return {
    name: deadLetterStream(event),
    subjects: [`walnats_dlq.${event.stream}.*`],
    retention: RetentionPolicy.Limits,
    description: `Dead letters of event ${event.name}`,
    max_age: msToNanos(options.maxAge ?? DEFAULT_DEAD_LETTER_MAX_AGE),
    max_msgs: options.maxMessages ?? DEFAULT_DEAD_LETTER_MAX_MESSAGES,
    max_bytes: options.maxBytes ?? -1,
    num_replicas: options.replicas ?? event.limits.replicas ?? 1,
    storage: (options.storage ?? "file") === "memory"
      ? StorageType.Memory
      : StorageType.File,
    discard: DiscardPolicy.Old,
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
  options: DeadLetterStreamOptions = {},
): Promise<void> {
  await upsertStream(jsm, deadLetterStreamConfig(event, options), {
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
 * the event's schema (for tools such as the CLI). One short-lived consumer
 * reads them in batches: a few round trips, not one per dead letter.
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
  if (!(limit > 0)) return out;
  let created;
  try {
    // An ephemeral consumer that reads without acks and vanishes by itself
    // if this process dies before deleting it.
    created = await jsm.consumers.add(name, {
      ack_policy: AckPolicy.None,
      filter_subject: subject,
      ...(options.from !== undefined && options.from > 1
        ? {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.floor(options.from),
        }
        : { deliver_policy: DeliverPolicy.All }),
      inactive_threshold: msToNanos(30_000),
      mem_storage: true,
      num_replicas: 1,
    });
  } catch (error) {
    if (
      error instanceof JetStreamApiError &&
      error.code === JetStreamApiCodes.StreamNotFound
    ) {
      return out;
    }
    throw error;
  }
  try {
    let left = Math.min(limit, created.num_pending);
    if (left === 0) return out;
    const consumer = await jsm.jetstream().consumers.get(name, created.name);
    while (left > 0) {
      const batch = await consumer.fetch({
        max_messages: Math.min(left, 256),
        expires: 5_000,
      });
      let got = 0;
      let pending = 1;
      for await (const m of batch) {
        out.push(toDeadLetter(m.seq, m.headers, m.data));
        got++;
        pending = m.info.pending;
      }
      left -= got;
      // Nothing came (removed meanwhile), or nothing is left to come.
      if (got === 0 || pending === 0) break;
    }
    return out.slice(0, limit);
  } finally {
    await jsm.consumers.delete(name, created.name).catch(() => false);
  }
}

/** Options for {@linkcode replayDeadLetters}. */
export interface ReplayDeadLettersOptions {
  /** Called after each dead letter is replayed, with the count so far. */
  onReplayed?: (count: number, letter: DeadLetter) => void;
  /** Stop before the next dead letter (those replayed stay replayed). */
  signal?: AbortSignal;
}

/**
 * Publish dead letters again to the subject they came from, each
 * acknowledged by JetStream before it is removed from the dead-letter
 * stream. Each copy carries `Walnats-Replay-Actor` naming the actor that
 * dead-lettered it: the other TypeScript actors of the event ack it without
 * running (Python walnats actors do not know the header and run it again;
 * see docs/failures.md).
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
      if (key === HEADER_ID || key === HEADER_REPLAY_ACTOR) continue;
      h.set(key, value);
    }
    if (letter.actor) h.set(HEADER_REPLAY_ACTOR, letter.actor);
    try {
      await js.publish(letter.subject, data, { headers: h });
    } catch (error) {
      // A message at the server's max_payload has no room for the scoping
      // header: replay it to the whole event rather than not at all.
      if (!letter.actor || !/max_payload/.test(String(error))) throw error;
      h.delete(HEADER_REPLAY_ACTOR);
      await js.publish(letter.subject, data, { headers: h });
    }
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
