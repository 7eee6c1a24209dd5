import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { z } from "zod";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type Codec,
  Event,
  Events,
  json,
  type Limits,
  ValidationError,
} from "../mod.ts";
import { NatsServer } from "./_helpers.ts";

const User = v.object({ id: v.number(), name: v.string() });
const utf8 = new TextDecoder();

async function streamConfig(nc: NatsConnection, stream: string) {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).config;
}

/** A durable consumer, so interest retention keeps what is emitted. */
async function keep(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, {
    durable_name: "keep",
    ack_policy: "explicit" as never,
  });
}

test("an event's subject is its name and its stream replaces dots with dashes", async () => {
  await using server = await NatsServer.start();
  const PAID = new Event("billing.invoice-paid", User, {
    description: "an invoice was paid",
  });
  assert.equal(PAID.name, "billing.invoice-paid");
  assert.equal(PAID.subject, "billing.invoice-paid");
  assert.equal(PAID.stream, "billing-invoice-paid");
  await using pub = await new Events(PAID).connect(server.url);
  await pub.register();
  const config = await streamConfig(pub.nc, "billing-invoice-paid");
  assert.deepEqual(config.subjects, ["billing.invoice-paid"]);
  assert.equal(config.retention, "interest");
  assert.equal(config.description, "an invoice was paid");
});

test("every limit reaches the stream configuration in the server's units", async () => {
  await using server = await NatsServer.start();
  const limits: Limits = {
    maxAge: 3_600_000, // 1 hour
    maxMessages: 1000,
    maxBytes: 1 << 20,
    maxMessageSize: 4096,
    maxConsumers: 7,
    replicas: 1,
    storage: "memory",
    duplicateWindow: 60_000,
    discard: "new",
  };
  const E = new Event("limited", User, { limits });
  assert.deepEqual(E.limits, limits);
  await using pub = await new Events(E).connect(server.url);
  await pub.register();
  const config = await streamConfig(pub.nc, "limited");
  assert.equal(config.max_age, 3_600_000_000_000, "max_age in nanoseconds");
  assert.equal(config.max_msgs, 1000);
  assert.equal(config.max_bytes, 1_048_576);
  assert.equal(config.max_msg_size, 4096);
  assert.equal(config.max_consumers, 7);
  assert.equal(config.num_replicas, 1);
  assert.equal(config.storage, "memory");
  assert.equal(config.duplicate_window, 60_000_000_000, "in nanoseconds");
  assert.equal(config.discard, "new");
  assert.equal(config.retention, "interest");
});

test("an event without limits gets the server's defaults", async () => {
  await using server = await NatsServer.start();
  const E = new Event("unlimited", User);
  await using pub = await new Events(E).connect(server.url);
  await pub.register();
  const config = await streamConfig(pub.nc, "unlimited");
  assert.equal(config.max_age, 0);
  assert.equal(config.max_msgs, -1);
  assert.equal(config.max_bytes, -1);
  assert.equal(config.max_msg_size, -1);
  assert.equal(config.max_consumers, -1);
  assert.equal(config.num_replicas, 1);
  assert.equal(config.storage, "file");
  assert.equal(config.discard, "old");
  assert.equal(config.duplicate_window, 120_000_000_000);
});

test("a short maxAge shortens the default duplicate window to match, as the server does", () => {
  const E = new Event("short-lived", User, { limits: { maxAge: 30_000 } });
  assert.equal(E.streamConfig().duplicate_window, 30_000_000_000);
  assert.equal(E.streamConfig().max_age, 30_000_000_000);
});

