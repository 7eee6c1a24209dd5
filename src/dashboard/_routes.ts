// The dashboard's pages (and its read-only JSON), by path: each reads what
// it shows and renders it inside the layout; errors become error pages, or
// JSON errors under /api/.
/** @ignore */
import { JetStreamApiCodes, type JetStreamManager } from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import {
  type DeadLetter,
  deadLetterStream,
  listDeadLetters,
} from "../dead_letter.ts";
import { isCode } from "../ops/_kv.ts";
import { listSchedules } from "../ops/schedules.ts";
import type { Status } from "../ops/status.ts";
import type { Services } from "../services/services.ts";
import { actorPage } from "./_actor_page.ts";
import {
  deadLetterIndex,
  deadLetterList,
  deadLetterPage,
} from "./_dead_letter_pages.ts";
import { html } from "./_html.ts";
import { htmlResponse, HttpError, json, message } from "./_http.ts";
import { page, type PageContext, problem } from "./_layout.ts";
import { deadLetterCount, getLetter, requireEvent } from "./_lookup.ts";
import { overviewBody, overviewLive } from "./_overview.ts";
import { architecturePage, feedPage, schedulesPage } from "./_pages.ts";
import type { Sampler } from "./_sampler.ts";

const PAGE_SIZE = 50;
const FAILURE_WINDOW = 100;
const RECENT_FAILURES = 10;

/** What the pages use of the dashboard. */
export interface RouteContext {
  ctx: PageContext;
  connection: () => Promise<NatsConnection>;
  manager: () => Promise<JetStreamManager>;
  /** The status (recent enough). */
  current: () => Promise<Status>;
  sampler: Sampler;
  /** Milliseconds of samples kept (the charts' window). */
  history: number;
  /** The actors given as code, by `event\u0000name`. */
  code: Map<string, AnyActor>;
  services: Services | undefined;
  /** Why the last status sample failed, if it did. */
  lastSampleError: () => string | undefined;
}

/** The page answering a GET of `path`. */
export type Pages = (path: string, url: URL) => Promise<Response>;

