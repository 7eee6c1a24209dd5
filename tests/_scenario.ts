// A small system in a known state for the operations tests: two events,
// three actors, some lag, one message unacknowledged and redelivered, a
// waiting pull, and a dead letter.
//
//   shop.order-placed  (3 messages)  bill-order: all handled, #1 dead-lettered
//                                    pack-order: nothing handled (lag 3)
//   shop.order-shipped (2 messages)  notify-customer: #1 delivered twice, not
//                                    acked (ack pending 1, redelivered 1, lag 1)
//   bill-order has one pull request waiting (num_waiting 1)
import * as v from "valibot";
import { jetstream } from "@nats-io/jetstream";
import {
  createInbox,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import {
  Actor,
  Actors,
  Event,
  Events,
  type Publisher,
  silentLogger,
  type Subscriber,
} from "../mod.ts";
import {
  consumerInfo,
  type NatsServer,
  rawConnect,
  waitFor,
} from "./_helpers.ts";

export const PLACED = new Event(
  "shop.order-placed",
  v.object({ n: v.number() }),
);
export const SHIPPED = new Event(
  "shop.order-shipped",
  v.object({ n: v.number() }),
);
export const BILL = new Actor("bill-order", PLACED, ({ n }) => {
  if (n === 1) throw new Error("card declined");
}, { maxAttempts: 1 });
export const PACK = new Actor("pack-order", PLACED, () => {});
// maxAckPending 1: after the nak, the only message it can be given is the
// same one again.
export const NOTIFY = new Actor("notify-customer", SHIPPED, () => {}, {
  ackWait: 120_000,
  maxAckPending: 1,
});

export interface Scenario extends AsyncDisposable {
  pub: Publisher;
  sub: Subscriber;
  /** A raw connection holding the unacked message and the waiting pull. */
  nc: NatsConnection;
}

export async function scenario(server: NatsServer): Promise<Scenario> {
  const pub = await new Events(PLACED, SHIPPED).connect(server.url);
  const sub = await new Actors(BILL, PACK, NOTIFY).connect(server.url);
  const nc = await rawConnect(server);
  let waiting: Subscription | undefined;
  const dispose = async () => {
    waiting?.unsubscribe();
    await nc.close();
    await sub.close();
    await pub.close();
  };
  try {
    await pub.register();
    await sub.register();
    for (const n of [1, 2, 3]) await pub.emit(PLACED, { n });
    for (const n of [1, 2]) await pub.emit(SHIPPED, { n });
    {
      await using billing = await new Actors(BILL).connect(server.url);
      const report = await billing.listen({
        burst: true,
        batch: 10,
        logger: silentLogger,
      });
      if (report.succeeded !== 2 || report.deadLettered !== 1) {
        throw new Error(`unexpected billing run: ${JSON.stringify(report)}`);
      }
    }
    const js = jetstream(nc);
    const notify = await js.consumers.get(SHIPPED.stream, NOTIFY.name);
    const first = await notify.next({ expires: 5000 });
    if (first === null) throw new Error("notify-customer got nothing");
    first.nak();
    const again = await notify.next({ expires: 5000 });
    if (again === null || again.seq !== first.seq) {
      throw new Error("notify-customer did not get its message again");
    }
    // A raw pull request that waits a minute for a message.
    const inbox = createInbox();
    waiting = nc.subscribe(inbox);
    nc.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${PLACED.stream}.${BILL.name}`,
      JSON.stringify({ batch: 1, expires: 60_000_000_000 }),
      { reply: inbox },
    );
    await waitFor(
      async () =>
        (await consumerInfo(nc, PLACED.stream, BILL.name)).num_waiting === 1,
      { what: "bill-order's pull to wait" },
    );
    await waitFor(async () => {
      const info = await consumerInfo(nc, SHIPPED.stream, NOTIFY.name);
      return info.num_ack_pending === 1 && info.num_redelivered === 1;
    }, { what: "notify-customer to have one redelivered unacked message" });
  } catch (error) {
    await dispose();
    throw error;
  }
  return { pub, sub, nc, [Symbol.asyncDispose]: dispose };
}
