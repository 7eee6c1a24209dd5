// Where a delayed emit goes: the event's delay stream when it exists (a
// TypeScript listener registered an actor of the event), else the event's
// subject with its `Walnats-Delay` header, as Python walnats sends it (see
// docs/delays-and-schedules.md).
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { AnyEvent } from "../event.ts";
import { delayStream, delaySubject } from "../listen/_delay_stream.ts";

/** Milliseconds a "no delay stream" answer is trusted. */
const RECHECK_MISSING = 5000;

/** A delay stream to publish to. */
export interface DelayTarget {
  subject: string;
  stream: string;
}

/** The publisher's memory of which events have a delay stream. */
export class DelayRoutes {
  readonly #jsm: JetStreamManager;
  readonly #known = new Map<string, DelayTarget>();
  readonly #missing = new Map<string, number>();

  constructor(jsm: JetStreamManager) {
    this.#jsm = jsm;
  }

  /**
   * The delay stream of `event`, or `undefined` to publish to the event's
   * subject. Found once, then remembered; missing, asked again after 5 s.
   */
  async target(event: AnyEvent): Promise<DelayTarget | undefined> {
    const known = this.#known.get(event.stream);
    if (known !== undefined) return known;
    const missingSince = this.#missing.get(event.stream);
    if (
      missingSince !== undefined &&
      performance.now() - missingSince < RECHECK_MISSING
    ) return undefined;
    const stream = delayStream(event.stream);
    try {
      await this.#jsm.streams.info(stream);
    } catch (error) {
      if (
        error instanceof JetStreamApiError &&
        error.code === JetStreamApiCodes.StreamNotFound
      ) {
        this.#missing.set(event.stream, performance.now());
        return undefined;
      }
      // Cannot tell now (no leader): the event's subject always works.
      return undefined;
    }
    const target = { subject: delaySubject(event.stream), stream };
    this.#known.set(event.stream, target);
    this.#missing.delete(event.stream);
    return target;
  }

  /** Forget a delay stream that turned out to be gone. */
  forget(event: AnyEvent): void {
    this.#known.delete(event.stream);
  }
}
