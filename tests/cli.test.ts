import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import { Actor, Actors, Event, Events, silentLogger } from "../mod.ts";
import { main } from "../src/cli/main.ts";
import { NatsServer, waitFor } from "./_helpers.ts";
import { currentRuntime, runtimeArgs } from "./_process.ts";
import { PLACED, scenario, SHIPPED } from "./_scenario.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) },
  };
}

const ENTRY = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const BIN = fileURLToPath(new URL("../bin/walnats.mjs", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The CLI as a process on the runtime running the tests. */
function cli(
  args: string[],
  options: { script?: string; onStderr?: (text: string) => void } = {},
): { done: Promise<Run>; kill: () => void } {
  let cmd: string;
  let argv: string[];
  if (options.script === BIN && currentRuntime().name === "node") {
    // The bin loads tsx itself, as it does for a user.
    [cmd, argv] = [process.execPath, [BIN]];
  } else {
    [cmd, argv] = runtimeArgs(options.script ?? ENTRY);
  }
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: "1",
  };
  delete env.NATS_URL;
  const start = performance.now();
  const proc = spawn(cmd, [...argv, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on(
    "data",
    (c: Uint8Array) => (stdout += new TextDecoder().decode(c)),
  );
  proc.stderr!.on("data", (c: Uint8Array) => {
    stderr += new TextDecoder().decode(c);
    options.onStderr?.(stderr);
  });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const done = new Promise<Run>((resolve) =>
    proc.once("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: performance.now() - start });
    })
  );
  // process.kill, not proc.kill: Deno reports a child it was asked to kill
  // as killed by the signal even when the child handled it and exited 0.
  return { done, kill: () => process.kill(proc.pid!, "SIGINT") };
}

test("the CLI lists, shows, replays and deletes dead letters without the schema", async () => {
  await using server = await NatsServer.start();
  const EV = new Event("billing.invoice-paid", v.object({ n: v.number() }));
  let broken = true;
  const handled: number[] = [];
  const A = new Actor("book-invoice", EV, ({ n }) => {
    if (broken) throw new Error("ledger offline");
    handled.push(n);
  }, { maxAttempts: 1 });
  await using pub = await new Events(EV).connect(server.url);
  await pub.register();
  await using sub = await new Actors(A).connect(server.url);
  await sub.register();
  for (const n of [1, 2, 3]) await pub.emit(EV, { n });
  await sub.listen({ burst: true, batch: 10, logger: silentLogger });

  const base = ["--server", server.url];
  const list = capture();
  assert.equal(
    await main(["dead-letters", "list", EV.name, "--json", ...base], list.io),
    0,
  );
  const letters = JSON.parse(list.out.join("\n"));
  assert.equal(letters.length, 3);
  assert.equal(letters[0].actor, "book-invoice");
  assert.equal(letters[0].reason, "exhausted");
  assert.equal(letters[0].error, "Error: ledger offline");
  assert.equal(letters[0].data, '{"n":1}');
  assert.equal(letters[0].subject, EV.name);

  const limited = capture();
  await main(
    ["dead-letters", "list", EV.name, "--limit", "2", ...base],
    limited.io,
  );
  assert.equal(limited.out.length, 2);
  assert.match(
    limited.out[0]!,
    /^#1 .* actor=book-invoice reason=exhausted attempts=1/,
  );
  assert.equal(
    limited.err.at(-1),
    `2 of 3 dead letter(s) of event "${EV.name}" (--limit to see more)`,
  );

  const show = capture();
  assert.equal(
    await main(["dead-letters", "show", EV.name, "1", ...base], show.io),
    0,
  );
  assert.ok(
    show.out.includes("  error:     Error: ledger offline"),
    show.out.join("\n"),
  );
  assert.ok(show.out.includes('  payload:   {"n":1}'));

  const del = capture();
  assert.equal(
    await main(
      ["dead-letters", "delete", EV.name, "--sequence", "1", ...base],
      del.io,
    ),
    0,
  );
  assert.deepEqual(del.out, [`deleted 1 dead letter(s) of event "${EV.name}"`]);
  const gone = capture();
  assert.equal(
    await main(
      ["dead-letters", "delete", EV.name, "--sequence", "1", ...base],
      gone.io,
    ),
    1,
  );
  assert.match(
    gone.err[0]!,
    /no dead letter #1 of event "billing.invoice-paid"/,
  );

  broken = false;
  const replay = capture();
  assert.equal(
    await main(
      ["dead-letters", "replay", EV.name, "--actor", "book-invoice", ...base],
      replay.io,
    ),
    0,
  );
  assert.deepEqual(replay.out, [
    `replayed 2 dead letter(s) of event "${EV.name}" and actor "book-invoice"`,
  ]);
  assert.deepEqual(replay.err, ["replaying: 1/2", "replaying: 2/2"]);
  const report = await sub.listen({ burst: true, batch: 10 });
  assert.equal(report.succeeded, 2);
  assert.deepEqual(handled.sort(), [2, 3]);
  const none = capture();
  assert.equal(
    await main(["dead-letters", "list", EV.name, "--json", ...base], none.io),
    0,
  );
  assert.deepEqual(none.out, ["[]"]);
});

test("the CLI says which event or actor is unknown, and suggests the nearest", async () => {
  await using server = await NatsServer.start();
  await using _sys = await scenario(server);
  const base = ["--server", server.url];
  const event = capture();
  assert.equal(
    await main(["dead-letters", "list", "shop.order-placd", ...base], event.io),
    1,
  );
  assert.deepEqual(event.err, [
    'walnats dead-letters: unknown event "shop.order-placd": no walnats stream for it on the server; did you mean "shop.order-placed"?',
  ]);
  const actor = capture();
  assert.equal(
    await main([
      "dead-letters",
      "list",
      PLACED.name,
      "--actor",
      "bill-ordr",
      ...base,
    ], actor.io),
    1,
  );
  assert.match(
    actor.err[0]!,
    /unknown actor "bill-ordr" of event "shop.order-placed"; did you mean "bill-order"\? \(actors: bill-order, pack-order\)/,
  );
  const badName = capture();
  assert.equal(
    await main(["dead-letters", "list", "bad name", ...base], badName.io),
    2,
  );
  assert.match(badName.err[0]!, /"bad name" is not a valid event name/);
  assert.doesNotMatch(badName.err.join("\n"), /walnats_dlq/);
  const pause = capture();
  assert.equal(await main(["pause", "pack-ordr", ...base], pause.io), 1);
  assert.match(
    pause.err[0]!,
    /unknown actor "pack-ordr".*did you mean "pack-order"/,
  );
});

test("the CLI explains bad usage", async () => {
  const none = capture();
  assert.equal(await main([], none.io), 2);
  assert.match(none.err[0]!, /^usage: walnats <command>/);
  const help = capture();
  assert.equal(await main(["help"], help.io), 0);
  assert.match(help.out[0]!, /^usage: walnats <command>/);
  const helpStatus = capture();
  assert.equal(await main(["help", "status"], helpStatus.io), 0);
  assert.match(helpStatus.out[0]!, /^usage: walnats status/);
  for (
    const name of [
      "status",
      "monitor",
      "dead-letters",
      "schedules",
      "pause",
      "resume",
      "events",
      "actors",
      "asyncapi",
      "diagram",
    ]
  ) {
    const c = capture();
    assert.equal(await main([name, "--help"], c.io), 0, name);
    assert.match(c.out[0]!, new RegExp(`^usage: walnats ${name}`), name);
  }
  const typo = capture();
  assert.equal(await main(["dead-leters", "list"], typo.io), 2);
  assert.match(
    typo.err[0]!,
    /unknown command "dead-leters"; did you mean "dead-letters"\?/,
  );
  const sub = capture();
  assert.equal(await main(["dead-letters", "lst", "x"], sub.io), 2);
  assert.match(
    sub.err[0]!,
    /unknown dead-letters command "lst"; did you mean "list"\?/,
  );
  const flag = capture();
  assert.equal(await main(["status", "--jsno"], flag.io), 2);
  assert.match(
    flag.err[0]!,
    /unknown option "--jsno"; did you mean "--json"\?/,
  );
  const noSeq = capture();
  assert.equal(await main(["dead-letters", "delete", "x"], noSeq.io), 2);
  assert.match(
    noSeq.err[0]!,
    /delete needs --sequence N \(repeatable\) or --all/,
  );
  const limit = capture();
  assert.equal(
    await main(["dead-letters", "list", "x", "--limit", "0"], limit.io),
    2,
  );
  assert.match(limit.err[0]!, /--limit must be a positive integer/);
  const auth = capture();
  assert.equal(await main(["status", "--user", "u"], auth.io), 2);
  assert.match(auth.err[0]!, /--user and --password go together/);
  const every = capture();
  assert.equal(
    await main(
      ["schedules", "add", "x", "--event", "e", "--every", "soon"],
      every.io,
    ),
    2,
  );
  assert.match(every.err[0]!, /--every must be a duration/);
});

test(`the CLI runs as a program on ${currentRuntime().name}: help, exit codes, a server that is down`, async () => {
  const help = await cli(["--help"]).done;
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: walnats <command>/);
  const usage = await cli([]).done;
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^usage: walnats <command>/);
  const typo = await cli(["stauts"]).done;
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /did you mean "status"\?/);
  const bin = await cli(["help", "monitor"], { script: BIN }).done;
  assert.equal(bin.code, 0, bin.stderr);
  assert.match(bin.stdout, /^usage: walnats monitor/);

  // Refused: nothing listens on the port.
  const refused = await cli(["status", "--server", "nats://127.0.0.1:1"]).done;
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr.trim(),
    "walnats status: cannot connect to nats://127.0.0.1:1: connection refused: is nats-server running on that address?",
  );
  // A black hole: accepts the connection and never speaks.
  const hole = createServer(() => {});
  await new Promise<void>((r) => hole.listen(0, "127.0.0.1", r));
  try {
    const port = (hole.address() as { port: number }).port;
    const silent = await cli(["events", "--server", `nats://127.0.0.1:${port}`])
      .done;
    assert.equal(silent.code, 1);
    assert.equal(silent.stderr.trim().split("\n").length, 1, silent.stderr);
    assert.match(
      silent.stderr,
      /^walnats events: cannot connect to nats:\/\/127\.0\.0\.1:\d+: /,
    );
    // 2 s connect timeout plus the runtime's start; generous for a busy machine.
    assert.ok(silent.ms < 15_000, `took ${silent.ms} ms`);
    // deno-lint-ignore no-console -- the measured figures, for the report
    console.log(
      `[cli] refused: ${Math.round(refused.ms)} ms, silent server: ${
        Math.round(silent.ms)
      } ms`,
    );
  } finally {
    hole.close();
  }
});

