/**
 * {@linkcode Service}: one deployable that emits some events and runs some
 * actors, and the plain description of a system that the renderers read.
 *
 * @module
 */
import { type AnyActor, isActor } from "../actor.ts";
import { type AnyEvent, isEvent } from "../event.ts";

/** Options for {@linkcode Service}. */
export interface ServiceOptions {
  /** What the service does; shown in the AsyncAPI document. */
  description?: string;
  /** The service's version, for the AsyncAPI document. */
  version?: string;
  /** Events the service emits. @default {[]} */
  emits?: readonly AnyEvent[];
  /** Actors the service runs. @default {[]} */
  actors?: readonly AnyActor[];
}

const SERVICE_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Order things by name (then callers break ties). */
export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * A service: one deployable that emits some events and runs some actors.
 *
 * @example Describe a service
 * ```ts
 * import * as v from "valibot";
 * import { Actor, Event } from "@walnats/walnats";
 * import { Service } from "@walnats/walnats/services";
 * import assert from "node:assert/strict";
 *
 * const USER_CREATED = new Event("user-created", v.object({ id: v.number() }));
 * const users = new Service("users", { emits: [USER_CREATED] });
 * const mail = new Service("mail", {
 *   actors: [new Actor("welcome", USER_CREATED, () => {})],
 * });
 * assert.deepEqual(users.emits.map((e) => e.name), ["user-created"]);
 * assert.equal(mail.actors[0]?.name, "welcome");
 * ```
 */
export class Service {
  /** The service name (kebab-case, unique among services). */
  readonly name: string;
  /** What the service does. */
  readonly description: string | undefined;
  /** The service's version. */
  readonly version: string | undefined;
  /** Events the service emits, sorted by name. */
  readonly emits: readonly AnyEvent[];
  /** Actors the service runs, sorted by name, then event name. */
  readonly actors: readonly AnyActor[];

  /**
   * Describe a service.
   *
   * @param name Kebab-case name (`users`, `billing-api`).
   * @param options Description, version, emitted events, actors.
   * @throws {TypeError} The name or an option has the wrong form, or an
   *   event or actor is listed twice.
   */
  constructor(name: string, options: ServiceOptions = {}) {
    if (typeof name !== "string" || !SERVICE_NAME.test(name)) {
      throw new TypeError(
        `Cannot create service ${
          JSON.stringify(name)
        }: name must be kebab-case (lowercase letters, digits and single dashes), for example "users"`,
      );
    }
    const what = `Cannot create service "${name}"`;
    const { description, version, emits = [], actors = [] } = options;
    if (
      description !== undefined &&
      (typeof description !== "string" || description.trim() === "")
    ) {
      throw new TypeError(`${what}: description must be a non-empty string`);
    }
    if (
      version !== undefined &&
      (typeof version !== "string" || version.trim() === "")
    ) {
      throw new TypeError(`${what}: version must be a non-empty string`);
    }
    if (!Array.isArray(emits)) {
      throw new TypeError(`${what}: emits must be an array of events`);
    }
    if (!Array.isArray(actors)) {
      throw new TypeError(`${what}: actors must be an array of actors`);
    }
    const seenEvents = new Set<string>();
    emits.forEach((event: unknown, i) => {
      if (!isEvent(event)) {
        throw new TypeError(`${what}: emits[${i}] is not an Event`);
      }
      if (seenEvents.has(event.name)) {
        throw new TypeError(
          `${what}: event "${event.name}" is listed twice in emits`,
        );
      }
      seenEvents.add(event.name);
    });
    const seenActors = new Set<string>();
    actors.forEach((actor: unknown, i) => {
      if (!isActor(actor)) {
        throw new TypeError(`${what}: actors[${i}] is not an Actor`);
      }
      const key = `${actor.name} ${actor.event.name}`;
      if (seenActors.has(key)) {
        throw new TypeError(
          `${what}: actor "${actor.name}" of event "${actor.event.name}" is listed twice`,
        );
      }
      seenActors.add(key);
    });
    this.name = name;
    this.description = description;
    this.version = version;
    this.emits = Object.freeze([...emits].sort(byName));
    this.actors = Object.freeze(
      [...actors].sort((a, b) => byName(a, b) || byName(a.event, b.event)),
    );
  }
}

/** One actor of one service, for rendering. */
export interface Handling {
  service: Service;
  actor: AnyActor;
}

/** What the renderers need: events by name (sorted), who emits, who handles. */
export interface SystemGraph {
  /** The services, sorted by name. */
  readonly services: readonly Service[];
  /** Events by name, sorted by name. */
  readonly events: ReadonlyMap<string, AnyEvent>;
  /** Services emitting each event, by event name. */
  readonly emitters: ReadonlyMap<string, Service[]>;
  /** Actors handling each event, by event name. */
  readonly handlers: ReadonlyMap<string, Handling[]>;
}
