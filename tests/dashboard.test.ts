// The dashboard's handler, called directly with `new Request(...)` and
// served over real HTTP, against a real nats-server in a known state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as v from "valibot";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Actor, Event, silentLogger, status } from "../mod.ts";
import {
  type ActionRecord,
  type Dashboard,
  dashboard,
  nodeListener,
} from "../src/dashboard/mod.ts";
import { ASSETS } from "../src/dashboard/_assets.ts";
import { main } from "../src/cli/main.ts";
import { listPaused, upsertSchedule } from "../src/ops/mod.ts";
import { Service, Services } from "../src/services/services.ts";
import {
  connectActors,
  NatsServer,
  rawConnect,
  settled,
  uniq,
  waitFor,
} from "./_helpers.ts";
import { BILL, NOTIFY, PACK, PLACED, scenario, SHIPPED } from "./_scenario.ts";

const TOKEN = "s3cret-token-for-tests-0123456789";

function get(d: Dashboard, path: string, init?: RequestInit) {
  return d(new Request(`http://localhost${path}`, init));
}

function post(
  d: Dashboard,
  path: string,
  body: unknown,
  token: string | null = TOKEN,
  type = "application/json",
) {
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
function actorRow(page: string, event: string, actor: string): string {
  const start = page.indexOf(
    `<tr data-actor="${actor}" data-event="${event}">`,
  );
  assert.ok(start >= 0, `no row for ${event}/${actor}`);
  return page.slice(start, page.indexOf("</tr>", start));
}

function eventRow(page: string, event: string): string {
  const start = page.indexOf(`<tr data-event="${event}">`);
  assert.ok(start >= 0, `no row for event ${event}`);
  return page.slice(start, page.indexOf("</tr>", start));
}

/** A number in a `data-field` of a row. */
function field(row: string, name: string): number {
  const m = new RegExp(`data-field="${name}"[^>]*>([\\d,]+)<`).exec(row);
  assert.ok(m, `no field ${name} in ${row}`);
  return Number(m[1]!.replaceAll(",", ""));
}

function assertSecure(res: Response): void {
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.match(csp, /frame-ancestors 'none'/);
}

/** No inline script, no inline style, nothing from another origin. */
function assertSelfContained(page: string): void {
  for (const m of page.matchAll(/<script\b[^>]*>/g)) {
    assert.match(m[0], /\bsrc="\/[^"]*"/, `inline script: ${m[0]}`);
  }
  assert.doesNotMatch(page, /\sstyle=/, "inline style attribute");
  assert.doesNotMatch(page, /<style\b/, "inline style element");
  assert.doesNotMatch(
    page,
    /<[a-z][^>]*\son[a-z]+\s*=/i,
    "inline event handler",
  );
  assert.doesNotMatch(page, /(src|href|action)="(https?:)?\/\//);
}

async function deadLetterCount(
  nc: Parameters<typeof status>[0],
  event: string,
): Promise<number> {
  const s = await status(nc);
  return s.events.find((e) => e.name === event)?.deadLetters ?? 0;
}

test("dashboard() refuses unsafe or incomplete options", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  try {
    assert.throws(() => dashboard({}), /exactly one of nc .* and server/);
    assert.throws(
      () => dashboard({ nc, server: server.url }),
      /exactly one of nc/,
    );
    assert.throws(
      () => dashboard({ nc, readOnly: false }),
      (e: Error) =>
        e instanceof TypeError && /no token is given/.test(e.message),
    );
    assert.throws(
      () => dashboard({ nc, readOnly: false, token: "short" }),
      (e: Error) =>
        e instanceof RangeError &&
        /5 characters long, at least 16/.test(e.message),
    );
    for (const prefix of ["ops", "/ops/", "/o ps", "/<x>"]) {
      assert.throws(() => dashboard({ nc, prefix }), /prefix must be/, prefix);
    }
    assert.throws(() => dashboard({ nc, refresh: 0 }), RangeError);
    assert.throws(() => dashboard({ nc, history: -1 }), RangeError);
  } finally {
    await nc.close();
  }
});

test("the overview shows the numbers status() reports, self-contained and secure", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc });
  const res = await get(d, "/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/html; charset=utf-8/);
  assertSecure(res);
  const page = await res.text();
  assertSelfContained(page);
  const report = await status(sys.nc);
  assert.equal(report.actors.length, 3);
  for (const a of report.actors) {
    const row = actorRow(page, a.event, a.name);
    for (
      const f of [
        "pending",
        "ackPending",
        "redelivered",
        "waiting",
        "deadLetters",
        "delayed",
      ] as const
    ) {
      assert.equal(field(row, f), a[f], `${a.name} ${f}`);
    }
    assert.match(row, a.paused ? /paused/ : /running/);
  }
  for (const e of report.events) {
    const row = eventRow(page, e.name);
    assert.equal(field(row, "messages"), e.messages, `${e.name} messages`);
    assert.equal(field(row, "deadLetters"), e.deadLetters);
    assert.equal(field(row, "lastSequence"), e.lastSequence);
    assert.equal(field(row, "consumers"), e.consumers);
  }
  // Known values of the scenario, so the comparison above is not vacuous.
  assert.equal(field(actorRow(page, PLACED.name, PACK.name), "pending"), 3);
  assert.equal(field(actorRow(page, PLACED.name, BILL.name), "deadLetters"), 1);
  assert.equal(
    field(actorRow(page, SHIPPED.name, NOTIFY.name), "redelivered"),
    1,
  );
  assert.match(page, /data-total="pending">4</);
  // Read-only by default: no token form, no action buttons.
  assert.match(page, /Read-only: actions are off/);
  assert.doesNotMatch(page, /data-action=/);
  // The JSON behind it is status() itself.
  const api = await (await get(d, "/api/status")).json();
  assert.deepEqual(api.actors, report.actors);
  // The live part alone, for the page's refresh.
  const partial = await (await get(d, "/partial/overview")).text();
  assert.ok(!partial.includes("<html"));
  assert.equal(field(actorRow(partial, PLACED.name, PACK.name), "pending"), 3);
});

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

