/**
 * {@linkcode dashboard}: a web dashboard for a walnats system, as one
 * web-standard `(Request) => Promise<Response>` handler that mounts in
 * `Deno.serve`, `Bun.serve` or a Node `http` server (see
 * {@linkcode nodeListener}), under a path prefix if wanted.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  jetstream,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import {
  type DeadLetter,
  deadLetterStream,
  listDeadLetters,
  replayDeadLetters,
  toDeadLetter,
} from "../dead_letter.ts";
import type { AnyEvent } from "../event.ts";
import { isCode } from "../ops/_kv.ts";
import { pauseActor, resumeActor } from "../ops/pause.ts";
import { listSchedules } from "../ops/schedules.ts";
import {
  type ActorRef,
  type EventStatus,
  type Status,
  status,
} from "../ops/status.ts";
import type { Services } from "../services/services.ts";
import { connect } from "../transports/connect.ts";
import { ASSET_VERSION, ASSETS } from "./_assets.ts";
import { bearer, MIN_TOKEN_LENGTH, TokenCheck } from "./_auth.ts";
import { FeedHub } from "./_feed.ts";
import { type Html, html } from "./_html.ts";
import { page, type PageContext, problem } from "./_layout.ts";
import { overviewBody, overviewLive } from "./_overview.ts";
import {
  actorPage,
  architecturePage,
  deadLetterIndex,
  deadLetterList,
  deadLetterPage,
  feedPage,
  schedulesPage,
} from "./_pages.ts";
import { Sampler } from "./_sampler.ts";

/** Options for {@linkcode dashboard}. */
export interface DashboardOptions {
  /**
   * The NATS connection to read (and act) through; it is not closed by
   * {@linkcode Dashboard.close}. Give this or `server`.
   */
  nc?: NatsConnection;
  /**
   * Where to connect instead (a URL, URLs or connection options); the
   * dashboard connects on its first request and closes the connection on
   * {@linkcode Dashboard.close}.
   */
  server?: string | string[] | ConnectionOptions;
  /**
   * The events to show, as `Event`s (their configuration is then checked
   * too) or names. Default: the `services`' events, else every walnats
   * event on the server, discovered on each read as `status()` does.
   */
  events?: readonly (AnyEvent | string)[];
  /**
   * The actors to show, as `Actor`s (their consumers are then compared
   * with the code) or `{ name, event }`. Default: the `services`' actors,
   * else every consumer on the events' streams.
   */
  actors?: readonly (AnyActor | ActorRef)[];
  /**
   * A `Services` description: adds the architecture page (who emits and
   * handles what, the Mermaid source, the AsyncAPI document) and gives
   * the default `events` and `actors`.
   */
  services?: Services;
  /**
   * When true, nothing can be changed: replay, delete, pause and resume
   * answer 403. Set false (with a `token`) to allow them.
   * @default {true}
   */
  readOnly?: boolean;
  /**
   * The secret actions need (at least 16 characters), sent by the page as
   * `Authorization: Bearer <token>`. Required when `readOnly` is false.
   */
  token?: string;
  /**
   * The path the dashboard is mounted under (`"/ops"`): every link and
   * asset is under it, other paths get 404.
   * @default {""}
   */
  prefix?: string;
  /**
   * Milliseconds between status samples (the charts) and page refreshes.
   * @default {5000}
   */
  refresh?: number;
  /**
   * Milliseconds of samples kept in memory for the charts.
   * @default {600000}
   */
  history?: number;
  /** The page title. @default {"walnats"} */
  title?: string;
  /**
   * Host names (the `Host` header without the port) the dashboard answers
   * to; others get 421. Set it when serving on loopback to defeat DNS
   * rebinding (`["localhost", "127.0.0.1", "[::1]"]`).
   * @default {any host}
   */
  hosts?: readonly string[];
  /** Milliseconds each JetStream request may take. @default {5000} */
  timeout?: number;
  /** Messages kept by the live feed for browsers that connect later. @default {100} */
  feedBuffer?: number;
  /** Messages the live feed sends a second, at most (the rest are counted). @default {100} */
  feedRate?: number;
  /** Called after every action (an audit trail); exceptions are ignored. */
  onAction?: (record: ActionRecord) => void;
}

/** An action done through the dashboard. */
export interface ActionRecord {
  /** What was done. */
  action: "replay" | "delete" | "pause" | "resume";
  /** The event (dead-letter actions). */
  event?: string;
  /** The actor (pause, resume, or a dead-letter filter). */
  actor?: string;
  /** How many dead letters were replayed or deleted (1 for a pause or resume). */
  count: number;
  /** When (ISO 8601). */
  time: string;
}

