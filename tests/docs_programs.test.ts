// The multi-file programs of the docs, run as files side by side (the docs
// harness, tests/docs.test.ts, runs every block on its own): the first event
// of getting-started.md, and deployment.md's register step run by two
// processes at once.
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

test("docs/getting-started.md: the worker handles the three orders emit.ts emits, and stops on Ctrl-C", async () => {
  await using server = await NatsServer.start();
  const list = await snippets("docs/getting-started.md");
  assert.deepEqual(
    list.map((s) => s.file).sort(),
    ["emit.ts", "events.ts", "kept.ts", "worker.ts"],
  );
  await using files = await writeSnippets(list);
  const kept = run(files.path("kept.ts"), server.url);
  assert.equal(await kept.exited, 0, kept.output());
  const worker = run(files.path("worker.ts"), server.url);
  try {
    await waitFor(() => worker.output().includes("worker listening"), {
      timeout: 30_000,
      what: () => `the worker to listen:\n${worker.output()}`,
    });
    assert.match(worker.output(), /consumers created: pack-order/);
    const emit = run(files.path("emit.ts"), server.url);
    assert.equal(await emit.exited, 0, emit.output());
    assert.match(emit.output(), /order 3 stored as #3/);
    assert.doesNotMatch(emit.output(), /no actor yet/);
    await waitFor(
      () => (worker.output().match(/packing order \d/g) ?? []).length === 3,
      {
        timeout: 30_000,
        what: () => `three orders packed:\n${worker.output()}`,
      },
    );
  } finally {
    worker.proc.kill("SIGINT");
  }
  await worker.exited;
  assert.match(worker.output(), /worker stopped: 3 packed, 0 failed/);
});

test("docs/deployment.md: two processes run the register step at once, the other snippets run, cleanup removes the streams", async () => {
  await using server = await NatsServer.start();
  const list = await snippets("docs/deployment.md");
  assert.deepEqual(
    list.map((s) => s.file).sort(),
    [
      "cleanup.ts",
      "config.ts",
      "drain.ts",
      "logs.ts",
      "main.ts",
      "register.ts",
      "replicas.ts",
      "secure.ts",
    ],
  );
  // drain.ts and replicas.ts run on their own in tests/docs.test.ts;
  // main.ts (a worker's entry point) is no-run.
  await using files = await writeSnippets(list);
  // Two instances deploying at the same moment.
  const both = [
    run(files.path("register.ts"), server.url),
    run(files.path("register.ts"), server.url),
  ];
  const outputs: string[] = [];
  for (const r of both) {
    assert.equal(await r.exited, 0, r.output());
    outputs.push(r.output());
  }
  for (const out of outputs) {
    assert.doesNotMatch(out, /no actor yet/, out);
    const report = JSON.parse(out.trim().split("\n").pop()!);
    assert.deepEqual(report.streams.skipped, []);
  }
  for (const file of ["config.ts", "secure.ts", "logs.ts"]) {
    const r = run(files.path(file), server.url);
    assert.equal(await r.exited, 0, `${file}:\n${r.output()}`);
  }
  const cleanup = run(files.path("cleanup.ts"), server.url);
  assert.equal(await cleanup.exited, 0, cleanup.output());
  assert.match(cleanup.output(), /^user-registered: deleted$/m);
  assert.match(cleanup.output(), /^walnats_dlq_user-registered: deleted$/m);
});

test("the multi-file program of getting-started.md type-checks (deno check, strict)", async (t) => {
  if (!("Deno" in globalThis)) {
    t.skip("type-checked once, from the Deno run");
    return;
  }
  // One check of all pages, in folders that keep their names from run to
  // run, so Deno's type-check cache makes repeated runs cheap.
  const paths: string[] = [];
  const dirs: AsyncDisposable[] = [];
  try {
    for (
      const [page, section, name] of [
        ["docs/getting-started.md", undefined, "getting-started"],
      ] as const
    ) {
      const list = await snippets(page, section);
      const files = await writeSnippets(list, `check-${name}`);
      dirs.push(files);
      paths.push(...list.map((s) => files.path(s.file)));
    }
    const check = spawn(process.execPath, ["check", ...paths], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const collect = (c: Uint8Array) => (out += new TextDecoder().decode(c));
    check.stdout!.on("data", collect);
    check.stderr!.on("data", collect);
    const code = await new Promise<number | null>((resolve) =>
      check.once("close", (c) => resolve(c))
    );
    assert.equal(code, 0, out);
  } finally {
    for (const d of dirs) await d[Symbol.asyncDispose]();
  }
});
