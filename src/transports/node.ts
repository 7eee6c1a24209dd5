/**
 * Node adapter: `connect` over `@nats-io/transport-node` (Node's `net`).
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { connect as nodeConnect } from "@nats-io/transport-node";
import { resolveOptions } from "./_connection_options.ts";

/**
 * Connect to NATS over the `node:net` API, which Node, Bun and Deno all
 * provide (the `./bun` and `./deno` entry points re-export this function).
 *
 * The server is the argument, else the `NATS_URL` environment variable
 * (comma-separated URLs), else `nats://127.0.0.1:4222`. Options left unset
 * get walnats' defaults: reconnect forever (`maxReconnectAttempts: -1`),
 * 1000 ms between attempts (`reconnectTimeWait`), and the client name
 * `"walnats"`.
 *
 * @param server URL, URL list, or nats-core connection options.
 * @returns The open connection; close it with `close()` or `drain()`.
 * @throws {TypeError} `server` is neither a URL, a URL list nor options
 *   (thrown synchronously).
 * @throws {Error} The promise rejects if the first connection attempt
 *   fails (nats-core's `ConnectionError`, `AuthorizationError`, ...); only
 *   later disconnects are retried.
 *
 * @example Connect to a test server
 * ```ts
 * import { connect } from "@walnats/walnats/node";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const nc = await connect(server.url);
 * assert.equal(nc.isClosed(), false);
 * await nc.close();
 * ```
 */
export function connect(
  server?: string | string[] | ConnectionOptions,
): Promise<NatsConnection> {
  return nodeConnect(
    resolveOptions(server, (name) => globalThis.process?.env?.[name]),
  );
}
