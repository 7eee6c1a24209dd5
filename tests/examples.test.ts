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

test("examples/07_testing_with_memory_broker.ts dead-letters after two virtual minutes of retries", async () => {
  const lines = await run("07_testing_with_memory_broker.ts");
  assert.ok(lines.includes("attempts: 1, 2, 3"), lines.join("\n"));
  assert.ok(
    lines.includes(
      "dead letter: exhausted after 3 attempts: Error: carrier down",
    ),
    lines.join("\n"),
  );
  assert.ok(
    lines.includes("consumer: delivered 3, ack pending 0, pending 0"),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => l.startsWith("virtual time: 122 s")),
    lines.join("\n"),
  );
});
