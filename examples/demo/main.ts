// deno-lint-ignore-file no-console -- a program: printing is its job
// `deno task demo`: one publisher and two subscribers sharing the work.
// Uses NATS at NATS_URL (default nats://127.0.0.1:4222); if nothing answers
// there, starts a local nats-server for the demo and stops it on exit.
// Ctrl-C stops everything cleanly: the server runs in its own process group,
// so the terminal's SIGINT reaches only the demo, which drains the
// subscribers first and stops the server last. On your own server the demo
// removes its streams when it stops.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Actors, Events } from "@walnats/walnats";
import { NatsServer } from "@walnats/walnats/testing";
import { answers, removeStreams } from "../_cleanup.ts";
import { ORDER_PLACED, packOrder } from "./events.ts";

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// Run child scripts with the runtime running this one.
function runtimeArgs(script: string): [string, string[]] {
  if ("Deno" in globalThis) return [process.execPath, ["run", "-A", script]];
  if ("Bun" in globalThis) return [process.execPath, ["run", script]];
  return [process.execPath, ["--import", "tsx", script]];
}

const url = (process.env.NATS_URL ?? "nats://127.0.0.1:4222").split(",")[0]!
  .trim();
let server: NatsServer | undefined;
let natsUrl = url;
if (await answers(url)) {
  console.log(`[demo] using NATS at ${url}`);
} else {
  console.log(`[demo] nothing answers at ${url}; starting a local nats-server`);
  server = await NatsServer.start({ detached: true });
  natsUrl = server.url;
  console.log(`[demo] nats-server running at ${natsUrl} (pid ${server.pid})`);
}

// The stream and the consumer before anything is emitted: with interest
// retention an order emitted while no consumer exists would be discarded.
{
  await using sub = await new Actors(packOrder("demo")).connect(natsUrl);
  await sub.register({ events: true });
}

const children: ChildProcess[] = [];
function start(script: string, ...args: string[]): Promise<number> {
  const [cmd, argv] = runtimeArgs(here(script));
  const child = spawn(cmd, [...argv, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NATS_URL: natsUrl },
    // Own process group: the demo forwards Ctrl-C itself, once.
    detached: true,
  });
  children.push(child);
  // Each process prints "stopped" last when it shut down cleanly. (Deno
  // reports a child we sent SIGTERM to as killed even when it exited 0.)
  let stoppedCleanly = false;
  child.stdout?.on("data", (chunk: Uint8Array) => {
    const text = new TextDecoder().decode(chunk);
    if (/\] stopped/.test(text)) stoppedCleanly = true;
    process.stdout.write(text);
  });
  return new Promise((resolve) =>
    child.once("close", (code, signal) => {
      const ok = code === 0 || (signal !== null && stoppedCleanly);
      if (!ok) console.log(`[demo] ${script} exited with ${code ?? signal}`);
      resolve(ok ? 0 : 1);
    })
  );
}

let stopping = false;
const stopAll = () => {
  if (stopping) return;
  stopping = true;
  console.log("\n[demo] stopping: subscribers drain, then exit");
  for (const child of children) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
};
process.on("SIGINT", stopAll);
process.on("SIGTERM", stopAll);

console.log("[demo] starting 2 subscribers and 1 publisher; Ctrl-C to stop");
const exits = [
  start("./subscriber.ts", "subscriber-1"),
  start("./subscriber.ts", "subscriber-2"),
];
// Give subscribers a head start so both share the work from the first order.
await new Promise((resolve) => setTimeout(resolve, 500));
if (!stopping) exits.push(start("./publisher.ts"));
const codes = await Promise.all(exits);
if (server !== undefined) {
  await server.close();
  console.log("[demo] local nats-server stopped");
} else {
  // Leave nothing behind on the user's server.
  await using pub = await new Events(ORDER_PLACED).connect(natsUrl);
  await removeStreams(pub.nc, ORDER_PLACED);
}
const failed = codes.some((code) => code !== 0);
console.log(failed ? `[demo] a process failed: ${codes}` : "[demo] done");
process.exit(failed ? 1 : 0);
