// deno-lint-ignore-file no-console -- a program: printing is its job
// One listener process of the `processes` scenario: connects, prints
// "ready", starts listen() (tuned) on "go" from stdin, stops on "stop".
//
//   deno run -A bench/_listener_child.ts <url> <event> <actor>
import process from "node:process";
import { Actor, Actors, Event, silentLogger } from "../mod.ts";
import { User } from "./scenarios/_common.ts";

const [url, eventName, actorName] = process.argv.slice(-3) as [
  string,
  string,
  string,
];
const event = new Event(eventName, User);
const actor = new Actor(actorName, event, async (_message: User) => {}, {
  maxJobs: 100,
});
const sub = await new Actors(actor).connect(url);
const stop = new AbortController();
let listening: Promise<unknown> | undefined;
let partial = "";
process.stdin.on("data", (chunk: Uint8Array | string) => {
  partial += typeof chunk === "string"
    ? chunk
    : new TextDecoder().decode(chunk);
  const lines = partial.split("\n");
  partial = lines.pop()!;
  for (const line of lines) {
    if (line === "go") {
      listening = sub.listen({
        batch: 100,
        maxJobs: 100,
        signal: stop.signal,
        logger: silentLogger,
      });
    } else if (line === "stop") {
      stop.abort();
      void (async () => {
        await listening;
        await sub.close();
        process.exit(0);
      })();
    }
  }
});
console.log("ready");
