// A few NATS KV operations over the raw JetStream API, laid out exactly as
// nats.js `@nats-io/kv` lays out a bucket (stream `KV_<bucket>`, subjects
// `$KV.<bucket>.<key>`, delete markers in a `KV-Operation` header), so a
// bucket written here reads the same with `nats kv` or `@nats-io/kv`. The
// package `@nats-io/kv` is not a dependency; these four operations are all
// walnats needs.
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { STREAM_NAME_EXISTS } from "../publish/_streams.ts";
import { headers as natsHeaders } from "@nats-io/nats-core";

const KEY = /^[-/_=.a-zA-Z0-9]+$/;

/** The stream holding a bucket. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject of a key. */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}

/** Check a key the way nats.js does: `[-/_=.a-zA-Z0-9]+`, no edge dots. */
export function checkKey(what: string, key: string): void {
  if (!KEY.test(key) || key.startsWith(".") || key.endsWith(".")) {
    throw new TypeError(
      `${what}: ${
        JSON.stringify(key)
      } is not a valid key (letters, digits and - / _ = . only, not starting or ending with ".")`,
    );
  }
}

/** The configuration nats.js gives a bucket with history 1 and no TTL. */
export function kvStreamConfig(
  bucket: string,
  description: string,
): Partial<StreamConfig> & { name: string } {
  return {
    name: kvStream(bucket),
    description,
    subjects: [`$KV.${bucket}.>`],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 1,
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msg_size: -1,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    num_replicas: 1,
    allow_rollup_hdrs: true,
    deny_delete: true,
    deny_purge: false,
    allow_direct: true,
    duplicate_window: 120_000_000_000,
  };
}

/** Create the bucket unless it exists (whatever its configuration). */
export async function ensureBucket(
  jsm: JetStreamManager,
  bucket: string,
  description: string,
): Promise<void> {
  try {
    await jsm.streams.info(kvStream(bucket));
    return;
  } catch (error) {
    if (!isCode(error, JetStreamApiCodes.StreamNotFound)) throw error;
  }
  try {
    await jsm.streams.add(kvStreamConfig(bucket, description));
  } catch (error) {
    // Created meanwhile by someone else: theirs is as good.
    if (!isCode(error, STREAM_NAME_EXISTS)) throw error;
  }
}

/** Store a value. */
export async function kvPut(
  js: JetStreamClient,
  bucket: string,
  key: string,
  value: Uint8Array,
): Promise<void> {
  await js.publish(kvSubject(bucket, key), value);
}

/** Delete a key (a delete marker, as nats.js writes it). */
export async function kvDelete(
  js: JetStreamClient,
  bucket: string,
  key: string,
): Promise<void> {
  const h = natsHeaders();
  h.set("KV-Operation", "DEL");
  await js.publish(kvSubject(bucket, key), new Uint8Array(0), { headers: h });
}

/** A live value and when it was written. */
export interface KvEntry {
  key: string;
  value: Uint8Array;
  /** When it was stored (ISO 8601). */
  time: string;
}

/**
 * Read a key: `undefined` when the bucket, the key or its value is gone
 * (deleted or purged).
 */
export async function kvGet(
  jsm: JetStreamManager,
  bucket: string,
  key: string,
): Promise<KvEntry | undefined> {
  let stored;
  try {
    stored = await jsm.streams.getMessage(kvStream(bucket), {
      last_by_subj: kvSubject(bucket, key),
    });
  } catch (error) {
    if (
      isCode(error, JetStreamApiCodes.StreamNotFound) ||
      isCode(error, JetStreamApiCodes.NoMessageFound)
    ) {
      return undefined;
    }
    throw error;
  }
  if (stored === null) return undefined;
  const op = stored.header?.get("KV-Operation");
  if (op === "DEL" || op === "PURGE") return undefined;
  return { key, value: stored.data, time: stored.time.toISOString() };
}

/**
 * The live keys of a bucket (none if it does not exist): one stream info
 * with a subject filter, then one read per key, in parallel.
 */
export async function kvEntries(
  jsm: JetStreamManager,
  bucket: string,
): Promise<KvEntry[]> {
  let info;
  try {
    info = await jsm.streams.info(kvStream(bucket), {
      subjects_filter: `$KV.${bucket}.>`,
    });
  } catch (error) {
    if (isCode(error, JetStreamApiCodes.StreamNotFound)) return [];
    throw error;
  }
  const prefix = `$KV.${bucket}.`;
  const keys = Object.keys(info.state.subjects ?? {})
    .filter((s) => s.startsWith(prefix))
    .map((s) => s.slice(prefix.length))
    .sort();
  const entries = await Promise.all(keys.map((k) => kvGet(jsm, bucket, k)));
  return entries.filter((e): e is KvEntry => e !== undefined);
}

/** Whether `error` is a JetStream API error with this code. */
export function isCode(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}
