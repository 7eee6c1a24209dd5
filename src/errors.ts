/**
 * Errors that callers are expected to catch. Bad arguments are plain
 * `TypeError`/`RangeError`s thrown where the argument is given.
 *
 * @module
 */

/** One problem found by a schema, with the path to the offending value. */
export interface Issue {
  /** What is wrong, as the schema library worded it. */
  readonly message: string;
  /** Keys from the payload's root to the offending value, if known. */
  readonly path?: ReadonlyArray<PropertyKey>;
}

function formatIssues(issues: ReadonlyArray<Issue>): string {
  return issues
    .map((issue) => {
      const path = issue.path?.length ? issue.path.map(String).join(".") : "";
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

/**
 * A payload does not match the event's schema. Thrown by `emit` before
 * anything is sent, and by decoding on the consumer side (the message is
 * then dead-lettered as poison).
 */
export class ValidationError extends Error {
  /**
   * Always `"ValidationError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "ValidationError";
  /** Name of the event whose schema rejected the payload. */
  readonly event: string;
  /** Every problem the schema reported. */
  readonly issues: ReadonlyArray<Issue>;

  /**
   * Build the error; the message names the event and lists every issue as
   * `path: message`, separated by `; `.
   *
   * @param event Event name.
   * @param issues Problems reported by the schema.
   * @param options Standard error options (`cause`).
   */
  constructor(
    event: string,
    issues: ReadonlyArray<Issue>,
    options?: ErrorOptions,
  ) {
    super(
      `Invalid payload for event "${event}": ${formatIssues(issues)}`,
      options,
    );
    this.event = event;
    this.issues = issues;
  }
}

/**
 * Bytes could not be turned into a payload: not valid JSON, a tampered
 * signature, a wrong decryption key, a corrupt archive.
 */
export class DecodeError extends Error {
  /**
   * Always `"DecodeError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "DecodeError";
}

/** Base of the errors that carry a JetStream API error code. */
export class JetStreamRequestError extends Error {
  /**
   * Always `"JetStreamRequestError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "JetStreamRequestError";
  /** The JetStream API error code (`err_code`), when the server sent one. */
  readonly code: number | undefined;
  /** The server's own description of the error. */
  readonly description: string;

  /**
   * Build the error from a JetStream API error response.
   *
   * @param message What was being done, and what went wrong.
   * @param code The JetStream API error code.
   * @param description The server's description.
   * @param options Standard error options (`cause`).
   */
  constructor(
    message: string,
    code: number | undefined,
    description: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.description = description;
  }
}

/** Base of the errors about an event's stream (or its dead-letter stream). */
export class StreamError extends JetStreamRequestError {
  /**
   * Always `"StreamError"` here; subclasses set their own.
   */
  override name: string = "StreamError";
  /** Name of the event whose stream it is. */
  readonly event: string;
  /** Name of the stream. */
  readonly stream: string;

  /**
   * Build the error with a message composed by the subclass.
   *
   * @param event Event name.
   * @param stream Stream name.
   * @param message Full message.
   * @param code JetStream error code.
   * @param description The server's description.
   * @param options Standard error options (`cause`).
   */
  constructor(
    event: string,
    stream: string,
    message: string,
    code: number | undefined,
    description: string,
    options?: ErrorOptions,
  ) {
    super(message, code, description, options);
    this.event = event;
    this.stream = stream;
  }
}

// "its stream" or "its dead-letter stream walnats_dlq_x".
function whichStream(event: string, stream: string | undefined): string {
  return stream === undefined || stream === event.replaceAll(".", "-")
    ? "its stream"
    : `its stream "${stream}"`;
}

/**
 * The stream exists with another configuration and `register` was told not
 * to update it (JetStream error 10058).
 */
export class StreamExistsError extends StreamError {
  /**
   * Always `"StreamExistsError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "StreamExistsError";

  /**
   * Build the error; the message names the event and suggests
   * `{ update: true }`.
   *
   * @param event Event name.
   * @param code JetStream error code.
   * @param description The server's description.
   * @param options Standard error options (`cause`).
   * @param stream The stream's name, when it is not the event's own.
   */
  constructor(
    event: string,
    code: number | undefined,
    description: string,
    options?: ErrorOptions,
    stream?: string,
  ) {
    super(
      event,
      stream ?? event.replaceAll(".", "-"),
      `Cannot register event "${event}": ${
        whichStream(event, stream)
      } exists with another configuration (${description}); pass { update: true } to update it`,
      code,
      description,
      options,
    );
  }
}

/**
 * The server refused the stream configuration, or refused to update it
 * (JetStream error 10052 and other configuration errors).
 */
export class StreamConfigError extends StreamError {
  /**
   * Always `"StreamConfigError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "StreamConfigError";

  /**
   * Build the error; the message names the event and quotes the server.
   *
   * @param event Event name.
   * @param code JetStream error code.
   * @param description The server's description.
   * @param options Standard error options (`cause`).
   * @param stream The stream's name, when it is not the event's own.
   */
  constructor(
    event: string,
    code: number | undefined,
    description: string,
    options?: ErrorOptions,
    stream?: string,
  ) {
    super(
      event,
      stream ?? event.replaceAll(".", "-"),
      `Cannot register event "${event}": the server refused ${
        whichStream(event, stream)
      } configuration (${description})`,
      code,
      description,
      options,
    );
  }
}

/** The server refused to create or update an actor's consumer. */
export class ConsumerConfigError extends JetStreamRequestError {
  /**
   * Always `"ConsumerConfigError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "ConsumerConfigError";
  /** Name of the actor whose consumer was refused. */
  readonly actor: string;

  /**
   * Build the error with a message composed by the caller.
   *
   * @param actor Actor name.
   * @param message Full message.
   * @param code JetStream error code.
   * @param description The server's description.
   * @param options Standard error options (`cause`).
   */
  constructor(
    actor: string,
    message: string,
    code: number | undefined,
    description: string,
    options?: ErrorOptions,
  ) {
    super(message, code, description, options);
    this.actor = actor;
  }
}

/** No reply arrived within the request's timeout. */
export class RequestTimeoutError extends Error {
  /**
   * Always `"RequestTimeoutError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "RequestTimeoutError";
  /** Name of the event that was requested. */
  readonly event: string;
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Build the error; the message names the event and the timeout.
   *
   * @param event Event name.
   * @param timeout Timeout in milliseconds.
   * @param options Standard error options (`cause`).
   */
  constructor(event: string, timeout: number, options?: ErrorOptions) {
    super(
      `No reply to event "${event}" within ${timeout} ms: is an actor with a response listening?`,
      options,
    );
    this.event = event;
    this.timeout = timeout;
  }
}

/**
 * A payload is larger than the event's `maxMessageSize` limit, or than the
 * server's `max_payload` less the headroom a dead letter needs.
 */
export class PayloadTooLargeError extends RangeError {
  /**
   * Always `"PayloadTooLargeError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "PayloadTooLargeError";
  /** Encoded payload size in bytes. */
  readonly size: number;
  /** The limit in bytes. */
  readonly limit: number;

  /**
   * Build the error; the message names the event, the size and the limit.
   *
   * @param event Event name.
   * @param size Payload size in bytes.
   * @param limit Limit in bytes.
   * @param what Which limit ("maxMessageSize" or the server's max_payload).
   * @param why Why the limit is what it is, appended to the message.
   */
  constructor(
    event: string,
    size: number,
    limit: number,
    what: string,
    why?: string,
  ) {
    super(
      `Cannot emit event "${event}": the encoded payload is ${size} bytes, over the ${what} limit of ${limit} bytes${
        why === undefined ? "" : `: ${why}`
      }`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** A job's handler ran past the actor's `jobTimeout`. */
export class JobTimeoutError extends Error {
  /**
   * Always `"JobTimeoutError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "JobTimeoutError";
  /**
   * Build the error; the message names the actor and the timeout.
   *
   * @param actor Actor name.
   * @param timeout Timeout in milliseconds.
   */
  constructor(actor: string, timeout: number) {
    super(`Job of actor "${actor}" ran longer than jobTimeout (${timeout} ms)`);
  }
}

/** The listener is shutting down and the job's grace period is over. */
export class ShutdownError extends Error {
  /**
   * Always `"ShutdownError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "ShutdownError";
}

/** The consumer of a listening actor vanished (deleted by someone). */
export class ConsumerGoneError extends Error {
  /**
   * Always `"ConsumerGoneError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "ConsumerGoneError";
  /** Name of the actor whose consumer is gone. */
  readonly actor: string;
  /**
   * Build the error; the message names the actor and says to run
   * `register()` again.
   *
   * @param actor Actor name.
   * @param detail What the server said.
   */
  constructor(actor: string, detail: string) {
    super(
      `The consumer of actor "${actor}" is gone (${detail}): run register() again to recreate it`,
    );
    this.actor = actor;
  }
}

/** Why a connection could not be made, as {@linkcode ConnectError} says. */
export type ConnectErrorReason =
  | "auth"
  | "tls"
  | "refused"
  | "timeout"
  | "closed"
  | "other";

/**
 * The first connection to NATS failed: the server refused the credentials
 * (`"auth"`), TLS failed or a client certificate was refused (`"tls"`),
 * nothing listens there (`"refused"`), no NATS handshake came in time
 * (`"timeout"`), or the server closed the socket (`"closed"`). Later
 * disconnects are retried and never raise this.
 */
export class ConnectError extends Error {
  /**
   * Always `"ConnectError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "ConnectError";
  /** The server URL that failed (the last one tried). */
  readonly url: string;
  /** What went wrong, as a keyword. */
  readonly reason: ConnectErrorReason;

  /**
   * Build the error; the message names the URL and says what went wrong.
   *
   * @param url Server URL.
   * @param reason What went wrong.
   * @param detail A sentence about it.
   * @param options Standard error options (`cause`: nats-core's error).
   */
  constructor(
    url: string,
    reason: ConnectErrorReason,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot connect to ${url}: ${detail}`, options);
    this.url = url;
    this.reason = reason;
  }
}

/** Why an acknowledged emit failed, as {@linkcode EmitError} says. */
export type EmitErrorReason = "no-leader" | "unreachable" | "no-stream";

/**
 * An acknowledged emit got no acknowledgement within its `timeout`
 * although it was retried: no stream leader answered (`"no-leader"`: an
 * election that outlasted the timeout), the server did not answer or could
 * not be reached (`"unreachable"`), or no stream listens on the subject
 * (`"no-stream"`, not retried). Emitting again with the same `uid` is safe:
 * the stream stores a message id once within its duplicate window.
 */
export class EmitError extends Error {
  /**
   * Always `"EmitError"`: shown in logs and stack traces, and comparable
   * where `instanceof` fails (two copies of the package loaded).
   */
  override name = "EmitError";
  /** Name of the event. */
  readonly event: string;
  /** What went wrong, as a keyword. */
  readonly reason: EmitErrorReason;
  /**
   * True if an attempt may have reached the stream, so the message may be
   * stored although no acknowledgement came; false if it certainly is not.
   */
  readonly mayBeStored: boolean;
  /** The message id (`Nats-Msg-Id`) every attempt carried. */
  readonly uid: string;
  /** How many times it was sent. */
  readonly attempts: number;

  /**
   * Build the error; the message names the event, says why, and whether
   * the message may have been stored.
   *
   * @param event Event name.
   * @param reason What went wrong.
   * @param detail Details for the message (timeout, attempts, server text).
   * @param fields The uid, attempts and whether it may be stored.
   * @param options Standard error options (`cause`: the last attempt's error).
   */
  constructor(
    event: string,
    reason: EmitErrorReason,
    detail: string,
    fields: { uid: string; attempts: number; mayBeStored: boolean },
    options?: ErrorOptions,
  ) {
    const why = reason === "no-leader"
      ? "no stream leader answered (a leader election or JetStream restarting)"
      : reason === "no-stream"
      ? "no stream listens on the subject (run register() to create it)"
      : "the server did not acknowledge it (unreachable, restarting or overloaded)";
    const stored = fields.mayBeStored
      ? `it may have been stored: emit again with uid "${fields.uid}" to be sure it is stored once`
      : "it was not stored";
    super(
      `Cannot emit event "${event}": ${why}, ${detail}; ${stored}`,
      options,
    );
    this.event = event;
    this.reason = reason;
    this.mayBeStored = fields.mayBeStored;
    this.uid = fields.uid;
    this.attempts = fields.attempts;
  }
}
