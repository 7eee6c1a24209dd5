// deno-lint-ignore-file no-console -- a program: printing is its job
// 11: decorators: flow control around a handler.
//
//   npx deno run -A examples/11_decorators.ts  (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
//
// One actor sends text messages: at most 2 start in any 300 ms
// (rateLimit), a deleted user counts as done (suppress), and nothing runs
// until the SMS gateway is up (requireReady). See docs/decorators.md.
import * as v from "valibot";
import { Actor, Actors, Event, Events, silentLogger } from "@walnats/walnats";
import { rateLimit, requireReady, suppress } from "@walnats/walnats/decorators";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

class NotFoundError extends Error {}

const SMS_REQUESTED = new Event(
  "example-sms-requested",
  v.object({ user: v.number(), text: v.string() }),
);
const PHONES = new Map([[1, "+100"], [2, "+200"], [4, "+400"], [5, "+500"]]);
const gateway = { up: false };
const started = performance.now();

const SEND_SMS = new Actor(
  "example-send-sms",
  SMS_REQUESTED,
  suppress({ log: false }, NotFoundError)(
    requireReady(() => gateway.up, { pause: 50 })(
      rateLimit(2, 300)(({ user, text }) => {
        const phone = PHONES.get(user);
        if (phone === undefined) throw new NotFoundError(`no user ${user}`);
        const at = Math.round(performance.now() - started);
        console.log(`sent "${text}" to ${phone}`);
        return at;
      }),
    ),
  ),
);

const { url, server } = await exampleNats();
try {
  await using pub = await new Events(SMS_REQUESTED).connect(url);
  await using sub = await new Actors(SEND_SMS).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [SEND_SMS],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await pub.register(); // the event has an actor now
  await pub.emitMany(
    SMS_REQUESTED,
    [1, 2, 3, 4, 5].map((user) => ({ user, text: `code ${user}` })),
  );
  setTimeout(() => {
    gateway.up = true;
    console.log("gateway up");
  }, 200);
  const report = await sub.listen({
    burst: true,
    batch: 5,
    logger: silentLogger,
  });
  const took = performance.now() - started;
  console.log(
    `done: ${report.succeeded} succeeded, ${report.failed} failed, ` +
      `rate-limited over ${took >= 800 ? "at least" : "under"} 800 ms`,
  );
} finally {
  await server?.close();
}