/** The pages, by path. */
export function pages(c: RouteContext): Pages {
  const {
    ctx,
    connection,
    manager,
    current,
    sampler,
    history,
    code,
    services,
  } = c;
  let asyncapi: Promise<unknown> | undefined;
  return async (path: string, url: URL): Promise<Response> => {
    const q = url.searchParams;
    switch (path) {
      case "/": {
        const report = await current();
        const live = overviewLive(ctx, report, sampler, history);
        const lastError = c.lastSampleError();
        const warning = lastError === undefined
          ? ""
          : problem(`The last status sample failed: ${lastError}`);
        return htmlResponse(
          page(
            ctx,
            "/",
            "Overview",
            html`${warning}${overviewBody(ctx, live)}`,
          ),
        );
      }
      case "/partial/overview":
        return htmlResponse(
          overviewLive(ctx, await current(), sampler, history),
        );
      case "/actor": {
        const report = await current();
        const event = q.get("event") ?? "";
        const name = q.get("name") ?? "";
        const actor = report.actors.find((a) =>
          a.event === event && a.name === name
        );
        if (actor === undefined) {
          throw new HttpError(
            404,
            `unknown actor ${JSON.stringify(name)} of event ${
              JSON.stringify(event)
            }`,
          );
        }
        const jsm = await manager();
        let server;
        try {
          server = (await jsm.consumers.info(actor.stream, actor.name)).config;
        } catch (error) {
          if (
            !isCode(error, JetStreamApiCodes.ConsumerNotFound) &&
            !isCode(error, JetStreamApiCodes.StreamNotFound)
          ) throw error;
        }
        let failures: DeadLetter[] = [];
        try {
          const info = await jsm.streams.info(deadLetterStream(actor.stream));
          if (info.state.messages > 0) {
            failures = (await listDeadLetters(jsm, actor.stream, {
              actor: actor.name,
              from: Math.max(
                info.state.first_seq,
                info.state.last_seq - FAILURE_WINDOW + 1,
              ),
              limit: FAILURE_WINDOW,
            })).slice(-RECENT_FAILURES).reverse();
          }
        } catch (error) {
          if (!isCode(error, JetStreamApiCodes.StreamNotFound)) throw error;
        }
        return htmlResponse(page(
          ctx,
          "/",
          `Actor ${actor.name}`,
          actorPage(ctx, {
            actor,
            server,
            code: code.get(`${actor.event}\u0000${actor.name}`),
            failures,
            windowMs: history,
          }, sampler),
        ));
      }
      case "/dead-letters": {
        const report = await current();
        const eventName = q.get("event");
        if (eventName === null || eventName === "") {
          return htmlResponse(
            page(
              ctx,
              "/dead-letters",
              "Dead letters",
              deadLetterIndex(ctx, report),
            ),
          );
        }
        const event = requireEvent(report, eventName);
        const actorName = q.get("actor") || undefined;
        const eventActors = report.actors.filter((a) => a.event === event.name);
        if (
          actorName !== undefined &&
          !eventActors.some((a) => a.name === actorName)
        ) {
          throw new HttpError(
            404,
            `unknown actor ${JSON.stringify(actorName)} of event ${
              JSON.stringify(event.name)
            }`,
          );
        }
        const fromText = q.get("from");
        const from = fromText === null ? undefined : Number(fromText);
        if (from !== undefined && !(Number.isSafeInteger(from) && from > 0)) {
          throw new HttpError(400, "from must be a positive integer");
        }
        const jsm = await manager();
        const letters = await listDeadLetters(jsm, event.stream, {
          ...(actorName === undefined ? {} : { actor: actorName }),
          ...(from === undefined ? {} : { from }),
          limit: PAGE_SIZE,
        });
        const total = await deadLetterCount(jsm, event.stream, actorName);
        return htmlResponse(page(
          ctx,
          "/dead-letters",
          `Dead letters of ${event.name}`,
          deadLetterList(ctx, {
            event: event.name,
            actor: actorName,
            actors: eventActors.map((a) => a.name),
            letters,
            total,
            next: letters.length === PAGE_SIZE
              ? letters.at(-1)!.sequence + 1
              : undefined,
          }),
        ));
      }
      case "/dead-letter": {
        const report = await current();
        const event = requireEvent(report, q.get("event"));
        const seq = Number(q.get("seq"));
        if (!Number.isSafeInteger(seq) || seq < 1) {
          throw new HttpError(400, "seq must be a positive integer");
        }
        const letter = await getLetter(await manager(), event.stream, seq);
        if (letter === undefined) {
          throw new HttpError(
            404,
            `no dead letter #${seq} of event ${JSON.stringify(event.name)}`,
          );
        }
        return htmlResponse(page(
          ctx,
          "/dead-letters",
          `Dead letter #${seq}`,
          deadLetterPage(ctx, letter),
        ));
      }
      case "/schedules":
        return htmlResponse(page(
          ctx,
          "/schedules",
          "Schedules",
          schedulesPage(ctx, await listSchedules(await connection())),
        ));
      case "/feed": {
        const report = await current();
        return htmlResponse(page(
          ctx,
          "/feed",
          "Live feed",
          feedPage(ctx, report.events.map((e) => e.name)),
        ));
      }
      case "/architecture": {
        if (services === undefined) {
          throw new HttpError(
            404,
            "no Services was given to the dashboard, so there is no architecture page",
          );
        }
        asyncapi ??= services.asyncapi();
        return htmlResponse(page(
          ctx,
          "/architecture",
          "Architecture",
          architecturePage(ctx, services, await asyncapi),
        ));
      }
      case "/api/status":
        return json(await current());
      case "/api/asyncapi.json": {
        if (services === undefined) {
          throw new HttpError(404, "no Services was given to the dashboard");
        }
        asyncapi ??= services.asyncapi();
        return json(await asyncapi);
      }
      default:
        throw new HttpError(404, `no page ${JSON.stringify(path)}`);
    }
  };
}

/** The answer to a failure: an error page, or JSON under /api/. */
export function errorResponse(
  ctx: PageContext,
  error: unknown,
  path: string,
): Response {
  const status = error instanceof HttpError ? error.status : 503;
  const text = error instanceof HttpError
    ? error.message
    : `the NATS server did not answer: ${message(error)}`;
  if (path.startsWith("/api/")) return json({ error: text }, status);
  return htmlResponse(
    page(
      ctx,
      "",
      status === 404 ? "Not found" : "Error",
      problem(text),
    ),
    status,
  );
}
