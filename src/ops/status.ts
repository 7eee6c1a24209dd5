/**
 * {@linkcode status}: what the server holds for a walnats system, in one
 * call — per event its stream's size and age, delayed messages and dead
 * letters; per actor its lag, unacknowledged and redelivered messages,
 * waiting pulls, dead letters, pause and whether its consumer still has
 * the configuration the code gives it. All requests go out in parallel.
 *
 * The result is plain JSON (times are ISO 8601 strings), ready to print,
 * serve or store.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  type ConsumerInfo,
  JetStreamApiCodes,
  type JetStreamManager,
  jetstreamManager,
  type JetStreamOptions,
  type StreamInfo,
} from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import { deadLetterStream } from "../dead_letter.ts";
import type { AnyEvent } from "../event.ts";
import { isCode } from "./_kv.ts";
import { pausedMap } from "./pause.ts";

/** The delay stream of an event's stream (where delayed messages wait). */
export function delayStream(stream: string): string {
  return `walnats_delay_${stream}`;
}

/** An actor known by name only (no code at hand, as in the CLI). */
export interface ActorRef {
  /** The actor's name (its durable consumer's name). */
  readonly name: string;
  /** The name of the event it handles. */
  readonly event: string;
}

/** Options for {@linkcode status}. */
export interface StatusOptions {
  /**
   * The events to report on, as `Event`s (their stream configuration is
   * then checked too) or names. With neither `events` nor `actors`, every
   * walnats event stream on the server is reported.
   */
  events?: readonly (AnyEvent | string)[];
  /**
   * The actors to report on, as `Actor`s (their consumer configuration is
   * then checked too) or {@linkcode ActorRef}s. When left out, every
   * consumer on the reported events' streams is reported.
   */
  actors?: readonly (AnyActor | ActorRef)[];
  /**
   * Milliseconds each JetStream request may take.
   * @default {5000}
   */
  timeout?: number;
  /** JetStream `domain` or `apiPrefix`, as given to `connect`. @default {{}} */
  jetstream?: JetStreamOptions;
}

/** A field whose value on the server differs from the code's. */
export interface ConfigDifference {
  /** The JetStream configuration field (`max_ack_pending`, ...). */
  field: string;
  /** What the code sets. */
  expected: string | number | boolean | null;
  /** What the server has. */
  actual: string | number | boolean | null;
}

/** Whether the server's configuration is the one the code gives. */
export interface ConfigCheck {
  /**
   * True if every field walnats sets has the code's value, false if one
   * differs (run `register()` to update it), null when there was no code to
   * compare with or nothing exists on the server.
   */
  matches: boolean | null;
  /** The fields that differ. */
  differences: ConfigDifference[];
}

/** The state of one event's stream. */
export interface EventStatus {
  /** The event's name (its subject). */
  name: string;
  /** The stream's name. */
  stream: string;
  /** Whether the stream exists. */
  exists: boolean;
  /** Messages in the stream (with interest retention: not yet acked by every actor). */
  messages: number;
  /** Bytes the stream's messages take. */
  bytes: number;
  /** Sequence of the first message (0 when empty). */
  firstSequence: number;
  /** Sequence of the last message stored (ever). */
  lastSequence: number;
  /** When the first message still held was stored (ISO 8601), null when empty. */
  firstTime: string | null;
  /** When the last message was stored (ISO 8601), null when never. */
  lastTime: string | null;
  /** Consumers on the stream (actors, and any others). */
  consumers: number;
  /** Messages waiting in the event's delay stream (0 without one). */
  delayed: number;
  /** Dead letters of all the event's actors. */
  deadLetters: number;
  /** The stream's configuration against the event's. */
  config: ConfigCheck;
}

/** The state of one actor's consumer. */
export interface ActorStatus {
  /** The actor's name (its durable consumer's name). */
  name: string;
  /** The name of the event it handles. */
  event: string;
  /** The event's stream. */
  stream: string;
  /** Whether the consumer exists. */
  exists: boolean;
  /** Messages not delivered yet: the lag (`num_pending`). */
  pending: number;
  /** Messages delivered and not acknowledged yet (`num_ack_pending`). */
  ackPending: number;
  /** Unacknowledged messages delivered more than once (`num_redelivered`). */
  redelivered: number;
  /** Pull requests waiting for messages (`num_waiting`): idle capacity. */
  waiting: number;
  /** Dead letters of this actor. */
  deadLetters: number;
  /** Messages of the event waiting in its delay stream (each will reach this actor when due). */
  delayed: number;
  /** Whether the actor is paused (in the `walnats_paused` bucket, or by the server). */
  paused: boolean;
  /** When it was paused (ISO 8601); null when not paused, or paused by the server (2.11+ consumer pause). */
  pausedAt: string | null;
  /** Last delivery or acknowledgement (ISO 8601), null when never or unknown. */
  lastActive: string | null;
  /** The consumer's configuration against the actor's. */
  config: ConfigCheck;
}

