// Shared test helpers: a server per test file, waiting on conditions.
import { connect } from "../mod.ts";
import { NatsServer } from "../src/testing/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo } from "@nats-io/jetstream";

export { NatsServer };

/** Wait until `check` returns a truthy value, or fail after `timeout` ms. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeout = 10_000, interval = 20, what = "condition" } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(
    `Timed out after ${timeout} ms waiting for ${what}${
      last ? `: ${String(last)}` : ""
    }`,
  );
}

/** A raw NATS connection for inspecting state. */
export async function rawConnect(server: NatsServer): Promise<NatsConnection> {
  return await connect({ servers: server.url, maxReconnectAttempts: 2 });
}

/** Consumer state of an actor. */
export async function consumerInfo(
  nc: NatsConnection,
  stream: string,
  consumer: string,
): Promise<ConsumerInfo> {
  const jsm = await jetstreamManager(nc);
  return await jsm.consumers.info(stream, consumer);
}

/** A unique-enough suffix for names within one server. */
let counter = 0;
export function uniq(prefix: string): string {
  counter++;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Promise with its resolvers (Promise.withResolvers is not on Node 20). */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
