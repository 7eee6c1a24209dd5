// One durable (or ephemeral) pull consumer: pending acks, redelivery after
// ack_wait, nak delays, max_deliver, max_ack_pending, and the waiting pull
// requests with their expiry, heartbeats and status replies, following
// nats-server 2.9's consumer.go.
import type { VirtualTimer } from "./_clock.ts";
import { ApiError, errors } from "./_errors.ts";
import { epochNanos, rfc3339, statusHeader } from "./_message.ts";
import type { Env, StoredMsg, Stream } from "./_stream.ts";
import { isFilterSubject, isSubsetOf, subjectMatches } from "./_subjects.ts";

const NANOS = 1_000_000;
const DEFAULT_ACK_WAIT = 30_000 * NANOS;
const DEFAULT_MAX_ACK_PENDING = 1000;
const DEFAULT_MAX_WAITING = 512;
const PENDING_MSGS = "Nats-Pending-Messages";
const PENDING_BYTES = "Nats-Pending-Bytes";
const EMPTY = new Uint8Array(0);

type DeliverPolicy =
  | "all"
  | "last"
  | "new"
  | "by_start_sequence"
  | "by_start_time"
  | "last_per_subject";

/** A consumer configuration after the server filled in its defaults. */
export interface ConsumerConfig {
  durable_name?: string;
  name?: string;
  description?: string;
  deliver_policy: DeliverPolicy;
  opt_start_seq?: number;
  opt_start_time?: string;
  ack_policy: "none" | "all" | "explicit";
  ack_wait?: number;
  max_deliver: number;
  backoff?: number[];
  filter_subject?: string;
  replay_policy: "instant" | "original";
  sample_freq?: string;
  max_waiting: number;
  max_ack_pending?: number;
  headers_only?: boolean;
  max_batch?: number;
  max_expires?: number;
  inactive_threshold?: number;
  num_replicas: number;
  mem_storage?: boolean;
}

function optInt(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw errors.invalidJSON();
  return v;
}

