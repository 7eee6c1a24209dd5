// examples/06_workers.ts runs on every runtime, prints what it promises, and
// exits by itself (its worker pool leaves nothing running).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Child } from "./_process.ts";

test("examples/06_workers.ts replies from a worker and retries a runaway handler", async () => {
  await using child = new Child("../../examples/06_workers.ts");
  await child.exited;
  const out = child.lines.join("\n");
  assert.equal(child.proc.exitCode, 0, out);
  assert.ok(
    child.has(/^checksum of walnut\.png: [0-9a-f]{8}$/),
    out,
  );
  assert.ok(child.has("runaway: attempt 2 finished"), out);
  assert.ok(child.has("succeeded 2, failed 1"), out);
});
