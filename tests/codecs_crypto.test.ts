// Signed, encrypted and binary codecs: hmac(), encrypt(), msgpack(), how
// they nest with the others, and tampered payloads on a real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  Actors,
  DecodeError,
  Event,
  Events,
  ValidationError,
} from "../mod.ts";
import {
  bytes,
  type Codec,
  encrypt,
  gzip,
  hmac,
  json,
} from "../src/codecs/mod.ts";
import { msgpack } from "../src/codecs/msgpack.ts";
import {
  deferred,
  listenInBackground,
  NatsServer,
  settled,
  waitFor,
} from "./_helpers.ts";
import {
  fromUtf8,
  isDecodeError,
  NOTE,
  Note,
  roundTrip,
  utf8,
} from "./_codecs.ts";

const hex = (data: Uint8Array) =>
  Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string) =>
  Uint8Array.from(s.match(/../g)!, (h) => Number.parseInt(h, 16));

/**
 * Decoding `encoded` fails as `expected` once a bit is flipped at any of
 * `offsets`, or once its last byte is cut off.
 */
async function rejectsTampering<T>(
  codec: Codec<T, T>,
  encoded: Uint8Array,
  offsets: number[],
  expected: (error: unknown) => boolean,
): Promise<void> {
  for (const at of offsets) {
    const flipped = encoded.slice();
    flipped[at]! ^= 0x01;
    await assert.rejects(async () => await codec.decode(flipped), expected);
  }
  await assert.rejects(
    async () => await codec.decode(encoded.subarray(0, encoded.length - 1)),
    expected,
  );
}

// ---------------------------------------------------------------- bytes

// ----------------------------------------------------------------- hmac

const RFC4231_KEY = new Uint8Array(20).fill(0x0b);

test("hmac() puts the signature before the payload, as walnats' HMACSerializer does", async () => {
  // RFC 4231, test case 1.
  const sha256 = await hmac(bytes(), RFC4231_KEY).encode(
    utf8.encode("Hi There"),
  );
  assert.equal(
    hex(sha256.subarray(0, 32)),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  assert.equal(fromUtf8(sha256.subarray(32)), "Hi There");
  const sha512 = await hmac(bytes(), RFC4231_KEY, { hash: "SHA-512" }).encode(
    utf8.encode("Hi There"),
  );
  assert.equal(
    hex(sha512.subarray(0, 64)),
    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
  );
  // Python: hmac.digest(b"secret", b'{"id":1}', "sha512") + b'{"id":1}'
  const fromPython = new Uint8Array([
    ...fromHex(
      "9070c4e4408579cf05c4bdfe6127331b906dd742965b87ad0aca6a0c0698ade2edb35c13614219208a3e8a73d67aa6bce68f9be6a1c48e51d68fbe557832a781",
    ),
    ...utf8.encode('{"id":1}'),
  ]);
  const codec = hmac(json(v.object({ id: v.number() })), "secret", {
    hash: "SHA-512",
  });
  assert.deepEqual(await codec.decode(fromPython), { id: 1 });
  assert.deepEqual(await codec.encode({ id: 1 }), fromPython);
});

test("hmac() round-trips what it signed, with any key form", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    raw,
    { name: "HMAC", hash: "SHA-384" },
    false,
    ["sign", "verify"],
  );
  for (
    const codec of [
      hmac(json(Note), "a passphrase"),
      hmac(json(Note), raw),
      hmac(json(Note), cryptoKey),
      hmac(json(Note), raw, { hash: "SHA-512" }),
    ]
  ) {
    assert.equal(codec.contentType, "application/octet-stream");
    assert.deepEqual(await roundTrip(codec, NOTE), NOTE);
  }
  // A CryptoKey brings its own hash: SHA-384 makes a 48-byte signature.
  const signed = await hmac(bytes(), cryptoKey).encode(new Uint8Array([7]));
  assert.equal(signed.length, 49);
});

