// The broker's virtual clock: time moves only when a test calls advance(),
// and everything due in that span runs in time order, with promises settled
// between steps.

/** A scheduled callback. */
interface Entry {
  readonly id: number;
  due: number;
  readonly callback: () => void;
  /** Milliseconds between runs of an interval; 0 for a timeout. */
  readonly every: number;
}

/** What `setTimeout`/`setInterval` return: an opaque handle. */
export interface VirtualTimer {
  readonly id: number;
}

// Most steps one advance() may take before it gives up: a timer that keeps
// rescheduling itself at the current instant would otherwise spin forever.
const MAX_STEPS = 1_000_000;

/**
 * Yield to the event loop once, so every queued promise reaction (and what
 * it queues in turn) runs. `setImmediate` where there is one (Node, Bun),
 * else a zero timeout (Deno runs it at once).
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  return new Promise((resolve) => {
    if (typeof g.setImmediate === "function") g.setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * A clock that stands still until advanced: `now()` is virtual epoch
 * milliseconds, `monotonic()` virtual milliseconds since the clock started.
 * It implements walnats' `Timers` seam, so the engine's waits follow it.
 */
export class VirtualClock {
  readonly #epoch: number;
  #elapsed = 0;
  #nextId = 1;
  // Sorted by due time, then by creation order (stable for equal times).
  #queue: Entry[] = [];
  #advancing = false;

  /** @param epoch Epoch milliseconds at which virtual time starts. */
  constructor(epoch: number) {
    this.#epoch = epoch;
  }

  /** Virtual epoch milliseconds. */
  now(): number {
    return this.#epoch + this.#elapsed;
  }

  /** Virtual milliseconds since the clock started. */
  monotonic(): number {
    return this.#elapsed;
  }

  /** Callbacks waiting to run. */
  get pending(): number {
    return this.#queue.length;
  }

  /** When the next callback is due (monotonic ms), if any. */
  nextDue(): number | undefined {
    return this.#queue[0]?.due;
  }

  setTimeout(callback: () => void, ms: number): VirtualTimer {
    return this.#add(callback, ms, 0);
  }

  clearTimeout(handle: unknown): void {
    this.#remove(handle);
  }

  setInterval(callback: () => void, ms: number): VirtualTimer {
    return this.#add(callback, ms, Math.max(1, toDelay(ms)));
  }

  clearInterval(handle: unknown): void {
    this.#remove(handle);
  }

  #add(callback: () => void, ms: number, every: number): VirtualTimer {
    if (typeof callback !== "function") {
      throw new TypeError("Cannot set a timer: callback must be a function");
    }
    const entry: Entry = {
      id: this.#nextId++,
      due: this.#elapsed + (every > 0 ? every : toDelay(ms)),
      callback,
      every,
    };
    this.#insert(entry);
    return { id: entry.id };
  }

  #insert(entry: Entry): void {
    // Binary search for the first entry due later than this one.
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#queue[mid]!.due <= entry.due) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, entry);
  }

  #remove(handle: unknown): void {
    const id = (handle as VirtualTimer | null | undefined)?.id;
    if (typeof id !== "number") return;
    const i = this.#queue.findIndex((e) => e.id === id);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  /**
   * Move time forward by `ms`, running every callback due in that span in
   * time order; promises settle before the first step, between steps and
   * after the last. Rejects with what a callback threw, once time has moved.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(
        `Cannot advance the clock: ms must be a non-negative number, got ${ms}`,
      );
    }
    if (this.#advancing) {
      throw new TypeError(
        "Cannot advance the clock: another advance() is still running (await it first)",
      );
    }
    this.#advancing = true;
    try {
      const target = this.#elapsed + ms;
      const errors: unknown[] = [];
      await settle();
      let steps = 0;
      for (;;) {
        const first = this.#queue[0];
        if (first === undefined || first.due > target) break;
        if (++steps > MAX_STEPS) {
          throw new RangeError(
            `Cannot advance the clock: more than ${MAX_STEPS} timers were due (a timer keeps rescheduling itself at the same instant)`,
          );
        }
        this.#elapsed = Math.max(this.#elapsed, first.due);
        // Run everything due at this instant, then let promises settle.
        while (
          this.#queue[0] !== undefined && this.#queue[0].due <= this.#elapsed
        ) {
          const entry = this.#queue.shift()!;
          if (entry.every > 0) {
            entry.due += entry.every;
            this.#insert(entry);
          }
          try {
            entry.callback();
          } catch (error) {
            // A throwing timer callback is a bug in the code under test:
            // time still moves on, and advance() rejects with it at the end.
            errors.push(error);
          }
        }
        // One turn of the event loop runs every promise reaction queued by
        // this step (and those they queue) before the next step is chosen.
        await yieldToEventLoop();
      }
      this.#elapsed = target;
      await settle();
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) {
        throw new AggregateError(
          errors,
          `${errors.length} timer callbacks threw`,
        );
      }
    } finally {
      this.#advancing = false;
    }
  }
}

/** Let promise chains and in-memory deliveries run to quiescence. */
export async function settle(): Promise<void> {
  // Two turns: a reaction may start work that resolves on the next turn
  // (a codec's crypto, a stream's pipe).
  await yieldToEventLoop();
  await yieldToEventLoop();
}

function toDelay(ms: number): number {
  const n = Number(ms);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
