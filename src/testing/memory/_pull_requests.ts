// A pull consumer's pull requests: the CONSUMER.MSG.NEXT payload, and the
// requests waiting for messages with their expiry, heartbeats and status
// replies (consumer.go's nextReqFromMsg, waitQueue and processWaiting).
import type { VirtualTimer } from "./_clock.ts";
import { NANOS } from "./_consumer_config.ts";
import type { Env } from "./_stream.ts";

const PENDING_MSGS = "Nats-Pending-Messages";
const PENDING_BYTES = "Nats-Pending-Bytes";

/** A pull request waiting for messages. */
export interface Waiting {
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

/** A parsed pull request, or why it is refused. */
export type Parsed =
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
export function parseNext(body: string): Parsed {
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
export function goDuration(text: string): number | undefined {
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

/** Sends a status message (no payload) to a reply subject. */
export type SendStatus = (
  reply: string,
  code: number,
  description: string,
  extra?: [string, string | number][],
) => void;

/** The pull requests of one consumer waiting for messages, oldest first. */
export class WaitingList {
  readonly #env: Env;
  readonly #status: SendStatus;
  /** The last delivery's consumer and stream sequences (for heartbeats). */
  readonly #last: () => [number, number];
  #waiting: Waiting[] = [];
  #waitTimer: VirtualTimer | undefined;
  #waitTimerDue = Infinity;
  #stopped = false;

  constructor(env: Env, status: SendStatus, last: () => [number, number]) {
    this.#env = env;
    this.#status = status;
    this.#last = last;
  }

  /** Requests waiting (num_waiting). */
  get length(): number {
    return this.#waiting.length;
  }

  /** Queue a request. */
  push(wr: Waiting): void {
    this.#waiting.push(wr);
    this.#scheduleWaitTimer();
  }

  /** Drop a request that got all it asked for. */
  remove(wr: Waiting): void {
    const i = this.#waiting.indexOf(wr);
    if (i >= 0) this.#waiting.splice(i, 1);
  }

  /**
   * Expire and heartbeat waiting requests (processWaiting); returns the
   * messages still wanted by requests with interest.
   */
  process(eos: boolean): number {
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
        const [dseq, sseq] = this.#last();
        this.#status(wr.reply, 100, "Idle Heartbeat", [
          ["Nats-Last-Consumer", dseq],
          ["Nats-Last-Stream", sseq],
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
      this.process(true);
    }, Math.max(0, due - clock.monotonic()));
  }

  /** The first waiting request whose reply still has a subscriber. */
  next(): Waiting | undefined {
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

  /** The consumer is gone: tell the waiting requests, stop the timer. */
  stop(description: string): void {
    for (const wr of this.#waiting) this.#status(wr.reply, 409, description);
    this.#waiting = [];
    this.#stopped = true;
    if (this.#waitTimer !== undefined) {
      this.#env.clock.clearTimeout(this.#waitTimer);
    }
    this.#waitTimer = undefined;
  }
}
