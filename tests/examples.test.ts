// Every numbered example runs and prints what it promises.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Child } from "./_process.ts";

async function run(example: string): Promise<string[]> {
  await using child = new Child(`../../examples/${example}`);
  await child.exited;
  assert.equal(
    child.proc.exitCode,
    0,
    `${example} failed:\n${child.lines.join("\n")}`,
  );
  return child.lines;
}

test("examples/01_hello.ts handles the three greetings it emits", async () => {
  const lines = await run("01_hello.ts");
  assert.ok(lines.includes("handled 3 greetings"), lines.join("\n"));
  for (const to of ["Ann", "Bob", "Cid"]) {
    assert.ok(lines.some((l) => l.endsWith(`Hello, ${to}!`)), lines.join("\n"));
  }
});

test("examples/02_request.ts gets the actor's reply", async () => {
  const lines = await run("02_request.ts");
  assert.ok(lines.includes("12 walnuts cost 3"), lines.join("\n"));
});

test("examples/08_failures.ts retries, dead-letters the permanent failure and replays it", async () => {
  const lines = await run("08_failures.ts");
  const out = lines.join("\n");
  assert.ok(lines.includes("charge 2 done on attempt 2"), out);
  assert.ok(lines.includes("charge 3 done on attempt 3"), out);
  assert.ok(lines.includes("succeeded 3, retried 3, dead-lettered 1"), out);
  assert.ok(
    lines.includes(
      "dead letter: permanent, PermanentError: charge 4: negative amount",
    ),
    out,
  );
  assert.ok(lines.includes("replayed and succeeded 1"), out);
});
