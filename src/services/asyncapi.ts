// The AsyncAPI 3 rendering of a system: one channel per event, one send
// operation per emitting service, one receive operation per actor, a reply
// for events made by `withResponse`, and JSON Schemas of the payloads.
import { HEADER_REPLY as REPLY_HEADER } from "../headers.ts";
import type { SystemGraph } from "./service.ts";
import { converter, type JsonObject } from "./json_schema.ts";

export type { JsonObject };

/** Options for {@linkcode Services.asyncapi}. */
export interface AsyncApiOptions {
  /** The document's title. @default {"walnats"} */
  title?: string;
  /** The version of the described system. @default {"0.0.0"} */
  version?: string;
  /** A NATS server URL (`nats://host:4222`), listed as the `nats` server. */
  server?: string;
}

/** Render the AsyncAPI 3.0.0 document of `graph`. */
export async function renderAsyncApi(
  graph: SystemGraph,
  options: AsyncApiOptions,
): Promise<JsonObject> {
  const info: JsonObject = {
    title: options.title ?? "walnats",
    version: options.version ?? "0.0.0",
  };
  if (graph.services.length > 0) {
    info.tags = graph.services.map((s) => {
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
  const convert = await converter([...graph.events.values()]);
  const add = (obj: JsonObject, key: string, value: unknown) => {
    if (key in obj) {
      throw new TypeError(
        `Cannot render AsyncAPI: two components are named "${key}" (an event named like another event's reply?)`,
      );
    }
    obj[key] = value;
  };

  for (const [name, event] of graph.events) {
    const external = !graph.emitters.has(name);
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
    for (const service of graph.emitters.get(name) ?? []) {
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
    for (const { service, actor } of graph.handlers.get(name) ?? []) {
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
