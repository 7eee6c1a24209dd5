// `walnats events` and `walnats actors`: what walnats made on the server;
// and the lookups other commands share (an event by name, its actors).
import {
  type ConsumerInfo,
  JetStreamApiCodes,
  type StreamInfo,
} from "@nats-io/jetstream";
import { checkName } from "../_names.ts";
import { deadLetterStream } from "../dead_letter.ts";
import { isCode } from "../ops/_kv.ts";
import { isEventStream } from "../ops/status.ts";
import {
  bool,
  CliError,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  didYouMean,
  type Parsed,
  UsageError,
} from "./_args.ts";
import type { Command, Context } from "./_command.ts";
import { open, type Session } from "./_connect.ts";
import { bytes, table } from "./_io.ts";

/** Every walnats event stream on the server. */
export async function eventStreams(s: Session): Promise<StreamInfo[]> {
  const out: StreamInfo[] = [];
  for await (const info of s.jsm.streams.list()) {
    if (isEventStream(info)) out.push(info);
  }
  return out.sort((a, b) => a.config.name < b.config.name ? -1 : 1);
}

/** Check an event name's syntax (a usage error if it cannot be one). */
export function checkEventName(name: string | undefined): string {
  if (name === undefined || name === "") {
    throw new UsageError("missing the event name");
  }
  try {
    checkName("event", name);
  } catch (error) {
    throw new UsageError(
      `${JSON.stringify(name)} is not a valid event name: ${
        (error as Error).message.replace(/^Cannot create event[^:]*: /, "")
      }`,
    );
  }
  return name;
}

/** The stream of an event name. */
export function streamOf(event: string): string {
  return event.replaceAll(".", "-");
}

/**
 * Make sure the event exists on the server (its stream, or at least its
 * dead letters); else fail naming the nearest event.
 */
export async function requireEvent(s: Session, event: string): Promise<void> {
  checkEventName(event);
  const stream = streamOf(event);
  for (const name of [stream, deadLetterStream(stream)]) {
    try {
      await s.jsm.streams.info(name);
      return;
    } catch (error) {
      if (!isCode(error, JetStreamApiCodes.StreamNotFound)) throw error;
    }
  }
  const known = (await eventStreams(s)).map((i) => i.config.subjects![0]!);
  const hint = didYouMean(event, known) ||
    (known.length > 0
      ? ` (events: ${known.join(", ")})`
      : " (there are no walnats events on the server)");
  throw new CliError(
    `unknown event "${event}": no walnats stream for it on the server${hint}`,
  );
}

/** The consumers on an event's stream (none if it is gone). */
export async function consumersOf(
  s: Session,
  event: string,
): Promise<ConsumerInfo[]> {
  const out: ConsumerInfo[] = [];
  try {
    for await (const c of s.jsm.consumers.list(streamOf(event))) out.push(c);
  } catch (error) {
    if (!isCode(error, JetStreamApiCodes.StreamNotFound)) throw error;
  }
  return out.sort((a, b) => a.name < b.name ? -1 : 1);
}

/** Dead letters per actor name of an event (from one stream info). */
export async function deadLetterCounts(
  s: Session,
  event: string,
): Promise<Map<string, number>> {
  const stream = streamOf(event);
  const prefix = `walnats_dlq.${stream}.`;
  try {
    const info = await s.jsm.streams.info(deadLetterStream(stream), {
      subjects_filter: `${prefix}*`,
    });
    return new Map(
      Object.entries(info.state.subjects ?? {}).map((
        [k, v],
      ) => [k.slice(prefix.length), v]),
    );
  } catch (error) {
    if (isCode(error, JetStreamApiCodes.StreamNotFound)) return new Map();
    throw error;
  }
}

/**
 * Make sure an actor of the event exists (a consumer, or dead letters of
 * it); else fail naming the nearest actor.
 */
export async function requireActor(
  s: Session,
  event: string,
  actor: string,
): Promise<void> {
  const [consumers, dead] = await Promise.all([
    consumersOf(s, event),
    deadLetterCounts(s, event),
  ]);
  const known = new Set([...consumers.map((c) => c.name), ...dead.keys()]);
  if (known.has(actor)) return;
  const list = [...known].sort();
  throw new CliError(
    `unknown actor "${actor}" of event "${event}"${didYouMean(actor, list)}${
      list.length > 0 ? ` (actors: ${list.join(", ")})` : " (it has no actors)"
    }`,
  );
}