/** Fill in defaults and check a requested configuration, as 2.9 does. */
export function normalizeConsumerConfig(
  raw: unknown,
  stream: Stream,
): ConsumerConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw errors.invalidJSON();
  }
  const r = raw as Record<string, unknown>;
  const str = (v: unknown): string | undefined => {
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw errors.invalidJSON();
    return v;
  };
  const durable = str(r.durable_name);
  const name = str(r.name);
  for (const n of [durable, name]) {
    if (n !== undefined && /[.*>\s]/.test(n)) {
      throw errors.consumerBadDurableName();
    }
  }
  if (str(r.deliver_subject) !== undefined) {
    throw errors.consumerCreate(
      "push consumers are not modelled by the memory broker",
    );
  }
  const policies: DeliverPolicy[] = [
    "all",
    "last",
    "new",
    "by_start_sequence",
    "by_start_time",
    "last_per_subject",
  ];
  const deliver = (str(r.deliver_policy) ?? "all") as DeliverPolicy;
  if (!policies.includes(deliver)) throw errors.invalidJSON();
  const ack = str(r.ack_policy) ?? "none";
  if (ack !== "none" && ack !== "all" && ack !== "explicit") {
    throw errors.invalidJSON();
  }
  if (ack === "none") throw errors.consumerPullRequiresAck();
  const replay = str(r.replay_policy) ?? "instant";
  if (replay !== "instant" && replay !== "original") throw errors.invalidJSON();
  const filter = str(r.filter_subject);
  if (filter !== undefined) {
    if (!isFilterSubject(filter)) {
      throw errors.consumerCreate("consumer filter subject is not valid");
    }
    const subset = stream.config.subjects.some((s) => isSubsetOf(filter, s));
    if (!subset) {
      throw new ApiError(
        400,
        10093,
        "consumer filter subject is not a valid subset of the interest subjects",
      );
    }
  }
  const cfg: ConsumerConfig = {
    deliver_policy: deliver,
    ack_policy: ack,
    max_deliver: 0,
    replay_policy: replay,
    max_waiting: 0,
    num_replicas: optInt(r.num_replicas) ?? 0,
  };
  if (durable !== undefined) cfg.durable_name = durable;
  if (name !== undefined) cfg.name = name;
  const description = str(r.description);
  if (description !== undefined) cfg.description = description;
  const startSeq = optInt(r.opt_start_seq);
  if (startSeq) cfg.opt_start_seq = startSeq;
  const startTime = str(r.opt_start_time);
  if (startTime !== undefined) cfg.opt_start_time = startTime;
  if (deliver === "by_start_sequence" && !startSeq) {
    throw errors.consumerCreate(
      "consumer deliver policy by start sequence requires a start sequence",
    );
  }
  if (deliver === "by_start_time" && startTime === undefined) {
    throw errors.consumerCreate(
      "consumer deliver policy by start time requires a start time",
    );
  }
  cfg.ack_wait = optInt(r.ack_wait) || DEFAULT_ACK_WAIT;
  const maxDeliver = optInt(r.max_deliver) ?? 0;
  cfg.max_deliver = maxDeliver === 0 ? -1 : maxDeliver;
  if (Array.isArray(r.backoff) && r.backoff.length > 0) {
    const backoff = r.backoff.map(optInt) as number[];
    if (backoff.some((b) => b === undefined || b <= 0)) {
      throw errors.invalidJSON();
    }
    if (cfg.max_deliver > 0 && cfg.max_deliver <= backoff.length) {
      throw new ApiError(
        400,
        10116,
        "max deliver is required to be > length of backoff values",
      );
    }
    cfg.backoff = backoff;
  }
  if (filter !== undefined) cfg.filter_subject = filter;
  const sample = str(r.sample_freq);
  if (sample !== undefined) cfg.sample_freq = sample;
  const maxWaiting = optInt(r.max_waiting) ?? 0;
  if (maxWaiting < 0) {
    throw new ApiError(
      400,
      10087,
      "consumer max waiting needs to be positive",
    );
  }
  cfg.max_waiting = maxWaiting || DEFAULT_MAX_WAITING;
  const map = optInt(r.max_ack_pending) ?? 0;
  cfg.max_ack_pending = map === 0 ? DEFAULT_MAX_ACK_PENDING : map;
  if (r.headers_only === true) cfg.headers_only = true;
  const maxBatch = optInt(r.max_batch);
  if (maxBatch) cfg.max_batch = maxBatch;
  const maxExpires = optInt(r.max_expires);
  if (maxExpires) cfg.max_expires = maxExpires;
  const inactive = optInt(r.inactive_threshold);
  if (inactive) cfg.inactive_threshold = inactive;
  if (r.mem_storage === true) cfg.mem_storage = true;
  if (
    r.flow_control === true || optInt(r.idle_heartbeat) ||
    optInt(r.rate_limit_bps)
  ) {
    throw errors.consumerCreate(
      "flow control, heartbeats and rate limits need a push consumer, which the memory broker does not model",
    );
  }
  return cfg;
}

/** Key order of the server's JSON (Go struct order). */
export function consumerConfigJson(c: ConsumerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (c.durable_name !== undefined) out.durable_name = c.durable_name;
  if (c.name !== undefined) out.name = c.name;
  if (c.description !== undefined) out.description = c.description;
  out.deliver_policy = c.deliver_policy;
  if (c.opt_start_seq !== undefined) out.opt_start_seq = c.opt_start_seq;
  if (c.opt_start_time !== undefined) out.opt_start_time = c.opt_start_time;
  out.ack_policy = c.ack_policy;
  if (c.ack_wait) out.ack_wait = c.ack_wait;
  if (c.max_deliver) out.max_deliver = c.max_deliver;
  if (c.backoff !== undefined) out.backoff = c.backoff;
  if (c.filter_subject !== undefined) out.filter_subject = c.filter_subject;
  out.replay_policy = c.replay_policy;
  if (c.sample_freq !== undefined) out.sample_freq = c.sample_freq;
  if (c.max_waiting) out.max_waiting = c.max_waiting;
  if (c.max_ack_pending) out.max_ack_pending = c.max_ack_pending;
  if (c.headers_only) out.headers_only = true;
  if (c.max_batch) out.max_batch = c.max_batch;
  if (c.max_expires) out.max_expires = c.max_expires;
  if (c.inactive_threshold) out.inactive_threshold = c.inactive_threshold;
  out.num_replicas = c.num_replicas;
  if (c.mem_storage) out.mem_storage = true;
  return out;
}

