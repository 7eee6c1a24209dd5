// One stream: stored messages, limits, the duplicate window and interest
// retention, with nats-server 2.9's defaults, checks and JSON shapes.
import type { Consumer } from "./_consumer.ts";
import { ApiError, errors } from "./_errors.ts";
import {
  decodeHeaders,
  epochNanos,
  rfc3339,
  type WireMsg,
  wireSize,
} from "./_message.ts";
import {
  filtersOverlap,
  isFilterSubject,
  subjectMatches,
} from "./_subjects.ts";
import type { VirtualClock, VirtualTimer } from "./_clock.ts";

/** What streams and consumers need from the broker. */
export interface Env {
  readonly clock: VirtualClock;
  /** Send a message from the server (status, delivery, API reply). */
  send(m: WireMsg): void;
  /** Whether a subscription matches `subject` (interest of a pull request). */
  hasInterest(subject: string): boolean;
  /** Whether the emulated server understands `+TERM <reason>` (2.10.4+). */
  readonly termReasons: boolean;
}

const NANOS = 1_000_000;
const DEFAULT_DUPLICATES = 120_000 * NANOS;

/** A stream configuration after the server filled in its defaults. */
export interface StreamConfig {
  name: string;
  description?: string;
  subjects: string[];
  retention: "limits" | "interest" | "workqueue";
  max_consumers: number;
  max_msgs: number;
  max_bytes: number;
  max_age: number;
  max_msgs_per_subject: number;
  max_msg_size: number;
  discard: "old" | "new";
  storage: "file" | "memory";
  num_replicas: number;
  no_ack?: boolean;
  duplicate_window?: number;
  allow_direct: boolean;
  mirror_direct: boolean;
  sealed: boolean;
  deny_delete: boolean;
  deny_purge: boolean;
  allow_rollup_hdrs: boolean;
}

/** A stored message. */
export interface StoredMsg {
  readonly seq: number;
  readonly subject: string;
  readonly hdr: Uint8Array | undefined;
  readonly data: Uint8Array;
  /** Epoch milliseconds (virtual). */
  readonly ts: number;
  /** Bytes it counts against `max_bytes`, as the store type counts them. */
  readonly size: number;
}

function int(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw errors.invalidJSON();
  }
  void field;
  return value;
}

function bool(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw errors.invalidJSON();
  return value;
}

