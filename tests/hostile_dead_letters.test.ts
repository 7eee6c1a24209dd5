// Hostile and mistaken input near max_payload: dead letters' bounded
// diagnostics and headroom, and messages too large to copy (see
// hostile.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  DLQ_HEADERS,
  Event,
  PayloadTooLargeError,
  silentLogger,
} from "../mod.ts";
import {
  connectActors,
  consumerInfo,
  listenInBackground,
  NatsServer,
  rawConnect,
  settled,
  waitFor,
} from "./_helpers.ts";
import { MemoryLogger } from "./_fakes.ts";
import {
  DEAD_LETTER_HEADROOM,
  DLQ_ERROR_BYTES,
  DLQ_STACK_BYTES,
  truncateUtf8,
} from "../src/_bounds.ts";
import { deadLetterCopy } from "../src/_dead_letter_copy.ts";
import { toDeadLetter } from "../src/dead_letter.ts";
import { headerSize } from "../src/publish/_wire.ts";
import { encoder, json } from "./_hostile.ts";

function bytes(text: string): number {
  return encoder.encode(text).length;
}
// --- Dead letters near max_payload -----------------------------------------

test("a dead letter's diagnostics are bounded and its overhead fits the headroom", () => {
  const name64 = `${"e".repeat(62)}-x`.slice(0, 64);
  const actor64 = `${"a".repeat(62)}-y`.slice(0, 64);
  const huge = new Error(`boom\r\n${"é".repeat(200_000)}`);
  huge.stack = `Error: boom\n${"    at frame (file.ts:1:1)\n".repeat(50_000)}`;
  const original = natsHeaders();
  original.set("Nats-Msg-Id", "id-1");
  original.set(DLQ_HEADERS.event, "forged");
  original.set(DLQ_HEADERS.truncated, "forged");
  const story = {
    event: name64,
    stream: name64,
    actor: actor64,
    reason: "exhausted",
    attempts: Number.MAX_SAFE_INTEGER,
    error: huge,
    sequence: Number.MAX_SAFE_INTEGER,
    subject: name64,
  };
  const data = new Uint8Array(100);
  const copy = deadLetterCopy(story, data, original, 1024 * 1024);
  assert.equal(copy.truncated, false);
  const overhead = headerSize(copy.headers) - headerSize(original);
  assert.ok(
    overhead <= DEAD_LETTER_HEADROOM,
    `overhead ${overhead} <= ${DEAD_LETTER_HEADROOM}`,
  );
  // Without any original headers the preamble counts too.
  const bare = deadLetterCopy(story, data, undefined, 1024 * 1024);
  assert.ok(headerSize(bare.headers) <= DEAD_LETTER_HEADROOM);
  assert.ok(bytes(copy.headers.get(DLQ_HEADERS.error)) <= DLQ_ERROR_BYTES);
  assert.ok(bytes(copy.headers.get(DLQ_HEADERS.stack)) <= DLQ_STACK_BYTES);
  assert.equal(copy.headers.get(DLQ_HEADERS.event), name64, "forgery replaced");
  assert.equal(copy.headers.has(DLQ_HEADERS.truncated), false);
  const letter = toDeadLetter(1, copy.headers, copy.data);
  assert.match(letter.error, /^Error: boom\r\néé/, "read back unquoted");
  assert.ok(letter.error.endsWith("…"));
  assert.equal(letter.headers["Nats-Msg-Id"], "id-1");
  assert.equal(letter.truncated, false);

  // Too large to copy: the story alone, pointing at the original.
  const big = new Uint8Array(1024 * 1024 - 50);
  const alone = deadLetterCopy(story, big, original, 1024 * 1024);
  assert.equal(alone.truncated, true);
  assert.equal(alone.data.length, 0);
  assert.equal(
    alone.headers.get(DLQ_HEADERS.truncated),
    String(big.length + headerSize(original)),
  );
  assert.equal(toDeadLetter(2, alone.headers, alone.data).truncated, true);
  assert.equal(truncateUtf8("ab😀cd", 7), "ab…");
  assert.equal(truncateUtf8("abc", 3), "abc");
});

/** A server with the default max_payload and an actor that always fails. */
async function failingForGood(event: string, server: NatsServer) {
  const BLOB = new Event(event, v.object({ blob: v.string() }));
  let fixed = false;
  const handled: number[] = [];
  const A = new Actor(`${event}-worker`, BLOB, ({ blob }) => {
    if (!fixed) {
      const error = new Error(`cannot handle ${"it ".repeat(100_000)}`);
      throw error;
    }
    handled.push(blob.length);
  }, { maxAttempts: 2, retryDelay: [50], ackWait: 4000 });
  const app = await connectActors(server, A);
  return {
    BLOB,
    A,
    app,
    handled,
    fix: () => (fixed = true),
  };
}