/** Why an update of `old` to `next` is refused (2.9's rules), if it is. */
export function updateRefusal(
  old: ConsumerConfig,
  next: ConsumerConfig,
): string | undefined {
  if (old.deliver_policy !== next.deliver_policy) {
    return "deliver policy can not be updated";
  }
  if (old.opt_start_seq !== next.opt_start_seq) {
    return "start sequence can not be updated";
  }
  if (old.opt_start_time !== next.opt_start_time) {
    return "start time can not be updated";
  }
  if (old.ack_policy !== next.ack_policy) {
    return "ack policy can not be updated";
  }
  if (old.replay_policy !== next.replay_policy) {
    return "replay policy can not be updated";
  }
  if (old.max_waiting !== next.max_waiting) {
    return "max waiting can not be updated";
  }
  if (old.filter_subject !== next.filter_subject) {
    return "filter subject can not be updated";
  }
  return undefined;
}

/** A pull request waiting for messages. */
interface Waiting {
  readonly reply: string;
  /** Messages still wanted. */
  n: number;
  /** Messages delivered to it. */
  d: number;
  /** Bytes still allowed (0: no limit). */
  b: number;
  readonly noWait: boolean;
  /** Monotonic ms when it expires (Infinity: never). */
  readonly expires: number;
  /** Heartbeat interval, ms (0: none). */
  readonly hb: number;
  /** Monotonic ms of the next heartbeat (0: none). */
  hbt: number;
}

interface PendingAck {
  /** Consumer sequence of the first delivery. */
  readonly dseq: number;
  /** Monotonic ms the ack_wait counts from. */
  ts: number;
}

type Parsed =
  | {
    ok: true;
    batch: number;
    expires: number;
    noWait: boolean;
    maxBytes: number;
    hb: number;
  }
  | { ok: false; error: string };

/** Parse a CONSUMER.MSG.NEXT payload like nextReqFromMsg (times in ms). */
function parseNext(body: string): Parsed {
  const req = body.trim();
  const base = {
    ok: true as const,
    expires: 0,
    noWait: false,
    maxBytes: 0,
    hb: 0,
  };
  if (req === "") return { ...base, batch: 1 };
  if (req.startsWith("{")) {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(req);
    } catch (error) {
      // Go's decoder words it differently; the prefix is the same.
      return {
        ok: false,
        error: `invalid character in JSON (${(error as Error).message})`,
      };
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      return { ok: false, error: "json: cannot unmarshal into request" };
    }
    const num = (k: string): number | string => {
      const x = v[k];
      if (x === undefined || x === null) return 0;
      // Go reads these into int64 (Duration) fields: a fraction or a number
      // past int64 does not decode.
      if (
        typeof x !== "number" || !Number.isInteger(x) || Math.abs(x) > 9.2e18
      ) {
        return `json: cannot unmarshal ${typeof x} into Go struct field JSApiConsumerGetNextRequest.${k} of type int`;
      }
      return x;
    };
    const batch = num("batch");
    const expires = num("expires");
    const maxBytes = num("max_bytes");
    const hb = num("idle_heartbeat");
    for (const x of [batch, expires, maxBytes, hb]) {
      if (typeof x === "string") return { ok: false, error: x };
    }
    if (v.no_wait !== undefined && typeof v.no_wait !== "boolean") {
      return {
        ok: false,
        error: "json: cannot unmarshal into no_wait of type bool",
      };
    }
    const e = expires as number;
    const h = hb as number;
    if (h > 0 && h * 2 > e) {
      return { ok: false, error: "heartbeat value too large" };
    }
    return {
      ok: true,
      batch: batch as number,
      // Negative: already expired (Go adds it to now), answered at once.
      expires: e / NANOS,
      noWait: v.no_wait === true,
      maxBytes: maxBytes as number,
      hb: h > 0 ? h / NANOS : 0,
    };
  }
  const n = /^[+-]?\d+$/.test(req) ? Number(req) : NaN;
  return { ...base, batch: Number.isSafeInteger(n) ? n : 1 };
}