test(`status --json from the CLI equals the server's consumer info (${currentRuntime().name})`, async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  const run = await cli(["status", "--json", "--server", server.url]).done;
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  const jsm = await jetstreamManager(sys.nc);
  assert.equal(report.actors.length, 3);
  for (const a of report.actors) {
    const info = await jsm.consumers.info(a.stream, a.name);
    assert.equal(a.pending, info.num_pending, `${a.name} pending`);
    assert.equal(a.ackPending, info.num_ack_pending, `${a.name} ack pending`);
    assert.equal(a.redelivered, info.num_redelivered, `${a.name} redelivered`);
    assert.equal(a.waiting, info.num_waiting, `${a.name} waiting`);
  }
  const by = Object.fromEntries(
    report.actors.map((a: { name: string }) => [a.name, a]),
  );
  assert.equal(by["pack-order"].pending, 3);
  assert.equal(by["bill-order"].deadLetters, 1);
  assert.equal(by["notify-customer"].ackPending, 1);
  assert.equal(by["notify-customer"].redelivered, 1);
  assert.deepEqual(report.events.map((e: { name: string }) => e.name), [
    PLACED.name,
    SHIPPED.name,
  ]);

  const table = await cli(["status", "--server", server.url]).done;
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^EVENT\s+STREAM\s+MESSAGES/m);
  assert.match(
    table.stdout,
    /^pack-order\s+shop\.order-placed\s+3\s+0\s+0\s+0\s+0\s+0\s+no/m,
  );
  const watch = await cli([
    "status",
    "--watch",
    "--count",
    "2",
    "--interval",
    "100ms",
    "--server",
    server.url,
  ]).done;
  assert.equal(watch.code, 0, watch.stderr);
  assert.equal(watch.stdout.match(/^--- /gm)?.length, 2);

  const events = await cli(["events", "--json", "--server", server.url]).done;
  assert.equal(events.code, 0, events.stderr);
  assert.deepEqual(
    JSON.parse(events.stdout).map((
      e: { event: string; messages: number },
    ) => [e.event, e.messages]),
    [[PLACED.name, 3], [SHIPPED.name, 2]],
  );
  const actors = await cli(["actors", PLACED.name, "--server", server.url])
    .done;
  assert.equal(actors.code, 0, actors.stderr);
  assert.match(
    actors.stdout,
    /^bill-order\s+shop\.order-placed\s+0\s+0\s+16000 ms\s+3\s+1000/m,
  );

  const paused = await cli(["pause", "pack-order", "--server", server.url])
    .done;
  assert.equal(paused.code, 0, paused.stderr);
  assert.equal(
    (await sys.sub.status()).actors.find((a) => a.name === "pack-order")!
      .paused,
    true,
  );
  const resumed = await cli(["resume", "pack-order", "--server", server.url])
    .done;
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(
    (await sys.sub.status()).actors.find((a) => a.name === "pack-order")!
      .paused,
    false,
  );

  const add = await cli([
    "schedules",
    "add",
    "nightly",
    "--event",
    PLACED.name,
    "--cron",
    "0 3 * * *",
    "--message",
    '{"n":0}',
    "--server",
    server.url,
  ]).done;
  assert.equal(add.code, 0, add.stderr);
  const listed = await cli([
    "schedules",
    "list",
    "--json",
    "--server",
    server.url,
  ]).done;
  assert.deepEqual(JSON.parse(listed.stdout), [
    { id: "nightly", event: PLACED.name, cron: "0 3 * * *", message: { n: 0 } },
  ]);
  const removed = await cli([
    "schedules",
    "remove",
    "nightly",
    "--server",
    server.url,
  ]).done;
  assert.equal(removed.code, 0, removed.stderr);
});

