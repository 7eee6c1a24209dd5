// Checking and resolving the dashboard's options: what it shows, how it is
// secured and mounted, and how often it samples. Bad options throw here, at
// construction time.
import type { AnyActor } from "../actor.ts";
import type { ActorRef, StatusOptions } from "../ops/status.ts";
import type { Services } from "../services/services.ts";
import { MIN_TOKEN_LENGTH, TokenCheck } from "./_auth.ts";
import type { DashboardOptions } from "./dashboard.ts";

const PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$/;

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

/** The options of a dashboard, checked, with their defaults. */
export interface Resolved {
  readOnly: boolean;
  /** Set when actions are allowed. */
  tokens: TokenCheck | undefined;
  prefix: string;
  refresh: number;
  history: number;
  timeout: number;
  hosts: Set<string> | undefined;
  services: Services | undefined;
  /** The actors given as code, by `event\u0000name`. */
  code: Map<string, AnyActor>;
  /** What status() reads. */
  statusOptions: StatusOptions;
}

/** Check the options (see {@linkcode dashboard}'s `@throws`). */
export function resolveOptions(options: DashboardOptions): Resolved {
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
  return {
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
  };
}