test("hmac() rejects tampered, truncated, unsigned and foreign payloads", async () => {
  const codec = hmac(json(Note), "key A");
  const signed = await codec.encode(NOTE);
  const mismatch = isDecodeError(
    /^Cannot decode a payload: the HMAC-SHA256 signature does not match/,
  );

  await rejectsTampering(
    codec,
    signed,
    [0, 31, 32, signed.length - 1],
    mismatch,
  );
  await assert.rejects(
    async () => await codec.decode(signed.subarray(0, 31)),
    isDecodeError(/signature does not match.*too short to hold a 32-byte/),
  );
  await assert.rejects(
    async () => await codec.decode(new Uint8Array()),
    mismatch,
  );
  // Not signed at all: the plain JSON.
  await assert.rejects(
    async () => await codec.decode(await json(Note).encode(NOTE)),
    mismatch,
  );
  // Signed with another key, or the same key and another hash.
  await assert.rejects(
    async () =>
      await codec.decode(await hmac(json(Note), "key B").encode(NOTE)),
    mismatch,
  );
  await assert.rejects(
    async () =>
      await codec.decode(
        await hmac(json(Note), "key A", { hash: "SHA-512" }).encode(NOTE),
      ),
    mismatch,
  );
});

test("hmac() accepts previousKeys for verifying only, to rotate a key", async () => {
  const before = hmac(json(Note), "old key");
  const after = hmac(json(Note), "new key", { previousKeys: ["old key"] });
  const old = await before.encode(NOTE);
  assert.deepEqual(await after.decode(old), NOTE);
  const fresh = await after.encode(NOTE);
  assert.deepEqual(await hmac(json(Note), "new key").decode(fresh), NOTE);
  await assert.rejects(async () => await before.decode(fresh), DecodeError);
});

test("hmac() checks its keys when created", async () => {
  assert.throws(
    () => hmac(bytes(), ""),
    (error: Error) =>
      error instanceof RangeError &&
      error.message === "Cannot create hmac codec: key is empty",
  );
  assert.throws(() => hmac(bytes(), 42 as unknown as string), TypeError);
  assert.throws(
    () => hmac(bytes(), "k", { hash: "MD5" as "SHA-256" }),
    /hash must be one of SHA-256, SHA-384, SHA-512, got MD5/,
  );
  const aes = await crypto.subtle.generateKey(
    { name: "AES-GCM", length: 128 },
    false,
    ["encrypt", "decrypt"],
  );
  assert.throws(
    () => hmac(bytes(), aes),
    /key is a AES-GCM CryptoKey, expected an HMAC key/,
  );
  const verifyOnly = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(32),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  assert.throws(() => hmac(bytes(), verifyOnly), /not usable to sign/);
  assert.doesNotThrow(() => hmac(bytes(), "k", { previousKeys: [verifyOnly] }));
  assert.throws(
    () => hmac(bytes(), "k", { hash: "SHA-512", previousKeys: [verifyOnly] }),
    /previousKeys\[0\] hashes with SHA-256, but the codec signs with SHA-512/,
  );
});

// -------------------------------------------------------------- encrypt

test("encrypt() round-trips with 128- and 256-bit keys in every form", async () => {
  const raw16 = crypto.getRandomValues(new Uint8Array(16));
  const raw32 = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...raw32));
  const base64url = base64.replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
  const cryptoKey = await crypto.subtle.generateKey(
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  for (const key of [raw16, raw32, base64, base64url, cryptoKey]) {
    const codec = encrypt(json(Note), key);
    assert.equal(codec.contentType, "application/octet-stream");
    assert.deepEqual(await roundTrip(codec, NOTE), NOTE);
  }
  // The base64 string and its raw bytes are the same key.
  const sealed = await encrypt(json(Note), base64).encode(NOTE);
  assert.deepEqual(await encrypt(json(Note), raw32).decode(sealed), NOTE);
  assert.deepEqual(await encrypt(json(Note), base64url).decode(sealed), NOTE);
});

