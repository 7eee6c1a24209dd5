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
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import type { AnyEvent } from "../event.ts";
import { type ActorRef, type Status, status } from "../ops/status.ts";
import type { Services } from "../services/services.ts";
import { connect } from "../transports/connect.ts";
import { act, actions } from "./_actions.ts";
import { ASSET_VERSION, ASSETS } from "./_assets.ts";
import { FeedHub } from "./_feed.ts";
import { HttpError, json, message, respond } from "./_http.ts";
import type { PageContext } from "./_layout.ts";
import { resolveOptions } from "./_options.ts";
import { errorResponse, pages } from "./_routes.ts";
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
  const {
    readOnly,
    tokens,
    prefix,
    refresh,
    history,
    timeout,
    hosts,
    services,
    code,
    statusOptions,
  } = resolveOptions(options);

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

  const audit = (record: Omit<ActionRecord, "time">) => {
    sampler.invalidate();
    try {
      options.onAction?.({ ...record, time: new Date().toISOString() });
    } catch {
      // An audit hook must not turn a done action into an error.
    }
  };

  const current = () => sampler.current(Math.min(1000, refresh / 2));

  const actionContext = {
    readOnly,
    tokens,
    connection,
    manager,
    current,
    audit,
  };
  const all = actions(actionContext);
  const pageFor = pages({
    ctx,
    connection,
    manager,
    current,
    sampler,
    history,
    code,
    services,
    lastSampleError: () => lastSampleError,
  });

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
      if (path in all) {
        if (method !== "POST") {
          return json({ error: "use POST" }, 405, { allow: "POST" });
        }
        return await act(actionContext, all, request, path);
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
      return errorResponse(ctx, error, path);
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
