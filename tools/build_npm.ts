// deno-lint-ignore-file no-console -- a program: printing is its job
// Build the npm package: compiled JavaScript with `.d.ts` types, the shape
// JSR's npm compatibility serves, for projects that do not use JSR.
//
//   npx deno task build:npm [--out=dist] [--no-pack]
//
// Writes <out>/npm/ (package.json, mod.js, src/**/*.js, *.d.ts, README,
// LICENSE) and, unless --no-pack, <out>/walnats-walnats-<version>.tgz made
// by `npm pack`. JavaScript comes from esbuild (file by file, nothing
// bundled, relative `.ts` imports rewritten to `.js`); types come from the
// TypeScript compiler when the `typescript` package is installed, and are
// left out with a warning when it is not.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
const outArg = args.find((a) => a.startsWith("--out="))?.slice(6);
const outBase = outArg === undefined ? join(root, "dist") : resolve(outArg);
const out = join(outBase, "npm");
const pack = !args.includes("--no-pack");

function sources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sources(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
      found.push(path);
    }
  }
  return found;
}

function run(cmd: string, argv: string[], cwd = root): string {
  const result = spawnSync(cmd, argv, { cwd, encoding: "utf8" });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${cmd} ${
        argv.join(" ")
      } failed (${result.status}):\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

// Relative specifiers that end in .ts, in static and dynamic imports and
// re-exports; a bare package name is left alone.
function rewriteImports(code: string): string {
  return code.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"'\n]+?)\.ts\2/g,
    (_m, head: string, quote: string, path: string) =>
      `${head}${quote}${path}.js${quote}`,
  );
}

function walk(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(path, suffix));
    else if (entry.name.endsWith(suffix)) found.push(path);
  }
  return found;
}

const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const exportsMap = deno.exports as Record<string, string>;
const files = ["mod.ts", ...sources("src")];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// 1. JavaScript.
const esbuild = join(root, "node_modules", ".bin", "esbuild");
run(esbuild, [
  ...files,
  `--outdir=${out}`,
  `--outbase=${root}`,
  "--format=esm",
  "--platform=neutral",
  "--target=es2022",
  "--log-level=warning",
]);
for (const file of walk(out, ".js")) {
  writeFileSync(file, rewriteImports(readFileSync(file, "utf8")));
}

// 2. Types.
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
let types = false;
if (existsSync(tsc)) {
  const tsconfig = join(out, "tsconfig.build.json");
  writeFileSync(
    tsconfig,
    JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2023", "dom"],
          types: ["node"],
          typeRoots: [join(root, "node_modules", "@types")],
          declaration: true,
          emitDeclarationOnly: true,
          rewriteRelativeImportExtensions: true,
          allowImportingTsExtensions: true,
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noImplicitOverride: true,
          skipLibCheck: true,
          rootDir: root,
          outDir: out,
        },
        files: files.map((f) => join(root, f)),
      },
      null,
      2,
    ),
  );
  run(process.execPath.includes("deno") ? "node" : process.execPath, [
    tsc,
    "-p",
    tsconfig,
  ]);
  rmSync(tsconfig);
  for (const file of walk(out, ".d.ts")) {
    writeFileSync(file, rewriteImports(readFileSync(file, "utf8")));
  }
  types = true;
} else {
  console.warn(
    "build_npm: typescript is not installed (node_modules/typescript): the package gets no .d.ts files; add the devDependency typescript@5.9.3",
  );
}

// The `walnats` command: compiled, so Node runs it without tsx.
mkdirSync(join(out, "bin"), { recursive: true });
writeFileSync(
  join(out, "bin", "walnats.js"),
  `#!/usr/bin/env node
// The walnats command line (src/cli/main.ts, compiled).
import { run } from "../src/cli/main.js";
await run(globalThis.process?.argv.slice(2) ?? []);
`,
);

// 3. package.json, README, LICENSE.
const exportsOut: Record<string, unknown> = {};
for (const [key, target] of Object.entries(exportsMap)) {
  const js = `./${target.replace(/^\.\//, "").replace(/\.ts$/, ".js")}`;
  exportsOut[key] = types
    ? { types: js.replace(/\.js$/, ".d.ts"), default: js }
    : js;
}
const manifest = {
  name: deno.name,
  version: deno.version,
  description: pkg.description,
  license: deno.license,
  type: "module",
  main: "./mod.js",
  ...(types ? { types: "./mod.d.ts" } : {}),
  exports: exportsOut,
  bin: { walnats: "./bin/walnats.js" },
  engines: { node: ">=20" },
  dependencies: pkg.dependencies,
  sideEffects: false,
};
writeFileSync(
  join(out, "package.json"),
  `${JSON.stringify(manifest, null, 2)}\n`,
);
for (const file of ["README.md", "LICENSE"]) {
  copyFileSync(join(root, file), join(out, file));
}

// 4. The tarball.
if (pack) {
  const name = run("npm", [
    "pack",
    "--silent",
    "--pack-destination",
    outBase,
  ], out).trim().split("\n").pop()!;
  console.log(join(outBase, name));
} else {
  console.log(out);
}
