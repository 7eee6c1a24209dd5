// A bounded set of recent numbers, oldest forgotten first: the stream
// sequences an actor acked lately, so a redelivery whose ack was lost (a
// consumer leader failed over before the ack was replicated) is acked again
// instead of being run twice.

/** Numbers seen lately, at most `capacity` of them. */
export class RecentSet {
  readonly #capacity: number;
  readonly #items = new Set<number>();
  // Insertion order, as a ring that grows to `capacity` as numbers come
  // (an idle actor costs nothing; 1,000 preallocated rings of 8,192 were
  // 64 MiB): once full, the slot at #next holds the oldest. Deleting a
  // Set's first entry instead would leave holes that every later lookup of
  // the first entry walks past (it was 4.5% of the handle path's CPU,
  // bench/profile.ts).
  readonly #order: number[] = [];
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  has(n: number): boolean {
    return this.#items.has(n);
  }

  add(n: number): void {
    if (this.#items.has(n)) return;
    if (this.#order.length < this.#capacity) {
      this.#order.push(n);
    } else {
      this.#items.delete(this.#order[this.#next]!);
      this.#order[this.#next] = n;
      this.#next = (this.#next + 1) % this.#capacity;
    }
    this.#items.add(n);
  }
}
