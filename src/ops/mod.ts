/**
 * Operations: the state of a walnats system on the server
 * ({@linkcode status}), liveness and readiness ({@linkcode health},
 * {@linkcode healthHandler}), cluster-wide pause of actors and durable
 * schedules in NATS KV, the same API the `walnats` CLI and the dashboard
 * use. Everything takes a `NatsConnection` and needs none of the services'
 * code.
 *
 * @example Report lag
 * ```ts ignore
 * import { connect } from "@walnats/walnats";
 * import { status } from "@walnats/walnats/ops";
 *
 * const nc = await connect();
 * for (const actor of (await status(nc)).actors) {
 *   console.log(actor.name, actor.pending, actor.ackPending, actor.deadLetters);
 * }
 * await nc.close();
 * ```
 *
 * @module
 */
export { delayStream, isEventStream, status } from "./status.ts";
export type {
  ActorRef,
  ActorStatus,
  ConfigCheck,
  ConfigDifference,
  EventStatus,
  Status,
  StatusOptions,
} from "./status.ts";
export { health, healthHandler } from "./health.ts";
export type {
  ConnectionState,
  Health,
  HealthHandlerOptions,
  HealthOptions,
  HealthSource,
} from "./health.ts";
export { listPaused, pauseActor, PAUSED_BUCKET, resumeActor } from "./pause.ts";
export type { PausedActor, PauseRecord } from "./pause.ts";
export {
  checkSchedule,
  listSchedules,
  removeSchedule,
  SCHEDULES_BUCKET,
  upsertSchedule,
} from "./schedules.ts";
export type { Schedule } from "./schedules.ts";
export type { EmitObserver, EmitRecord } from "./emit_observer.ts";
