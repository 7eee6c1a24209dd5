// Type-level tests: `deno check` verifies every `@ts-expect-error` below
// (an expected error that does not happen is itself an error) and every
// `expectType<Equal<...>>`. The functions holding them are never run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { z } from "zod";
import {
  Actor,
  type Codec,
  type Context,
  type EmitManyResult,
  type EmitResult,
  Event,
  type MonitorItem,
  type Publisher,
} from "../mod.ts";

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends
  (<X>() => X extends B ? 1 : 2) ? true : false;
function expectType<T extends true>(_ok: T): void {}

const User = v.object({ id: v.number(), name: v.string() });
type User = { id: number; name: string };
const USER_CREATED = new Event("user-created", User);

const Stamp = v.pipe(
  v.object({ at: v.string() }),
  v.transform((o) => ({ at: new Date(o.at) })),
);
const STAMPED = new Event("stamped", Stamp);

const GET_USER = new Event("get-user", v.object({ id: v.number() }))
  .withResponse(User);

const ZOD_ORDER = new Event(
  "order-placed",
  z.object({ id: z.number(), tags: z.array(z.string()) }),
);
const ZOD_STAMP = new Event(
  "zod-stamped",
  z.object({ at: z.string() }).transform((o) => ({ at: new Date(o.at) })),
);

const rawCodec: Codec<Uint8Array> = { encode: (b) => b, decode: (b) => b };
const RAW = new Event("raw", rawCodec);

// Handlers get the schema's output type with no annotation.
const GREET = new Actor("greet", USER_CREATED, (user, ctx) => {
  const typed: User = user;
  expectType<Equal<typeof user, User>>(true);
  expectType<Equal<typeof ctx, Context<User>>>(true);
  return typed.name;
});
const WATCH = new Actor("watch", STAMPED, (stamp) => {
  expectType<Equal<typeof stamp, { at: Date }>>(true);
  const when: Date = stamp.at;
  return when;
});
const ZOD_WATCH = new Actor("zod-watch", ZOD_STAMP, (stamp) => {
  expectType<Equal<typeof stamp, { at: Date }>>(true);
});
const COUNT = new Actor("count", ZOD_ORDER, (order) => {
  expectType<Equal<typeof order, { id: number; tags: string[] }>>(true);
});
const RAW_SINK = new Actor("raw-sink", RAW, (data) => {
  expectType<Equal<typeof data, Uint8Array>>(true);
});
// A responding handler must return the response type.
const LOOKUP = new Actor(
  "lookup",
  GET_USER,
  ({ id }) => ({ id, name: "Ann" }),
);
// @ts-expect-error: the response needs a name
new Actor("lookup-bad", GET_USER, ({ id }) => ({ id }));

/** Compiled, never called. */
export async function typeChecks(pub: Publisher): Promise<void> {
  // emit takes the schema's input type.
  const ack = await pub.emit(USER_CREATED, { id: 1, name: "Ann" });
  expectType<Equal<typeof ack, EmitResult>>(true);
  // @ts-expect-error: id is a number
  await pub.emit(USER_CREATED, { id: "x" });
  // @ts-expect-error: id is a number
  await pub.emit(USER_CREATED, { id: "x", name: "Ann" });
  // @ts-expect-error: name is missing
  await pub.emit(USER_CREATED, { id: 1 });
  const none = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    sync: false,
  });
  expectType<Equal<typeof none, undefined>>(true);
  const maybe = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    sync: Math.random() > 0.5,
  });
  expectType<Equal<typeof maybe, EmitResult | undefined>>(true);

  // A transform: emit takes the input, not the output.
  await pub.emit(STAMPED, { at: "2024-01-01T00:00:00Z" });
  // @ts-expect-error: the input is a string, the Date is the output
  await pub.emit(STAMPED, { at: new Date() });
  await pub.emit(ZOD_STAMP, { at: "2024-01-01T00:00:00Z" });
  // @ts-expect-error: zod transform input is a string too
  await pub.emit(ZOD_STAMP, { at: new Date() });
  await pub.emit(ZOD_ORDER, { id: 1, tags: ["a"] });
  // @ts-expect-error: tags are strings
  await pub.emit(ZOD_ORDER, { id: 1, tags: [1] });
  await pub.emit(RAW, new Uint8Array(1));
  // @ts-expect-error: a bytes codec takes bytes
  await pub.emit(RAW, "text");

  // emitMany: messages and the uid callback are typed.
  const many = await pub.emitMany(USER_CREATED, [{ id: 1, name: "a" }], {
    uid: (user, index) => {
      expectType<Equal<typeof user, User>>(true);
      return `${user.id}-${index}`;
    },
  });
  expectType<Equal<typeof many, EmitManyResult>>(true);
  // @ts-expect-error: a message of the wrong shape
  await pub.emitMany(USER_CREATED, [{ id: "1" }]);

  // request resolves with the response type.
  const user = await pub.request(GET_USER, { id: 1 });
  expectType<Equal<typeof user, User>>(true);
  // @ts-expect-error: the request payload is { id: number }
  await pub.request(GET_USER, { id: "1" });
  // @ts-expect-error: USER_CREATED has no response
  await pub.request(USER_CREATED, { id: 1, name: "Ann" });

  for await (const item of pub.monitor()) {
    expectType<Equal<typeof item, MonitorItem>>(true);
    if (item.error === undefined) {
      expectType<Equal<typeof item.message, unknown>>(true);
    } else {
      expectType<Equal<typeof item.data, Uint8Array>>(true);
    }
  }
}

test("type-level expectations compile (deno check verifies them)", () => {
  assert.equal(typeof typeChecks, "function");
  for (const actor of [GREET, WATCH, ZOD_WATCH, COUNT, RAW_SINK, LOOKUP]) {
    assert.ok(actor.name.length > 0);
  }
  assert.equal(GET_USER.responseSchema, User);
});

test("public types in mod.ts use no `any`, except AnyActor and WorkerFunction's defaults", () => {
  const root = new URL("../", import.meta.url);
  const mod = readFileSync(new URL("mod.ts", root), "utf8");
  const files = [
    ...new Set(
      [...mod.matchAll(/from "(\.\/src\/[^"]+\.ts)"/g)].map((m) => m[1]!),
    ),
  ];
  assert.ok(files.length > 10, "mod.ts re-exports from src/");
  const found: string[] = [];
  for (const file of files) {
    const source = readFileSync(new URL(file, root), "utf8")
      // comments and string contents are not types
      .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
      .replace(/\/\/.*$/gm, "")
      .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""')
      .replace(/`(?:[^`\\]|\\.)*`/g, (s) => s.replace(/[^\n]/g, " "));
    source.split("\n").forEach((line, i) => {
      if (!/\bany\b/.test(line)) return;
      if (/^export type AnyActor = Actor<any, any>;$/.test(line.trim())) return;
      // A handler made by workerHandler() without a type argument takes its
      // payload type from the actor's event: the defaults must be any.
      if (
        /^export type WorkerFunction<T = any, R = any> = \($/.test(line.trim())
      ) return;
      found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});
