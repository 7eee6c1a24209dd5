/**
 * A web dashboard for a walnats system, built in: one web-standard
 * `(Request) => Promise<Response>` handler ({@linkcode dashboard}) that
 * mounts in `Deno.serve`, `Bun.serve` or a Node `http` server
 * ({@linkcode nodeListener}), under a path prefix if wanted. Overview with
 * lag and throughput charts, actors, dead letters (inspect, replay,
 * delete), schedules, a live feed and the architecture of a `Services`.
 * Read-only by default; no external assets; a strict CSP.
 *
 * @example Mount it under /ops on Deno
 * ```ts ignore
 * import { connect } from "@walnats/walnats";
 * import { dashboard } from "@walnats/walnats/dashboard";
 *
 * const nc = await connect();
 * const ops = dashboard({ nc, prefix: "/ops" });
 * Deno.serve({ port: 8080, hostname: "127.0.0.1" }, ops);
 * ```
 *
 * @module
 */
export { dashboard } from "./dashboard.ts";
export type { ActionRecord, Dashboard, DashboardOptions } from "./dashboard.ts";
export { nodeListener } from "./node.ts";
export type { NodeRequest, NodeResponse } from "./node.ts";
