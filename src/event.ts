/**
 * {@linkcode Event}: a named, typed kind of message, one subject and one
 * stream on NATS.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  type Codec,
  type InputOf,
  isCodec,
  isSchema,
  type OutputOf,
  type Schema,
  type SchemaOrCodec,
  toCodec,
} from "./codecs/codec.ts";
import { checkDescription, checkName } from "./_names.ts";
import {
  checkLimits,
  DEFAULT_DUPLICATE_WINDOW,
  type Limits,
  msToNanos,
} from "./limits.ts";

/** Options for {@linkcode Event}. */
export interface EventOptions<T = unknown, I = T> {
  /** What the event means; shown as the stream's description. */
  description?: string;
  /**
   * Check the name with Python walnats' rules instead of ours, for names
   * shared with Python services: lowercase letters, digits and dashes
   * anywhere (`user--created`, `-x` pass), no dots (its linter's WNS003
   * and WNS004). Our default is kebab-case with single dashes, and dots
   * allowed between words.
   * @default {false}
   */
  pythonNames?: boolean;

  /** Limits of the event's stream. @default {{}} */
  limits?: Limits;
  /**
   * Codec used on the wire instead of the default JSON-with-schema codec
   * (for example `gzip(json(schema))`); the schema still documents the
   * payload.
   */
  codec?: Codec<T, I>;
}

/**
 * A named, typed kind of message: one NATS subject and one JetStream stream
 * with interest retention (a message is kept until every actor acked it).
 *
 * The subject is the name; the stream is the name with `.` replaced by `-`,
 * as in Python walnats, so both can share events.
 *
 * @typeParam T Payload type handlers receive (the schema's output).
 * @typeParam I Payload type `emit` accepts (the schema's input).
 * @typeParam R Response type `request` resolves with (`never`: no response).
 * @typeParam RI Response type the handler returns.
 *
 * @example Declare an event
 * ```ts
 * import * as v from "valibot";
 * import { Event } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const USER_CREATED = new Event(
 *   "user-created",
 *   v.object({ id: v.number(), name: v.string() }),
 *   { description: "a user finished sign-up", limits: { maxAge: 86_400_000 } },
 * );
 * assert.equal(USER_CREATED.stream, "user-created");
 * ```
 */
export class Event<T = unknown, I = T, R = never, RI = R> {
  /** The event name, unique across the system. */
  readonly name: string;
  /** What the event means. */
  readonly description: string | undefined;
  /** Limits of the event's stream. */
  readonly limits: Readonly<Limits>;
  /** The codec used on the wire. */
  readonly codec: Codec<T, I>;
  /** The schema, when the event was built from one (used by AsyncAPI). */
  readonly schema: Schema<I, T> | undefined;
  /** The response codec, for events made by {@linkcode withResponse}. */
  readonly response: Codec<R, RI> | undefined;
  /** The response schema, when the response was given as a schema. */
  readonly responseSchema: Schema<RI, R> | undefined;

  /**
   * Declare an event whose payload is JSON checked against a schema.
   *
   * @param name Kebab-case name, dots allowed (`user-created`,
   *   `billing.invoice-paid`); it is the subject, and cannot change later.
   * @param schema Any Standard Schema v1 validator (valibot, zod,
   *   arktype): the payload is JSON checked against it.
   * @param options Description, limits, codec.
   * @throws {TypeError} The name, description or schema is not acceptable.
   * @throws {RangeError} A limit is not a positive integer, or too large.
   */
  constructor(
    name: string,
    schema: Schema<I, T>,
    options?: EventOptions<T, I>,
  );
  /**
   * Declare an event whose payload is encoded by a codec.
   *
   * @param name Kebab-case name, dots allowed; the subject.
   * @param codec A {@linkcode Codec} (bytes, text, msgpack, ...).
   * @param options Description, limits.
   * @throws {TypeError} The name, description or codec is not acceptable.
   * @throws {RangeError} A limit is not a positive integer, or too large.
   */
  constructor(name: string, codec: Codec<T, I>, options?: EventOptions<T, I>);
  constructor(
    name: string,
    schemaOrCodec: Schema<I, T> | Codec<T, I>,
    options: EventOptions<T, I> = {},
  ) {
    checkName("event", name, options.pythonNames ? "python" : "kebab");
    checkDescription("event", name, options.description);
    checkLimits(name, options.limits ?? {});
    if (options.codec !== undefined && !isCodec(options.codec)) {
      throw new TypeError(
        `Cannot create event "${name}": options.codec must have encode() and decode()`,
      );
    }
    this.name = name;
    this.description = options.description;
    this.limits = Object.freeze({ ...options.limits });
    // Checked even when options.codec replaces it: a wrong argument is a bug.
    const codec = toCodec(schemaOrCodec, name) as Codec<T, I>;
    this.schema = isSchema(schemaOrCodec) ? schemaOrCodec : undefined;
    this.codec = options.codec ?? codec;
    this.response = undefined;
    this.responseSchema = undefined;
  }

