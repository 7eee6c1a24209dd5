/**
 * A leak check for test suites: after each test, every `nats-server` it
 * started must be stopped and every connection walnats' `connect()` opened
 * must be closed (runtime sanitizers do not cover `node:test` on Bun and
 * Node).
 *
 * @module
 */
import { openConnections } from "../transports/connect.ts";
import { runningServers } from "./server.ts";

/** What is still open. */
export interface Leaks {
  /** `nats-server` processes started by `NatsServer` and still running. */
  servers: number;
  /** Connections made by `connect()` (and `Events`/`Actors.connect()`). */
  connections: number;
}

/**
 * Count what is still open right now.
 *
 * @returns The counts.
 */
export function leaks(): Leaks {
  return { servers: runningServers(), connections: openConnections() };
}

/**
 * Wait until nothing is open (closing is asynchronous), or throw naming
 * what is left after `timeout` milliseconds.
 *
 * @param timeout Milliseconds to wait. @default {5000}
 * @throws {Error} Servers or connections are still open.
 *
 * @example Check after every test
 * ```ts ignore
 * import { afterEach } from "node:test";
 * import { assertNoLeaks } from "@walnats/walnats/testing";
 *
 * afterEach(() => assertNoLeaks());
 * ```
 */
export async function assertNoLeaks(timeout = 5000): Promise<void> {
  const deadline = performance.now() + timeout;
  let left = leaks();
  while (left.servers + left.connections > 0) {
    if (performance.now() > deadline) {
      throw new Error(
        `Leak check: ${left.servers} nats-server process(es) and ${left.connections} NATS connection(s) still open after the test; stop servers and close connections (await using) before it ends`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = leaks();
  }
}
