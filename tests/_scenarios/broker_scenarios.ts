// One scenario suite, run against a real nats-server and against the memory
// broker by tests/fidelity.test.ts, with the same expected results. Each
// scenario returns what it observed (no timestamps, no timings, only facts
// and "waited at least" flags) and states what it expects.
import * as v from "valibot";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo } from "@nats-io/jetstream";
import {
  Actor,
  Actors,
  type AnyActor,
  type AnyEvent,
  Event,
  Events,
  type ListenOptions,
  type ListenReport,
  type Publisher,
  silentLogger,
  type Subscriber,
} from "../../mod.ts";

/** Where a scenario runs: a real server or the memory broker. */
export interface Backend extends AsyncDisposable {
  readonly kind: "nats-server" | "memory";
  /**
   * A retry delay: long on the memory broker (virtual time costs nothing),
   * short on the real server (real time does).
   */
  readonly retryDelay: number;
  /** An actor's ackWait, likewise. */
  readonly ackWait: number;
  /** A new raw connection (closed by the backend). */
  connect(): Promise<NatsConnection>;
  /**
   * Wait until `check` is truthy: by advancing virtual time on the memory
   * broker, by real waiting on the server; `timeout` in the backend's ms.
   */
  until<T>(
    check: () => T | Promise<T>,
    what: string,
    timeout?: number,
  ): Promise<NonNullable<T>>;
  /** Monotonic milliseconds of the backend's clock. */
  monotonic(): number;
}

/** One scenario and the result it must observe on every backend. */
export interface Scenario {
  readonly name: string;
  run(b: Backend): Promise<unknown>;
  readonly expected: unknown;
}

let counter = 0;
function uniq(prefix: string): string {
  counter++;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

const User = v.object({ name: v.string() });

interface Setup {
  pub: Publisher;
  sub: Subscriber;
  nc: NatsConnection;
}

async function setup(
  b: Backend,
  events: AnyEvent[],
  actors: AnyActor[],
): Promise<Setup> {
  const nc = await b.connect();
  const pub = await new Events(...events).connect(nc);
  await pub.register();
  const sub = await new Actors(...actors).connect(nc);
  await sub.register();
  return { pub, sub, nc };
}

interface Running {
  /** Abort, then wait (advancing time if virtual) for listen() to return. */
  stop(): Promise<ListenReport>;
}

function listen(
  b: Backend,
  sub: Subscriber,
  options: Omit<ListenOptions, "signal"> = {},
): Running {
  const controller = new AbortController();
  let report: ListenReport | undefined;
  let failure: unknown;
  const done = sub.listen({
    pollDelay: 1000,
    grace: 200,
    logger: silentLogger,
    ...options,
    signal: controller.signal,
  }).then((r) => {
    report = r;
  }, (error) => {
    failure = error;
  });
  return {
    async stop() {
      controller.abort();
      await b.until(
        () => report !== undefined || failure !== undefined,
        "listen() to return",
        30_000,
      );
      await done;
      if (failure !== undefined) throw failure;
      return report!;
    },
  };
}

/** The consumer figures both backends must agree on (no times). */
function figures(info: ConsumerInfo): Record<string, unknown> {
  return {
    delivered: {
      consumer_seq: info.delivered.consumer_seq,
      stream_seq: info.delivered.stream_seq,
    },
    ack_floor: {
      consumer_seq: info.ack_floor.consumer_seq,
      stream_seq: info.ack_floor.stream_seq,
    },
    num_ack_pending: info.num_ack_pending,
    num_redelivered: info.num_redelivered,
    num_pending: info.num_pending,
  };
}

async function consumer(
  nc: NatsConnection,
  actor: AnyActor,
): Promise<ConsumerInfo> {
  const jsm = await jetstreamManager(nc);
  return await jsm.consumers.info(actor.event.stream, actor.consumer);
}

/** Wait until the actor's consumer has nothing pending or unacked. */
async function quiet(
  b: Backend,
  nc: NatsConnection,
  actor: AnyActor,
): Promise<ConsumerInfo> {
  return await b.until(async () => {
    const info = await consumer(nc, actor);
    return info.num_pending === 0 && info.num_ack_pending === 0
      ? info
      : undefined;
  }, `consumer ${actor.name} to be quiet`);
}

async function streamFigures(
  nc: NatsConnection,
  stream: string,
): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  return {
    messages: state.messages,
    first_seq: state.first_seq,
    last_seq: state.last_seq,
  };
}

