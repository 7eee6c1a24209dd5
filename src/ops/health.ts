/**
 * {@linkcode health} and {@linkcode healthHandler}: liveness and readiness
 * of a walnats process for Kubernetes probes and load balancers, served by
 * a web-standard `(Request) => Promise<Response>` handler that mounts in
 * `Deno.serve`, `Bun.serve` or a Node `http` server.
 *
 * - `/healthz` (liveness): the process answers and its NATS connection is
 *   not closed for good. A server outage does not fail it (restarting the
 *   pod would not help; the connection reconnects by itself).
 * - `/readyz` (readiness): connected, JetStream answers, every actor's
 *   consumer exists, and (for a subscriber) a `listen()` is running.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  JetStreamApiCodes,
  jetstreamManager,
  type JetStreamOptions,
} from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import type { AnyEvent } from "../event.ts";
import { isCode } from "./_kv.ts";
import type { ActorRef } from "./status.ts";

/** Options for {@linkcode health}. */
export interface HealthOptions {
  /** Actors whose consumers must exist for readiness. @default {[]} */
  actors?: readonly (AnyActor | ActorRef)[];
  /** Events whose streams must exist for readiness. @default {[]} */
  events?: readonly (AnyEvent | string)[];
  /**
   * `listen()` runs going on in this process, or `undefined` when nothing
   * should be listening (a publisher). With a number, readiness needs at
   * least one.
   */
  listening?: number;
  /**
   * Milliseconds each check may take (the server round trip, the JetStream
   * requests). Keep it below the probe's `timeoutSeconds`.
   * @default {1000}
   */
  timeout?: number;
  /** JetStream `domain` or `apiPrefix`, as given to `connect`. @default {{}} */
  jetstream?: JetStreamOptions;
}

/** The NATS connection's state. */
export type ConnectionState =
  | "connected"
  | "disconnected"
  | "draining"
  | "closed";