test("encrypt() uses a fresh IV per message and hides the payload", async () => {
  const inner = json(Note);
  const codec = encrypt(inner, crypto.getRandomValues(new Uint8Array(32)));
  const a = await codec.encode(NOTE);
  const b = await codec.encode(NOTE);
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
  // IV (12) + ciphertext (same length as the plaintext) + tag (16).
  assert.equal(a.length, (await inner.encode(NOTE)).length + 28);
  assert.ok(!fromUtf8(a).includes("groceries"));
  assert.deepEqual(await codec.decode(a), NOTE);
  assert.deepEqual(await codec.decode(b), NOTE);
});

test("encrypt() rejects a wrong key, tampering, truncation and plaintext", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const codec = encrypt(json(Note), key);
  const sealed = await codec.encode(NOTE);
  const failed = isDecodeError(
    /^Cannot decode a payload: AES-GCM decryption failed/,
  );

  const other = encrypt(json(Note), crypto.getRandomValues(new Uint8Array(32)));
  await assert.rejects(async () => await other.decode(sealed), failed);
  await rejectsTampering(codec, sealed, [0, 11, 12, sealed.length - 1], failed);
  await assert.rejects(
    async () => await codec.decode(sealed.subarray(0, 27)),
    isDecodeError(/shorter than the 28 bytes of IV and tag/),
  );
  await assert.rejects(
    async () => await codec.decode(await json(Note).encode(NOTE)),
    failed,
  );
});

test("encrypt() binds additionalData and accepts previousKeys for rotation", async () => {
  const oldKey = crypto.getRandomValues(new Uint8Array(16));
  const newKey = crypto.getRandomValues(new Uint8Array(32));
  const forNotes = encrypt(json(Note), oldKey, { additionalData: "note" });
  const sealed = await forNotes.encode(NOTE);
  assert.deepEqual(await forNotes.decode(sealed), NOTE);
  await assert.rejects(
    async () =>
      await encrypt(json(Note), oldKey, { additionalData: "memo" }).decode(
        sealed,
      ),
    DecodeError,
  );
  await assert.rejects(
    async () => await encrypt(json(Note), oldKey).decode(sealed),
    DecodeError,
  );
  const rotated = encrypt(json(Note), newKey, {
    additionalData: utf8.encode("note"),
    previousKeys: [oldKey],
  });
  assert.deepEqual(await rotated.decode(sealed), NOTE);
  const fresh = await rotated.encode(NOTE);
  await assert.rejects(async () => await forNotes.decode(fresh), DecodeError);
});

test("encrypt() checks its keys when created", async () => {
  assert.throws(
    () => encrypt(bytes(), new Uint8Array(24)),
    (error: Error) =>
      error instanceof RangeError &&
      error.message ===
        "Cannot create encrypt codec: key must be 16 or 32 bytes (AES-128 or AES-256), got 24 bytes",
  );
  assert.throws(
    () => encrypt(bytes(), btoa("ten bytes!")),
    (error: Error) =>
      error instanceof RangeError && /got 10 bytes/.test(error.message),
  );
  assert.throws(
    () => encrypt(bytes(), "not base64 at all!"),
    (error: Error) =>
      error instanceof TypeError && /is not base64/.test(error.message),
  );
  assert.throws(() => encrypt(bytes(), ""), RangeError);
  assert.throws(() => encrypt(bytes(), 7 as unknown as string), TypeError);
  const hmacKey = await crypto.subtle.generateKey(
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  assert.throws(
    () => encrypt(bytes(), hmacKey),
    /key is a HMAC CryptoKey, expected an AES-GCM key/,
  );
  const decryptOnly = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(16),
    "AES-GCM",
    false,
    ["decrypt"],
  );
  assert.throws(() => encrypt(bytes(), decryptOnly), /not usable to encrypt/);
  assert.throws(
    () => encrypt(bytes(), new Uint8Array(16), { previousKeys: ["short"] }),
    /previousKeys\[0\]/,
  );
});

// ------------------------------------------------------------- nesting

