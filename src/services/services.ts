/**
 * {@linkcode Services}: a description of which deployable emits which events
 * and runs which actors, rendered as an AsyncAPI 3 document (with JSON
 * Schemas of the payloads) and as D2 and Mermaid diagrams.
 *
 * Nothing here talks to NATS: walnats does not care where an event comes
 * from; this module only documents the system.
 *
 * @module
 */
import type { AnyEvent } from "../event.ts";
import { type AsyncApiOptions, renderAsyncApi } from "./asyncapi.ts";
import { renderD2, renderMermaid } from "./diagrams.ts";
import type { JsonObject } from "./json_schema.ts";
import {
  byName,
  type Handling,
  Service,
  type ServiceOptions,
  type SystemGraph,
} from "./service.ts";

export { Service };
export type { AsyncApiOptions, JsonObject, ServiceOptions };

/**
 * All services of a system: who emits and who handles which event. Renders
 * an AsyncAPI 3 document and D2 and Mermaid diagrams; output is sorted by
 * name, so it is the same whatever order things were declared in.
 *
 * An event that some actor handles but no service emits is *external*
 * (emitted by something not described here); it is listed in
 * {@linkcode Services.external} and marked in every rendering.
 *
 * @example Render a system
 * ```ts
 * import * as v from "valibot";
 * import { Actor, Event } from "@walnats/walnats";
 * import { Service, Services } from "@walnats/walnats/services";
 * import assert from "node:assert/strict";
 *
 * const USER_CREATED = new Event(
 *   "user-created",
 *   v.object({ id: v.number(), name: v.string() }),
 * );
 * const services = new Services(
 *   new Service("users", { emits: [USER_CREATED] }),
 *   new Service("mail", {
 *     actors: [new Actor("welcome", USER_CREATED, () => {})],
 *   }),
 * );
 * const doc = await services.asyncapi({ title: "shop" }) as {
 *   channels: Record<string, { address: string }>;
 * };
 * assert.equal(doc.channels["user-created"]?.address, "user-created");
 * assert.match(services.mermaid(), /-->\|"welcome"\| s0/);
 * ```
 */
export class Services {
  /** The services, sorted by name. */
  readonly services: readonly Service[];
  /** Names of events handled by some actor but emitted by no service. */
  readonly external: readonly string[];
  #events: Map<string, AnyEvent>;
  #emitters: Map<string, Service[]>;
  #handlers: Map<string, Handling[]>;

