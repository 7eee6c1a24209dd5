// deno-lint-ignore-file no-console -- a program: printing is its job
// 07: a unit test of an actor on the memory broker, no server needed.
//
//   npx deno run -A examples/07_testing_with_memory_broker.ts
//   (or: npx bun run, npx tsx)
//
// The actor fails every time; with `retryDelay: [60_000, 60_000]` and
// `maxAttempts: 3` it is dead-lettered after two minutes of retries. On the
// broker's virtual clock those two minutes take milliseconds of real time,
// and everything else (acks, naks with delay, redelivery, the dead-letter
// stream, the consumer's state) happens as on a real nats-server.
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  Actors,
  Event,
  Events,
  type ListenReport,
  silentLogger,
} from "@walnats/walnats";
import { MemoryBroker } from "@walnats/walnats/testing";

const ORDER_PLACED = new Event(
  "example-order-placed",
  v.object({ id: v.number() }),
);

const attempts: number[] = [];
const SHIP = new Actor("example-ship-order", ORDER_PLACED, (_order, ctx) => {
  attempts.push(ctx.attempt);
  throw new Error("carrier down");
}, { retryDelay: [60_000, 60_000], maxAttempts: 3 });

const started = performance.now();
await using broker = new MemoryBroker();
await using sub = await new Actors(SHIP).connect(broker.connect());
await sub.register({ events: true }); // the stream, then the consumer
await using pub = await new Events(ORDER_PLACED).connect(broker.connect());
await pub.register();

await pub.emit(ORDER_PLACED, { id: 42 });
const stop = new AbortController();
const listening = sub.listen({ signal: stop.signal, logger: silentLogger });

// Run virtual time forward until the dead letter is there.
const [letter] = await broker.advanceUntil(async () => {
  const letters = await sub.deadLetters(SHIP);
  return letters.length > 0 ? letters : undefined;
}, { what: "the dead letter" });
assert.ok(letter !== undefined);

const jsm = await jetstreamManager(sub.nc);
const info = await jsm.consumers.info(ORDER_PLACED.stream, SHIP.consumer);

stop.abort();
let report: ListenReport | undefined;
void listening.then((r) => {
  report = r;
});
await broker.advanceUntil(() => report);

assert.deepEqual(attempts, [1, 2, 3]);
assert.equal(letter.reason, "exhausted");
assert.equal(letter.attempts, 3);
assert.equal(letter.error, "Error: carrier down");
assert.deepEqual(JSON.parse(new TextDecoder().decode(letter.data)), { id: 42 });
assert.equal(info.num_ack_pending, 0);
assert.equal(info.num_pending, 0);
assert.deepEqual(report, {
  succeeded: 0,
  failed: 3, // every failed attempt, the dead-lettered last one too
  retried: 2,
  deadLettered: 1,
  delayed: 0,
  timedOut: 0,
  overdue: 0,
  skipped: 0,
  released: 0,
  ticks: 0,
});

console.log(`attempts: ${attempts.join(", ")}`);
console.log(
  `dead letter: ${letter.reason} after ${letter.attempts} attempts: ${letter.error}`,
);
console.log(
  `consumer: delivered ${info.delivered.consumer_seq}, ack pending ${info.num_ack_pending}, pending ${info.num_pending}`,
);
console.log(
  `virtual time: ${
    Math.round(broker.timers.monotonic() / 1000)
  } s, real time: ${Math.round(performance.now() - started)} ms`,
);
