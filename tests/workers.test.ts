// Handlers in workers: typed messages and replies across the boundary, real
// cancellation at jobTimeout, crashes that fail only their job, reuse, and
// shutdown, for every isolation on every runtime (issue 16).
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import * as v from "valibot";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  Actor,
  type Context,
  Event,
  type FailureContext,
  type Isolation,
  JobTimeoutError,
  type Middleware,
  silentLogger,
  WorkerCrashedError,
  workerHandler,
} from "../mod.ts";
import { runningWorkers, WorkerPool } from "../src/workers/pool.ts";
import { assertNoLeaks } from "../src/testing/leaks.ts";
import type {
  crash,
  spin,
  square,
  whoAmI,
} from "./fixtures/workers/handlers.ts";
import {
  connectActors,
  deferred,
  listenInBackground,
  NatsServer,
  settled,
  uniq,
  waitFor,
} from "./_helpers.ts";
import { spawnScript } from "./_process.ts";

const HANDLERS = new URL("./fixtures/workers/handlers.ts", import.meta.url);
const BROKEN = new URL("./fixtures/workers/broken.ts", import.meta.url);
const isDeno = "Deno" in globalThis;
const isBun = "Bun" in globalThis;
const ISOLATIONS: Isolation[] = ["thread", "process"];

// Every test stops what it started: servers, connections, and workers.
afterEach(async () => {
  await assertNoLeaks();
  await waitFor(() => runningWorkers() === 0, {
    timeout: 5000,
    what: () => `${runningWorkers()} worker(s) still running after the test`,
  });
});

