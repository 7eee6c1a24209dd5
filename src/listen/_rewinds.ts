// The delivery counts of messages this process nak'd, to catch a count
// that went backwards. nats-server before 2.10.14 (nats-io/nats-server#5305)
// rewinds a pull consumer when a due redelivery finds only pull requests
// that expired or lost their subscriber: the message comes again as if new,
// with a delivery count of 1, while the server keeps counting its
// redeliveries against max_deliver. Taken as it comes, the attempt number
// would restart (a handler ran attempt 1 twice), and where max_deliver is
// as low as the attempts (a consumer Python walnats made), the delivery
// the listener treated as an early attempt was the last the server makes:
// the message stayed in the stream, never dead-lettered.
//
// The memory is per connection and consumer, so it outlives one listen()
// call; another process cannot know what this one saw (docs/failures.md).
import type { NatsConnection } from "@nats-io/nats-core";
import { JobMessage } from "./_jsmsg.ts";

/** Most nak'd messages remembered per consumer. */
export const REWIND_MEMORY = 8192;

/** One consumer's memory of what it nak'd and at which delivery count. */
export class RewindGuard {
  readonly #seen = new Map<number, number>();
  readonly #capacity: number;

  constructor(capacity = REWIND_MEMORY) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Messages remembered. */
  get size(): number {
    return this.#seen.size;
  }

  /** Remember that `m` was nak'd: the server delivers it again. */
  nakked(m: JobMessage): void {
    const seq = m.meta.streamSequence;
    this.#seen.delete(seq);
    this.#seen.set(seq, m.meta.deliveryCount);
    if (this.#seen.size > this.#capacity) {
      this.#seen.delete(this.#seen.keys().next().value!);
    }
  }

  /**
   * When `m`'s delivery count is not above the one it was nak'd at, a copy
   * counting one more delivery than that; `undefined` otherwise.
   */
  rewound(m: JobMessage): JobMessage | undefined {
    const seq = m.meta.streamSequence;
    const seen = this.#seen.get(seq);
    if (seen === undefined) return undefined;
    this.#seen.delete(seq);
    if (m.meta.deliveryCount > seen) return undefined;
    return new JobMessage(m.msg, { ...m.meta, deliveryCount: seen + 1 });
  }

  /** Forget everything (the consumer was deleted and made again). */
  clear(): void {
    this.#seen.clear();
  }
}

const guards = new WeakMap<NatsConnection, Map<string, RewindGuard>>();

/** The guard of `consumer` on `stream` for connection `nc`. */
export function rewindGuard(
  nc: NatsConnection,
  stream: string,
  consumer: string,
): RewindGuard {
  let byConsumer = guards.get(nc);
  if (byConsumer === undefined) {
    byConsumer = new Map();
    guards.set(nc, byConsumer);
  }
  const key = `${stream}\u0000${consumer}`;
  let guard = byConsumer.get(key);
  if (guard === undefined) {
    guard = new RewindGuard();
    byConsumer.set(key, guard);
  }
  return guard;
}
