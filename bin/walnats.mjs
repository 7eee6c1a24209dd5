#!/usr/bin/env node
// deno-lint-ignore-file no-console -- a program: printing is its job
// The `walnats` command of the npm package. The CLI is TypeScript
// (src/cli/main.ts): Deno and Bun run it as it is; Node needs tsx (or a
// Node with type stripping, 22.18 / 23.6 and later).
//
//   npx walnats status              Node: the package and tsx installed
//   bunx walnats status             Bun
//   deno run -A npm:...  /  npx deno run -A jsr:@walnats/walnats/cli status
const entry = new URL("../src/cli/main.ts", import.meta.url);
const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);

if (isNode) {
  let registered = false;
  try {
    const { register } = await import("tsx/esm/api");
    register();
    registered = true;
  } catch {
    // tsx is not installed: fall back to Node's own type stripping.
  }
  if (!registered && globalThis.process?.features?.typescript === undefined) {
    console.error(
      "walnats: running the CLI on Node needs tsx (npm install --save-dev tsx) " +
        "or Node 22.18 or later; or run it with Deno: npx deno run -A jsr:@walnats/walnats/cli",
    );
    globalThis.process.exit(1);
  }
}

const { run } = await import(entry.href);
await run(globalThis.process?.argv.slice(2) ?? []);
