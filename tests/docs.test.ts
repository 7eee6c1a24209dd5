// Every ```ts block of README.md and docs/*.md: extracted to .tmp/docs/,
// type-checked in one `deno check` (on the Deno run), and, unless marked
// `no-run`, run as a process of the current runtime against a server of its
// own, exiting 0. Conventions: docs/README.md.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { pathToFileURL } from "node:url";
import { assertNoLeaks, NatsServer } from "@walnats/walnats/testing";
import { currentRuntime, type Script, spawnScript } from "./_process.ts";
import {
  collectSnippets,
  mapToPages,
  writeSnippets,
} from "../tools/_doc_snippets.ts";

/** How long one block may run before it is killed and fails. */
const RUN_TIMEOUT = 60_000;

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = join(root, ".tmp", "docs");
const { snippets, problems } = collectSnippets(root);
const files = writeSnippets(snippets, dir);
// Files of blocks that no longer exist would only confuse a reader of .tmp.
const written = new Set(files.map((f) => f.path));
for (const name of readdirSync(dir)) {
  const path = join(dir, name);
  if (name.endsWith(".ts") && !written.has(path)) rmSync(path, { force: true });
}

afterEach(() => assertNoLeaks());

test("every ts block in the docs is marked run, no-run or ignore with a reason", () => {
  assert.ok(snippets.length > 0, "no ts blocks found in README.md and docs/");
  assert.deepEqual(
    problems.map((p) => `${p.page}:${p.line}: ${p.message}`),
    [],
  );
});

if (currentRuntime().name === "deno") {
  // Type-checking is the same on every runtime, so it happens once.
  test("every ts block in the docs type-checks (one deno check)", {
    timeout: 300_000,
  }, async () => {
    const out = await new Promise<{ code: number | null; text: string }>(
      (resolve) => {
        const proc = spawn(
          process.execPath,
          ["check", "--quiet", ...files.map((f) => f.path)],
          { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: noColor() },
        );
        let text = "";
        proc.stdout.on("data", (c: Uint8Array) => (text += String(c)));
        proc.stderr.on("data", (c: Uint8Array) => (text += String(c)));
        proc.once("close", (code) => resolve({ code, text }));
      },
    );
    assert.equal(
      out.code,
      0,
      `ts blocks of the docs do not type-check:\n${
        mapToPages(out.text, files, root)
      }`,
    );
  });
}

for (const file of files) {
  const { snippet } = file;
  if (snippet.mode !== "run") continue;
  test(
    `${snippet.page} block ${snippet.index} (line ${snippet.line}) runs and exits 0`,
    {
      timeout: RUN_TIMEOUT + 30_000,
    },
    async () => {
      await using server = await NatsServer.start();
      const env = noColor();
      env.NATS_URL = server.url;
      const script = TEST_FILE.test(snippet.code)
        ? spawnTestFile(file.path, env)
        : spawnScript(pathToFileURL(file.path), env);
      let killed = false;
      const killer = setTimeout(() => {
        killed = true;
        script.proc.kill("SIGKILL");
      }, RUN_TIMEOUT);
      try {
        const code = await script.exited;
        assert.equal(
          code,
          0,
          `${snippet.page} block ${snippet.index} (line ${snippet.line}) ${
            killed ? `was killed after ${RUN_TIMEOUT} ms` : `exited ${code}`
          }; output:\n${mapToPages(script.output(), [file], root)}`,
        );
      } finally {
        clearTimeout(killer);
      }
    },
  );
}

// A block that imports node:test is a test file: it runs under the runtime's
// test runner (Bun refuses test() outside `bun test`).
const TEST_FILE = /from\s+["']node:test["']/;

function spawnTestFile(
  path: string,
  env: Record<string, string | undefined>,
): Script {
  const runtime = currentRuntime().name;
  const argv = runtime === "deno"
    ? ["test", "-A", "--no-check", path]
    : runtime === "bun"
    ? ["test", "--timeout", String(RUN_TIMEOUT), path]
    : ["--import", "tsx", "--test", path];
  const proc = spawn(process.execPath, argv, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  const collect = (
    chunk: Uint8Array,
  ) => (out += new TextDecoder().decode(chunk));
  proc.stdout.on("data", collect);
  proc.stderr.on("data", collect);
  const exited = new Promise<number | null>((resolve) =>
    proc.once("close", (code) => resolve(code))
  );
  return { proc, output: () => out, exited };
}

function noColor(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: "1",
  };
  delete env.NATS_URL;
  return env;
}
