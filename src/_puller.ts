// The pull loop of one actor in one listener: pull requests sized to the
// free job slots, one inbox subscription, one pulse timer and one timeout
// sweep per actor (not per message).
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";
import type { AnyActor, Priority } from "./actor.ts";
import { inboxPrefix } from "./_connection_options.ts";
import { Job, type JobEnv, type JobStats } from "./_job.ts";
import { ackParser, type DeliveryMeta, JobMessage } from "./_jsmsg.ts";
import type { Scheduler, SlotWaiter } from "./_scheduler.ts";

const encoder = new TextEncoder();

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
export type PullerFailure = { actor: string; status: number; detail: string };

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
  /** Messages requested and not yet delivered or expired (slots held). */
  #credit = 0;
  /** Delivered messages that found no credit (after a credit reset). */
  readonly #backlog: JobMessage[] = [];
  readonly #jobs = new Set<Job>();
  #idle = false;
  #lastHeard = 0;
  #stopping = false;
  #pulledOnce = false;
  #timers: ReturnType<typeof setInterval>[] = [];
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
    this.#inbox = createInbox(inboxPrefix(nc));
    this.#probeInbox = createInbox(inboxPrefix(nc));
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
    this.#lastHeard = performance.now();
    const actor = this.actor;
    if (actor.pulse) {
      this.#timers.push(setInterval(() => {
        for (const job of this.#jobs) job.msg.working();
        for (const m of this.#backlog) m.working();
      }, Math.max(1, actor.ackWait / 2)));
    }
    const sweep = Math.max(5, Math.min(1000, actor.jobTimeout / 10));
    this.#timers.push(setInterval(() => this.#tick(), sweep));
    this.wake();
  }

  // Job timeouts, and recovery of credit lost with unanswered requests.
  #tick(): void {
    const now = this.#env.clock();
    for (const job of this.#jobs) {
      if (job.started !== 0 && now > job.deadline) job.timeout(this.#stats);
    }
    if (
      this.#credit > 0 &&
      performance.now() - this.#lastHeard > this.#opts.pollDelay + 5_000
    ) {
      // Requests were lost (connection drop, server restart): nobody will
      // answer them, so give their slots back and ask again.
      this.resetCredit();
    }
  }

  /** Forget outstanding requests (after a reconnect) and ask again. */
  resetCredit(): void {
    const lost = this.#credit;
    this.#credit = 0;
    this.#probeOut = false;
    this.#scheduler.release(lost);
    this.#lastHeard = performance.now();
    this.#checkDrained();
    this.wake();
  }

  /** Ask for as many messages as there are free slots. */
  wake(): void {
    if (this.#stopping) return;
    if (this.#opts.burst && this.#pulledOnce) return;
    // Delivered-without-credit messages go first.
    while (this.#backlog.length > 0 && this.#localFree() > 0) {
      if (this.#scheduler.take(this, 1) === 0) return;
      this.#startJob(this.#backlog.shift()!);
    }
    let free = this.#localFree();
    if (this.#idle && !this.#opts.burst) {
      if (!this.#probeOut && this.#credit === 0 && free > 0) {
        this.#probeOut = true;
        this.#request(this.#probeInbox, 1);
      }
      return;
    }
    // While requests are still out, wait until half a batch of slots is
    // free before asking again: jobs that end one by one would otherwise
    // cost one pull request each.
    const threshold = Math.ceil(
      Math.min(this.#opts.batch, this.actor.maxJobs) / 2,
    );
    if (this.#credit > 0 && free < threshold) return;
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
    return this.actor.maxJobs - this.#jobs.size - this.#credit -
      this.#backlog.length;
  }

  #pull(n: number): void {
    this.#credit += n;
    this.#pulledOnce = true;
    this.#request(this.#inbox, n);
  }

  #request(inbox: string, n: number): void {
    const request = this.#opts.burst
      ? `{"batch":${n},"no_wait":true}`
      : `{"batch":${n},"expires":${this.#opts.pollDelay * 1_000_000}}`;
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
    this.#lastHeard = performance.now();
    const meta = msg.reply ? this.#parseAck(msg.reply) : undefined;
    if (meta === undefined) {
      this.#onStatus(msg);
      return;
    }
    const m = new JobMessage(msg, meta);
    this.#idle = false;
    if (this.#stopping) {
      // Shutting down: hand it back at once for another copy to take.
      if (this.#credit > 0) {
        this.#credit--;
        this.#scheduler.release(1);
      }
      m.nak(0);
      this.#checkDrained();
      return;
    }
    if (this.#credit > 0) {
      this.#credit--;
      this.#startJob(m);
    } else if (this.#localFree() > 0 && this.#scheduler.take(this, 1) === 1) {
      // Delivered after its credit was written off (a reset after a
      // reconnect or a status without a count): run it if a slot is free.
      this.#startJob(m);
    } else {
      this.#backlog.push(m);
    }
    // Leaving the idle state: ask for the rest of the free slots.
    if (!this.#opts.burst) this.wake();
  }

  #onProbe(msg: Msg): void {
    this.#lastHeard = performance.now();
    const meta = msg.reply ? this.#parseAck(msg.reply) : undefined;
    this.#probeOut = false;
    if (meta === undefined) {
      const code = msg.headers?.code ?? 0;
      if (code === 100) {
        this.#probeOut = true;
        return;
      }
      if (code === 503) {
        this.#onFailure({
          actor: this.actor.name,
          status: code,
          detail: msg.headers?.description || "no responders",
        });
        return;
      }
      if (code === 409 && /deleted/i.test(msg.headers?.description ?? "")) {
        this.#fail(code, msg.headers?.description ?? "");
        return;
      }
      this.#checkDrained();
      if (code === 409) setTimeout(() => this.wake(), 250);
      else this.wake();
      return;
    }
    const m = new JobMessage(msg, meta);
    this.#idle = false;
    if (this.#stopping) {
      m.nak(0);
      this.#checkDrained();
      return;
    }
    if (this.#scheduler.take(this, 1) === 1) {
      this.#startJob(m);
    } else {
      // Waits (pulsed) for the next free slot; wake() runs it first.
      this.#backlog.push(m);
    }
    this.wake();
  }

  #onStatus(msg: Msg): void {
    const h = msg.headers;
    const code = h?.code ?? 0;
    const description = h?.description ?? "";
    if (code === 100) return; // heartbeat or flow control
    const pendingHeader = h?.get("Nats-Pending-Messages");
    let unfilled = pendingHeader ? Number(pendingHeader) : NaN;
    if (code === 404 || code === 408 || code === 409) {
      if (this.#opts.burst || !Number.isFinite(unfilled)) {
        unfilled = this.#credit;
      }
      unfilled = Math.min(unfilled, this.#credit);
      // A request that waited its full pollDelay unfilled: the stream ran
      // dry, so keep only the unreserved probe out until a message comes.
      if (code !== 409 && unfilled > 0) this.#idle = true;
      this.#credit -= unfilled;
      this.#scheduler.release(unfilled);
      if (code === 409) {
        const text = description.toLowerCase();
        if (text.includes("deleted")) {
          this.#fail(code, description);
          return;
        }
        this.#env.logger.warn("pull request refused", {
          actor: this.actor.name,
          status: code,
          description,
        });
      }
      this.#checkDrained();
      if (!this.#stopping && !this.#opts.burst) {
        if (code === 409) {
          // Leadership change or a limit: back off a little before asking.
          setTimeout(() => this.wake(), 250);
        } else {
          this.wake();
        }
      }
      return;
    }
    if (code === 503) {
      // No responders: the consumer or stream is missing, or JetStream is
      // not available right now. The listener checks which.
      this.#credit = 0;
      this.#onFailure({
        actor: this.actor.name,
        status: code,
        detail: description || "no responders",
      });
      return;
    }
    this.#env.logger.warn("unexpected status on pull inbox", {
      actor: this.actor.name,
      status: code,
      description,
    });
  }

  #fail(status: number, detail: string): void {
    this.#onFailure({ actor: this.actor.name, status, detail });
  }

  #startJob(m: JobMessage): void {
    const job = new Job(this.actor, m, this.#env, this.#jobSettled);
    this.#jobs.add(job);
    job.run(this.#stats);
  }

  readonly #jobSettled = (job: Job): void => {
    this.#jobs.delete(job);
    // Queue this actor before giving the slot back, so the slot goes to the
    // highest-priority waiter, this actor included.
    if (!this.#stopping) this.#scheduler.wait(this);
    this.#scheduler.release(1);
    this.#checkDrained();
  };

  /** True once there is nothing left to wait for. */
  get idleAndEmpty(): boolean {
    return this.#credit === 0 && !this.#probeOut && this.#jobs.size === 0 &&
      this.#backlog.length === 0;
  }

  /** In burst mode: true once the single pull was answered and handled. */
  get burstDone(): boolean {
    return this.#pulledOnce && this.idleAndEmpty;
  }

  #checkDrained(): void {
    if (this.#drained === undefined || !this.idleAndEmpty) return;
    // A burst is over only after its single pull was sent and answered.
    if (this.#opts.burst && !this.#pulledOnce && !this.#stopping) return;
    this.#drained();
  }

  /** Stop asking for messages. */
  stop(): void {
    this.#stopping = true;
    for (const m of this.#backlog.splice(0)) m.nak(0);
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
    if (
      this.idleAndEmpty &&
      (!this.#opts.burst || this.#pulledOnce || this.#stopping)
    ) return;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    this.#drained = undefined;
  }

  /** Release timers and the subscription. */
  close(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#probeSub?.unsubscribe();
    this.#probeSub = undefined;
  }
}
