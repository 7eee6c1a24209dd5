// deno-lint-ignore-file no-console -- a program: printing is its job
// Quality gates: formatting, lint, strict type-check, export maps in sync,
// publish dry-run. `deno task check` runs them all and fails on the first.
import { spawnSync } from "node:child_process";

const deno = "node_modules/.bin/deno";

function gate(name: string, argv: string[]): void {
  console.log(`\n--- ${name}: deno ${argv.join(" ")}`);
  const r = spawnSync(deno, argv, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`\n${name} failed`);
    Deno.exit(1);
  }
}

function exportsInSync(): void {
  console.log("\n--- exports: deno.json, jsr.json and package.json agree");
  const read = (f: string) => JSON.parse(Deno.readTextFileSync(f));
  const denoJson = read("deno.json");
  const jsrJson = read("jsr.json");
  const pkg = read("package.json");
  const problems: string[] = [];
  const same = (a: unknown, b: unknown) =>
    JSON.stringify(a) === JSON.stringify(b);
  if (!same(denoJson.exports, jsrJson.exports)) {
    problems.push("deno.json and jsr.json exports differ");
  }
  for (const key of ["name", "version"]) {
    if (denoJson[key] !== jsrJson[key] || denoJson[key] !== pkg[key]) {
      problems.push(
        `"${key}" differs between deno.json, jsr.json, package.json`,
      );
    }
  }
  const pkgExports = Object.fromEntries(
    Object.entries(pkg.exports ?? {}).map(([k, v]) => [k, v]),
  );
  if (!same(denoJson.exports, pkgExports)) {
    problems.push("deno.json and package.json exports differ");
  }
  for (const [key, path] of Object.entries(denoJson.exports)) {
    if (key !== "." && !/^\.\/[a-z0-9]+(-[a-z0-9]+)*$/.test(key)) {
      problems.push(`export "${key}" is not kebab-case`);
    }
    try {
      Deno.statSync(path as string);
    } catch {
      problems.push(`export "${key}" points at missing ${path}`);
    }
  }
  const deps = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const [key, spec] of Object.entries(denoJson.imports)) {
    // A subpath entry ("pkg/internal") maps to "npm:pkg@version/internal".
    const m = /^npm:(@?[^@]+)@([^/]+)(\/.*)?$/.exec(String(spec));
    const name = m?.[1] ?? key;
    const version = m?.[2];
    if (m?.[3] !== undefined && key !== `${name}${m[3]}`) {
      problems.push(`import "${key}" maps to another subpath (${spec})`);
    }
    if (deps[name] !== version) {
      problems.push(
        `import "${name}" is ${spec} in deno.json but ${
          deps[name]
        } in package.json`,
      );
    }
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    Deno.exit(1);
  }
  console.log("ok");
}

const entryPoints = Object.values(
  JSON.parse(Deno.readTextFileSync("deno.json")).exports,
) as string[];
const dirs = ["tests", "examples", "bench", "tools"].filter((d) => {
  try {
    return Deno.statSync(d).isDirectory;
  } catch {
    return false;
  }
});

gate("fmt", ["fmt", "--check"]);
gate("lint", ["lint"]);
gate("type-check", ["check", ...entryPoints, ...dirs]);
// The examples in JSDoc are code too: `deno test --doc` runs them later.
gate("doc examples type-check", ["check", "--doc-only", "mod.ts", "src/"]);
// All entry points in one run: sub-entry points refer to types mod.ts exports.
gate("doc lint", ["doc", "--lint", ...entryPoints]);
exportsInSync();
gate("publish dry-run", ["publish", "--dry-run", "--allow-dirty"]);
console.log("\nall checks passed");
