// The dashboard's handler, called directly with `new Request(...)` and
// served over real HTTP, against a real nats-server in a known state.
// Here: options, the overview and the pages; the actions are in
// dashboard_actions.test.ts, the feed and serving in dashboard_serve.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Actor, Event, silentLogger, status } from "../mod.ts";
import { dashboard } from "../src/dashboard/mod.ts";
import { ASSETS } from "../src/dashboard/_assets.ts";
import { upsertSchedule } from "../src/ops/mod.ts";
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
import { actorRow, assertSecure, field, get } from "./_dashboard.ts";

function eventRow(page: string, event: string): string {
  const start = page.indexOf(`<tr data-event="${event}">`);
  assert.ok(start >= 0, `no row for event ${event}`);
  return page.slice(start, page.indexOf("</tr>", start));
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
