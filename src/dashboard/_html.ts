// HTML built by a tagged template that escapes every interpolated value:
// names, headers and payloads come from the wire and are untrusted. Only
// `Html` values (made by `html` itself or `raw` on constant markup) pass
// through unescaped.

/** Markup that is already safe to insert. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escape text for an element's content or a double-quoted attribute. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A value an `html` template may interpolate. */
export type Part =
  | Html
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return "";
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join("");
  return escape(String(part));
}

/** `html\`<td>${name}</td>\``: every value escaped, arrays joined. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < parts.length; i++) {
    out += render(parts[i]!) + strings[i + 1]!;
  }
  return new Html(out);
}

/** Constant markup written in this package (never wire data). */
export function raw(text: string): Html {
  return new Html(text);
}
