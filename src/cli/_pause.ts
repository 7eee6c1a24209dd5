// `walnats pause|resume <actor>`: the walnats_paused KV bucket.
import { checkName } from "../_names.ts";
import { listPaused, pauseActor, resumeActor } from "../ops/pause.ts";
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
import { consumersOf, eventStreams } from "./_inventory.ts";

async function knownActors(s: Session): Promise<Set<string>> {
  const events = (await eventStreams(s)).map((i) => i.config.subjects![0]!);
  const lists = await Promise.all(events.map((e) => consumersOf(s, e)));
  return new Set(lists.flat().map((c) => c.name));
}

function actorArg(p: Parsed, verb: string): string | undefined {
  if (p.positionals.length > 1) {
    throw new UsageError(`unexpected argument "${p.positionals[1]}"`);
  }
  const actor = p.positionals[0];
  if (actor === undefined) {
    if (verb === "pause" && bool(p, "list")) return undefined;
    throw new UsageError(`missing the actor name: walnats ${verb} <actor>`);
  }
  try {
    checkName("actor", actor);
  } catch (error) {
    throw new UsageError(
      `${JSON.stringify(actor)} is not a valid actor name: ${
        (error as Error).message.replace(/^Cannot create actor[^:]*: /, "")
      }`,
    );
  }
  return actor;
}

const NOTE =
  `Pauses are kept in the NATS KV bucket "walnats_paused" (key: the actor's
name), so they survive restarts and apply to every listener that honours
them; messages keep accumulating in the event's stream meanwhile.`;

export const pauseCommand: Command = {
  name: "pause",
  summary: "pause an actor on every listener",
  flags: { ...CONNECTION_FLAGS, force: "boolean", list: "boolean" },
  help: `usage: walnats pause <actor> [--force] [connection options]
       walnats pause --list

Stop every listener from pulling messages for <actor> until "walnats
resume <actor>". An actor that has no consumer on the server is refused
(a typo would pause nothing) unless --force.

${NOTE}

  --force   pause even if no consumer of that name exists (yet)
  --list    list the paused actors

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const actor = actorArg(p, "pause");
    const s = await open(p, ctx.env);
    try {
      if (actor === undefined) {
        const paused = await listPaused(s.nc);
        for (const a of paused) ctx.io.out(`${a.actor} paused at ${a.at}`);
        ctx.io.err(`${paused.length} paused actor(s)`);
        return 0;
      }
      if (!bool(p, "force")) {
        const known = await knownActors(s);
        if (!known.has(actor)) {
          throw new CliError(
            `unknown actor "${actor}": no walnats consumer of that name on the server${
              didYouMean(actor, known)
            } (use --force to pause it anyway)`,
          );
        }
      }
      const record = await pauseActor(s.nc, actor);
      ctx.io.out(`paused actor "${actor}" at ${record.at}`);
      return 0;
    } finally {
      await s.close();
    }
  },
};

export const resumeCommand: Command = {
  name: "resume",
  summary: "resume a paused actor",
  flags: { ...CONNECTION_FLAGS },
  help: `usage: walnats resume <actor> [connection options]

Let listeners pull for <actor> again.

${NOTE}

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const actor = actorArg(p, "resume")!;
    const s = await open(p, ctx.env);
    try {
      if (await resumeActor(s.nc, actor)) {
        ctx.io.out(`resumed actor "${actor}"`);
        return 0;
      }
      const paused = (await listPaused(s.nc)).map((a) => a.actor);
      throw new CliError(
        `actor "${actor}" is not paused${didYouMean(actor, paused)}`,
      );
    } finally {
      await s.close();
    }
  },
};
