// The dashboard's action token: compared in constant time (both sides are
// hashed first, so neither the content nor the length leaks through
// timing), read from `Authorization: Bearer <token>` only. No cookie is
// ever set: a cross-site page cannot make the browser send the header
// (it needs a CORS preflight the dashboard never grants), so actions are
// safe from cross-site request forgery by construction.

const encoder = new TextEncoder();

/** Shortest token accepted (characters). */
export const MIN_TOKEN_LENGTH = 16;

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", encoder.encode(text)),
  );
}

/** Checks bearer tokens against one secret. */
export class TokenCheck {
  readonly #secret: Promise<Uint8Array>;

  constructor(secret: string) {
    this.#secret = digest(secret);
  }

  /** Whether `candidate` is the secret, in time independent of both. */
  async matches(candidate: string): Promise<boolean> {
    const [a, b] = await Promise.all([this.#secret, digest(candidate)]);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
    return diff === 0;
  }
}

/** The token of an `Authorization: Bearer ...` header, or undefined. */
export function bearer(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (header === null) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  return m?.[1];
}
