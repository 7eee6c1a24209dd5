/**
 * Node adapter: `connect` over `@nats-io/transport-node` (Node's `net`).
 *
 * @module
 */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { connect as nodeConnect } from "@nats-io/transport-node";
import { resolveOptions } from "../_connection_options.ts";

/**
 * Connect to NATS over Node's `net` module (also used by Bun).
 *
 * @param server URL, URL list, or nats-core options; defaults to `NATS_URL`,
 *   then `nats://127.0.0.1:4222`; reconnects forever unless told otherwise.
 * @returns The connection.
 */
export function connect(
  server?: string | string[] | ConnectionOptions,
): Promise<NatsConnection> {
  return nodeConnect(
    resolveOptions(server, (name) => globalThis.process?.env?.[name]),
  );
}
