/**
 * Cluster-wide pause of an actor, stored in the NATS KV bucket
 * `walnats_paused` (key: the actor's name; value: JSON
 * {@linkcode PauseRecord}). Listeners that honour it stop pulling for a
 * paused actor; messages keep accumulating in the event's stream.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  jetstream,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import { checkKey, ensureBucket, kvDelete, kvEntries, kvPut } from "./_kv.ts";

/** The KV bucket holding paused actors. */
export const PAUSED_BUCKET = "walnats_paused";

/** What is stored for a paused actor. */
export interface PauseRecord {
  /** Always true (resuming deletes the key). */
  paused: true;
  /** When it was paused (ISO 8601). */
  at: string;
}

/** A paused actor, as {@linkcode listPaused} reports it. */
export interface PausedActor {
  /** The actor's name. */
  actor: string;
  /** When it was paused (ISO 8601). */
  at: string;
}

/**
 * Pause an actor everywhere: every listener that honours pauses stops
 * pulling for it. The state survives restarts.
 *
 * @param nc A NATS connection.
 * @param actor The actor's name.
 * @returns What was stored.
 * @throws {TypeError} The name is not a valid KV key.
 *
 * @example Pause and resume
 * ```ts ignore
 * import { listPaused, pauseActor, resumeActor } from "@walnats/walnats/ops";
 *
 * await pauseActor(nc, "send-email");
 * console.log(await listPaused(nc)); // [{ actor: "send-email", at: "..." }]
 * await resumeActor(nc, "send-email");
 * ```
 */
export async function pauseActor(
  nc: NatsConnection,
  actor: string,
): Promise<PauseRecord> {
  checkKey(`Cannot pause actor "${actor}"`, actor);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureBucket(jsm, PAUSED_BUCKET, "walnats: paused actors");
  const record: PauseRecord = { paused: true, at: new Date().toISOString() };
  await kvPut(
    jetstream(nc),
    PAUSED_BUCKET,
    actor,
    new TextEncoder().encode(JSON.stringify(record)),
  );
  return record;
}

/**
 * Resume a paused actor (delete its key; nothing happens if it was not
 * paused).
 *
 * @param nc A NATS connection.
 * @param actor The actor's name.
 * @returns Whether it was paused.
 * @throws {TypeError} The name is not a valid KV key.
 */
export async function resumeActor(
  nc: NatsConnection,
  actor: string,
): Promise<boolean> {
  checkKey(`Cannot resume actor "${actor}"`, actor);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const paused = await pausedMap(jsm);
  if (!paused.has(actor)) return false;
  await kvDelete(jetstream(nc), PAUSED_BUCKET, actor);
  return true;
}

/**
 * Every paused actor, by name.
 *
 * @param nc A NATS connection.
 * @returns The paused actors, sorted by name.
 */
export async function listPaused(nc: NatsConnection): Promise<PausedActor[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  return [...(await pausedMap(jsm))].map(([actor, at]) => ({ actor, at }));
}

/**
 * Paused actors and since when, from the bucket (empty if it does not
 * exist). A value that is not a {@linkcode PauseRecord} with `paused: true`
 * does not pause.
 */
export async function pausedMap(
  jsm: JetStreamManager,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await kvEntries(jsm, PAUSED_BUCKET)) {
    const record = parseRecord(entry.value);
    if (record?.paused === true) {
      out.set(
        entry.key,
        typeof record.at === "string" ? record.at : entry.time,
      );
    }
  }
  return out;
}

function parseRecord(
  data: Uint8Array,
): { paused?: unknown; at?: unknown } | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(data));
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
