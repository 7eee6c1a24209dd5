/**
 * {@linkcode otelHeaders}: carry the active OpenTelemetry trace context in
 * the headers of every emitted message.
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import { context, type TextMapPropagator } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/nats-core";
import type { AnyEvent } from "../event.ts";
import type { HeaderHook } from "../publish/publisher.ts";
import { w3cPropagator } from "./_traceparent.ts";
import { HEADER_TRACE, HEADER_TRACEPARENT } from "../headers.ts";

/** Options for {@linkcode otelHeaders}. */
export interface OtelHeadersOptions {
  /**
   * How the context is written into headers. The default writes W3C
   * `traceparent` (and `tracestate` when there is one) whether or not a
   * propagator is registered with the API; pass `propagation` from
   * `@opentelemetry/api` to use the globally registered one (baggage, B3, ...).
   * @default {W3C Trace Context}
   */
  propagator?: TextMapPropagator;
  /**
   * Also write the `traceparent` into `Walnats-Trace`, where Python
   * walnats' `OpenTelemetryTraceMiddleware` reads it, so Python actors
   * join the trace. A `Walnats-Trace` already set (`emit(..., { traceId })`)
   * is kept.
   * @default {false}
   */
  walnatsTrace?: boolean;
}

/**
 * A header hook that injects the active trace context into every emitted
 * message, so {@linkcode OtelTracing} on the consuming side parents its
 * consumer span to the span that emitted. A `traceparent` set explicitly
 * through `emit(..., { meta })` is kept as it is. Nothing is written when
 * no span is active. With `walnatsTrace: true` the traceparent is copied
 * into `Walnats-Trace` too, for Python walnats actors.
 *
 * @param options The propagator to use.
 * @returns A hook for `Events.connect(server, { headerHooks: [...] })`.
 *
 * @example Emit inside a span
 * ```ts ignore
 * import { trace } from "@opentelemetry/api";
 * import { Events } from "@walnats/walnats";
 * import { otelHeaders } from "@walnats/walnats/otel";
 *
 * await using pub = await new Events(USER_CREATED).connect(url, {
 *   headerHooks: [otelHeaders()],
 * });
 * await trace.getTracer("app").startActiveSpan("sign-up", async (span) => {
 *   await pub.emit(USER_CREATED, { id: 1 }); // carries the span's traceparent
 *   span.end();
 * });
 * ```
 */
export function otelHeaders(options: OtelHeadersOptions = {}): HeaderHook {
  const propagator = options.propagator ?? w3cPropagator;
  const walnatsTrace = options.walnatsTrace ?? false;
  return (_event: AnyEvent, headers: MsgHdrs): void => {
    if (!headers.has(HEADER_TRACEPARENT)) {
      propagator.inject(context.active(), headers, {
        set(carrier: MsgHdrs, key: string, value: string): void {
          carrier.set(key, value);
        },
      });
    }
    if (walnatsTrace && !headers.has(HEADER_TRACE)) {
      const parent = headers.get(HEADER_TRACEPARENT);
      if (parent !== "") headers.set(HEADER_TRACE, parent);
    }
  };
}
