/**
 * Node adapter: `connect` over `@nats-io/transport-node` (Node's `net`).
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
/** @ignore */
import type { Server } from "@nats-io/nats-core/internal";
/** @ignore */
import { isIP, setTransportFactory } from "@nats-io/nats-core/internal";
// Deep import: the package exports only its own `connect`, which would
// install its transport without our first-connect watch.
/** @ignore */
import {
  nodeResolveHost,
  NodeTransport,
} from "@nats-io/transport-node/lib/node_transport.js";
import { setImmediate } from "node:timers";
import { checkServerIdentity } from "node:tls";
import { resolveOptions } from "./_connection_options.ts";
import { connectFast } from "./_connect_error.ts";

const ignore = (): void => {};

function env(name: string): string | undefined {
  try {
    return globalThis.process?.env?.[name];
  } catch {
    // Deno without --allow-env: behave as if the variable were not set.
    return undefined;
  }
}

// Gathered frames this large go out at once instead of after the turn; a
// frame this large on its own is written as it is.
const COALESCE_BYTES = 64 * 1024;
const DIRECT_BYTES = 16 * 1024;

// nats.js' transport removes every listener of a socket it is done with,
// its "error" listener too; a late ECONNRESET (the server refused the
// credentials and reset the socket) is then an uncaught exception that
// kills the process on Deno's Node layer. Keep a listener on such sockets.
//
// It also coalesces writes. nats.js hands its buffer to the transport once
// per microtask, and `socket.write` makes one system call each time, so a
// loop that awaits every publish (or a burst of acks and replies) pays a
// write per message. Frames handed over in one turn of the event loop go out
// as one write after it (`setImmediate`), or at once when COALESCE_BYTES
// have gathered, so a long synchronous loop still streams to the server.
class NodeSocketTransport extends NodeTransport {
  #frames: Uint8Array[] = [];
  #size = 0;
  #scheduled = false;
  readonly #flushLater = (): void => {
    this.#scheduled = false;
    this.#write();
  };

  constructor() {
    super();
    const self = this as unknown as {
      _closed: (err?: Error, internal?: boolean) => Promise<void>;
    };
    const closed = self._closed.bind(this);
    self._closed = async (err?: Error, internal?: boolean) => {
      const socket = this.socket;
      // What was handed over before the close goes out before it.
      if (err === undefined) this.#write();
      this.#drop();
      try {
        await closed(err, internal);
      } finally {
        socket?.on("error", ignore);
      }
    };
  }

  override send(frame: Uint8Array): void {
    if (frame.length === 0) return;
    if (!this.#scheduled) {
      // The first frame of a turn goes out at once: a lone message pays no
      // latency for the coalescing.
      this.#scheduled = true;
      setImmediate(this.#flushLater);
      super.send(frame);
      return;
    }
    if (frame.length >= DIRECT_BYTES) {
      // Already large (nats.js hands over 32 KiB at a time in a long
      // loop): nothing to gain from copying it.
      this.#write();
      super.send(frame);
      return;
    }
    this.#frames.push(frame);
    this.#size += frame.length;
    if (this.#size >= COALESCE_BYTES) this.#write();
  }

  #write(): void {
    const frames = this.#frames;
    if (frames.length === 0) return;
    let data = frames[0]!;
    if (frames.length > 1) {
      data = new Uint8Array(this.#size);
      let at = 0;
      for (const frame of frames) {
        data.set(frame, at);
        at += frame.length;
      }
    }
    this.#drop();
    super.send(data);
  }

  #drop(): void {
    this.#frames.length = 0;
    this.#size = 0;
  }

  override discard(): void {
    const socket = this.socket;
    this.#drop();
    super.discard();
    socket?.on("error", ignore);
  }
}

// nats-core names no TLS server for a URL whose host is an IP address, and
// Node then checks the certificate against "localhost". Check it against
// the IP instead (a certificate for an IP lists it as an IP SAN); SNI stays
// off, as RFC 6066 wants for IP addresses.
function dialOptions(
  server: Server,
  options: ConnectionOptions,
): ConnectionOptions {
  const tls = options.tls;
  if (
    tls === null || tls === undefined || server.tlsName ||
    !isIP(server.hostname) || "checkServerIdentity" in tls
  ) {
    return options;
  }
  const ip = server.hostname;
  return {
    ...options,
    tls: {
      ...tls,
      checkServerIdentity: (_host: string, cert: unknown) =>
        checkServerIdentity(
          ip,
          cert as Parameters<typeof checkServerIdentity>[1],
        ),
    } as typeof tls,
  };
}

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
 * @throws {ConnectError} The promise rejects if the first connection
 *   fails: credentials refused, TLS or a client certificate refused,
 *   connection refused, or no handshake within `timeout`; the error names
 *   the URL and the reason, within about a second for all but a timeout.
 *   Only later disconnects are retried.
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
  const options = resolveOptions(server, env);
  setTransportFactory({
    factory: () => new NodeSocketTransport(),
    dnsResolveFn: nodeResolveHost,
  });
  return connectFast(options, dialOptions);
}