test("names are checked when the event is constructed", () => {
  const cases: [string, unknown, string | RegExp][] = [
    ["", TypeError, "Cannot create event: name must not be empty"],
    [
      "a".repeat(65),
      RangeError,
      `Cannot create event "${
        "a".repeat(65)
      }": name is 65 characters long, the limit is 64`,
    ],
    [
      "user created",
      TypeError,
      'Cannot create event "user created": name contains " " at index 4; NATS subjects and stream names must not contain whitespace, control characters, "*", ">", "/" or "\\"',
    ],
    ["user-*", TypeError, /: name contains "\*" at index 5; /],
    ["user.>", TypeError, /: name contains ">" at index 5; /],
    ["user/created", TypeError, /: name contains "\/" at index 4; /],
    ["user\\created", TypeError, /: name contains "\\\\" at index 4; /],
    ["user\tcreated", TypeError, /: name contains "\\t" at index 4; /],
    ["user\u0000", TypeError, /: name contains "\\u0000" at index 4; /],
    [
      "User_Created",
      TypeError,
      'Cannot create event "User_Created": name must be kebab-case (lowercase letters, digits and single dashes, dot-separated), for example "user-created"',
    ],
    [
      "userCreated",
      TypeError,
      /^Cannot create event "userCreated": name must be kebab-case .* for example "usercreated"$/,
    ],
    ["user--created", TypeError, /name must be kebab-case/],
    ["-user", TypeError, /name must be kebab-case/],
    ["user.", TypeError, /name must be kebab-case/],
  ];
  for (const [name, kind, message] of cases) {
    assert.throws(
      () => new Event(name, User),
      (error: Error) => {
        assert.ok(
          error instanceof (kind as typeof Error),
          `${JSON.stringify(name)}: ${error.name}`,
        );
        if (typeof message === "string") assert.equal(error.message, message);
        else assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.equal(new Event("a".repeat(64), User).name.length, 64);
  assert.equal(
    new Event("v2.user-created-2", User).stream,
    "v2-user-created-2",
  );
});

test("descriptions are checked when the event is constructed", () => {
  assert.throws(
    () => new Event("e", User, { description: "" }),
    new TypeError(
      'Cannot create event "e": description must not be empty; leave it out instead',
    ),
  );
  assert.throws(
    () => new Event("e", User, { description: "   " }),
    TypeError,
  );
  assert.throws(
    () => new Event("e", User, { description: "x".repeat(4097) }),
    new RangeError(
      'Cannot create event "e": description is 4097 characters long, the limit is 4096',
    ),
  );
  assert.equal(
    new Event("e", User, { description: "x".repeat(4096) }).description
      ?.length,
    4096,
  );
});

test("limits are checked when the event is constructed", () => {
  const bad: [Limits, typeof Error, string | RegExp][] = [
    [
      { maxAge: 0 },
      RangeError,
      'Cannot create event "e": limits.maxAge must be positive (milliseconds), got 0',
    ],
    [
      { maxMessages: -5 },
      RangeError,
      'Cannot create event "e": limits.maxMessages must be positive, got -5',
    ],
    [
      { maxBytes: 1.5 },
      TypeError,
      'Cannot create event "e": limits.maxBytes must be an integer (bytes), got 1.5',
    ],
    [{ maxMessageSize: Number.NaN }, TypeError, /maxMessageSize/],
    [{ maxConsumers: "3" as unknown as number }, TypeError, /maxConsumers/],
    [{ replicas: 0 }, RangeError, /limits\.replicas must be positive/],
    [{ replicas: 6 }, RangeError, /limits\.replicas must be at most 5/],
    [{ duplicateWindow: -1 }, RangeError, /duplicateWindow/],
    [
      { maxAge: 7 * 24 * 3600 * 1e9 }, // nanoseconds by mistake
      RangeError,
      /limits\.maxAge must be at most 9223372036854 \(milliseconds\), got .*; is it in nanoseconds\?/,
    ],
    [{ maxMessageSize: 2 ** 31 }, RangeError, /at most 2147483647/],
    [
      { storage: "disk" as "file" },
      TypeError,
      'Cannot create event "e": limits.storage must be "file" or "memory", got disk',
    ],
    [
      { discard: "oldest" as "old" },
      TypeError,
      'Cannot create event "e": limits.discard must be "old" or "new", got oldest',
    ],
    [
      { maxAge: 1000, duplicateWindow: 2000 },
      RangeError,
      'Cannot create event "e": limits.duplicateWindow (2000 ms) must not be longer than limits.maxAge (1000 ms)',
    ],
    [
      { age: 10 } as Limits,
      TypeError,
      /^Cannot create event "e": unknown limit "age"; known limits are maxAge,/,
    ],
  ];
  for (const [limits, kind, message] of bad) {
    assert.throws(
      () => new Event("e", User, { limits }),
      (error: Error) => {
        assert.ok(error instanceof kind, `${JSON.stringify(limits)}`);
        if (typeof message === "string") assert.equal(error.message, message);
        else assert.match(error.message, message);
        return true;
      },
    );
  }
});

test("an event needs a schema or a codec", () => {
  for (const value of [null, 42, "schema", {}, { encode() {} }]) {
    assert.throws(
      () => new Event("e", value as never),
      /^TypeError: Cannot create event "e": expected a Standard Schema \(valibot, zod, arktype\) or a Codec/,
    );
  }
  assert.throws(
    () => new Event("e", User, { codec: {} as never }),
    new TypeError(
      'Cannot create event "e": options.codec must have encode() and decode()',
    ),
  );
  const bytes: Codec<Uint8Array> = {
    encode: (b) => b,
    decode: (b) => b,
  };
  const RAW = new Event("raw", bytes);
  assert.equal(RAW.codec, bytes);
  assert.equal(RAW.schema, undefined);
});

test("withResponse() makes a copy with a response codec and the same stream", async () => {
  const GET = new Event("get-user", v.object({ id: v.number() }), {
    limits: { maxAge: 60_000 },
  });
  const GET_R = GET.withResponse(User);
  assert.notEqual(GET_R, GET);
  assert.equal(GET_R.name, "get-user");
  assert.equal(GET_R.stream, "get-user");
  assert.equal(GET_R.codec, GET.codec);
  assert.deepEqual(GET_R.streamConfig(), GET.streamConfig());
  assert.equal(GET.response, undefined, "the original is unchanged");
  assert.equal(GET_R.responseSchema, User);
  const bytes = await GET_R.response!.encode({ id: 1, name: "Ann" });
  assert.equal(utf8.decode(bytes), '{"id":1,"name":"Ann"}');
  await assert.rejects(
    async () => await GET_R.response!.decode(bytes.subarray(0, 5)),
    /DecodeError/,
  );
  const custom: Codec<string> = {
    encode: (s) => new TextEncoder().encode(s),
    decode: (b) => utf8.decode(b),
  };
  assert.equal(GET.withResponse(custom).response, custom);
  assert.throws(
    () => GET.withResponse(42 as never),
    /^TypeError: Cannot add a response to event "get-user": expected a Standard Schema/,
  );
});

test("an event built from a zod schema validates and round-trips through the server", async () => {
  await using server = await NatsServer.start();
  const Order = z.object({ id: z.number().int(), total: z.number().min(0) });
  const ORDER = new Event("order-placed", Order);
  await using pub = await new Events(ORDER).connect(server.url);
  await pub.register();
  await keep(pub.nc, "order-placed");

  await assert.rejects(
    pub.emit(ORDER, { id: 1.5, total: -1 }),
    (error: ValidationError) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.event, "order-placed");
      assert.deepEqual(error.issues.map((i) => i.path), [["id"], ["total"]]);
      return true;
    },
  );
  const ack = await pub.emit(ORDER, { id: 7, total: 12.5 });
  assert.equal(ack.sequence, 1, "the rejected payload was never sent");
  const jsm = await jetstreamManager(pub.nc);
  const stored = await jsm.streams.getMessage("order-placed", { seq: 1 });
  assert.equal(utf8.decode(stored!.data), '{"id":7,"total":12.5}');
  assert.deepEqual(await ORDER.codec.decode(stored!.data), {
    id: 7,
    total: 12.5,
  });
  await assert.rejects(
    async () =>
      await ORDER.codec.decode(new TextEncoder().encode('{"id":"x"}')),
    ValidationError,
  );
});

test("a zod transform: emit takes the input, handlers get the output", async () => {
  const Stamp = z.object({ at: z.string() }).transform((o) => ({
    at: new Date(o.at),
  }));
  const STAMP = new Event("stamped", Stamp);
  const codec: Codec<{ at: Date }, { at: string }> = STAMP.codec;
  const bytes = await codec.encode({ at: "2024-01-02T03:04:05.000Z" });
  assert.equal(utf8.decode(bytes), '{"at":"2024-01-02T03:04:05.000Z"}');
  const decoded = await codec.decode(bytes);
  assert.ok(decoded.at instanceof Date);
  assert.equal(decoded.at.toISOString(), "2024-01-02T03:04:05.000Z");
  assert.equal(json(Stamp).contentType, "application/json");
});

test("Events rejects two different events with one name, and names that share a stream", () => {
  const A = new Event("user-created", User);
  assert.throws(
    () => new Events(A, new Event("user-created", User)),
    new TypeError(
      'Cannot create Events: two different events are named "user-created"',
    ),
  );
  assert.throws(
    () => new Events(new Event("a.b", User), new Event("a-b", User)),
    new TypeError(
      'Cannot create Events: events "a.b" and "a-b" would share the stream "a-b" (dots become dashes); rename one',
    ),
  );
  assert.throws(
    () => new Events(A, "user-created" as never),
    /^TypeError: Cannot create Events: every argument must be an Event, got string/,
  );
  const withResponse = A.withResponse(v.string());
  const events = new Events(A, withResponse, A);
  assert.equal(events.events.length, 1);
  assert.equal(events.get("user-created"), withResponse, "keeps the copy");
  assert.ok(events.has(A));
  assert.ok(events.has("user-created"));
  assert.ok(!events.has("nope"));
});

test("the JSON codec refuses a value JSON cannot represent", async () => {
  const MAYBE = new Event("maybe", v.optional(v.string()));
  await assert.rejects(
    async () => await MAYBE.codec.encode(undefined),
    new TypeError(
      'Cannot encode a payload of "maybe": JSON cannot represent undefined',
    ),
  );
  assert.equal(utf8.decode(await MAYBE.codec.encode("x")), '"x"');
});
