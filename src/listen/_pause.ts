// The cluster-wide pause, as one listener honours it: the KV bucket
// `walnats_paused` is read once a second and each actor's puller is paused
// or resumed to match (see docs/delays-and-schedules.md).
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "../log.ts";
import { pausedMap } from "../ops/pause.ts";
import { pause } from "../_async.ts";
import type { Timers } from "../_timers.ts";

/** Milliseconds between reads of the bucket. */
export const PAUSE_POLL = 1000;

/** What the watch pauses: an actor's puller. */
export interface Pausable {
  readonly actor: { readonly name: string };
  setPaused(paused: boolean): void;
}

/** Reads the paused actors once a second and applies them. */
export class PauseWatch {
  readonly #jsm: JetStreamManager;
  readonly #targets: readonly Pausable[];
  readonly #timers: Timers;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #failing = false;

  constructor(
    jsm: JetStreamManager,
    targets: readonly Pausable[],
    timers: Timers,
    logger: Logger,
  ) {
    this.#jsm = jsm;
    this.#targets = targets;
    this.#timers = timers;
    this.#logger = logger;
  }

  /**
   * Read the bucket once and apply it; on failure nothing changes (a
   * listener that cannot read the bucket keeps its last state).
   */
  async check(): Promise<void> {
    let paused: Map<string, string>;
    try {
      paused = await pausedMap(this.#jsm);
    } catch (error) {
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.warn(
          "could not read paused actors; keeping the last state",
          {
            error,
          },
        );
      }
      return;
    }
    this.#failing = false;
    for (const target of this.#targets) {
      const now = paused.has(target.actor.name);
      target.setPaused(now);
    }
  }

  /** Check once a second until {@linkcode PauseWatch.stop}. */
  start(): void {
    this.#loop ??= (async () => {
      const signal = this.#stop.signal;
      while (!signal.aborted) {
        await pause(PAUSE_POLL, this.#timers, signal);
        if (signal.aborted) break;
        await this.check();
      }
    })();
  }

  /** Stop checking. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}