/** Parse a Go duration ("1.5s", "300ms", "2m"); undefined if malformed. */
function goDuration(text: string): number | undefined {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let i = 0;
  let sign = 1;
  if (text[0] === "-" || text[0] === "+") {
    sign = text[0] === "-" ? -1 : 1;
    i = 1;
  }
  if (text.slice(i) === "0") return 0;
  let total = 0;
  let matched = false;
  re.lastIndex = i;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (m === null) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    matched = true;
  }
  return matched ? sign * total : undefined;
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
  #waiting: Waiting[] = [];
  /** Epoch ms of the last delivery and the last ack (0: never). */
  #ldt = 0;
  #lat = 0;
  #ackTimer: VirtualTimer | undefined;
  #ackTimerDue = Infinity;
  #waitTimer: VirtualTimer | undefined;
  #waitTimerDue = Infinity;
  #signalled = false;
  #stopped = false;

  constructor(env: Env, stream: Stream, name: string, config: ConsumerConfig) {
    this.#env = env;
    this.stream = stream;
    this.name = name;
    this.config = config;
    this.created = env.clock.now();
    this.#sseq = this.#startingSeq();
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
    if (this.#waiting.length >= cfg.max_waiting) this.#processWaiting(false);
    if (p.noWait) {
      const msgsPending = this.numPending() + this.#rdq.length;
      if (msgsPending === 0 && p.expires === 0) {
        sendErr(404, "No Messages");
        return;
      }
      if (msgsPending > 0) {
        const batchPending = this.#processWaiting(false);
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
    this.#scheduleWaitTimer();
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

  /**
   * Expire and heartbeat waiting requests (processWaiting); returns the
   * messages still wanted by requests with interest.
   */
  #processWaiting(eos: boolean): number {
    const now = this.#env.clock.monotonic();
    let wanted = 0;
    const keep: Waiting[] = [];
    for (const wr of this.#waiting) {
      if ((eos && wr.noWait && wr.d > 0) || now >= wr.expires) {
        this.#status(wr.reply, 408, "Request Timeout", [
          [PENDING_MSGS, wr.n],
          [PENDING_BYTES, wr.b],
        ]);
        continue;
      }
      if (!this.#env.hasInterest(wr.reply)) continue;
      wanted += wr.n;
      if (wr.hbt > 0 && now >= wr.hbt) {
        this.#status(wr.reply, 100, "Idle Heartbeat", [
          ["Nats-Last-Consumer", this.#dseq - 1],
          ["Nats-Last-Stream", this.#sseq - 1],
        ]);
        wr.hbt = now + wr.hb;
      }
      keep.push(wr);
    }
    this.#waiting = keep;
    this.#scheduleWaitTimer();
    return wanted;
  }

  #scheduleWaitTimer(): void {
    let due = Infinity;
    for (const wr of this.#waiting) {
      due = Math.min(due, wr.expires);
      if (wr.hbt > 0) due = Math.min(due, wr.hbt);
    }
    if (due === this.#waitTimerDue) return;
    if (this.#waitTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#waitTimer);
      this.#waitTimer = undefined;
    }
    this.#waitTimerDue = due;
    if (due === Infinity || this.#stopped) return;
    const clock = this.#env.clock;
    this.#waitTimer = clock.setTimeout(() => {
      this.#waitTimer = undefined;
      this.#waitTimerDue = Infinity;
      this.#processWaiting(true);
    }, Math.max(0, due - clock.monotonic()));
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
      const wr = this.#nextWaiting();
      if (wr === undefined) {
        // Nobody listens to the requests left: 2.9 "redoes" the message by
        // stepping its stream pointer back, even for a redelivery (whose
        // redelivery entry is then dropped, so it comes again as new).
        this.#sseq--;
        break;
      }
      this.#deliver(next.msg, next.dc, wr);
    }
    this.#processWaiting(!stalled);
  }

  // The first waiting request whose reply still has a subscriber.
  #nextWaiting(): Waiting | undefined {
    while (this.#waiting.length > 0) {
      const wr = this.#waiting[0]!;
      const now = this.#env.clock.monotonic();
      if (now < wr.expires && this.#env.hasInterest(wr.reply)) {
        return wr;
      }
      this.#waiting.shift();
    }
    return undefined;
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
    if (msg === undefined) return undefined;
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
      const i = this.#waiting.indexOf(wr);
      if (i >= 0) this.#waiting.splice(i, 1);
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
    for (const wr of this.#waiting) this.#status(wr.reply, 409, description);
    this.#waiting = [];
    this.#stopped = true;
    if (this.#ackTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#ackTimer);
    }
    if (this.#waitTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#waitTimer);
    }
    this.#ackTimer = undefined;
    this.#waitTimer = undefined;
  }

  /** The ack floor's stream sequence. */
  get ackFloor(): number {
    return this.#asflr;
  }

  // --- JSON ---

  /** CONSUMER.INFO's body (without the response type). */
  info(): Record<string, unknown> {
    this.#processWaiting(false);
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
