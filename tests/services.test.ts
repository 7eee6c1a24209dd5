import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { z } from "zod";
import { Actor, type Codec, Event } from "../mod.ts";
import type { Schema } from "../src/codecs/codec.ts";
import {
  type JsonObject,
  Service,
  Services,
} from "../src/services/services.ts";

const USER_CREATED = new Event(
  "user-created",
  v.object({ id: v.number(), name: v.string() }),
  { description: "a user finished sign-up" },
);
const GET_USER = new Event("get-user", v.object({ id: v.number() }))
  .withResponse(v.object({ name: v.string() }));
const ORDER_PAID = new Event(
  "order-paid",
  z.object({ order: z.string(), total: z.number() }),
);

const noop = () => {};

function system(): Services {
  return new Services(
    new Service("users", {
      description: "owns user accounts",
      version: "1.2.0",
      emits: [USER_CREATED],
      actors: [new Actor("lookup", GET_USER, () => ({ name: "Ann" }))],
    }),
    new Service("mail", {
      emits: [GET_USER],
      actors: [
        new Actor("welcome", USER_CREATED, noop, {
          description: "sends the welcome mail",
        }),
        new Actor("receipt", ORDER_PAID, noop),
      ],
    }),
  );
}

/** Follow a local `$ref` (`#/a/b`) in `doc`. */
function resolve(doc: JsonObject, ref: string): unknown {
  assert.ok(ref.startsWith("#/"), `not a local ref: ${ref}`);
  let node: unknown = doc;
  for (const part of ref.slice(2).split("/")) {
    assert.ok(typeof node === "object" && node !== null, `broken ref ${ref}`);
    node = (node as JsonObject)[part];
  }
  assert.ok(node !== undefined, `broken ref ${ref}`);
  return node;
}