/** Fill in defaults and check a requested configuration, as 2.9 does. */
export function normalizeStreamConfig(raw: unknown): StreamConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw errors.invalidJSON();
  }
  const r = raw as Record<string, unknown>;
  const name = r.name;
  if (typeof name !== "string" || name === "") {
    throw errors.streamInvalidConfig("stream name is required");
  }
  if (/[\s.*>\/\\]/.test(name)) {
    throw errors.streamInvalidConfig(
      "stream name can not contain whitespace, '.', '*', '>', path separators",
    );
  }
  const enumOf = <T extends string>(v: unknown, allowed: T[], d: T): T => {
    if (v === undefined || v === null || v === "") return d;
    if (typeof v !== "string" || !allowed.includes(v as T)) {
      throw errors.invalidJSON();
    }
    return v as T;
  };
  const retention = enumOf(
    r.retention,
    ["limits", "interest", "workqueue"],
    "limits",
  );
  const storage = enumOf(r.storage, ["file", "memory"], "file");
  const discard = enumOf(r.discard, ["old", "new"], "old");
  let subjects: string[];
  if (r.subjects === undefined || r.subjects === null) {
    subjects = [name];
  } else if (
    Array.isArray(r.subjects) && r.subjects.every((s) => typeof s === "string")
  ) {
    subjects = r.subjects.length === 0 ? [name] : [...r.subjects as string[]];
  } else {
    throw errors.invalidJSON();
  }
  for (const s of subjects) {
    if (!isFilterSubject(s)) {
      throw errors.streamInvalidConfig("invalid subject");
    }
  }
  const orMinus = (v: number) => (v === 0 ? -1 : v);
  const maxAge = int(r.max_age, "max_age", 0);
  if (maxAge < 0) {
    throw errors.streamInvalidConfig("max age needs to be >= 0");
  }
  let dup = int(r.duplicate_window, "duplicate_window", 0);
  if (dup === 0) {
    dup = maxAge > 0 && maxAge < DEFAULT_DUPLICATES
      ? maxAge
      : DEFAULT_DUPLICATES;
  } else if (maxAge > 0 && dup > maxAge) {
    throw errors.streamInvalidConfig(
      "duplicates window can not be larger then max age",
    );
  }
  const replicas = int(r.num_replicas, "num_replicas", 0) || 1;
  if (replicas > 1) {
    // nats-server without a cluster: R>1 is refused.
    throw errors.streamInvalidConfig(
      "replicas > 1 not supported in non-clustered mode",
    );
  }
  const cfg: StreamConfig = {
    name,
    subjects,
    retention,
    max_consumers: orMinus(int(r.max_consumers, "max_consumers", 0)),
    max_msgs: orMinus(int(r.max_msgs, "max_msgs", 0)),
    max_bytes: orMinus(int(r.max_bytes, "max_bytes", 0)),
    max_age: maxAge,
    max_msgs_per_subject: orMinus(
      int(r.max_msgs_per_subject, "max_msgs_per_subject", 0),
    ),
    max_msg_size: orMinus(int(r.max_msg_size, "max_msg_size", 0)),
    discard,
    storage,
    num_replicas: replicas,
    duplicate_window: dup,
    allow_direct: bool(r.allow_direct),
    mirror_direct: bool(r.mirror_direct),
    sealed: bool(r.sealed),
    deny_delete: bool(r.deny_delete),
    deny_purge: bool(r.deny_purge),
    allow_rollup_hdrs: bool(r.allow_rollup_hdrs),
  };
  if (typeof r.description === "string" && r.description !== "") {
    cfg.description = r.description;
  }
  if (r.no_ack === true) cfg.no_ack = true;
  if (
    r.mirror !== undefined && r.mirror !== null ||
    r.sources !== undefined && r.sources !== null
  ) {
    throw errors.streamInvalidConfig(
      "mirrors and sources are not modelled by the memory broker",
    );
  }
  return cfg;
}

/** Key order of the server's JSON (Go struct order). */
export function streamConfigJson(c: StreamConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { name: c.name };
  if (c.description !== undefined) out.description = c.description;
  out.subjects = c.subjects;
  out.retention = c.retention;
  out.max_consumers = c.max_consumers;
  out.max_msgs = c.max_msgs;
  out.max_bytes = c.max_bytes;
  out.max_age = c.max_age;
  out.max_msgs_per_subject = c.max_msgs_per_subject;
  if (c.max_msg_size !== 0) out.max_msg_size = c.max_msg_size;
  out.discard = c.discard;
  out.storage = c.storage;
  out.num_replicas = c.num_replicas;
  if (c.no_ack) out.no_ack = true;
  if (c.duplicate_window) out.duplicate_window = c.duplicate_window;
  out.allow_direct = c.allow_direct;
  out.mirror_direct = c.mirror_direct;
  out.sealed = c.sealed;
  out.deny_delete = c.deny_delete;
  out.deny_purge = c.deny_purge;
  out.allow_rollup_hdrs = c.allow_rollup_hdrs;
  return out;
}

function sameConfig(a: StreamConfig, b: StreamConfig): boolean {
  return JSON.stringify(streamConfigJson(a)) ===
    JSON.stringify(streamConfigJson(b));
}

/** Whether a stream's subjects overlap another's. */
export function subjectsOverlap(a: string[], b: string[]): boolean {
  return a.some((x) => b.some((y) => filtersOverlap(x, y)));
}

