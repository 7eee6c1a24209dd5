/**
 * {@linkcode MemoryBroker}: NATS core and JetStream in memory, on a virtual
 * clock, for unit tests of actors that run in milliseconds.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Timers } from "../../timers.ts";
import { JetStream } from "./_api.ts";
import { settle, VirtualClock } from "./_clock.ts";
import { MemoryConnection } from "./_connection.ts";
import type { WireMsg } from "./_message.ts";
import { Router } from "./_router.ts";
import type { Env } from "./_stream.ts";

/** Options for {@linkcode MemoryBroker}. */
export interface MemoryBrokerOptions {
  /**
   * Epoch milliseconds (or a `Date`) at which virtual time starts; fix it
   * for tests whose results depend on the date.
   * @default {the real time when the broker is made}
   */
  start?: number | Date;
  /**
   * nats-server version the broker presents (`info.version`). From 2.10.4 on
   * `+TERM <reason>` terminates a message; before, the reason makes the
   * server ignore the term, as 2.9 does.
   * @default {"2.9.10"}
   */
  version?: string;
  /** Largest message (payload and headers) a client may publish, bytes. @default {1048576} */
  maxPayload?: number;
}

/** Options for {@linkcode MemoryBroker.connect}. */
export interface MemoryConnectOptions {
  /** Connection name. @default {"memory"} */
  name?: string;
  /** Prefix of the connection's inboxes. @default {"_INBOX"} */
  inboxPrefix?: string;
}

/** Options for {@linkcode MemoryBroker.advanceUntil}. */
export interface AdvanceUntilOptions {
  /** Most virtual milliseconds to advance before giving up. @default {3600000} */
  timeout?: number;
  /** What is waited for, for the error message. @default {"condition"} */
  what?: string;
}

/**
 * An in-memory NATS server with JetStream on a virtual clock. Connections
 * from {@linkcode MemoryBroker.connect} are nats-core `NatsConnection`s:
 * `Events.connect(nc)`, `Actors.connect(nc)` and the `@nats-io/jetstream`
 * clients run on them unchanged. Time stands still until
 * {@linkcode MemoryBroker.advance} moves it: redeliveries after `ack_wait`,
 * nak delays, pull request expiries and walnats' own timers (retry delays,
 * job timeouts, pulses, `pollDelay`) all follow it.
 *
 * Modelled as nats-server 2.9 does it: streams (limits, interest and
 * work-queue retention, the duplicate window, `Nats-Expected-*` headers),
 * durable pull consumers (ack, nak with delay, in progress, term,
 * `ack_wait`, `max_deliver`, `max_ack_pending`, backoff), pull requests
 * (batch, expires, no_wait, idle heartbeats, the 404/408/409 statuses),
 * the JetStream API's JSON and error codes, core subjects with wildcards,
 * queue groups, headers and "no responders". Not modelled: push consumers,
 * mirrors and sources, key-value and object stores, clustering, accounts
 * and permissions, advisories.
 *
 * @example Handle an event without a server
 * ```ts
 * import * as v from "valibot";
 * import assert from "node:assert/strict";
 * import { Actor, Actors, Event, Events } from "@walnats/walnats";
 * import { MemoryBroker } from "@walnats/walnats/testing";
 *
 * const ORDERED = new Event("order-placed", v.object({ id: v.number() }));
 * const seen: number[] = [];
 * const SHIP = new Actor("ship-order", ORDERED, (order) => {
 *   seen.push(order.id);
 * });
 *
 * await using broker = new MemoryBroker();
 * await using pub = await new Events(ORDERED).connect(broker.connect());
 * await pub.register();
 * await using sub = await new Actors(SHIP).connect(broker.connect());
 * await sub.register();
 * await pub.emit(ORDERED, { id: 7 });
 * const report = await sub.listen({ burst: true });
 * assert.equal(report.succeeded, 1);
 * assert.deepEqual(seen, [7]);
 * ```
 */
export class MemoryBroker implements AsyncDisposable {
  readonly #clock: VirtualClock;
  readonly #router: Router;
  readonly #js: JetStream;
  readonly #connections = new Set<MemoryConnection>();
  readonly #version: string;
  readonly #maxPayload: number;

  /**
   * A broker with no streams yet, its virtual clock standing at `start`.
   *
   * @param options Start time, emulated server version, max payload.
   * @throws {RangeError} `start` is not a finite time or `maxPayload` is not
   *   a positive integer.
   * @throws {TypeError} `version` is not `major.minor.patch`.
   */
  constructor(options: MemoryBrokerOptions = {}) {
    const start = options.start instanceof Date
      ? options.start.getTime()
      : options.start ?? Date.now();
    if (typeof start !== "number" || !Number.isFinite(start)) {
      throw new RangeError(
        `Cannot create a memory broker: start must be a finite time, got ${
          String(options.start)
        }`,
      );
    }
    const version = options.version ?? "2.9.10";
    if (typeof version !== "string" || !/^\d+\.\d+\.\d+/.test(version)) {
      throw new TypeError(
        `Cannot create a memory broker: version must be major.minor.patch, got ${
          String(version)
        }`,
      );
    }
    const maxPayload = options.maxPayload ?? 1024 * 1024;
    if (!Number.isInteger(maxPayload) || maxPayload <= 0) {
      throw new RangeError(
        `Cannot create a memory broker: maxPayload must be a positive integer, got ${maxPayload}`,
      );
    }
    this.#version = version;
    this.#maxPayload = maxPayload;
    this.#clock = new VirtualClock(start);
    this.#router = new Router((m) => this.#js.handle(m));
    const [major = 0, minor = 0, patch = 0] = version.split(/[.-]/).map(
      (p) => Number.parseInt(p, 10),
    );
    const env: Env = {
      clock: this.#clock,
      send: (m: WireMsg) => this.#router.send(m),
      hasInterest: (subject: string) => this.#router.hasInterest(subject),
      termReasons: major > 2 ||
        (major === 2 && (minor > 10 || (minor === 10 && patch >= 4))),
    };
    this.#js = new JetStream(env);
  }

