// The dashboard's actions (replay, delete, pause, resume), called directly
// with `new Request(...)` against a real nats-server: read-only refusals,
// the token check, and what each does and audits.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import { Actor, Event, silentLogger, status } from "../mod.ts";
import { type ActionRecord, dashboard } from "../src/dashboard/mod.ts";
import { listPaused } from "../src/ops/mod.ts";
import { connectActors, NatsServer, uniq, waitFor } from "./_helpers.ts";
import { PACK, PLACED, scenario } from "./_scenario.ts";
import { actorRow, assertSecure, get, post, TOKEN } from "./_dashboard.ts";

async function deadLetterCount(
  nc: Parameters<typeof status>[0],
  event: string,
): Promise<number> {
  const s = await status(nc);
  return s.events.find((e) => e.name === event)?.deadLetters ?? 0;
}
test("a read-only dashboard refuses every action with 403 and changes nothing", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  // A token alone does not enable actions.
  await using d = dashboard({ nc: sys.nc, token: TOKEN });
  const body = { event: PLACED.name, sequences: [1] };
  for (const path of ["/api/replay", "/api/delete"]) {
    const res = await post(d, path, body);
    assert.equal(res.status, 403, path);
    assertSecure(res);
    assert.match((await res.json()).error, /read-only/);
  }
  for (const path of ["/api/pause", "/api/resume"]) {
    assert.equal((await post(d, path, { actor: PACK.name })).status, 403);
  }
  assert.equal((await post(d, "/api/delete", { all: true })).status, 403);
  assert.equal(await deadLetterCount(sys.nc, PLACED.name), 1);
  assert.deepEqual(await listPaused(sys.nc), []);
  // Actions are never GET.
  const res = await get(d, "/api/replay");
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST");
  // Pages are never POST.
  assert.equal((await post(d, "/", {})).status, 405);
});

test("actions need the right token: none or a wrong one gets 401", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc, readOnly: false, token: TOKEN });
  const body = { event: PLACED.name, sequences: [1] };
  const tries: (string | null)[] = [
    null,
    "",
    "wrong",
    `${TOKEN}x`,
    TOKEN.slice(0, -1),
    TOKEN.toUpperCase(),
  ];
  for (const token of tries) {
    for (const path of ["/api/replay", "/api/delete", "/api/pause"]) {
      const res = await post(d, path, body, token);
      assert.equal(res.status, 401, `${path} with ${token}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
  }
  // A cookie or a query parameter is not a token.
  const res = await d(
    new Request(`http://localhost/api/replay?token=${TOKEN}`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `token=${TOKEN}` },
      body: JSON.stringify(body),
    }),
  );
  assert.equal(res.status, 401);
  assert.equal(await deadLetterCount(sys.nc, PLACED.name), 1);
  // The right token, but not JSON (a cross-site form post): refused.
  assert.equal(
    (await post(
      d,
      "/api/replay",
      "event=x",
      TOKEN,
      "application/x-www-form-urlencoded",
    ))
      .status,
    415,
  );
  assert.equal((await post(d, "/api/replay", "{nope")).status, 400);
  assert.equal((await post(d, "/api/replay", "[1]")).status, 400);
  assert.equal(
    (await post(d, "/api/replay", "x".repeat(70_000))).status,
    413,
  );
  assert.equal((await post(d, "/api/token", {})).status, 200);
  assert.equal((await post(d, "/api/token", {}, "nope-nope")).status, 401);
  assert.equal(await deadLetterCount(sys.nc, PLACED.name), 1);
});

