// What the failure-rule tests share: a fake message that records the
// engine's answers, a harness of fake timers, logger and dead-letter
// publisher, and one Job run.
import * as v from "valibot";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { Actor, type ActorOptions, Event } from "../mod.ts";
import { Job, type JobEnv, type JobStats } from "../src/listen/_job.ts";
import { JobMessage } from "../src/listen/_jsmsg.ts";
import { FakeTimers, MemoryLogger } from "./_fakes.ts";

export const Num = v.object({ n: v.number() });
export const EV = new Event("rules", Num);
export const NOW = 1_800_000_000_000;

/** What the engine answered to one delivery. */
export type Answer =
  | { kind: "ack" }
  | { kind: "nak"; delay: number }
  | { kind: "term"; reason: string | undefined }
  | { kind: "working" };

function parseAnswer(bytes: Uint8Array): Answer {
  const text = new TextDecoder().decode(bytes);
  if (text === "+ACK") return { kind: "ack" };
  if (text === "+WPI") return { kind: "working" };
  if (text.startsWith("+TERM")) {
    return { kind: "term", reason: text.slice(6) || undefined };
  }
  const nak = /^-NAK(?: (.*))?$/.exec(text);
  if (nak) {
    const delay = nak[1] ? Number(JSON.parse(nak[1]).delay) / 1e6 : 0;
    return { kind: "nak", delay };
  }
  throw new Error(`unexpected answer ${text}`);
}

export interface Delivery {
  deliveryCount?: number;
  /** Stored time, epoch ms. */
  timestamp?: number;
  headers?: Record<string, string>;
  data?: string;
  sequence?: number;
}

/** One fake delivery: a real JobMessage over a Msg that records answers. */
export function deliver(
  d: Delivery = {},
): { msg: JobMessage; answers: Answer[] } {
  const answers: Answer[] = [];
  const h = natsHeaders();
  for (const [k, value] of Object.entries(d.headers ?? {})) h.set(k, value);
  const raw = {
    subject: "rules",
    reply: "$JS.ACK.rules.w.1.1.1.0.0",
    data: new TextEncoder().encode(d.data ?? '{"n":1}'),
    headers: d.headers ? h : undefined,
    respond(bytes: Uint8Array) {
      answers.push(parseAnswer(bytes));
      return true;
    },
  } as unknown as Msg;
  const msg = new JobMessage(raw, {
    stream: "rules",
    consumer: "w",
    deliveryCount: d.deliveryCount ?? 1,
    streamSequence: d.sequence ?? 7,
    consumerSequence: 1,
    timestamp: d.timestamp ?? NOW - 1000,
    pending: 0,
  });
  return { msg, answers };
}

export interface Harness {
  env: JobEnv;
  timers: FakeTimers;
  logger: MemoryLogger;
  stats: JobStats;
  deadLetters: { subject: string; headers: Record<string, string> }[];
}

export function harness(options: { dlqFails?: boolean } = {}): Harness {
  const timers = new FakeTimers(NOW);
  const logger = new MemoryLogger();
  const deadLetters: Harness["deadLetters"] = [];
  const js = {
    publish(
      subject: string,
      _data: Uint8Array,
      opts: { headers: Iterable<[string, string[]]> },
    ) {
      if (options.dlqFails) return Promise.reject(new Error("no stream"));
      const headers: Record<string, string> = {};
      for (const [k, vs] of opts.headers) headers[k] = vs[0] ?? "";
      deadLetters.push({ subject, headers });
      return Promise.resolve({ seq: deadLetters.length, duplicate: false });
    },
  };
  // Acknowledged publishes (moves to the delay stream) go through the ack
  // inbox: a connection that records them and acknowledges at once.
  let inbox: ((err: null, msg: unknown) => void) | undefined;
  const encoder = new TextEncoder();
  const nc = {
    isClosed: () => false,
    closed: () => new Promise(() => {}),
    status: async function* () {},
    subscribe(_subject: string, opts: { callback: typeof inbox }) {
      inbox = opts.callback;
      return { unsubscribe() {} };
    },
    publish(
      subject: string,
      _data: Uint8Array,
      opts?: { reply?: string; headers?: Iterable<[string, string[]]> },
    ) {
      if (opts?.reply === undefined) return;
      if (options.dlqFails) throw new Error("no stream");
      const headers: Record<string, string> = {};
      for (const [k, vs] of opts.headers ?? []) headers[k] = vs[0] ?? "";
      deadLetters.push({ subject, headers });
      const ack = { stream: "delay", seq: deadLetters.length };
      inbox?.(null, {
        subject: opts.reply,
        data: encoder.encode(JSON.stringify(ack)),
      });
    },
  };
  const env = {
    nc,
    js,
    logger,
    termReasons: false,
    timers,
  } as unknown as JobEnv;
  const stats: JobStats = {
    succeeded: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    delayed: 0,
    timedOut: 0,
    skipped: 0,
  };
  return { env, timers, logger, stats, deadLetters };
}

/** Run one delivery through a job; resolves when the message is answered. */
export async function runJob(
  h: Harness,
  actor: Actor<{ n: number }>,
  d: Delivery = {},
  maxDeliver?: number,
): Promise<{ answers: Answer[]; job: Job }> {
  const { msg, answers } = deliver(d);
  let done!: () => void;
  const settled = new Promise<void>((r) => (done = r));
  const job = new Job(actor, msg, h.env, () => done(), maxDeliver);
  job.run(h.stats);
  await settled;
  return { answers, job };
}

export function actor(
  handler: (m: { n: number }, ctx: { attempt: number }) => unknown,
  options: ActorOptions<{ n: number }> = {},
): Actor<{ n: number }> {
  return new Actor("w", EV, handler, options);
}
