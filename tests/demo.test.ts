import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import process from "node:process";
import { waitFor } from "./_helpers.ts";
import { spawnScript } from "./_process.ts";

const demo = new URL("../examples/demo/main.ts", import.meta.url);

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

test("the demo starts its own nats-server, shares work across two subscribers, and exits 0 on SIGINT", async () => {
  // Nothing answers on port 1: the demo must start its own server.
  const run = spawnScript(demo, {
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
    run.proc.kill("SIGINT");
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
  const port = Number(
    out.match(/nats-server running at nats:\/\/127\.0\.0\.1:(\d+)/)?.[1],
  );
  assert.ok(port > 0, out);
  assert.match(out, /local nats-server stopped/);
  assert.equal(await listening(port), false, "no stray nats-server is left");
  const one = Number(out.match(/\[subscriber-1\] stopped: (\d+) packed/)?.[1]);
  const two = Number(out.match(/\[subscriber-2\] stopped: (\d+) packed/)?.[1]);
  assert.ok(one > 0 && two > 0, `work was shared: ${one} and ${two}`);
});
