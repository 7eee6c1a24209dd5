import { MemoryBroker, NatsServer } from "../src/testing/mod.ts";
import { connect } from "../mod.ts";
import { protocolTranscript, type Backend } from "./_scenarios/broker_scenarios.ts";
import { waitFor } from "./_helpers.ts";
import { isDeepStrictEqual } from "node:util";
const server = await NatsServer.start();
const conns: any[] = [];
const sb: Backend = { kind: "nats-server", retryDelay: 300, ackWait: 1000, connect: async () => { const nc = await connect({ servers: server.url }); conns.push(nc); return nc; }, until: (c, what, t = 20000) => waitFor(c, { timeout: Math.min(t, 30000), what }), monotonic: () => performance.now(), async [Symbol.asyncDispose]() {} };
const real = await protocolTranscript(sb);
for (const c of conns) await c.close();
await server.close();
const broker = new MemoryBroker();
const mb: Backend = { kind: "memory", retryDelay: 60000, ackWait: 16000, connect: () => Promise.resolve(broker.connect()), until: (c, what, t = 600000) => broker.advanceUntil(c, { timeout: t, what }), monotonic: () => broker.timers.monotonic(), async [Symbol.asyncDispose]() {} };
const mem = await protocolTranscript(mb);
for (let i = 0; i < Math.max(real.length, mem.length); i++) {
  if (!isDeepStrictEqual(real[i], mem[i])) {
    console.log(`--- step ${i}\nREAL ${JSON.stringify(real[i])}\nMEM  ${JSON.stringify(mem[i])}`);
  }
}
for (const i of [34,35,36,37,38,39]) console.log(i, JSON.stringify(real[i]), "\n   ", JSON.stringify(mem[i]));
console.log("steps", real.length, mem.length);
