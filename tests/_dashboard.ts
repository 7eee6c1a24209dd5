// What the dashboard tests share: requests to a handler, reading the
// overview's rows, and the security headers every answer must carry.
import assert from "node:assert/strict";
import type { Dashboard } from "../src/dashboard/mod.ts";

/** The token of dashboards that allow actions. */
export const TOKEN = "s3cret-token-for-tests-0123456789";

/** GET a path of the handler. */
export function get(
  d: Dashboard,
  path: string,
  init?: RequestInit,
): Promise<Response> {
  return d(new Request(`http://localhost${path}`, init));
}

/** POST a JSON body (or text) with the token, by default. */
export function post(
  d: Dashboard,
  path: string,
  body: unknown,
  token: string | null = TOKEN,
  type = "application/json",
): Promise<Response> {
  const headers: Record<string, string> = { "content-type": type };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return d(
    new Request(`http://localhost${path}`, {
      method: "POST",
      headers,
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

/** The table row of an actor on the overview. */
export function actorRow(page: string, event: string, actor: string): string {
  const start = page.indexOf(
    `<tr data-actor="${actor}" data-event="${event}">`,
  );
  assert.ok(start >= 0, `no row for ${event}/${actor}`);
  return page.slice(start, page.indexOf("</tr>", start));
}

export function eventRow(page: string, event: string): string {
  const start = page.indexOf(`<tr data-event="${event}">`);
  assert.ok(start >= 0, `no row for event ${event}`);
  return page.slice(start, page.indexOf("</tr>", start));
}

/** A number in a `data-field` of a row. */
export function field(row: string, name: string): number {
  const m = new RegExp(`data-field="${name}"[^>]*>([\\d,]+)<`).exec(row);
  assert.ok(m, `no field ${name} in ${row}`);
  return Number(m[1]!.replaceAll(",", ""));
}

export function assertSecure(res: Response): void {
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.match(csp, /frame-ancestors 'none'/);
}