/** What {@linkcode status} reports. */
export interface Status {
  /** When the report was made (ISO 8601). */
  time: string;
  /** The events, sorted by name. */
  events: EventStatus[];
  /** The actors, sorted by event then name. */
  actors: ActorStatus[];
}

interface EventTarget {
  name: string;
  stream: string;
  code: AnyEvent | undefined;
}

interface ActorTarget {
  name: string;
  event: string;
  stream: string;
  code: AnyActor | undefined;
}

/**
 * Report the state of events and actors, reading only the server (the
 * processes running the actors need not be up).
 *
 * Round trips: every stream, dead-letter stream, delay stream and consumer
 * is asked for at once; dead letters are counted per actor with one
 * subject-filtered stream info per event, and pauses with one read of the
 * `walnats_paused` bucket.
 *
 * @param nc A NATS connection.
 * @param options Which events and actors; all walnats ones by default.
 * @returns The report.
 * @throws {Error} JetStream did not answer (timeout, permissions).
 *
 * @example Alert on lag
 * ```ts ignore
 * import { status } from "@walnats/walnats";
 *
 * const { actors } = await status(nc);
 * for (const a of actors) if (a.pending > 1000) console.warn(`${a.name} is ${a.pending} behind`);
 * ```
 */
export async function status(
  nc: NatsConnection,
  options: StatusOptions = {},
): Promise<Status> {
  const jsm = await jetstreamManager(nc, {
    ...options.jetstream,
    timeout: options.timeout ?? options.jetstream?.timeout ?? 5000,
    checkAPI: false,
  });
  const paused = pausedMap(jsm);
  // Do not leave it unobserved if something else fails first.
  paused.catch(() => {});
  if (options.events === undefined && options.actors === undefined) {
    return await discovered(jsm, paused);
  }
  const events = new Map<string, EventTarget>();
  for (const e of options.events ?? []) addEvent(events, e);
  let actors: ActorTarget[] | undefined;
  if (options.actors !== undefined) {
    actors = [];
    for (const a of options.actors) {
      const code = isActor(a) ? a : undefined;
      const event = code ? code.event.name : (a as ActorRef).event;
      addEvent(events, code ? code.event : event);
      actors.push({
        name: a.name,
        event,
        stream: events.get(event)!.stream,
        code,
      });
    }
  }
  const targets = [...events.values()];
  const [streams, dlq, delays, consumers] = await Promise.all([
    Promise.all(targets.map((e) => streamInfo(jsm, e.stream))),
    Promise.all(targets.map((e) => deadLetterCounts(jsm, e.stream))),
    Promise.all(targets.map((e) => streamInfo(jsm, delayStream(e.stream)))),
    actors === undefined
      ? Promise.all(targets.map((e) => consumerList(jsm, e.stream)))
      : Promise.all(actors.map((a) => consumerInfo(jsm, a.stream, a.name))),
  ]);
  const byStream = new Map<string, Parts>();
  targets.forEach((e, i) => {
    byStream.set(e.stream, {
      stream: streams[i],
      dlq: dlq[i]!,
      delayed: delays[i]?.state.messages ?? 0,
    });
  });
  let infos: (ConsumerInfo | undefined)[];
  if (actors === undefined) {
    actors = [];
    infos = [];
    targets.forEach((e, i) => {
      for (const info of consumers[i] as ConsumerInfo[]) {
        actors!.push({
          name: info.name,
          event: e.name,
          stream: e.stream,
          code: undefined,
        });
        infos.push(info);
      }
    });
  } else {
    infos = consumers as (ConsumerInfo | undefined)[];
  }
  return assemble(targets, byStream, actors, infos, await paused);
}

interface Parts {
  stream: StreamInfo | undefined;
  dlq: Record<string, number>;
  delayed: number;
}

