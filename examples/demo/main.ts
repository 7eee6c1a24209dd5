// deno-lint-ignore-file no-console -- a program: printing is its job
// `deno task demo`: one publisher and two subscribers sharing the work.
// Uses NATS at NATS_URL (default nats://127.0.0.1:4222); if nothing answers
// there, starts a local nats-server for the demo and stops it on exit.
// Ctrl-C stops everything cleanly.
import { type ChildProcess, spawn } from "node:child_process";
import { connect as tcpConnect } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Actors, Events } from "@walnats/walnats";
import { NatsServer } from "@walnats/walnats/testing";
import { ORDER_PLACED, packOrder } from "./events.ts";

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url.replace(/^nats:/, "http:"));
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname, port: Number(port || 4222) });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

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
if (await reachable(url)) {
  console.log(`[demo] using NATS at ${url}`);
} else {
  console.log(`[demo] nothing answers at ${url}; starting a local nats-server`);
  server = await NatsServer.start();
  natsUrl = server.url;
  console.log(`[demo] nats-server running at ${natsUrl}`);
}

// Streams first, then consumers: subscribers can start in any order after.
{
  await using pub = await new Events(ORDER_PLACED).connect(natsUrl);
  await pub.register();
  await using sub = await new Actors(packOrder("demo")).connect(natsUrl);
  await sub.register();
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
}
const failed = codes.some((code) => code !== 0);
console.log(failed ? `[demo] a process failed: ${codes}` : "[demo] done");
process.exit(failed ? 1 : 0);
