// deno-lint-ignore-file no-console -- a program: printing is its job
// Demo subscriber: runs the pack-order actor until SIGINT/SIGTERM, then
// drains gracefully. Run several: they share the work.
import process from "node:process";
import { Actors } from "@walnats/walnats";
import { packOrder } from "./events.ts";

const name = process.argv[2] ?? "subscriber";
const stop = new AbortController();
process.on("SIGINT", () => stop.abort());
process.on("SIGTERM", () => stop.abort());

const sub = await new Actors(packOrder(name)).connect(process.env.NATS_URL);
await sub.register();
console.log(`[${name}] listening`);
const report = await sub.listen({ signal: stop.signal, maxJobs: 4 });
await sub.close();
console.log(
  `[${name}] stopped: ${report.succeeded} packed, ${report.failed} failed attempts`,
);
