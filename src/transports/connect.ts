/**
 * Runtime-agnostic `connect`: loads the transport adapter lazily, so the
 * core never imports `node:` or `Deno.` code itself.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { runtime } from "../_runtime.ts";

/** Where to connect: URL(s), nats-core options, or a live connection. */
export type Server = string | string[] | ConnectionOptions | NatsConnection;

/** What a transport adapter provides. */
export interface Transport {
  /** Open a connection with resolved defaults. */
  connect(
    server?: string | string[] | ConnectionOptions,
  ): Promise<NatsConnection>;
}

export { runtime };

let adapter: Promise<Transport> | undefined;

// Connections made by connect() and not yet closed: the leak check of
// `@walnats/walnats/testing` reads this.
const live = new Set<NatsConnection>();

/** How many connections made by {@linkcode connect} are still open. */
export function openConnections(): number {
  return live.size;
}

// Every runtime gets the `node:net` adapter, Deno too: Deno's Node sockets
// write while a synchronous loop runs (a `Deno.Conn` write waits for the
// loop to end), so fire-and-forget streams to the server, and the adapter
// coalesces writes; measured in bench/ (README, Performance). The `./deno`
// adapter over `Deno.connect` stays for code that wants Deno's own sockets.
function load(): Promise<Transport> {
  return runtime() === "bun" ? import("./bun.ts") : import("./node.ts");
}

/**
 * Connect to NATS over `node:net`, which Node, Bun and Deno all provide
 * (the `./deno` adapter connects over Deno's own sockets instead).
 *
 * The server is the argument, else the `NATS_URL` environment variable
 * (comma-separated URLs), else `nats://127.0.0.1:4222`. Unless the options
 * say otherwise the connection reconnects forever.
 *
 * @param server URL, URL list, or nats-core connection options.
 * @returns The connection.
 *
 * @example Connect and close
 * ```ts
 * import { connect } from "@walnats/walnats";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const nc = await connect(server.url); // or a list, or ConnectionOptions
 * assert.equal(typeof nc.info?.version, "string");
 * await nc.close();
 * ```
 */
export function connect(
  server?: string | string[] | ConnectionOptions,
): Promise<NatsConnection> {
  adapter ??= load();
  return adapter.then(async (t) => {
    const nc = await t.connect(server);
    live.add(nc);
    nc.closed().then(() => live.delete(nc), () => live.delete(nc));
    return nc;
  });
}
