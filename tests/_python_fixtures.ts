// Reading the recorded Python walnats 1.2.6 fixtures of tests/fixtures/python/.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";

export interface Recorded {
  case: string;
  comment: string;
  subject: string | null;
  headers: [string, string][];
  headerBlock: string;
  payload: string;
  payloadText?: string;
  emittedBetween?: [number, number];
}

export interface Fixture {
  comment: string;
  messages: Recorded[];
  [key: string]: unknown;
}

export function fixture(name: string): Fixture {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/python/${name}`, import.meta.url), "utf8"),
  );
}

export function recorded(file: string, name: string): Recorded {
  const found = fixture(file).messages.find((m) => m.case === name);
  assert.ok(found, `no case "${name}" in ${file}`);
  return found;
}

export function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** The recorded header block, as nats.js headers in the recorded order. */
export function headersOf(
  m: Recorded,
  override: Record<string, string> = {},
): MsgHdrs {
  const block = new TextDecoder().decode(fromBase64(m.headerBlock));
  const lines = block.split("\r\n");
  assert.equal(lines[0], "NATS/1.0");
  const h = natsHeaders();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    const key = line.slice(0, colon);
    h.append(key, override[key] ?? line.slice(colon + 1).trimStart());
  }
  return h;
}

export const utf8 = new TextDecoder();
