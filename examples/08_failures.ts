// deno-lint-ignore-file no-console -- a program: printing is its job
// 08: failures, steered by the handler.
//
//   npx deno run -A examples/08_failures.ts    (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
//
// Four charges: one succeeds, one is rate-limited once (RetryError with the
// delay the API asked for), one is invalid for good (PermanentError: dead-
// lettered at once), one fails twice then succeeds on a capped, jittered
// exponential backoff. Then the dead letter is replayed to this actor alone.
import * as v from "valibot";
import {
  Actor,
  Actors,
  Event,
  Events,
  exponentialBackoff,
  PermanentError,
  RetryError,
  silentLogger,
} from "@walnats/walnats";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

const CHARGE = new Event(
  "example-charge",
  v.object({ id: v.number(), cents: v.number() }),
);

let fixed = false;
const CHARGE_CARD = new Actor("example-charge-card", CHARGE, (charge, ctx) => {
  if (charge.cents < 0 && !fixed) {
    throw new PermanentError(`charge ${charge.id}: negative amount`);
  }
  if (charge.id === 2 && ctx.attempt === 1) {
    throw new RetryError("429 Too Many Requests", { delay: 200 });
  }
  if (charge.id === 3 && ctx.attempt < 3) {
    throw new Error("card network timeout");
  }
  console.log(`charge ${charge.id} done on attempt ${ctx.attempt}`);
}, {
  maxAttempts: 4,
  retryDelay: exponentialBackoff({ base: 100, max: 1_000 }),
});

const { url, server } = await exampleNats();
try {
  await using sub = await new Actors(CHARGE_CARD).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [CHARGE_CARD],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await using pub = await new Events(CHARGE).connect(url);
  await pub.register();

  await pub.emit(CHARGE, { id: 1, cents: 500 });
  await pub.emit(CHARGE, { id: 2, cents: 700 });
  await pub.emit(CHARGE, { id: 3, cents: 900 });
  await pub.emit(CHARGE, { id: 4, cents: -100 });

  // Listen until all four are acked or dead-lettered.
  const stop = new AbortController();
  const listening = sub.listen({
    signal: stop.signal,
    pollDelay: 200,
    logger: silentLogger,
  });
  for (;;) {
    const dead = await sub.deadLetters(CHARGE_CARD);
    const done = await sub.js.jetstreamManager().then((jsm) =>
      jsm.consumers.info(CHARGE.stream, CHARGE_CARD.consumer)
    );
    if (
      dead.length === 1 && done.num_pending === 0 &&
      done.num_ack_pending === 0
    ) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  stop.abort();
  const report = await listening;
  console.log(
    `succeeded ${report.succeeded}, retried ${report.retried}, dead-lettered ${report.deadLettered}`,
  );

  const [letter] = await sub.deadLetters(CHARGE_CARD);
  console.log(`dead letter: ${letter!.reason}, ${letter!.error}`);
  fixed = true; // the bug is fixed: replay it to this actor alone
  await sub.replay(CHARGE_CARD);
  const again = await sub.listen({ burst: true, logger: silentLogger });
  console.log(`replayed and succeeded ${again.succeeded}`);
} finally {
  await server?.close();
}
