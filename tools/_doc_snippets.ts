// The code blocks of the documentation, as files the suite can type-check and
// run. tests/docs.test.ts drives it; the conventions are in docs/README.md:
//
//   ```ts          type-checked (Deno) and run on every runtime
//   ```ts no-run   type-checked only
//   ```ts ignore   skipped; an HTML comment above it says why
//
// A block whose first line is `// @include <page>-<n>` gets the code of that
// block (and of what it includes) prepended, so a page can build on an earlier
// block. Plain Node APIs only: this module is loaded by the tests on Deno, Bun
// and Node.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** How a block takes part in the suite. */
export type SnippetMode = "run" | "no-run" | "ignore";

/** One ```ts block of one page. */
export interface Snippet {
  /** The page, relative to the repository root: `docs/events.md`. */
  readonly page: string;
  /** `<page>-<n>`: the page's base name and the block's 1-based number. */
  readonly id: string;
  /** The block's number among the page's ts blocks, from 1. */
  readonly index: number;
  /** The line of the page where the block's code starts (1-based). */
  readonly line: number;
  readonly mode: SnippetMode;
  /** The block's code as written. */
  readonly code: string;
  /** The ids named by an `// @include` first line, in order. */
  readonly includes: readonly string[];
  /** The comment right above an `ignore` block (its reason), if any. */
  readonly reason?: string;
}

/** A block's code written out, with what maps its lines back to pages. */
export interface SnippetFile {
  readonly snippet: Snippet;
  /** Absolute path of the written file. */
  readonly path: string;
  /** Line ranges of the file and where on which page they come from. */
  readonly segments: readonly Segment[];
}

/** Lines `from`..`to` of a file (1-based, inclusive) are lines of `page` from `line` on. */
export interface Segment {
  readonly from: number;
  readonly to: number;
  readonly page: string;
  readonly line: number;
  readonly id: string;
}

/** Problems in how a page writes its blocks (not in the code itself). */
export interface SnippetProblem {
  readonly page: string;
  readonly line: number;
  readonly message: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const INCLUDE = /^\/\/\s*@include\s+(.+)$/;
const MODES: Record<string, SnippetMode> = {
  "": "run",
  "no-run": "no-run",
  "ignore": "ignore",
};

/** The documentation pages: README.md and docs/*.md, sorted. */
export function docPages(root: string): string[] {
  const pages = ["README.md"];
  for (const name of readdirSync(join(root, "docs")).sort()) {
    if (name.endsWith(".md")) pages.push(`docs/${name}`);
  }
  return pages;
}

/** `docs/events.md` -> `events`, `README.md` -> `README`. */
export function pageName(page: string): string {
  return page.replace(/^docs\//, "").replace(/\.md$/, "");
}

/**
 * The ts blocks of one page's text, and problems in how they are marked
 * (unknown modifiers, `typescript` fences, ignores without a reason).
 */
export function extractSnippets(
  page: string,
  text: string,
): { snippets: Snippet[]; problems: SnippetProblem[] } {
  const lines = text.split("\n");
  const snippets: Snippet[] = [];
  const problems: SnippetProblem[] = [];
  const name = pageName(page);
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    // Find the closing fence: same character, at least as long.
    let end = i + 1;
    while (end < lines.length) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(lines[end]!);
      if (
        close && close[1]![0] === fence![0] && close[1]!.length >= fence!.length
      ) {
        break;
      }
      end++;
    }
    const body = lines.slice(i + 1, end).map((l) =>
      l.startsWith(indent!) ? l.slice(indent!.length) : l
    );
    const at = i + 1;
    i = end;
    if (lang === "typescript" || lang === "tsx") {
      problems.push({
        page,
        line: at,
        message: `fence "${lang}" is not run by the suite: write "ts"`,
      });
      continue;
    }
    if (lang !== "ts") continue;
    const modifier = rest!.trim();
    const mode = MODES[modifier];
    if (mode === undefined) {
      problems.push({
        page,
        line: at,
        message: `unknown modifier "${modifier}" after ts: use "no-run" or ` +
          `"ignore", or nothing`,
      });
      continue;
    }
    const includes: string[] = [];
    const first = INCLUDE.exec(body[0]?.trim() ?? "");
    if (first) includes.push(...first[1]!.trim().split(/[\s,]+/));
    const reason = mode === "ignore" ? reasonAbove(lines, at - 1) : undefined;
    if (mode === "ignore" && reason === undefined) {
      problems.push({
        page,
        line: at,
        message: "an ignored block needs its reason in an HTML comment " +
          "(<!-- ... -->) on the lines right above it",
      });
    }
    const index = snippets.length + 1;
    snippets.push({
      page,
      id: `${name}-${index}`,
      index,
      line: at + 1,
      mode,
      code: body.join("\n"),
      includes,
      ...(reason !== undefined ? { reason } : {}),
    });
  }
  return { snippets, problems };
}

