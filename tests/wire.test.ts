// The wire format shared with Python walnats (orsinium-labs/walnats):
// subjects, stream names, header names and values, and JSON bodies. A
// change here breaks services written in the other language.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import {
  CloudEvent,
  Event,
  Events,
  HEADER_DELAY,
  HEADER_ID,
  HEADER_REPLY,
  HEADER_TRACE,
  HEADER_TRACEPARENT,
} from "../mod.ts";
import { buildHeaders } from "../src/publish/_wire.ts";
import { NatsServer, rawConnect } from "./_helpers.ts";

const User = v.object({ id: v.number(), name: v.string() });
const USER_CREATED = new Event("user-created", User);
const utf8 = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

/** The header block exactly as it goes on the wire. */
function block(h: MsgHdrs | undefined): string {
  return h === undefined
    ? ""
    : utf8.decode((h as unknown as { encode(): Uint8Array }).encode());
}

test("header names are walnats' own", () => {
  assert.equal(HEADER_ID, "Nats-Msg-Id");
  assert.equal(HEADER_TRACE, "Walnats-Trace");
  assert.equal(HEADER_DELAY, "Walnats-Delay");
  assert.equal(HEADER_REPLY, "Walnats-Reply");
  assert.equal(HEADER_TRACEPARENT, "traceparent");
});

test("subject is the event name and the stream name swaps dots for dashes", () => {
  assert.equal(USER_CREATED.subject, "user-created");
  assert.equal(USER_CREATED.stream, "user-created");
  const PAID = new Event("billing.invoice.paid", User);
  assert.equal(PAID.subject, "billing.invoice.paid");
  assert.equal(PAID.stream, "billing-invoice-paid");
});

test("the stream configuration is the one walnats registers", () => {
  const E = new Event("user-created", User, {
    description: "a user signed up",
    limits: {
      maxAge: 86_400_000,
      maxConsumers: 5,
      maxMessages: 1000,
      maxBytes: 65_536,
      maxMessageSize: 1024,
    },
  });
  // walnats: Limits(age=86400, consumers=5, messages=1000, bytes=65536,
  // message_size=1024), ages in seconds that nats.py sends as nanoseconds.
  assert.deepEqual(E.streamConfig(), {
    name: "user-created",
    subjects: ["user-created"],
    retention: "interest",
    description: "a user signed up",
    max_age: 86_400_000_000_000,
    max_msgs: 1000,
    max_bytes: 65_536,
    max_msg_size: 1024,
    max_consumers: 5,
    num_replicas: 1,
    storage: "file",
    discard: "old",
    duplicate_window: 120_000_000_000,
  });
});

test("JSON bodies are compact UTF-8, like walnats' separators=(',', ':')", async () => {
  assert.equal(
    utf8.decode(await USER_CREATED.codec.encode({ id: 1, name: "Ann" })),
    '{"id":1,"name":"Ann"}',
  );
  // Python escapes non-ASCII (ensure_ascii); we send UTF-8: both decode.
  assert.deepEqual(
    [...await USER_CREATED.codec.encode({ id: 2, name: "René" })],
    [...bytes('{"id":2,"name":"René"}')],
  );
  assert.deepEqual(
    await USER_CREATED.codec.decode(bytes('{"id": 2, "name": "Ren\\u00e9"}')),
    { id: 2, name: "René" },
  );
});

test("headers of an emit, in order and spelled as on the wire", () => {
  const now = 1_700_000_000_123;
  const h = buildHeaders(
    "user-created",
    {
      uid: "user-1",
      traceId: "trace-1",
      delay: 1500,
      meta: { traceparent: "00-abc-def-01" },
    },
    { reply: "_INBOX.XYZ" },
    now,
  );
  assert.equal(
    block(h),
    "NATS/1.0\r\n" +
      "traceparent: 00-abc-def-01\r\n" +
      "Nats-Msg-Id: user-1\r\n" +
      "Walnats-Trace: trace-1\r\n" +
      "Walnats-Delay: 1700000001.623\r\n" +
      "Walnats-Reply: _INBOX.XYZ\r\n" +
      "\r\n",
  );
  assert.equal(buildHeaders("user-created", {}, {}, now), undefined);
});

test("Walnats-Delay is UTC epoch seconds that Python's float() reads", () => {
  const pythonFloat = /^[0-9]+(\.[0-9]+)?$/;
  for (
    const [now, delay, expected] of [
      [1_700_000_000_000, 0, "1700000000"],
      [1_700_000_000_000, 250, "1700000000.25"],
      [1_700_000_000_001, 60_000, "1700000060.001"],
    ] as const
  ) {
    const value = buildHeaders("e", { delay }, {}, now)!.get(HEADER_DELAY);
    assert.equal(value, expected);
    assert.match(value, pythonFloat);
    assert.equal(Number(value) * 1000, now + delay);
  }
});

