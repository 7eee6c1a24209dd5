// A pull consumer's configuration as nats-server 2.9 handles it: the
// defaults it fills in, the checks it makes, the JSON it reports, and which
// changes an update may not make (consumer.go's setConsumerConfigDefaults,
// checkConsumerCfg and updateConfig).
import { ApiError, errors } from "./_errors.ts";
import type { Stream } from "./_stream.ts";
import { isFilterSubject, isSubsetOf } from "./_subjects.ts";

export const NANOS = 1_000_000;
export const DEFAULT_ACK_WAIT = 30_000 * NANOS;
const DEFAULT_MAX_ACK_PENDING = 1000;
const DEFAULT_MAX_WAITING = 512;

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
  // nats-server refuses an ack-less pull consumer only on a work-queue
  // stream (checked where the stream is known); elsewhere it is a reader
  // whose deliveries count as acked at once.
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
