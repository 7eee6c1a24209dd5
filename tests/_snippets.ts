// Code blocks of the Markdown docs as files to run: a ```ts block whose
// first line is `// name.ts...` becomes the file name.ts, with the
// package's own name (`@walnats/walnats`, `@walnats/walnats/<sub>`)
// pointing at this checkout's sources.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

/** One code block that names its file. */
export interface Snippet {
  readonly file: string;
  readonly code: string;
}

/**
 * The named ```ts blocks of `markdown` (a path under the repository), from
 * the heading `section` to the next heading of the same level when given.
 */
export async function snippets(
  markdown: string,
  section?: string,
): Promise<Snippet[]> {
  let text = await readFile(join(root, markdown), "utf8");
  if (section !== undefined) {
    const start = text.indexOf(`\n${section}\n`);
    if (start < 0) throw new Error(`${markdown} has no heading "${section}"`);
    const level = section.match(/^#+/)![0];
    const rest = text.slice(start + section.length + 2);
    const next = rest.search(new RegExp(`^${level} `, "m"));
    text = next < 0 ? rest : rest.slice(0, next);
  }
  const found: Snippet[] = [];
  for (const m of text.matchAll(/^```ts(?: [\w-]+)?\n([\s\S]*?)^```$/gm)) {
    const code = m[1]!;
    const name = code.match(/^\/\/ ([\w./-]+\.ts)\b/)?.[1];
    if (name !== undefined) found.push({ file: name, code });
  }
  return found;
}

/** A folder inside the repository (so packages resolve) holding snippets. */
export interface SnippetDir extends AsyncDisposable {
  readonly dir: string;
  path(file: string): string;
}

/**
 * Write `list` into a folder under `.tmp/`, imports rewritten: a fresh one,
 * or `.tmp/snippets-<name>` when a name is given (the same path every run).
 */
export async function writeSnippets(
  list: readonly Snippet[],
  name?: string,
): Promise<SnippetDir> {
  const dir = join(
    root,
    ".tmp",
    `snippets-${
      name ??
        `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    }`,
  );
  await mkdir(dir, { recursive: true });
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  const exports = pkg.exports as Record<string, string>;
  for (const { file, code } of list) {
    const target = join(dir, file);
    await mkdir(dirname(target), { recursive: true });
    const rewritten = code.replace(
      /(["'])@walnats\/walnats(\/[\w-]+)?\1/g,
      (whole, quote: string, sub: string | undefined) => {
        const entry = exports[sub === undefined ? "." : `.${sub}`];
        if (entry === undefined) return whole;
        let rel = relative(dirname(target), join(root, entry));
        if (!rel.startsWith(".")) rel = `./${rel}`;
        return `${quote}${rel}${quote}`;
      },
    );
    await writeFile(target, rewritten);
  }
  return {
    dir,
    path: (file) => join(dir, file),
    async [Symbol.asyncDispose]() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
