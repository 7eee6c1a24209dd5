// A bounded set of recent numbers, oldest forgotten first: the stream
// sequences an actor acked lately, so a redelivery whose ack was lost (a
// consumer leader failed over before the ack was replicated) is acked again
// instead of being run twice.

/** Numbers seen lately, at most `capacity` of them. */
export class RecentSet {
  readonly #capacity: number;
  readonly #items = new Set<number>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  has(n: number): boolean {
    return this.#items.has(n);
  }

  add(n: number): void {
    if (this.#items.has(n)) return;
    if (this.#items.size >= this.#capacity) {
      // A Set iterates in insertion order: the first is the oldest.
      const oldest = this.#items.values().next().value;
      if (oldest !== undefined) this.#items.delete(oldest);
    }
    this.#items.add(n);
  }
}
