// deno-lint-ignore-file no-console -- a program: printing is its job
// 12: codecs: payloads other than plain JSON.
//
//   npx deno run -A examples/12_codecs.ts      (or: npx bun run, npx tsx)
//
// Uses NATS_URL when a server answers there, else a throwaway local
// nats-server; on your own server it removes its streams when done.
//
// Three events: MessagePack readings, notes compressed and encrypted with
// AES-GCM, and signed audit records. A forged audit record (right JSON, no
// valid signature) is poison: dead-lettered once, never handled. See
// docs/codecs.md.
import * as v from "valibot";
import { Actor, Actors, Event, Events, silentLogger } from "@walnats/walnats";
import { encrypt, gzip, hmac, json } from "@walnats/walnats/codecs";
import { msgpack } from "@walnats/walnats/msgpack";
import { exampleNats, leaveNothing } from "./_cleanup.ts";

const Reading = v.object({ sensor: v.string(), values: v.array(v.number()) });
const Note = v.object({ author: v.string(), body: v.string() });
const Audit = v.object({ who: v.string(), did: v.string() });
const key = crypto.getRandomValues(new Uint8Array(32));

const READING_TAKEN = new Event("example-reading-taken", msgpack(Reading));
const NOTE_SHARED = new Event("example-note-shared", Note, {
  codec: encrypt(gzip(json(Note)), key),
});
const AUDIT_LOGGED = new Event("example-audit-logged", Audit, {
  codec: hmac(json(Audit), "a shared secret"),
});

const CHART = new Actor("example-chart", READING_TAKEN, (r) => {
  console.log(`reading ${r.sensor}: ${r.values.join(", ")}`);
});
const READ = new Actor("example-read-note", NOTE_SHARED, (n) => {
  console.log(`note from ${n.author}: ${n.body}`);
});
const AUDIT = new Actor("example-audit", AUDIT_LOGGED, (a) => {
  console.log(`audit: ${a.who} ${a.did}`);
});

const { url, server } = await exampleNats();
try {
  await using pub = await new Events(READING_TAKEN, NOTE_SHARED, AUDIT_LOGGED)
    .connect(url);
  await using sub = await new Actors(CHART, READ, AUDIT).connect(url);
  // On your own server: remove what this example makes, when it ends.
  await using _made = await leaveNothing(sub.nc, server, {
    actors: [CHART, READ, AUDIT],
  });
  await sub.register({ events: true }); // the stream, then the consumer
  await pub.register(); // the event has an actor now

  await pub.emit(READING_TAKEN, { sensor: "t1", values: [21.5, 21.7] });
  await pub.emit(NOTE_SHARED, { author: "ann", body: "the code is 1234" });
  await pub.emit(AUDIT_LOGGED, { who: "ann", did: "read the note" });
  const wire = await NOTE_SHARED.codec.encode({ author: "a", body: "b" });
  console.log(`an encrypted note on the wire: ${wire.length} bytes`);
  // A forgery from a client without the key: JSON, but no signature.
  pub.nc.publish(AUDIT_LOGGED.subject, '{"who":"eve","did":"nothing"}');
  await pub.nc.flush();

  const report = await sub.listen({
    burst: true,
    batch: 5,
    logger: silentLogger,
  });
  console.log(
    `handled ${report.succeeded}, dead-lettered ${report.deadLettered}`,
  );
  const letters = await sub.deadLetters(AUDIT);
  console.log(`dead letter: ${letters[0]?.reason}: ${letters[0]?.error}`);
} finally {
  await server?.close();
}
