// The memory broker's fidelity: one scenario suite, the same expected
// results on a real nats-server (real time, short delays) and on the memory
// broker (virtual time, realistic delays).
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { connect } from "../mod.ts";
import { MemoryBroker, NatsServer } from "../src/testing/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type Backend,
  DEAD_LETTER_AFTER_RETRIES,
  deadLetterAfterRetries,
  protocolTranscript,
  SCENARIOS,
} from "./_scenarios/broker_scenarios.ts";
import { waitFor } from "./_helpers.ts";

async function serverBackend(): Promise<Backend> {
  const server = await NatsServer.start();
  const connections: NatsConnection[] = [];
  return {
    kind: "nats-server",
    retryDelay: 300,
    ackWait: 1000,
    async connect() {
      const nc = await connect({
        servers: server.url,
        maxReconnectAttempts: 2,
      });
      connections.push(nc);
      return nc;
    },
    until(check, what, timeout = 20_000) {
      // Real time: never wait longer than a test may.
      return waitFor(check, { timeout: Math.min(timeout, 30_000), what });
    },
    monotonic: () => performance.now(),
    async [Symbol.asyncDispose]() {
      for (const nc of connections) {
        if (!nc.isClosed()) await nc.close();
      }
      await server.close();
    },
  };
}

function memoryBackend(): Backend & { broker: MemoryBroker } {
  const broker = new MemoryBroker();
  return {
    kind: "memory",
    broker,
    retryDelay: 60_000,
    ackWait: 16_000,
    connect: () => Promise.resolve(broker.connect()),
    until: (check, what, timeout = 600_000) =>
      broker.advanceUntil(check, { timeout, what }),
    monotonic: () => broker.timers.monotonic(),
    [Symbol.asyncDispose]: () => broker.close(),
  };
}

for (const scenario of SCENARIOS) {
  test(`fidelity on nats-server: ${scenario.name}`, async () => {
    await using b = await serverBackend();
    assert.deepEqual(await scenario.run(b), scenario.expected);
  });
  test(`fidelity on the memory broker: ${scenario.name}`, async () => {
    await using b = memoryBackend();
    assert.deepEqual(await scenario.run(b), scenario.expected);
  });
}

test("acceptance on nats-server: emit, fail, retry twice, dead-lettered (300 ms delays)", async () => {
  await using b = await serverBackend();
  assert.deepEqual(
    await deadLetterAfterRetries(b, 300),
    DEAD_LETTER_AFTER_RETRIES,
  );
});

test("acceptance on the memory broker: the same with retryDelay [60_000, 60_000] in under 1 s of real time", async () => {
  await using b = memoryBackend();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const observed = await deadLetterAfterRetries(b, 60_000);
  const used = process.cpuUsage(cpu);
  const elapsed = performance.now() - started;
  assert.deepEqual(observed, DEAD_LETTER_AFTER_RETRIES);
  // Two minutes of retry delays passed on the virtual clock...
  assert.ok(b.broker.timers.monotonic() >= 120_000);
  // ...in a moment of real time: 45-400 ms on an idle machine. The bound is
  // generous because the suite shares the machine (Deno's --parallel even
  // shares the process, so its CPU time is not this test's alone).
  const cpuMs = (used.user + used.system) / 1000;
  // deno-lint-ignore no-console -- the figure, for the record
  console.log(
    `memory broker acceptance: ${elapsed.toFixed(0)} ms real, ${
      cpuMs.toFixed(0)
    } ms CPU (process-wide) for 120 s of virtual time`,
  );
  assert.ok(elapsed < 10_000, `took ${elapsed.toFixed(0)} ms of real time`);
});

test("the raw JetStream protocol reads the same on nats-server and on the memory broker", async () => {
  let real: unknown[];
  {
    await using b = await serverBackend();
    real = await protocolTranscript(b);
  }
  await using m = memoryBackend();
  const memory = await protocolTranscript(m);
  for (let i = 0; i < Math.max(real.length, memory.length); i++) {
    assert.deepEqual(memory[i], real[i], `step ${i}`);
  }
});
