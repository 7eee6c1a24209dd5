// Connecting the CLI: the shared flags, NATS_URL, a short timeout and no
// reconnect, so a server that is down is reported within seconds.
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/nats-core";
import { readFile } from "node:fs/promises";
import { connect } from "../transports/connect.ts";
import { DEFAULT_URL } from "../transports/_connection_options.ts";
import { CliError, type Parsed, str, UsageError } from "./_args.ts";
import { ConnectError } from "../errors.ts";

/** Milliseconds to wait for the server before giving up. */
export const CONNECT_TIMEOUT = 2000;

/** Build connection options from the flags and the environment. */
export async function connectionOptions(
  p: Parsed,
  env: (name: string) => string | undefined,
): Promise<ConnectionOptions> {
  const server = str(p, "server") ?? env("NATS_URL") ?? DEFAULT_URL;
  const servers = server.split(",").map((s) => s.trim()).filter((s) => s);
  if (servers.length === 0) throw new UsageError("--server is empty");
  const options: ConnectionOptions = {
    servers,
    timeout: CONNECT_TIMEOUT,
    reconnect: false,
    maxReconnectAttempts: 0,
    name: "walnats-cli",
  };
  const user = str(p, "user");
  const password = str(p, "password");
  if ((user === undefined) !== (password === undefined)) {
    throw new UsageError("--user and --password go together");
  }
  if (user !== undefined) {
    options.user = user;
    options.pass = password!;
  }
  const token = str(p, "token");
  if (token !== undefined) options.token = token;
  const creds = str(p, "creds");
  if (creds !== undefined) {
    let text: string;
    try {
      text = await readFile(creds, "utf8");
    } catch (error) {
      throw new CliError(
        `cannot read the credentials file ${creds}: ${
          (error as Error).message
        }`,
      );
    }
    options.authenticator = credsAuthenticator(new TextEncoder().encode(text));
  }
  const ca = str(p, "tls-ca");
  if (ca !== undefined) {
    try {
      await readFile(ca);
    } catch (error) {
      throw new CliError(
        `cannot read the CA file ${ca}: ${(error as Error).message}`,
      );
    }
    options.tls = { caFile: ca };
  }
  return options;
}

/** An open connection and its JetStream manager. */
export interface Session {
  nc: NatsConnection;
  jsm: JetStreamManager;
  close(): Promise<void>;
}

/** Connect, check JetStream, or fail with one clear line. */
export async function open(
  p: Parsed,
  env: (name: string) => string | undefined,
): Promise<Session> {
  const options = await connectionOptions(p, env);
  const where = (options.servers as string[]).join(",");
  let nc: NatsConnection;
  try {
    nc = await connect(options);
  } catch (error) {
    let msg = (error as Error).message || String(error);
    // A ConnectError names the URL itself: keep only what went wrong.
    if (error instanceof ConnectError) {
      const prefix = `Cannot connect to ${error.url}: `;
      if (msg.startsWith(prefix)) msg = msg.slice(prefix.length);
    }
    const hint = /authoriz|authentic|credential|permission/i.test(msg)
      ? " (check --user/--password, --token or --creds)"
      : /tls|certificate/i.test(msg)
      ? " (check --tls-ca and the server's TLS settings)"
      : "";
    throw new CliError(`cannot connect to ${where}: ${msg}${hint}`);
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 3000 });
  } catch (error) {
    await nc.close().catch(() => {});
    throw new CliError(
      `JetStream does not answer on ${where}: ${
        (error as Error).message
      } (is JetStream enabled for this account?)`,
    );
  }
  return {
    nc,
    jsm,
    close: async () => {
      if (!nc.isClosed()) await nc.close().catch(() => {});
    },
  };
}
