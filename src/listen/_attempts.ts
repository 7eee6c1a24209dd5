// The attempt accounting of one delivery, as a pure function of what the
// delivery carries (the JetStream delivery count, the stored timestamp, the
// `Walnats-Delay` header) and the actor's limits, so every copy of an actor
// reaches the same decision for the same delivery.
//
// A delayed message (its delay ends after the time it was stored) always
// spends exactly its first delivery waiting: nak'd for the time left, or at
// once when that delivery came after the delay (a backlog). So the number
// of delay-only deliveries is known from the message alone, and
// `attempt = deliveryCount - waits` is exact: it does not depend on when the
// first delivery happened, which no later delivery can know.

/** What one delivery is for. */
export type DeliveryPlan =
  /** Wait out the delay: nak for `delay` ms; not an attempt. */
  | { kind: "wait"; delay: number }
  /** Run the handler as attempt `attempt`; `final`: no retry after it. */
  | { kind: "run"; attempt: number; final: boolean }
  /**
   * Do not run: the attempts are used up (the last one never reported back:
   * its process died) or no delivery is left; dead-letter, recording
   * `attempts` handler runs.
   */
  | { kind: "exhausted"; attempts: number; detail: string };

/** What {@linkcode planDelivery} needs to know about the delivery. */
export interface DeliveryFacts {
  /** JetStream's delivery count, 1-based. */
  deliveryCount: number;
  /** When the message was stored, epoch ms. */
  timestamp: number;
  /** `Walnats-Delay` as epoch ms, if any. */
  until: number | undefined;
  /** Now, epoch ms (the same clock as `until`). */
  now: number;
}

/** The actor's limits. */
export interface AttemptLimits {
  /** Handler runs allowed (`Infinity`: unbounded). */
  maxAttempts: number;
  /** The consumer's `max_deliver` (`-1` or `0`: unbounded). */
  maxDeliver: number;
}

// Headers carry seconds with a fraction; a delay ending within this of the
// stored time is no delay at all.
const SLACK = 1;

/** Deliveries a message spends waiting out its delay: 0 or 1. */
export function delayWaits(
  timestamp: number,
  until: number | undefined,
): number {
  return until !== undefined && until - timestamp > SLACK ? 1 : 0;
}

/** Decide what one delivery is for. */
export function planDelivery(
  facts: DeliveryFacts,
  limits: AttemptLimits,
): DeliveryPlan {
  const count = Math.max(1, Math.floor(facts.deliveryCount) || 1);
  const waits = delayWaits(facts.timestamp, facts.until);
  const finalDelivery = limits.maxDeliver > 0 && count >= limits.maxDeliver;
  if (waits > 0) {
    const left = facts.until! - facts.now;
    if (count === 1 || left > SLACK) {
      if (finalDelivery) {
        return {
          kind: "exhausted",
          attempts: Math.max(0, count - 1 - waits),
          detail:
            `delivery ${count} is the consumer's last (max_deliver ${limits.maxDeliver}) and the delay is not over`,
        };
      }
      // The first delivery always waits, even when the delay is already
      // over (then for 0 ms), so the count of waits stays exact.
      return { kind: "wait", delay: left > SLACK ? left : 0 };
    }
  }
  const attempt = count - waits;
  if (attempt > limits.maxAttempts) {
    return {
      kind: "exhausted",
      attempts: attempt - 1,
      detail:
        `attempt ${limits.maxAttempts} of ${limits.maxAttempts} did not finish (its process died or lost the connection)`,
    };
  }
  return {
    kind: "run",
    attempt,
    final: attempt >= limits.maxAttempts || finalDelivery,
  };
}
