// `walnats dashboard`: serve the web dashboard (node:http, which Deno and
// Bun provide too) until Ctrl-C.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/nats-core";
import { MIN_TOKEN_LENGTH } from "../dashboard/_auth.ts";
import { dashboard } from "../dashboard/dashboard.ts";
import { nodeListener } from "../dashboard/node.ts";
import type { Services } from "../services/services.ts";
import { connect } from "../transports/connect.ts";
import {
  bool,
  CliError,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  duration,
  type Parsed,
  str,
  UsageError,
} from "./_args.ts";
import type { Command, Context } from "./_command.ts";
import { connectionOptions } from "./_connect.ts";
import { loadServices } from "./_services.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export const dashboardCommand: Command = {
  name: "dashboard",
  summary: "serve the web dashboard",
  flags: {
    ...CONNECTION_FLAGS,
    port: "string",
    host: "string",
    prefix: "string",
    "read-only": "boolean",
    "admin-token": "string",
    services: "string",
    export: "string",
    refresh: "string",
    title: "string",
  },
  help:
    `usage: walnats dashboard [--port 8080] [--host 127.0.0.1] [--prefix /ops]
                         [--read-only | --admin-token T] [--services MODULE]
                         [--refresh 5s] [connection options]

Serve the web dashboard until Ctrl-C: events and actors with lag and
throughput charts, dead letters, schedules, a live feed, and with
--services the architecture and AsyncAPI document. Nothing is loaded from
the network: it works with the network closed.

  --port N            port to listen on (default 8080; 0 picks a free one)
  --host H            address to listen on (default 127.0.0.1, this machine only)
  --prefix P          serve under a path prefix such as /ops
  --read-only         no actions (the default)
  --admin-token T     allow replay, delete, pause and resume to whoever
                      enters T in the page (at least ${MIN_TOKEN_LENGTH} characters;
                      WALNATS_DASHBOARD_TOKEN works too and keeps it out of
                      the process list)
  --services MODULE   a module exporting a Services (its actors' code is
                      then compared with the consumers); --export NAME
                      picks one of several
  --refresh D         how often status is sampled (default 5s)
  --title T           the page title

--token is the NATS server's authentication token, not the dashboard's.

${CONNECTION_HELP}`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    if (p.positionals.length > 0) {
      throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    }
    const portText = str(p, "port") ?? "8080";
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) {
      throw new UsageError(`--port must be 0 to 65535, got "${portText}"`);
    }
    const host = str(p, "host") ?? "127.0.0.1";
    const token = str(p, "admin-token") ?? ctx.env("WALNATS_DASHBOARD_TOKEN");
    if (bool(p, "read-only") && str(p, "admin-token") !== undefined) {
      throw new UsageError("give --read-only or --admin-token, not both");
    }
    const readOnly = bool(p, "read-only") || token === undefined;
    if (!readOnly && token!.length < MIN_TOKEN_LENGTH) {
      throw new UsageError(
        `the admin token must be at least ${MIN_TOKEN_LENGTH} characters long`,
      );
    }
    const refreshText = str(p, "refresh");
    const refresh = refreshText === undefined
      ? 5000
      : duration("--refresh", refreshText);
    const prefix = str(p, "prefix") ?? "";
    if (prefix !== "" && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) {
      throw new UsageError(
        `--prefix must be a path such as /ops (no trailing slash), got "${prefix}"`,
      );
    }
    const modulePath = str(p, "services");
    let services: Services | undefined;
    if (modulePath !== undefined) {
      services = await loadServices(modulePath, str(p, "export"), ctx.cwd);
    } else if (str(p, "export") !== undefined) {
      throw new UsageError("--export goes with --services");
    }

    const options = await connectionOptions(p, ctx.env);
    const where = (options.servers as string[]).join(",");
    let nc: NatsConnection;
    try {
      // The first connect fails fast; after that it reconnects for ever.
      nc = await connect({
        ...options,
        reconnect: true,
        maxReconnectAttempts: -1,
        name: "walnats-dashboard",
      });
    } catch (error) {
      throw new CliError(
        `cannot connect to ${where}: ${(error as Error).message}`,
      );
    }
    const handler = dashboard({
      nc,
      readOnly,
      ...(readOnly ? {} : { token: token! }),
      prefix,
      refresh,
      ...(services === undefined ? {} : { services }),
      ...(str(p, "title") === undefined ? {} : { title: str(p, "title")! }),
      // On loopback, refuse other Host names (DNS rebinding).
      ...(LOOPBACK.has(host)
        ? { hosts: ["localhost", "127.0.0.1", "[::1]"] }
        : {}),
      onAction: (r) =>
        ctx.io.err(
          `${r.time} ${r.action}${r.event ? ` event=${r.event}` : ""}${
            r.actor ? ` actor=${r.actor}` : ""
          } count=${r.count}`,
        ),
    });
    const server = createServer(nodeListener(handler));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      await handler.close();
      await nc.close().catch(() => {});
      throw new CliError(
        `cannot listen on ${host}:${port}: ${(error as Error).message}`,
      );
    }
    const bound = (server.address() as AddressInfo).port;
    const shown = host.includes(":") && !host.startsWith("[")
      ? `[${host}]`
      : host;
    ctx.io.out(
      `dashboard on http://${shown}:${bound}${prefix}/ (${
        readOnly ? "read-only" : "actions need the admin token"
      })`,
    );
    if (!readOnly && !LOOPBACK.has(host)) {
      ctx.io.err(
        "warning: actions are on and the dashboard listens beyond this machine over plain HTTP; put it behind HTTPS",
      );
    }
    handler.sample().catch(() => {});
    try {
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) return resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        nc.closed().then(() => resolve());
      });
    } finally {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      await handler.close();
      await closed;
      await nc.close().catch(() => {});
    }
    ctx.io.err("dashboard stopped");
    return 0;
  },
};
