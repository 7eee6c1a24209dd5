// One conformance suite for every transport adapter this runtime can load:
// publish and consume, reconnect after a server restart, auth, TLS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { Actor, Actors, Event, Events } from "../mod.ts";
import { deferred, NatsServer, waitFor } from "./_helpers.ts";

type Connect = (
  server?: string | string[] | ConnectionOptions,
) => Promise<NatsConnection>;

const adapters: [string, () => Promise<Connect>][] = [
  ["node", async () => (await import("../src/transports/node.ts")).connect],
];
if ("Deno" in globalThis) {
  adapters.push([
    "deno",
    async () => (await import("../src/transports/deno.ts")).connect,
  ]);
}
if ("Bun" in globalThis) {
  adapters.push([
    "bun",
    async () => (await import("../src/transports/bun.ts")).connect,
  ]);
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost. */
function makeCertificates(): {
  dir: string;
  ca: string;
  cert: string;
  key: string;
} {
  const dir = mkdtempSync(join(tmpdir(), "walnats-tls-"));
  const run = (...args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=walnats test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  );
  const ext = join(dir, "ext.cnf");
  execFileSync("sh", [
    "-c",
    `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`,
  ]);
  run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    ext,
    "-out",
    "server.pem",
  );
  return {
    dir,
    ca: join(dir, "ca.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
  };
}

for (const [name, load] of adapters) {
  test(`${name} transport: an event is emitted, handled and acked`, async () => {
    const connect = await load();
    await using server = await NatsServer.start();
    const EV = new Event("transport-ping", v.object({ n: v.number() }));
    const got = deferred<number>();
    const A = new Actor("transport-pong", EV, ({ n }) => got.resolve(n));
    const pubNc = await connect(server.url);
    const subNc = await connect(server.url);
    try {
      await using pub = await new Events(EV).connect(pubNc);
      await pub.register();
      await using sub = await new Actors(A).connect(subNc);
      await sub.register();
      await pub.emit(EV, { n: 7 });
      const report = await sub.listen({ burst: true });
      assert.equal(report.succeeded, 1);
      assert.equal(await got.promise, 7);
    } finally {
      await pubNc.close();
      await subNc.close();
    }
  });

  test(`${name} transport: a subscription survives a server restart`, async () => {
    const connect = await load();
    await using server = await NatsServer.start();
    const nc = await connect({ servers: server.url, reconnectTimeWait: 100 });
    try {
      const seen: string[] = [];
      const sub = nc.subscribe("transport.restart");
      (async () => {
        for await (const m of sub) seen.push(m.string());
      })();
      nc.publish("transport.restart", "before");
      await nc.flush();
      await waitFor(() => seen.includes("before"), { what: "before" });
      await server.restart();
      await waitFor(async () => {
        nc.publish("transport.restart", "after");
        await nc.flush();
        return seen.includes("after");
      }, { timeout: 20_000, interval: 200, what: "a message after restart" });
      assert.equal(nc.isClosed(), false);
    } finally {
      await nc.close();
    }
  });

  test(`${name} transport: user and password are required and checked`, async () => {
    const connect = await load();
    await using server = await NatsServer.start({
      args: ["--user", "walnats", "--pass", "s3cret"],
    });
    const nc = await connect({
      servers: server.url,
      user: "walnats",
      pass: "s3cret",
    });
    assert.ok((await nc.rtt()) >= 0);
    await nc.close();
    await assert.rejects(
      connect({
        servers: server.url,
        user: "walnats",
        pass: "wrong",
        maxReconnectAttempts: 0,
      }),
      /auth/i,
    );
  });

  test(`${name} transport: TLS with a private CA`, async () => {
    const connect = await load();
    const certs = makeCertificates();
    try {
      await using server = await NatsServer.start({
        args: ["--tls", "--tlscert", certs.cert, "--tlskey", certs.key],
      });
      const nc = await connect({
        servers: server.url,
        tls: { caFile: certs.ca },
      });
      assert.equal(nc.info?.tls_required, true);
      const sub = nc.subscribe("transport.tls", { max: 1 });
      nc.publish("transport.tls", "secret");
      for await (const m of sub) assert.equal(m.string(), "secret");
      await nc.close();
      // Without the CA the server's certificate is not trusted.
      await assert.rejects(
        connect({ servers: server.url, maxReconnectAttempts: 0, tls: {} }),
        (error: Error) => {
          const text = `${error.message} ${String(error.cause ?? "")}`;
          assert.match(text, /certificate|issuer|verify|self[- ]signed/i);
          return true;
        },
      );
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });
}
