// One durable (or ephemeral) pull consumer: pending acks, redelivery after
// ack_wait, nak delays, max_deliver, max_ack_pending, and the waiting pull
// requests (listed in _pull_requests.ts) with their expiry, heartbeats and
// status replies, following nats-server 2.9's consumer.go.
import type { VirtualTimer } from "./_clock.ts";
import {
  type ConsumerConfig,
  consumerConfigJson,
  DEFAULT_ACK_WAIT,
  NANOS,
} from "./_consumer_config.ts";
import { epochNanos, rfc3339, statusHeader } from "./_message.ts";
import {
  goDuration,
  parseNext,
  type Waiting,
  WaitingList,
} from "./_pull_requests.ts";
import type { Env, StoredMsg, Stream } from "./_stream.ts";
import { subjectMatches } from "./_subjects.ts";

const EMPTY = new Uint8Array(0);

interface PendingAck {
  /** Consumer sequence of the first delivery. */
  readonly dseq: number;
  /** Monotonic ms the ack_wait counts from. */
  ts: number;
}

/** A consumer of one stream. */
export class Consumer {
  readonly name: string;
  config: ConsumerConfig;
  readonly created: number;
  readonly stream: Stream;
  readonly #env: Env;
  /** Next stream sequence to look at. */
  #sseq: number;
  /** Next consumer (delivery) sequence. */
  #dseq = 1;
  #adflr = 0;
  // 2.9 reports a new consumer's ack floor as 0 whatever its start.
  #asflr = 0;
  readonly #pending = new Map<number, PendingAck>();
  /** Redeliveries so far, by stream sequence. */
  readonly #rdc = new Map<number, number>();
  /** Stream sequences due for redelivery, in order. */
  #rdq: number[] = [];
  readonly #waiting: WaitingList;
  /** Epoch ms of the last delivery and the last ack (0: never). */
  #ldt = 0;
  #lat = 0;
  #ackTimer: VirtualTimer | undefined;
  #ackTimerDue = Infinity;
  #signalled = false;
  #stopped = false;

  constructor(env: Env, stream: Stream, name: string, config: ConsumerConfig) {
    this.#env = env;
    this.stream = stream;
    this.name = name;
    this.config = config;
    this.created = env.clock.now();
    this.#sseq = this.#startingSeq();
    this.#waiting = new WaitingList(
      env,
      (reply, code, description, extra) =>
        this.#status(reply, code, description, extra),
      () => [this.#dseq - 1, this.#sseq - 1],
    );
  }

