// The pull loop of one actor in one listener: pull requests sized to the
// free job slots, one inbox subscription, one pulse timer and one timeout
// sweep per actor (not per message).
import { JsHeaders } from "@nats-io/jetstream";
import { JetStreamStatus } from "@nats-io/jetstream/internal";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";
import type { AnyActor, Priority } from "../actor.ts";
import { inboxPrefix } from "../transports/_connection_options.ts";
import { Job, type JobEnv, type JobStats } from "./_job.ts";
import { ackParser, type DeliveryMeta, JobMessage } from "./_jsmsg.ts";
import type { Scheduler, SlotWaiter } from "./_scheduler.ts";
import { RecentSet } from "./_recent.ts";
import { type RewindGuard, rewindGuard } from "./_rewinds.ts";

const encoder = new TextEncoder();
// How many acked stream sequences each actor remembers: more than can be in
// flight in any failover window (maxAckPending is 1000 by default).
const ACKED_MEMORY = 8192;

/**
 * Milliseconds between the server's idle heartbeats on a waiting pull
 * request (nats-server 2.9+; at most half the request's expiry).
 */
export function heartbeat(pollDelay: number): number {
  return Math.max(1, Math.min(500, Math.floor(pollDelay / 2)));
}

/** Milliseconds of silence after which the requests out count as lost. */
export function lostAfter(pollDelay: number): number {
  return 2 * heartbeat(pollDelay) + 250;
}

// An idle actor's probe (one message, no slot held) waits longer than a
// pull and hears heartbeats less often: with pollDelay's 2 s and 500 ms, 1,000
// idle actors cost the server 500 requests and 2,000 heartbeats a second
// (bench/, idle-cost); with these, 33 and 200. The price: a probe lost in a
// consumer-leader failover is noticed after about 10 s instead of 1.25 s
// (a reconnect resets it at once), and only while the actor is idle: pulls
// for free slots keep pollDelay's timings.
const PROBE_EXPIRES = 30_000;
const PROBE_HEARTBEAT = 5_000;

/** Milliseconds an idle actor's probe waits for a message. */
export function probeExpires(pollDelay: number): number {
  return Math.max(pollDelay, PROBE_EXPIRES);
}

/** Milliseconds of silence after which an idle actor's probe counts as lost. */
export function probeLostAfter(): number {
  return 2 * PROBE_HEARTBEAT + 250;
}

export interface PullerOptions {
  /** Most messages asked for in one pull request. */
  batch: number;
  /** Milliseconds a pull request waits for messages. */
  pollDelay: number;
  /** Pull once, handle what came, stop. */
  burst: boolean;
  /** JetStream API prefix. */
  apiPrefix: string;
}

/** Why the puller stopped by itself. */
export type PullerFailure = {
  actor: string;
  status: number;
  detail: string;
  /** The server said the consumer (or its stream) was deleted. */
  deleted: boolean;
};

export class Puller implements SlotWaiter {
  readonly actor: AnyActor;
  readonly #nc: NatsConnection;
  readonly #env: JobEnv;
  readonly #scheduler: Scheduler;
  readonly #opts: PullerOptions;
  readonly #stats: JobStats;
  readonly #pullSubject: string;
  readonly #parseAck: (subject: string) => DeliveryMeta | undefined;
  readonly #inbox: string;
  // Idle actors keep one probe out on their own inbox; the probe holds no
  // global slot, so an idle actor never starves a busy one.
  readonly #probeInbox: string;
  #probeSub: Subscription | undefined;
  #probeOut = false;
  readonly #onFailure: (failure: PullerFailure) => void;
  #sub: Subscription | undefined;
  /** Messages requested and not yet delivered or expired. */
  #outstanding = 0;
  /**
   * Global slots held for outstanding messages (at most `#outstanding`;
   * fewer after another actor reclaimed some for a message already there).
   */
  #credit = 0;
  /** The consumer's `max_deliver`, as the listener found it. */
  maxDeliver: number;
  /** Delivered messages that found no credit (after a credit reset). */
  readonly #backlog: JobMessage[] = [];
  readonly #jobs = new Set<Job>();
  /** Stream sequences acked lately (see RecentSet). */
  readonly #acked = new RecentSet(ACKED_MEMORY);
  /** Delivery counts of what was nak'd (see _rewinds.ts). */
  readonly #rewinds: RewindGuard;
  #idle = false;
  #lastHeard = 0;
  #stopping = false;
  /** Paused cluster-wide (see _pause.ts): no pulls, no new jobs. */
  #paused = false;
  #pulledOnce = false;
  #timers: unknown[] = [];
  #drained: (() => void) | undefined;

