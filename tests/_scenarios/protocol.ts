// The raw protocol, message by message: a transcript both backends must
// produce identically.
import type { Backend } from "./_common.ts";

const TIME_KEYS = new Set([
  "created",
  "first_ts",
  "last_ts",
  "last_active",
  "time",
]);
const ZERO_TIME = "0001-01-01T00:00:00Z";

function normalizeJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeJson);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = TIME_KEYS.has(k) && typeof v === "string" && v !== ZERO_TIME
      ? "<time>"
      : normalizeJson(v);
  }
  return out;
}

/** A received message with what differs run to run taken out. */
function describeMsg(m: {
  subject: string;
  reply?: string;
  data: Uint8Array;
  headers?: {
    code: number;
    description: string;
    keys(): string[];
    get(k: string): string;
  };
}): unknown {
  const out: Record<string, unknown> = {};
  out.subject = m.subject.startsWith("_INBOX.") ? "<inbox>" : m.subject;
  if (m.reply) {
    const t = m.reply.split(".");
    if (t[0] === "$JS" && t[1] === "ACK" && t.length === 9) t[7] = "<ts>";
    out.reply = t.join(".");
  }
  const h = m.headers;
  if (h !== undefined) {
    let description = h.description;
    // Go's JSON error texts are not reproduced word for word.
    if (description.startsWith("Bad Request - invalid character")) {
      description = "Bad Request - <json error>";
    }
    if (h.code) out.status = `${h.code} ${description}`.trim();
    const keys = h.keys().sort();
    if (keys.length > 0) out.headers = keys.map((k) => `${k}: ${h.get(k)}`);
  }
  const text = new TextDecoder().decode(m.data);
  if (text !== "") {
    try {
      out.json = normalizeJson(JSON.parse(text));
    } catch {
      out.text = text;
    }
  }
  return out;
}

/**
 * Drive the JetStream API, publishes, pull requests and acks from a raw
 * connection and record every answer. The two backends' transcripts must
 * be identical.
 */
