// W3C Trace Context (https://www.w3.org/TR/trace-context/): the
// `traceparent` and `tracestate` headers, read and written without needing
// a propagator registered with the OpenTelemetry API.
import {
  type Context as OtelContext,
  createTraceState,
  isSpanContextValid,
  type SpanContext,
  type TextMapPropagator,
  trace,
} from "@opentelemetry/api";

const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Parse a `traceparent` value; undefined when it is malformed. */
export function parseTraceparent(
  value: string,
  tracestate?: string,
): SpanContext | undefined {
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  // "ff" is forbidden; version 00 has exactly four fields.
  if (version === "ff" || (version === "00" && rest !== undefined)) {
    return undefined;
  }
  const spanContext: SpanContext = {
    traceId: traceId!,
    spanId: spanId!,
    traceFlags: Number.parseInt(flags!, 16),
    isRemote: true,
  };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (tracestate) spanContext.traceState = createTraceState(tracestate);
  return spanContext;
}

/** Format a span context as a version-00 `traceparent` value. */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The header's value, matched exactly first, then ignoring case. */
export function headerValue(
  headers: Readonly<Record<string, string>>,
  name: string,
): string | undefined {
  const exact = headers[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === lower) return value;
  }
  return undefined;
}

/** The W3C propagator used when the caller gives none. */
export const w3cPropagator: TextMapPropagator = {
  inject(context, carrier, setter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
    setter.set(carrier, "traceparent", formatTraceparent(spanContext));
    const state = spanContext.traceState?.serialize();
    if (state) setter.set(carrier, "tracestate", state);
  },
  extract(context, carrier, getter): OtelContext {
    const first = (key: string): string | undefined => {
      const value = getter.get(carrier, key);
      return Array.isArray(value) ? value[0] : value;
    };
    const parent = first("traceparent");
    if (parent === undefined) return context;
    const spanContext = parseTraceparent(parent, first("tracestate"));
    if (spanContext === undefined) return context;
    return trace.setSpanContext(context, spanContext);
  },
  fields(): string[] {
    return ["traceparent", "tracestate"];
  },
};
