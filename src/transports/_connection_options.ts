// Turning the `server` argument of `connect` into nats-core options.
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";

/** Default server when neither the argument nor `NATS_URL` names one. */
export const DEFAULT_URL = "nats://127.0.0.1:4222";

/** Whether `value` is a live nats-core connection. */
export function isNatsConnection(value: unknown): value is NatsConnection {
  return typeof value === "object" && value !== null &&
    typeof (value as NatsConnection).publish === "function" &&
    typeof (value as NatsConnection).subscribe === "function" &&
    typeof (value as NatsConnection).closed === "function";
}

/**
 * Resolve connection options: URL or URL list, or options; `NATS_URL`
 * (comma-separated) when no server is named; reconnect forever unless told
 * otherwise (nats.js gives up after 10 attempts).
 */
export function resolveOptions(
  server: string | string[] | ConnectionOptions | undefined,
  env: (name: string) => string | undefined,
): ConnectionOptions {
  let options: ConnectionOptions;
  if (server === undefined) {
    options = {};
  } else if (typeof server === "string" || Array.isArray(server)) {
    options = { servers: server };
  } else if (typeof server === "object" && server !== null) {
    options = { ...server };
  } else {
    throw new TypeError(
      `Cannot connect: server must be a URL, a list of URLs, connection options or a NatsConnection, got ${typeof server}`,
    );
  }
  if (options.servers === undefined || options.servers.length === 0) {
    const fromEnv = env("NATS_URL");
    options.servers = fromEnv
      ? fromEnv.split(",").map((s) => s.trim()).filter((s) => s !== "")
      : DEFAULT_URL;
  }
  options.maxReconnectAttempts ??= -1;
  options.reconnectTimeWait ??= 1000;
  options.name ??= "walnats";
  // nats.js captures two stack traces per request (every acknowledged
  // publish) unless told not to: half the CPU of bulk emitting. Errors keep
  // their own stack; only the caller's async frames are lost.
  options.noAsyncTraces ??= true;
  return options;
}

/** The connection's configured inbox prefix, if any. */
export function inboxPrefix(nc: NatsConnection): string | undefined {
  return (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}