const nanosToMs = (n: number | undefined) =>
  n === undefined ? "-" : n === 0 ? "none" : `${Math.round(n / 1e6)} ms`;

export const eventsCommand: Command = {
  name: "events",
  summary: "list the events (streams) walnats made on the server",
  flags: { ...CONNECTION_FLAGS, json: "boolean" },
  help: `usage: walnats events [--json] [connection options]

List the walnats event streams on the server: messages, size, consumers,
dead letters and limits. An event's stream is its name with dots as dashes.

  --json   one JSON array

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    if (p.positionals.length > 0) {
      throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    }
    const s = await open(p, ctx.env);
    try {
      const streams = await eventStreams(s);
      const dead = await Promise.all(
        streams.map((i) => deadLetterCounts(s, i.config.subjects![0]!)),
      );
      const rows = streams.map((i, n) => ({
        event: i.config.subjects![0]!,
        stream: i.config.name,
        description: i.config.description ?? "",
        messages: i.state.messages,
        bytes: i.state.bytes,
        consumers: i.state.consumer_count,
        deadLetters: [...dead[n]!.values()].reduce((a, b) => a + b, 0),
        retention: i.config.retention,
        storage: i.config.storage,
        replicas: i.config.num_replicas,
        maxAge: i.config.max_age / 1e6,
        maxMessages: i.config.max_msgs,
        maxBytes: i.config.max_bytes,
        created: i.created,
      }));
      if (bool(p, "json")) {
        ctx.io.out(JSON.stringify(rows, null, 2));
        return 0;
      }
      if (rows.length === 0) {
        ctx.io.err("no walnats events on the server");
        return 0;
      }
      for (
        const line of table(
          [
            "EVENT",
            "STREAM",
            "MESSAGES",
            "SIZE",
            "CONSUMERS",
            "DEAD",
            "RETENTION",
            "STORAGE",
            "MAX-AGE",
          ],
          streams.map((i, n) => [
            rows[n]!.event,
            rows[n]!.stream,
            rows[n]!.messages,
            bytes(rows[n]!.bytes),
            rows[n]!.consumers,
            rows[n]!.deadLetters,
            String(i.config.retention),
            String(i.config.storage),
            nanosToMs(i.config.max_age),
          ]),
        )
      ) ctx.io.out(line);
      return 0;
    } finally {
      await s.close();
    }
  },
};

export const actorsCommand: Command = {
  name: "actors",
  summary: "list the actors (consumers) on the server",
  flags: { ...CONNECTION_FLAGS, json: "boolean" },
  help: `usage: walnats actors [event...] [--json] [connection options]

List the durable consumers on walnats event streams (one per actor), with
their configuration. With events named, only theirs.

  --json   one JSON array

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    p.positionals.forEach(checkEventName);
    const s = await open(p, ctx.env);
    try {
      let events: string[];
      if (p.positionals.length > 0) {
        for (const e of p.positionals) await requireEvent(s, e);
        events = p.positionals;
      } else {
        events = (await eventStreams(s)).map((i) => i.config.subjects![0]!);
      }
      const lists = await Promise.all(events.map((e) => consumersOf(s, e)));
      const rows = lists.flatMap((list, n) =>
        list.map((c) => ({
          actor: c.name,
          event: events[n]!,
          description: c.config.description ?? "",
          pending: c.num_pending,
          ackPending: c.num_ack_pending,
          ackWait: (c.config.ack_wait ?? 0) / 1e6,
          maxDeliver: c.config.max_deliver ?? -1,
          maxAckPending: c.config.max_ack_pending ?? -1,
          created: c.created,
        }))
      );
      if (bool(p, "json")) {
        ctx.io.out(JSON.stringify(rows, null, 2));
        return 0;
      }
      if (rows.length === 0) {
        ctx.io.err("no actors on the server");
        return 0;
      }
      for (
        const line of table(
          [
            "ACTOR",
            "EVENT",
            "PENDING",
            "ACK-PENDING",
            "ACK-WAIT",
            "MAX-DELIVER",
            "MAX-ACK-PENDING",
            "DESCRIPTION",
          ],
          rows.map((r) => [
            r.actor,
            r.event,
            r.pending,
            r.ackPending,
            `${r.ackWait} ms`,
            r.maxDeliver === -1 ? "unbounded" : String(r.maxDeliver),
            r.maxAckPending,
            r.description,
          ]),
        )
      ) ctx.io.out(line);
      return 0;
    } finally {
      await s.close();
    }
  },
};
