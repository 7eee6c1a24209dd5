// Plain codecs: bytes(), text(), date(), json() and gzip().
import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import { DecodeError, json as rootJson, ValidationError } from "../mod.ts";
import { bytes, date, gzip, json, text } from "../src/codecs/mod.ts";
import {
  fromUtf8,
  isDecodeError,
  NOTE,
  Note,
  roundTrip,
  utf8,
} from "./_codecs.ts";

// ---------------------------------------------------------------- bytes

test("bytes() hands bytes through untouched and rejects anything else", async () => {
  const codec = bytes();
  assert.equal(codec.contentType, "application/octet-stream");
  const data = new Uint8Array([0, 1, 0x1f, 0x8b, 255]);
  assert.equal(await codec.encode(data), data);
  assert.deepEqual(await roundTrip(codec, data), data);
  assert.deepEqual(await roundTrip(codec, new Uint8Array()), new Uint8Array());
  assert.throws(
    () => codec.encode("nope" as unknown as Uint8Array),
    (error: Error) =>
      error instanceof ValidationError &&
      /expected a Uint8Array, got string/.test(error.message),
  );
});

// ----------------------------------------------------------------- text

test("text() round-trips any string as plain UTF-8", async () => {
  const codec = text();
  assert.equal(codec.contentType, "text/plain; charset=utf-8");
  for (const s of ["", "hello", "héllo wörld ✓ 🦀", "\uFEFFleading BOM"]) {
    assert.equal(await roundTrip(codec, s), s);
  }
  assert.deepEqual(
    await codec.encode("hé"),
    new Uint8Array([0x68, 0xc3, 0xa9]),
  );
});

test("text() rejects invalid UTF-8 on decode and non-strings on encode", async () => {
  const codec = text("note");
  await assert.rejects(
    async () => await codec.decode(new Uint8Array([0x68, 0xc3, 0x28])),
    isDecodeError(/^Cannot decode a payload of "note": not valid UTF-8 text/),
  );
  await assert.rejects(
    async () => await codec.decode(new Uint8Array([0xff])),
    DecodeError,
  );
  assert.throws(
    () => codec.encode(42 as unknown as string),
    (error: Error) =>
      error instanceof ValidationError &&
      error.message ===
        'Invalid payload for event "note": expected a string, got number',
  );
});

// ----------------------------------------------------------------- date

test("date() writes what Python walnats' datetime.isoformat() writes", async () => {
  const codec = date();
  const wire = async (d: Date) => fromUtf8(await codec.encode(d));
  // datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc).isoformat()
  assert.equal(
    await wire(new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123))),
    "2024-05-06T07:08:09.123000+00:00",
  );
  // datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc).isoformat()
  assert.equal(
    await wire(new Date(Date.UTC(2024, 4, 6, 7, 8, 9))),
    "2024-05-06T07:08:09+00:00",
  );
  // datetime(1, 1, 1, tzinfo=timezone.utc).isoformat()
  const first = new Date(0);
  first.setUTCFullYear(1, 0, 1);
  assert.equal(await wire(first), "0001-01-01T00:00:00+00:00");
  assert.deepEqual(await roundTrip(codec, first), first);
  const now = new Date();
  assert.deepEqual(await roundTrip(codec, now), now);
});

test("date() reads every form Python walnats sends", async () => {
  const codec = date();
  const read = async (s: string) =>
    (await codec.decode(utf8.encode(s))).toISOString();
  // aware, with microseconds (truncated to milliseconds)
  assert.equal(
    await read("2024-05-06T07:08:09.123456+00:00"),
    "2024-05-06T07:08:09.123Z",
  );
  // naive datetime.utcnow().isoformat(): taken as UTC
  assert.equal(
    await read("2024-05-06T07:08:09.123456"),
    "2024-05-06T07:08:09.123Z",
  );
  // other offsets
  assert.equal(
    await read("2024-05-06T12:38:09+05:30"),
    "2024-05-06T07:08:09.000Z",
  );
  assert.equal(
    await read("2024-05-06T04:08:09-03:00"),
    "2024-05-06T07:08:09.000Z",
  );
  // a date alone (date.isoformat()), Z, a space separator, minutes only
  assert.equal(await read("2024-05-06"), "2024-05-06T00:00:00.000Z");
  assert.equal(await read("2024-05-06T07:08:09Z"), "2024-05-06T07:08:09.000Z");
  assert.equal(await read("2024-05-06 07:08:09"), "2024-05-06T07:08:09.000Z");
  assert.equal(await read("2024-05-06T07:08"), "2024-05-06T07:08:00.000Z");
  // years below 100 are not mapped to the 1900s
  assert.equal(await read("0050-01-01"), "0050-01-01T00:00:00.000Z");
});

test("date() rejects bytes that are not a real date or time", async () => {
  const codec = date("tick");
  for (
    const bad of [
      "",
      "yesterday",
      "2024-02-30",
      "2023-02-29",
      "2024-13-01",
      "2024-05-06T24:00:00",
      "2024-05-06T07:60:00",
      "2024-05-06T07:08:09+24:00",
      "0000-01-01",
      '"2024-05-06T07:08:09+00:00"',
      "1714979289",
    ]
  ) {
    await assert.rejects(
      async () => await codec.decode(utf8.encode(bad)),
      isDecodeError(
        /^Cannot decode a payload of "tick": not an ISO 8601 date or date-time/,
      ),
      bad,
    );
  }
  await assert.rejects(
    async () => await codec.decode(new Uint8Array([0xff, 0xfe])),
    isDecodeError(/not valid UTF-8/),
  );
  // Feb 29 of a leap year is fine.
  assert.equal(
    (await codec.decode(utf8.encode("2024-02-29"))).toISOString(),
    "2024-02-29T00:00:00.000Z",
  );
});