export async function protocolTranscript(b: Backend): Promise<unknown[]> {
  const nc = await b.connect();
  const log: unknown[] = [];
  const req = async (
    label: string,
    subject: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => {
    const { headers: makeHeaders } = await import("@nats-io/nats-core");
    let h;
    if (headers !== undefined) {
      h = makeHeaders();
      for (const [k, v] of Object.entries(headers)) h.set(k, v);
    }
    const payload = body === undefined
      ? undefined
      : typeof body === "string"
      ? body
      : JSON.stringify(body);
    let answer: unknown;
    const p = nc.request(subject, payload, {
      timeout: 500,
      ...(h ? { headers: h } : {}),
    }).then(
      (m) => {
        answer = describeMsg(m);
      },
      (e: Error) => {
        answer = { error: e.name, message: e.message };
      },
    );
    await b.until(() => answer !== undefined, label, 5_000);
    await p;
    log.push([label, answer]);
  };
  const inbox = `_INBOX.transcript${Math.random().toString(36).slice(2)}`;
  const pulled: {
    reply?: string;
    describe: unknown;
    respond: (d: string) => void;
  }[] = [];
  nc.subscribe(inbox, {
    callback: (_e, m) => {
      pulled.push({
        ...(m.reply ? { reply: m.reply } : {}),
        describe: describeMsg(m),
        respond: (d) => m.respond(d),
      });
    },
  });
  const pull = async (
    label: string,
    consumer: string,
    body: string,
    done: (got: unknown[]) => boolean,
  ) => {
    const start = pulled.length;
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.tx.${consumer}`, body, {
      reply: inbox,
    });
    await b.until(
      () => done(pulled.slice(start).map((p) => p.describe)),
      label,
      5_000,
    );
    log.push([label, pulled.slice(start).map((p) => p.describe)]);
  };
  const status = (code: number) => (got: unknown[]) =>
    got.some((g) =>
      String((g as { status?: string }).status ?? "").startsWith(String(code))
    );
  const count = (n: number) => (got: unknown[]) => got.length >= n;

  const cfg = {
    name: "tx",
    subjects: ["tx"],
    retention: "interest",
    max_age: 0,
    max_msgs: -1,
    max_bytes: -1,
    max_msg_size: -1,
    max_consumers: -1,
    num_replicas: 1,
    storage: "file",
    discard: "old",
    duplicate_window: 120e9,
  };
  await req("account info", "$JS.API.INFO");
  await req("stream info, missing", "$JS.API.STREAM.INFO.tx");
  await req("stream create", "$JS.API.STREAM.CREATE.tx", cfg);
  await req("stream create, same again", "$JS.API.STREAM.CREATE.tx", cfg);
  await req("stream create, different", "$JS.API.STREAM.CREATE.tx", {
    ...cfg,
    max_msgs: 5,
  });
  await req("stream update, storage", "$JS.API.STREAM.UPDATE.tx", {
    ...cfg,
    storage: "memory",
  });
  await req("stream create, name mismatch", "$JS.API.STREAM.CREATE.tx", {
    ...cfg,
    name: "other",
  });
  await req("stream create, overlap", "$JS.API.STREAM.CREATE.tx2", {
    ...cfg,
    name: "tx2",
  });
  await req("stream create, bad JSON", "$JS.API.STREAM.CREATE.tx3", "{nope");
  await req("stream create, defaults", "$JS.API.STREAM.CREATE.txmini", {
    name: "txmini",
    subjects: ["txmini.*"],
  });
  await req(
    "stream create, dup window over max age",
    "$JS.API.STREAM.CREATE.txage",
    { name: "txage", max_age: 1e9, duplicate_window: 2e9 },
  );
  await req("stream update", "$JS.API.STREAM.UPDATE.tx", {
    ...cfg,
    max_msgs: 1000,
  });
  await req("publish, no stream", "tx-nowhere", "x");
  await req("publish, no consumer", "tx", "hello", { "Nats-Msg-Id": "a1" });
  await req("publish, no consumer, duplicate", "tx", "hello", {
    "Nats-Msg-Id": "a1",
  });
  const ccfg = {
    durable_name: "c1",
    ack_policy: "explicit",
    ack_wait: 60e9,
    max_deliver: 5,
    max_ack_pending: 10,
  };
  await req("durable create", "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1", {
    stream_name: "tx",
    config: ccfg,
  });
  await req("consumer create, named", "$JS.API.CONSUMER.CREATE.tx.c2", {
    stream_name: "tx",
    config: { ...ccfg, durable_name: "c2", name: "c2" },
  });
  await req("durable create, same", "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1", {
    stream_name: "tx",
    config: ccfg,
  });
  await req(
    "durable create, updates max_deliver",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1",
    { stream_name: "tx", config: { ...ccfg, max_deliver: 7 } },
  );
  await req(
    "durable create, deliver policy change",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.c1",
    { stream_name: "tx", config: { ...ccfg, deliver_policy: "new" } },
  );
  await req(
    "durable create, name mismatch",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.zz",
    { stream_name: "tx", config: ccfg },
  );
  await req(
    "durable create, no stream",
    "$JS.API.CONSUMER.DURABLE.CREATE.nostream.c1",
    { stream_name: "nostream", config: ccfg },
  );
  await req("consumer info, missing", "$JS.API.CONSUMER.INFO.tx.nope");
  await req("consumer info, no stream", "$JS.API.CONSUMER.INFO.nostream.nope");
  await req("publish 1", "tx", "one", {
    "Nats-Msg-Id": "m1",
    "X-Custom": "yes",
  });
  await req("publish 2", "tx", "two");
  await req("publish, expected stream", "tx", "x", {
    "Nats-Expected-Stream": "other",
  });
  await req("publish, expected last sequence", "tx", "x", {
    "Nats-Expected-Last-Sequence": "1",
  });
  await pull(
    "pull batch 3 expires 300ms",
    "c1",
    JSON.stringify({ batch: 3, expires: 300e6 }),
    status(408),
  );
  await req("consumer info after pull", "$JS.API.CONSUMER.INFO.tx.c1");
  await pull(
    "pull no_wait, nothing left",
    "c1",
    JSON.stringify({ batch: 3, no_wait: true }),
    status(404),
  );
  await pull(
    "pull with heartbeats",
    "c1",
    JSON.stringify({ batch: 1, expires: 300e6, idle_heartbeat: 100e6 }),
    status(408),
  );
  await pull(
    "pull, heartbeat too large",
    "c1",
    JSON.stringify({ batch: 1, expires: 100e6, idle_heartbeat: 100e6 }),
    status(400),
  );
  await pull("pull, bad JSON", "c1", "{bad", status(400));
  await pull(
    "pull c2 no_wait batch 5",
    "c2",
    JSON.stringify({ batch: 5, no_wait: true }),
    status(408),
  );
  // A consumer made after the messages were stored still gets them (deliver
  // all), and its deletion leaves them to the others.
  await req(
    "consumer created late",
    "$JS.API.CONSUMER.DURABLE.CREATE.tx.late",
    {
      stream_name: "tx",
      config: { durable_name: "late", ack_policy: "explicit" },
    },
  );
  await pull(
    "pull of the late consumer",
    "late",
    JSON.stringify({ batch: 5, no_wait: true }),
    status(408),
  );
  await req("late consumer delete", "$JS.API.CONSUMER.DELETE.tx.late");
  // Acks on c1's two deliveries.
  const deliveries = pulled.filter((p) =>
    p.reply?.startsWith("$JS.ACK.tx.c1.")
  );
  let acked: unknown;
  void nc.request(deliveries[0]!.reply!, "+ACK", { timeout: 1000 }).then(
    (m) => {
      acked = describeMsg(m);
    },
    (e: Error) => {
      acked = { error: e.name };
    },
  );
  await b.until(() => acked !== undefined, "double ack", 5_000);
  log.push(["double ack reply", acked]);
  deliveries[1]!.respond("+WPI");
  deliveries[1]!.respond("+TERM with a reason");
  await req(
    "consumer info after ack and term with reason",
    "$JS.API.CONSUMER.INFO.tx.c1",
  );
  await req("stream info", "$JS.API.STREAM.INFO.tx");
  deliveries[1]!.respond('-NAK {"delay":200000000}');
  await req(
    "consumer info after nak with delay",
    "$JS.API.CONSUMER.INFO.tx.c1",
  );
  await pull(
    "pull after the nak delay",
    "c1",
    JSON.stringify({ batch: 1, expires: 2000e6 }),
    count(1),
  );
  const redelivered = pulled[pulled.length - 1]!;
  redelivered.respond("+TERM");
  // The server applies acks asynchronously: wait until it shows.
  await b.until(
    async () => {
      const m = await nc.request("$JS.API.CONSUMER.INFO.tx.c1", undefined, {
        timeout: 1000,
      });
      return (m.json() as { num_ack_pending: number }).num_ack_pending === 0;
    },
    "the term to apply",
    5_000,
  );
  await req("consumer info after term", "$JS.API.CONSUMER.INFO.tx.c1");
  await req("stream info after term", "$JS.API.STREAM.INFO.tx");
  await req("stream names", "$JS.API.STREAM.NAMES", { subject: "tx" });
  await req("stream list", "$JS.API.STREAM.LIST", {});
  await req("consumer names", "$JS.API.CONSUMER.NAMES.tx", {});
  await req("consumer list", "$JS.API.CONSUMER.LIST.tx", {});
  await req("msg get, acked by c1 but not c2", "$JS.API.STREAM.MSG.GET.tx", {
    seq: 2,
  });
  await req("msg get, next by subject", "$JS.API.STREAM.MSG.GET.tx", {
    seq: 1,
    next_by_subj: "tx",
  });
  await req("msg get, last by subject", "$JS.API.STREAM.MSG.GET.tx", {
    last_by_subj: "tx",
  });
  await req("msg get, missing", "$JS.API.STREAM.MSG.GET.tx", { seq: 99 });
  await req("msg delete, missing", "$JS.API.STREAM.MSG.DELETE.tx", {
    seq: 99,
    no_erase: true,
  });
  // A pull waiting when its consumer goes.
  const before = pulled.length;
  nc.publish(
    "$JS.API.CONSUMER.MSG.NEXT.tx.c2",
    JSON.stringify({ batch: 1, expires: 3000e6 }),
    { reply: inbox },
  );
  await req("consumer delete", "$JS.API.CONSUMER.DELETE.tx.c2");
  await b.until(
    () => pulled.length > before,
    "the waiting pull's answer",
    5_000,
  );
  log.push([
    "waiting pull of a deleted consumer",
    pulled.slice(before).map((p) => p.describe),
  ]);
  await req("consumer delete, missing", "$JS.API.CONSUMER.DELETE.tx.c2");
  await req("stream info after consumer delete", "$JS.API.STREAM.INFO.tx");
  await req("stream purge", "$JS.API.STREAM.PURGE.tx", {});
  await req("stream delete", "$JS.API.STREAM.DELETE.txmini");
  await req("stream delete, missing", "$JS.API.STREAM.DELETE.txmini");
  // Limits.
  const lim = {
    name: "txlim",
    subjects: ["txlim"],
    retention: "interest",
    max_msgs: 2,
    max_msg_size: 64,
    discard: "new",
    max_consumers: 1,
    storage: "memory",
  };
  await req("limits stream", "$JS.API.STREAM.CREATE.txlim", lim);
  await req("limits consumer", "$JS.API.CONSUMER.DURABLE.CREATE.txlim.l1", {
    stream_name: "txlim",
    config: { durable_name: "l1", ack_policy: "explicit" },
  });
  await req(
    "limits, second consumer",
    "$JS.API.CONSUMER.DURABLE.CREATE.txlim.l2",
    {
      stream_name: "txlim",
      config: { durable_name: "l2", ack_policy: "explicit" },
    },
  );
  await req("limits, too big", "txlim", "x".repeat(100));
  await req("limits, 1", "txlim", "one");
  await req("limits, 2", "txlim", "two");
  await req("limits, discard new", "txlim", "three");
  await req("limits stream info", "$JS.API.STREAM.INFO.txlim");
  // Core subjects.
  const core: string[] = [];
  for (const s of ["txc.*", "txc.>", "txc.a.b", "txc.a"]) {
    nc.subscribe(s, {
      callback: (_e, m) => {
        core.push(`${s} <- ${m.subject}`);
      },
    });
  }
  nc.publish("txc.a", "1");
  nc.publish("txc.a.b", "2");
  nc.publish("txc.a.b.c", "3");
  await nc.flush();
  await b.until(() => core.length >= 5, "core deliveries", 5_000);
  log.push(["core wildcards", core.sort()]);
  return log;
}
