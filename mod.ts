/**
 * walnats: event-driven background jobs and microservices over NATS
 * JetStream, for Deno, Bun and Node. A TypeScript port of Python walnats,
 * wire-compatible with it.
 *
 * A publisher declares typed events and emits them; subscribers run actors
 * (handlers bound to events) that share the work across any number of
 * processes, with retries, delays, timeouts and dead letters.
 *
 * @example Emit and handle an event
 * ```ts
 * import * as v from "valibot";
 * import { Actor, Actors, Event, Events } from "@walnats/walnats";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start(); // or your NATS_URL
 * const USER_CREATED = new Event(
 *   "user-created",
 *   v.object({ id: v.number(), name: v.string() }),
 * );
 * const greetings: string[] = [];
 * const GREET = new Actor("greet", USER_CREATED, (user) => {
 *   greetings.push(`hello, ${user.name}`);
 * });
 *
 * // subscriber side registers the consumer, publisher side the stream
 * await using pub = await new Events(USER_CREATED).connect(server.url);
 * await pub.register();
 * await using sub = await new Actors(GREET).connect(server.url);
 * await sub.register();
 *
 * await pub.emit(USER_CREATED, { id: 1, name: "Ann" });
 * await sub.listen({ burst: true }); // a service: listen({ signal })
 * assert.deepEqual(greetings, ["hello, Ann"]);
 * ```
 *
 * @module
 */
export {
  Actor,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY,
} from "./src/actor.ts";
export type {
  ActorOptions,
  AnyActor,
  Handler,
  HandlerResult,
  Priority,
} from "./src/actor.ts";
export { Actors } from "./src/actors.ts";
export { exponentialBackoff } from "./src/backoff.ts";
export type { ExponentialBackoffOptions } from "./src/backoff.ts";
export { MAX_RETRY_DELAY, PermanentError, RetryError } from "./src/outcomes.ts";
export type { RetryErrorOptions } from "./src/outcomes.ts";
export type { ActorsConnectOptions } from "./src/actors.ts";
export {
  Clock,
  MINUTE_PASSED,
  nextFireTimes,
  tickCodec,
} from "./src/clock/clock.ts";
export type {
  ClockOptions,
  ClockReport,
  ClockRunOptions,
  TickCodecOptions,
  TickPublisher,
} from "./src/clock/clock.ts";
export { systemTimers, TIMERS, timersOf } from "./src/timers.ts";
export type { Timers } from "./src/timers.ts";
export { CloudEvent } from "./src/cloud_event.ts";
export type { CloudEventAttributes } from "./src/cloud_event.ts";
export { isCodec, isSchema, json, validate } from "./src/codecs/codec.ts";
export type {
  Codec,
  InputOf,
  OutputOf,
  Schema,
  SchemaOrCodec,
} from "./src/codecs/codec.ts";
export { bytes, date, encrypt, gzip, hmac, text } from "./src/codecs/mod.ts";
export type {
  DateOptions,
  EncryptKey,
  EncryptOptions,
  GzipOptions,
  HmacHash,
  HmacKey,
  HmacOptions,
} from "./src/codecs/mod.ts";
export { connect, runtime } from "./src/transports/connect.ts";
export type { Server } from "./src/transports/connect.ts";
export type { Context } from "./src/context.ts";
export {
  deadLetterStream,
  deadLetterSubject,
  DEFAULT_DEAD_LETTER_MAX_AGE,
  DEFAULT_DEAD_LETTER_MAX_MESSAGES,
  DLQ_HEADERS,
} from "./src/dead_letter.ts";
export type {
  DeadLetter,
  DeadLetterReason,
  DeadLetterStreamOptions,
} from "./src/dead_letter.ts";
export {
  ConnectError,
  ConsumerConfigError,
  ConsumerGoneError,
  DecodeError,
  EmitError,
  JetStreamRequestError,
  JobTimeoutError,
  PayloadTooLargeError,
  RequestTimeoutError,
  ShutdownError,
  StreamConfigError,
  StreamError,
  StreamExistsError,
  ValidationError,
} from "./src/errors.ts";
export type {
  ConnectErrorReason,
  EmitErrorReason,
  Issue,
} from "./src/errors.ts";
export { Event } from "./src/event.ts";
export type { AnyEvent, EventOptions } from "./src/event.ts";
export { Events } from "./src/events.ts";
export type { EventsConnectOptions } from "./src/events.ts";
export {
  HEADER_DELAY,
  HEADER_ID,
  HEADER_REPLAY_ACTOR,
  HEADER_REPLY,
  HEADER_TRACE,
  HEADER_TRACEPARENT,
} from "./src/headers.ts";
export type { Limits } from "./src/limits.ts";
export { consoleLogger, silentLogger } from "./src/log.ts";
export type { LogFields, Logger } from "./src/log.ts";
export type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "./src/middlewares/middleware.ts";
export { Publisher } from "./src/publish/publisher.ts";
export type {
  EmitFailure,
  EmitManyOptions,
  EmitManyResult,
  EmitOptions,
  EmitResult,
  HeaderHook,
  MonitorItem,
  MonitorOptions,
  RegisterOptions,
  RegisterReport,
  RequestOptions,
} from "./src/publish/publisher.ts";
export { Subscriber } from "./src/listen/subscriber.ts";
export type {
  DeadLettersOptions,
  ListenOptions,
  ListenReport,
  ReplayOptions,
  SubscriberRegisterOptions,
} from "./src/listen/subscriber.ts";
export { health, healthHandler } from "./src/ops/health.ts";
export type {
  ConnectionState,
  Health,
  HealthHandlerOptions,
  HealthOptions,
  HealthSource,
} from "./src/ops/health.ts";
export { status } from "./src/ops/status.ts";
export type {
  ActorRef,
  ActorStatus,
  ConfigCheck,
  ConfigDifference,
  EventStatus,
  Status,
  StatusOptions,
} from "./src/ops/status.ts";
export type { EmitObserver, EmitRecord } from "./src/ops/emit_observer.ts";
