// Output of the CLI: lines to stdout and stderr, tables, a progress bar
// on a terminal (plain lines otherwise).
import type { CliOutput } from "./output.ts";

export type { CliOutput };

/** Render rows as aligned columns; numbers right-aligned. */
export function table(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string[] {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length))
  );
  const numeric = header.map((_, i) =>
    rows.length > 0 && rows.every((r) => typeof r[i] === "number")
  );
  const line = (r: readonly string[]) =>
    r.map((c, i) => numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))
      .join("  ").trimEnd();
  return [line(header), ...cells.map(line)];
}

/** `12.3 KiB`. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** `3s ago`, `5m ago`, or `-` for null. */
export function ago(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return "-";
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return "-";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/**
 * Report progress of `total` steps: a bar redrawn in place on a terminal,
 * else a plain line about every 10% (and at the end).
 */
export class Progress {
  readonly #io: CliOutput;
  readonly #total: number;
  readonly #what: string;
  #lastPlain = 0;

  constructor(io: CliOutput, total: number, what: string) {
    this.#io = io;
    this.#total = total;
    this.#what = what;
  }

  update(done: number): void {
    const total = Math.max(this.#total, 1);
    const ratio = Math.min(1, done / total);
    if (this.#io.progress !== undefined) {
      const width = 30;
      const filled = Math.round(ratio * width);
      this.#io.progress(
        `${this.#what} [${"#".repeat(filled)}${
          "-".repeat(width - filled)
        }] ${done}/${this.#total} ${Math.floor(ratio * 100)}%`,
      );
      return;
    }
    const step = Math.max(1, Math.ceil(this.#total / 10));
    if (done === this.#total || done - this.#lastPlain >= step) {
      this.#lastPlain = done;
      this.#io.err(`${this.#what}: ${done}/${this.#total}`);
    }
  }

  /** End the bar's line on a terminal. */
  done(): void {
    this.#io.progress?.("");
  }
}

/** Payload bytes as text when they are UTF-8, else base64. */
export function payload(
  data: Uint8Array,
): { data?: string; dataBase64?: string } {
  try {
    return { data: new TextDecoder("utf-8", { fatal: true }).decode(data) };
  } catch {
    let s = "";
    for (const b of data) s += String.fromCharCode(b);
    return { dataBase64: btoa(s) };
  }
}
