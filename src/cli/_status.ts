// `walnats status`: the status() report as tables or JSON, once or watched.
import { type Status, status } from "../ops/status.ts";
import {
  bool,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  duration,
  int,
  type Parsed,
  str,
} from "./_args.ts";
import { type Command, type Context, pause } from "./_command.ts";
import { open } from "./_connect.ts";
import { checkEventName, requireEvent } from "./_inventory.ts";
import { ago, bytes, table } from "./_io.ts";

/** The report as text lines. */
export function render(s: Status): string[] {
  const now = Date.parse(s.time);
  const lines: string[] = [];
  if (s.events.length === 0) {
    lines.push("no walnats events on the server");
    return lines;
  }
  lines.push(
    ...table(
      [
        "EVENT",
        "STREAM",
        "MESSAGES",
        "SIZE",
        "FIRST",
        "LAST",
        "DELAYED",
        "DEAD",
        "CONSUMERS",
      ],
      s.events.map((e) => [
        e.name,
        e.exists ? e.stream : `${e.stream} (missing)`,
        e.messages,
        bytes(e.bytes),
        ago(e.firstTime, now),
        ago(e.lastTime, now),
        e.delayed,
        e.deadLetters,
        e.consumers,
      ]),
    ),
  );
  lines.push("");
  if (s.actors.length === 0) {
    lines.push("no actors");
    return lines;
  }
  lines.push(
    ...table(
      [
        "ACTOR",
        "EVENT",
        "PENDING",
        "ACK-PENDING",
        "REDELIVERED",
        "WAITING",
        "DEAD",
        "DELAYED",
        "PAUSED",
        "LAST-ACTIVE",
        "CONFIG",
      ],
      s.actors.map((a) => [
        a.name,
        a.event,
        a.pending,
        a.ackPending,
        a.redelivered,
        a.waiting,
        a.deadLetters,
        a.delayed,
        a.paused ? "yes" : "no",
        ago(a.lastActive, now),
        !a.exists
          ? "missing"
          : a.config.matches === null
          ? "-"
          : a.config.matches
          ? "ok"
          : `differs: ${a.config.differences.map((d) => d.field).join(",")}`,
      ]),
    ),
  );
  return lines;
}

export const statusCommand: Command = {
  name: "status",
  summary:
    "lag, unacked, redelivered, dead letters, delayed and paused, per actor",
  flags: {
    ...CONNECTION_FLAGS,
    json: "boolean",
    watch: "boolean",
    interval: "string",
    count: "integer",
  },
  help:
    `usage: walnats status [event...] [--json] [--watch [--interval 2s] [--count N]]
                      [connection options]

Report every walnats event (stream) and actor (consumer) on the server, or
only the named events and their actors:

  events: messages, size, first/last message time, delayed, dead letters
  actors: PENDING (lag: not delivered yet), ACK-PENDING (delivered, not
          acknowledged), REDELIVERED, WAITING (pull requests waiting: idle
          capacity), DEAD (dead letters), DELAYED, PAUSED, LAST-ACTIVE

  --json            the report as JSON (the same shape as status() in code)
  --watch           redraw every --interval until Ctrl-C
  --interval D      time between reports with --watch (default 2s)
  --count N         stop after N reports with --watch

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const events = p.positionals.map(checkEventName);
    const watch = bool(p, "watch");
    const interval = duration("--interval", str(p, "interval") ?? "2s");
    const count = int(p, "count") ?? (watch ? Infinity : 1);
    const s = await open(p, ctx.env);
    try {
      for (const e of events) await requireEvent(s, e);
      for (let i = 0; i < count && !ctx.signal.aborted; i++) {
        if (i > 0) {
          await pause(interval, ctx.signal);
          if (ctx.signal.aborted) break;
        }
        const report = await status(
          s.nc,
          events.length > 0 ? { events } : {},
        );
        if (bool(p, "json")) {
          ctx.io.out(JSON.stringify(report, null, watch ? undefined : 2));
          continue;
        }
        const lines = render(report);
        if (watch) {
          // On a terminal, redraw in place; else one report after another.
          if (ctx.io.tty) ctx.io.out("\x1b[2J\x1b[H" + lines[0]);
          else ctx.io.out(`--- ${report.time}`);
          for (const line of ctx.io.tty ? lines.slice(1) : lines) {
            ctx.io.out(line);
          }
        } else {
          for (const line of lines) ctx.io.out(line);
        }
      }
      return 0;
    } finally {
      await s.close();
    }
  },
};
