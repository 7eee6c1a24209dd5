// What the scenarios share: where they run (a Backend), what one is, and
// the helpers that set up, listen and read consumer and stream figures.
import * as v from "valibot";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo } from "@nats-io/jetstream";
import {
  Actors,
  type AnyActor,
  type AnyEvent,
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
export function uniq(prefix: string): string {
  counter++;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

export const User = v.object({ name: v.string() });

export interface Setup {
  pub: Publisher;
  sub: Subscriber;
  nc: NatsConnection;
}

export async function setup(
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

export interface Running {
  /** Abort, then wait (advancing time if virtual) for listen() to return. */
  stop(): Promise<ListenReport>;
}

export function listen(
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
export function figures(info: ConsumerInfo): Record<string, unknown> {
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

export async function consumer(
  nc: NatsConnection,
  actor: AnyActor,
): Promise<ConsumerInfo> {
  const jsm = await jetstreamManager(nc);
  return await jsm.consumers.info(actor.event.stream, actor.consumer);
}

/** Wait until the actor's consumer has nothing pending or unacked. */
export async function quiet(
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

export async function streamFigures(
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

export const noFailures = {
  succeeded: 0,
  failed: 0,
  retried: 0,
  deadLettered: 0,
  delayed: 0,
  timedOut: 0,
  overdue: 0,
  skipped: 0,
  released: 0,
  ticks: 0,
};