test(`monitor shows emitted events (${currentRuntime().name})`, async () => {
  await using server = await NatsServer.start();
  await using sys = await scenario(server);
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  const monitor = cli([
    "monitor",
    PLACED.name,
    "--count",
    "2",
    "--server",
    server.url,
  ], {
    onStderr: (text) => {
      if (text.includes("monitoring")) ready();
    },
  });
  await started;
  await sys.pub.emit(PLACED, { n: 41 }, { uid: "order-41" });
  await sys.pub.emit(SHIPPED, { n: 1 });
  await sys.pub.emit(PLACED, { n: 42 });
  const run = await monitor.done;
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 2, run.stdout);
  assert.match(lines[0]!, /^\S+Z shop\.order-placed id=order-41 \{"n":41\}$/);
  // Without a uid, an acknowledged emit carries a generated id.
  assert.match(lines[1]!, /^\S+Z shop\.order-placed id=\S+ \{"n":42\}$/);
  assert.match(run.stderr, /2 message\(s\) seen/);

  // Ctrl-C stops it cleanly.
  let live!: () => void;
  const liveStarted = new Promise<void>((r) => (live = r));
  const forever = cli(["monitor", "--json", "--server", server.url], {
    onStderr: (text) => {
      if (text.includes("monitoring")) live();
    },
  });
  await liveStarted;
  await sys.pub.emit(SHIPPED, { n: 7 });
  await waitFor(() => true);
  forever.kill();
  const stopped = await forever.done;
  assert.equal(stopped.code, 0, stopped.stderr);
});

