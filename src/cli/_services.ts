// `walnats asyncapi` and `walnats diagram`: from a module that exports a
// `Services` (no server needed).
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Services } from "../services/services.ts";
import { CliError, type Parsed, str, UsageError } from "./_args.ts";
import type { Command, Context } from "./_command.ts";

// Duck-typed: the user's module may load another copy of the package.
function isServices(value: unknown): value is Services {
  return typeof value === "object" && value !== null &&
    typeof (value as Services).asyncapi === "function" &&
    typeof (value as Services).mermaid === "function" &&
    typeof (value as Services).d2 === "function" &&
    Array.isArray((value as Services).services);
}

async function load(p: Parsed, ctx: Context): Promise<Services> {
  const [path, ...rest] = p.positionals;
  if (path === undefined) {
    throw new UsageError("missing the module that exports a Services");
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  return await loadServices(path, str(p, "export"), ctx.cwd);
}

/** Import a module (path or URL) and take the Services it exports. */
export async function loadServices(
  path: string,
  wanted: string | undefined,
  cwd: string,
): Promise<Services> {
  const url = /^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)
    ? path
    : pathToFileURL(isAbsolute(path) ? path : resolve(cwd, path)).href;
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (error) {
    throw new CliError(
      `cannot import ${path}: ${(error as Error).message ?? String(error)}`,
    );
  }
  if (wanted !== undefined) {
    const value = mod[wanted];
    if (!isServices(value)) {
      throw new CliError(
        `${path} has no Services export named "${wanted}"`,
      );
    }
    return value;
  }
  const found = Object.entries(mod).filter(([, v]) => isServices(v));
  if (found.length === 0) {
    throw new CliError(
      `${path} exports no Services (export const services = new Services(...))`,
    );
  }
  if (found.length > 1) {
    throw new UsageError(
      `${path} exports several Services (${
        found.map(([k]) => k).join(", ")
      }); choose one with --export`,
    );
  }
  return found[0]![1] as Services;
}

export const asyncapiCommand: Command = {
  name: "asyncapi",
  summary: "print the AsyncAPI 3 document of a Services module",
  flags: {
    export: "string",
    title: "string",
    version: "string",
    "server-url": "string",
  },
  help:
    `usage: walnats asyncapi <module> [--export NAME] [--title T] [--version V]
                        [--server-url URL]

Import <module> (a path or URL; TypeScript works on Deno, Bun, and Node
with tsx) and print the AsyncAPI 3.0 document of the Services it exports,
with JSON Schemas of the payloads. No NATS server is needed.

  --export NAME      which export, if the module has several Services
  --title T          document title (default "walnats")
  --version V        document version (default "0.0.0")
  --server-url URL   the NATS server to name in the document`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const services = await load(p, ctx);
    const title = str(p, "title");
    const version = str(p, "version");
    const server = str(p, "server-url");
    const doc = await services.asyncapi({
      ...(title === undefined ? {} : { title }),
      ...(version === undefined ? {} : { version }),
      ...(server === undefined ? {} : { server }),
    });
    ctx.io.out(JSON.stringify(doc, null, 2));
    return 0;
  },
};

export const diagramCommand: Command = {
  name: "diagram",
  summary: "print a Mermaid or D2 diagram of a Services module",
  flags: { export: "string", format: "string" },
  help: `usage: walnats diagram <module> [--format mermaid|d2] [--export NAME]

Import <module> and print a diagram of who emits and who handles what.

  --format F     mermaid (default) or d2
  --export NAME  which export, if the module has several Services`,
  async run(p: Parsed, ctx: Context): Promise<number> {
    const format = str(p, "format") ?? "mermaid";
    if (format !== "mermaid" && format !== "d2") {
      throw new UsageError(`--format must be mermaid or d2, got "${format}"`);
    }
    const services = await load(p, ctx);
    ctx.io.out(format === "d2" ? services.d2() : services.mermaid());
    return 0;
  },
};
