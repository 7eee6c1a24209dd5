// Payload bytes for display: UTF-8 text when they are, base64 otherwise,
// cut to a preview size so a large message cannot swamp a page.

/** A payload prepared for display. */
export interface Shown {
  /** `text` (UTF-8) or `base64`. */
  kind: "text" | "base64";
  /** The (possibly cut) content. */
  content: string;
  /** The full payload's size in bytes. */
  size: number;
  /** Whether `content` is only the first `limit` bytes. */
  truncated: boolean;
}

/** Show `data`, at most `limit` bytes of it. */
export function show(data: Uint8Array, limit: number): Shown {
  const truncated = data.length > limit;
  const bytes = truncated ? data.subarray(0, limit) : data;
  try {
    // `stream: true` when cut: a character split at the cut is not an error.
    const content = new TextDecoder("utf-8", { fatal: true }).decode(bytes, {
      stream: truncated,
    });
    return { kind: "text", content, size: data.length, truncated };
  } catch {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return { kind: "base64", content: btoa(s), size: data.length, truncated };
  }
}

/** Text shown as JSON indented when it is JSON, else as it is. */
export function pretty(text: string): string {
  const trimmed = text.trim();
  if (!/^[[{"]/.test(trimmed)) return text;
  try {
    return JSON.stringify(JSON.parse(trimmed), null, 2);
  } catch {
    return text;
  }
}
