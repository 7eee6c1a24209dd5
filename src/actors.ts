/**
 * {@linkcode Actors}: the registry of actors a subscriber runs.
 *
 * @module
 */
/** @ignore */
import type { JetStreamOptions } from "@nats-io/jetstream";
import { type AnyActor, isActor } from "./actor.ts";
import type { Server } from "./transports/connect.ts";
import { OPEN, openJetStream } from "./transports/_open.ts";
import { Subscriber } from "./listen/subscriber.ts";

/** Options for {@linkcode Actors.connect}. */
export interface ActorsConnectOptions {
  /**
   * Close a passed-in `NatsConnection` when the subscriber is closed.
   * @default {false}
   */
  closeConnection?: boolean;
  /**
   * JetStream options: a `domain` (leaf nodes, hubs) or an `apiPrefix`
   * (an imported account's API), and the API request `timeout` (ms).
   * @default {{}}
   */
  jetstream?: JetStreamOptions;
}

/**
 * A registry of actors, used by subscribers to register consumers and
 * listen.
 *
 * @example Run actors
 * ```ts
 * import * as v from "valibot";
 * import { Actor, Actors, Event, Events } from "@walnats/walnats";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
 * const greeted: number[] = [];
 * const GREET = new Actor("greet", USER_CREATED, (user) => {
 *   greeted.push(user.id);
 * });
 * await using pub = await new Events(USER_CREATED).connect(server.url);
 * await pub.register();
 * await using sub = await new Actors(GREET).connect(server.url);
 * await sub.register();
 * await pub.emit(USER_CREATED, { id: 1 });
 * const report = await sub.listen({ burst: true }); // one pull, then return
 * assert.equal(report.succeeded, 1);
 * assert.deepEqual(greeted, [1]);
 * ```
 */
export class Actors {
  readonly #actors: readonly AnyActor[];

  /**
   * Group actors to register and listen together.
   *
   * @param actors The actors; names must be unique per event.
   * @throws {TypeError} Two actors of one event share a name, or an argument
   *   is not an `Actor`.
   */
  constructor(...actors: AnyActor[]) {
    const seen = new Map<string, AnyActor>();
    for (const actor of actors) {
      if (!isActor(actor)) {
        throw new TypeError(
          `Cannot create Actors: every argument must be an Actor, got ${
            actor === null ? "null" : typeof actor
          }`,
        );
      }
      const key = `${actor.event.stream}/${actor.name}`;
      const existing = seen.get(key);
      if (existing !== undefined && existing !== actor) {
        throw new TypeError(
          `Cannot create Actors: two actors of event "${actor.event.name}" are named "${actor.name}"`,
        );
      }
      seen.set(key, actor);
    }
    this.#actors = Object.freeze([...seen.values()]);
  }

  /** The registered actors. */
  get actors(): readonly AnyActor[] {
    return this.#actors;
  }

  /**
   * Connect to NATS for listening.
   *
   * @param server URL, URL list, nats-core options, or an open
   *   `NatsConnection`; default `NATS_URL`, else `nats://127.0.0.1:4222`.
   * @param options Whether to close a passed-in connection on close.
   * @returns The subscriber; dispose of it (or `close()`) when done.
   */
  async connect(
    server?: Server,
    options: ActorsConnectOptions = {},
  ): Promise<Subscriber> {
    const opened = await openJetStream(
      server,
      options.closeConnection,
      options.jetstream,
    );
    return Subscriber[OPEN](opened, this.#actors);
  }
}