  /**
   * A new connection: a nats-core `NatsConnection` to pass to
   * `Events.connect`, `Actors.connect`, `jetstream()` or
   * `jetstreamManager()`. Closing the broker closes it.
   *
   * @param options Name and inbox prefix.
   * @returns The connection.
   * @throws {TypeError} The broker is closed, or `inboxPrefix` is not a
   *   valid subject prefix.
   */
  connect(options: MemoryConnectOptions = {}): NatsConnection {
    if (this.#closed) {
      throw new TypeError("Cannot connect: the memory broker is closed");
    }
    const prefix = options.inboxPrefix;
    if (prefix !== undefined && !/^[^\s*>]+$/.test(prefix)) {
      throw new TypeError(
        `Cannot connect: inboxPrefix must be a subject prefix without wildcards, got ${
          JSON.stringify(prefix)
        }`,
      );
    }
    const conn = new MemoryConnection({
      router: this.#router,
      clock: this.#clock,
      version: this.#version,
      maxPayload: this.#maxPayload,
      closed: (c) => this.#connections.delete(c),
    }, {
      name: options.name ?? "memory",
      ...(prefix !== undefined ? { inboxPrefix: prefix } : {}),
    });
    this.#connections.add(conn);
    return conn;
  }

  /**
   * The virtual clock as walnats' `Timers`: `now()` is virtual epoch
   * milliseconds, `monotonic()` virtual milliseconds since the start.
   */
  get timers(): Timers {
    return this.#clock;
  }

  /** Virtual epoch milliseconds. */
  now(): number {
    return this.#clock.now();
  }

  /**
   * Move virtual time forward by `ms`, running everything due in that span
   * in time order (redeliveries, nak delays, pull expiries, heartbeats,
   * walnats' retry delays, job timeouts, pulses and clock ticks), letting
   * promises settle between steps. Deterministic: the same test takes the
   * same steps every run.
   *
   * @param ms Virtual milliseconds.
   * @returns Resolves once everything due was run and has settled.
   * @throws {RangeError} `ms` is negative or not finite.
   * @throws {TypeError} Another `advance()` is still running.
   *
   * @example Let a retry delay pass
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "@walnats/walnats/testing";
   *
   * await using broker = new MemoryBroker({ start: 0 });
   * let fired = 0;
   * broker.timers.setTimeout(() => fired++, 59_000);
   * await broker.advance(60_000);
   * assert.equal(broker.now(), 60_000);
   * assert.equal(fired, 1);
   * ```
   */
  advance(ms: number): Promise<void> {
    return this.#clock.advance(ms);
  }

  /**
   * Let in-flight messages and promise chains run, without moving time.
   *
   * @returns Resolves once they have settled.
   */
  settle(): Promise<void> {
    return settle();
  }

  /**
   * Advance virtual time step by step, to each next due timer, until
   * `check` returns a truthy value.
   *
   * @typeParam T What `check` returns.
   * @param check Called after every step.
   * @param options Most virtual time to spend, and what is waited for.
   * @returns What `check` returned.
   * @throws {Error} `check` was still falsy after `timeout` virtual ms.
   *
   * @example Wait for a timer far in the future
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "@walnats/walnats/testing";
   *
   * await using broker = new MemoryBroker({ start: 0 });
   * let done = false;
   * broker.timers.setTimeout(() => (done = true), 3_600_000);
   * await broker.advanceUntil(() => done, { timeout: 7_200_000 });
   * assert.equal(broker.timers.monotonic(), 3_600_000);
   * ```
   */
  async advanceUntil<T>(
    check: () => T | Promise<T>,
    options: AdvanceUntilOptions = {},
  ): Promise<NonNullable<T>> {
    const timeout = options.timeout ?? 3_600_000;
    const deadline = this.#clock.monotonic() + timeout;
    await settle();
    for (;;) {
      const value = await check();
      if (value) return value as NonNullable<T>;
      const now = this.#clock.monotonic();
      if (now >= deadline) break;
      const next = this.#clock.nextDue();
      const step = next === undefined
        ? deadline - now
        : Math.min(Math.max(0, next - now), deadline - now);
      await this.#clock.advance(step);
    }
    throw new Error(
      `Timed out after ${timeout} virtual ms waiting for ${
        options.what ?? "condition"
      }`,
    );
  }

  /** Names of the streams, sorted. */
  streams(): string[] {
    return [...this.#js.streams.keys()].sort();
  }

  #closed = false;

  /** Close every connection; the broker takes no new ones. */
  close(): Promise<void> {
    this.#closed = true;
    for (const conn of [...this.#connections]) void conn.close();
    for (const stream of this.#js.streams.values()) stream.delete();
    return Promise.resolve();
  }

  /** Same as {@linkcode MemoryBroker.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
