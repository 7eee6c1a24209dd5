// The delivery scenarios: emit and handle, dedup, retries, dead letters
// after maxAttempts, poison payloads.
import { jetstream } from "@nats-io/jetstream";
import { Actor, Event } from "../../mod.ts";
import {
  figures,
  listen,
  noFailures,
  quiet,
  type Scenario,
  setup,
  streamFigures,
  uniq,
  User,
} from "./_common.ts";

/** The delivery scenarios. */
export const DELIVERY_SCENARIOS: Scenario[] = [
  {
    name: "emit and handle: acks, handler calls, consumer and stream state",
    async run(b) {
      const ev = new Event(uniq("fid-greet"), User);
      const got: string[] = [];
      const actor = new Actor(uniq("fid-greeter"), ev, (m) => {
        got.push(m.name);
      });
      const { pub, sub, nc } = await setup(b, [ev], [actor]);
      const acks = [];
      for (const name of ["Ann", "Bob", "Cid"]) {
        acks.push(await pub.emit(ev, { name }));
      }
      const running = listen(b, sub);
      await b.until(() => got.length === 3, "three handled");
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      return {
        acks,
        got: got.sort(),
        report,
        consumer: figures(info),
        stream: await streamFigures(nc, ev.stream),
      };
    },
    expected: {
      acks: [
        { sequence: 1, duplicate: false },
        { sequence: 2, duplicate: false },
        { sequence: 3, duplicate: false },
      ],
      got: ["Ann", "Bob", "Cid"],
      report: { ...noFailures, succeeded: 3 },
      consumer: {
        delivered: { consumer_seq: 3, stream_seq: 3 },
        ack_floor: { consumer_seq: 3, stream_seq: 3 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
      // Interest retention: acked by the only actor, so gone.
      stream: { messages: 0, first_seq: 4, last_seq: 3 },
    },
  },
  {
    name: "dedup: a uid is stored once within the duplicate window",
    async run(b) {
      const ev = new Event(uniq("fid-dedup"), User);
      const lonely = new Event(uniq("fid-dedup-lonely"), User);
      let handled = 0;
      const actor = new Actor(uniq("fid-dedup-actor"), ev, () => {
        handled++;
      });
      const { pub, sub, nc } = await setup(b, [ev, lonely], [actor]);
      const acks = [
        await pub.emit(ev, { name: "a" }, { uid: "order-1" }),
        await pub.emit(ev, { name: "a" }, { uid: "order-1" }),
      ];
      const running = listen(b, sub);
      await b.until(() => handled === 1, "the message handled");
      await quiet(b, nc, actor);
      // Acked and removed, but the id is still remembered.
      acks.push(await pub.emit(ev, { name: "a" }, { uid: "order-1" }));
      acks.push(await pub.emit(ev, { name: "b" }, { uid: "order-2" }));
      await b.until(() => handled === 2, "the second message handled");
      await running.stop();
      // No consumer on an interest stream: nothing is stored, and 2.9
      // reports the duplicate with sequence 0.
      const lonelyAcks = [
        await pub.emit(lonely, { name: "x" }, { uid: "x-1" }),
        await pub.emit(lonely, { name: "x" }, { uid: "x-1" }),
      ];
      return {
        acks,
        handled,
        lonelyAcks,
        lonelyStream: await streamFigures(nc, lonely.stream),
      };
    },
    expected: {
      acks: [
        { sequence: 1, duplicate: false },
        { sequence: 1, duplicate: true },
        { sequence: 1, duplicate: true },
        { sequence: 2, duplicate: false },
      ],
      handled: 2,
      lonelyAcks: [
        { sequence: 1, duplicate: false },
        { sequence: 0, duplicate: true },
      ],
      lonelyStream: { messages: 0, first_seq: 2, last_seq: 1 },
    },
  },
  {
    name: "retries with delays: fails twice, succeeds on the third attempt",
    async run(b) {
      const ev = new Event(uniq("fid-retry"), User);
      const starts: { attempt: number; deliveryCount: number; at: number }[] =
        [];
      const actor = new Actor(uniq("fid-retrier"), ev, (_m, ctx) => {
        starts.push({
          attempt: ctx.attempt,
          deliveryCount: ctx.deliveryCount,
          at: b.monotonic(),
        });
        if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
      }, { retryDelay: [b.retryDelay, b.retryDelay], maxAttempts: 5 });
      const { pub, sub, nc } = await setup(b, [ev], [actor]);
      await pub.emit(ev, { name: "a" });
      const running = listen(b, sub);
      await b.until(() => starts.length === 3, "three attempts", 600_000);
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      const gaps = starts.slice(1).map((s, i) => s.at - starts[i]!.at);
      return {
        attempts: starts.map((s) => [s.attempt, s.deliveryCount]),
        waitedRetryDelay: gaps.map((g) => g >= b.retryDelay * 0.95),
        report,
        consumer: figures(info),
      };
    },
    expected: {
      attempts: [[1, 1], [2, 2], [3, 3]],
      waitedRetryDelay: [true, true],
      report: { ...noFailures, succeeded: 1, failed: 2, retried: 2 },
      consumer: {
        delivered: { consumer_seq: 3, stream_seq: 1 },
        ack_floor: { consumer_seq: 3, stream_seq: 1 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
    },
  },
  {
    name: "maxAttempts and dead letters: three failures, one dead letter",
    async run(b) {
      const ev = new Event(uniq("fid-dead"), User);
      const attempts: number[] = [];
      const actor = new Actor(uniq("fid-doomed"), ev, (_m, ctx) => {
        attempts.push(ctx.attempt);
        throw new Error("no stock");
      }, { retryDelay: [b.retryDelay, b.retryDelay], maxAttempts: 3 });
      const { pub, sub, nc } = await setup(b, [ev], [actor]);
      await pub.emit(ev, { name: "widget" });
      const running = listen(b, sub);
      const letters = await b.until(
        async () => {
          const list = await sub.deadLetters(actor);
          return list.length > 0 ? list : undefined;
        },
        "a dead letter",
        600_000,
      );
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      return {
        attempts,
        report,
        deadLetters: letters.map((l) => ({
          reason: l.reason,
          attempts: l.attempts,
          error: l.error,
          actor: l.actor === actor.name,
          event: l.event === ev.name,
          originalSequence: l.originalSequence,
          payload: new TextDecoder().decode(l.data),
        })),
        consumer: figures(info),
        stream: await streamFigures(nc, ev.stream),
      };
    },
    expected: {
      attempts: [1, 2, 3],
      report: { ...noFailures, failed: 3, retried: 2, deadLettered: 1 },
      deadLetters: [{
        reason: "exhausted",
        attempts: 3,
        error: "Error: no stock",
        actor: true,
        event: true,
        originalSequence: 1,
        payload: '{"name":"widget"}',
      }],
      consumer: {
        delivered: { consumer_seq: 3, stream_seq: 1 },
        ack_floor: { consumer_seq: 3, stream_seq: 1 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
      stream: { messages: 0, first_seq: 2, last_seq: 1 },
    },
  },
  {
    name: "poison: a payload that does not decode is dead-lettered at once",
    async run(b) {
      const ev = new Event(uniq("fid-poison"), User);
      let called = 0;
      const actor = new Actor(uniq("fid-poisoned"), ev, () => {
        called++;
      }, { maxAttempts: 5 });
      const { sub, nc } = await setup(b, [ev], [actor]);
      await jetstream(nc).publish(ev.subject, "{not json");
      const running = listen(b, sub);
      const letters = await b.until(async () => {
        const list = await sub.deadLetters(actor);
        return list.length > 0 ? list : undefined;
      }, "a dead letter");
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      return {
        called,
        report,
        deadLetters: letters.map((l) => ({
          reason: l.reason,
          attempts: l.attempts,
          payload: new TextDecoder().decode(l.data),
        })),
        consumer: figures(info),
      };
    },
    expected: {
      called: 0,
      report: { ...noFailures, failed: 1, deadLettered: 1 },
      deadLetters: [{ reason: "poison", attempts: 1, payload: "{not json" }],
      consumer: {
        delivered: { consumer_seq: 1, stream_seq: 1 },
        ack_floor: { consumer_seq: 1, stream_seq: 1 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
    },
  },
];