/** A stream and its messages. */
export class Stream {
  config: StreamConfig;
  readonly created: number;
  readonly consumers = new Map<string, Consumer>();
  readonly #env: Env;
  readonly #msgs = new Map<number, StoredMsg>();
  // Stored sequences in order, for "next message at or after" look-ups.
  readonly #seqs: number[] = [];
  #lastSeq = 0;
  #lastTs = 0;
  #bytes = 0;
  #lastMsgId = "";
  // A file store emptied by removals keeps reporting a first_ts (that of
  // the last message removed); a memory store and a purge report zero.
  #emptiedTs = 0;
  readonly #dedup = new Map<string, { seq: number; ts: number }>();
  #ageTimer: VirtualTimer | undefined;
  #deleted = false;

  constructor(env: Env, config: StreamConfig) {
    this.#env = env;
    this.config = config;
    this.created = env.clock.now();
  }

  get name(): string {
    return this.config.name;
  }

  /** Whether this stream captures messages published to `subject`. */
  captures(subject: string): boolean {
    return this.config.subjects.some((f) => subjectMatches(f, subject));
  }

  /** Compare a create request with this stream (create is idempotent). */
  sameAs(config: StreamConfig): boolean {
    return sameConfig(this.config, config);
  }

  /** Apply an update, with 2.9's refusals. */
  update(config: StreamConfig): void {
    const old = this.config;
    if (config.storage !== old.storage) {
      throw errors.streamInvalidConfig(
        "stream configuration update can not change storage type",
      );
    }
    if (config.retention !== old.retention) {
      throw errors.streamInvalidConfig(
        "stream configuration update can not change retention policy",
      );
    }
    if (config.max_consumers !== old.max_consumers) {
      throw errors.streamInvalidConfig(
        "stream configuration update can not change MaxConsumers",
      );
    }
    if (old.sealed && !config.sealed) {
      throw errors.streamInvalidConfig(
        "stream configuration update can not unseal a sealed stream",
      );
    }
    this.config = config;
    this.#enforceLimits();
    this.#scheduleAge();
  }

  // --- storing ---

