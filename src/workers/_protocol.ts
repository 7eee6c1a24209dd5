// The messages between the pool (main thread) and a worker, whatever carries
// them (a Web Worker port, a worker_threads port, framed stdin/stdout).

/** The job fields a worker gets; the signal is rebuilt on its side. */
export interface WireContext {
  actor: string;
  event: string;
  attempt: number;
  deliveryCount: number;
  sequence: number;
  /** Epoch milliseconds. */
  timestamp: number;
  traceId: string | undefined;
  headers: Record<string, string>;
}

/** An error as it crosses: name, message and stack survive, not the class. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
}

/** Main thread to worker. */
export type ToWorker =
  | {
    type: "run";
    id: number;
    module: string;
    export: string;
    message: unknown;
    ctx: WireContext;
  }
  | { type: "abort"; id: number; reason: WireError };

/** Worker to main thread. */
export type FromWorker =
  | { type: "done"; id: number; ok: true; value: unknown }
  | { type: "done"; id: number; ok: false; error: WireError };

/** An error (or anything thrown) in a form that crosses. */
export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    return {
      name: String(error.name),
      message: String(error.message),
      stack: typeof error.stack === "string" ? error.stack : undefined,
    };
  }
  return { name: "Error", message: String(error), stack: undefined };
}

/** Rebuild an error that crossed: an `Error` carrying the original name. */
export function fromWireError(wire: WireError): Error {
  const error = new Error(String(wire.message));
  error.name = typeof wire.name === "string" ? wire.name : "Error";
  if (typeof wire.stack === "string") error.stack = wire.stack;
  return error;
}

/** Whether a value read from a worker has the shape of a reply. */
export function isFromWorker(value: unknown): value is FromWorker {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.type !== "done" || typeof v.id !== "number") return false;
  if (v.ok === true) return "value" in v;
  if (v.ok !== false) return false;
  const e = v.error as Record<string, unknown> | null | undefined;
  return typeof e === "object" && e !== null && typeof e.message === "string";
}
