// Test doubles shared by unit tests: timers, a logger, a job's context.
import type {
  FailureContext,
  LogFields,
  Logger,
  StartContext,
  SuccessContext,
} from "../mod.ts";
import type { Timers } from "../src/decorators/mod.ts";

/** Timers whose time moves only when the test says so. */
export class FakeTimers implements Timers {
  #now: number;
  #seq = 0;
  readonly #queue = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#queue.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#queue.delete(handle as number);
  }

  setInterval(callback: () => void, ms: number): unknown {
    const id = ++this.#seq;
    const period = Math.max(1, ms);
    const fire = (): void => {
      this.#queue.set(id, { at: this.#now + period, callback: fire });
      callback();
    };
    this.#queue.set(id, { at: this.#now + period, callback: fire });
    return id;
  }

  clearInterval(handle: unknown): void {
    this.#queue.delete(handle as number);
  }

  monotonic(): number {
    return this.#now;
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#queue.size;
  }

  /** Move time forward, firing due timers in order, each at its time. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#queue) {
        if (
          entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)
        ) {
          next = entry;
        }
      }
      if (next === undefined) break;
      this.#queue.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].callback();
    }
    this.#now = end;
    await settle();
  }

  /** Move time forward without firing anything: a stalled event loop. */
  jump(ms: number): void {
    this.#now += ms;
  }
}

/** Let every pending promise callback run (one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** One record a {@linkcode MemoryLogger} kept. */
export interface LogEntry {
  level: "error" | "warn" | "info" | "debug";
  message: string;
  fields?: LogFields;
}

/** A logger that keeps every record in `entries`, in order. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  error(message: string, fields?: LogFields): void {
    this.#add("error", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#add("warn", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#add("info", message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.#add("debug", message, fields);
  }
  #add(level: LogEntry["level"], message: string, fields?: LogFields): void {
    this.entries.push(
      fields === undefined ? { level, message } : { level, message, fields },
    );
  }
  /** The records whose message matches. */
  find(message: RegExp): LogEntry[] {
    return this.entries.filter((e) => message.test(e.message));
  }
  /** The records of one level. */
  at(level: LogEntry["level"]): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }
}

/** Every context a middleware hook gets, merged. */
export type HookContext = FailureContext & SuccessContext & StartContext;

/**
 * A context as a middleware sees it, for unit tests of middlewares: job 1 of
 * actor "ship" on "order-placed", 5 ms long, failed with "boom" to be retried.
 */
export function fakeContext(
  overrides: Record<string, unknown> = {},
): HookContext {
  return {
    actor: "ship",
    event: { name: "order-placed" },
    attempt: 1,
    deliveryCount: 1,
    sequence: 1,
    timestamp: new Date(0),
    traceId: undefined,
    headers: {},
    signal: new AbortController().signal,
    message: { id: 1 },
    duration: 5,
    error: new Error("boom"),
    outcome: "retry",
    ...overrides,
  } as unknown as HookContext;
}