/** A dashboard: the request handler, plus its lifecycle. */
export interface Dashboard {
  /** Answer one request. Never throws: failures are error pages. */
  (request: Request): Promise<Response>;
  /** The path prefix it is mounted under ("" for the root). */
  readonly prefix: string;
  /**
   * Read the status now and keep it as a chart sample (sampling goes on
   * every `refresh` ms from the first request or call on).
   */
  sample(): Promise<Status>;
  /** Stop sampling, end live feeds, close a connection it made. */
  close(): Promise<void>;
  /** {@linkcode Dashboard.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

const PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$/;
const MAX_BODY = 64 * 1024;
const MAX_SEQUENCES = 1000;
const PAGE_SIZE = 50;
const FAILURE_WINDOW = 100;
const RECENT_FAILURES = 10;
const MAX_REPLAY_BATCH = 1000;
const DEFAULT_REPLAY_BATCH = 100;

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** A failure with the HTTP status to answer. */
class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function respond(
  body: BodyInit | null,
  status: number,
  type: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": type,
      "cache-control": "no-store",
      ...extra,
    },
  });
}

function json(body: unknown, status = 200, extra?: Record<string, string>) {
  return respond(
    JSON.stringify(body),
    status,
    "application/json; charset=utf-8",
    extra,
  );
}

function htmlResponse(body: Html, status = 200): Response {
  return respond(body.text, status, "text/html; charset=utf-8");
}