  constructor(
    nc: NatsConnection,
    actor: AnyActor,
    scheduler: Scheduler,
    env: JobEnv,
    stats: JobStats,
    opts: PullerOptions,
    onFailure: (failure: PullerFailure) => void,
  ) {
    this.#nc = nc;
    this.actor = actor;
    this.#scheduler = scheduler;
    this.#env = env;
    this.#stats = stats;
    this.#opts = opts;
    this.#onFailure = onFailure;
    this.#pullSubject =
      `${opts.apiPrefix}.CONSUMER.MSG.NEXT.${actor.event.stream}.${actor.consumer}`;
    this.#parseAck = ackParser(actor.event.stream, actor.consumer);
    this.#rewinds = rewindGuard(nc, actor.event.stream, actor.consumer);
    this.#inbox = createInbox(inboxPrefix(nc));
    this.#probeInbox = createInbox(inboxPrefix(nc));
    this.maxDeliver = actor.consumerConfig().max_deliver ?? -1;
    scheduler.register(this);
  }

  /** Jobs past their `jobTimeout` whose handler has not settled yet. */
  get overdue(): number {
    let n = 0;
    for (const job of this.#jobs) if (job.overdue) n++;
    return n;
  }

  yieldSlot(): boolean {
    if (this.#credit === 0 || this.#stopping) return false;
    this.#credit--;
    return true;
  }

  get priority(): Priority {
    return this.actor.priority;
  }

  /** Jobs in progress. */
  get running(): number {
    return this.#jobs.size;
  }

  start(): void {
    this.#sub = this.#nc.subscribe(this.#inbox, {
      callback: (err, msg) => {
        if (err === null) this.#onMessage(msg);
      },
    });
    this.#probeSub = this.#nc.subscribe(this.#probeInbox, {
      callback: (err, msg) => {
        if (err === null) this.#onProbe(msg);
      },
    });
    const timers = this.#env.timers;
    this.#lastHeard = timers.monotonic();
    const actor = this.actor;
    if (actor.pulse) {
      this.#timers.push(timers.setInterval(() => {
        for (const job of this.#jobs) job.msg.working();
        for (const m of this.#backlog) m.working();
      }, Math.max(1, actor.ackWait / 2)));
    }
    const sweep = Math.max(5, Math.min(250, actor.jobTimeout / 10));
    this.#timers.push(timers.setInterval(() => this.#tick(), sweep));
    this.wake();
  }

  // Job timeouts, and recovery of credit lost with unanswered requests.
  #tick(): void {
    const now = this.#env.timers.monotonic();
    for (const job of this.#jobs) {
      if (job.started !== 0 && now > job.deadline) job.timeout(this.#stats);
    }
    const silentFor = now - this.#lastHeard;
    if (
      this.#outstanding > 0
        ? silentFor > lostAfter(this.#opts.pollDelay)
        : this.#probeOut && silentFor > probeLostAfter()
    ) {
      // Requests were lost (a consumer leader died, the connection dropped,
      // the server forgot an expired one): their heartbeats stopped, so
      // nobody will answer them. Give their slots back and ask again.
      this.resetCredit();
    }
  }

  /** Forget outstanding requests (after a reconnect) and ask again. */
  resetCredit(): void {
    const lost = this.#credit;
    this.#credit = 0;
    this.#outstanding = 0;
    this.#probeOut = false;
    this.#scheduler.release(lost);
    this.#lastHeard = this.#env.timers.monotonic();
    this.#checkDrained();
    this.wake();
  }

  /**
   * Pause or resume: a paused actor asks for nothing and starts no job;
   * what its requests still out deliver waits in the backlog (pulsed).
   */
  setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    if (!paused) this.wake();
  }

  /** Whether {@linkcode Puller.setPaused} paused it. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Ask for as many messages as there are free slots. */
  wake(): void {
    if (this.#stopping || this.#paused) return;
    if (this.#opts.burst && this.#pulledOnce) return;
    // Delivered-without-credit messages go first.
    while (this.#backlog.length > 0 && this.#localFree() > 0) {
      if (this.#scheduler.take(this, 1) === 0) return;
      this.#startJob(this.#backlog.shift()!);
    }
    let free = this.#localFree();
    if (this.#idle && !this.#opts.burst) {
      if (!this.#probeOut && this.#outstanding === 0 && free > 0) {
        this.#probeOut = true;
        this.#request(
          this.#probeInbox,
          1,
          probeExpires(this.#opts.pollDelay),
          PROBE_HEARTBEAT,
        );
      }
      return;
    }
    // While requests are still out, wait until half a batch of slots is
    // free before asking again: jobs that end one by one would otherwise
    // cost one pull request each.
    const threshold = Math.ceil(
      Math.min(this.#opts.batch, this.actor.maxJobs) / 2,
    );
    if (this.#outstanding > 0 && free < threshold) return;
    while (free > 0) {
      const wanted = Math.min(this.#opts.batch, free);
      const granted = this.#scheduler.take(this, wanted);
      if (granted === 0) return;
      this.#pull(granted);
      free -= granted;
      if (this.#opts.burst) return;
    }
  }

  #localFree(): number {
    return this.actor.maxJobs - this.#jobs.size - this.#outstanding -
      this.#backlog.length;
  }

  #pull(n: number): void {
    this.#credit += n;
    this.#outstanding += n;
    this.#pulledOnce = true;
    const pollDelay = this.#opts.pollDelay;
    this.#request(this.#inbox, n, pollDelay, heartbeat(pollDelay));
  }

  #request(inbox: string, n: number, expires: number, beat: number): void {
    const request = this.#opts.burst
      ? `{"batch":${n},"no_wait":true}`
      : `{"batch":${n},"expires":${expires * 1_000_000},"idle_heartbeat":${
        beat * 1_000_000
      }}`;
    try {
      this.#nc.publish(this.#pullSubject, encoder.encode(request), {
        reply: inbox,
      });
    } catch {
      // Closed connection: the credit is recovered by the sweep or the
      // reconnect handler.
    }
  }

  #onMessage(msg: Msg): void {
    this.#lastHeard = this.#env.timers.monotonic();
    const meta = msg.reply ? this.#parseAck(msg.reply) : undefined;
    if (meta === undefined) this.#onStatus(msg);
    else {
      // One of the outstanding messages; its slot may have been reclaimed.
      if (this.#outstanding > 0) this.#outstanding--;
      const reserved = this.#credit > this.#outstanding;
      if (reserved) this.#credit--;
      this.#deliver(new JobMessage(msg, meta), reserved);
    }
  }

  #onProbe(msg: Msg): void {
    this.#lastHeard = this.#env.timers.monotonic();
    const meta = msg.reply ? this.#parseAck(msg.reply) : undefined;
    if (meta === undefined) {
      const status = JetStreamStatus.maybeParseStatus(msg);
      if (status === null || status.isIdleHeartbeat()) return; // still out
      this.#probeOut = false;
      if (this.#fatal(status)) return;
      this.#checkDrained();
      this.#askAgain(status.code);
      return;
    }
    this.#probeOut = false;
    // The probe held no slot: the message takes one if it is free.
    this.#deliver(new JobMessage(msg, meta), false);
  }

  /**
   * Run a delivered message, or keep it (pulsed) until a slot frees up.
   * `reserved`: a slot was taken for it when it was requested.
   */
  #deliver(delivered: JobMessage, reserved: boolean): void {
    this.#idle = false;
    let m = delivered;
    const rewound = this.#rewinds.size > 0
      ? this.#rewinds.rewound(delivered)
      : undefined;
    if (rewound !== undefined) {
      m = rewound;
      this.#env.logger.warn(
        "the server delivered a retried message with a lower delivery count (nats-server before 2.10.14); counting on from the last delivery",
        {
          actor: this.actor.name,
          sequence: m.meta.streamSequence,
          deliveryCount: delivered.meta.deliveryCount,
          counted: m.meta.deliveryCount,
        },
      );
    }
    if (
      m.meta.deliveryCount > 1 && this.#acked.has(m.meta.streamSequence)
    ) {
      // Handled and acked here already, but the ack was lost (a consumer
      // leader failed over before it was replicated): ack it again rather
      // than run the handler twice.
      m.ack();
      this.#env.logger.info("redelivered after its ack was lost; acked again", {
        actor: this.actor.name,
        sequence: m.meta.streamSequence,
      });
      if (reserved) this.#scheduler.release(1);
      this.#checkDrained();
      if (!this.#opts.burst) this.wake();
      return;
    }
    if (this.#stopping) {
      // Shutting down: hand it back at once for another copy to take.
      if (reserved) this.#scheduler.release(1);
      m.nak(0);
      this.#rewinds.nakked(m);
      this.#checkDrained();
      return;
    }
    if (this.#paused) {
      if (reserved) this.#scheduler.release(1);
      this.#backlog.push(m);
      return;
    }
    if (reserved) {
      this.#startJob(m);
    } else if (
      this.#localFree() > 0 &&
      (this.#scheduler.take(this, 1) === 1 || this.#scheduler.reclaim(this))
    ) {
      // A probe's message, or one delivered after its credit was written
      // off (a reset after a reconnect, a status without a count) or
      // reclaimed: it takes a free slot, or one another actor holds for a
      // request that may never be filled.
      this.#startJob(m);
    } else {
      this.#backlog.push(m);
    }
    // Leaving the idle state: ask for the rest of the free slots.
    if (!this.#opts.burst) this.wake();
  }

  /** Report a status that ends pulling for this actor; true if it was one. */
  #fatal(status: JetStreamStatus): boolean {
    const deleted = status.isConsumerDeleted() || status.isStreamDeleted();
    // A consumer made again counts deliveries from 1.
    if (deleted) this.#rewinds.clear();
    if (status.code === 503 || deleted) {
      // No responders: the consumer or stream is missing, or JetStream is
      // not available right now. The listener checks which.
      this.#onFailure({
        actor: this.actor.name,
        status: status.code,
        detail: status.description || "no responders",
        deleted,
      });
      return true;
    }
    return false;
  }

  #askAgain(code: number): void {
    if (this.#stopping || this.#opts.burst) return;
    // 409 is a leadership change or a limit: back off before asking again.
    if (code === 409) this.#env.timers.setTimeout(() => this.wake(), 250);
    else this.wake();
  }

  #onStatus(msg: Msg): void {
    const status = JetStreamStatus.maybeParseStatus(msg);
    if (status === null) return; // neither a message nor a status
    const code = status.code;
    if (code === 100) return; // heartbeat or flow control
    if (code === 503) {
      // Nobody will answer the requests out: give their slots back.
      this.#scheduler.release(this.#credit);
      this.#credit = 0;
      this.#outstanding = 0;
    } else if (code === 404 || code === 408 || code === 409) {
      // The unfilled part of one request; without a count (or in a burst,
      // whose single request is over) all of it.
      const pending = Number(
        msg.headers?.get(JsHeaders.PendingMessagesHdr) || NaN,
      );
      const unfilled = this.#opts.burst || !Number.isFinite(pending)
        ? this.#outstanding
        : Math.min(pending, this.#outstanding);
      // A request that waited its full pollDelay unfilled: the stream ran
      // dry, so keep only the unreserved probe out until a message comes.
      if (code !== 409 && unfilled > 0) this.#idle = true;
      this.#outstanding -= unfilled;
      const excess = Math.max(0, this.#credit - this.#outstanding);
      this.#credit -= excess;
      this.#scheduler.release(excess);
    } else {
      this.#env.logger.warn("unexpected status on pull inbox", {
        actor: this.actor.name,
        status: code,
        description: status.description,
      });
      return;
    }
    if (this.#fatal(status)) return;
    if (code === 409) {
      this.#env.logger.warn("pull request refused", {
        actor: this.actor.name,
        status: code,
        description: status.description,
      });
    }
    this.#checkDrained();
    this.#askAgain(code);
  }

  #startJob(m: JobMessage): void {
    const job = new Job(
      this.actor,
      m,
      this.#env,
      this.#jobSettled,
      this.maxDeliver,
    );
    this.#jobs.add(job);
    job.run(this.#stats);
  }

  readonly #jobSettled = (job: Job): void => {
    this.#jobs.delete(job);
    if (job.msg.acked) this.#acked.add(job.msg.meta.streamSequence);
    else if (job.msg.nakked) this.#rewinds.nakked(job.msg);
    // Queue this actor before giving the slot back, so the slot goes to the
    // highest-priority waiter, this actor included.
    if (!this.#stopping && !this.#paused) this.#scheduler.wait(this);
    this.#scheduler.release(1);
    this.#checkDrained();
  };

  /** True once there is nothing left to wait for. */
  get idleAndEmpty(): boolean {
    return this.#outstanding === 0 && !this.#probeOut &&
      this.#jobs.size === 0 &&
      this.#backlog.length === 0;
  }

  // Nothing left to wait for; a burst only after its single pull was sent.
  #isDrained(): boolean {
    return this.idleAndEmpty &&
      (!this.#opts.burst || this.#pulledOnce || this.#stopping);
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.#isDrained()) this.#drained();
  }

  /** Stop asking for messages. */
  stop(): void {
    this.#stopping = true;
    // Take back the interest of the pull requests still out: the server
    // skips requests nobody subscribes to, so a message handed back (below,
    // or by a job abandoned after the grace) goes to another listener at
    // once. Kept, each of them would catch it and hand it back in turn,
    // spending a delivery every time until max_deliver is used up; then it
    // stays in the stream, never delivered again.
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#probeSub?.unsubscribe();
    this.#probeSub = undefined;
    const outstanding = this.#credit;
    this.#credit = 0;
    this.#probeOut = false;
    this.#scheduler.release(outstanding);
    for (const m of this.#backlog.splice(0)) {
      m.nak(0);
      this.#rewinds.nakked(m);
    }
    this.#checkDrained();
  }

  /** Jobs still running. */
  jobs(): Job[] {
    return [...this.#jobs];
  }

  /**
   * Resolve when every outstanding request was answered and every job
   * settled (or `deadline` passed for outstanding requests).
   */
  async drained(): Promise<void> {
    if (this.#isDrained()) return;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    this.#drained = undefined;
  }

  /** Release timers and the subscription. */
  close(): void {
    for (const t of this.#timers) this.#env.timers.clearInterval(t);
    this.#timers = [];
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#probeSub?.unsubscribe();
    this.#probeSub = undefined;
  }
}