test("wrappers nest: hmac(gzip(json)) and encrypt(gzip(json)) round-trip and validate", async () => {
  const signed = hmac(gzip(json(Note, "note")), "secret");
  assert.deepEqual(await roundTrip(signed, NOTE), NOTE);
  const sealed = encrypt(
    gzip(json(Note, "note")),
    crypto.getRandomValues(new Uint8Array(32)),
  );
  const data = await sealed.encode(NOTE);
  const plain = await json(Note).encode(NOTE);
  assert.ok(
    data.length * 3 < plain.length,
    `compressed before it was encrypted: ${data.length} of ${plain.length} bytes`,
  );
  assert.deepEqual(await sealed.decode(data), NOTE);
  // The innermost schema still guards both ends.
  for (const codec of [signed, sealed]) {
    await assert.rejects(
      async () => await codec.encode({ title: 1 } as unknown as Note),
      ValidationError,
    );
  }
  // A payload signed correctly but failing the schema is a ValidationError.
  const Loose = v.object({ title: v.number() });
  const looseSigned = await hmac(gzip(json(Loose)), "secret").encode({
    title: 1,
  });
  await assert.rejects(
    async () => await signed.decode(looseSigned),
    ValidationError,
  );
});

// -------------------------------------------------------------- msgpack

test("msgpack() with a schema round-trips and validates both ways", async () => {
  const Reading = v.object({
    sensor: v.string(),
    at: v.date(),
    value: v.number(),
    note: v.optional(v.string()),
    raw: v.instance(Uint8Array),
  });
  const codec = msgpack(Reading, "reading-taken");
  assert.equal(codec.contentType, "application/msgpack");
  const reading = {
    sensor: "t1",
    at: new Date("2024-05-06T07:08:09.123Z"),
    value: 21.5,
    note: undefined,
    raw: new Uint8Array([1, 2, 3]),
  };
  const back = await roundTrip(codec, reading);
  assert.ok(back.at instanceof Date);
  assert.equal(back.at.toISOString(), "2024-05-06T07:08:09.123Z");
  assert.ok(!("note" in back), "undefined fields are left out");
  assert.deepEqual(back, {
    sensor: "t1",
    at: reading.at,
    value: 21.5,
    raw: new Uint8Array([1, 2, 3]),
  });
  await assert.rejects(
    async () =>
      await codec.encode(
        { ...reading, value: "hot" } as unknown as typeof reading,
      ),
    (error: Error) =>
      error instanceof ValidationError &&
      /^Invalid payload for event "reading-taken": value: /.test(error.message),
  );
  const wrongShape = await msgpack().encode({ sensor: 1 });
  await assert.rejects(
    async () => await codec.decode(wrongShape),
    ValidationError,
  );
});

test("msgpack() applies the schema's transforms on decode", async () => {
  const Tagged = v.object({
    tags: v.pipe(v.string(), v.transform((s) => s.split(","))),
  });
  const codec = msgpack(Tagged);
  // The input type goes on the wire, the output type comes back.
  assert.deepEqual(await roundTrip(codec, { tags: "a,b" }), {
    tags: ["a", "b"],
  });
});

test("msgpack() without a schema carries any MessagePack value", async () => {
  const codec = msgpack();
  const value = { id: 1, nested: { list: [1, "two", null, true] }, n: -2.5 };
  assert.deepEqual(await roundTrip(codec, value), value);
  assert.deepEqual(await codec.encode(1), new Uint8Array([0x01]));
  assert.equal(await roundTrip(codec, "text"), "text");
  assert.equal(await roundTrip(codec, null), null);
  assert.throws(
    () => codec.encode({ f: () => 1 }),
    (error: Error) =>
      error instanceof ValidationError &&
      /cannot be encoded as MessagePack/.test(error.message),
  );
});

