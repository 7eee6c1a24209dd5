// The first connect, failing fast and saying why.
//
// nats-core waits for the server's PONG to the CONNECT it sent; when the
// server closes the socket instead (a refused client certificate is only
// seen after the TLS handshake, or a server that drops unauthenticated
// clients without an -ERR), nothing rejects that wait but the 20 s
// `timeout`, and the error is a bare `TimeoutError: timeout`. Here every
// transport a connection creates is watched: if it closes before the
// handshake finished, the wait is rejected at once with the transport's own
// error, so nats-core moves on to the next server or gives up. The final
// error is a ConnectError naming the URL and the reason.
/** @ignore */
import type {
  ConnectionOptions,
  NatsConnection,
  Server,
  Transport,
} from "@nats-io/nats-core/internal";
/** @ignore */
import {
  errors,
  NatsConnectionImpl,
  ProtocolHandler,
} from "@nats-io/nats-core/internal";
import { ConnectError, type ConnectErrorReason } from "../errors.ts";

/** Changes the options one transport connects with (per server). */
export type DialOptions = (
  server: Server,
  options: ConnectionOptions,
) => ConnectionOptions;

interface Failure {
  url: string;
  error: unknown;
}

// The protocol handler's fields this module reads or drives (nats-core
// 3.4.0 internals, pinned in package.json).
interface Protocol {
  options: ConnectionOptions;
  transport: Transport;
  connected: boolean;
  connectError?: (error: Error) => void;
  info?: { tls_verify?: boolean };
  prepare(): unknown;
  dialLoop(): Promise<void>;
}

function urlOf(server: Server | undefined, options: ConnectionOptions): string {
  if (server !== undefined) {
    const src = (server as { src?: string }).src;
    if (typeof src === "string" && src.includes("://")) return src;
    return `nats://${server.hostname}:${server.port}`;
  }
  const s = options.servers;
  return Array.isArray(s) ? s.join(", ") : String(s ?? "");
}

/**
 * Connect like nats-core's `NatsConnectionImpl.connect`, but fail as soon
 * as a server closes the socket during the handshake, and reject with a
 * {@linkcode ConnectError}.
 */
export async function connectFast(
  options: ConnectionOptions,
  dialOptions?: DialOptions,
): Promise<NatsConnection> {
  // The constructor is private in the typings; connect() calls it the same way.
  const nc = new (NatsConnectionImpl as unknown as new (
    options: ConnectionOptions,
  ) => NatsConnectionImpl)(options);
  const h = new ProtocolHandler(nc.options, nc) as unknown as Protocol;
  const failures: Failure[] = [];
  const prepare = h.prepare.bind(h);
  h.prepare = () => {
    const pong = prepare();
    const transport = h.transport;
    let server: Server | undefined;
    const connect = transport.connect.bind(transport);
    transport.connect = async (hp: Server, opts: ConnectionOptions) => {
      server = hp;
      try {
        return await connect(hp, dialOptions ? dialOptions(hp, opts) : opts);
      } catch (error) {
        failures.push({ url: urlOf(hp, opts), error });
        throw error;
      }
    };
    transport.closed().then((closeError) => {
      // Closed after the handshake: an ordinary disconnect, nats-core's.
      if (h.connected || h.transport !== transport) return;
      let error = closeError instanceof Error
        ? closeError
        : new errors.ConnectionError(
          "the server closed the connection during the handshake",
        );
      if (h.info?.tls_verify === true) {
        // The server asks for a client certificate and hung up after the
        // TLS handshake: it refused ours (or its absence).
        error = new errors.ConnectionError(
          `client certificate refused: ${error.message}`,
          { cause: error },
        );
      }
      failures.push({ url: urlOf(server, h.options), error });
      h.connectError?.(error);
    });
    return pong;
  };
  try {
    await h.dialLoop();
  } catch (error) {
    throw toConnectError(error, failures, nc.options);
  }
  (nc as unknown as { protocol: unknown }).protocol = h;
  return nc as unknown as NatsConnection;
}

const TLS_CODE =
  /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH)/;

/** Why a connect failed, and a sentence for the user. */
export function explain(error: unknown): {
  reason: ConnectErrorReason;
  detail: string;
} {
  const e = error as { name?: string; message?: string; code?: string };
  const message = String(e?.message ?? error);
  const code = typeof e?.code === "string" ? e.code : "";
  const text = `${code} ${message}`;
  if (
    e?.name === "AuthorizationError" ||
    e?.name === "UserAuthenticationExpiredError" ||
    /authori[sz]ation violation|authentication (timeout|expired|revoked)/i
      .test(text)
  ) {
    return {
      reason: "auth",
      detail: `the server refused the credentials (${message})`,
    };
  }
  if (
    /client certificate refused|certificate required|bad ?certificate|ALERT_(BAD_)?CERTIFICATE/i
      .test(text)
  ) {
    return {
      reason: "tls",
      detail:
        `the server requires a client certificate (mutual TLS) and refused the one presented, or none was (${message})`,
    };
  }
  if (
    TLS_CODE.test(code) || /\b(tls|ssl|certificate|handshake)\b/i.test(text)
  ) {
    return { reason: "tls", detail: `TLS failed (${message})` };
  }
  if (
    code === "ECONNREFUSED" || e?.name === "ConnectionRefused" ||
    /connection refused|ECONNREFUSED/i.test(text)
  ) {
    return {
      reason: "refused",
      detail: "connection refused: is nats-server running on that address?",
    };
  }
  if (e?.name === "TimeoutError") {
    return {
      reason: "timeout",
      detail:
        "no NATS handshake within the connect timeout: is it a NATS port, reachable, and does it need TLS?",
    };
  }
  if (/closed/i.test(message)) {
    return {
      reason: "closed",
      detail:
        `the server closed the connection during the handshake (${message})`,
    };
  }
  return { reason: "other", detail: message };
}

/** The error a failed first connect rejects with. */
export function toConnectError(
  error: unknown,
  failures: readonly Failure[],
  options: ConnectionOptions,
): ConnectError {
  if (error instanceof ConnectError) return error;
  // The server that failed last is the one nats-core reports; name every
  // other one that failed differently too.
  const last = failures.at(-1);
  const { reason, detail } = explain(error);
  const url = last?.url ?? urlOf(undefined, options);
  const others = new Map<string, string>();
  for (const f of failures) {
    if (f.url !== url) others.set(f.url, explain(f.error).detail);
  }
  const also = [...others].map(([u, d]) => `; ${u}: ${d}`).join("");
  return new ConnectError(url, reason, `${detail}${also}`, { cause: error });
}