test(`dead-letters replay reports progress (${currentRuntime().name})`, async () => {
  await using server = await NatsServer.start();
  const EV = new Event("jobs.import-row", v.object({ n: v.number() }));
  const A = new Actor("import-row", EV, () => {
    throw new Error("schema drift");
  }, { maxAttempts: 1, maxJobs: 40 });
  await using pub = await new Events(EV).connect(server.url);
  await pub.register();
  await using sub = await new Actors(A).connect(server.url);
  await sub.register();
  await pub.emitMany(EV, Array.from({ length: 40 }, (_, n) => ({ n })));
  await sub.listen({
    burst: true,
    batch: 40,
    maxJobs: 40,
    logger: silentLogger,
  });
  assert.equal((await sub.status()).actors[0]!.deadLetters, 40);
  const run = await cli([
    "dead-letters",
    "replay",
    EV.name,
    "--server",
    server.url,
  ]).done;
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout.trim(),
    `replayed 40 dead letter(s) of event "${EV.name}"`,
  );
  const steps = run.stderr.trim().split("\n");
  assert.deepEqual(
    steps,
    [4, 8, 12, 16, 20, 24, 28, 32, 36, 40].map((n) => `replaying: ${n}/40`),
  );
  const after = await sub.status();
  assert.equal(after.actors[0]!.deadLetters, 0);
  assert.equal(after.actors[0]!.pending, 40);
});

test(`asyncapi and diagram read a Services module (${currentRuntime().name})`, async () => {
  const module = fileURLToPath(
    new URL("./fixtures/services_module.ts", import.meta.url),
  );
  const doc = await cli(["asyncapi", module, "--title", "shop"]).done;
  assert.equal(doc.code, 0, doc.stderr);
  const parsed = JSON.parse(doc.stdout);
  assert.equal(parsed.asyncapi, "3.0.0");
  assert.equal(parsed.info.title, "shop");
  assert.equal(
    parsed.channels["shop.order-placed"].address,
    "shop.order-placed",
  );
  const d2 = await cli(["diagram", module, "--format", "d2"]).done;
  assert.equal(d2.code, 0, d2.stderr);
  assert.match(d2.stdout, /bill-order/);
  const missing = await cli(["diagram", "./no/such/module.ts"]).done;
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^walnats diagram: cannot import \.\/no\/such\/module\.ts/,
  );
});