const noFailures = { succeeded: 0, failed: 0, deadLettered: 0, delayed: 0 };

/** The scenarios. */
export const SCENARIOS: Scenario[] = [
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
      report: { ...noFailures, succeeded: 1, failed: 2 },
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
      report: { ...noFailures, failed: 2, deadLettered: 1 },
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
      report: { ...noFailures, deadLettered: 1 },
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
  {
    name:
      "ack-wait redelivery after a crash: a pulled, never-acked message comes back",
    async run(b) {
      const ev = new Event(uniq("fid-crash"), User);
      const seen: { attempt: number; deliveryCount: number; at: number }[] = [];
      const actor = new Actor(uniq("fid-survivor"), ev, (_m, ctx) => {
        seen.push({
          attempt: ctx.attempt,
          deliveryCount: ctx.deliveryCount,
          at: b.monotonic(),
        });
      }, { ackWait: b.ackWait });
      const { pub, sub, nc } = await setup(b, [ev], [actor]);
      await pub.emit(ev, { name: "a" });
      // The "crashed" process: pulls the message, never acks, goes away.
      const crashed = await b.connect();
      let pulled = false;
      const inbox = `_INBOX.crash-${Math.random().toString(36).slice(2)}`;
      crashed.subscribe(inbox, {
        callback: (_e, m) => {
          if (m.reply?.startsWith("$JS.ACK.")) pulled = true;
        },
      });
      crashed.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${ev.stream}.${actor.consumer}`,
        JSON.stringify({ batch: 1, expires: 5_000_000_000 }),
        { reply: inbox },
      );
      await b.until(() => pulled, "the crashed pull");
      const crashedAt = b.monotonic();
      const during = figures(await consumer(nc, actor));
      await crashed.close();
      const running = listen(b, sub);
      await b.until(() => seen.length === 1, "the redelivery", 120_000);
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      return {
        during,
        seen: seen.map((s) => [s.attempt, s.deliveryCount]),
        waitedAckWait: seen[0]!.at - crashedAt >= b.ackWait * 0.95,
        report,
        consumer: figures(info),
      };
    },
    expected: {
      during: {
        delivered: { consumer_seq: 1, stream_seq: 1 },
        ack_floor: { consumer_seq: 0, stream_seq: 0 },
        num_ack_pending: 1,
        num_redelivered: 0,
        num_pending: 0,
      },
      seen: [[2, 2]],
      waitedAckWait: true,
      report: { ...noFailures, succeeded: 1 },
      consumer: {
        delivered: { consumer_seq: 2, stream_seq: 1 },
        ack_floor: { consumer_seq: 2, stream_seq: 1 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
    },
  },
  {
    name:
      "delayed emit: Walnats-Delay holds the handler back, without an attempt",
    async run(b) {
      const ev = new Event(uniq("fid-later"), User);
      const seen: { attempt: number; deliveryCount: number; at: number }[] = [];
      const actor = new Actor(uniq("fid-patient"), ev, (_m, ctx) => {
        seen.push({
          attempt: ctx.attempt,
          deliveryCount: ctx.deliveryCount,
          at: b.monotonic(),
        });
      });
      const { pub, sub, nc } = await setup(b, [ev], [actor]);
      const emittedAt = b.monotonic();
      await pub.emit(ev, { name: "a" }, { delay: b.retryDelay });
      const running = listen(b, sub);
      await b.until(() => seen.length === 1, "the delayed run", 600_000);
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      return {
        seen: seen.map((s) => [s.attempt, s.deliveryCount]),
        waitedDelay: seen[0]!.at - emittedAt >= b.retryDelay * 0.95,
        report,
        consumer: figures(info),
      };
    },
    expected: {
      seen: [[1, 2]],
      waitedDelay: true,
      report: { ...noFailures, succeeded: 1, delayed: 1 },
      consumer: {
        delivered: { consumer_seq: 2, stream_seq: 1 },
        ack_floor: { consumer_seq: 2, stream_seq: 1 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
    },
  },
  {
    name: "request/response: the actor's reply, and a timeout without one",
    async run(b) {
      const ev = new Event(uniq("fid-price"), v.object({ n: v.number() }))
        .withResponse(v.object({ cost: v.number() }));
      const unanswered = new Event(uniq("fid-silent"), User)
        .withResponse(v.object({ cost: v.number() }));
      const actor = new Actor(
        uniq("fid-pricer"),
        ev,
        (m) => ({ cost: m.n / 4 }),
      );
      const { pub, sub } = await setup(b, [ev, unanswered], [actor]);
      const running = listen(b, sub);
      let reply: unknown;
      void pub.request(ev, { n: 12 }, { timeout: 10_000 }).then((r) => {
        reply = r;
      }, (e) => {
        reply = e;
      });
      await b.until(() => reply !== undefined, "the reply");
      let timedOut: unknown;
      void pub.request(unanswered, { name: "?" }, { timeout: 500 }).then(
        (r) => {
          timedOut = r;
        },
        (e) => {
          timedOut = e;
        },
      );
      await b.until(() => timedOut !== undefined, "the timeout");
      await running.stop();
      return { reply, timedOut: (timedOut as Error).name };
    },
    expected: { reply: { cost: 3 }, timedOut: "RequestTimeoutError" },
  },
  {
    name:
      "shutdown hand-back: a job outliving the grace is handed back at once",
    async run(b) {
      const ev = new Event(uniq("fid-slow"), User);
      let started = 0;
      const actor1 = new Actor(uniq("fid-stuck"), ev, (_m, ctx) => {
        started++;
        return new Promise<void>((_, reject) => {
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        });
        // max_deliver 7: fewer than the pull requests out at shutdown.
      }, { maxAttempts: 5 });
      const { pub, sub, nc } = await setup(b, [ev], [actor1]);
      await pub.emit(ev, { name: "a" });
      // Sixteen job slots, so fifteen more pull requests are out when the
      // stuck job is handed back: none of them may catch it.
      const first = listen(b, sub, { grace: 200, maxJobs: 16 });
      await b.until(() => started === 1, "the stuck job");
      const firstReport = await first.stop();
      const handedBack = figures(await consumer(nc, actor1));
      // Another process of the same actor takes it over.
      const seen: number[][] = [];
      const actor2 = new Actor(actor1.name, ev, (_m, ctx) => {
        seen.push([ctx.attempt, ctx.deliveryCount]);
      }, { maxAttempts: 5 });
      const sub2 = await new Actors(actor2).connect(nc);
      const second = listen(b, sub2);
      await b.until(() => seen.length === 1, "the takeover");
      const info = await quiet(b, nc, actor2);
      const secondReport = await second.stop();
      return {
        firstReport,
        handedBack,
        seen,
        secondReport,
        consumer: figures(info),
      };
    },
    // nats-server 2.9: the nak'd message meets only the stopped listener's
    // requests (no interest any more), so the server "redoes" it by stepping
    // its stream pointer back: it is pending, counted as redelivered, and
    // comes to the next listener as a new delivery (attempt 1).
    expected: {
      firstReport: noFailures,
      handedBack: {
        delivered: { consumer_seq: 1, stream_seq: 0 },
        ack_floor: { consumer_seq: 0, stream_seq: 0 },
        num_ack_pending: 1,
        num_redelivered: 1,
        num_pending: 1,
      },
      seen: [[1, 1]],
      secondReport: { ...noFailures, succeeded: 1 },
      consumer: {
        delivered: { consumer_seq: 2, stream_seq: 1 },
        ack_floor: { consumer_seq: 2, stream_seq: 1 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
    },
  },
  {
    name: "consumer info figures: max ack pending holds the rest back",
    async run(b) {
      const ev = new Event(uniq("fid-busy"), User);
      const release: (() => void)[] = [];
      const actor = new Actor(
        uniq("fid-busy-actor"),
        ev,
        () =>
          new Promise<void>((resolve) => {
            release.push(resolve);
          }),
        { maxAckPending: 2 },
      );
      const { pub, sub, nc } = await setup(b, [ev], [actor]);
      for (let i = 0; i < 5; i++) await pub.emit(ev, { name: `n${i}` });
      const running = listen(b, sub);
      await b.until(() => release.length === 2, "two running jobs");
      const held = figures(
        await b.until(async () => {
          const info = await consumer(nc, actor);
          return info.num_ack_pending === 2 ? info : undefined;
        }, "two pending acks"),
      );
      for (let round = 0; round < 10 && release.length < 5; round++) {
        for (const r of release.splice(0)) r();
        await b.until(
          async () =>
            release.length > 0 || (await consumer(nc, actor)).num_pending === 0,
          "more jobs",
        );
      }
      for (const r of release.splice(0)) r();
      const info = await quiet(b, nc, actor);
      const report = await running.stop();
      return { held, report, consumer: figures(info) };
    },
    expected: {
      held: {
        delivered: { consumer_seq: 2, stream_seq: 2 },
        ack_floor: { consumer_seq: 0, stream_seq: 0 },
        num_ack_pending: 2,
        num_redelivered: 0,
        num_pending: 3,
      },
      report: { ...noFailures, succeeded: 5 },
      consumer: {
        delivered: { consumer_seq: 5, stream_seq: 5 },
        ack_floor: { consumer_seq: 5, stream_seq: 5 },
        num_ack_pending: 0,
        num_redelivered: 0,
        num_pending: 0,
      },
    },
  },
  {
    name:
      "JetStream errors walnats maps: stream exists, not found, consumer not found",
    async run(b) {
      const ev = new Event(uniq("fid-errors"), User, {
        limits: { maxMessages: 10 },
      });
      const nc = await b.connect();
      await (await new Events(ev).connect(nc)).register();
      const changed = new Event(ev.name, User, { limits: { maxMessages: 20 } });
      const pub2 = await new Events(changed).connect(nc);
      const code = async (p: Promise<unknown>): Promise<unknown> => {
        try {
          await p;
          return "ok";
        } catch (error) {
          const e = error as { name: string; code?: number };
          return [e.name, e.code ?? null];
        }
      };
      const jsm = await jetstreamManager(nc);
      const orphan = new Actor(
        uniq("fid-orphan"),
        new Event(uniq("fid-nostream"), User),
        () => {},
      );
      return {
        exists: await code(pub2.register({ update: false })),
        updated: (await pub2.register()).updated.length,
        streamNotFound: await code(jsm.streams.info(uniq("fid-missing"))),
        consumerNotFound: await code(jsm.consumers.info(ev.stream, "nobody")),
        consumerWithoutStream: await code(
          (async () => (await new Actors(orphan).connect(nc)).register())(),
        ),
        storageChange: await code(
          pub2.register().then(() =>
            new Events(
              new Event(ev.name, User, {
                limits: { maxMessages: 20, storage: "memory" },
              }),
            ).connect(nc).then((p) => p.register())
          ),
        ),
      };
    },
    expected: {
      exists: ["StreamExistsError", 10058],
      updated: 1,
      streamNotFound: ["StreamNotFoundError", 10059],
      consumerNotFound: ["ConsumerNotFoundError", 10014],
      consumerWithoutStream: ["ConsumerConfigError", 10059],
      storageChange: ["StreamConfigError", 10052],
    },
  },
];

/**
 * The acceptance scenario: emit, fail, retry after `retryDelay` twice, end
 * dead-lettered. Returns what a user's test would check.
 */
export async function deadLetterAfterRetries(
  b: Backend,
  retryDelay: number,
): Promise<unknown> {
  const ev = new Event(uniq("acceptance-order"), User);
  const attempts: number[] = [];
  const actor = new Actor(uniq("acceptance-ship"), ev, (_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("carrier down");
  }, { retryDelay: [retryDelay, retryDelay], maxAttempts: 3 });
  const { pub, sub, nc } = await setup(b, [ev], [actor]);
  await pub.emit(ev, { name: "parcel" });
  const running = listen(b, sub);
  const letters = await b.until(
    async () => {
      const list = await sub.deadLetters(actor);
      return list.length > 0 ? list : undefined;
    },
    "the dead letter",
    3 * retryDelay + 60_000,
  );
  const info = await quiet(b, nc, actor);
  const report = await running.stop();
  return {
    attempts,
    report,
    deadLetter: letters.map((l) => ({
      reason: l.reason,
      attempts: l.attempts,
      error: l.error,
      payload: new TextDecoder().decode(l.data),
    })),
    consumer: figures(info),
  };
}

/** What {@linkcode deadLetterAfterRetries} must observe everywhere. */
export const DEAD_LETTER_AFTER_RETRIES: unknown = {
  attempts: [1, 2, 3],
  report: { succeeded: 0, failed: 2, deadLettered: 1, delayed: 0 },
  deadLetter: [{
    reason: "exhausted",
    attempts: 3,
    error: "Error: carrier down",
    payload: '{"name":"parcel"}',
  }],
  consumer: {
    delivered: { consumer_seq: 3, stream_seq: 1 },
    ack_floor: { consumer_seq: 3, stream_seq: 1 },
    num_ack_pending: 0,
    num_redelivered: 0,
    num_pending: 0,
  },
};

// --- the raw protocol, message by message ---

const TIME_KEYS = new Set([
  "created",
  "first_ts",
  "last_ts",
  "last_active",
  "time",
]);
const ZERO_TIME = "0001-01-01T00:00:00Z";

function normalizeJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeJson);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = TIME_KEYS.has(k) && typeof v === "string" && v !== ZERO_TIME
      ? "<time>"
      : normalizeJson(v);
  }
  return out;
}

/** A received message with what differs run to run taken out. */
function describeMsg(m: {
  subject: string;
  reply?: string;
  data: Uint8Array;
  headers?: {
    code: number;
    description: string;
    keys(): string[];
    get(k: string): string;
  };
}): unknown {
  const out: Record<string, unknown> = {};
  out.subject = m.subject.startsWith("_INBOX.") ? "<inbox>" : m.subject;
  if (m.reply) {
    const t = m.reply.split(".");
    if (t[0] === "$JS" && t[1] === "ACK" && t.length === 9) t[7] = "<ts>";
    out.reply = t.join(".");
  }
  const h = m.headers;
  if (h !== undefined) {
    let description = h.description;
    // Go's JSON error texts are not reproduced word for word.
    if (description.startsWith("Bad Request - invalid character")) {
      description = "Bad Request - <json error>";
    }
    if (h.code) out.status = `${h.code} ${description}`.trim();
    const keys = h.keys().sort();
    if (keys.length > 0) out.headers = keys.map((k) => `${k}: ${h.get(k)}`);
  }
  const text = new TextDecoder().decode(m.data);
  if (text !== "") {
    try {
      out.json = normalizeJson(JSON.parse(text));
    } catch {
      out.text = text;
    }
  }
  return out;
}

/**
 * Drive the JetStream API, publishes, pull requests and acks from a raw
 * connection and record every answer. The two backends' transcripts must
 * be identical.
 */
export async function protocolTranscript(b: Backend): Promise<unknown[]> {
  const nc = await b.connect();
  const log: unknown[] = [];
  const req = async (
    label: string,
    subject: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => {
    const { headers: makeHeaders } = await import("@nats-io/nats-core");
    let h;
    if (headers !== undefined) {
      h = makeHeaders();
      for (const [k, v] of Object.entries(headers)) h.set(k, v);
    }
    const payload = body === undefined
      ? undefined
      : typeof body === "string"
      ? body
      : JSON.stringify(body);
    let answer: unknown;
    const p = nc.request(subject, payload, {
      timeout: 500,
      ...(h ? { headers: h } : {}),
    }).then(
      (m) => {
        answer = describeMsg(m);
      },
      (e: Error) => {
        answer = { error: e.name, message: e.message };
      },
    );
    await b.until(() => answer !== undefined, label, 5_000);
    await p;
    log.push([label, answer]);
  };
  const inbox = `_INBOX.transcript${Math.random().toString(36).slice(2)}`;
  const pulled: {
    reply?: string;
    describe: unknown;
    respond: (d: string) => void;
  }[] = [];
  nc.subscribe(inbox, {
    callback: (_e, m) => {
      pulled.push({
        ...(m.reply ? { reply: m.reply } : {}),
        describe: describeMsg(m),
        respond: (d) => m.respond(d),
      });
    },
  });
  const pull = async (
    label: string,
    consumer: string,
    body: string,
    done: (got: unknown[]) => boolean,
  ) => {
    const start = pulled.length;
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.tx.${consumer}`, body, {
      reply: inbox,
    });
    await b.until(
      () => done(pulled.slice(start).map((p) => p.describe)),
      label,
      5_000,
    );
    log.push([label, pulled.slice(start).map((p) => p.describe)]);
  };
  const status = (code: number) => (got: unknown[]) =>
    got.some((g) =>
      String((g as { status?: string }).status ?? "").startsWith(String(code))
    );
  const count = (n: number) => (got: unknown[]) => got.length >= n;

  const cfg = {
    name: "tx",
    subjects: ["tx"],
    retention: "interest",
    max_age: 0,
    max_msgs: -1,
    max_bytes: -1,
    max_msg_size: -1,
    max_consumers: -1,
    num_replicas: 1,
    storage: "file",
    discard: "old",
    duplicate_window: 120e9,
  };
  await req("account info", "$JS.API.INFO");
  await req("stream info, missing", "$JS.API.STREAM.INFO.tx");
  await req("stream create", "$JS.API.STREAM.CREATE.tx", cfg);
  await req("stream create, same again", "$JS.API.STREAM.CREATE.tx", cfg);
  await req("stream create, different", "$JS.API.STREAM.CREATE.tx", {
    ...cfg,
    max_msgs: 5,
  });
  await req("stream update, storage", "$JS.API.STREAM.UPDATE.tx", {
    ...cfg,
    storage: "memory",
  });
  await req("stream create, name mismatch", "$JS.API.STREAM.CREATE.tx", {
    ...cfg,
    name: "other",
  });
  await req("stream create, overlap", "$JS.API.STREAM.CREATE.tx2", {
    ...cfg,
    name: "tx2",
  });
  await req("stream create, bad JSON", "$JS.API.STREAM.CREATE.tx3", "{nope");
  await req("stream create, defaults", "$JS.API.STREAM.CREATE.txmini", {
    name: "txmini",
    subjects: ["txmini.*"],
  });
  await req(
    "stream create, dup window over max age",
    "$JS.API.STREAM.CREATE.txage",
    { name: "txage", max_age: 1e9, duplicate_window: 2e9 },
  );
  await req("stream update", "$JS.API.STREAM.UPDATE.tx", {
    ...cfg,
    max_msgs: 1000,
  });
  await req("publish, no stream", "tx-nowhere", "x");
  await req("publish, no consumer", "tx", "hello", { "Nats-Msg-Id": "a1" });
  await req("publish, no consumer, duplicate", "tx", "hello", {
    "Nats-Msg-Id": "a1",
  });
  const ccfg = {
    durable_name: "c1",
    ack_policy: "explicit",
    ack_wait: 60e9,
    max_deliver: 5,
    max_ack_pending: 10,
  };
  await req("durable create", "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1", {
    stream_name: "tx",
    config: ccfg,
  });
  await req("consumer create, named", "$JS.API.CONSUMER.CREATE.tx.c2", {
    stream_name: "tx",
    config: { ...ccfg, durable_name: "c2", name: "c2" },
  });
  await req("durable create, same", "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1", {
    stream_name: "tx",
    config: ccfg,
  });
  await req(
    "durable create, updates max_deliver",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1",
    { stream_name: "tx", config: { ...ccfg, max_deliver: 7 } },
  );
  await req(
    "durable create, deliver policy change",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1",
    { stream_name: "tx", config: { ...ccfg, deliver_policy: "new" } },
  );
  await req(
    "durable create, name mismatch",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.zz",
    { stream_name: "tx", config: ccfg },
  );
  await req(
    "durable create, no stream",
    "$JS.API.CONSUMER.DURABLE.CREATE.nostream.c1",
    { stream_name: "nostream", config: ccfg },
  );
  await req("consumer info, missing", "$JS.API.CONSUMER.INFO.tx.nope");
  await req("consumer info, no stream", "$JS.API.CONSUMER.INFO.nostream.nope");
  await req("publish 1", "tx", "one", {
    "Nats-Msg-Id": "m1",
    "X-Custom": "yes",
  });
  await req("publish 2", "tx", "two");
  await req("publish, expected stream", "tx", "x", {
    "Nats-Expected-Stream": "other",
  });
  await req("publish, expected last sequence", "tx", "x", {
    "Nats-Expected-Last-Sequence": "1",
  });
  await pull(
    "pull batch 3 expires 300ms",
    "c1",
    JSON.stringify({ batch: 3, expires: 300e6 }),
    status(408),
  );
  await req("consumer info after pull", "$JS.API.CONSUMER.INFO.tx.c1");
  await pull(
    "pull no_wait, nothing left",
    "c1",
    JSON.stringify({ batch: 3, no_wait: true }),
    status(404),
  );
  await pull(
    "pull with heartbeats",
    "c1",
    JSON.stringify({ batch: 1, expires: 300e6, idle_heartbeat: 100e6 }),
    status(408),
  );
  await pull(
    "pull, heartbeat too large",
    "c1",
    JSON.stringify({ batch: 1, expires: 100e6, idle_heartbeat: 100e6 }),
    status(400),
  );
  await pull("pull, bad JSON", "c1", "{bad", status(400));
  await pull(
    "pull c2 no_wait batch 5",
    "c2",
    JSON.stringify({ batch: 5, no_wait: true }),
    status(408),
  );
  // A consumer made after the messages were stored still gets them (deliver
  // all), and its deletion leaves them to the others.
  await req(
    "consumer created late",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.late",
    {
      stream_name: "tx",
      config: { durable_name: "late", ack_policy: "explicit" },
    },
  );
  await pull(
    "pull of the late consumer",
    "late",
    JSON.stringify({ batch: 5, no_wait: true }),
    status(408),
  );
  await req("late consumer delete", "$JS.API.CONSUMER.DELETE.tx.late");
  // Acks on c1's two deliveries.
  const deliveries = pulled.filter((p) =>
    p.reply?.startsWith("$JS.ACK.tx.c1.")
  );
  let acked: unknown;
  void nc.request(deliveries[0]!.reply!, "+ACK", { timeout: 1000 }).then(
    (m) => {
      acked = describeMsg(m);
    },
    (e: Error) => {
      acked = { error: e.name };
    },
  );
  await b.until(() => acked !== undefined, "double ack", 5_000);
  log.push(["double ack reply", acked]);
  deliveries[1]!.respond("+WPI");
  deliveries[1]!.respond("+TERM with a reason");
  await req(
    "consumer info after ack and term with reason",
    "$JS.API.CONSUMER.INFO.tx.c1",
  );
  await req("stream info", "$JS.API.STREAM.INFO.tx");
  deliveries[1]!.respond('-NAK {"delay":200000000}');
  await req(
    "consumer info after nak with delay",
    "$JS.API.CONSUMER.INFO.tx.c1",
  );
  await pull(
    "pull after the nak delay",
    "c1",
    JSON.stringify({ batch: 1, expires: 2000e6 }),
    count(1),
  );
  const redelivered = pulled[pulled.length - 1]!;
  redelivered.respond("+TERM");
  // The server applies acks asynchronously: wait until it shows.
  await b.until(
    async () => {
      const m = await nc.request("$JS.API.CONSUMER.INFO.tx.c1", undefined, {
        timeout: 1000,
      });
      return (m.json() as { num_ack_pending: number }).num_ack_pending === 0;
    },
    "the term to apply",
    5_000,
  );
  await req("consumer info after term", "$JS.API.CONSUMER.INFO.tx.c1");
  await req("stream info after term", "$JS.API.STREAM.INFO.tx");
  await req("stream names", "$JS.API.STREAM.NAMES", { subject: "tx" });
  await req("stream list", "$JS.API.STREAM.LIST", {});
  await req("consumer names", "$JS.API.CONSUMER.NAMES.tx", {});
  await req("consumer list", "$JS.API.CONSUMER.LIST.tx", {});
  await req("msg get, acked by c1 but not c2", "$JS.API.STREAM.MSG.GET.tx", {
    seq: 2,
  });
  await req("msg get, next by subject", "$JS.API.STREAM.MSG.GET.tx", {
    seq: 1,
    next_by_subj: "tx",
  });
  await req("msg get, last by subject", "$JS.API.STREAM.MSG.GET.tx", {
    last_by_subj: "tx",
  });
  await req("msg get, missing", "$JS.API.STREAM.MSG.GET.tx", { seq: 99 });
  await req("msg delete, missing", "$JS.API.STREAM.MSG.DELETE.tx", {
    seq: 99,
    no_erase: true,
  });
  // A pull waiting when its consumer goes.
  const before = pulled.length;
  nc.publish(
    "$JS.API.CONSUMER.MSG.NEXT.tx.c2",
    JSON.stringify({ batch: 1, expires: 3000e6 }),
    { reply: inbox },
  );
  await req("consumer delete", "$JS.API.CONSUMER.DELETE.tx.c2");
  await b.until(
    () => pulled.length > before,
    "the waiting pull's answer",
    5_000,
  );
  log.push([
    "waiting pull of a deleted consumer",
    pulled.slice(before).map((p) => p.describe),
  ]);
  await req("consumer delete, missing", "$JS.API.CONSUMER.DELETE.tx.c2");
  await req("stream info after consumer delete", "$JS.API.STREAM.INFO.tx");
  await req("stream purge", "$JS.API.STREAM.PURGE.tx", {});
  await req("stream delete", "$JS.API.STREAM.DELETE.txmini");
  await req("stream delete, missing", "$JS.API.STREAM.DELETE.txmini");
  // Limits.
  const lim = {
    name: "txlim",
    subjects: ["txlim"],
    retention: "interest",
    max_msgs: 2,
    max_msg_size: 64,
    discard: "new",
    max_consumers: 1,
    storage: "memory",
  };
  await req("limits stream", "$JS.API.STREAM.CREATE.txlim", lim);
  await req("limits consumer", "$JS.API.CONSUMER.DURABLE.CREATE.txlim.l1", {
    stream_name: "txlim",
    config: { durable_name: "l1", ack_policy: "explicit" },
  });
  await req(
    "limits, second consumer",
    "$JS.API.CONSUMER.DURABLE.CREATE.txlim.l2",
    {
      stream_name: "txlim",
      config: { durable_name: "l2", ack_policy: "explicit" },
    },
  );
  await req("limits, too big", "txlim", "x".repeat(100));
  await req("limits, 1", "txlim", "one");
  await req("limits, 2", "txlim", "two");
  await req("limits, discard new", "txlim", "three");
  await req("limits stream info", "$JS.API.STREAM.INFO.txlim");
  // Core subjects.
  const core: string[] = [];
  for (const s of ["txc.*", "txc.>", "txc.a.b", "txc.a"]) {
    nc.subscribe(s, {
      callback: (_e, m) => {
        core.push(`${s} <- ${m.subject}`);
      },
    });
  }
  nc.publish("txc.a", "1");
  nc.publish("txc.a.b", "2");
  nc.publish("txc.a.b.c", "3");
  await nc.flush();
  await b.until(() => core.length >= 5, "core deliveries", 5_000);
  log.push(["core wildcards", core.sort()]);
  return log;
}