  /**
   * Store a published message, answering `m.reply` with the PubAck (or the
   * error) in the server's exact format.
   */
  publish(m: WireMsg): void {
    const reply = m.reply;
    const name = this.name;
    const respond = (text: string) => {
      if (reply) {
        this.#env.send({
          subject: reply,
          reply: undefined,
          hdr: undefined,
          data: new TextEncoder().encode(text),
        });
      }
    };
    const fail = (error: ApiError) =>
      respond(JSON.stringify({ error: error.body, stream: name, seq: 0 }));
    if (this.config.sealed) {
      fail(new ApiError(400, 10109, "invalid operation on sealed stream"));
      return;
    }
    const h = decodeHeaders(m.hdr);
    let msgId = "";
    if (h !== undefined) {
      const expectedStream = h.get("Nats-Expected-Stream");
      if (expectedStream !== "" && expectedStream !== name) {
        fail(errors.streamNotMatch());
        return;
      }
      msgId = h.get("Nats-Msg-Id");
      if (msgId !== "") {
        const seen = this.#duplicate(msgId);
        if (seen !== undefined) {
          respond(
            `{"stream":${
              JSON.stringify(name)
            }, "seq":${seen},"duplicate": true}`,
          );
          return;
        }
      }
      const lastSubj = h.get("Nats-Expected-Last-Subject-Sequence");
      if (lastSubj !== "") {
        const want = Number(lastSubj);
        const have = this.#lastSeqOf(m.subject);
        if (!Number.isInteger(want) || want !== have) {
          fail(errors.streamWrongLastSequence(have));
          return;
        }
      }
      const lastSeq = h.get("Nats-Expected-Last-Sequence");
      if (lastSeq !== "" && Number(lastSeq) !== this.#lastSeq) {
        fail(errors.streamWrongLastSequence(this.#lastSeq));
        return;
      }
      const lastId = h.get("Nats-Expected-Last-Msg-Id");
      if (lastId !== "" && lastId !== this.#lastMsgId) {
        fail(errors.streamWrongLastMsgID(this.#lastMsgId));
        return;
      }
      if (h.get("Nats-Rollup") !== "") {
        fail(new ApiError(500, 10111, "rollup not permitted"));
        return;
      }
    }
    const max = this.config.max_msg_size;
    if (max >= 0 && wireSize(m) > max) {
      fail(errors.streamMessageExceedsMaximum());
      return;
    }
    const now = this.#env.clock.now();
    // Interest retention with nobody interested: the sequence is used up,
    // nothing is stored (2.9 even records the duplicate id with seq 0).
    if (this.config.retention === "interest" && !this.#anyInterest(m.subject)) {
      this.#lastSeq++;
      this.#lastTs = now;
      this.#lastMsgId = msgId;
      if (msgId !== "") this.#dedup.set(msgId, { seq: 0, ts: now });
      respond(`{"stream":${JSON.stringify(name)}, "seq":${this.#lastSeq}}`);
      return;
    }
    const size = this.config.storage === "memory"
      ? m.subject.length + (m.hdr?.length ?? 0) + m.data.length + 16
      : 22 + m.subject.length + (m.hdr ? 4 + m.hdr.length : 0) +
        m.data.length + 8;
    if (this.config.discard === "new") {
      if (this.config.max_msgs > 0 && this.#msgs.size >= this.config.max_msgs) {
        fail(errors.streamStoreFailed("maximum messages exceeded"));
        return;
      }
      if (
        this.config.max_bytes > 0 && this.#bytes + size > this.config.max_bytes
      ) {
        fail(errors.streamStoreFailed("maximum bytes exceeded"));
        return;
      }
    }
    if (this.config.max_bytes > 0 && size > this.config.max_bytes) {
      fail(errors.streamStoreFailed("message size exceeds maximum bytes"));
      return;
    }
    const seq = ++this.#lastSeq;
    const stored: StoredMsg = {
      seq,
      subject: m.subject,
      hdr: m.hdr,
      data: m.data,
      ts: now,
      size,
    };
    this.#msgs.set(seq, stored);
    this.#seqs.push(seq);
    this.#bytes += size;
    this.#lastTs = now;
    this.#lastMsgId = msgId;
    if (msgId !== "") this.#dedup.set(msgId, { seq, ts: now });
    this.#enforceLimits();
    respond(`{"stream":${JSON.stringify(name)}, "seq":${seq}}`);
    this.#scheduleAge();
    for (const c of this.consumers.values()) c.signal();
  }

  #duplicate(msgId: string): number | undefined {
    const window = (this.config.duplicate_window ?? 0) / NANOS;
    const entry = this.#dedup.get(msgId);
    if (entry === undefined) return undefined;
    if (this.#env.clock.now() - entry.ts >= window) {
      this.#dedup.delete(msgId);
      return undefined;
    }
    return entry.seq;
  }

  #lastSeqOf(subject: string): number {
    for (let i = this.#seqs.length - 1; i >= 0; i--) {
      const m = this.#msgs.get(this.#seqs[i]!)!;
      if (m.subject === subject) return m.seq;
    }
    return 0;
  }

  #anyInterest(subject: string): boolean {
    for (const c of this.consumers.values()) {
      if (c.filterMatches(subject)) return true;
    }
    return false;
  }

  #enforceLimits(): void {
    const c = this.config;
    while (c.max_msgs > 0 && this.#msgs.size > c.max_msgs) {
      this.remove(this.#seqs[0]!);
    }
    while (
      c.max_bytes > 0 && this.#bytes > c.max_bytes && this.#seqs.length > 0
    ) {
      this.remove(this.#seqs[0]!);
    }
    if (c.max_msgs_per_subject > 0) {
      const counts = new Map<string, number>();
      for (let i = this.#seqs.length - 1; i >= 0; i--) {
        const m = this.#msgs.get(this.#seqs[i]!)!;
        const n = (counts.get(m.subject) ?? 0) + 1;
        counts.set(m.subject, n);
        if (n > c.max_msgs_per_subject) this.remove(m.seq);
      }
    }
    this.#expire();
  }

  // max_age: remove what is too old, and wake up when the next one is.
  #expire(): void {
    const maxAge = this.config.max_age / NANOS;
    if (maxAge <= 0) return;
    const now = this.#env.clock.now();
    while (this.#seqs.length > 0) {
      const first = this.#msgs.get(this.#seqs[0]!)!;
      if (now - first.ts < maxAge) break;
      this.remove(first.seq);
    }
  }

  #scheduleAge(): void {
    if (this.#ageTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#ageTimer);
      this.#ageTimer = undefined;
    }
    const maxAge = this.config.max_age / NANOS;
    if (maxAge <= 0 || this.#deleted) return;
    const first = this.#seqs[0];
    if (first === undefined) return;
    const due = this.#msgs.get(first)!.ts + maxAge - this.#env.clock.now();
    this.#ageTimer = this.#env.clock.setTimeout(() => {
      this.#ageTimer = undefined;
      this.#expire();
      this.#scheduleAge();
    }, Math.max(0, due));
  }

  // --- reading ---

  get(seq: number): StoredMsg | undefined {
    return this.#msgs.get(seq);
  }

  /** The first stored message with sequence >= `seq` matching `filter`. */
  nextFrom(seq: number, filter: string): StoredMsg | undefined {
    let lo = 0;
    let hi = this.#seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#seqs.length; i++) {
      const m = this.#msgs.get(this.#seqs[i]!)!;
      if (filter === "" || subjectMatches(filter, m.subject)) return m;
    }
    return undefined;
  }

  /** The last stored message on `subject` (a filter). */
  lastBySubject(filter: string): StoredMsg | undefined {
    for (let i = this.#seqs.length - 1; i >= 0; i--) {
      const m = this.#msgs.get(this.#seqs[i]!)!;
      if (subjectMatches(filter, m.subject)) return m;
    }
    return undefined;
  }

  /** Stored messages with sequence >= `seq` matching `filter`. */
  countFrom(seq: number, filter: string): number {
    if (filter === "" || this.config.subjects.every((s) => s === filter)) {
      let lo = 0;
      let hi = this.#seqs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#seqs[mid]! < seq) lo = mid + 1;
        else hi = mid;
      }
      return this.#seqs.length - lo;
    }
    let n = 0;
    for (let i = this.#seqs.length - 1; i >= 0; i--) {
      const s = this.#seqs[i]!;
      if (s < seq) break;
      if (filter === "" || subjectMatches(filter, this.#msgs.get(s)!.subject)) {
        n++;
      }
    }
    return n;
  }

  get firstSeq(): number {
    return this.#seqs[0] ?? this.#lastSeq + 1;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get messages(): number {
    return this.#msgs.size;
  }

  // --- removing ---

  /** Remove one message; false if it was not stored. */
  remove(seq: number): boolean {
    const m = this.#msgs.get(seq);
    if (m === undefined) return false;
    this.#msgs.delete(seq);
    this.#bytes -= m.size;
    let lo = 0;
    let hi = this.#seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    if (this.#seqs[lo] === seq) this.#seqs.splice(lo, 1);
    this.#emptiedTs = this.#seqs.length === 0 && this.config.storage === "file"
      ? m.ts
      : 0;
    return true;
  }

  /** Purge messages (all, by subject, up to a sequence, or keeping some). */
  purge(request: { filter?: string; seq?: number; keep?: number }): number {
    const filter = request.filter ?? "";
    const candidates = this.#seqs.filter((s) => {
      if (request.seq !== undefined && request.seq > 0 && s >= request.seq) {
        return false;
      }
      return filter === "" ||
        subjectMatches(filter, this.#msgs.get(s)!.subject);
    });
    const keep = request.keep ?? 0;
    const doomed = keep > 0
      ? candidates.slice(0, Math.max(0, candidates.length - keep))
      : candidates;
    for (const s of doomed) this.remove(s);
    if (this.#seqs.length === 0) this.#emptiedTs = 0;
    if (filter === "" && (request.seq ?? 0) === 0 && keep === 0) {
      // A full purge moves the consumers past everything.
      for (const c of this.consumers.values()) c.purged(this.#lastSeq + 1);
    }
    return doomed.length;
  }

  /**
   * A consumer acked or terminated `seq`: with interest retention it goes
   * once no other consumer still needs it (nats-server's checkInterest).
   */
  acked(by: Consumer, seq: number): void {
    if (this.config.retention === "limits") return;
    if (seq < this.firstSeq) return;
    const m = this.#msgs.get(seq);
    if (m === undefined) return;
    if (this.config.retention === "workqueue") {
      this.remove(seq);
      return;
    }
    for (const c of this.consumers.values()) {
      if (c !== by && c.needsAck(seq, m.subject)) return;
    }
    this.remove(seq);
  }

  /** A consumer was deleted: drop what nobody else needs (interest). */
  consumerDeleted(gone: Consumer, ackFloor: number): void {
    if (this.config.retention !== "interest") return;
    for (const seq of [...this.#seqs]) {
      if (seq <= ackFloor) continue;
      const m = this.#msgs.get(seq)!;
      let needed = false;
      for (const c of this.consumers.values()) {
        if (c !== gone && c.needsAck(seq, m.subject)) {
          needed = true;
          break;
        }
      }
      if (!needed) this.remove(seq);
    }
  }

  /** Stop timers; the stream is gone. */
  delete(): void {
    this.#deleted = true;
    if (this.#ageTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#ageTimer);
    }
    for (const c of this.consumers.values()) c.stop("Consumer Deleted");
    this.consumers.clear();
  }

  // --- JSON ---

  state(): Record<string, unknown> {
    const first = this.#seqs[0];
    const firstMsg = first === undefined ? undefined : this.#msgs.get(first);
    const out: Record<string, unknown> = {
      messages: this.#msgs.size,
      bytes: this.#bytes,
      // A stream that never had a message reports 0.
      first_seq: this.#lastSeq === 0 ? 0 : this.firstSeq,
      first_ts: rfc3339(firstMsg?.ts ?? this.#emptiedTs),
      last_seq: this.#lastSeq,
      last_ts: rfc3339(this.#lastTs),
    };
    const subjects = new Set<string>();
    for (const m of this.#msgs.values()) subjects.add(m.subject);
    if (subjects.size > 0) out.num_subjects = subjects.size;
    // Interior deletes: sequences between first and last that are gone.
    if (first !== undefined) {
      const deleted = this.#lastSeq - first + 1 - this.#msgs.size;
      if (deleted > 0) out.num_deleted = deleted;
    }
    out.consumer_count = this.consumers.size;
    return out;
  }

  info(): Record<string, unknown> {
    return {
      config: streamConfigJson(this.config),
      created: rfc3339(this.created),
      state: this.state(),
    };
  }

  /** The stored message as STREAM.MSG.GET returns it. */
  static messageJson(m: StoredMsg): Record<string, unknown> {
    const out: Record<string, unknown> = { subject: m.subject, seq: m.seq };
    if (m.hdr !== undefined && m.hdr.length > 0) out.hdrs = base64(m.hdr);
    if (m.data.length > 0) out.data = base64(m.data);
    out.time = rfc3339(m.ts);
    return out;
  }

  /** The ack subject's timestamp field of a stored message. */
  static nanos(m: StoredMsg): string {
    return epochNanos(m.ts);
  }
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
