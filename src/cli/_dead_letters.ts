// `walnats dead-letters list|show|replay|delete`: without the services'
// code (no schemas needed).
import { jetstream, JetStreamApiCodes } from "@nats-io/jetstream";
import {
  type DeadLetter,
  deadLetterStream,
  listDeadLetters,
  replayDeadLetters,
  toDeadLetter,
} from "../dead_letter.ts";
import { isCode } from "../ops/_kv.ts";
import {
  bool,
  CliError,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  didYouMean,
  int,
  ints,
  type Parsed,
  str,
  UsageError,
} from "./_args.ts";
import type { Command, Context } from "./_command.ts";
import { open, type Session } from "./_connect.ts";
import {
  checkEventName,
  deadLetterCounts,
  requireActor,
  requireEvent,
  streamOf,
} from "./_inventory.ts";
import { payload, Progress } from "./_io.ts";

const SUBCOMMANDS = ["list", "show", "replay", "delete"];

function plain(letter: DeadLetter): Record<string, unknown> {
  return {
    sequence: letter.sequence,
    event: letter.event,
    actor: letter.actor,
    reason: letter.reason,
    attempts: letter.attempts,
    error: letter.error,
    stack: letter.stack,
    originalSequence: letter.originalSequence,
    subject: letter.subject,
    time: Number.isNaN(letter.time.getTime())
      ? null
      : letter.time.toISOString(),
    headers: letter.headers,
    ...payload(letter.data),
  };
}

function line(letter: DeadLetter): string {
  const when = Number.isNaN(letter.time.getTime())
    ? "?"
    : letter.time.toISOString();
  return `#${letter.sequence} ${when} actor=${letter.actor} reason=${letter.reason} attempts=${letter.attempts} original=${letter.originalSequence} error=${
    JSON.stringify(letter.error)
  }`;
}

