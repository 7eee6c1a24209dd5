import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Actor, Actors, Event, Events, silentLogger } from "../mod.ts";
import { main } from "../src/cli.ts";
import { NatsServer } from "./_helpers.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) },
  };
}

test("the CLI lists, replays and deletes dead letters without the schema", async () => {
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

  const list = capture();
  const base = ["--server", server.url];
  assert.equal(
    await main(
      ["dead-letters", "list", "billing.invoice-paid", "--json", ...base],
      list.io,
    ),
    0,
  );
  assert.equal(list.out.length, 3);
  const first = JSON.parse(list.out[0]!);
  assert.equal(first.actor, "book-invoice");
  assert.equal(first.reason, "exhausted");
  assert.equal(first.error, "Error: ledger offline");
  assert.equal(first.data, '{"n":1}');
  assert.equal(first.subject, "billing.invoice-paid");

  const text = capture();
  await main(
    ["dead-letters", "list", "billing.invoice-paid", ...base],
    text.io,
  );
  assert.match(
    text.out[0]!,
    /^#1 .* actor=book-invoice reason=exhausted attempts=1/,
  );
  assert.match(text.err.at(-1)!, /3 dead letter\(s\)/);

  const del = capture();
  assert.equal(
    await main([
      "dead-letters",
      "delete",
      "billing.invoice-paid",
      "--sequence",
      String(first.sequence),
      ...base,
    ], del.io),
    0,
  );
  assert.deepEqual(del.out, [
    'deleted 1 dead letter(s) of "billing.invoice-paid"',
  ]);

  broken = false;
  const replay = capture();
  assert.equal(
    await main([
      "dead-letters",
      "replay",
      "billing.invoice-paid",
      "--actor",
      "book-invoice",
      ...base,
    ], replay.io),
    0,
  );
  assert.deepEqual(replay.out, [
    'replayed 2 dead letter(s) of "billing.invoice-paid"',
  ]);
  const report = await sub.listen({ burst: true, batch: 10 });
  assert.equal(report.succeeded, 2);
  assert.deepEqual(handled.sort(), [2, 3]);
  assert.equal((await sub.deadLetters(A)).length, 0);
});

test("the CLI explains bad usage and missing servers", async () => {
  const bad = capture();
  assert.equal(await main(["dead-letters", "explode", "x"], bad.io), 2);
  assert.match(bad.err[0]!, /unknown dead-letters command "explode"/);
  assert.match(bad.err[0]!, /usage: walnats dead-letters/);
  const noSeq = capture();
  assert.equal(await main(["dead-letters", "delete", "x"], noSeq.io), 2);
  assert.match(noSeq.err[0]!, /delete needs at least one --sequence/);
  const down = capture();
  assert.equal(
    await main(
      ["dead-letters", "list", "x", "--server", "nats://127.0.0.1:1"],
      down.io,
    ),
    1,
  );
  assert.match(down.err[0]!, /cannot connect/);
  const help = capture();
  assert.equal(await main(["--help"], help.io), 0);
  assert.match(help.out[0]!, /usage/);
});