function message(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function isActorCode(a: AnyActor | ActorRef): a is AnyActor {
  return typeof (a as AnyActor).consumerConfig === "function";
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Cannot create dashboard: ${name} must be a positive number, got ${
        String(value)
      }`,
    );
  }
  return value;
}

/**
 * Create a dashboard: an overview of every event and actor (lag,
 * unacknowledged and redelivered messages, throughput charts, dead
 * letters, pauses), a page per actor (its consumer against the code, its
 * recent failures), dead letters (list, inspect, replay, delete),
 * schedules, a live feed of emitted messages, and the architecture of a
 * `Services`.
 *
 * Read-only unless `readOnly: false` and a `token` are given; then
 * replay, delete, pause and resume are POST requests carrying
 * `Authorization: Bearer <token>`. Pages load no external resources and
 * run under a strict Content-Security-Policy; everything from the server
 * or the wire is escaped.
 *
 * @param options The connection, what to show, security, mounting.
 * @returns The handler (call {@linkcode Dashboard.close} when done).
 * @throws {TypeError} Neither or both of `nc` and `server`, actions
 *   without a token, or a bad `prefix`.
 * @throws {RangeError} A token shorter than 16 characters, or a
 *   non-positive `refresh`, `history` or `timeout`.
 *
 * @example Serve it on Deno, Bun and Node
 * ```ts ignore
 * import { connect } from "@walnats/walnats";
 * import { dashboard, nodeListener } from "@walnats/walnats/dashboard";
 *
 * const nc = await connect("nats://127.0.0.1:4222");
 * const handler = dashboard({ nc, prefix: "/ops" });
 * Deno.serve({ port: 8080 }, handler);                    // Deno
 * Bun.serve({ port: 8080, fetch: handler });              // Bun
 * import("node:http").then(({ createServer }) =>          // Node
 *   createServer(nodeListener(handler)).listen(8080));
 * ```
 *
 * @example Answer a request directly
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { dashboard } from "@walnats/walnats/dashboard";
 *
 * await using handler = dashboard({ nc });
 * const res = await handler(new Request("http://localhost/"));
 * assert.equal(res.status, 200);
 * ```
 */
export function dashboard(options: DashboardOptions): Dashboard {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot create dashboard: options must be an object");
  }
  if ((options.nc === undefined) === (options.server === undefined)) {
    throw new TypeError(
      "Cannot create dashboard: give exactly one of nc (a connection) and server (where to connect)",
    );
  }
  const readOnly = options.readOnly ?? true;
  if (typeof readOnly !== "boolean") {
    throw new TypeError("Cannot create dashboard: readOnly must be a boolean");
  }
  let tokens: TokenCheck | undefined;
  if (!readOnly) {
    if (typeof options.token !== "string") {
      throw new TypeError(
        "Cannot create dashboard: readOnly is false but no token is given (actions need one)",
      );
    }
    if (options.token.length < MIN_TOKEN_LENGTH) {
      throw new RangeError(
        `Cannot create dashboard: the token is ${options.token.length} characters long, at least ${MIN_TOKEN_LENGTH} are needed`,
      );
    }
    tokens = new TokenCheck(options.token);
  }
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new TypeError(
      `Cannot create dashboard: prefix must be "" or a path such as "/ops" (no trailing slash), got ${
        JSON.stringify(prefix)
      }`,
    );
  }
  const refresh = positive("refresh", options.refresh, 5000);
  const history = positive("history", options.history, 600_000);
  const timeout = positive("timeout", options.timeout, 5000);
  const hosts = options.hosts === undefined
    ? undefined
    : new Set(options.hosts.map((h) => h.toLowerCase()));
  const services = options.services;

  // What status() reads: the options', else the Services', else everything.
  let events = options.events;
  let actors = options.actors;
  if (services !== undefined && events === undefined && actors === undefined) {
    actors = services.services.flatMap((s) => s.actors);
    events = [
      ...services.services.flatMap((s) => s.emits),
      ...actors.map((a) => (a as AnyActor).event),
    ];
  }
  const code = new Map<string, AnyActor>();
  for (const a of actors ?? []) {
    if (isActorCode(a)) code.set(`${a.event.name}\u0000${a.name}`, a);
  }
  const statusOptions = {
    timeout,
    ...(events === undefined ? {} : { events }),
    ...(actors === undefined ? {} : { actors }),
  };

  let ncPromise: Promise<NatsConnection> | undefined = options.nc === undefined
    ? undefined
    : Promise.resolve(options.nc);
  const owned = options.nc === undefined;
  let closed = false;
  const connection = (): Promise<NatsConnection> => {
    if (closed) return Promise.reject(new Error("the dashboard is closed"));
    if (ncPromise === undefined) {
      const p = connect(options.server!);
      ncPromise = p;
      // A failed connect is tried again on the next request.
      p.catch(() => {
        if (ncPromise === p) ncPromise = undefined;
      });
    }
    return ncPromise;
  };
  let jsmPromise: Promise<JetStreamManager> | undefined;
  const manager = async (): Promise<JetStreamManager> => {
    const nc = await connection();
    jsmPromise ??= jetstreamManager(nc, { timeout, checkAPI: false });
    return await jsmPromise;
  };

  let lastSampleError: string | undefined;
  const feed = new FeedHub(
    connection,
    async () => (await sampler.current(refresh)).events.map((e) => e.name),
    {
      buffer: options.feedBuffer ?? 100,
      rate: options.feedRate ?? 100,
      preview: 4096,
      keepAlive: 15_000,
    },
  );
  const sampler: Sampler = new Sampler(async () => {
    const report = await status(await connection(), statusOptions);
    lastSampleError = undefined;
    feed.sync(report.events.map((e) => e.name)).catch(() => {});
    return report;
  }, {
    every: refresh,
    keep: history,
    onError: (error) => (lastSampleError = message(error)),
  });

  const ctx: PageContext = {
    prefix,
    title: options.title ?? "walnats",
    readOnly,
    refresh,
    architecture: services !== undefined,
    version: ASSET_VERSION,
  };
  let asyncapi: Promise<unknown> | undefined;

  const audit = (record: Omit<ActionRecord, "time">) => {
    sampler.invalidate();
    try {
      options.onAction?.({ ...record, time: new Date().toISOString() });
    } catch {
      // An audit hook must not turn a done action into an error.
    }
  };

  const current = () => sampler.current(Math.min(1000, refresh / 2));

  const requireEvent = (report: Status, name: unknown): EventStatus => {
    if (typeof name !== "string" || name === "") {
      throw new HttpError(400, "event is missing");
    }
    const found = report.events.find((e) => e.name === name);
    if (found === undefined) {
      throw new HttpError(404, `unknown event ${JSON.stringify(name)}`);
    }
    return found;
  };

  const requireActor = (
    report: Status,
    name: unknown,
    event?: string,
  ): void => {
    if (typeof name !== "string" || name === "") {
      throw new HttpError(400, "actor is missing");
    }
    const known = report.actors.some((a) =>
      a.name === name && (event === undefined || a.event === event)
    );
    if (!known) {
      throw new HttpError(
        404,
        `unknown actor ${JSON.stringify(name)}${
          event === undefined ? "" : ` of event ${JSON.stringify(event)}`
        }`,
      );
    }
  };

  const getLetter = async (
    jsm: JetStreamManager,
    stream: string,
    seq: number,
  ): Promise<DeadLetter | undefined> => {
    try {
      const stored = await jsm.streams.getMessage(deadLetterStream(stream), {
        seq,
      });
      return stored === null
        ? undefined
        : toDeadLetter(stored.seq, stored.header, stored.data);
    } catch (error) {
      if (isCode(error, 10037) || isCode(error, 10059)) return undefined;
      throw error;
    }
  };

  const deadLetterCount = async (
    jsm: JetStreamManager,
    stream: string,
    actor: string | undefined,
  ): Promise<number> => {
    try {
      const info = await jsm.streams.info(deadLetterStream(stream), {
        subjects_filter: `walnats_dlq.${stream}.${actor ?? "*"}`,
      });
      return Object.values(info.state.subjects ?? {}).reduce(
        (n, c) => n + c,
        0,
      );
    } catch (error) {
      if (isCode(error, 10059)) return 0;
      throw error;
    }
  };

  /** The dead letters an action names: by sequence (all must exist). */
  const selected = async (
    jsm: JetStreamManager,
    stream: string,
    body: Record<string, unknown>,
  ): Promise<DeadLetter[]> => {
    const seqs = body.sequences;
    if (
      !Array.isArray(seqs) || seqs.length === 0 ||
      seqs.length > MAX_SEQUENCES ||
      !seqs.every((n) => Number.isSafeInteger(n) && n > 0)
    ) {
      throw new HttpError(
        400,
        `sequences must be 1 to ${MAX_SEQUENCES} positive integers (or all: true)`,
      );
    }
    const letters = await Promise.all(
      [...new Set(seqs as number[])].map((n) => getLetter(jsm, stream, n)),
    );
    const missing = (seqs as number[]).filter((_, i) =>
      letters[i] === undefined ||
      (body.actor !== undefined && letters[i]!.actor !== body.actor)
    );
    if (missing.length > 0) {
      throw new HttpError(
        404,
        `no dead letter ${
          missing.map((n) => `#${n}`).join(", ")
        } here; nothing was done`,
      );
    }
    return letters as DeadLetter[];
  };

  const actions: Record<
    string,
    (body: Record<string, unknown>) => Promise<Response>
  > = {
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
          if (!isCode(error, 10059)) throw error;
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

  const readBody = async (
    request: Request,
  ): Promise<Record<string, unknown>> => {
    const type = request.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new HttpError(415, "the body must be application/json");
    }
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > MAX_BODY) throw new HttpError(413, "the body is too large");
    const reader = request.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (reader !== undefined) {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > MAX_BODY) {
          await reader.cancel().catch(() => {});
          throw new HttpError(413, "the body is too large");
        }
        chunks.push(value);
      }
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    let value: unknown;
    try {
      value = size === 0 ? {} : JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new HttpError(400, "the body is not JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new HttpError(400, "the body must be a JSON object");
    }
    return value as Record<string, unknown>;
  };

  const act = async (request: Request, path: string): Promise<Response> => {
    const action = actions[path]!;
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
  };

  const pageFor = async (path: string, url: URL): Promise<Response> => {
    const q = url.searchParams;
    switch (path) {
      case "/": {
        const report = await current();
        const live = overviewLive(ctx, report, sampler, history);
        const warning = lastSampleError === undefined
          ? ""
          : problem(`The last status sample failed: ${lastSampleError}`);
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
          if (!isCode(error, 10014) && !isCode(error, 10059)) throw error;
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
          if (!isCode(error, 10059)) throw error;
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

  const errorResponse = (error: unknown, path: string): Response => {
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
  };

  const handle = async (request: Request): Promise<Response> => {
    let path = "";
    try {
      const url = new URL(request.url);
      if (hosts !== undefined && !hosts.has(url.hostname.toLowerCase())) {
        return respond("this host is not served\n", 421, "text/plain");
      }
      path = url.pathname;
      if (prefix !== "") {
        if (path === prefix) {
          return respond(null, 308, "text/plain", {
            location: `${prefix}/${url.search}`,
          });
        }
        if (!path.startsWith(`${prefix}/`)) {
          return respond("not found\n", 404, "text/plain");
        }
        path = path.slice(prefix.length);
      }
      if (closed) throw new HttpError(503, "the dashboard is closed");
      const method = request.method.toUpperCase();
      if (path in actions) {
        if (method !== "POST") {
          return json({ error: "use POST" }, 405, { allow: "POST" });
        }
        return await act(request, path);
      }
      if (method !== "GET" && method !== "HEAD") {
        return json({ error: `${method} is not allowed here` }, 405, {
          allow: "GET, HEAD",
        });
      }
      const head = method === "HEAD";
      sampler.start();
      let response: Response;
      if (path.startsWith("/assets/")) {
        const asset = ASSETS[path.slice("/assets/".length)];
        response = asset === undefined
          ? respond("not found\n", 404, "text/plain")
          : respond(asset.body, 200, asset.type, {
            "cache-control": "max-age=300",
          });
      } else if (path === "/api/feed") {
        response = respond(
          head ? null : feed.stream(request.signal),
          200,
          "text/event-stream; charset=utf-8",
          { "x-accel-buffering": "no" },
        );
        return response;
      } else {
        response = await pageFor(path, url);
      }
      return head ? new Response(null, response) : response;
    } catch (error) {
      return errorResponse(error, path);
    }
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    feed.close();
    await sampler.stop();
    if (owned && ncPromise !== undefined) {
      const nc = await ncPromise.catch(() => undefined);
      if (nc !== undefined && !nc.isClosed()) await nc.close();
    }
  };

  return Object.assign(handle, {
    prefix,
    sample: () => {
      sampler.start();
      return sampler.current(0);
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
