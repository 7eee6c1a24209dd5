// Global job slots shared by all actors of one listener. A slot is taken
// when messages are requested (so nothing is pulled without a free slot to
// run it) and given back when the job ends or the request expires unfilled.
import type { Priority } from "../actor.ts";

/** Something that wants slots: an actor's puller. */
export interface SlotWaiter {
  readonly priority: Priority;
  /** Called when slots may be available; takes what it needs. */
  wake(): void;
  /**
   * Give up one slot held for a pull request still unanswered, so a message
   * that is already here can run in it; false if none is held. A message
   * that request brings later waits (pulsed) for the next free slot.
   */
  yieldSlot?(): boolean;
}

const ORDER: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

export class Scheduler {
  readonly capacity: number;
  #used = 0;
  // One FIFO per priority level: the highest non-empty level is served
  // first, and within a level waiters take turns.
  readonly #waiting: SlotWaiter[][] = [[], [], []];
  readonly #holders: SlotWaiter[] = [];
  #waking = false;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get free(): number {
    return this.capacity - this.#used;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Take up to `wanted` slots. A waiter of lower priority gets nothing while
   * a higher-priority one is queued.
   */
  take(waiter: SlotWaiter, wanted: number): number {
    const level = ORDER[waiter.priority];
    for (let i = 0; i < level; i++) {
      if (this.#waiting[i]!.length > 0) {
        this.wait(waiter);
        return 0;
      }
    }
    const granted = Math.max(0, Math.min(wanted, this.free));
    this.#used += granted;
    if (granted < wanted) this.wait(waiter);
    return granted;
  }

  /** Make `holder`'s reserved slots reclaimable by {@linkcode reclaim}. */
  register(holder: SlotWaiter): void {
    if (!this.#holders.includes(holder)) this.#holders.push(holder);
  }

  /**
   * A message of `taker` is here and every slot is taken: move one slot
   * held by an unanswered pull request (of an actor of the same or a lower
   * priority, lowest first) to it. Without this, a ready message waits up
   * to `pollDelay` behind another actor's requests that may never be
   * filled.
   *
   * @returns Whether a slot was moved (it stays counted as used).
   */
  reclaim(taker: SlotWaiter): boolean {
    const level = ORDER[taker.priority];
    for (let l = 2; l >= level; l--) {
      for (const holder of this.#holders) {
        if (holder === taker || ORDER[holder.priority] !== l) continue;
        if (holder.yieldSlot?.() === true) return true;
      }
    }
    return false;
  }

  /** Queue `waiter` to be woken when slots are released. */
  wait(waiter: SlotWaiter): void {
    const queue = this.#waiting[ORDER[waiter.priority]]!;
    if (!queue.includes(waiter)) queue.push(waiter);
  }

  /** Give back `n` slots and wake waiters, highest priority first. */
  release(n: number): void {
    if (n <= 0) return;
    this.#used = Math.max(0, this.#used - n);
    this.#wake();
  }

  #wake(): void {
    if (this.#waking) return;
    this.#waking = true;
    try {
      for (const queue of this.#waiting) {
        while (queue.length > 0 && this.free > 0) {
          const waiter = queue.shift()!;
          waiter.wake();
        }
        if (this.free <= 0) return;
      }
    } finally {
      this.#waking = false;
    }
  }
}
