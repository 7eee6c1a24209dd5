// The package works without JSR: `tools/build_npm.ts` builds it, `npm pack`
// packs it, `npm install <tarball>` puts it into a fresh project outside
// this repository, and a small program using it runs on Node, Bun and Deno;
// user code importing it type-checks with plain `tsc` when TypeScript is
// installed. The whole round runs once, from the Node run of the suite (it
// exercises all three runtimes itself).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { currentRuntime } from "./_process.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

function sh(
  cmd: string,
  args: string[],
  cwd: string,
  timeout = 120_000,
): { code: number | null; out: string; stdout: string } {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false" },
  });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

const PROGRAM = `
import * as v from "valibot";
import { Actor, Actors, Event, Events, silentLogger } from "@walnats/walnats";
import { NatsServer } from "@walnats/walnats/testing";
import { json } from "@walnats/walnats/codecs";

const server = await NatsServer.start();
try {
  const Hello = v.object({ to: v.string() });
  const EV = new Event("npm-hello", Hello, { codec: json(Hello) });
  const seen = [];
  const A = new Actor("npm-print", EV, (m) => void seen.push(m.to));
  const sub = await new Actors(A).connect(server.url);
  await sub.register({ events: true });
  const pub = await new Events(EV).connect(server.url, { logger: silentLogger });
  await pub.register();
  await pub.emit(EV, { to: "Ann" });
  const report = await sub.listen({ burst: true, pollDelay: 500, logger: silentLogger });
  await sub.close();
  await pub.close();
  console.log("handled " + report.succeeded + ": " + seen.join(","));
} finally {
  await server.close();
}
`;

const USER_CODE = `
import * as v from "valibot";
import { Actor, Event, Events, type EmitResult } from "@walnats/walnats";
import { logging } from "@walnats/walnats/middlewares";

export const USER = new Event("user-registered", v.object({ id: v.number() }));
export const WELCOME = new Actor("welcome", USER, (user, ctx) => {
  const id: number = user.id;
  return void [id, ctx.attempt];
}, { middlewares: [logging()] });

export async function emitOne(): Promise<EmitResult> {
  await using pub = await new Events(USER).connect();
  // @ts-expect-error the payload is checked against the schema's type
  await pub.emit(USER, { id: "not a number" });
  return await pub.emit(USER, { id: 1 });
}
`;

test("the npm package installs into a fresh project and runs on Node, Bun and Deno; tsc type-checks user code", async (t) => {
  if (currentRuntime().name !== "node") {
    t.skip("run from the Node run of the suite (it drives all three runtimes)");
    return;
  }
  const work = await mkdtemp(join(tmpdir(), "walnats-npm-"));
  try {
    const build = sh(bin("deno"), [
      "run",
      "-A",
      join(root, "tools", "build_npm.ts"),
      `--out=${join(work, "dist")}`,
    ], root);
    assert.equal(build.code, 0, build.out);
    const tarball = build.stdout.trim().split("\n").pop()!;
    assert.match(tarball, /walnats-walnats-\d+\.\d+\.\d+\.tgz$/);
    const types = existsSync(tsc);
    const manifest = JSON.parse(
      await readFile(join(work, "dist", "npm", "package.json"), "utf8"),
    );
    assert.equal(manifest.type, "module");
    assert.deepEqual(
      Object.keys(manifest.exports).sort(),
      Object.keys(
        JSON.parse(await readFile(join(root, "deno.json"), "utf8")).exports,
      ).sort(),
    );

    const project = join(work, "project");
    await mkdir(project);
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "user-project", private: true, type: "module" }),
    );
    // Dependencies come from npm's cache when it has them.
    let install = sh("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      tarball,
    ], project);
    if (install.code !== 0) {
      install = sh("npm", [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        tarball,
      ], project);
    }
    assert.equal(install.code, 0, install.out);
    await writeFile(join(project, "main.js"), PROGRAM);

    const runs: [string, string, string[]][] = [
      ["node", process.execPath, ["main.js"]],
      ["bun", bin("bun"), ["main.js"]],
      ["deno", bin("deno"), ["run", "-A", "main.js"]],
    ];
    for (const [name, cmd, args] of runs) {
      const r = sh(cmd, args, project, 60_000);
      assert.equal(r.code, 0, `${name}:\n${r.out}`);
      assert.match(r.out, /handled 1: Ann/, `${name}:\n${r.out}`);
    }

    // The command line, compiled: Node runs it without tsx.
    const cli = sh(process.execPath, [
      join(project, "node_modules", ".bin", "walnats"),
      "help",
    ], project);
    assert.equal(cli.code, 0, cli.out);
    assert.match(cli.out, /usage: walnats/);

    if (!types) {
      // deno-lint-ignore no-console -- the skip must show in the run's output
      console.log(
        "SKIPPED: tsc type-check of user code: typescript is not installed (add the devDependency typescript@5.9.3)",
      );
      t.diagnostic("tsc check skipped: typescript is not installed");
      return;
    }
    await writeFile(join(project, "user.ts"), USER_CODE);
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2023"],
          types: ["node"],
          typeRoots: [join(root, "node_modules", "@types")],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ["user.ts"],
      }),
    );
    const check = sh(process.execPath, [tsc, "-p", "tsconfig.json"], project);
    assert.equal(check.code, 0, `tsc:\n${check.out}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
