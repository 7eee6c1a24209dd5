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
import type { AnyActor } from "../actor.ts";
import type { AnyEvent } from "../event.ts";
import type { Schema } from "../codecs/codec.ts";
import { HEADER_REPLY as REPLY_HEADER } from "../headers.ts";

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

/** Options for {@linkcode Services.asyncapi}. */
export interface AsyncApiOptions {
  /** The document's title. @default {"walnats"} */
  title?: string;
  /** The version of the described system. @default {"0.0.0"} */
  version?: string;
  /** A NATS server URL (`nats://host:4222`), listed as the `nats` server. */
  server?: string;
}

/** A JSON object, as found in the AsyncAPI document. */
export type JsonObject = { [key: string]: unknown };

const SERVICE_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

function isEvent(value: unknown): value is AnyEvent {
  return typeof value === "object" && value !== null &&
    typeof (value as AnyEvent).name === "string" &&
    typeof (value as AnyEvent).streamConfig === "function";
}

function isActor(value: unknown): value is AnyActor {
  return typeof value === "object" && value !== null &&
    typeof (value as AnyActor).name === "string" &&
    typeof (value as AnyActor).handler === "function" &&
    isEvent((value as AnyActor).event);
}

function byName<T extends { name: string }>(a: T, b: T): number {
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
interface Handling {
  service: Service;
  actor: AnyActor;
}

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
  async asyncapi(options: AsyncApiOptions = {}): Promise<JsonObject> {
    const info: JsonObject = {
      title: options.title ?? "walnats",
      version: options.version ?? "0.0.0",
    };
    if (this.services.length > 0) {
      info.tags = this.services.map((s) => {
        const tag: JsonObject = { name: s.name };
        if (s.description !== undefined) tag.description = s.description;
        if (s.version !== undefined) tag["x-walnats-version"] = s.version;
        return tag;
      });
    }
    const doc: JsonObject = {
      asyncapi: "3.0.0",
      info,
      defaultContentType: "application/json",
    };
    if (options.server !== undefined) {
      doc.servers = { nats: server(options.server) };
    }
    const channels: JsonObject = {};
    const operations: JsonObject = {};
    const messages: JsonObject = {};
    const schemas: JsonObject = {};
    const convert = await converter([...this.#events.values()]);
    const add = (obj: JsonObject, key: string, value: unknown) => {
      if (key in obj) {
        throw new TypeError(
          `Cannot render AsyncAPI: two components are named "${key}" (an event named like another event's reply?)`,
        );
      }
      obj[key] = value;
    };

    for (const [name, event] of this.#events) {
      const external = !this.#emitters.has(name);
      const codec = event.codec;
      const contentType = codec.contentType ?? "application/octet-stream";
      add(schemas, name, convert(event.schema, name, contentType));
      const message: JsonObject = {
        name,
        contentType,
        payload: { $ref: `#/components/schemas/${name}` },
      };
      if (event.description !== undefined) {
        message.description = event.description;
      }
      add(messages, name, message);
      const channel: JsonObject = {
        address: event.subject,
        messages: { [name]: { $ref: `#/components/messages/${name}` } },
        "x-walnats-stream": event.stream,
      };
      if (event.description !== undefined) {
        channel.description = event.description;
      }
      if (external) channel["x-walnats-external"] = true;
      add(channels, name, channel);

      let reply: JsonObject | undefined;
      if (event.response !== undefined) {
        const id = `${name}.reply`;
        const replyType = event.response.contentType ??
          "application/octet-stream";
        add(schemas, id, convert(event.responseSchema, id, replyType));
        add(messages, id, {
          name: id,
          contentType: replyType,
          payload: { $ref: `#/components/schemas/${id}` },
        });
        add(channels, id, {
          address: null,
          description:
            `Replies to "${name}", sent to the inbox named by the ${REPLY_HEADER} header of the request`,
          messages: { [id]: { $ref: `#/components/messages/${id}` } },
        });
        reply = {
          address: { location: `$message.header#/${REPLY_HEADER}` },
          channel: { $ref: `#/channels/${id}` },
          messages: [{ $ref: `#/channels/${id}/messages/${id}` }],
        };
      }
      const op = (extra: JsonObject): JsonObject => {
        const o: JsonObject = {
          ...extra,
          channel: { $ref: `#/channels/${name}` },
          messages: [{ $ref: `#/channels/${name}/messages/${name}` }],
        };
        if (reply !== undefined) o.reply = reply;
        return o;
      };
      for (const service of this.#emitters.get(name) ?? []) {
        add(
          operations,
          `${service.name}_emits_${name}`,
          op({
            action: "send",
            summary: `${service.name} emits ${name}`,
            tags: [{ name: service.name }],
            "x-walnats-service": service.name,
          }),
        );
      }
      for (const { service, actor } of this.#handlers.get(name) ?? []) {
        const extra: JsonObject = {
          action: "receive",
          summary: `${service.name} handles ${name} with ${actor.name}`,
        };
        if (actor.description !== undefined) {
          extra.description = actor.description;
        }
        add(
          operations,
          `${service.name}_${actor.name}_handles_${name}`,
          op({
            ...extra,
            tags: [{ name: service.name }],
            "x-walnats-service": service.name,
            "x-walnats-actor": actor.name,
            "x-walnats-consumer": actor.consumer,
          }),
        );
      }
    }
    doc.channels = channels;
    doc.operations = operations;
    doc.components = { schemas, messages };
    return doc;
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
    const { services, events, edges } = this.#graph();
    const lines = ["direction: right", ""];
    for (const [id, s] of services) {
      lines.push(`${id}: ${JSON.stringify(s.name)} {`);
      lines.push(`  style.stroke: "#f39c12"`, `  style.fill: "#fef4e6"`, "}");
    }
    for (const [id, label] of events) {
      lines.push(`${id}: ${JSON.stringify(label)} {`);
      lines.push(
        "  shape: oval",
        `  style.stroke: "#e74c3c"`,
        `  style.fill: "#fcebea"`,
        "}",
      );
    }
    if (edges.length > 0) lines.push("");
    for (const [from, to, label] of edges) {
      lines.push(
        label === undefined
          ? `${from} -> ${to}`
          : `${from} -> ${to}: ${JSON.stringify(label)}`,
      );
    }
    return lines.join("\n") + "\n";
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
    const { services, events, edges } = this.#graph();
    const lines = ["flowchart LR"];
    for (const [id, s] of services) {
      lines.push(`  ${id}[${mermaidText(s.name)}]`);
    }
    for (const [id, label] of events) {
      lines.push(`  ${id}([${mermaidText(label)}])`);
    }
    for (const [from, to, label] of edges) {
      lines.push(
        label === undefined
          ? `  ${from} --> ${to}`
          : `  ${from} -->|${mermaidText(label)}| ${to}`,
      );
    }
    lines.push("  classDef service stroke:#f39c12,fill:#fef4e6");
    lines.push("  classDef event stroke:#e74c3c,fill:#fcebea");
    if (services.size > 0) {
      lines.push(`  class ${[...services.keys()].join(",")} service`);
    }
    if (events.size > 0) {
      lines.push(`  class ${[...events.keys()].join(",")} event`);
    }
    return lines.join("\n") + "\n";
  }

  /**
   * Nodes and edges shared by both diagrams. Ids are positional (`s0`,
   * `e0`) because names may hold dots, which both languages treat
   * specially, and a service and an event may share a name.
   */
  #graph(): {
    services: Map<string, Service>;
    events: Map<string, string>;
    edges: [string, string, string | undefined][];
  } {
    const services = new Map<string, Service>();
    const serviceId = new Map<string, string>();
    this.services.forEach((s, i) => {
      services.set(`s${i}`, s);
      serviceId.set(s.name, `s${i}`);
    });
    const events = new Map<string, string>();
    const edges: [string, string, string | undefined][] = [];
    [...this.#events.values()].forEach((event, i) => {
      const id = `e${i}`;
      const notes = [
        ...(event.response !== undefined ? ["with reply"] : []),
        ...(this.#emitters.has(event.name) ? [] : ["external"]),
      ];
      events.set(
        id,
        notes.length > 0 ? `${event.name} (${notes.join(", ")})` : event.name,
      );
      for (const s of this.#emitters.get(event.name) ?? []) {
        edges.push([serviceId.get(s.name) ?? "", id, undefined]);
      }
      for (const { service, actor } of this.#handlers.get(event.name) ?? []) {
        edges.push([id, serviceId.get(service.name) ?? "", actor.name]);
      }
    });
    return { services, events, edges };
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

/** Quote a Mermaid label; `#quot;` is Mermaid's escape for `"`. */
function mermaidText(text: string): string {
  return `"${text.replaceAll('"', "#quot;")}"`;
}

/** An AsyncAPI Server object from a NATS URL. */
function server(url: string): JsonObject {
  if (typeof url !== "string" || url.trim() === "") {
    throw new TypeError(
      "Cannot render AsyncAPI: server must be a non-empty URL such as nats://localhost:4222",
    );
  }
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.+)$/i.exec(url);
  const host = (match?.[2] ?? url).replace(/\/+$/, "");
  return { host, protocol: "nats" };
}

type Convert = (
  schema: Schema<unknown, unknown> | undefined,
  name: string,
  contentType: string,
) => JsonObject;

/**
 * A converter from schemas to JSON Schema (draft-07, the base of AsyncAPI's
 * own schema format); loads `@valibot/to-json-schema` only if a valibot
 * schema is present.
 */
async function converter(events: AnyEvent[]): Promise<Convert> {
  const needsValibot = events.some((e) =>
    e.schema?.["~standard"].vendor === "valibot" ||
    e.responseSchema?.["~standard"].vendor === "valibot"
  );
  const valibot = needsValibot
    ? (await import("@valibot/to-json-schema")).toJsonSchema
    : undefined;
  return (schema, name, contentType) => {
    if (schema === undefined) {
      return {
        description:
          `No JSON Schema: "${name}" is encoded by a codec (${contentType}), not described by a schema`,
      };
    }
    const std = schema["~standard"] as Schema["~standard"] & {
      jsonSchema?: { input?: (o: { target: string }) => unknown };
    };
    try {
      let out: unknown;
      if (std.vendor === "valibot" && valibot !== undefined) {
        out = valibot(schema as Parameters<typeof valibot>[0], {
          target: "draft-07",
          typeMode: "input",
          errorMode: "throw",
        });
      } else if (typeof std.jsonSchema?.input === "function") {
        out = std.jsonSchema.input({ target: "draft-07" });
      } else {
        return {
          description:
            `No JSON Schema: the ${std.vendor} schema of "${name}" cannot be converted (it implements neither valibot nor Standard JSON Schema)`,
        };
      }
      const { $schema: _, ...rest } = out as JsonObject;
      return rest;
    } catch (error) {
      return {
        description:
          `No JSON Schema: converting the ${std.vendor} schema of "${name}" failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
      };
    }
  };
}
