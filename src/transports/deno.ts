/**
 * Deno adapter: `connect` over Deno's own sockets (`Deno.connect`,
 * `Deno.startTls`, `Deno.connectTls`), not Node compatibility.
 *
 * The root `connect()` does not use it, on Deno either: it takes the
 * `node:net` adapter, whose writes reach the server while a synchronous
 * loop of publishes runs (a `Deno.Conn` write only starts once the loop
 * ends). Take this one for Deno's own sockets and permissions model.
 *
 * TLS: server certificates are checked against the system roots plus
 * `tls.ca`/`tls.caFile`; a client certificate (`tls.cert`/`tls.key` or the
 * file variants) needs `tls.handshakeFirst: true`, because `Deno.startTls`
 * cannot present one — otherwise use the `./node` adapter.
 *
 * @example Connect to a test server
 * ```ts
 * import { connect } from "@walnats/walnats/deno";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const nc = await connect(server.url);
 * assert.equal(nc.isClosed(), false);
 * await nc.close();
 * ```
 *
 * @module
 */
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
/** @ignore */
import { setTransportFactory } from "@nats-io/nats-core/internal";
import { resolveOptions } from "./_connection_options.ts";
import { DenoTransport } from "./_deno_transport.ts";
import { deno } from "./_deno_api.ts";
import { connectFast } from "./_connect_error.ts";

function env(name: string): string | undefined {
  try {
    return deno().env.get(name);
  } catch {
    // No --allow-env: behave as if the variable were not set.
    return undefined;
  }
}

/**
 * Connect to NATS over Deno's sockets.
 *
 * The server is the argument, else `NATS_URL` (comma-separated URLs), else
 * `nats://127.0.0.1:4222`. Unless the options say otherwise the connection
 * reconnects forever, waits 1000 ms between attempts and is named
 * `"walnats"`.
 *
 * @param server URL, URL list, or nats-core connection options.
 * @returns The connection, once the server accepted it.
 * @throws {TypeError} `server` is not a URL, a list or an options object.
 * @throws {ConnectError} The promise rejects if the first connection
 *   fails (credentials or TLS refused, connection refused, no handshake in
 *   time); the error names the URL and the reason.
 */
export function connect(
  server?: string | string[] | ConnectionOptions,
): Promise<NatsConnection> {
  const options = resolveOptions(server, env);
  setTransportFactory({ factory: () => new DenoTransport() });
  return connectFast(options);
}
