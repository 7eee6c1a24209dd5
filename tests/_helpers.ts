// Shared test helpers: connected actors on a test's own server, listening in
// the background, waiting on conditions.
import {
  Actors,
  type AnyActor,
  connect,
  Events,
  type EventsConnectOptions,
  type ListenOptions,
  type ListenReport,
  type Publisher,
  type Subscriber,
} from "../mod.ts";
import { afterEach } from "node:test";
import { assertNoLeaks, NatsServer } from "../src/testing/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo } from "@nats-io/jetstream";

export { NatsServer };

// Every test file that uses these helpers checks, after each test, that the
// test stopped its servers and closed its connections.
afterEach(() => assertNoLeaks());

/** How long {@linkcode waitFor} waits, and what it says when it gives up. */
export interface WaitOptions {
  /** Milliseconds before giving up. */
  timeout?: number;
  /** Milliseconds between checks. */
  interval?: number;
  /** What is waited for; a function is called only on timeout. */
  what?: string | (() => string);
}

/** Wait until `check` returns a truthy value, or fail after `timeout` ms. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeout = 10_000, interval = 20, what = "condition" }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeout;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(
    `Timed out after ${timeout} ms waiting for ${
      typeof what === "function" ? what() : what
    }${last ? `: ${String(last)}` : ""}`,
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

/** A publisher and a subscriber whose streams and consumers are registered. */
export interface Connected extends AsyncDisposable {
  readonly pub: Publisher;
  readonly sub: Subscriber;
}

/**
 * Connect a publisher of the actors' events and a subscriber of the actors to
 * `server`, and register both. Disposing closes the subscriber, then the
 * publisher.
 */
export async function connectActors(
  server: NatsServer,
  actors: AnyActor | AnyActor[],
  options: EventsConnectOptions = {},
): Promise<Connected> {
  const list = Array.isArray(actors) ? actors : [actors];
  const events = [...new Set(list.map((actor) => actor.event))];
  const pub = await new Events(...events).connect(server.url, options);
  try {
    await pub.register();
    const sub = await new Actors(...list).connect(server.url);
    try {
      await sub.register();
    } catch (error) {
      await sub.close();
      throw error;
    }
    return {
      pub,
      sub,
      async [Symbol.asyncDispose]() {
        await sub.close();
        await pub.close();
      },
    };
  } catch (error) {
    await pub.close();
    throw error;
  }
}

/** A `listen()` running in the background. */
export interface Listening extends AsyncDisposable {
  /** Abort the listening; its report once `listen()` returns. */
  stop(): Promise<ListenReport>;
}

/**
 * Start `sub.listen(options)` with a signal of its own. Disposing stops it if
 * the test did not, so a failed assertion leaves nothing listening.
 */
export function listenInBackground(
  sub: Subscriber,
  options: Omit<ListenOptions, "signal"> = {},
): Listening {
  const controller = new AbortController();
  const report = sub.listen({ ...options, signal: controller.signal });
  let stopped: Promise<ListenReport> | undefined;
  const stop = () => {
    controller.abort();
    return stopped ??= report;
  };
  return {
    stop,
    async [Symbol.asyncDispose]() {
      if (stopped === undefined) await stop();
    },
  };
}

/** Wait until a consumer has nothing pending or unacked; its last state. */
export async function settled(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  options: WaitOptions = {},
): Promise<ConsumerInfo> {
  return await waitFor(async () => {
    const info = await consumerInfo(nc, stream, consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0
      ? info
      : undefined;
  }, {
    timeout: 20_000,
    what: `consumer ${consumer} to have nothing pending`,
    ...options,
  });
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
