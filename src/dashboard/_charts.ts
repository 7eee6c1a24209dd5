// Small inline SVG line charts (no script, no inline style: colours come
// from the stylesheet), each with a text alternative for screen readers.
import { type Html, html, raw } from "./_html.ts";
import type { Point } from "./_sampler.ts";

const W = 90;
const H = 28;

function fmt(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} seconds`;
  return `${Math.round(s / 60)} minutes`;
}

/**
 * A sparkline of `points` over the window ending now.
 *
 * @param what What is drawn, for the text alternative ("lag").
 * @param unit Appended to numbers in the text ("/s").
 */
export function sparkline(
  points: readonly Point[],
  what: string,
  unit = "",
  windowMs = 600_000,
  now: number = Date.now(),
): Html {
  if (points.length < 2) {
    return html`<span class="chart-empty">${
      points.length === 1 ? `${fmt(points[0]!.v)}${unit}` : "no data yet"
    }</span>`;
  }
  // Until the window has filled, the chart spans the samples there are.
  const start = Math.max(now - windowMs, points[0]!.t);
  const span = Math.max(1, now - start);
  const values = points.map((p) => p.v);
  const max = Math.max(...values);
  const min = Math.min(...values);
  const top = max === 0 ? 1 : max;
  const coords = points.map((p) => {
    const x = Math.min(W, Math.max(0, ((p.t - start) / span) * W));
    const y = H - 2 - (p.v / top) * (H - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
  const last = values.at(-1)!;
  const label = `${what} over the last ${duration(span)}: now ${
    fmt(last)
  }${unit}, min ${fmt(min)}${unit}, max ${fmt(max)}${unit}`;
  return html`
    <svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}"
      height="${H}" role="img" aria-label="${label}">
      <title>${label}</title>
      <line class="chart-axis" x1="0" y1="${H - 1}" x2="${W}"
        y2="${H - 1}" />
      <polyline class="chart-line" fill="none" points="${raw(coords)}" />
    </svg><span class="chart-now">${fmt(last)}${unit}</span>
  `;
}
