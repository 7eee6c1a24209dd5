// The HTTP side of the dashboard: responses (every one carries the security
// headers), the error that carries a status, and reading an action's body.
import type { Html } from "./_html.ts";

const MAX_BODY = 64 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** A failure with the HTTP status to answer. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function respond(
  body: BodyInit | null,
  status: number,
  type: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": type,
      "cache-control": "no-store",
      ...extra,
    },
  });
}

export function json(
  body: unknown,
  status = 200,
  extra?: Record<string, string>,
): Response {
  return respond(
    JSON.stringify(body),
    status,
    "application/json; charset=utf-8",
    extra,
  );
}

export function htmlResponse(body: Html, status = 200): Response {
  return respond(body.text, status, "text/html; charset=utf-8");
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** An action's body: a JSON object of at most MAX_BODY bytes. */
export async function readBody(
  request: Request,
): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(415, "the body must be application/json");
  }
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > MAX_BODY) throw new HttpError(413, "the body is too large");
  const reader = request.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader !== undefined) {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_BODY) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, "the body is too large");
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  let value: unknown;
  try {
    value = size === 0 ? {} : JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpError(400, "the body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "the body must be a JSON object");
  }
  return value as Record<string, unknown>;
}
