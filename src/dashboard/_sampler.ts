// Periodic status() samples kept in memory, for the overview's charts:
// lag and acknowledged-per-second per actor, emitted-per-second per event.
// Bounded: samples older than the history window are dropped.
import type { Status } from "../ops/status.ts";

interface ActorPoint {
  pending: number;
  ackPending: number;
  /** The event stream's last sequence at the time. */
  lastSequence: number;
}

interface Sample {
  /** Milliseconds since the epoch. */
  t: number;
  actors: Map<string, ActorPoint>;
  events: Map<string, number>;
}

/** One point of a chart. */
export interface Point {
  /** Milliseconds since the epoch. */
  t: number;
  v: number;
}

/** The key of an actor in the samples. */
export function actorKey(event: string, actor: string): string {
  return `${event}\u0000${actor}`;
}

/** Options of a {@linkcode Sampler}. */
export interface SamplerOptions {
  /** Milliseconds between samples. */
  every: number;
  /** Milliseconds of history kept. */
  keep: number;
  /** Called when a periodic sample fails (the next one is tried anyway). */
  onError: (error: unknown) => void;
}

/** Reads status() on a timer and on demand, sharing calls in flight. */
export class Sampler {
  readonly #read: () => Promise<Status>;
  readonly #options: SamplerOptions;
  readonly #samples: Sample[] = [];
  #inFlight: Promise<Status> | undefined;
  #latest: { at: number; status: Status } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #generation = 0;

  constructor(read: () => Promise<Status>, options: SamplerOptions) {
    this.#read = read;
    this.#options = options;
  }

  /** A status read no longer than `maxAge` ms ago (or a fresh one). */
  current(maxAge: number): Promise<Status> {
    const latest = this.#latest;
    if (latest !== undefined && Date.now() - latest.at <= maxAge) {
      return Promise.resolve(latest.status);
    }
    if (this.#inFlight !== undefined) return this.#inFlight;
    const generation = this.#generation;
    const read = this.#read().then((status) => {
      // A read that started before an action is not its result.
      if (generation === this.#generation) {
        this.#latest = { at: Date.now(), status };
      }
      this.#record(status);
      return status;
    }).finally(() => {
      if (this.#inFlight === read) this.#inFlight = undefined;
    });
    this.#inFlight = read;
    return read;
  }

  /** Forget the latest read (something changed): the next one is fresh. */
  invalidate(): void {
    this.#generation++;
    this.#latest = undefined;
    this.#inFlight = undefined;
  }

  /** Start sampling every `every` ms (no-op when running). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stop sampling; resolves once a sample in flight settled. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight?.catch(() => {});
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(async () => {
      try {
        await this.current(0);
      } catch (error) {
        if (this.#running) this.#options.onError(error);
      }
      if (this.#running) this.#schedule(this.#options.every);
    }, ms);
  }

  #record(status: Status): void {
    const t = Date.parse(status.time) || Date.now();
    const last = this.#samples.at(-1);
    // Reads for pages come between timer samples: keep the charts even.
    if (last !== undefined && t - last.t < this.#options.every / 2) return;
    const seq = new Map(status.events.map((e) => [e.name, e.lastSequence]));
    this.#samples.push({
      t,
      actors: new Map(status.actors.map((a) => [
        actorKey(a.event, a.name),
        {
          pending: a.pending,
          ackPending: a.ackPending,
          lastSequence: seq.get(a.event) ?? 0,
        },
      ])),
      events: seq,
    });
    const oldest = t - this.#options.keep;
    while (this.#samples.length > 0 && this.#samples[0]!.t < oldest) {
      this.#samples.shift();
    }
  }

  /** Samples held. */
  get size(): number {
    return this.#samples.length;
  }

  /** An actor's lag (`pending`) over time. */
  lag(key: string): Point[] {
    const out: Point[] = [];
    for (const s of this.#samples) {
      const p = s.actors.get(key);
      if (p !== undefined) out.push({ t: s.t, v: p.pending });
    }
    return out;
  }

  /**
   * An actor's acknowledgements per second between samples: what the
   * stream gained minus what is still pending or unacknowledged.
   */
  acked(key: string): Point[] {
    return this.#rates((s) => {
      const p = s.actors.get(key);
      return p === undefined
        ? undefined
        : p.lastSequence - p.pending - p.ackPending;
    });
  }

  /** An event's emits (stored messages) per second between samples. */
  emitted(event: string): Point[] {
    return this.#rates((s) => s.events.get(event));
  }

  #rates(value: (s: Sample) => number | undefined): Point[] {
    const out: Point[] = [];
    let prev: { t: number; v: number } | undefined;
    for (const s of this.#samples) {
      const v = value(s);
      if (v === undefined) {
        prev = undefined;
        continue;
      }
      if (prev !== undefined && s.t > prev.t) {
        // A consumer or stream re-created counts from zero again: no negatives.
        out.push({
          t: s.t,
          v: Math.max(0, (v - prev.v) / ((s.t - prev.t) / 1000)),
        });
      }
      prev = { t: s.t, v };
    }
    return out;
  }
}
