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

test("examples/05_operations.ts shows lag, probes, metrics and the CLI", async () => {
  const lines = await run("05_operations.ts");
  const text = lines.join("\n");
  assert.ok(
    lines.includes(
      "example-ops-charge: pending=0 ackPending=0 deadLetters=1 config=ok",
    ),
    text,
  );
  assert.ok(
    lines.includes(
      "example-ops-ship: pending=5 ackPending=0 deadLetters=0 config=ok",
    ),
    text,
  );
  assert.ok(lines.includes("GET /healthz -> 200"), text);
  assert.ok(lines.includes("GET /readyz -> 503"), text);
  assert.ok(
    lines.includes(
      'walnats_actor_pending{actor="example-ops-ship",event="example-ops-order"} 5',
    ),
    text,
  );
  assert.ok(
    lines.some((l) =>
      /^#1 .* actor=example-ops-charge reason=exhausted/.test(l)
    ),
    text,
  );
  assert.ok(lines.includes("walnats dead-letters list exited 0"), text);
});