test("msgpack() rejects bytes that are not exactly one MessagePack value", async () => {
  const codec = msgpack(undefined, "reading-taken");
  const decodeFails = isDecodeError(
    /^Cannot decode a payload of "reading-taken": not valid MessagePack/,
  );
  for (
    const bad of [
      new Uint8Array(),
      new Uint8Array([0xc1]), // never used
      new Uint8Array([0x92, 0x01]), // array of 2 with 1 item
      new Uint8Array([0x01, 0x02]), // trailing bytes
    ]
  ) {
    await assert.rejects(async () => await codec.decode(bad), decodeFails);
  }
});

// ---------------------------------------------------------- end to end

test("encrypted events are handled, and a payload signed with another key is dead-lettered", async () => {
  await using server = await NatsServer.start();
  const Secret = v.object({ to: v.string(), text: v.string() });
  const key = crypto.getRandomValues(new Uint8Array(32));
  const SECRET_NOTE = new Event("secret-note", Secret, {
    codec: encrypt(gzip(json(Secret, "secret-note")), key),
  });
  const Signed = v.object({ amount: v.number() });
  // Two Event objects, one name: the subscriber's key and a forger's key.
  const PAYMENT = new Event("payment", Signed, {
    codec: hmac(json(Signed, "payment"), "key A"),
  });
  const FORGED_PAYMENT = new Event("payment", Signed, {
    codec: hmac(json(Signed, "payment"), "key B"),
  });

  const got = deferred<v.InferOutput<typeof Secret>>();
  const READ = new Actor("read-note", SECRET_NOTE, (note) => {
    got.resolve(note);
  });
  let paid = 0;
  const PAY = new Actor("pay", PAYMENT, () => {
    paid++;
  }, { maxAttempts: 5, retryDelay: [100] });

  await using pub = await new Events(SECRET_NOTE, FORGED_PAYMENT).connect(
    server.url,
  );
  await pub.register();
  await using sub = await new Actors(READ, PAY).connect(server.url);
  await sub.register();

  const note = { to: "ann", text: "the door code is 4711. ".repeat(20) };
  await pub.emit(SECRET_NOTE, note);
  await pub.emit(FORGED_PAYMENT, { amount: 1_000_000 });

  // What is stored on the stream is ciphertext.
  const jsm = await jetstreamManager(pub.nc);
  const stored = await jsm.streams.getMessage("secret-note", { seq: 1 });
  assert.ok(stored !== null);
  assert.ok(!fromUtf8(stored.data).includes("door code"));
  assert.deepEqual(await SECRET_NOTE.codec.decode(stored.data), note);

  await using listening = listenInBackground(sub, { pollDelay: 500 });
  assert.deepEqual(await got.promise, note);
  const letters = await waitFor(async () => {
    const found = await sub.deadLetters(PAY);
    return found.length > 0 ? found : undefined;
  }, { timeout: 30_000, what: "the forged payment to be dead-lettered" });
  assert.equal(letters.length, 1);
  const letter = letters[0]!;
  assert.equal(letter.reason, "poison");
  assert.equal(letter.event, "payment");
  assert.equal(letter.actor, "pay");
  assert.equal(letter.originalSequence, 1);
  assert.match(
    letter.error,
    /^DecodeError: Cannot decode a payload: the HMAC-SHA256 signature does not match/,
  );
  // The dead letter keeps the original bytes, signature and all.
  assert.deepEqual(await FORGED_PAYMENT.codec.decode(letter.data), {
    amount: 1_000_000,
  });
  for (
    const [stream, consumer] of [["payment", "pay"], [
      "secret-note",
      "read-note",
    ]]
  ) {
    await settled(sub.nc, stream!, consumer!, {
      timeout: 30_000,
      what: `consumer ${consumer} to be empty`,
    });
  }
  const report = await listening.stop();
  assert.equal(paid, 0, "the handler never saw the forged payment");
  assert.equal(report.succeeded, 1);
  assert.equal(report.deadLettered, 1);
  // The poison delivery failed, and was not retried.
  assert.equal(report.failed, 1);
  assert.equal(report.retried, 0);
});