/** Failures and successes seen by the actor's middleware. */
function recorder(): {
  middleware: Middleware;
  failures: FailureContext[];
  successes: number[];
} {
  const failures: FailureContext[] = [];
  const successes: number[] = [];
  return {
    failures,
    successes,
    middleware: {
      onFailure: (ctx) => void failures.push(ctx),
      onSuccess: (ctx) => void successes.push(ctx.attempt),
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const isolation of ISOLATIONS) {
  test(`[${isolation}] a worker handler gets the typed message and context, and its return value reaches request()`, async () => {
    await using server = await NatsServer.start();
    const SQUARE = new Event(
      uniq("square"),
      v.object({ n: v.number(), label: v.string() }),
    ).withResponse(v.object({
      square: v.number(),
      label: v.string(),
      attempt: v.number(),
      sequence: v.number(),
      event: v.string(),
      actor: v.string(),
      traceId: v.optional(v.string()),
      header: v.optional(v.string()),
      timestamp: v.boolean(),
      signal: v.boolean(),
    }));
    // The exported function is checked against the event at compile time.
    const SQUARER = new Actor(
      "squarer",
      SQUARE,
      workerHandler<typeof square>(HANDLERS, "square"),
    );
    await using app = await connectActors(server, SQUARER);
    await using _listening = listenInBackground(app.sub, {
      pollDelay: 500,
      maxWorkers: 1,
      workers: { isolation },
      logger: silentLogger,
    });
    const first = await app.pub.request(SQUARE, { n: 7, label: "walnut" }, {
      timeout: 30_000,
    });
    assert.deepEqual(first, {
      square: 49,
      label: "WALNUT",
      attempt: 1,
      sequence: 1,
      event: SQUARE.name,
      actor: "squarer",
      timestamp: true,
      signal: true,
    });
    const second = await app.pub.request(SQUARE, { n: 3, label: "pecan" }, {
      traceId: "trace-1",
      meta: { "x-test": "hello" },
      timeout: 10_000,
    });
    assert.equal(second.square, 9);
    assert.equal(second.sequence, 2);
    assert.equal(second.traceId, "trace-1");
    assert.equal(second.header, "hello");
  });

  test(
    `[${isolation}] a handler stuck in a synchronous loop is terminated at its timeout and the message retried`,
    {
      // Deno's Worker.terminate() does not stop a synchronous loop: the
      // thread would keep spinning in the test process (docs/workers.md).
      skip: isDeno && isolation === "thread",
    },
    async () => {
      await using server = await NatsServer.start();
      const dir = mkdtempSync(join(tmpdir(), "walnats-spin-"));
      try {
        const pidFile = join(dir, "pid");
        const SPIN = new Event(uniq("spin"), v.object({ pidFile: v.string() }));
        const rec = recorder();
        const SPINNER = new Actor(
          "spinner",
          SPIN,
          workerHandler<typeof spin>(HANDLERS, "spin", { terminateGrace: 200 }),
          {
            jobTimeout: 6000,
            // Until the engine holds a slot until its handler settled, a
            // retry could start while the stuck worker still has its grace,
            // and spend its own jobTimeout waiting for it.
            retryDelay: [1000],
            maxAttempts: 3,
            middlewares: [rec.middleware],
          },
        );
        await using app = await connectActors(server, SPINNER);
        const listening = listenInBackground(app.sub, {
          pollDelay: 500,
          // One worker: the retry can run only once the stuck one is gone.
          maxWorkers: 1,
          workers: { isolation },
          logger: silentLogger,
        });
        await app.pub.emit(SPIN, { pidFile });
        await waitFor(() => rec.successes.length === 1, {
          timeout: 30_000,
          what: () => `the retry to succeed (failures: ${rec.failures.length})`,
        });
        const report = await listening.stop();
        assert.equal(rec.failures.length, 1);
        assert.ok(rec.failures[0]!.error instanceof JobTimeoutError);
        assert.equal(rec.failures[0]!.outcome, "retry");
        assert.deepEqual(rec.successes, [2]);
        assert.equal(report.succeeded, 1);
        assert.equal(report.failed, 1);
        if (isolation === "process") {
          // The spinning process itself is gone, not just forgotten.
          const pid = Number(readFileSync(pidFile, "utf8"));
          assert.ok(pid > 0 && pid !== process.pid);
          assert.equal(alive(pid), false, `worker process ${pid} still runs`);
        }
        await settled(app.sub.nc, SPIN.stream, "spinner");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(`[${isolation}] a worker that exits or throws outside its handler fails only its job; the pool heals`, async () => {
    await using server = await NatsServer.start();
    const CRASH = new Event(
      uniq("crash"),
      v.object({ how: v.picklist(["exit", "uncaught", "oom"]) }),
    );
    const rec = recorder();
    // Deno's Web Workers report no exit: such a job ends at its timeout
    // (and a Deno worker takes a second or two to start on a busy machine).
    const silentExit = isDeno && isolation === "thread";
    const CRASHER = new Actor(
      "crasher",
      CRASH,
      workerHandler<typeof crash>(HANDLERS, "crash"),
      {
        jobTimeout: silentExit ? 15_000 : 30_000,
        retryDelay: [0],
        maxAttempts: 3,
        middlewares: [rec.middleware],
      },
    );
    const PLAIN = new Event(uniq("plain"), v.object({ n: v.number() }));
    const seen: number[] = [];
    const INLINE = new Actor("inline", PLAIN, ({ n }) => void seen.push(n));
    await using app = await connectActors(server, [CRASHER, INLINE]);
    await using listening = listenInBackground(app.sub, {
      pollDelay: 500,
      maxWorkers: 1,
      workers: { isolation },
      logger: silentLogger,
    });
    const failures = () =>
      JSON.stringify(
        rec.failures.map((f) => [f.error.name, f.error.message, f.attempt]),
      );
    await app.pub.emit(CRASH, { how: "uncaught" });
    await waitFor(() => rec.successes.length === 1, {
      timeout: 60_000,
      what: () => `the job after an uncaught error to be retried ${failures()}`,
    });
    assert.equal(rec.failures.length, 1);
    assert.ok(rec.failures[0]!.error instanceof WorkerCrashedError);
    // A thread reports the error itself; a process only its exit (the
    // error is on its stderr).
    assert.match(
      rec.failures[0]!.error.message,
      isolation === "thread" ? /uncaught in the worker/ : /exited with code/,
    );
    assert.equal(rec.failures[0]!.attempt, 1);

    await app.pub.emit(CRASH, { how: "exit" });
    await waitFor(() => rec.successes.length === 2, {
      timeout: 60_000,
      what: () => `the job after an exit to be retried: ${failures()}`,
    });
    await app.pub.emit(PLAIN, { n: 1 });
    await waitFor(() => seen.length === 1, { what: "the in-process actor" });
    for (const failure of rec.failures.slice(1)) {
      assert.ok(
        failure.error instanceof
          (silentExit ? JobTimeoutError : WorkerCrashedError),
        `${failure.error.name}: ${failure.error.message}`,
      );
      // A Deno thread's silent exit is seen only at jobTimeout, and on a
      // loaded machine the replacement can time out too: no attempt count.
      if (!silentExit) assert.equal(failure.attempt, 1);
    }
    if (!silentExit) {
      assert.equal(rec.failures.length, 2);
      assert.deepEqual(rec.successes, [2, 2]);
    }
    await listening.stop();
  });

  test(`[${isolation}] workers are reused, at most maxWorkers at once`, async () => {
    await using server = await NatsServer.start();
    const WHO = new Event(uniq("who"), v.object({ n: v.number() }))
      .withResponse(v.string());
    const WHOAMI = new Actor(
      "who",
      WHO,
      workerHandler<typeof whoAmI>(HANDLERS, "whoAmI"),
      { maxJobs: 8 },
    );
    await using app = await connectActors(server, WHOAMI);
    await using _listening = listenInBackground(app.sub, {
      pollDelay: 500,
      maxWorkers: 2,
      workers: { isolation },
      logger: silentLogger,
    });
    const ids = await Promise.all(
      Array.from(
        { length: 24 },
        (_, n) => app.pub.request(WHO, { n }, { timeout: 30_000 }),
      ),
    );
    const distinct = new Set(ids);
    assert.ok(
      distinct.size >= 1 && distinct.size <= 2,
      `${distinct.size} workers`,
    );
  });
}

test("a module that throws while loading fails its job with the module's error, and the worker stays", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const job = (module: URL, name: string, message: unknown) => ({
    module: module.href,
    export: name,
    message,
    ctx: {
      actor: "a",
      event: "e",
      attempt: 1,
      deliveryCount: 1,
      sequence: 1,
      timestamp: 0,
      traceId: undefined,
      headers: {},
    },
    // A bound, so a lost reply fails the test instead of hanging it.
    signal: AbortSignal.timeout(60_000),
    terminateGrace: 100,
  });
  const run = (module: URL, name: string) =>
    pool.run(job(module, name, { n: 2, label: "x" }));
  await assert.rejects(run(BROKEN, "never"), /broken at top level/);
  await assert.rejects(
    run(HANDLERS, "missing"),
    /has no exported function "missing"/,
  );
  await assert.rejects(
    run(HANDLERS, "unclonable"),
    /return value cannot be sent back from the worker/,
  );
  await assert.rejects(run(HANDLERS, "fails"), (error: Error) => {
    assert.equal(error.name, "RangeError");
    assert.equal(error.message, "the worker says no");
    return true;
  });
  const result = await run(HANDLERS, "square") as { square: number };
  assert.equal(result.square, 4);
  assert.equal(pool.size, 1, "the same worker served every job");
  // A message that cannot be cloned is refused before it reaches a worker.
  await assert.rejects(
    pool.run(job(HANDLERS, "square", { f: () => 1 })),
    /Cannot send the message to a worker/,
  );
});

test("an aborted job's worker gets the abort in its ctx.signal and, finishing in time, is kept", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const controller = new AbortController();
  const running = pool.run({
    module: HANDLERS.href,
    export: "waitForAbort",
    message: null,
    ctx: {
      actor: "a",
      event: "e",
      attempt: 1,
      deliveryCount: 1,
      sequence: 1,
      timestamp: 0,
      traceId: undefined,
      headers: {},
    },
    signal: controller.signal,
    terminateGrace: 10_000,
  });
  controller.abort(new JobTimeoutError("a", 5));
  // Forwarded even though the worker was still starting; the handler saw
  // it (or was skipped) and the worker finished well within the grace.
  await assert.rejects(running, /JobTimeoutError/);
  assert.equal(pool.size, 1);
});

test("jobs waiting for a busy worker leave the queue when their signal aborts", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const task = (signal: AbortSignal) => ({
    module: HANDLERS.href,
    export: "waitForAbort",
    message: null,
    ctx: {
      actor: "a",
      event: "e",
      attempt: 1,
      deliveryCount: 1,
      sequence: 1,
      timestamp: 0,
      traceId: undefined,
      headers: {},
    },
    signal,
    // Long enough for a worker to start on a busy machine.
    terminateGrace: 10_000,
  });
  const busy = new AbortController();
  const first = pool.run(task(busy.signal));
  const queued = new AbortController();
  const second = pool.run(task(queued.signal));
  assert.equal(pool.waiting, 1);
  queued.abort(new Error("gave up waiting"));
  await assert.rejects(second, /gave up waiting/);
  assert.equal(pool.waiting, 0);
  busy.abort(new Error("done"));
  await assert.rejects(first, /aborted: Error|done/);
  assert.equal(pool.size, 1, "the worker finished within its grace");
});

test("a worker over maxHeapSize dies and fails only its job", {
  // Web Workers have no heap limit (Bun; Deno threads).
  skip: isBun,
}, async () => {
  await using pool = new WorkerPool({
    maxWorkers: 1,
    maxHeapSize: 64 * 1024 * 1024,
  });
  const run = (how: "oom" | "exit", attempt: number) =>
    pool.run({
      module: HANDLERS.href,
      export: "crash",
      message: { how },
      ctx: {
        actor: "a",
        event: "e",
        attempt,
        deliveryCount: attempt,
        sequence: 1,
        timestamp: 0,
        traceId: undefined,
        headers: {},
      },
      // A bound, so a lost reply fails the test instead of hanging it.
      signal: AbortSignal.timeout(60_000),
      terminateGrace: 100,
    });
  await assert.rejects(run("oom", 1), WorkerCrashedError);
  assert.equal(await run("oom", 2), "survived oom");
});

test("shutdown terminates a worker still running after the grace, hands its message back, and listen() resolves", async () => {
  await using server = await NatsServer.start();
  const SPIN = new Event(uniq("spin-stop"), v.object({ pidFile: v.string() }));
  const started = deferred();
  const SPINNER = new Actor(
    "spinner",
    SPIN,
    workerHandler<typeof spin>(HANDLERS, "spin", { terminateGrace: 100 }),
    {
      jobTimeout: 60_000,
      middlewares: [{ onStart: () => started.resolve() }],
    },
  );
  await using app = await connectActors(server, SPINNER);
  const listening = listenInBackground(app.sub, {
    pollDelay: 500,
    grace: 300,
    maxWorkers: 1,
    logger: silentLogger,
  });
  await app.pub.emit(SPIN, { pidFile: "" });
  await started.promise;
  const t0 = performance.now();
  const report = await listening.stop();
  assert.ok(performance.now() - t0 < 20_000, "listen() resolved");
  assert.equal(report.succeeded, 0);
  // Not acked: with interest retention the stream still holds it.
  const jsm = await jetstreamManager(app.sub.nc);
  const stream = await jsm.streams.info(SPIN.stream);
  assert.equal(stream.state.messages, 1);
});

test("workerHandler() checks its arguments and refuses to run outside listen()", async () => {
  assert.throws(
    () => workerHandler("./relative.ts", "f"),
    /module must be an absolute URL/,
  );
  assert.throws(() => workerHandler(HANDLERS, ""), /exportName must be/);
  assert.throws(
    () => workerHandler(HANDLERS, "f", { terminateGrace: -1 }),
    RangeError,
  );
  assert.throws(() => new WorkerPool({ maxWorkers: 0 }), RangeError);
  assert.throws(
    () => new WorkerPool({ isolation: "fiber" as Isolation }),
    TypeError,
  );
  const handler = workerHandler(HANDLERS, "square");
  await assert.rejects(
    Promise.resolve(handler({ n: 1 }, {} as Context)),
    /runs only inside listen\(\)/,
  );
  const wrong = new Event("typed", v.object({ id: v.number() }));
  // @ts-expect-error: square takes { n, label }, the event carries { id }
  new Actor("t", wrong, workerHandler<typeof square>(HANDLERS, "square"));
  // Unchecked, the handler takes the event's type (not any).
  const inferred = new Actor("i", wrong, workerHandler(HANDLERS, "square"));
  type IsAny<T> = 0 extends 1 & T ? true : false;
  type Payload<A> = A extends Actor<infer T> ? T : never;
  const notAny: IsAny<Payload<typeof inferred>> = false;
  const payload: Payload<typeof inferred> = { id: 1 };
  assert.deepEqual([notAny, payload], [false, { id: 1 }]);
  assert.equal(existsSync(new URL(HANDLERS)), true);
});

test("a worker process spinning in a loop dies with its parent, even a SIGKILLed one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "walnats-orphan-"));
  const pidFile = join(dir, "pid");
  const parent = spawnScript(
    new URL("./fixtures/workers/orphan_parent.ts", import.meta.url),
    { ...process.env, PID_FILE: pidFile },
  );
  try {
    const pid = await waitFor(() => {
      if (!existsSync(pidFile)) return undefined;
      return Number(readFileSync(pidFile, "utf8")) || undefined;
    }, { timeout: 30_000, what: () => `the worker pid\n${parent.output()}` });
    assert.equal(alive(pid), true);
    parent.proc.kill("SIGKILL");
    await parent.exited;
    await waitFor(() => !alive(pid), {
      timeout: 10_000,
      what: `orphaned worker process ${pid} to die`,
    }).catch((error) => {
      process.kill(pid, "SIGKILL");
      throw error;
    });
  } finally {
    parent.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
