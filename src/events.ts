/**
 * {@linkcode Events}: the registry of events a publisher emits.
 *
 * @module
 */
/** @ignore */
import type { JetStreamOptions } from "@nats-io/jetstream";
import type { Server } from "./transports/connect.ts";
import { OPEN, openJetStream } from "./transports/_open.ts";
import { type AnyEvent, isEvent } from "./event.ts";
import { type HeaderHook, Publisher } from "./publish/publisher.ts";
import type { EmitObserver } from "./ops/emit_observer.ts";

/** Options for {@linkcode Events.connect}. */
export interface EventsConnectOptions {
  /**
   * Close the NATS connection when the publisher is closed. Connections made
   * by `connect` are always closed; a `NatsConnection` passed in is closed
   * only if this is true.
   * @default {false}
   */
  closeConnection?: boolean;
  /**
   * Called for every message emitted, after walnats' own headers are set:
   * add headers (trace context from `./otel`, tenant ids, ...). A hook
   * that throws fails the emit.
   * @default {[]}
   */
  headerHooks?: HeaderHook[];
  /**
   * Called after every publish with its outcome and duration (metrics:
   * `PrometheusEmitMetrics` from `./prometheus`, `otelEmitMetrics` from
   * `./otel`). An observer that throws does not fail the emit.
   * @default {[]}
   */
  onEmit?: EmitObserver[];
  /**
   * JetStream options: a `domain` (leaf nodes, hubs) or an `apiPrefix`
   * (an imported account's API), and the API request `timeout` (ms).
   * @default {{}}
   */
  jetstream?: JetStreamOptions;
}

/**
 * A registry of events, used by publishers to register streams and emit.
 *
 * @example Register and emit
 * ```ts
 * import * as v from "valibot";
 * import { Event, Events } from "@walnats/walnats";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
 * const events = new Events(USER_CREATED);
 * await using pub = await events.connect(server.url); // default: NATS_URL
 * const report = await pub.register();
 * assert.deepEqual(report.created, ["user-created"]);
 * const ack = await pub.emit(USER_CREATED, { id: 1 });
 * assert.equal(ack.sequence, 1);
 * ```
 */
export class Events {
  readonly #events: ReadonlyMap<string, AnyEvent>;

  /**
   * Collect the events a publisher emits.
   *
   * @param events The events; names must be unique, and no two may map to
   *   one stream (`a.b` and `a-b`). An event and its `withResponse` copy
   *   may both be given; the copy is kept.
   * @throws {TypeError} Two different events share a name or a stream, or
   *   an argument is not an `Event`.
   */
  constructor(...events: AnyEvent[]) {
    const map = new Map<string, AnyEvent>();
    const streams = new Map<string, string>();
    for (const event of events) {
      if (!isEvent(event)) {
        throw new TypeError(
          `Cannot create Events: every argument must be an Event, got ${
            event === null ? "null" : typeof event
          }`,
        );
      }
      const owner = streams.get(event.stream);
      if (owner !== undefined && owner !== event.name) {
        throw new TypeError(
          `Cannot create Events: events "${owner}" and "${event.name}" would share the stream "${event.stream}" (dots become dashes); rename one`,
        );
      }
      streams.set(event.stream, event.name);
      const existing = map.get(event.name);
      // A withResponse() copy shares the original's codec: that is fine;
      // two events built separately under one name are a mistake.
      if (
        existing !== undefined && existing !== event &&
        existing.codec !== event.codec
      ) {
        throw new TypeError(
          `Cannot create Events: two different events are named "${event.name}"`,
        );
      }
      // Keep the response-carrying copy if both are given.
      if (existing === undefined || event.response !== undefined) {
        map.set(event.name, event);
      }
    }
    this.#events = map;
  }

  /** The registered events. */
  get events(): AnyEvent[] {
    return [...this.#events.values()];
  }

  /**
   * Find a registered event by name.
   *
   * @param name The event name.
   * @returns The event, or `undefined`.
   */
  get(name: string): AnyEvent | undefined {
    return this.#events.get(name);
  }

  /**
   * Whether `event` (or one with its name) is registered.
   *
   * @param event An event or an event name.
   * @returns True if an event of that name is in the registry.
   */
  has(event: AnyEvent | string): boolean {
    return this.#events.has(typeof event === "string" ? event : event.name);
  }

  /**
   * Connect to NATS for publishing.
   *
   * @param server URL, URL list, nats-core options, or an open
   *   `NatsConnection`; default `NATS_URL`, else `nats://127.0.0.1:4222`.
   * @param options Whether to close a passed-in connection on close, and
   *   header hooks.
   * @returns The publisher; dispose of it (or `close()`) when done.
   * @throws {Error} The server cannot be reached, or has no JetStream.
   *
   * @example Share a connection the application already has
   * ```ts
   * import * as v from "valibot";
   * import { connect, Event, Events } from "@walnats/walnats";
   * import { NatsServer } from "@walnats/walnats/testing";
   * import assert from "node:assert/strict";
   *
   * await using server = await NatsServer.start();
   * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
   * const nc = await connect(server.url);
   * {
   *   await using pub = await new Events(USER_CREATED).connect(nc);
   *   await pub.register();
   *   await pub.emit(USER_CREATED, { id: 1 });
   * }
   * assert.equal(nc.isClosed(), false); // still open: it was passed in
   * await nc.close();
   * ```
   */
  async connect(
    server?: Server,
    options: EventsConnectOptions = {},
  ): Promise<Publisher> {
    const opened = await openJetStream(
      server,
      options.closeConnection,
      options.jetstream,
    );
    return Publisher[OPEN](
      opened,
      this.events,
      options.headerHooks ?? [],
      options.onEmit ?? [],
    );
  }
}
