// `walnats schedules list|add|remove`: the walnats_schedules KV bucket.
import {
  listSchedules,
  removeSchedule,
  type Schedule,
  upsertSchedule,
} from "../ops/schedules.ts";
import {
  bool,
  CliError,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  didYouMean,
  duration,
  type Parsed,
  str,
  UsageError,
} from "./_args.ts";
import type { Command, Context } from "./_command.ts";
import { open } from "./_connect.ts";
import { checkEventName, eventStreams } from "./_inventory.ts";
import { table } from "./_io.ts";

const SUBCOMMANDS = ["list", "add", "remove"];

export const schedulesCommand: Command = {
  name: "schedules",
  summary: "list, add or remove durable schedules",
  flags: {
    ...CONNECTION_FLAGS,
    event: "string",
    every: "string",
    cron: "string",
    "time-zone": "string",
    message: "string",
    missed: "string",
    json: "boolean",
    force: "boolean",
  },
  help: `usage: walnats schedules list [--json]
       walnats schedules add <id> --event E (--every D | --cron EXPR)
                             [--time-zone TZ] [--message JSON]
                             [--missed skip|catch-up] [--force]
       walnats schedules remove <id>

Schedules are kept in the NATS KV bucket "walnats_schedules" (key: the id,
value: JSON {id, event, every | cron, timeZone, message, missed}). Storing
one emits nothing by itself: every listener with an actor on the event runs
it (each tick is emitted once however many listeners run).

  --event E        the event to emit (it must exist on the server unless --force)
  --every D        period: 500ms, 30s, 5m, 2h, 1d (a bare number is milliseconds)
  --cron EXPR      cron expression, 5 or 6 fields ("0 9 * * 1-5")
  --time-zone TZ   IANA zone the cron expression is read in (default UTC)
  --message JSON   the payload of each tick (default: the tick's time)
  --missed P       ticks missed while no listener ran: skip (default) or catch-up

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const [sub, id, ...rest] = p.positionals;
    if (sub === undefined) {
      throw new UsageError("missing the subcommand: list, add or remove");
    }
    if (!SUBCOMMANDS.includes(sub)) {
      throw new UsageError(
        `unknown schedules command "${sub}"${didYouMean(sub, SUBCOMMANDS)}`,
      );
    }
    if (rest.length > 0 || (sub === "list" && id !== undefined)) {
      throw new UsageError(`unexpected argument "${rest[0] ?? id}"`);
    }
    if (sub !== "list" && id === undefined) {
      throw new UsageError(`missing the schedule id: schedules ${sub} <id>`);
    }
    let schedule: Schedule | undefined;
    if (sub === "add") {
      const event = str(p, "event");
      if (event === undefined) throw new UsageError("add needs --event");
      checkEventName(event);
      const every = str(p, "every");
      const cron = str(p, "cron");
      if ((every === undefined) === (cron === undefined)) {
        throw new UsageError("add needs exactly one of --every and --cron");
      }
      schedule = { id: id!, event };
      if (every !== undefined) schedule.every = duration("--every", every);
      if (cron !== undefined) schedule.cron = cron;
      const tz = str(p, "time-zone");
      if (tz !== undefined) schedule.timeZone = tz;
      const missed = str(p, "missed");
      if (missed !== undefined) {
        if (missed !== "skip" && missed !== "catch-up") {
          throw new UsageError(
            `--missed must be skip or catch-up, got "${missed}"`,
          );
        }
        schedule.missed = missed;
      }
      const message = str(p, "message");
      if (message !== undefined) {
        try {
          schedule.message = JSON.parse(message);
        } catch (error) {
          throw new UsageError(
            `--message must be JSON: ${(error as Error).message}`,
          );
        }
      }
    }
    const s = await open(p, ctx.env);
    try {
      if (sub === "list") {
        const list = await listSchedules(s.nc);
        if (bool(p, "json")) {
          ctx.io.out(JSON.stringify(list, null, 2));
          return 0;
        }
        if (list.length > 0) {
          for (
            const l of table(
              ["ID", "EVENT", "WHEN", "TIME-ZONE", "MESSAGE"],
              list.map((x) => [
                x.id,
                x.error === undefined ? x.event : `(${x.error})`,
                x.every !== undefined ? `every ${x.every} ms` : x.cron ?? "",
                x.timeZone ?? "UTC",
                x.message === undefined ? "-" : JSON.stringify(x.message),
              ]),
            )
          ) ctx.io.out(l);
        }
        ctx.io.err(`${list.length} schedule(s)`);
        return 0;
      }
      if (sub === "remove") {
        if (await removeSchedule(s.nc, id!)) {
          ctx.io.out(`removed schedule "${id}"`);
          return 0;
        }
        const ids = (await listSchedules(s.nc)).map((x) => x.id);
        throw new CliError(`no schedule "${id}"${didYouMean(id!, ids)}`);
      }
      if (!bool(p, "force")) {
        const known = (await eventStreams(s)).map((i) =>
          i.config.subjects![0]!
        );
        if (!known.includes(schedule!.event)) {
          throw new CliError(
            `unknown event "${
              schedule!.event
            }": no walnats stream for it on the server${
              didYouMean(schedule!.event, known)
            } (use --force to store the schedule anyway)`,
          );
        }
      }
      let stored: Schedule;
      try {
        stored = await upsertSchedule(s.nc, schedule!);
      } catch (error) {
        if (error instanceof TypeError || error instanceof RangeError) {
          throw new UsageError(
            error.message.replace(/^Cannot store schedule [^:]*: /, ""),
          );
        }
        throw error;
      }
      ctx.io.out(
        `stored schedule "${stored.id}": ${stored.event} ${
          stored.every !== undefined
            ? `every ${stored.every} ms`
            : `at "${stored.cron}" (${stored.timeZone ?? "UTC"})`
        }`,
      );
      return 0;
    } finally {
      await s.close();
    }
  },
};
