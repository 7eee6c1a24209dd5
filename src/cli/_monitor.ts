// `walnats monitor`: a live feed of emitted events (core subscriptions:
// nothing is stored, acknowledged or taken from the actors).
import type { Msg, Subscription } from "@nats-io/nats-core";
import { headersToRecord } from "../headers.ts";
import {
  bool,
  CliError,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  duration,
  int,
  type Parsed,
  str,
  UsageError,
} from "./_args.ts";
import type { Command, Context } from "./_command.ts";
import { open } from "./_connect.ts";
import { checkEventName, eventStreams, requireEvent } from "./_inventory.ts";
import { payload } from "./_io.ts";

export const monitorCommand: Command = {
  name: "monitor",
  summary: "print events as they are emitted",
  flags: {
    ...CONNECTION_FLAGS,
    json: "boolean",
    count: "integer",
    timeout: "string",
  },
  help: `usage: walnats monitor [event...] [--json] [--count N] [--timeout D]
                       [connection options]

Print every message emitted to the named events (default: every walnats
event on the server) as it arrives, until Ctrl-C. It only watches: nothing
is taken from the actors and nothing is stored. Messages emitted before it
started are not shown (see "walnats status" for backlogs).

  --json        one JSON object per line: time, event, subject, headers, data
  --count N     stop after N messages
  --timeout D   stop after D (500ms, 30s, 5m)

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const named = p.positionals.map(checkEventName);
    const limit = int(p, "count") ?? Infinity;
    const timeoutText = str(p, "timeout");
    const timeout = timeoutText === undefined
      ? undefined
      : duration("--timeout", timeoutText);
    const json = bool(p, "json");
    const s = await open(p, ctx.env);
    const subs: Subscription[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      let events: string[];
      if (named.length > 0) {
        for (const e of named) await requireEvent(s, e);
        events = named;
      } else {
        events = (await eventStreams(s)).map((i) => i.config.subjects![0]!);
        if (events.length === 0) {
          throw new UsageError(
            "there are no walnats events on the server to monitor; name one",
          );
        }
      }
      let seen = 0;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const onMessage = (event: string, msg: Msg) => {
        if (seen >= limit) return;
        seen++;
        const time = new Date().toISOString();
        const headers = headersToRecord(msg.headers);
        const body = payload(msg.data);
        if (json) {
          ctx.io.out(JSON.stringify({
            time,
            event,
            subject: msg.subject,
            headers,
            ...body,
          }));
        } else {
          const id = headers["Nats-Msg-Id"];
          ctx.io.out(
            `${time} ${event}${id ? ` id=${id}` : ""} ${
              body.data ?? `base64:${body.dataBase64}`
            }`,
          );
        }
        if (seen >= limit) finish();
      };
      for (const event of events) {
        subs.push(s.nc.subscribe(event, {
          callback: (err, msg) => {
            if (err === null) onMessage(event, msg);
          },
        }));
      }
      // The server has the subscriptions once the flush returns.
      await s.nc.flush();
      ctx.io.err(
        `monitoring ${events.join(", ")}${
          limit === Infinity ? "" : ` for ${limit} message(s)`
        } (Ctrl-C to stop)`,
      );
      if (timeout !== undefined) timer = setTimeout(finish, timeout);
      if (ctx.signal.aborted) finish();
      ctx.signal.addEventListener("abort", () => finish(), { once: true });
      const end = await Promise.race([
        finished.then(() => "done" as const),
        s.nc.closed().then(() => "closed" as const),
      ]);
      ctx.io.err(`${seen} message(s) seen`);
      if (end === "closed") {
        throw new CliError("the connection to the NATS server was lost");
      }
      return 0;
    } finally {
      clearTimeout(timer);
      for (const sub of subs) sub.unsubscribe();
      await s.close();
    }
  },
};