// The HTML comment ending on the last non-blank line before `fence` (0-based).
function reasonAbove(lines: string[], fence: number): string | undefined {
  let j = fence - 1;
  while (j >= 0 && lines[j]!.trim() === "") j--;
  if (j < 0 || !lines[j]!.trim().endsWith("-->")) return undefined;
  const collected: string[] = [];
  for (; j >= 0; j--) {
    collected.unshift(lines[j]!);
    if (lines[j]!.includes("<!--")) {
      const text = collected.join("\n").replace(/^[\s\S]*<!--/, "")
        .replace(/-->[\s\S]*$/, "").trim();
      return text === "" ? undefined : text;
    }
  }
  return undefined;
}

/** Every page's blocks, and every problem in how they are marked. */
export function collectSnippets(
  root: string,
): { snippets: Snippet[]; problems: SnippetProblem[] } {
  const snippets: Snippet[] = [];
  const problems: SnippetProblem[] = [];
  for (const page of docPages(root)) {
    const found = extractSnippets(page, readFileSync(join(root, page), "utf8"));
    snippets.push(...found.snippets);
    problems.push(...found.problems);
  }
  const byId = new Map(snippets.map((s) => [s.id, s]));
  for (const s of snippets) {
    for (const id of s.includes) {
      const target = byId.get(id);
      if (target === undefined) {
        problems.push({
          page: s.page,
          line: s.line,
          message: `block ${s.id} includes "${id}", which is no ts block`,
        });
      } else if (target.mode === "ignore") {
        problems.push({
          page: s.page,
          line: s.line,
          message: `block ${s.id} includes the ignored block ${id}`,
        });
      }
    }
  }
  for (const s of snippets) {
    if (cycle(s, byId)) {
      problems.push({
        page: s.page,
        line: s.line,
        message: `block ${s.id} includes itself through @include`,
      });
    }
  }
  return { snippets, problems };
}

function cycle(
  start: Snippet,
  byId: Map<string, Snippet>,
  seen: Set<string> = new Set(),
): boolean {
  if (seen.has(start.id)) return true;
  seen.add(start.id);
  for (const id of start.includes) {
    const next = byId.get(id);
    if (next && cycle(next, byId, new Set(seen))) return true;
  }
  return false;
}

/**
 * Write every block that is not ignored to `<dir>/<page>-<n>.ts`, its
 * includes first; the file's lines map back to pages through `segments`.
 */
export function writeSnippets(
  snippets: readonly Snippet[],
  dir: string,
): SnippetFile[] {
  mkdirSync(dir, { recursive: true });
  const byId = new Map(snippets.map((s) => [s.id, s]));
  const files: SnippetFile[] = [];
  for (const snippet of snippets) {
    if (snippet.mode === "ignore") continue;
    const parts: Snippet[] = [];
    const add = (s: Snippet, seen: Set<string>) => {
      if (seen.has(s.id)) return;
      seen.add(s.id);
      for (const id of s.includes) {
        const inc = byId.get(id);
        if (inc) add(inc, seen);
      }
      if (!parts.includes(s)) parts.push(s);
    };
    add(snippet, new Set());
    const out: string[] = [
      `// ${snippet.page} block ${snippet.index} (line ${snippet.line}), ` +
      `written by tests/docs.test.ts: edit the page, not this file`,
    ];
    const segments: Segment[] = [];
    for (const part of parts) {
      const code = part.code.split("\n");
      segments.push({
        from: out.length + 1,
        to: out.length + code.length,
        page: part.page,
        line: part.line,
        id: part.id,
      });
      out.push(...code);
    }
    // A module, even when the block imports nothing (top-level await).
    out.push("export {};", "");
    const path = join(dir, `${snippet.id}.ts`);
    writeFileSync(path, out.join("\n"));
    files.push({ snippet, path, segments });
  }
  return files;
}

/** Where line `line` of a written file comes from: `docs/x.md:42 (x-3)`. */
export function pageLocation(file: SnippetFile, line: number): string {
  const seg = file.segments.find((s) => line >= s.from && line <= s.to);
  if (seg === undefined) {
    return `${file.snippet.page} block ${file.snippet.index} (generated line ${line})`;
  }
  return `${seg.page}:${seg.line + line - seg.from} (block ${seg.id})`;
}

/**
 * Rewrite `deno check` output so every position in a written file names the
 * page and line instead (`.tmp/docs/events-3.ts:5:3` -> `docs/events.md:44`).
 */
export function mapToPages(
  output: string,
  files: readonly SnippetFile[],
  root: string,
): string {
  // deno-lint-ignore no-control-regex -- ANSI colours split the paths
  let text = output.replace(/\x1b\[[0-9;]*m/g, "");
  for (const file of files) {
    const rel = relative(root, file.path).replaceAll("\\", "/");
    const escaped = rel.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const re = new RegExp(
      `(?:file://)?[^\\s'"()]*${escaped}:(\\d+):(\\d+)`,
      "g",
    );
    text = text.replace(
      re,
      (_m, line: string, col: string) =>
        `${pageLocation(file, Number(line))}:${col}`,
    );
  }
  return text;
}