test("date() refuses to encode an invalid Date or one Python cannot hold", () => {
  const codec = date("tick");
  assert.throws(
    () => codec.encode(new Date(Number.NaN)),
    (error: Error) =>
      error instanceof ValidationError &&
      /expected a valid Date, got Invalid Date/.test(error.message),
  );
  assert.throws(
    () => codec.encode("2024-05-06" as unknown as Date),
    (error: Error) =>
      error instanceof ValidationError &&
      /expected a Date, got string/.test(error.message),
  );
  assert.throws(
    () => codec.encode(new Date(Date.UTC(10_000, 0, 1))),
    (error: Error) =>
      error instanceof ValidationError &&
      /between 1 and 9999/.test(error.message),
  );
});

// ----------------------------------------------------------------- json

test("the codecs subpath re-exports the default json codec", async () => {
  assert.equal(json, rootJson);
  const codec = json(Note, "note");
  assert.deepEqual(await roundTrip(codec, NOTE), NOTE);
});

// ----------------------------------------------------------------- gzip

test("gzip() shrinks a compressible payload and round-trips it", async () => {
  const inner = json(Note, "note");
  const codec = gzip(inner);
  assert.equal(codec.contentType, "application/gzip");
  const plain = await inner.encode(NOTE);
  const packed = await codec.encode(NOTE);
  assert.deepEqual([packed[0], packed[1]], [0x1f, 0x8b]);
  assert.ok(
    packed.length * 5 < plain.length,
    `${packed.length} bytes should be far fewer than ${plain.length}`,
  );
  assert.deepEqual(await codec.decode(packed), NOTE);
});

test("gzip() is plain gzip: zlib (as Python's gzip module) reads it and writes it", async () => {
  const codec = gzip(json(Note));
  const packed = await codec.encode(NOTE);
  assert.deepEqual(JSON.parse(fromUtf8(gunzipSync(packed))), NOTE);
  // What Python walnats' GZipSerializer sends: gzip.compress(data, 9).
  const fromPython = gzipSync(utf8.encode(JSON.stringify(NOTE)), { level: 9 });
  assert.deepEqual(await codec.decode(new Uint8Array(fromPython)), NOTE);
});

test("gzip() rejects corrupt, truncated and uncompressed data", async () => {
  const codec = gzip(json(Note));
  const packed = await codec.encode(NOTE);

  const flipped = packed.slice();
  flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
  await assert.rejects(
    async () => await codec.decode(flipped),
    isDecodeError(/^Cannot decode a payload: corrupt or truncated gzip data/),
  );
  await assert.rejects(
    async () => await codec.decode(packed.subarray(0, packed.length - 6)),
    isDecodeError(/corrupt or truncated gzip data/),
  );
  await assert.rejects(
    async () => await codec.decode(packed.subarray(0, 10)),
    isDecodeError(/corrupt or truncated gzip data/),
  );
  await assert.rejects(
    async () => await codec.decode(utf8.encode(JSON.stringify(NOTE))),
    isDecodeError(/not gzip data/),
  );
  await assert.rejects(
    async () => await codec.decode(new Uint8Array()),
    isDecodeError(/not gzip data/),
  );
});

test("gzip() with minSize stores small payloads as they are, unambiguously", async () => {
  const codec = gzip(bytes(), { minSize: 64 });
  const small = utf8.encode("short");
  assert.deepEqual(await codec.encode(small), small);
  assert.deepEqual(await roundTrip(codec, small), small);
  const big = utf8.encode("x".repeat(1000));
  const packedBig = await codec.encode(big);
  assert.deepEqual([packedBig[0], packedBig[1]], [0x1f, 0x8b]);
  assert.ok(packedBig.length < 100);
  assert.deepEqual(await codec.decode(packedBig), big);
  // Small, but starts with the gzip magic bytes: compressed anyway.
  const magic = new Uint8Array([0x1f, 0x8b, 1, 2, 3]);
  const packedMagic = await codec.encode(magic);
  assert.notDeepEqual(packedMagic, magic);
  assert.deepEqual(await codec.decode(packedMagic), magic);
});

test("gzip() refuses payloads that inflate past maxSize", async () => {
  const bomb = await gzip(bytes()).encode(new Uint8Array(1_000_000));
  assert.ok(bomb.length < 2000);
  const guarded = gzip(bytes(), { maxSize: 100_000 });
  await assert.rejects(
    async () => await guarded.decode(bomb),
    isDecodeError(/decompresses to more than maxSize \(100000 bytes\)/),
  );
  assert.equal((await gzip(bytes()).decode(bomb)).length, 1_000_000);
});

test("gzip() checks its options when created", () => {
  assert.throws(
    () => gzip(bytes(), { minSize: -1 }),
    (error: Error) =>
      error instanceof RangeError &&
      error.message ===
        "Cannot create gzip codec: minSize must be a non-negative integer (bytes), got -1",
  );
  assert.throws(() => gzip(bytes(), { maxSize: 1.5 }), RangeError);
});