test("with the token, dead letters are replayed and deleted, and audited", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("charge"), v.object({ n: v.number() }));
  // Fails every time, on its only attempt: each run makes dead letters.
  const A = new Actor("charge-card", EV, () => {
    throw new Error("card declined");
  }, { maxAttempts: 1 });
  await using app = await connectActors(server, A);
  const nc = app.sub.nc;
  const run = async (expected: number) => {
    await app.sub.listen({ burst: true, batch: 10, logger: silentLogger });
    await waitFor(
      async () => (await deadLetterCount(nc, EV.name)) === expected,
      {
        what: `${expected} dead letter(s)`,
      },
    );
  };
  await app.pub.emit(EV, { n: 1 });
  await run(1);
  const audit: ActionRecord[] = [];
  await using d = dashboard({
    nc,
    readOnly: false,
    token: TOKEN,
    actors: [A],
    onAction: (r) => audit.push(r),
  });
  const page = await (await get(d, "/")).text();
  assert.match(page, /id="token-form"/);
  assert.match(page, /data-action="pause"/);
  const list = await (await get(d, `/dead-letters?event=${EV.name}`)).text();
  assert.match(
    list,
    /data-action="replay"\s+data-event="[^"]+"\s+data-sequence="1"/,
  );
  assert.match(list, /data-action="replay-all"/);
  const before = (await status(nc)).events.find((e) => e.name === EV.name)!;

  // Bad requests do nothing.
  const bad: [unknown, number][] = [
    [{ event: EV.name, sequences: [99] }, 404],
    [{ event: EV.name, sequences: [1, 99] }, 404], // all or nothing
    [{ event: "no-such", sequences: [1] }, 404],
    [{ event: EV.name, actor: "other", sequences: [1] }, 404],
    [{ sequences: [1] }, 400],
    [{ event: EV.name }, 400],
  ];
  for (const sequences of [[], [0], [-1], ["1"], [1.5], "1"]) {
    bad.push([{ event: EV.name, sequences }, 400]);
  }
  for (const [body, code] of bad) {
    for (const path of ["/api/replay", "/api/delete"]) {
      const res = await post(d, path, body);
      assert.equal(res.status, code, `${path} ${JSON.stringify(body)}`);
      assert.ok((await res.json()).error);
    }
  }
  for (const limit of [0, -1, 1.5, "x"]) {
    const res = await post(d, "/api/replay", {
      event: EV.name,
      all: true,
      limit,
    });
    assert.equal(res.status, 400, `limit ${limit}`);
  }
  assert.equal(await deadLetterCount(nc, EV.name), 1);

  const replay = await post(d, "/api/replay", {
    event: EV.name,
    sequences: [1],
  });
  assert.equal(replay.status, 200);
  assert.deepEqual(await replay.json(), { replayed: 1, remaining: 0 });
  const after = (await status(nc)).events.find((e) => e.name === EV.name)!;
  assert.equal(after.deadLetters, 0);
  assert.equal(after.lastSequence, before.lastSequence + 1, "emitted again");

  // The actor fails it again: dead again, then deleted.
  await run(1);
  const seq =
    (await jetstreamManager(nc).then((jsm) =>
      jsm.streams.info(`walnats_dlq_${EV.stream}`)
    )).state.last_seq;
  assert.equal(seq, 2);
  const del = await post(d, "/api/delete", {
    event: EV.name,
    sequences: [seq],
  });
  assert.deepEqual(await del.json(), { deleted: 1, remaining: 0 });
  assert.equal(await deadLetterCount(nc, EV.name), 0);

  // Replay all and delete all work in batches, saying what is left.
  for (let n = 2; n <= 4; n++) await app.pub.emit(EV, { n });
  await run(3);
  const some = await post(d, "/api/replay", {
    event: EV.name,
    actor: A.name,
    all: true,
    limit: 2,
  });
  assert.deepEqual(await some.json(), { replayed: 2, remaining: 1 });
  const rest = await post(d, "/api/delete", { event: EV.name, all: true });
  assert.deepEqual(await rest.json(), { deleted: 1, remaining: 0 });

  assert.deepEqual(
    audit.map(({ action, event, actor, count }) => ({
      action,
      event,
      actor,
      count,
    })),
    [
      { action: "replay", event: EV.name, actor: undefined, count: 1 },
      { action: "delete", event: EV.name, actor: undefined, count: 1 },
      { action: "replay", event: EV.name, actor: A.name, count: 2 },
      { action: "delete", event: EV.name, actor: undefined, count: 1 },
    ],
  );
  assert.ok(audit.every((r) => !Number.isNaN(Date.parse(r.time))));
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(EV.stream);
});

test("pause and resume an actor through the dashboard", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc, readOnly: false, token: TOKEN });
  assert.equal(
    (await post(d, "/api/pause", { actor: "nobody" })).status,
    404,
    "only actors that exist",
  );
  assert.equal((await post(d, "/api/pause", {})).status, 400);
  const res = await post(d, "/api/pause", { actor: PACK.name });
  assert.equal(res.status, 200);
  assert.deepEqual((await listPaused(sys.nc)).map((p) => p.actor), [
    PACK.name,
  ]);
  const page = await (await get(d, "/")).text();
  const row = actorRow(page, PLACED.name, PACK.name);
  assert.match(row, /badge warn">paused/);
  assert.match(row, /data-action="resume"/);
  assert.match((await get(d, "/")).headers.get("content-type")!, /html/);
  const resumed = await post(d, "/api/resume", { actor: PACK.name });
  assert.deepEqual(await resumed.json(), { resumed: true });
  assert.deepEqual(await listPaused(sys.nc), []);
});