  /** The NATS subject messages are published to (the name). */
  get subject(): string {
    return this.name;
  }

  /** The JetStream stream name (the name with `.` replaced by `-`). */
  get stream(): string {
    return this.name.replaceAll(".", "-");
  }

  /**
   * A copy of this event whose actors reply: the handler's return value is
   * encoded by `schemaOrCodec` and sent back to `request`. Register the copy
   * (in `Events` and in the `Actor`), not the original.
   *
   * @typeParam S The response schema or codec.
   * @param schemaOrCodec The response's schema or codec.
   * @returns A new event with the same name, stream, limits and codec.
   * @throws {TypeError} `schemaOrCodec` is neither a schema nor a codec.
   *
   * @example Declare an event with a response
   * ```ts
   * import * as v from "valibot";
   * import { Event } from "@walnats/walnats";
   * import assert from "node:assert/strict";
   *
   * const GET_USER = new Event("get-user", v.object({ id: v.number() }))
   *   .withResponse(v.object({ name: v.string() }));
   * assert.equal(GET_USER.stream, "get-user");
   * assert.ok(GET_USER.response !== undefined);
   * ```
   */
  withResponse<S extends SchemaOrCodec>(
    schemaOrCodec: S,
  ): Event<T, I, OutputOf<S>, InputOf<S>> {
    if (!isSchema(schemaOrCodec) && !isCodec(schemaOrCodec)) {
      throw new TypeError(
        `Cannot add a response to event "${this.name}": expected a Standard Schema (valibot, zod, arktype) or a Codec with encode() and decode(), got ${
          schemaOrCodec === null ? "null" : typeof schemaOrCodec
        }`,
      );
    }
    const copy = Object.create(Event.prototype) as Event<
      T,
      I,
      OutputOf<S>,
      InputOf<S>
    >;
    Object.assign(copy, this, {
      response: toCodec(schemaOrCodec, `${this.name} response`),
      responseSchema: isSchema(schemaOrCodec) ? schemaOrCodec : undefined,
    });
    return Object.freeze(copy);
  }

  /**
   * The JetStream stream configuration of this event.
   *
   * Every limit is set, to the server's default where the event leaves it
   * out, so that `register` on an existing stream also removes a limit
   * that was dropped from the event (nats.js merges an update into the old
   * configuration).
   *
   * @returns The configuration `register` creates or updates the stream
   *   with (ages in nanoseconds).
   */
  streamConfig(): Partial<StreamConfig> & { name: string } {
    const l = this.limits;
    const maxAge = l.maxAge ?? 0;
    // The server's own default: 2 minutes, or maxAge if that is shorter.
    const window = l.duplicateWindow ??
      (maxAge > 0
        ? Math.min(maxAge, DEFAULT_DUPLICATE_WINDOW)
        : DEFAULT_DUPLICATE_WINDOW);
    return {
      name: this.stream,
      subjects: [this.subject],
      retention: RetentionPolicy.Interest,
      description: this.description ?? "",
      max_age: msToNanos(maxAge),
      max_msgs: l.maxMessages ?? -1,
      max_bytes: l.maxBytes ?? -1,
      max_msg_size: l.maxMessageSize ?? -1,
      max_consumers: l.maxConsumers ?? -1,
      num_replicas: l.replicas ?? 1,
      storage: l.storage === "memory" ? StorageType.Memory : StorageType.File,
      discard: l.discard === "new" ? DiscardPolicy.New : DiscardPolicy.Old,
      duplicate_window: msToNanos(window),
    };
  }
}

/** Any event, whatever its payload types. */
export type AnyEvent = Event<unknown, unknown, unknown, unknown>;

/**
 * Whether `value` is an {@linkcode Event} (by shape, so events from another
 * copy of the package count too).
 *
 * @param value Anything.
 * @returns True for an event.
 */
export function isEvent(value: unknown): value is AnyEvent {
  return typeof value === "object" && value !== null &&
    typeof (value as AnyEvent).name === "string" &&
    typeof (value as AnyEvent).streamConfig === "function";
}
