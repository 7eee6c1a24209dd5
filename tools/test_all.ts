// deno-lint-ignore-file no-console -- a program: printing is its job
// Run the whole suite on Deno, Bun and Node, one after the other, and print
// one summary line: "N passed, N failed" summed over the runtimes.
//
//   deno task test                 all runtimes, all tests
//   deno task test --only=bun      one runtime
//   deno task test tests/x.test.ts some files
import { spawn } from "node:child_process";

type Count = {
  passed: number;
  failed: number;
  ran: boolean;
  /** Names of the failed tests, as the runner printed them. */
  failures: string[];
};

const args = Deno.args.filter((a) => !a.startsWith("--only="));
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7)
  .split(",");
const files = args.length > 0 ? args : undefined;

// deno-lint-ignore no-control-regex
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...Deno.env.toObject(), FORCE_COLOR: "0", NO_COLOR: "1" },
    });
    let out = "";
    const onData = (chunk: Uint8Array) => {
      const text = new TextDecoder().decode(chunk);
      out += text;
      Deno.stdout.writeSync(new TextEncoder().encode(text));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", () => resolve(strip(out)));
    child.on("error", (error) => resolve(`spawn failed: ${error.message}`));
  });
}

const bin = (name: string) => `node_modules/.bin/${name}`;

// COVERAGE=1 (CI sets it): the Deno run records coverage of src/, and a
// summary is printed before the closing line.
const coverageDir = Deno.env.get("COVERAGE") === "1"
  ? ".tmp/coverage"
  : undefined;

async function deno(): Promise<Count> {
  if (coverageDir !== undefined) {
    await Deno.remove(coverageDir, { recursive: true }).catch(() => {});
  }
  const out = await run(bin("deno"), [
    "test",
    "-A",
    "--parallel",
    ...(coverageDir !== undefined ? [`--coverage=${coverageDir}`] : []),
    // Doc examples run too (Deno only): they are part of the docs' promise.
    ...(files ?? ["--doc", "tests/", "mod.ts", "src/"]),
  ]);
  const m = out.match(
    /(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/,
  );
  // The FAILURES section lists "name => ./tests/file.ts:line:col".
  const section = out.split(/^ FAILURES ?$/m)[1] ?? "";
  const failures = [...section.matchAll(/^(.+ => \S+:\d+:\d+)$/gm)]
    .map((f) => f[1]!);
  if (!m) return { passed: 0, failed: 1, ran: false, failures };
  return {
    passed: Number(m[1]),
    failed: Number(m[3]),
    ran: true,
    failures,
  };
}

async function bun(): Promise<Count> {
  const out = await run(bin("bun"), [
    "test",
    "--timeout",
    "120000",
    ...(files ?? ["tests/"]).map((f) => f.startsWith(".") ? f : `./${f}`),
  ]);
  const pass = out.match(/^\s*(\d+) pass/m);
  const fail = out.match(/^\s*(\d+) fail/m);
  const failures = failedBun(out);
  if (!pass && !fail) return { passed: 0, failed: 1, ran: false, failures };
  return {
    passed: Number(pass?.[1] ?? 0),
    failed: Number(fail?.[1] ?? 0),
    ran: true,
    failures,
  };
}

/** Bun prints "file.test.ts:" before a file's results, "(fail) name" per failure. */
function failedBun(out: string): string[] {
  const failures: string[] = [];
  let file = "";
  for (const line of out.split("\n")) {
    const header = line.match(/^(\S+\.test\.ts):$/);
    if (header) file = header[1]!;
    const fail = line.match(/^\(fail\) (.+)$/);
    if (fail) failures.push(`${file}: ${fail[1]}`);
  }
  // Bun repeats the failures in its summary: keep the first (right file).
  const seen = new Set<string>();
  return failures.filter((f) => {
    const name = f.slice(f.indexOf(": ") + 2);
    if (seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

async function node(): Promise<Count> {
  const list = files ??
    [...Deno.readDirSync("tests")]
      .filter((e) => e.isFile && e.name.endsWith(".test.ts"))
      .map((e) => `tests/${e.name}`)
      .sort();
  const out = await run("node", [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    ...list,
  ]);
  const pass = out.match(/^# pass (\d+)/m);
  const fail = out.match(/^# fail (\d+)/m);
  const cancelled = out.match(/^# cancelled (\d+)/m);
  // TAP: "not ok N - name", indented by nesting; the file is the outer test.
  const failures = [...out.matchAll(/^(\s*)not ok \d+ - (.+)$/gm)]
    .map((f) => `${f[1]!.length > 0 ? "  " : ""}${f[2]}`);
  if (!pass) return { passed: 0, failed: 1, ran: false, failures };
  return {
    passed: Number(pass[1]),
    failed: Number(fail?.[1] ?? 0) + Number(cancelled?.[1] ?? 0),
    ran: true,
    failures,
  };
}

const runtimes: [string, () => Promise<Count>][] = [
  ["deno", deno],
  ["bun", bun],
  ["node", node],
];
const total = { passed: 0, failed: 0 };
const lines: string[] = [];
const failed: string[] = [];
for (const [name, fn] of runtimes) {
  if (only && !only.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const count = await fn();
  total.passed += count.passed;
  total.failed += count.failed;
  failed.push(...count.failures.map((f) => `${name}: ${f}`));
  lines.push(
    `${name}: ${count.passed} passed, ${count.failed} failed${
      count.ran ? "" : " (the runner did not report; counted as a failure)"
    }`,
  );
}
if (coverageDir !== undefined && (!only || only.includes("deno"))) {
  console.log("\n=== coverage (Deno run, src/) ===");
  await run(bin("deno"), [
    "coverage",
    coverageDir,
    "--include=^file:.*/src/",
  ]);
}
// The failures are repeated last, so a log's tail names them.
if (failed.length > 0) console.log("\nfailed:\n" + failed.join("\n"));
console.log("\n" + lines.join("\n"));
console.log(`${total.passed} passed, ${total.failed} failed`);
Deno.exit(total.failed > 0 || total.passed === 0 ? 1 : 0);