function isActor(a: AnyActor | ActorRef): a is AnyActor {
  return typeof (a as AnyActor).consumerConfig === "function";
}

function addEvent(map: Map<string, EventTarget>, e: AnyEvent | string): void {
  const name = typeof e === "string" ? e : e.name;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot report status: an event must be an Event or a name, got ${typeof e}`,
    );
  }
  const known = map.get(name);
  if (
    known !== undefined && (known.code !== undefined || typeof e === "string")
  ) {
    return;
  }
  map.set(name, {
    name,
    stream: typeof e === "string" ? name.replaceAll(".", "-") : e.stream,
    code: typeof e === "string" ? undefined : e,
  });
}

/** Whether a stream looks like a walnats event's: one subject, named after it. */
export function isEventStream(info: StreamInfo): boolean {
  const subjects = info.config.subjects ?? [];
  const name = info.config.name;
  return subjects.length === 1 && !name.startsWith("walnats_") &&
    !name.startsWith("KV_") && !name.startsWith("OBJ_") &&
    subjects[0]!.replaceAll(".", "-") === name &&
    /^[a-z0-9.-]+$/.test(subjects[0]!);
}

async function discovered(
  jsm: JetStreamManager,
  paused: Promise<Map<string, string>>,
): Promise<Status> {
  const all: StreamInfo[] = [];
  for await (const info of jsm.streams.list()) all.push(info);
  const names = new Set(all.map((s) => s.config.name));
  const eventStreams = all.filter(isEventStream);
  const targets: EventTarget[] = eventStreams.map((s) => ({
    name: s.config.subjects![0]!,
    stream: s.config.name,
    code: undefined,
  }));
  const [dlq, consumers] = await Promise.all([
    Promise.all(
      targets.map((e) =>
        names.has(deadLetterStream(e.stream))
          ? deadLetterCounts(jsm, e.stream)
          : {}
      ),
    ),
    Promise.all(targets.map((e) => consumerList(jsm, e.stream))),
  ]);
  const byStream = new Map<string, Parts>();
  const delays = new Map(all.map((s) => [s.config.name, s.state.messages]));
  targets.forEach((e, i) => {
    byStream.set(e.stream, {
      stream: eventStreams[i],
      dlq: dlq[i]!,
      delayed: delays.get(delayStream(e.stream)) ?? 0,
    });
  });
  const actors: ActorTarget[] = [];
  const infos: ConsumerInfo[] = [];
  targets.forEach((e, i) => {
    for (const info of consumers[i]!) {
      actors.push({
        name: info.name,
        event: e.name,
        stream: e.stream,
        code: undefined,
      });
      infos.push(info);
    }
  });
  return assemble(targets, byStream, actors, infos, await paused);
}

function assemble(
  targets: EventTarget[],
  byStream: Map<string, Parts>,
  actors: ActorTarget[],
  infos: (ConsumerInfo | undefined)[],
  paused: Map<string, string>,
): Status {
  const events: EventStatus[] = targets.map((e) => {
    const parts = byStream.get(e.stream)!;
    const s = parts.stream;
    const state = s?.state;
    const empty = state === undefined || state.messages === 0;
    return {
      name: e.name,
      stream: e.stream,
      exists: s !== undefined,
      messages: state?.messages ?? 0,
      bytes: state?.bytes ?? 0,
      firstSequence: empty ? 0 : state.first_seq,
      lastSequence: state?.last_seq ?? 0,
      firstTime: empty ? null : isoOrNull(state.first_ts),
      lastTime: state === undefined || state.last_seq === 0
        ? null
        : isoOrNull(state.last_ts),
      consumers: state?.consumer_count ?? 0,
      delayed: parts.delayed,
      deadLetters: Object.values(parts.dlq).reduce((n, c) => n + c, 0),
      config: e.code === undefined || s === undefined
        ? { matches: null, differences: [] }
        : compare(
          e.code.streamConfig() as unknown as Record<string, unknown>,
          s.config as unknown as Record<string, unknown>,
          STREAM_FIELDS,
        ),
    };
  });
  const out: ActorStatus[] = actors.map((a, i) => {
    const info = infos[i];
    const parts = byStream.get(a.stream)!;
    const dead = parts.dlq[`walnats_dlq.${a.stream}.${a.name}`] ?? 0;
    const pausedAt = paused.get(a.name);
    const isPaused = pausedAt !== undefined || info?.paused === true;
    return {
      name: a.name,
      event: a.event,
      stream: a.stream,
      exists: info !== undefined,
      pending: info?.num_pending ?? 0,
      ackPending: info?.num_ack_pending ?? 0,
      redelivered: info?.num_redelivered ?? 0,
      waiting: info?.num_waiting ?? 0,
      deadLetters: dead,
      delayed: parts.delayed,
      paused: isPaused,
      pausedAt: pausedAt ?? null,
      lastActive: lastActive(info),
      config: a.code === undefined || info === undefined
        ? { matches: null, differences: [] }
        : compare(
          a.code.consumerConfig() as unknown as Record<string, unknown>,
          info.config as unknown as Record<string, unknown>,
          CONSUMER_FIELDS,
        ),
    };
  });
  events.sort((a, b) => cmp(a.name, b.name));
  out.sort((a, b) => cmp(a.event, b.event) || cmp(a.name, b.name));
  return { time: new Date().toISOString(), events, actors: out };
}

// The fields walnats sets; the server fills in the others itself.
const CONSUMER_FIELDS = [
  "ack_policy",
  "ack_wait",
  "max_deliver",
  "max_ack_pending",
  "description",
] as const;
const STREAM_FIELDS = [
  "subjects",
  "retention",
  "description",
  "max_age",
  "max_msgs",
  "max_bytes",
  "max_msg_size",
  "max_consumers",
  "num_replicas",
  "storage",
  "discard",
  "duplicate_window",
] as const;

function normal(
  field: string,
  value: unknown,
): string | number | boolean | null {
  // The server leaves an empty description out.
  if (field === "description") return typeof value === "string" ? value : "";
  if (Array.isArray(value)) return value.join(",");
  if (value === undefined || value === null) return null;
  if (typeof value === "number" || typeof value === "boolean") return value;
  return String(value);
}

function compare(
  expected: Record<string, unknown>,
  actual: Record<string, unknown>,
  fields: readonly string[],
): ConfigCheck {
  const differences: ConfigDifference[] = [];
  for (const field of fields) {
    if (!(field in expected)) continue;
    const want = normal(field, expected[field]);
    const have = normal(field, actual[field]);
    if (want !== have) {
      differences.push({ field, expected: want, actual: have });
    }
  }
  return { matches: differences.length === 0, differences };
}

function lastActive(info: ConsumerInfo | undefined): string | null {
  if (info === undefined) return null;
  let best: number | undefined;
  for (
    const raw of [info.delivered?.last_active, info.ack_floor?.last_active]
  ) {
    if (typeof raw !== "string") continue;
    const t = Date.parse(raw);
    if (Number.isFinite(t) && t > 0 && (best === undefined || t > best)) {
      best = t;
    }
  }
  return best === undefined ? null : new Date(best).toISOString();
}

function isoOrNull(text: string | undefined): string | null {
  if (text === undefined) return null;
  const t = Date.parse(text);
  // Go's zero time means "never".
  return Number.isFinite(t) && t > 0 ? new Date(t).toISOString() : null;
}

async function streamInfo(
  jsm: JetStreamManager,
  stream: string,
): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(stream);
  } catch (error) {
    if (isCode(error, JetStreamApiCodes.StreamNotFound)) return undefined;
    throw error;
  }
}

/** Dead letters per subject (`walnats_dlq.<stream>.<actor>`) of a stream. */
async function deadLetterCounts(
  jsm: JetStreamManager,
  stream: string,
): Promise<Record<string, number>> {
  try {
    const info = await jsm.streams.info(deadLetterStream(stream), {
      subjects_filter: `walnats_dlq.${stream}.*`,
    });
    return info.state.subjects ?? {};
  } catch (error) {
    if (isCode(error, JetStreamApiCodes.StreamNotFound)) return {};
    throw error;
  }
}

async function consumerInfo(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, consumer);
  } catch (error) {
    if (
      isCode(error, JetStreamApiCodes.ConsumerNotFound) ||
      isCode(error, JetStreamApiCodes.StreamNotFound)
    ) {
      return undefined;
    }
    throw error;
  }
}

async function consumerList(
  jsm: JetStreamManager,
  stream: string,
): Promise<ConsumerInfo[]> {
  const out: ConsumerInfo[] = [];
  try {
    for await (const info of jsm.consumers.list(stream)) out.push(info);
  } catch (error) {
    if (isCode(error, JetStreamApiCodes.StreamNotFound)) return [];
    throw error;
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
