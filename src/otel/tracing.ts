/**
 * {@linkcode OtelTracing}: one OpenTelemetry consumer span per job.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import {
  type Attributes,
  type Context as OtelContext,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type { Handler } from "../actor.ts";
import type { Context } from "../context.ts";
import type {
  FailureContext,
  Middleware,
  StartContext,
  SuccessContext,
} from "../middlewares/middleware.ts";
import { HEADER_ID, HEADER_TRACE } from "../headers.ts";
import {
  headerValue,
  parseTraceparent,
  w3cPropagator,
} from "./_traceparent.ts";

/** The instrumentation scope name of walnats' tracer and meter. */
export const INSTRUMENTATION_SCOPE = "@walnats/walnats";

/** Options for {@linkcode OtelTracing}. */
export interface OtelTracingOptions {
  /**
   * Where spans go.
   * @default {trace.getTracer("@walnats/walnats")}
   */
  tracer?: Tracer;
  /**
   * How the producer's context is read from the message headers. The
   * default reads W3C `traceparent`/`tracestate` whether or not a
   * propagator is registered; pass `propagation` from `@opentelemetry/api`
   * to use the globally registered one.
   * @default {W3C Trace Context}
   */
  propagator?: TextMapPropagator;
  /**
   * When the propagator finds no context, read a `Walnats-Trace` header
   * that holds a W3C traceparent: that is where Python walnats'
   * `OpenTelemetryTraceMiddleware` expects it, so Python publishers put it
   * there (`emit(..., trace_id=traceparent)`). A `Walnats-Trace` that is
   * not a traceparent (any other trace id) is ignored.
   * @default {true}
   */
  walnatsTrace?: boolean;
  /**
   * The span's name.
   * @default {(ctx) => `process ${ctx.event.name}`}
   */
  spanName?: (ctx: Context) => string;
}

interface Open {
  span: Span;
  signal: AbortSignal;
  onAbort: () => void;
}

// One key per delivery: the same message redelivered while an earlier
// delivery still runs gets a span of its own.
function jobKey(ctx: Context): string {
  return `${ctx.event.name}\u0000${ctx.actor}\u0000${ctx.sequence}\u0000${ctx.deliveryCount}`;
}

const headerGetter = {
  get(carrier: Readonly<Record<string, string>>, key: string) {
    return headerValue(carrier, key);
  },
  keys(carrier: Readonly<Record<string, string>>): string[] {
    return Object.keys(carrier);
  },
};

/**
 * A middleware that records one OpenTelemetry span (kind `CONSUMER`) per
 * job, from `onStart` to `onSuccess`/`onFailure`, parented to the trace
 * context the producer sent in `traceparent` (see `otelHeaders`), or,
 * failing that, in a `Walnats-Trace` header holding a W3C traceparent (how
 * Python walnats carries it).
 *
 * Attributes follow the messaging semantic conventions where they fit
 * (`messaging.system` = `"nats"`, `messaging.operation.type` = `"process"`,
 * `messaging.destination.name` = the event, `messaging.consumer.group.name`
 * = the actor, `messaging.message.id` = `Nats-Msg-Id`) plus `walnats.actor`,
 * `walnats.event`, `walnats.attempt`, `walnats.sequence`,
 * `walnats.delivery_count` and `walnats.trace_id`. A failure sets the
 * status to `ERROR`, records the exception and adds `error.type` and
 * `walnats.outcome`. A payload that did not decode gets a span of its own
 * that starts and ends in `onFailure`. A job handed back on shutdown ends
 * its span with an error when `ctx.signal` aborts.
 *
 * Hooks cannot make the span active inside the handler: the engine calls
 * them and the handler separately, and the OpenTelemetry API can only
 * activate a context for a callback it runs. Wrap the handler with
 * {@linkcode OtelTracing.wrap} (or use {@linkcode OtelTracing.contextOf})
 * so spans made by the handler nest under the job's span.
 *
 * Use one instance for all actors; the instance must come before other
 * middlewares whose work should be inside the span.
 *
 * @example Trace an actor
 * ```ts ignore
 * import { Actor } from "@walnats/walnats";
 * import { OtelTracing } from "@walnats/walnats/otel";
 *
 * const tracing = new OtelTracing();
 * const SEND_EMAIL = new Actor(
 *   "send-email",
 *   USER_REGISTERED,
 *   tracing.wrap(async (user) => await mailer.welcome(user)),
 *   { middlewares: [tracing] },
 * );
 * ```
 */
export class OtelTracing implements Middleware {
  readonly #tracer: Tracer;
  readonly #propagator: TextMapPropagator;
  readonly #spanName: (ctx: Context) => string;
  readonly #walnatsTrace: boolean;
  readonly #open = new Map<string, Open>();