test("emit keeps headroom under max_payload, and its largest message is dead-lettered whole", async () => {
  await using server = await NatsServer.start();
  const { BLOB, A, app } = await failingForGood("largest", server);
  await using _app = app;
  const maxPayload = app.pub.nc.info!.max_payload;
  const limit = maxPayload - DEAD_LETTER_HEADROOM;
  const frame = bytes(JSON.stringify({ blob: "" }));
  // Every acknowledged emit carries a generated Nats-Msg-Id (a 22-character
  // nuid): its header block counts against the limit too.
  const id = bytes(`NATS/1.0\r\nNats-Msg-Id: ${"x".repeat(22)}\r\n\r\n`);
  await assert.rejects(
    app.pub.emit(BLOB, { blob: "x".repeat(limit - frame - id + 1) }),
    (error: PayloadTooLargeError) => {
      assert.ok(error instanceof PayloadTooLargeError);
      assert.equal(error.size, limit + 1);
      assert.equal(error.limit, limit);
      assert.match(
        error.message,
        new RegExp(
          `max_payload is ${maxPayload} bytes and 4096 are kept free so the message can always be dead-lettered`,
        ),
      );
      return true;
    },
  );
  await app.pub.emit(BLOB, { blob: "x".repeat(limit - frame - id) });
  await using _l = listenInBackground(app.sub, {
    pollDelay: 500,
    logger: silentLogger,
  });
  const info = await settled(app.pub.nc, "largest", "largest-worker");
  const letters = await app.sub.deadLetters(A);
  assert.equal(letters.length, 1);
  assert.equal(letters[0]!.truncated, false);
  assert.equal(
    letters[0]!.data.length,
    limit - id,
    "the payload is kept whole",
  );
  assert.ok(bytes(letters[0]!.error) <= DLQ_ERROR_BYTES + 8);
  assert.equal(info.delivered.consumer_seq, 2, "two attempts, no more");
});

test("a foreign message too large to copy is dead-lettered without its payload, kept in its stream, and replayable", async () => {
  await using server = await NatsServer.start();
  const { A, app, handled, fix } = await failingForGood("oversized", server);
  await using _app = app;
  const maxPayload = app.pub.nc.info!.max_payload;
  const nc = await rawConnect(server);
  try {
    const js = jetstream(nc);
    // Published by a raw client, bypassing emit's headroom.
    const frame = bytes(JSON.stringify({ blob: "" }));
    const h = natsHeaders();
    h.set(
      "traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    const size = maxPayload - headerSize(h) - 16;
    await js.publish("oversized", json({ blob: "y".repeat(size - frame) }), {
      headers: h,
    });
    await js.publish("oversized", json({ blob: "small" }));
    const logger = new MemoryLogger();
    const listening = listenInBackground(app.sub, { logger, pollDelay: 500 });
    const letters = await waitFor(async () => {
      const all = await app.sub.deadLetters(A);
      return all.length === 2 ? all : undefined;
    }, { timeout: 30_000, what: "two dead letters" });
    const truncated = letters.find((l) => l.truncated)!;
    const whole = letters.find((l) => !l.truncated)!;
    assert.ok(truncated && whole);
    assert.equal(truncated.data.length, 0);
    assert.equal(truncated.stream, "oversized");
    assert.equal(truncated.originalSequence, 1);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(whole.data)), {
      blob: "small",
    });
    assert.equal(
      logger.find(/without its payload/).length,
      1,
      "the fallback is logged, not silent",
    );
    // Parked: held by the consumer, not redelivered.
    const before = await consumerInfo(nc, "oversized", "oversized-worker");
    await new Promise((r) => setTimeout(r, 1500));
    const after = await consumerInfo(nc, "oversized", "oversized-worker");
    assert.equal(after.delivered.consumer_seq, before.delivered.consumer_seq);
    assert.ok(after.delivered.consumer_seq <= 4, "two attempts each");
    assert.equal(after.num_ack_pending, 1, "the original is parked");
    const jsm = await jetstreamManager(nc);
    assert.equal((await jsm.streams.info("oversized")).state.messages, 1);

    // The replay publishes the parked original and removes it.
    fix();
    assert.equal(await app.sub.replay(A, { filter: (l) => l.truncated }), 1);
    await waitFor(() => handled.length === 1, {
      timeout: 20_000,
      what: "the replayed original to be handled",
    });
    assert.equal(handled[0], size - frame);
    await settled(nc, "oversized", "oversized-worker");
    const remaining = await app.sub.deadLetters(A);
    assert.equal(remaining.length, 1);
    assert.equal(remaining[0]!.truncated, false);
    await listening.stop();
  } finally {
    await nc.close();
  }
});
