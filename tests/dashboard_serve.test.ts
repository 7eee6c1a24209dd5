// The dashboard's live feed (server-sent events), the dashboard served over
// real HTTP on each runtime, and the `walnats dashboard` command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { jetstream } from "@nats-io/jetstream";
import { dashboard, nodeListener } from "../src/dashboard/mod.ts";
import { main } from "../src/cli/main.ts";
import { NatsServer, waitFor } from "./_helpers.ts";
import { PACK, PLACED, scenario, SHIPPED } from "./_scenario.ts";
import {
  actorRow,
  assertSecure,
  field,
  get,
  post,
  TOKEN,
} from "./_dashboard.ts";

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
