/**
 * Test helpers: a real `nats-server` with JetStream on a free loopback port
 * and a temporary store, or a cluster of them (`NatsCluster`), for your own
 * tests as for ours; and {@linkcode MemoryBroker}, NATS and JetStream in
 * memory on a virtual clock, for unit tests that run in milliseconds.
 *
 * @example Use a server in a test
 * ```ts
 * import * as v from "valibot";
 * import { Event, Events } from "@walnats/walnats";
 * import { assertNoLeaks, NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * const PING = new Event("ping", v.object({}));
 * {
 *   await using server = await NatsServer.start(); // free port, temp store
 *   await using pub = await new Events(PING).connect(server.url);
 *   await pub.register();
 *   assert.equal((await pub.emit(PING, {})).sequence, 1);
 * } // the publisher closes, then the server stops and its store is removed
 * await assertNoLeaks();
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
export { MemoryBroker } from "./memory/broker.ts";
export type {
  AdvanceUntilOptions,
  MemoryBrokerOptions,
  MemoryConnectOptions,
} from "./memory/broker.ts";
