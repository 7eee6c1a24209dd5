// Finding what a request names: an event and an actor of the status, dead
// letters by sequence, and how many dead letters there are. What is missing
// or malformed is an HttpError (400 or 404).
import { JetStreamApiCodes, type JetStreamManager } from "@nats-io/jetstream";
import {
  type DeadLetter,
  deadLetterStream,
  toDeadLetter,
} from "../dead_letter.ts";
import { isCode } from "../ops/_kv.ts";
import type { EventStatus, Status } from "../ops/status.ts";
import { HttpError } from "./_http.ts";

const MAX_SEQUENCES = 1000;

export function requireEvent(report: Status, name: unknown): EventStatus {
  if (typeof name !== "string" || name === "") {
    throw new HttpError(400, "event is missing");
  }
  const found = report.events.find((e) => e.name === name);
  if (found === undefined) {
    throw new HttpError(404, `unknown event ${JSON.stringify(name)}`);
  }
  return found;
}

export function requireActor(
  report: Status,
  name: unknown,
  event?: string,
): void {
  if (typeof name !== "string" || name === "") {
    throw new HttpError(400, "actor is missing");
  }
  const known = report.actors.some((a) =>
    a.name === name && (event === undefined || a.event === event)
  );
  if (!known) {
    throw new HttpError(
      404,
      `unknown actor ${JSON.stringify(name)}${
        event === undefined ? "" : ` of event ${JSON.stringify(event)}`
      }`,
    );
  }
}

export async function getLetter(
  jsm: JetStreamManager,
  stream: string,
  seq: number,
): Promise<DeadLetter | undefined> {
  try {
    const stored = await jsm.streams.getMessage(deadLetterStream(stream), {
      seq,
    });
    return stored === null
      ? undefined
      : toDeadLetter(stored.seq, stored.header, stored.data);
  } catch (error) {
    if (
      isCode(error, JetStreamApiCodes.NoMessageFound) ||
      isCode(error, JetStreamApiCodes.StreamNotFound)
    ) return undefined;
    throw error;
  }
}

export async function deadLetterCount(
  jsm: JetStreamManager,
  stream: string,
  actor: string | undefined,
): Promise<number> {
  try {
    const info = await jsm.streams.info(deadLetterStream(stream), {
      subjects_filter: `walnats_dlq.${stream}.${actor ?? "*"}`,
    });
    return Object.values(info.state.subjects ?? {}).reduce(
      (n, c) => n + c,
      0,
    );
  } catch (error) {
    if (isCode(error, JetStreamApiCodes.StreamNotFound)) return 0;
    throw error;
  }
}

/** The dead letters an action names: by sequence (all must exist). */
export async function selected(
  jsm: JetStreamManager,
  stream: string,
  body: Record<string, unknown>,
): Promise<DeadLetter[]> {
  const seqs = body.sequences;
  if (
    !Array.isArray(seqs) || seqs.length === 0 ||
    seqs.length > MAX_SEQUENCES ||
    !seqs.every((n) => Number.isSafeInteger(n) && n > 0)
  ) {
    throw new HttpError(
      400,
      `sequences must be 1 to ${MAX_SEQUENCES} positive integers (or all: true)`,
    );
  }
  const letters = await Promise.all(
    [...new Set(seqs as number[])].map((n) => getLetter(jsm, stream, n)),
  );
  const missing = (seqs as number[]).filter((_, i) =>
    letters[i] === undefined ||
    (body.actor !== undefined && letters[i]!.actor !== body.actor)
  );
  if (missing.length > 0) {
    throw new HttpError(
      404,
      `no dead letter ${
        missing.map((n) => `#${n}`).join(", ")
      } here; nothing was done`,
    );
  }
  return letters as DeadLetter[];
}