  #startingSeq(): number {
    const s = this.stream;
    const filter = this.config.filter_subject ?? "";
    switch (this.config.deliver_policy) {
      case "new":
        return s.lastSeq + 1;
      case "last": {
        const last = filter === "" ? s.get(s.lastSeq) : s.lastBySubject(filter);
        return last?.seq ?? s.lastSeq + 1;
      }
      case "by_start_sequence": {
        const want = this.config.opt_start_seq ?? 1;
        if (want < s.firstSeq) return s.firstSeq;
        if (want > s.lastSeq) return s.lastSeq + 1;
        return want;
      }
      case "by_start_time": {
        const at = Date.parse(this.config.opt_start_time ?? "");
        let m = s.nextFrom(0, filter);
        while (m !== undefined && m.ts < at) m = s.nextFrom(m.seq + 1, filter);
        return m?.seq ?? s.lastSeq + 1;
      }
      default:
        return s.firstSeq;
    }
  }

  get #ackWait(): number {
    return (this.config.ack_wait ?? DEFAULT_ACK_WAIT) / NANOS;
  }

  /** Whether messages on `subject` are for this consumer. */
  filterMatches(subject: string): boolean {
    const f = this.config.filter_subject;
    return f === undefined || subjectMatches(f, subject);
  }

  /** Whether this consumer still needs `seq` acknowledged (needAck). */
  needsAck(seq: number, subject: string): boolean {
    if (!this.filterMatches(subject)) return false;
    if (seq <= this.#asflr) return false;
    if (seq < this.#sseq) return this.#pending.has(seq);
    return true;
  }

  /** Messages not delivered yet (num_pending). */
  numPending(): number {
    return this.stream.countFrom(this.#sseq, this.config.filter_subject ?? "");
  }

  /** New messages or free capacity: try to deliver, soon. */
  signal(): void {
    if (this.#signalled || this.#stopped) return;
    this.#signalled = true;
    queueMicrotask(() => {
      this.#signalled = false;
      this.#deliverAll();
    });
  }

  // --- pull requests ---

  /** A CONSUMER.MSG.NEXT request (or `+NXT`) answering to `reply`. */
  request(reply: string, body: string): void {
    if (this.#stopped) return;
    const sendErr = (code: number, description: string) =>
      this.#status(reply, code, description);
    const p = parseNext(body);
    if (!p.ok) {
      sendErr(400, `Bad Request - ${p.error}`);
      return;
    }
    const cfg = this.config;
    if (cfg.max_batch && p.batch > cfg.max_batch) {
      sendErr(409, `Exceeded MaxRequestBatch of ${cfg.max_batch}`);
      return;
    }
    if (
      cfg.max_expires && p.expires !== 0 && p.expires > cfg.max_expires / NANOS
    ) {
      sendErr(
        409,
        `Exceeded MaxRequestExpires of ${cfg.max_expires / NANOS}ms`,
      );
      return;
    }
    if (this.#waiting.length >= cfg.max_waiting) this.#waiting.process(false);
    if (p.noWait) {
      const msgsPending = this.numPending() + this.#rdq.length;
      if (msgsPending === 0 && p.expires === 0) {
        sendErr(404, "No Messages");
        return;
      }
      if (msgsPending > 0) {
        const batchPending = this.#waiting.process(false);
        if (msgsPending < batchPending) {
          sendErr(408, "Requests Pending");
          return;
        }
      }
    }
    if (this.#waiting.length >= cfg.max_waiting) {
      sendErr(409, "Exceeded MaxWaiting");
      return;
    }
    const now = this.#env.clock.monotonic();
    this.#waiting.push({
      reply,
      n: p.batch,
      d: 0,
      b: p.maxBytes,
      noWait: p.noWait,
      expires: p.expires !== 0 ? now + p.expires : Infinity,
      hb: p.hb,
      hbt: p.hb > 0 ? now + p.hb : 0,
    });
    this.signal();
  }

  #status(
    reply: string,
    code: number,
    description: string,
    extra: [string, string | number][] = [],
  ): void {
    this.#env.send({
      subject: reply,
      reply: undefined,
      hdr: statusHeader(code, description, extra),
      data: EMPTY,
    });
  }

  // --- delivery ---

  #deliverAll(): void {
    if (this.#stopped) return;
    let stalled = false;
    // The order of 2.9's loopAndGatherMsgs: any request waiting at all,
    // then the next message, then a request with interest for it.
    while (this.#waiting.length > 0) {
      const next = this.#nextMsg();
      if (next === "stalled") {
        stalled = true;
        break;
      }
      if (next === undefined) break;
      const wr = this.#waiting.next();
      if (wr === undefined) {
        // Nobody listens to the requests left: 2.9 "redoes" the message by
        // stepping its stream pointer back, even for a redelivery (whose
        // redelivery entry is then dropped, so it comes again as new when
        // the pointer reaches it, or, when the step lands elsewhere, once
        // its ack wait runs out again: 2.9's pending timer keeps firing).
        this.#sseq--;
        if (next.dc > 1) this.#scheduleAckTimer();
        break;
      }
      this.#deliver(next.msg, next.dc, wr);
    }
    this.#waiting.process(!stalled);
  }

  #nextMsg(): { msg: StoredMsg; dc: number } | "stalled" | undefined {
    while (this.#rdq.length > 0) {
      const seq = this.#rdq.shift()!;
      const dc = (this.#rdc.get(seq) ?? 0) + 1;
      this.#rdc.set(seq, dc);
      const total = dc + 1;
      if (this.config.max_deliver > 0 && total > this.config.max_deliver) {
        // Delivered as often as allowed: no longer pending, never acked
        // (with interest retention it stays in the stream).
        this.#pending.delete(seq);
        continue;
      }
      const msg = this.stream.get(seq);
      if (msg === undefined) {
        this.#pending.delete(seq);
        this.#rdc.delete(seq);
        continue;
      }
      return { msg, dc: total };
    }
    const max = this.config.max_ack_pending ?? 0;
    if (max > 0 && this.#pending.size >= max) return "stalled";
    const msg = this.stream.nextFrom(
      this.#sseq,
      this.config.filter_subject ?? "",
    );
    if (msg === undefined) {
      // Nothing from here on: 2.9 moves its pointer past the stream's last
      // sequence (seen after a step back onto messages already removed).
      this.#sseq = Math.max(this.#sseq, this.stream.lastSeq + 1);
      return undefined;
    }
    this.#sseq = msg.seq + 1;
    return { msg, dc: 1 };
  }

  #deliver(msg: StoredMsg, dc: number, wr: Waiting): void {
    const dseq = this.#dseq++;
    const now = this.#env.clock.monotonic();
    const p = this.#pending.get(msg.seq);
    if (p !== undefined) p.ts = now;
    else this.#pending.set(msg.seq, { dseq, ts: now });
    this.#ldt = this.#env.clock.now();
    const ackReply =
      `$JS.ACK.${this.stream.name}.${this.name}.${dc}.${msg.seq}.${dseq}.${
        epochNanos(msg.ts)
      }.${this.numPending()}`;
    if (this.config.ack_policy === "none") this.#ackMsg(msg.seq, dseq);
    let hdr = msg.hdr;
    let data = msg.data;
    if (this.config.headers_only) {
      const size = new TextEncoder().encode(
        `Nats-Msg-Size: ${data.length}\r\n\r\n`,
      );
      const base = hdr ?? new TextEncoder().encode("NATS/1.0\r\n\r\n");
      const joined = new Uint8Array(base.length - 2 + size.length);
      joined.set(base.subarray(0, base.length - 2), 0);
      joined.set(size, base.length - 2);
      hdr = joined;
      data = EMPTY;
    }
    this.#env.send({
      to: wr.reply,
      subject: msg.subject,
      reply: ackReply,
      hdr,
      data,
    });
    wr.n--;
    wr.d++;
    if (wr.n <= 0) {
      this.#waiting.remove(wr);
    } else if (wr.hb > 0) {
      wr.hbt = now + wr.hb;
    }
    this.#scheduleAckTimer();
  }

  // --- acks ---

  /** An ack-protocol message on this consumer's ack subject. */
  ack(
    sseq: number,
    dseq: number,
    dc: number,
    body: string,
    reply: string | undefined,
  ): void {
    if (this.#stopped) return;
    let skipReply = !(sseq > 0);
    if (body === "" || body === "+ACK" || body === "+OK") {
      this.#ackMsg(sseq, dseq);
    } else if (body.startsWith("+NXT")) {
      this.#ackMsg(sseq, dseq);
      if (reply) this.request(reply, body.slice(4));
      skipReply = true;
    } else if (body.startsWith("-NAK")) {
      this.#nak(sseq, dseq, body);
    } else if (body === "+WPI") {
      const p = this.#pending.get(sseq);
      if (p !== undefined) {
        p.ts = this.#env.clock.monotonic();
        this.#scheduleAckTimer();
      }
    } else if (
      body === "+TERM" || (this.#env.termReasons && body.startsWith("+TERM "))
    ) {
      this.#ackMsg(sseq, dseq);
    }
    void dc;
    if (reply && !skipReply) {
      this.#env.send({
        subject: reply,
        reply: undefined,
        hdr: undefined,
        data: EMPTY,
      });
    }
  }

  #ackMsg(sseq: number, dseq: number): void {
    const p = this.#pending.get(sseq);
    let needSignal = false;
    if (p !== undefined) {
      const max = this.config.max_ack_pending ?? 0;
      if (max > 0 && this.#pending.size >= max) needSignal = true;
      this.#pending.delete(sseq);
      dseq = p.dseq;
    }
    if (this.#pending.size === 0) {
      this.#adflr = this.#dseq - 1;
      this.#asflr = this.#sseq - 1;
    } else if (dseq === this.#adflr + 1) {
      this.#adflr = dseq;
      this.#asflr = sseq;
      for (let ss = sseq + 1; ss < this.#sseq; ss++) {
        const q = this.#pending.get(ss);
        if (q !== undefined) {
          if (q.dseq > 0) {
            this.#adflr = q.dseq - 1;
            this.#asflr = ss - 1;
          }
          break;
        }
      }
    }
    this.#rdc.delete(sseq);
    this.#rdq = this.#rdq.filter((s) => s !== sseq);
    this.#lat = this.#env.clock.now();
    this.#scheduleAckTimer();
    this.stream.acked(this, sseq);
    if (needSignal) this.signal();
  }

  #nak(sseq: number, dseq: number, body: string): void {
    if (dseq <= this.#adflr || dseq > this.#dseq) return;
    if (this.#pending.size > 0 && !this.#pending.has(sseq)) return;
    const arg = body.slice(4).trim();
    if (arg !== "") {
      let delay: number | undefined;
      if (arg.startsWith("{")) {
        try {
          const v = JSON.parse(arg) as { delay?: unknown };
          const d = v?.delay ?? 0;
          if (typeof d === "number" && Number.isInteger(d)) delay = d / NANOS;
        } catch {
          // A malformed delay is a plain nak (the server logs a warning).
        }
      } else {
        delay = goDuration(arg);
      }
      if (delay !== undefined) {
        this.#rdq = this.#rdq.filter((s) => s !== sseq);
        const p = this.#pending.get(sseq);
        if (p !== undefined) {
          // Expired now, offset by the delay (as the server does it).
          p.ts = this.#env.clock.monotonic() - this.#ackWait + delay;
          this.#scheduleAckTimer();
        }
        return;
      }
    }
    if (!this.#rdq.includes(sseq)) this.#rdq.push(sseq);
    this.signal();
  }

  // The ack_wait (or backoff) deadline of a pending message, monotonic ms.
  #deadline(seq: number, p: PendingAck): number {
    const backoff = this.config.backoff;
    if (backoff !== undefined && backoff.length > 0) {
      const i = Math.min(this.#rdc.get(seq) ?? 0, backoff.length - 1);
      return p.ts + backoff[i]! / NANOS;
    }
    return p.ts + this.#ackWait;
  }

  #scheduleAckTimer(): void {
    let due = Infinity;
    for (const [seq, p] of this.#pending) {
      if (this.#rdq.includes(seq)) continue;
      due = Math.min(due, this.#deadline(seq, p));
    }
    if (due === this.#ackTimerDue) return;
    if (this.#ackTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#ackTimer);
      this.#ackTimer = undefined;
    }
    this.#ackTimerDue = due;
    if (due === Infinity || this.#stopped) return;
    const clock = this.#env.clock;
    this.#ackTimer = clock.setTimeout(() => {
      this.#ackTimer = undefined;
      this.#ackTimerDue = Infinity;
      this.#checkPending();
    }, Math.max(0, due - clock.monotonic()));
  }

  // Ack wait expired: queue for redelivery (checkPending).
  #checkPending(): void {
    const now = this.#env.clock.monotonic();
    const first = this.stream.firstSeq;
    const expired: number[] = [];
    for (const [seq, p] of this.#pending) {
      if (seq < first) {
        this.#pending.delete(seq);
        this.#rdc.delete(seq);
        this.#rdq = this.#rdq.filter((s) => s !== seq);
        continue;
      }
      if (now >= this.#deadline(seq, p) && !this.#rdq.includes(seq)) {
        expired.push(seq);
      }
    }
    if (expired.length > 0) {
      expired.sort((a, b) => a - b);
      this.#rdq.push(...expired);
      const off = now - this.#pending.get(expired[0]!)!.ts;
      for (const seq of expired) {
        const p = this.#pending.get(seq);
        if (p !== undefined) p.ts += off;
      }
      this.signal();
    }
    this.#scheduleAckTimer();
  }

  /** A full purge: skip past everything up to `next`. */
  purged(next: number): void {
    if (this.#sseq < next) this.#sseq = next;
    for (const seq of [...this.#pending.keys()]) {
      if (seq < next) {
        this.#pending.delete(seq);
        this.#rdc.delete(seq);
      }
    }
    this.#rdq = this.#rdq.filter((s) => s >= next);
    if (this.#pending.size === 0) {
      this.#adflr = this.#dseq - 1;
      this.#asflr = this.#sseq - 1;
    }
    this.#scheduleAckTimer();
  }

  /** The consumer is gone: tell the waiting requests, stop the timers. */
  stop(description: string): void {
    if (this.#stopped) return;
    this.#waiting.stop(description);
    this.#stopped = true;
    if (this.#ackTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#ackTimer);
    }
    this.#ackTimer = undefined;
  }

  /** The ack floor's stream sequence. */
  get ackFloor(): number {
    return this.#asflr;
  }

  // --- JSON ---

  /** CONSUMER.INFO's body (without the response type). */
  info(): Record<string, unknown> {
    this.#waiting.process(false);
    const delivered: Record<string, unknown> = {
      consumer_seq: this.#dseq - 1,
      stream_seq: this.#sseq - 1,
    };
    if (this.#ldt !== 0) delivered.last_active = rfc3339(this.#ldt);
    const ackFloor: Record<string, unknown> = {
      consumer_seq: this.#adflr,
      stream_seq: this.#asflr,
    };
    if (this.#lat !== 0) ackFloor.last_active = rfc3339(this.#lat);
    return {
      stream_name: this.stream.name,
      name: this.name,
      created: rfc3339(this.created),
      config: consumerConfigJson(this.config),
      delivered,
      ack_floor: ackFloor,
      num_ack_pending: this.#pending.size,
      num_redelivered: this.#rdc.size,
      num_waiting: this.#waiting.length,
      num_pending: this.numPending(),
    };
  }
}