/** What {@linkcode health} reports; plain JSON. */
export interface Health {
  /** Liveness: the connection is not closed for good. */
  live: boolean;
  /** Readiness: every check below passed. */
  ready: boolean;
  /** When the checks ran (ISO 8601). */
  time: string;
  /** The connection: its state, the server it is on, the round trip. */
  connection: {
    state: ConnectionState;
    /** The server's address (`host:port`), null when not connected. */
    server: string | null;
    /** Milliseconds of a PING round trip, null when it failed. */
    rtt: number | null;
  };
  /** Whether JetStream answered an account request. */
  jetstream: boolean;
  /** Each actor's consumer: present or not. */
  actors: { name: string; event: string; consumer: boolean }[];
  /** Each event's stream: present or not. */
  events: { name: string; stream: boolean }[];
  /** Listener runs going on, or null when none is expected. */
  listening: number | null;
  /** Why it is not ready (or not live), one sentence each; empty when ready. */
  problems: string[];
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} timed out after ${ms} ms`)),
      ms,
    );
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Check a connection's health: connection state and round trip, JetStream,
 * the actors' consumers, and the listener. Never throws: a failed check is
 * a `problems` entry.
 *
 * @param nc A NATS connection.
 * @param options Actors, listener count, timeout.
 * @returns The report.
 *
 * @example Check before starting work
 * ```ts ignore
 * import { health } from "@walnats/walnats";
 *
 * const h = await health(nc, { actors: [SEND_EMAIL] });
 * if (!h.ready) console.error(h.problems.join("; "));
 * ```
 */
export async function health(
  nc: NatsConnection,
  options: HealthOptions = {},
): Promise<Health> {
  const timeout = options.timeout ?? 1000;
  const problems: string[] = [];
  const closed = nc.isClosed();
  let state: ConnectionState = closed
    ? "closed"
    : nc.isDraining()
    ? "draining"
    : "connected";
  let rtt: number | null = null;
  if (!closed) {
    try {
      rtt = await withTimeout(nc.rtt(), timeout, "PING");
    } catch (error) {
      if (state === "connected") state = "disconnected";
      problems.push(`NATS server does not answer: ${message(error)}`);
    }
  } else {
    problems.push("NATS connection is closed");
  }
  const server = state === "connected" ? (nc.getServer?.() || null) : null;
  const actors = (options.actors ?? []).map((a) => ({
    name: a.name,
    event: typeof a.event === "string" ? a.event : a.event.name,
    stream: typeof a.event === "string"
      ? a.event.replaceAll(".", "-")
      : a.event.stream,
    consumer: false,
  }));
  const events = (options.events ?? []).map((e) => ({
    name: typeof e === "string" ? e : e.name,
    stream: typeof e === "string" ? e.replaceAll(".", "-") : e.stream,
    exists: false,
  }));
  if (state === "draining") {
    problems.push("NATS connection is draining (shutting down)");
  }
  let jetstream = false;
  if (state === "connected") {
    try {
      const jsm = await jetstreamManager(nc, {
        ...options.jetstream,
        timeout,
        checkAPI: false,
      });
      const [account, ...checks] = await Promise.allSettled([
        withTimeout(jsm.getAccountInfo(), timeout, "JetStream account info"),
        ...events.map((e) =>
          withTimeout(
            jsm.streams.info(e.stream),
            timeout,
            `stream info of event "${e.name}"`,
          )
        ),
        ...actors.map((a) =>
          withTimeout(
            jsm.consumers.info(a.stream, a.name),
            timeout,
            `consumer info of actor "${a.name}"`,
          )
        ),
      ]);
      jetstream = account!.status === "fulfilled";
      if (account!.status === "rejected") {
        problems.push(`JetStream does not answer: ${message(account!.reason)}`);
      }
      const streams = checks.slice(0, events.length);
      const consumers = checks.slice(events.length);
      streams.forEach((r, i) => {
        const e = events[i]!;
        if (r.status === "fulfilled") {
          e.exists = true;
        } else if (isCode(r.reason, JetStreamApiCodes.StreamNotFound)) {
          problems.push(
            `the stream of event "${e.name}" does not exist; call register() on the publisher`,
          );
        } else if (jetstream) {
          problems.push(
            `the stream of event "${e.name}" cannot be read: ${
              message(r.reason)
            }`,
          );
        }
      });
      consumers.forEach((r, i) => {
        const a = actors[i]!;
        if (r.status === "fulfilled") {
          a.consumer = true;
        } else if (
          isCode(r.reason, JetStreamApiCodes.ConsumerNotFound) ||
          isCode(r.reason, JetStreamApiCodes.StreamNotFound)
        ) {
          problems.push(
            `the consumer of actor "${a.name}" (event "${a.event}") does not exist; call register()`,
          );
        } else if (jetstream) {
          problems.push(
            `the consumer of actor "${a.name}" cannot be read: ${
              message(r.reason)
            }`,
          );
        }
      });
    } catch (error) {
      problems.push(`JetStream does not answer: ${message(error)}`);
    }
  }
  const listening = options.listening ?? null;
  if (listening !== null && listening < 1) {
    problems.push("no listen() is running");
  }
  return {
    live: !closed,
    ready: problems.length === 0,
    time: new Date().toISOString(),
    connection: { state, server, rtt },
    jetstream,
    actors: actors.map(({ name, event, consumer }) => ({
      name,
      event,
      consumer,
    })),
    events: events.map(({ name, exists }) => ({ name, stream: exists })),
    listening,
    problems,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Something whose health a {@linkcode healthHandler} serves. */
export interface HealthSource {
  /** Its connection (liveness looks only at this). */
  readonly nc: NatsConnection;
  /** Its full health report (readiness). */
  health(): Promise<Health>;
}

/** Options for {@linkcode healthHandler}. */
export interface HealthHandlerOptions {
  /** Path of the liveness probe. @default {"/healthz"} */
  livePath?: string;
  /** Path of the readiness probe. @default {"/readyz"} */
  readyPath?: string;
}

/**
 * A web-standard request handler serving liveness (`/healthz`) and
 * readiness (`/readyz`): `200` with `{"status":"ok"}` or `503` with the
 * reasons, JSON; readiness carries the whole {@linkcode Health} report of
 * each source. Other paths get `404`, methods other than GET and HEAD
 * `405`. Concurrent readiness probes share one check.
 *
 * @param sources A subscriber, a publisher, or several (all must be ready).
 * @param options Paths.
 * @returns The handler.
 *
 * @example Serve probes on Deno, Bun and Node
 * ```ts ignore
 * import { healthHandler } from "@walnats/walnats";
 *
 * const handler = healthHandler([sub, pub]);
 * Deno.serve({ port: 8080 }, handler);              // Deno
 * Bun.serve({ port: 8080, fetch: handler });        // Bun
 * // Node: see docs/operations.md for the node:http adapter
 * ```
 */
export function healthHandler(
  sources: HealthSource | readonly HealthSource[],
  options: HealthHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const list: readonly HealthSource[] = Array.isArray(sources)
    ? sources
    : [sources as HealthSource];
  if (list.length === 0) {
    throw new TypeError("Cannot create a health handler: no sources given");
  }
  for (const s of list) {
    if (typeof s?.health !== "function" || typeof s?.nc !== "object") {
      throw new TypeError(
        "Cannot create a health handler: every source must have nc and health() (a Subscriber or a Publisher)",
      );
    }
  }
  const livePath = options.livePath ?? "/healthz";
  const readyPath = options.readyPath ?? "/readyz";
  let inFlight: Promise<Health[]> | undefined;
  const ready = (): Promise<Health[]> =>
    inFlight ??= Promise.all(list.map((s) => s.health())).finally(() => {
      inFlight = undefined;
    });
  return async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path !== livePath && path !== readyPath) {
      return json(404, { status: "not found", paths: [livePath, readyPath] });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json(405, { status: "method not allowed" }, {
        allow: "GET, HEAD",
      });
    }
    if (path === livePath) {
      const dead = list.filter((s) => s.nc.isClosed());
      return dead.length === 0 ? json(200, { status: "ok" }) : json(503, {
        status: "fail",
        problems: ["NATS connection is closed"],
      });
    }
    let reports: Health[];
    try {
      reports = await ready();
    } catch (error) {
      return json(503, { status: "fail", problems: [message(error)] });
    }
    const problems = reports.flatMap((r) => r.problems);
    return json(problems.length === 0 ? 200 : 503, {
      status: problems.length === 0 ? "ok" : "fail",
      problems,
      checks: reports,
    });
  };
}

function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      ...headers,
    },
  });
}