/** The letters to act on: by --sequence (all must exist), else all/limit. */
async function select(
  s: Session,
  event: string,
  actor: string | undefined,
  sequences: number[],
  limit: number,
): Promise<DeadLetter[]> {
  let letters = await listDeadLetters(s.jsm, streamOf(event), {
    ...(actor === undefined ? {} : { actor }),
    limit: sequences.length > 0 ? Number.MAX_SAFE_INTEGER : limit,
  });
  if (sequences.length > 0) {
    const wanted = new Set(sequences);
    letters = letters.filter((l) => wanted.has(l.sequence));
    const found = new Set(letters.map((l) => l.sequence));
    const missing = sequences.filter((n) => !found.has(n));
    if (missing.length > 0) {
      throw new CliError(
        `no dead letter ${
          missing.map((n) => `#${n}`).join(", ")
        } of event "${event}"${
          actor === undefined ? "" : ` and actor "${actor}"`
        } (see "walnats dead-letters list ${event}"); nothing was done`,
      );
    }
  }
  return letters;
}

export const deadLettersCommand: Command = {
  name: "dead-letters",
  summary: "list, show, replay or delete dead letters",
  flags: {
    ...CONNECTION_FLAGS,
    actor: "string",
    limit: "integer",
    sequence: "integers",
    all: "boolean",
    json: "boolean",
  },
  help: `usage: walnats dead-letters <list|show|replay|delete> <event> [options]

Dead letters are messages an actor gave up on (out of attempts, or a
payload that does not decode), kept with the error. No schema is needed.

  list <event> [--actor A] [--limit N] [--json]
        show them, oldest first (--limit default 1000; --json: one array)
  show <event> <sequence> [--json]
        one dead letter in full: headers, error, stack, payload
  replay <event> [--actor A] [--sequence N ...] [--limit N]
        emit them again to the event (every actor of it gets them), each
        removed once the stream has the copy; progress on stderr
  delete <event> (--sequence N ... | --all) [--actor A]
        remove them for good

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const [sub, eventArg, ...rest] = p.positionals;
    if (sub === undefined) {
      throw new UsageError(
        "missing the subcommand: list, show, replay or delete",
      );
    }
    if (!SUBCOMMANDS.includes(sub)) {
      throw new UsageError(
        `unknown dead-letters command "${sub}"${didYouMean(sub, SUBCOMMANDS)}`,
      );
    }
    const event = checkEventName(eventArg);
    const actor = str(p, "actor");
    const sequences = ints(p, "sequence");
    if (sub === "show") {
      if (rest.length !== 1 || !/^\d+$/.test(rest[0]!)) {
        throw new UsageError(
          "show needs one sequence number: show <event> <sequence>",
        );
      }
    } else if (rest.length > 0) {
      throw new UsageError(`unexpected argument "${rest[0]}"`);
    }
    if (sub === "delete" && sequences.length === 0 && !bool(p, "all")) {
      throw new UsageError("delete needs --sequence N (repeatable) or --all");
    }
    if (sub === "delete" && sequences.length > 0 && bool(p, "all")) {
      throw new UsageError("give --sequence or --all, not both");
    }
    const s = await open(p, ctx.env);
    try {
      await requireEvent(s, event);
      if (actor !== undefined) await requireActor(s, event, actor);
      const counts = await deadLetterCounts(s, event);
      const total = actor === undefined
        ? [...counts.values()].reduce((a, b) => a + b, 0)
        : counts.get(actor) ?? 0;
      const of = `of event "${event}"${
        actor === undefined ? "" : ` and actor "${actor}"`
      }`;
      switch (sub) {
        case "list": {
          const letters = await select(
            s,
            event,
            actor,
            [],
            int(p, "limit") ?? 1000,
          );
          if (bool(p, "json")) {
            ctx.io.out(JSON.stringify(letters.map(plain), null, 2));
          } else {
            for (const letter of letters) ctx.io.out(line(letter));
          }
          ctx.io.err(
            letters.length < total
              ? `${letters.length} of ${total} dead letter(s) ${of} (--limit to see more)`
              : `${letters.length} dead letter(s) ${of}`,
          );
          return 0;
        }
        case "show": {
          const seq = Number(rest[0]);
          let stored;
          try {
            stored = await s.jsm.streams.getMessage(
              deadLetterStream(streamOf(event)),
              { seq },
            );
          } catch (error) {
            if (
              !isCode(error, JetStreamApiCodes.NoMessageFound) &&
              !isCode(error, JetStreamApiCodes.StreamNotFound)
            ) throw error;
          }
          if (!stored) {
            throw new CliError(`no dead letter #${seq} of event "${event}"`);
          }
          const letter = toDeadLetter(stored.seq, stored.header, stored.data);
          if (bool(p, "json")) {
            ctx.io.out(JSON.stringify(plain(letter), null, 2));
            return 0;
          }
          const body = payload(letter.data);
          ctx.io.out(
            `dead letter #${letter.sequence} of event "${letter.event}"`,
          );
          ctx.io.out(`  actor:     ${letter.actor}`);
          ctx.io.out(`  reason:    ${letter.reason}`);
          ctx.io.out(`  attempts:  ${letter.attempts}`);
          ctx.io.out(`  time:      ${plain(letter).time ?? "?"}`);
          ctx.io.out(
            `  original:  #${letter.originalSequence} on ${letter.subject}`,
          );
          ctx.io.out(`  error:     ${letter.error}`);
          for (const [k, v] of Object.entries(letter.headers)) {
            ctx.io.out(`  header:    ${k}: ${v}`);
          }
          ctx.io.out(
            `  payload:   ${body.data ?? `base64:${body.dataBase64}`}`,
          );
          if (letter.stack) {
            ctx.io.out("  stack:");
            for (const l of letter.stack.split("\n")) ctx.io.out(`    ${l}`);
          }
          return 0;
        }
        case "replay": {
          const letters = await select(
            s,
            event,
            actor,
            sequences,
            int(p, "limit") ?? Number.MAX_SAFE_INTEGER,
          );
          if (letters.length === 0) {
            ctx.io.out(`no dead letters ${of} to replay`);
            return 0;
          }
          const progress = new Progress(ctx.io, letters.length, "replaying");
          const n = await replayDeadLetters(
            jetstream(s.nc),
            s.jsm,
            letters,
            { onReplayed: (done) => progress.update(done), signal: ctx.signal },
          );
          progress.done();
          ctx.io.out(`replayed ${n} dead letter(s) ${of}`);
          if (n < letters.length) {
            ctx.io.err(`interrupted: ${letters.length - n} not replayed`);
            return 1;
          }
          return 0;
        }
        default: {
          if (bool(p, "all")) {
            const filter = actor === undefined
              ? `walnats_dlq.${streamOf(event)}.*`
              : `walnats_dlq.${streamOf(event)}.${actor}`;
            let purged = 0;
            if (total > 0) {
              const r = await s.jsm.streams.purge(
                deadLetterStream(streamOf(event)),
                { filter },
              );
              purged = r.purged;
            }
            ctx.io.out(`deleted ${purged} dead letter(s) ${of}`);
            return 0;
          }
          const letters = await select(s, event, actor, sequences, 0);
          for (const letter of letters) {
            await s.jsm.streams.deleteMessage(
              deadLetterStream(streamOf(event)),
              letter.sequence,
              false,
            );
          }
          ctx.io.out(`deleted ${letters.length} dead letter(s) ${of}`);
          return 0;
        }
      }
    } finally {
      await s.close();
    }
  },
};
