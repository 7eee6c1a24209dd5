import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import process from "node:process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Actors } from "../mod.ts";
import { packOrder } from "../examples/demo/events.ts";
import { NatsServer, waitFor } from "./_helpers.ts";
import { runtimeArgs, type Script } from "./_process.ts";

const demo = new URL("../examples/demo/main.ts", import.meta.url);
const publisher = new URL("../examples/demo/publisher.ts", import.meta.url);

// Like a terminal does: the script leads a process group of its own, and
// Ctrl-C sends SIGINT to that whole group.
function spawnGroup(
  script: URL,
  env: Record<string, string | undefined>,
): Script {
  const [cmd, argv] = runtimeArgs(fileURLToPath(script));
  const proc = spawn(cmd, argv, {
    stdio: ["ignore", "pipe", "pipe"],
    env,
    detached: true,
  });
  let out = "";
  const decoder = new TextDecoder();
  const collect = (chunk: Uint8Array) => (out += decoder.decode(chunk));
  proc.stdout!.on("data", collect);
  proc.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) =>
    proc.once("close", (code) => resolve(code))
  );
  return { proc, output: () => out, exited };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

test("the demo starts its own nats-server, shares work across two subscribers, and exits 0 on Ctrl-C to its process group", async () => {
  // Nothing answers on port 1: the demo must start its own server.
  const run = spawnGroup(demo, {
    ...process.env,
    NATS_URL: "nats://127.0.0.1:1",
  });
  try {
    await waitFor(
      () =>
        /\[subscriber-1\] packed/.test(run.output()) &&
        /\[subscriber-2\] packed/.test(run.output()),
      {
        timeout: 60_000,
        what: () => `both subscribers to pack orders:\n${run.output()}`,
      },
    );
  } finally {
    // The whole group, as the terminal does on Ctrl-C.
    process.kill(-run.proc.pid!, "SIGINT");
  }
  const code = await run.exited;
  const out = run.output();
  // Deno reports a child it sent a signal to as killed (code null) even when
  // the child exited 0; the demo's last line tells how it ended.
  if (code === null && "Deno" in globalThis) {
    assert.match(out, /\[demo\] done\n?$/, out);
  } else {
    assert.equal(code, 0, out);
  }
  const started = out.match(
    /nats-server running at nats:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)\)/,
  );
  const port = Number(started?.[1]);
  const pid = Number(started?.[2]);
  assert.ok(port > 0 && pid > 0, out);
  assert.match(out, /local nats-server stopped/);
  assert.doesNotMatch(out, /exited with/, out);
  assert.equal(await listening(port), false, "no stray nats-server is left");
  assert.equal(alive(pid), false, `nats-server ${pid} is gone`);
  const one = Number(out.match(/\[subscriber-1\] stopped: (\d+) packed/)?.[1]);
  const two = Number(out.match(/\[subscriber-2\] stopped: (\d+) packed/)?.[1]);
  assert.ok(one > 0 && two > 0, `work was shared: ${one} and ${two}`);
});

test("the demo publisher uses unique uids per run and reports the duplicates the stream sees", async () => {
  await using server = await NatsServer.start();
  {
    await using sub = await new Actors(packOrder("test")).connect(server.url);
    await sub.register({ events: true });
  }
  const runPublisher = async (runId?: string): Promise<string> => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NATS_URL: server.url,
    };
    delete env.DEMO_RUN_ID;
    if (runId !== undefined) env.DEMO_RUN_ID = runId;
    const run = spawnGroup(publisher, env);
    try {
      await waitFor(() => /order #3 /.test(run.output()), {
        timeout: 30_000,
        what: () => `three orders:\n${run.output()}`,
      });
    } finally {
      run.proc.kill("SIGTERM");
    }
    await run.exited;
    return run.output();
  };
  // Two runs in a row: each stores all of its orders.
  for (let i = 0; i < 2; i++) {
    const out = await runPublisher();
    assert.match(out, /stopped after \d+ orders, 0 duplicate\(s\)/, out);
    assert.doesNotMatch(out, /DUPLICATE/, out);
  }
  // The same run id twice: the second run's orders are duplicates, and
  // the demo says so instead of printing a normal-looking run.
  await runPublisher("fixed");
  const again = await runPublisher("fixed");
  assert.match(again, /order #1 is a DUPLICATE/, again);
  assert.doesNotMatch(again, /stopped after \d+ orders, 0 duplicate/, again);
});
