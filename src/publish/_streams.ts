// Create or update a stream: one function for the events' streams and the
// dead-letter streams, so both report and fail the same way.
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { StreamConfigError, StreamExistsError } from "../errors.ts";

/**
 * JetStream's "stream name already in use with a different configuration":
 * not among nats.js' `JetStreamApiCodes`.
 */
export const STREAM_NAME_EXISTS = 10058;

/** JetStream's "subjects overlap with an existing stream". */
const SUBJECTS_OVERLAP = 10065;

/**
 * Whether stream `name` exists: `false` only when the server said so,
 * `undefined` when it could not tell (no leader, no answer).
 */
export async function streamExists(
  jsm: JetStreamManager,
  name: string,
): Promise<boolean | undefined> {
  try {
    await jsm.streams.info(name);
    return true;
  } catch (error) {
    return error instanceof JetStreamApiError &&
        error.code === JetStreamApiCodes.StreamNotFound
      ? false
      : undefined;
  }
}

/** What {@linkcode upsertStream} did. */
export type UpsertOutcome = "created" | "updated" | "unchanged" | "skipped";

/** How {@linkcode upsertStream} may act, and whom its errors name. */
export interface UpsertOptions {
  /** Create the stream when it is missing. */
  create: boolean;
  /** Update the stream when its configuration differs. */
  update: boolean;
  /** The event the stream belongs to (named in errors). */
  event: string;
}

function describe(error: JetStreamApiError): string {
  return error.apiError().description ?? error.message;
}

/**
 * Create the stream if it is missing, leave it if the server finds it
 * identical, else update it.
 *
 * @throws {StreamExistsError} It differs and `update` is false.
 * @throws {StreamConfigError} The server refused the configuration.
 */
export async function upsertStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  options: UpsertOptions,
): Promise<UpsertOutcome> {
  const refused = (error: JetStreamApiError): StreamConfigError =>
    new StreamConfigError(
      options.event,
      error.code,
      describe(error),
      { cause: error },
      config.name,
    );
  let exists = true;
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    if (error.code !== JetStreamApiCodes.StreamNotFound) throw refused(error);
    exists = false;
  }
  if (!exists) {
    if (!options.create) return "skipped";
    try {
      await jsm.streams.add(config);
      return "created";
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      // Someone else created it meanwhile: compare with theirs below. A
      // create racing another create of the same stream can also be told
      // its subjects overlap (nats-server 2.9, seen with four at once): the
      // same, if a stream of this name is there now.
      if (
        error.code !== STREAM_NAME_EXISTS &&
        !(error.code === SUBJECTS_OVERLAP &&
          await streamExists(jsm, config.name) === true)
      ) {
        throw refused(error);
      }
    }
  }
  // Adding an existing stream succeeds only if the server finds the
  // configuration identical (after filling in its defaults).
  let differs: JetStreamApiError;
  try {
    await jsm.streams.add(config);
    return "unchanged";
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    if (error.code !== STREAM_NAME_EXISTS) throw refused(error);
    differs = error;
  }
  if (!options.update) {
    throw new StreamExistsError(
      options.event,
      differs.code,
      describe(differs),
      { cause: differs },
      config.name,
    );
  }
  try {
    await jsm.streams.update(config.name, config);
    return "updated";
  } catch (error) {
    if (error instanceof JetStreamApiError) throw refused(error);
    throw error;
  }
}
