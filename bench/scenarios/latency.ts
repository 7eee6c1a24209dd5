// Latency: emit, then wait for the handler to start; sequential samples.
import { jetstream } from "@nats-io/jetstream";
import { Actors, Events, silentLogger } from "../../mod.ts";
import {
  type BenchContext,
  type Deferred,
  deferred,
  encoder,
  fresh,
  payload,
  rawConnect,
  type Side,
  type User,
} from "./_common.ts";

/** Milliseconds from emit to the handler's first line, one per sample. */
export async function latency(
  ctx: BenchContext,
  side: Side,
  n: number,
): Promise<number[]> {
  let arrived: Deferred<number> = deferred();
  const handler = (_message: User): void => {
    arrived.resolve(performance.now());
  };
  await using f = await fresh(ctx, "lat", handler);
  const warmup = ctx.quick ? 20 : 100;
  const samples: number[] = [];
  const loop = async (emit: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < warmup + n; i++) {
      arrived = deferred();
      const start = performance.now();
      await emit(i);
      const at = await arrived.promise;
      if (i >= warmup) samples.push(at - start);
    }
  };
  if (side === "ours") {
    await using pub = await new Events(f.event).connect(ctx.url);
    await using sub = await new Actors(f.actor).connect(ctx.url);
    const stop = new AbortController();
    const listening = sub.listen({ signal: stop.signal, logger: silentLogger });
    try {
      await loop((i) => pub.emit(f.event, payload(i)));
    } finally {
      stop.abort();
      await listening;
    }
    return samples;
  }
  // Publisher and consumer on separate connections, as ours (and as they
  // are in real deployments: a shared socket would batch the pub ack and the
  // delivery into one read).
  const nc = await rawConnect(ctx.url);
  const pubNc = await rawConnect(ctx.url);
  try {
    const js = jetstream(nc);
    const pubJs = jetstream(pubNc);
    const consumer = await js.consumers.get(f.event.stream, f.actor.consumer);
    const messages = await consumer.consume();
    const consuming = (async () => {
      for await (const m of messages) {
        const message = m.json<User>();
        handler(message);
        m.ack();
      }
    })();
    const subject = f.event.subject;
    try {
      await loop((i) =>
        pubJs.publish(subject, encoder.encode(JSON.stringify(payload(i))))
      );
    } finally {
      await messages.close();
      await consuming;
    }
    return samples;
  } finally {
    await pubNc.close();
    await nc.close();
  }
}
