// A stream's configuration as nats-server 2.9 handles it: the defaults it
// fills in, the checks it makes, the JSON it reports, and whether two
// streams' subjects overlap.
import { errors } from "./_errors.ts";
import { filtersOverlap, isFilterSubject } from "./_subjects.ts";

export const NANOS = 1_000_000;
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
/** Whether two configurations are the same (as the server reports them). */
export function sameConfig(a: StreamConfig, b: StreamConfig): boolean {
  return JSON.stringify(streamConfigJson(a)) ===
    JSON.stringify(streamConfigJson(b));
}

/** Whether a stream's subjects overlap another's. */
export function subjectsOverlap(a: string[], b: string[]): boolean {
  return a.some((x) => b.some((y) => filtersOverlap(x, y)));
}
