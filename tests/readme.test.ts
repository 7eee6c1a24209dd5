// The README's "30 seconds" example works in the order it shows, and the
// wrong order is loud.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { NatsServer, waitFor } from "./_helpers.ts";
import { runtimeArgs, type Script } from "./_process.ts";
import { snippets, writeSnippets } from "./_snippets.ts";

function run(script: string, natsUrl: string): Script {
  const [cmd, argv] = runtimeArgs(script);
  const env = { ...process.env, NATS_URL: natsUrl };
  const proc = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env });
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

async function readmeFiles() {
  const list = await snippets("README.md", "## 30 seconds");
  assert.deepEqual(
    list.map((s) => s.file).sort(),
    ["events.ts", "publisher.ts", "subscriber.ts"],
  );
  return await writeSnippets(list);
}

test("README 30 seconds: subscriber first, then publisher: the message is handled", async () => {
  await using server = await NatsServer.start();
  await using files = await readmeFiles();
  const sub = run(files.path("subscriber.ts"), server.url);
  try {
    await waitFor(() => sub.output().includes("listening; Ctrl-C to stop"), {
      timeout: 30_000,
      what: () => `the subscriber to listen:\n${sub.output()}`,
    });
    const pub = run(files.path("publisher.ts"), server.url);
    assert.equal(await pub.exited, 0, pub.output());
    assert.match(pub.output(), /stored as #1/);
    assert.doesNotMatch(pub.output(), /no actor yet/, pub.output());
    await waitFor(
      () => sub.output().includes("welcome email to Ann (attempt 1)"),
      {
        timeout: 30_000,
        what: () => `the subscriber to handle it:\n${sub.output()}`,
      },
    );
  } finally {
    sub.proc.kill("SIGINT");
  }
  const code = await sub.exited;
  // Deno reports a child it signalled as killed even when it exited 0.
  if (!(code === null && "Deno" in globalThis)) {
    assert.equal(code, 0, sub.output());
  }
});

test("README 30 seconds: publisher first on a fresh server warns that the message is discarded", async () => {
  await using server = await NatsServer.start();
  await using files = await readmeFiles();
  const pub = run(files.path("publisher.ts"), server.url);
  assert.equal(await pub.exited, 0, pub.output());
  assert.match(
    pub.output(),
    /event "user-registered" has no actor yet: .*discarded until an actor registers/,
  );
});