  get #system(): SystemGraph {
    return {
      services: this.services,
      events: this.#events,
      emitters: this.#emitters,
      handlers: this.#handlers,
    };
  }

  /**
   * Describe a system.
   *
   * @param services The services; names must be unique.
   * @throws {TypeError} An argument is not a {@linkcode Service}, two
   *   services share a name, or one actor (the same durable consumer) is in
   *   two services.
   */
  constructor(...services: Service[]) {
    const names = new Set<string>();
    services.forEach((s: unknown, i) => {
      if (!(s instanceof Service)) {
        throw new TypeError(
          `Cannot create services: argument ${i} is not a Service`,
        );
      }
      if (names.has(s.name)) {
        throw new TypeError(
          `Cannot create services: two services are named "${s.name}"`,
        );
      }
      names.add(s.name);
    });
    this.services = Object.freeze([...services].sort(byName));
    this.#events = new Map();
    this.#emitters = new Map();
    this.#handlers = new Map();
    const consumers = new Map<string, string>();
    for (const service of this.services) {
      for (const event of service.emits) {
        this.#addEvent(event);
        push(this.#emitters, event.name, service);
      }
      for (const actor of service.actors) {
        this.#addEvent(actor.event);
        const key = `${actor.event.name} ${actor.name}`;
        const other = consumers.get(key);
        if (other !== undefined) {
          throw new TypeError(
            `Cannot create services: actor "${actor.name}" of event "${actor.event.name}" is in both "${other}" and "${service.name}" (one durable consumer cannot belong to two services)`,
          );
        }
        consumers.set(key, service.name);
        push(this.#handlers, actor.event.name, { service, actor });
      }
    }
    this.#events = new Map([...this.#events].sort(([a], [b]) => cmp(a, b)));
    this.external = Object.freeze(
      [...this.#events.keys()].filter((n) => !this.#emitters.has(n)),
    );
  }

  /** Keep one event per name, preferring the copy that has a response. */
  #addEvent(event: AnyEvent): void {
    const known = this.#events.get(event.name);
    if (known === undefined || (!known.response && event.response)) {
      this.#events.set(event.name, event);
    }
  }

  /**
   * Render an AsyncAPI 3.0.0 document: one channel per event (the address
   * is the subject) with its message and the payload's JSON Schema, one
   * `send` operation per emitting service, one `receive` operation per
   * actor, and a reply for events made by `withResponse`.
   *
   * Payload schemas: valibot schemas are converted by
   * `@valibot/to-json-schema` (imported only when needed); other schemas
   * that implement Standard JSON Schema (zod 4, arktype) convert
   * themselves; anything else gets `{}` with a description saying why.
   *
   * @param options Title, version and the NATS server of the document.
   * @returns The document, a plain JSON-serialisable object.
   *
   * @example Render the AsyncAPI document
   * ```ts
   * import * as v from "valibot";
   * import { Event } from "@walnats/walnats";
   * import { Service, Services } from "@walnats/walnats/services";
   * import assert from "node:assert/strict";
   *
   * const PING = new Event("ping", v.object({ n: v.number() }));
   * const doc = await new Services(new Service("pinger", { emits: [PING] }))
   *   .asyncapi({ server: "nats://localhost:4222" }) as {
   *     asyncapi: string;
   *     components: { schemas: Record<string, unknown> };
   *   };
   * assert.equal(doc.asyncapi, "3.0.0");
   * assert.deepEqual(doc.components.schemas.ping, {
   *   type: "object",
   *   properties: { n: { type: "number" } },
   *   required: ["n"],
   * });
   * ```
   */
  asyncapi(options: AsyncApiOptions = {}): Promise<JsonObject> {
    return renderAsyncApi(this.#system, options);
  }

  /**
   * Render a D2 diagram (https://d2lang.com): services as boxes, events as
   * ovals, an arrow from each emitting service to the event and from the
   * event to each service with an actor for it, labelled with the actor's
   * name. Colours follow event storming. Pipe it into `d2 - out.svg`.
   *
   * @returns The D2 source, one statement a line, ending with a newline.
   *
   * @example Render a D2 diagram
   * ```ts
   * import * as v from "valibot";
   * import { Event } from "@walnats/walnats";
   * import { Service, Services } from "@walnats/walnats/services";
   * import assert from "node:assert/strict";
   *
   * const PING = new Event("ping", v.object({}));
   * const d2 = new Services(new Service("pinger", { emits: [PING] })).d2();
   * assert.match(d2, /^s0 -> e0$/m);
   * ```
   */
  d2(): string {
    return renderD2(this.#system);
  }

  /**
   * Render a Mermaid flowchart (https://mermaid.js.org): services as boxes,
   * events as stadiums, an arrow from each emitting service to the event
   * and from the event to each service with an actor for it, labelled with
   * the actor's name. Paste it into a Markdown code block tagged
   * `mermaid`.
   *
   * @returns The Mermaid source, ending with a newline.
   *
   * @example Render a Mermaid diagram
   * ```ts
   * import * as v from "valibot";
   * import { Event } from "@walnats/walnats";
   * import { Service, Services } from "@walnats/walnats/services";
   * import assert from "node:assert/strict";
   *
   * const PING = new Event("ping", v.object({}));
   * const chart = new Services(new Service("pinger", { emits: [PING] }))
   *   .mermaid();
   * assert.match(chart, /^ {2}s0 --> e0$/m);
   * ```
   */
  mermaid(): string {
    return renderMermaid(this.#system);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
