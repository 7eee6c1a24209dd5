// The page shell every dashboard page shares: head with the stylesheet
// and the script as separate assets (the CSP allows nothing inline),
// navigation, the token form when actions are on, a live status region.
import { type Html, html, type Part } from "./_html.ts";

/** What every page is rendered with. */
export interface PageContext {
  /** The path prefix the dashboard is mounted under ("" or "/ops"). */
  prefix: string;
  title: string;
  readOnly: boolean;
  /** Milliseconds between live refreshes. */
  refresh: number;
  /** Whether a Services was given (the architecture page exists). */
  architecture: boolean;
  /** A hash of the assets, to bust caches when they change. */
  version: string;
}

/** A link under the dashboard's prefix, with an escaped-later query. */
export function href(
  ctx: PageContext,
  path: string,
  query: Record<string, string | number | undefined> = {},
): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) params.set(k, String(v));
  }
  const q = params.toString();
  return `${ctx.prefix}${path}${q ? `?${q}` : ""}`;
}

const NAV: { path: string; label: string; architecture?: boolean }[] = [
  { path: "/", label: "Overview" },
  { path: "/dead-letters", label: "Dead letters" },
  { path: "/schedules", label: "Schedules" },
  { path: "/feed", label: "Live feed" },
  { path: "/architecture", label: "Architecture", architecture: true },
];

/** A whole page. `current` is the nav entry's path. */
export function page(
  ctx: PageContext,
  current: string,
  heading: string,
  body: Part,
): Html {
  const nav = NAV.filter((n) => !n.architecture || ctx.architecture).map((
    n,
  ) =>
    html`<li><a href="${href(ctx, n.path)}"${
      n.path === current
        ? html`
          aria-current="page"
        `
        : ""
    }>${n.label}</a></li>`
  );
  const mode = ctx.readOnly
    ? html`<p class="mode" id="mode">Read-only: actions are off</p>`
    : html`
      <form class="token" id="token-form" autocomplete="off">
        <label for="token">Admin token</label>
        <input type="password" id="token" name="token" autocomplete="off"
          spellcheck="false" required>
        <button type="submit">Use token</button>
        <button type="button" id="token-forget">Forget</button>
        <span id="token-state" role="status"></span>
      </form>
    `;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>${heading} · ${ctx.title}</title>
        <link rel="icon" href="${ctx.prefix}/assets/icon.svg?v=${ctx.version}"
          type="image/svg+xml">
        <link rel="stylesheet" href="${ctx.prefix}/assets/style.css?v=${ctx
          .version}">
        <script type="module"
          src="${ctx.prefix}/assets/app.js?v=${ctx.version}"></script>
      </head>
      <body data-prefix="${ctx.prefix}" data-refresh="${ctx.refresh}"
        data-read-only="${ctx.readOnly}">
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
        <p class="brand"><a href="${href(ctx, "/")}">${ctx.title}</a></p>
        <nav aria-label="Dashboard"><ul>${nav}</ul></nav>
        ${mode}
            </header>
        <main id="main">
        <h1>${heading}</h1>
        ${body}
            </main>
        <div id="notice" class="notice" role="status" aria-live="polite"></div>
      </body>
    </html>
  `;
}

/** A number with thousands separators. */
export function num(n: number): string {
  return n.toLocaleString("en-US");
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

/** A `<time>` element: relative text, the ISO time as its machine value. */
export function time(iso: string | null, now: number = Date.now()): Html {
  if (iso === null) return html`<span class="muted">never</span>`;
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return html`<span class="muted">unknown</span>`;
  const s = Math.max(0, Math.round((now - t) / 1000));
  const text = s < 60
    ? `${s}s ago`
    : s < 3600
    ? `${Math.round(s / 60)}m ago`
    : s < 86_400
    ? `${Math.round(s / 3600)}h ago`
    : `${Math.round(s / 86_400)}d ago`;
  return html`<time datetime="${iso}" title="${iso}">${text}</time>`;
}

/** An error banner. */
export function problem(text: string): Html {
  return html`<p class="problem" role="alert">${text}</p>`;
}
