// One conformance suite for every transport adapter this runtime can load:
// publish and consume, reconnect after a server restart, auth, TLS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import * as v from "valibot";
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/nats-core";
import { Actor, Actors, ConnectError, Event, Events } from "../mod.ts";
import { deferred, NatsServer, waitFor } from "./_helpers.ts";
import {
  makeCertificates,
  makeNkeyUser,
  makeOperator,
  type OperatorSetup,
} from "./_auth.ts";

/**
 * `connect(options)` rejects with a ConnectError of `reason` naming the URL,
 * well within the bound (the server answers at once; nats.js alone waited
 * its 20 s connect timeout for some of these).
 */
async function refused(
  connect: Connect,
  url: string,
  options: ConnectionOptions,
  reason: string,
  message: RegExp,
): Promise<number> {
  const started = performance.now();
  const error = await connect({ servers: url, ...options }).then(
    async (nc) => {
      await nc.close();
      return assert.fail("connect() should reject");
    },
    (e: unknown) => e,
  );
  const took = performance.now() - started;
  assert.ok(error instanceof ConnectError, String(error));
  assert.equal(error.url, url);
  assert.equal(error.reason, reason, error.message);
  assert.ok(error.message.startsWith(`Cannot connect to ${url}: `));
  assert.match(error.message, message);
  assert.ok(took < 5_000, `rejected after ${Math.round(took)} ms`);
  return took;
}

/** Connect, check the connection works, close. */
async function accepted(
  connect: Connect,
  url: string,
  options: ConnectionOptions,
): Promise<void> {
  const nc = await connect({ servers: url, ...options });
  try {
    assert.ok((await nc.rtt()) >= 0);
  } finally {
    await nc.close();
  }
}

/**
 * Subscribe to `subject`; `received(count)` waits for `count` messages and
 * asserts that the i-th one read `body(i)` (nothing torn, lost or reordered).
 */
async function receiveInOrder(
  nc: NatsConnection,
  subject: string,
  body: (i: number) => string,
): Promise<{ received(count: number): Promise<void> }> {
  let next = 0;
  let wrong = 0;
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      if (msg.string() !== body(next)) wrong++;
      next++;
    },
  });
  await nc.flush();
  return {
    async received(count: number): Promise<void> {
      await waitFor(() => next >= count, {
        what: () => `${count} messages (got ${next})`,
      });
      assert.equal(next, count);
      assert.equal(wrong, 0, `${wrong} messages torn or out of order`);
    },
  };
}

