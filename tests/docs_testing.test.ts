// docs/testing.md: every TypeScript snippet is a test file that passes on
// the runtime running this suite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { currentRuntime } from "./_process.ts";

const doc = readFileSync(
  fileURLToPath(new URL("../docs/testing.md", import.meta.url)),
  "utf8",
);
const snippets = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

function testCommand(file: string): [string, string[]] {
  const runtime = currentRuntime();
  if (runtime.name === "deno") return [process.execPath, ["test", "-A", file]];
  if (runtime.name === "bun") return [process.execPath, ["test", file]];
  return [process.execPath, ["--import", "tsx", "--test", file]];
}

test("docs/testing.md has snippets for both ways of testing", () => {
  assert.equal(snippets.length, 2);
  assert.ok(snippets[0]!.includes("MemoryBroker"));
  assert.ok(snippets[1]!.includes("NatsServer"));
});

snippets.forEach((snippet, i) => {
  test(`docs/testing.md snippet ${i + 1} passes as a test file`, async () => {
    // The snippet imports @walnats/walnats by its published name: a file
    // inside the package resolves it to the package itself.
    const source = snippet;
    const path = fileURLToPath(
      new URL(
        `./fixtures/_doc_testing_${i}_${currentRuntime().name}_${process.pid}.ts`,
        import.meta.url,
      ),
    );
    writeFileSync(path, source);
    try {
      const [cmd, args] = testCommand(path);
      const env = { ...process.env };
      delete env.NATS_URL;
      const child = spawn(cmd, args, {
        stdio: ["ignore", "pipe", "pipe"],
        env,
      });
      let out = "";
      child.stdout!.on(
        "data",
        (c: Uint8Array) => (out += new TextDecoder().decode(c)),
      );
      child.stderr!.on(
        "data",
        (c: Uint8Array) => (out += new TextDecoder().decode(c)),
      );
      const code = await new Promise<number | null>((resolve) =>
        child.once("close", resolve)
      );
      assert.equal(code, 0, out);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