  /**
   * Make the middleware.
   *
   * @param options Tracer, propagator and span name.
   */
  constructor(options: OtelTracingOptions = {}) {
    this.#tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_SCOPE);
    this.#propagator = options.propagator ?? w3cPropagator;
    this.#spanName = options.spanName ?? ((ctx) => `process ${ctx.event.name}`);
    this.#walnatsTrace = options.walnatsTrace ?? true;
  }

  /** The producer's context: the propagator's, else `Walnats-Trace`. */
  #extract(base: OtelContext, ctx: Context): OtelContext {
    const extracted = this.#propagator.extract(base, ctx.headers, headerGetter);
    if (!this.#walnatsTrace) return extracted;
    if (trace.getSpanContext(extracted) !== trace.getSpanContext(base)) {
      return extracted; // the propagator found one
    }
    const value = headerValue(ctx.headers, HEADER_TRACE);
    const spanContext = value === undefined
      ? undefined
      : parseTraceparent(value);
    return spanContext === undefined
      ? extracted
      : trace.setSpanContext(extracted, spanContext);
  }

  /** Spans started and not yet ended (for tests and leak checks). */
  get openSpans(): number {
    return this.#open.size;
  }

  #start(ctx: Context): Span {
    const parent = this.#extract(ROOT_CONTEXT, ctx);
    const attributes: Attributes = {
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": ctx.event.name,
      "messaging.consumer.group.name": ctx.actor,
      "walnats.actor": ctx.actor,
      "walnats.event": ctx.event.name,
      "walnats.attempt": ctx.attempt,
      "walnats.sequence": ctx.sequence,
      "walnats.delivery_count": ctx.deliveryCount,
    };
    const id = headerValue(ctx.headers, HEADER_ID);
    if (id !== undefined) attributes["messaging.message.id"] = id;
    if (ctx.traceId !== undefined) attributes["walnats.trace_id"] = ctx.traceId;
    return this.#tracer.startSpan(
      this.#spanName(ctx),
      { kind: SpanKind.CONSUMER, attributes },
      parent,
    );
  }

  #take(ctx: Context): Span | undefined {
    const key = jobKey(ctx);
    const open = this.#open.get(key);
    if (open === undefined) return undefined;
    this.#open.delete(key);
    open.signal.removeEventListener("abort", open.onAbort);
    return open.span;
  }

  /**
   * Start the job's span.
   *
   * @param ctx The job's context.
   */
  onStart(ctx: StartContext): void {
    const key = jobKey(ctx);
    const span = this.#start(ctx);
    const signal = ctx.signal;
    // A job abandoned on shutdown gets no further hook: end its span when
    // its signal aborts for that reason. Timeouts are followed by
    // onFailure, which ends the span with the timeout error.
    const onAbort = (): void => {
      const reason: unknown = signal.reason;
      if (!(reason instanceof Error) || reason.name !== "ShutdownError") return;
      if (this.#take(ctx) !== span) return;
      span.recordException(reason);
      span.setAttribute("error.type", reason.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: reason.message });
      span.end();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#open.get(key)?.span.end(); // a stale span for the same delivery
    this.#open.set(key, { span, signal, onAbort });
  }

  /**
   * End the job's span.
   *
   * @param ctx The job's context.
   */
  onSuccess(ctx: SuccessContext): void {
    this.#take(ctx)?.end();
  }

  /**
   * End the job's span with an error status (or record a span for a
   * payload that did not decode).
   *
   * @param ctx The job's context.
   */
  onFailure(ctx: FailureContext): void {
    const span = this.#take(ctx) ?? this.#start(ctx);
    span.recordException(ctx.error);
    span.setAttributes({
      "error.type": ctx.error.name,
      "walnats.outcome": ctx.outcome,
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error.message });
    span.end();
  }

  /**
   * The OpenTelemetry context holding the running job's span, to start
   * child spans in or activate with `context.with`. Outside a job (or
   * before `onStart`), the producer's context from the headers.
   *
   * @param ctx The job's context (the handler's `ctx`).
   * @returns The context.
   */
  contextOf(ctx: Context): OtelContext {
    const open = this.#open.get(jobKey(ctx));
    if (open !== undefined) return trace.setSpan(context.active(), open.span);
    return this.#extract(context.active(), ctx);
  }

  /**
   * Wrap a handler so it runs with the job's span active: spans it starts
   * (and instrumented libraries it calls) nest under the job's span.
   * Needs a context manager registered with the API (the SDKs register
   * one), as anything that relies on the active context does.
   *
   * @typeParam T The payload type.
   * @typeParam R What the handler returns.
   * @param handler The handler.
   * @returns A handler of the same type.
   */
  wrap<T, R>(handler: Handler<T, R>): Handler<T, R> {
    return (message: T, ctx: Context<T>): R | Promise<R> =>
      context.with(this.contextOf(ctx), () => handler(message, ctx));
  }
}