test("CloudEvent headers follow the NATS binding, as walnats' as_headers() does", () => {
  const meta = new CloudEvent({
    id: "evt-1",
    source: "/users",
    type: "com.example.user.created",
    datacontenttype: "application/json",
    dataschema: "https://example.com/user.json",
    subject: "user-1",
    time: new Date("2024-01-02T03:04:05.678Z"),
    extensions: { traceparent: "00-abc-def-01", sequence: "7" },
  });
  assert.equal(
    block(buildHeaders("user-created", { meta })),
    "NATS/1.0\r\n" +
      "ce-specversion: 1.0\r\n" +
      "ce-id: evt-1\r\n" +
      "ce-source: /users\r\n" +
      "ce-type: com.example.user.created\r\n" +
      "ce-datacontenttype: application/json\r\n" +
      "ce-dataschema: https://example.com/user.json\r\n" +
      "ce-subject: user-1\r\n" +
      "ce-time: 2024-01-02T03:04:05.678Z\r\n" +
      "ce-traceparent: 00-abc-def-01\r\n" +
      "ce-sequence: 7\r\n" +
      "Nats-Msg-Id: evt-1\r\n" +
      "\r\n",
  );
  // uid wins over the CloudEvent id, as in walnats.
  const h = buildHeaders("user-created", { meta, uid: "mine" })!;
  assert.equal(h.get(HEADER_ID), "mine");
  assert.equal(h.get("ce-id"), "evt-1");
});

test("an emitted message is stored with exactly walnats' subject, headers and body", async () => {
  await using server = await NatsServer.start();
  await using pub = await new Events(USER_CREATED).connect(server.url);
  await pub.register();
  const jsm = await jetstreamManager(pub.nc);
  await jsm.consumers.add("user-created", {
    durable_name: "python-actor",
    ack_policy: "explicit" as never,
  });
  const before = Date.now();
  const ack = await pub.emit(USER_CREATED, { id: 1, name: "Ann" }, {
    uid: "user-1",
    traceId: "trace-1",
    delay: 5000,
  });
  const after = Date.now();
  const msg = await jsm.streams.getMessage("user-created", {
    seq: ack.sequence,
  });
  assert.ok(msg);
  assert.equal(msg.subject, "user-created");
  assert.equal(utf8.decode(msg.data), '{"id":1,"name":"Ann"}');
  assert.deepEqual(msg.header?.keys(), [
    "Nats-Msg-Id",
    "Walnats-Trace",
    "Walnats-Delay",
  ]);
  assert.equal(msg.header?.get("Nats-Msg-Id"), "user-1");
  assert.equal(msg.header?.get("Walnats-Trace"), "trace-1");
  const until = Number(msg.header?.get("Walnats-Delay"));
  assert.ok(until >= (before + 5000) / 1000 && until <= (after + 5000) / 1000);
});

test("a message published the way walnats does is read back by monitor()", async () => {
  await using server = await NatsServer.start();
  await using pub = await new Events(USER_CREATED).connect(server.url);
  await pub.register();
  const stop = new AbortController();
  const feed = pub.monitor({ signal: stop.signal });
  await pub.nc.flush();
  // What walnats' emit(..., uid=, trace_id=, delay=, meta=CloudEvent(...))
  // puts on the wire: Python float text, unencoded ce-* values.
  const python = await rawConnect(server);
  const h = natsHeaders();
  h.set("ce-id", "py-1");
  h.set("ce-source", "/py");
  h.set("ce-type", "com.example.user.created");
  h.set("ce-specversion", "1.0");
  h.set("ce-time", "2024-01-02T03:04:05.678000+00:00");
  h.set("Nats-Msg-Id", "py-1");
  h.set("Walnats-Trace", "trace-py");
  h.set("Walnats-Delay", "1700000005.123456");
  python.publish(
    "user-created",
    bytes('{"id": 3, "name": "Ren\\u00e9"}'),
    { headers: h },
  );
  await python.flush();
  const { value } = await feed.next();
  stop.abort();
  await python.close();
  assert.ok(value);
  assert.equal(value.subject, "user-created");
  assert.deepEqual(value.message, { id: 3, name: "René" });
  assert.equal(value.headers["Walnats-Trace"], "trace-py");
  assert.equal(Number(value.headers["Walnats-Delay"]), 1700000005.123456);
  const meta = CloudEvent.fromHeaders(value.headers)!;
  assert.equal(meta.attributes.id, "py-1");
  assert.equal(meta.attributes.time, "2024-01-02T03:04:05.678000+00:00");
});

test("request() accepts a reply sent the way walnats' actor sends it", async () => {
  await using server = await NatsServer.start();
  const GET_USER = new Event("get-user", v.object({ id: v.number() }))
    .withResponse(User);
  await using pub = await new Events(GET_USER).connect(server.url);
  await pub.register();
  const python = await rawConnect(server);
  python.subscribe("get-user", {
    callback: (_err, msg) => {
      const reply = msg.headers?.get(HEADER_REPLY);
      if (!reply) return;
      // walnats' actor replies with the request's own headers attached.
      python.publish(reply, bytes('{"id":9,"name":"Ann"}'), {
        headers: msg.headers!,
      });
    },
  });
  await python.flush();
  const user = await pub.request(GET_USER, { id: 9 }, { uid: "req-9" });
  assert.deepEqual(user, { id: 9, name: "Ann" });
  await python.close();
});
