/**
 * Test helpers: a real `nats-server` with JetStream on a free loopback port
 * and a temporary store, or a cluster of them (`NatsCluster`), for your own
 * tests as for ours.
 *
 * @example Use a server in a test
 * ```ts ignore
 * import { NatsServer } from "@walnats/walnats/testing";
 *
 * await using server = await NatsServer.start();
 * const pub = await events.connect(server.url);
 * ```
 *
 * @module
 */
export {
  findNatsServer,
  NatsServer,
  NatsServerNotFoundError,
  runningServers,
} from "./server.ts";
export type { NatsServerOptions } from "./server.ts";
export { assertNoLeaks, leaks } from "./leaks.ts";
export type { Leaks } from "./leaks.ts";
export { NatsCluster } from "./cluster.ts";
export type { ClusterWaitOptions, NatsClusterOptions } from "./cluster.ts";