/** Every `$ref` in `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (typeof node === "object" && node !== null) {
    for (const [k, val] of Object.entries(node)) {
      if (k === "$ref" && typeof val === "string") out.push(val);
      else refs(val, out);
    }
  }
  return out;
}

test("asyncapi() describes channels, messages and payload JSON Schemas", async () => {
  const doc = await system().asyncapi({
    title: "shop",
    version: "2.0.0",
    server: "nats://localhost:4222",
  });
  assert.equal(doc.asyncapi, "3.0.0");
  assert.deepEqual(doc.info, {
    title: "shop",
    version: "2.0.0",
    tags: [
      { name: "mail" },
      {
        name: "users",
        description: "owns user accounts",
        "x-walnats-version": "1.2.0",
      },
    ],
  });
  assert.deepEqual(doc.servers, {
    nats: { host: "localhost:4222", protocol: "nats" },
  });
  const channels = doc.channels as JsonObject;
  assert.deepEqual(Object.keys(channels), [
    "get-user",
    "get-user.reply",
    "order-paid",
    "user-created",
  ]);
  assert.deepEqual(channels["user-created"], {
    address: "user-created",
    messages: {
      "user-created": { $ref: "#/components/messages/user-created" },
    },
    "x-walnats-stream": "user-created",
    description: "a user finished sign-up",
  });
  assert.equal((channels["get-user.reply"] as JsonObject).address, null);
  assert.equal(
    (channels["order-paid"] as JsonObject)["x-walnats-external"],
    true,
  );

  const components = doc.components as {
    schemas: JsonObject;
    messages: JsonObject;
  };
  assert.deepEqual(components.schemas["user-created"], {
    type: "object",
    properties: { id: { type: "number" }, name: { type: "string" } },
    required: ["id", "name"],
  });
  assert.deepEqual(components.schemas["get-user.reply"], {
    type: "object",
    properties: { name: { type: "string" } },
    required: ["name"],
  });
  assert.deepEqual(components.messages["user-created"], {
    name: "user-created",
    contentType: "application/json",
    payload: { $ref: "#/components/schemas/user-created" },
    description: "a user finished sign-up",
  });
  // Every reference points somewhere, and the document is plain JSON.
  for (const ref of refs(doc)) resolve(doc, ref);
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
});

test("asyncapi() has a send operation per emitter and a receive operation per actor", async () => {
  const doc = await system().asyncapi();
  assert.deepEqual(doc.info, {
    title: "walnats",
    version: "0.0.0",
    tags: [
      { name: "mail" },
      {
        name: "users",
        description: "owns user accounts",
        "x-walnats-version": "1.2.0",
      },
    ],
  });
  assert.equal(doc.servers, undefined);
  const ops = doc.operations as Record<string, JsonObject>;
  assert.deepEqual(Object.keys(ops).sort(), [
    "mail_emits_get-user",
    "mail_receipt_handles_order-paid",
    "mail_welcome_handles_user-created",
    "users_emits_user-created",
    "users_lookup_handles_get-user",
  ]);
  assert.deepEqual(ops["users_emits_user-created"], {
    action: "send",
    summary: "users emits user-created",
    tags: [{ name: "users" }],
    "x-walnats-service": "users",
    channel: { $ref: "#/channels/user-created" },
    messages: [{ $ref: "#/channels/user-created/messages/user-created" }],
  });
  assert.deepEqual(ops["mail_welcome_handles_user-created"], {
    action: "receive",
    summary: "mail handles user-created with welcome",
    description: "sends the welcome mail",
    tags: [{ name: "mail" }],
    "x-walnats-service": "mail",
    "x-walnats-actor": "welcome",
    "x-walnats-consumer": "welcome",
    channel: { $ref: "#/channels/user-created" },
    messages: [{ $ref: "#/channels/user-created/messages/user-created" }],
  });
  const reply = {
    address: { location: "$message.header#/Walnats-Reply" },
    channel: { $ref: "#/channels/get-user.reply" },
    messages: [{ $ref: "#/channels/get-user.reply/messages/get-user.reply" }],
  };
  assert.deepEqual(ops["mail_emits_get-user"]?.reply, reply);
  assert.deepEqual(ops["users_lookup_handles_get-user"]?.reply, reply);
  assert.ok(!("reply" in (ops["users_emits_user-created"] ?? {})));
});

test("asyncapi() converts a zod schema through Standard JSON Schema", async () => {
  const doc = await system().asyncapi();
  const schemas = (doc.components as { schemas: JsonObject }).schemas;
  const schema = schemas["order-paid"] as JsonObject;
  assert.equal(schema.type, "object");
  assert.deepEqual(schema.properties, {
    order: { type: "string" },
    total: { type: "number" },
  });
  assert.deepEqual(schema.required, ["order", "total"]);
  assert.equal(schema.$schema, undefined);
});

test("asyncapi() gives {} with a reason to schemas it cannot convert", async () => {
  const custom: Schema<{ n: number }> = {
    "~standard": {
      version: 1,
      vendor: "custom",
      validate: (value) => ({ value: value as { n: number } }),
    },
  };
  const codec: Codec<Uint8Array> = {
    contentType: "application/octet-stream",
    encode: (b) => b,
    decode: (b) => b,
  };
  const CUSTOM = new Event("custom-made", custom);
  const RAW = new Event("raw-bytes", codec);
  const WHEN = new Event("has-date", v.object({ at: v.date() }));
  const doc = await new Services(
    new Service("odd", { emits: [CUSTOM, RAW, WHEN] }),
  ).asyncapi();
  const schemas = (doc.components as { schemas: JsonObject }).schemas;
  assert.deepEqual(schemas["custom-made"], {
    description:
      'No JSON Schema: the custom schema of "custom-made" cannot be converted (it implements neither valibot nor Standard JSON Schema)',
  });
  assert.deepEqual(schemas["raw-bytes"], {
    description:
      'No JSON Schema: "raw-bytes" is encoded by a codec (application/octet-stream), not described by a schema',
  });
  assert.match(
    String((schemas["has-date"] as JsonObject).description),
    /^No JSON Schema: converting the valibot schema of "has-date" failed: /,
  );
  const messages = (doc.components as { messages: JsonObject }).messages;
  assert.equal(
    (messages["raw-bytes"] as JsonObject).contentType,
    "application/octet-stream",
  );
});

test("d2() renders services, events and actor-labelled edges", () => {
  assert.equal(
    system().d2(),
    `direction: right

s0: "mail" {
  style.stroke: "#f39c12"
  style.fill: "#fef4e6"
}
s1: "users" {
  style.stroke: "#f39c12"
  style.fill: "#fef4e6"
}
e0: "get-user (with reply)" {
  shape: oval
  style.stroke: "#e74c3c"
  style.fill: "#fcebea"
}
e1: "order-paid (external)" {
  shape: oval
  style.stroke: "#e74c3c"
  style.fill: "#fcebea"
}
e2: "user-created" {
  shape: oval
  style.stroke: "#e74c3c"
  style.fill: "#fcebea"
}

s0 -> e0
e0 -> s1: "lookup"
e1 -> s0: "receipt"
s1 -> e2
e2 -> s0: "welcome"
`,
  );
});

test("mermaid() renders services, events and actor-labelled edges", () => {
  assert.equal(
    system().mermaid(),
    `flowchart LR
  s0["mail"]
  s1["users"]
  e0(["get-user (with reply)"])
  e1(["order-paid (external)"])
  e2(["user-created"])
  s0 --> e0
  e0 -->|"lookup"| s1
  e1 -->|"receipt"| s0
  s1 --> e2
  e2 -->|"welcome"| s0
  classDef service stroke:#f39c12,fill:#fef4e6
  classDef event stroke:#e74c3c,fill:#fcebea
  class s0,s1 service
  class e0,e1,e2 event
`,
  );
});

test("diagrams do not depend on declaration order", () => {
  const a = system();
  const b = new Services(...[...a.services].reverse());
  assert.equal(b.d2(), a.d2());
  assert.equal(b.mermaid(), a.mermaid());
});

test("Services reports events no service emits as external", () => {
  assert.deepEqual(system().external, ["order-paid"]);
  assert.deepEqual(new Services().external, []);
});

test("an empty system renders valid empty documents", async () => {
  const empty = new Services();
  const doc = await empty.asyncapi();
  assert.deepEqual(doc, {
    asyncapi: "3.0.0",
    info: { title: "walnats", version: "0.0.0" },
    defaultContentType: "application/json",
    channels: {},
    operations: {},
    components: { schemas: {}, messages: {} },
  });
  assert.equal(empty.d2(), "direction: right\n\n");
  assert.match(empty.mermaid(), /^flowchart LR\n/);
});

test("Services rejects duplicate service names", () => {
  assert.throws(
    () => new Services(new Service("users"), new Service("users")),
    {
      name: "TypeError",
      message: 'Cannot create services: two services are named "users"',
    },
  );
});

test("Services rejects one actor in two services", () => {
  const welcome = new Actor("welcome", USER_CREATED, noop);
  assert.throws(
    () =>
      new Services(
        new Service("a", { actors: [welcome] }),
        new Service("b", { actors: [welcome] }),
      ),
    {
      name: "TypeError",
      message:
        'Cannot create services: actor "welcome" of event "user-created" is in both "a" and "b" (one durable consumer cannot belong to two services)',
    },
  );
  assert.throws(() => new Services({ name: "x" } as never), {
    name: "TypeError",
    message: "Cannot create services: argument 0 is not a Service",
  });
});

test("Service rejects bad names, options and duplicates", () => {
  assert.throws(() => new Service("Users"), {
    name: "TypeError",
    message:
      'Cannot create service "Users": name must be kebab-case (lowercase letters, digits and single dashes), for example "users"',
  });
  assert.throws(
    () => new Service("users", { emits: [USER_CREATED, USER_CREATED] }),
    {
      name: "TypeError",
      message:
        'Cannot create service "users": event "user-created" is listed twice in emits',
    },
  );
  const welcome = new Actor("welcome", USER_CREATED, noop);
  assert.throws(() => new Service("mail", { actors: [welcome, welcome] }), {
    name: "TypeError",
    message:
      'Cannot create service "mail": actor "welcome" of event "user-created" is listed twice',
  });
  assert.throws(() => new Service("mail", { emits: [{}] as never }), {
    name: "TypeError",
    message: 'Cannot create service "mail": emits[0] is not an Event',
  });
  assert.throws(
    () => new Service("mail", { actors: [USER_CREATED] as never }),
    {
      name: "TypeError",
      message: 'Cannot create service "mail": actors[0] is not an Actor',
    },
  );
  assert.throws(() => new Service("mail", { description: " " }), {
    name: "TypeError",
    message:
      'Cannot create service "mail": description must be a non-empty string',
  });
});

test("asyncapi() rejects an event that clashes with another event's reply", async () => {
  const CLASH = new Event("get-user.reply", v.object({}));
  const services = new Services(
    new Service("mail", { emits: [GET_USER, CLASH] }),
  );
  await assert.rejects(services.asyncapi(), {
    name: "TypeError",
    message:
      'Cannot render AsyncAPI: two components are named "get-user.reply" (an event named like another event\'s reply?)',
  });
});
