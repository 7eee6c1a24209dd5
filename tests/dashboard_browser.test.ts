// The dashboard in a real browser: `walnats dashboard` serving a system in
// a known state on a loopback port, headless Chromium driven by
// playwright-core. Skipped, saying so, where Chromium is not installed.
//
// WALNATS_SCREENSHOTS=1 writes the screenshots to docs/images/ (commit
// them); otherwise they go to a temporary directory and are only checked
// to be PNG images.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { jetstream } from "@nats-io/jetstream";
import { Actor, Actors, Event, Events, silentLogger, status } from "../mod.ts";
import { main } from "../src/cli/main.ts";
import { NatsServer, waitFor } from "./_helpers.ts";
import { PACK, PLACED, scenario, SHIPPED } from "./_scenario.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TOKEN = "browser-test-token-0123456789";
const skip = existsSync(CHROMIUM)
  ? false
  : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
// deno-lint-ignore no-console -- the skip must be visible in the output
if (skip) console.log(`SKIP dashboard_browser.test.ts: ${skip}`);

test(
  "the dashboard in headless Chromium: lag, replay by clicking, live feed, escaping",
  {
    skip,
    timeout: 120_000,
  },
  async () => {
    const { chromium } = await import("playwright-core");
    await using server = await NatsServer.start();
    await using sys = await scenario(server);
    // A poison message whose payload is a script, dead-lettered.
    const EVIL = new Event("shop.order-noted", v.object({ note: v.string() }));
    const NOTE = new Actor("note-order", EVIL, () => {}, { maxAttempts: 1 });
    {
      await using pub = await new Events(EVIL).connect(server.url);
      await pub.register();
      await using sub = await new Actors(NOTE).connect(server.url);
      await sub.register();
      await jetstream(sys.nc).publish(
        EVIL.subject,
        new TextEncoder().encode("<script>window.__pwned = 1</script>"),
      );
      await sub.listen({ burst: true, batch: 10, logger: silentLogger });
    }
    const out: string[] = [];
    const err: string[] = [];
    const controller = new AbortController();
    const running = main([
      "dashboard",
      "--port",
      "0",
      "--server",
      server.url,
      "--admin-token",
      TOKEN,
      "--refresh",
      "1s",
    ], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    }, {
      signal: controller.signal,
      env: () => undefined,
    });
    const shots = process.env.WALNATS_SCREENSHOTS === "1"
      ? fileURLToPath(new URL("../docs/images/", import.meta.url))
      : mkdtempSync(join(tmpdir(), "walnats-shots-"));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
      ],
    });
    try {
      const line = await waitFor(
        () => out.find((l) => l.startsWith("dashboard on ")),
        { what: () => `the dashboard's URL in ${[...out, ...err].join("\n")}` },
      );
      const base = /^dashboard on (\S+)/.exec(line)![1]!;
      const origin = new URL(base).origin;
      // Some traffic for the charts: a few emits a second for a few seconds.
      for (let i = 0; i < 4; i++) {
        for (let n = 0; n < 3 + i; n++) {
          await sys.pub.emit(PLACED, { n: 10 + n });
        }
        await new Promise((r) => setTimeout(r, 1100));
      }

      const page = await browser.newPage({
        viewport: { width: 1366, height: 800 },
      });
      // Generous: the machine running the tests may be busy.
      page.setDefaultTimeout(60_000);
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(String(e)));
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      page.on("dialog", (d) => d.accept());

      // The overview: actors and their lag, as status() says.
      await page.goto(base);
      const lagOf = (actor: string) =>
        page.locator(`tr[data-actor="${actor}"] [data-field="pending"]`);
      const report = await status(sys.nc);
      const pack = report.actors.find((a) => a.name === PACK.name)!;
      assert.equal(
        (await lagOf(PACK.name).textContent())?.trim(),
        String(pack.pending),
      );
      assert.ok(pack.pending >= 3);
      assert.equal(
        await page.locator("#actors tbody tr").count(),
        report.actors.length,
      );
      // Charts drawn from samples.
      await page.locator("#actors svg.chart").first().waitFor();
      await page.screenshot({
        path: join(shots, "dashboard-overview.png"),
        fullPage: true,
      });

      // The token, entered in the page (kept in this tab only).
      await page.fill("#token", TOKEN);
      await page.click("#token-form button[type=submit]");
      await page.locator("#token-state", { hasText: "token accepted" })
        .waitFor();

      // Pause by keyboard: focus the button, press Enter.
      const pause = page.locator(
        `tr[data-actor="${PACK.name}"] button[data-action="pause"]`,
      );
      await pause.focus();
      await page.keyboard.press("Enter");
      await page.locator(`tr[data-actor="${PACK.name}"] .badge.warn`, {
        hasText: "paused",
      }).waitFor();
      await page.locator(
        `tr[data-actor="${PACK.name}"] button[data-action="resume"]`,
      )
        .click();
      await page.locator(`tr[data-actor="${PACK.name}"] .badge.ok`, {
        hasText: "running",
      }).waitFor();

      // Dead letters: replay #1 of order-placed by clicking; the count drops.
      const deadCell = page.locator(
        `tr[data-event="${PLACED.name}"] [data-field="deadLetters"]`,
      ).first();
      assert.equal((await deadCell.textContent())?.trim(), "1");
      await page.click(
        `a[href="/dead-letters?event=${PLACED.name}&actor=bill-order"]`,
      );
      await page.locator("#dead-letters tr[data-sequence='1']").waitFor();
      await page.screenshot({
        path: join(shots, "dashboard-dead-letters.png"),
        fullPage: true,
      });
      await page.click("#dead-letters button[data-action='replay']");
      await page.locator("#none").waitFor();
      await page.goto(base);
      assert.equal(
        (await page.locator(
          `tr[data-actor="bill-order"] [data-field="deadLetters"]`,
        )
          .textContent())?.trim(),
        "0",
      );

      // The script payload is shown as text and never runs.
      await page.goto(`${base}dead-letter?event=${EVIL.name}&seq=1`);
      assert.equal(
        (await page.locator("#payload").textContent())?.trim(),
        "<script>window.__pwned = 1</script>",
      );
      assert.equal(
        await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
        undefined,
      );

      // The live feed: an event emitted now appears.
      await page.goto(`${base}feed`);
      await page.locator("#feed-state", { hasText: /Watching \d+ event/ })
        .waitFor();
      await sys.pub.emit(SHIPPED, { n: 4242 }, { uid: "browser-live-1" });
      const item = page.locator("#feed li", { hasText: '"n":4242' });
      await item.waitFor();
      assert.match((await item.textContent()) ?? "", /shop\.order-shipped/);
      await page.screenshot({ path: join(shots, "dashboard-feed.png") });

      // Nothing was blocked by the CSP, nothing left this machine.
      assert.deepEqual(problems, []);
      assert.ok(requests.length > 5);
      for (const url of requests) {
        assert.equal(new URL(url).origin, origin, `request to ${url}`);
      }
      for (
        const name of ["dashboard-overview.png", "dashboard-dead-letters.png"]
      ) {
        const png = readFileSync(join(shots, name));
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], name);
      }
    } finally {
      await browser.close();
      controller.abort();
      assert.equal(await running, 0);
      if (process.env.WALNATS_SCREENSHOTS !== "1") {
        rmSync(shots, { recursive: true, force: true });
      }
    }
  },
);