const encoder = new TextEncoder();
let operator: OperatorSetup | undefined;

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

  test(`${name} transport: a burst of megabytes published in one synchronous loop arrives whole and in order`, async () => {
    // Far more than one socket write takes (the Deno transport copies at
    // most 256 KiB into a write): every frame boundary must survive.
    const connect = await load();
    await using server = await NatsServer.start();
    const pubNc = await connect(server.url);
    const subNc = await connect(server.url);
    try {
      const count = 30_000;
      const filler = "x".repeat(100);
      const body = (i: number) => `${i}:${filler}`;
      const receiver = await receiveInOrder(subNc, "burst", body);
      for (let i = 0; i < count; i++) {
        pubNc.publish("burst", encoder.encode(body(i)));
      }
      await pubNc.flush();
      await receiver.received(count);
    } finally {
      await pubNc.close();
      await subNc.close();
    }
  });

  test(`${name} transport: publishes awaited one by one arrive whole and in order, and close() sends what was handed over`, async () => {
    // The node:net adapter gathers the frames of one turn of the event loop
    // into one write; an awaited loop never leaves its turn, so the writes
    // happen at the size threshold and at close().
    const connect = await load();
    await using server = await NatsServer.start();
    const pubNc = await connect(server.url);
    const subNc = await connect(server.url);
    try {
      const count = 5_000;
      const receiver = await receiveInOrder(subNc, "awaited", String);
      for (let i = 0; i < count; i++) {
        pubNc.publish("awaited", encoder.encode(String(i)));
        await undefined;
      }
      await pubNc.close();
      await receiver.received(count);
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
    await refused(
      connect,
      server.url,
      { user: "walnats", pass: "wrong" },
      "auth",
      /refused the credentials \(Authorization Violation\)/,
    );
    await refused(
      connect,
      server.url,
      {},
      "auth",
      /Authorization Violation/,
    );
  });

  test(`${name} transport: a token is required and checked`, async () => {
    const connect = await load();
    await using server = await NatsServer.start({ args: ["--auth", "t0ken"] });
    await accepted(connect, server.url, { token: "t0ken" });
    await refused(
      connect,
      server.url,
      { token: "wrong" },
      "auth",
      /Authorization Violation/,
    );
  });

  test(`${name} transport: an nkey user signs the server's nonce`, async () => {
    const connect = await load();
    const user = makeNkeyUser();
    await using server = await NatsServer.start({
      config: `authorization { users: [ { nkey: ${user.publicKey} } ] }`,
    });
    await accepted(connect, server.url, {
      authenticator: nkeyAuthenticator(user.seed),
    });
    await refused(
      connect,
      server.url,
      { authenticator: nkeyAuthenticator(makeNkeyUser().seed) },
      "auth",
      /Authorization Violation/,
    );
  });

  test(`${name} transport: creds (a user JWT) in operator mode`, async () => {
    const connect = await load();
    operator ??= makeOperator();
    await using server = await NatsServer.start({ config: operator.config });
    await accepted(connect, server.url, {
      authenticator: credsAuthenticator(encoder.encode(operator.creds)),
    });
    // Signed by an account the operator never issued.
    await refused(
      connect,
      server.url,
      {
        authenticator: credsAuthenticator(
          encoder.encode(operator.strangerCreds),
        ),
      },
      "auth",
      /Authorization Violation/,
    );
  });

  test(`${name} transport: TLS to an IP address whose certificate names only that IP`, async () => {
    const connect = await load();
    const certs = makeCertificates("IP:127.0.0.1");
    try {
      await using server = await NatsServer.start({
        args: ["--tls", "--tlscert", certs.cert, "--tlskey", certs.key],
      });
      await accepted(connect, server.url, { tls: { caFile: certs.ca } });
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  test(`${name} transport: TLS to an IP address is refused when the certificate names only a host`, async () => {
    const connect = await load();
    const certs = makeCertificates("DNS:localhost");
    try {
      await using server = await NatsServer.start({
        args: ["--tls", "--tlscert", certs.cert, "--tlskey", certs.key],
      });
      // The IP is checked against the certificate, not waved through.
      await refused(
        connect,
        server.url,
        { tls: { caFile: certs.ca } },
        "tls",
        /TLS failed/,
      );
      await accepted(connect, server.url.replace("127.0.0.1", "localhost"), {
        tls: { caFile: certs.ca },
      });
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  test(`${name} transport: mutual TLS needs a client certificate from the CA`, async () => {
    const connect = await load();
    const certs = makeCertificates();
    try {
      await using server = await NatsServer.start({
        args: [
          "--tlsverify",
          "--tlscacert",
          certs.ca,
          "--tlscert",
          certs.cert,
          "--tlskey",
          certs.key,
        ],
      });
      const client = {
        caFile: certs.ca,
        certFile: certs.clientCert,
        keyFile: certs.clientKey,
      };
      if (name === "deno") {
        // Deno.startTls cannot present a client certificate, and
        // nats-server 2.9 has no TLS-first handshake: said at once.
        await refused(
          connect,
          server.url,
          { tls: client },
          "tls",
          /client certificates need tls.handshakeFirst/,
        );
      } else {
        await accepted(connect, server.url, { tls: client });
      }
      await refused(
        connect,
        server.url,
        { tls: { caFile: certs.ca } },
        "tls",
        /requires a client certificate \(mutual TLS\)/,
      );
      if (name !== "deno") {
        await refused(
          connect,
          server.url,
          {
            tls: {
              caFile: certs.ca,
              certFile: certs.strangerCert,
              keyFile: certs.strangerKey,
            },
          },
          "tls",
          /requires a client certificate \(mutual TLS\)|certificate/,
        );
      }
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  test(`${name} transport: nothing listening is a ConnectError naming the URL`, async () => {
    const connect = await load();
    const server = await NatsServer.start();
    const url = server.url;
    await server.close();
    await refused(connect, url, {}, "refused", /connection refused/);
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
      await refused(
        connect,
        server.url,
        { tls: {} },
        "tls",
        /certificate|issuer|verify|self[- ]signed/i,
      );
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });
}

// White-box: the node:net adapter's write coalescing, seen at the socket.
test("node transport: a lone publish is written at once; the rest of its turn goes out as one write", async () => {
  const { connect } = await import("../src/transports/node.ts");
  await using server = await NatsServer.start();
  const nc = await connect(server.url);
  try {
    await nc.flush();
    const socket = (nc as unknown as {
      protocol: { transport: { socket: { write: (...a: unknown[]) => void } } };
    }).protocol.transport.socket;
    let writes = 0;
    const write = socket.write.bind(socket);
    socket.write = (...args: unknown[]) => {
      writes++;
      return write(...args);
    };
    nc.publish("lone", encoder.encode("1"));
    // nats.js hands its buffer over in a microtask; no timer has run yet.
    await undefined;
    await undefined;
    assert.equal(writes, 1, "the first frame of a turn goes out at once");
    for (let i = 0; i < 1_000; i++) {
      nc.publish("lone", encoder.encode(String(i)));
      await undefined;
    }
    assert.equal(writes, 1, "the rest of the turn is gathered");
    await waitFor(() => writes >= 2, {
      what: () => `a second write (${writes})`,
    });
    await nc.flush();
    // The flush's PING was the first frame of a new turn: one write more.
    assert.equal(
      writes,
      3,
      "the gathered frames were written once after the turn",
    );
  } finally {
    await nc.close();
  }
});