test("payloads, headers, errors and names are shown as text, never as markup", async () => {
  await using server = await NatsServer.start();
  const EV = new Event(uniq("evil"), v.object({ n: v.number() }));
  const A = new Actor("take", EV, () => {
    throw new Error('<img src=x onerror="alert(1)">');
  }, { maxAttempts: 1 });
  await using app = await connectActors(server, A);
  const XSS = "<script>alert(1)</script>";
  const h = natsHeaders();
  h.set("X-Note", `"><script>alert(2)</script>`);
  // A poison payload (not JSON) and a valid one that makes the handler throw.
  await app.pub.js.publish(EV.subject, new TextEncoder().encode(XSS), {
    headers: h,
  });
  await app.pub.emit(EV, { n: 1 });
  await app.sub.listen({ burst: true, batch: 10, logger: silentLogger });
  await settled(app.sub.nc, EV.stream, "take");
  // A foreign consumer whose name is markup (the server allows it).
  const jsm = await jetstreamManager(app.sub.nc);
  let evilName: string | undefined = `x"<b>'&`;
  try {
    await jsm.consumers.add(EV.stream, {
      durable_name: evilName,
      ack_policy: "explicit" as never,
    });
  } catch {
    evilName = undefined;
  }
  await using d = dashboard({ nc: app.sub.nc });
  const pages = [
    await (await get(d, "/")).text(),
    await (await get(d, `/dead-letters?event=${EV.name}`)).text(),
    await (await get(d, `/dead-letter?event=${EV.name}&seq=1`)).text(),
    await (await get(d, `/dead-letter?event=${EV.name}&seq=2`)).text(),
    await (await get(d, `/actor?event=${EV.name}&name=take`)).text(),
  ];
  for (const page of pages) {
    assert.doesNotMatch(page, /<script>alert/);
    assert.doesNotMatch(page, /<img src=x/);
    assert.doesNotMatch(page, /<b>/);
    assertSelfContained(page);
  }
  const poison = pages[2]!;
  assert.match(poison, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(poison, /&quot;&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;/);
  const thrown = pages[3]!;
  assert.match(thrown, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
  assert.match(pages[4]!, /&lt;img src=x onerror/, "recent failures");
  if (evilName !== undefined) {
    assert.match(pages[0]!, /x&quot;&lt;b&gt;&#39;&amp;/);
  }
  // Query parameters echoed back in errors are escaped too.
  const missing = await get(
    d,
    `/dead-letters?event=${encodeURIComponent(XSS)}`,
  );
  assert.equal(missing.status, 404);
  const text = await missing.text();
  assert.doesNotMatch(text, /<script>alert/);
  assert.match(text, /&lt;script&gt;/);
  await jsm.streams.delete(EV.stream);
});

/** Read server-sent events until `until` matches one; returns them all. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (e: { event: string; data: string }) => boolean,
  timeout = 10_000,
): Promise<{ event: string; data: string }[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const seen: { event: string; data: string }[] = [];
  let buffer = "";
  const deadline = Date.now() + timeout;
  try {
    while (Date.now() < deadline) {
      const timer = new Promise<"timeout">((r) =>
        setTimeout(() => r("timeout"), Math.max(1, deadline - Date.now()))
      );
      const next = await Promise.race([reader.read(), timer]);
      if (next === "timeout") break;
      if (next.done) break;
      buffer += decoder.decode(next.value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? "message";
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (data === undefined) continue;
        const e = { event, data };
        seen.push(e);
        if (until(e)) return seen;
      }
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(
    `no matching server-sent event; saw ${JSON.stringify(seen)}`,
  );
}

test("the live feed delivers an emitted event as a server-sent event", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc });
  const feedPage = await (await get(d, "/feed")).text();
  assert.match(
    feedPage,
    /<ol id="feed" class="feed" data-source="\/api\/feed"/,
  );
  const controller = new AbortController();
  const res = await get(d, "/api/feed", { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  assertSecure(res);
  const body = res.body!;
  const ready = await readEvents(body, (e) => e.event === "ready");
  assert.deepEqual(JSON.parse(ready.at(-1)!.data).subjects, [
    PLACED.name,
    SHIPPED.name,
  ]);
  await sys.pub.emit(SHIPPED, { n: 42 }, { uid: "feed-test-1" });
  const got = await readEvents(body, (e) => e.event === "message");
  const item = JSON.parse(got.at(-1)!.data);
  assert.equal(item.event, SHIPPED.name);
  assert.equal(item.kind, "text");
  assert.deepEqual(JSON.parse(item.data), { n: 42 });
  assert.equal(item.headers["Nats-Msg-Id"], "feed-test-1");
  controller.abort();
  await body.cancel().catch(() => {});
  // A browser connecting later gets what the buffer kept.
  const again = new AbortController();
  const res2 = await get(d, "/api/feed", { signal: again.signal });
  const replayed = await readEvents(res2.body!, (e) => e.event === "message");
  assert.equal(JSON.parse(replayed.at(-1)!.data).id, item.id);
  again.abort();
  await res2.body!.cancel().catch(() => {});
});

test("the feed cuts large payloads and sends binary as base64", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc });
  const controller = new AbortController();
  const res = await get(d, "/api/feed", { signal: controller.signal });
  const body = res.body!;
  await readEvents(body, (e) => e.event === "ready");
  const js = jetstream(sys.nc);
  await js.publish(PLACED.subject, new Uint8Array([0xff, 0xfe, 0, 1]));
  await js.publish(
    PLACED.subject,
    new TextEncoder().encode("a".repeat(10_000)),
  );
  const got = await readEvents(
    body,
    (e) => e.event === "message" && JSON.parse(e.data).size === 10_000,
  );
  const items = got.filter((e) => e.event === "message").map((e) =>
    JSON.parse(e.data)
  );
  assert.equal(items[0].kind, "base64");
  assert.equal(items[0].data, "//4AAQ==");
  assert.equal(items[1].truncated, true);
  assert.equal(items[1].data.length, 4096);
  controller.abort();
  await body.cancel().catch(() => {});
});

test("mounted under a prefix, every link and asset is under it; assets are the embedded files", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc, prefix: "/ops" });
  const redirect = await get(d, "/ops");
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get("location"), "/ops/");
  assert.equal((await get(d, "/")).status, 404);
  assert.equal((await get(d, "/opsx/")).status, 404);
  const page = await (await get(d, "/ops/")).text();
  for (const m of page.matchAll(/(?:href|src|data-partial)="([^"]*)"/g)) {
    const url = m[1]!.replaceAll("&amp;", "&");
    if (url === "#main") continue;
    assert.ok(url.startsWith("/ops/"), `link outside the prefix: ${url}`);
  }
  for (const [name, asset] of Object.entries(ASSETS)) {
    const res = await get(d, `/ops/assets/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get("content-type"), asset.type);
    assertSecure(res);
    const onDisk = readFileSync(
      new URL(`../src/dashboard/assets/${name}`, import.meta.url),
      "utf8",
    );
    assert.equal(
      await res.text(),
      onDisk,
      `${name} differs from its file: run deno run -A tools/embed_dashboard.ts`,
    );
  }
  assert.equal((await get(d, "/ops/assets/../dashboard.ts")).status, 404);
  assert.equal((await get(d, "/ops/assets/nope.js")).status, 404);
  assert.equal((await get(d, "/ops/no-such-page")).status, 404);
  const head = await get(d, "/ops/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
});

test("the hosts option answers only to the listed host names", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  try {
    await using d = dashboard({ nc, hosts: ["localhost", "127.0.0.1"] });
    assert.equal((await get(d, "/")).status, 200);
    const other = await d(new Request("http://attacker.example/"));
    assert.equal(other.status, 421);
  } finally {
    await nc.close();
  }
});

test("the actor page compares the consumer with the code and lists recent failures", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  const jsm = await jetstreamManager(sys.nc);
  await jsm.consumers.update(PLACED.stream, BILL.name, { max_ack_pending: 7 });
  await using coded = dashboard({ nc: sys.nc, actors: [BILL, PACK, NOTIFY] });
  const page =
    await (await get(coded, `/actor?event=${PLACED.name}&name=${BILL.name}`))
      .text();
  assert.match(page, /<h1>Actor bill-order<\/h1>/);
  assert.match(
    page,
    /<tr\s+class="differs"\s*>\s*<th scope="row"><code>max_ack_pending<\/code><\/th>\s*<td>7<\/td>\s*<td>1000<\/td>/,
  );
  assert.match(page, /differs from the code in 1 field/);
  assert.match(page, /Error: card declined/, "its dead letter's error");
  assert.match(page, /data-field="deadLetters"><a [^>]*>1</);
  const overview = await (await get(coded, "/")).text();
  assert.match(actorRow(overview, PLACED.name, BILL.name), /differs \(1\)/);
  // Without code, the server's side only.
  await using plain = dashboard({ nc: sys.nc });
  const bare =
    await (await get(plain, `/actor?event=${PLACED.name}&name=${BILL.name}`))
      .text();
  assert.match(bare, /was not given this actor's code/);
  assert.match(bare, /<code>max_ack_pending<\/code><\/th>\s*<td>7<\/td>/);
  assert.equal(
    (await get(plain, `/actor?event=${PLACED.name}&name=nobody`)).status,
    404,
  );
});

test("dead letter pages: list, one in full, errors for what does not exist", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc });
  const index = await (await get(d, "/dead-letters")).text();
  assert.equal(field(eventRow(index, PLACED.name), "deadLetters"), 1);
  const list = await (await get(
    d,
    `/dead-letters?event=${PLACED.name}&actor=${BILL.name}`,
  ))
    .text();
  assert.match(list, /data-field="total">1</);
  assert.match(list, /<tr data-sequence="1">/);
  assert.doesNotMatch(list, /data-action/, "read-only: no buttons");
  const one = await (await get(d, `/dead-letter?event=${PLACED.name}&seq=1`))
    .text();
  assert.match(one, /<pre class="box" id="error">Error: card declined<\/pre>/);
  assert.match(
    one,
    /<pre class="box" id="payload">\{\n {2}&quot;n&quot;: 1\n\}<\/pre>/,
  );
  assert.match(one, /<code>Nats-Msg-Id<\/code>/);
  assert.equal(
    (await get(d, `/dead-letter?event=${PLACED.name}&seq=9`)).status,
    404,
  );
  assert.equal(
    (await get(d, `/dead-letter?event=${PLACED.name}&seq=x`)).status,
    400,
  );
  assert.equal(
    (await get(d, `/dead-letters?event=${PLACED.name}&from=-1`)).status,
    400,
  );
  assert.equal(
    (await get(d, `/dead-letters?event=${PLACED.name}&actor=nobody`)).status,
    404,
  );
});

test("schedules and the architecture of a Services", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await upsertSchedule(sys.nc, {
    id: "nightly",
    event: PLACED.name,
    cron: "0 3 * * *",
    timeZone: "Europe/Paris",
    message: { n: 7 },
  });
  const services = new Services(
    new Service("shop", { emits: [PLACED, SHIPPED] }),
    new Service("back-office", { actors: [BILL, PACK, NOTIFY] }),
  );
  await using d = dashboard({ nc: sys.nc, services });
  const schedules = await (await get(d, "/schedules")).text();
  assert.match(schedules, /<tr data-schedule="nightly">/);
  assert.match(schedules, /cron <code>0 3 \* \* \*<\/code>/);
  assert.match(schedules, /Europe\/Paris/);
  const arch = await (await get(d, "/architecture")).text();
  assertSelfContained(arch);
  assert.match(arch, /<pre class="box" id="mermaid">flowchart/);
  assert.match(arch, /--&gt;/, "the diagram is escaped text");
  assert.match(arch, /&quot;asyncapi&quot;: &quot;3\.0\.0&quot;/);
  const doc = await (await get(d, "/api/asyncapi.json")).json();
  assert.equal(doc.asyncapi, "3.0.0");
  assert.ok(doc.channels[PLACED.name]);
  // With a Services, the actors' code is known: configurations are checked.
  const overview = await (await get(d, "/")).text();
  assert.match(actorRow(overview, PLACED.name, BILL.name), /badge ok">matches/);
  await using none = dashboard({ nc: sys.nc });
  assert.equal((await get(none, "/architecture")).status, 404);
  assert.doesNotMatch(await (await get(none, "/")).text(), /Architecture/);
});

test("the overview's charts come from periodic samples", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({ nc: sys.nc, refresh: 100 });
  await d.sample();
  for (let n = 0; n < 5; n++) await sys.pub.emit(PLACED, { n: 100 + n });
  await waitFor(async () => {
    const page = await (await get(d, "/")).text();
    return /aria-label="emits of shop\.order-placed over the last \d+ (?:seconds|minutes): now [\d.]+\/s, min [\d.]+\/s, max (?!0\/s)[\d.]+\/s"/
      .test(page);
  }, { what: "an emit rate above zero in the chart" });
  const page = await (await get(d, "/")).text();
  const lag =
    /aria-label="lag of pack-order over the last \d+ (?:seconds|minutes): now (\d+), min (\d+), max (\d+)"/
      .exec(page);
  assert.ok(lag, "a lag chart for pack-order");
  assert.equal(Number(lag[1]), 8, "3 + 5 new");
  assert.equal(Number(lag[2]), 3);
  assert.match(page, /<svg class="chart"[^>]*role="img"/);
});

test("a dashboard given a server connects on first use and closes its connection", async () => {
  await using server = await NatsServer.start();
  await using _sys = await scenario(server);
  const d = dashboard({ server: server.url });
  const page = await (await get(d, "/")).text();
  assert.equal(field(actorRow(page, PLACED.name, PACK.name), "pending"), 3);
  await d.close();
  assert.equal((await get(d, "/")).status, 503);
  // The leak check after the test fails if its connection were still open.
});

test("a NATS server that is down gives an error page, not an exception", async () => {
  await using server = await NatsServer.start();
  const nc = await rawConnect(server);
  await using d = dashboard({ nc, timeout: 500 });
  await nc.close();
  const res = await get(d, "/");
  assert.equal(res.status, 503);
  assert.match(await res.text(), /role="alert"/);
  const api = await get(d, "/api/status");
  assert.equal(api.status, 503);
  assert.ok((await api.json()).error);
});

test("served over HTTP by node:http (nodeListener), Deno.serve or Bun.serve", async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  await using d = dashboard({
    nc: sys.nc,
    prefix: "/ops",
    readOnly: false,
    token: TOKEN,
  });
  const servers: { name: string; url: string; stop: () => Promise<void> }[] =
    [];
  const http = createServer(nodeListener(d));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  servers.push({
    name: "node:http",
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    stop: () => {
      http.closeAllConnections?.();
      return new Promise((r) => http.close(() => r()));
    },
  });
  const g = globalThis as {
    Deno?: {
      serve(o: unknown, h: unknown): {
        addr: { port: number };
        shutdown(): Promise<void>;
      };
    };
    Bun?: {
      serve(o: unknown): { port: number; stop(force?: boolean): unknown };
    };
  };
  if (g.Deno !== undefined) {
    const s = g.Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      d,
    );
    servers.push({
      name: "Deno.serve",
      url: `http://127.0.0.1:${s.addr.port}`,
      stop: () => s.shutdown(),
    });
  }
  if (g.Bun !== undefined) {
    const s = g.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: d });
    servers.push({
      name: "Bun.serve",
      url: `http://127.0.0.1:${s.port}`,
      stop: async () => {
        await s.stop(true);
      },
    });
  }
  try {
    for (const s of servers) {
      const page = await fetch(`${s.url}/ops/`);
      assert.equal(page.status, 200, s.name);
      assertSecure(page);
      const text = await page.text();
      assert.equal(field(actorRow(text, PLACED.name, PACK.name), "pending"), 3);
      const denied = await fetch(`${s.url}/ops/api/pause`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: "Bearer x",
        },
        body: JSON.stringify({ actor: PACK.name }),
      });
      assert.equal(denied.status, 401, s.name);
      await denied.body?.cancel();
      const paused = await fetch(`${s.url}/ops/api/pause`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${TOKEN}`,
        },
        body: JSON.stringify({ actor: PACK.name }),
      });
      assert.equal(paused.status, 200, s.name);
      await paused.body?.cancel();
      await post(d, "/ops/api/resume", { actor: PACK.name });
      // The feed streams over the real connection.
      const controller = new AbortController();
      const feed = await fetch(`${s.url}/ops/api/feed`, {
        signal: controller.signal,
      });
      await readEvents(feed.body!, (e) => e.event === "ready");
      await sys.pub.emit(SHIPPED, { n: 7 }, { uid: `over-${s.name}` });
      await readEvents(
        feed.body!,
        (e) =>
          e.event === "message" &&
          JSON.parse(e.data).headers["Nats-Msg-Id"] === `over-${s.name}`,
      );
      controller.abort();
      await feed.body!.cancel().catch(() => {});
    }
  } finally {
    for (const s of servers) await s.stop();
  }
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) },
  };
}

test("walnats dashboard serves the dashboard until stopped, actions only with the admin token", async () => {
  await using server = await NatsServer.start();
  await using _sys = await scenario(server);
  const { out, err, io } = capture();
  const controller = new AbortController();
  const running = main(
    [
      "dashboard",
      "--port",
      "0",
      "--server",
      server.url,
      "--prefix",
      "/ops",
      "--refresh",
      "1s",
    ],
    io,
    {
      signal: controller.signal,
      env: (n) => n === "WALNATS_DASHBOARD_TOKEN" ? TOKEN : undefined,
    },
  );
  try {
    const line = await waitFor(
      () => out.find((l) => l.startsWith("dashboard on ")),
      {
        what: () => `the URL in ${JSON.stringify([...out, ...err])}`,
      },
    );
    const m =
      /^dashboard on (http:\/\/127\.0\.0\.1:\d+\/ops\/) \(actions need the admin token\)$/
        .exec(line);
    assert.ok(m, line);
    const page = await fetch(m[1]!);
    assert.equal(page.status, 200);
    assertSecure(page);
    const text = await page.text();
    assert.equal(field(actorRow(text, PLACED.name, PACK.name), "pending"), 3);
    const replay = await fetch(`${m[1]}api/replay`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${TOKEN}`,
      },
      body: JSON.stringify({ event: PLACED.name, sequences: [1] }),
    });
    assert.deepEqual(await replay.json(), { replayed: 1, remaining: 0 });
    assert.ok(
      err.some((l) => / replay event=shop\.order-placed count=1$/.test(l)),
      err.join("\n"),
    );
  } finally {
    controller.abort();
  }
  assert.equal(await running, 0);
  assert.ok(err.includes("dashboard stopped"));
});

test("walnats dashboard refuses bad options and says why", async () => {
  await using server = await NatsServer.start();
  const cases: [string[], number, RegExp][] = [
    [["--admin-token", "short"], 2, /at least 16 characters/],
    [["--read-only", "--admin-token", TOKEN], 2, /not both/],
    [["--port", "99999"], 2, /--port must be 0 to 65535/],
    [["--prefix", "ops/"], 2, /--prefix must be a path/],
    [["--export", "x"], 2, /--export goes with --services/],
    [["--refresh", "soon"], 2, /--refresh must be a duration/],
    [["--services", "./no-such-module.ts"], 1, /cannot import/],
  ];
  for (const [args, code, message] of cases) {
    const { err, io } = capture();
    assert.equal(
      await main(["dashboard", "--server", server.url, ...args], io),
      code,
      args.join(" "),
    );
    assert.match(err.join("\n"), message);
  }
  const { err, io } = capture();
  assert.equal(
    await main(
      ["dashboard", "--port", "0", "--server", "nats://127.0.0.1:1"],
      io,
    ),
    1,
  );
  assert.match(err.join("\n"), /cannot connect to nats:\/\/127\.0\.0\.1:1/);
});
