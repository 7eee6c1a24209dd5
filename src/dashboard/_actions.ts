// The dashboard's actions: replay and delete dead letters, pause and resume
// an actor, and the token check the page makes before it offers them. All
// are POST requests with a JSON body and `Authorization: Bearer <token>`.
/** @ignore */
import {
  jetstream,
  JetStreamApiCodes,
  type JetStreamManager,
} from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type DeadLetter,
  deadLetterStream,
  listDeadLetters,
  replayDeadLetters,
} from "../dead_letter.ts";
import { isCode } from "../ops/_kv.ts";
import { pauseActor, resumeActor } from "../ops/pause.ts";
import type { Status } from "../ops/status.ts";
import type { TokenCheck } from "./_auth.ts";
import { bearer } from "./_auth.ts";
import { HttpError, json, readBody } from "./_http.ts";
import {
  deadLetterCount,
  requireActor,
  requireEvent,
  selected,
} from "./_lookup.ts";
import type { ActionRecord } from "./dashboard.ts";

const MAX_REPLAY_BATCH = 1000;
const DEFAULT_REPLAY_BATCH = 100;

/** What the actions use of the dashboard. */
export interface ActionContext {
  readOnly: boolean;
  /** Set when actions are allowed. */
  tokens: TokenCheck | undefined;
  connection: () => Promise<NatsConnection>;
  manager: () => Promise<JetStreamManager>;
  /** The status (recent enough). */
  current: () => Promise<Status>;
  /** Record a done action (and invalidate the status). */
  audit: (record: Omit<ActionRecord, "time">) => void;
}

/** The actions by path. */
export type Actions = Record<
  string,
  (body: Record<string, unknown>) => Promise<Response>
>;

/** The actions, by the path they answer on. */
export function actions(c: ActionContext): Actions {
  const { connection, manager, current, audit } = c;
  return {
    "/api/token": () => Promise.resolve(json({ ok: true })),
    "/api/replay": async (body) => {
      const report = await current();
      const event = requireEvent(report, body.event);
      const actor = body.actor === undefined ? undefined : String(body.actor);
      if (actor !== undefined) requireActor(report, actor, event.name);
      const jsm = await manager();
      let letters: DeadLetter[];
      if (body.all === true) {
        const limit = body.limit === undefined
          ? DEFAULT_REPLAY_BATCH
          : Number(body.limit);
        if (!Number.isSafeInteger(limit) || limit < 1) {
          throw new HttpError(400, "limit must be a positive integer");
        }
        letters = await listDeadLetters(jsm, event.stream, {
          ...(actor === undefined ? {} : { actor }),
          limit: Math.min(limit, MAX_REPLAY_BATCH),
        });
      } else {
        letters = await selected(jsm, event.stream, body);
      }
      const replayed = await replayDeadLetters(
        jetstream(await connection()),
        jsm,
        letters,
      );
      audit({
        action: "replay",
        event: event.name,
        ...(actor === undefined ? {} : { actor }),
        count: replayed,
      });
      const remaining = await deadLetterCount(jsm, event.stream, actor);
      return json({ replayed, remaining });
    },
    "/api/delete": async (body) => {
      const report = await current();
      const event = requireEvent(report, body.event);
      const actor = body.actor === undefined ? undefined : String(body.actor);
      if (actor !== undefined) requireActor(report, actor, event.name);
      const jsm = await manager();
      const dlq = deadLetterStream(event.stream);
      let deleted = 0;
      if (body.all === true) {
        try {
          const r = await jsm.streams.purge(dlq, {
            filter: `walnats_dlq.${event.stream}.${actor ?? "*"}`,
          });
          deleted = r.purged;
        } catch (error) {
          if (!isCode(error, JetStreamApiCodes.StreamNotFound)) throw error;
        }
      } else {
        for (const letter of await selected(jsm, event.stream, body)) {
          if (await jsm.streams.deleteMessage(dlq, letter.sequence, false)) {
            deleted++;
          }
        }
      }
      audit({
        action: "delete",
        event: event.name,
        ...(actor === undefined ? {} : { actor }),
        count: deleted,
      });
      const remaining = await deadLetterCount(jsm, event.stream, actor);
      return json({ deleted, remaining });
    },
    "/api/pause": async (body) => {
      requireActor(await current(), body.actor);
      const record = await pauseActor(await connection(), body.actor as string);
      audit({ action: "pause", actor: body.actor as string, count: 1 });
      return json(record);
    },
    "/api/resume": async (body) => {
      requireActor(await current(), body.actor);
      const was = await resumeActor(await connection(), body.actor as string);
      audit({ action: "resume", actor: body.actor as string, count: 1 });
      return json({ resumed: was });
    },
  };
}

/** Do the action at `path` (one of `all`), if allowed. */
export async function act(
  c: ActionContext,
  all: Actions,
  request: Request,
  path: string,
): Promise<Response> {
  const { readOnly, tokens } = c;
  const action = all[path]!;
  if (readOnly) {
    return json({ error: "the dashboard is read-only" }, 403);
  }
  const given = bearer(request);
  if (given === undefined || !(await tokens!.matches(given))) {
    return json(
      { error: "a valid token is needed (Authorization: Bearer <token>)" },
      401,
      { "www-authenticate": 'Bearer realm="walnats dashboard"' },
    );
  }
  return await action(await readBody(request));
}
