// The JetStream API on `$JS.API.>` and the ack subjects `$JS.ACK.>`:
// requests parsed, answered with nats-server 2.9's JSON shapes and errors.
import {
  Consumer,
  normalizeConsumerConfig,
  updateRefusal,
} from "./_consumer.ts";
import { ApiError, errors } from "./_errors.ts";
import type { WireMsg } from "./_message.ts";
import {
  type Env,
  normalizeStreamConfig,
  Stream,
  subjectsOverlap,
} from "./_stream.ts";
import { nuid } from "@nats-io/nats-core/internal";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const API = "$JS.API.";
const ACK = "$JS.ACK.";
const T = "io.nats.jetstream.api.v1.";

/** The JetStream side of the broker: streams, consumers, the API. */
export class JetStream {
  readonly streams = new Map<string, Stream>();
  readonly #env: Env;
  #total = 0;
  #errors = 0;

  constructor(env: Env) {
    this.#env = env;
  }

  /** The stream capturing `subject`, if any. */
  streamFor(subject: string): Stream | undefined {
    for (const s of this.streams.values()) {
      if (s.captures(subject)) return s;
    }
    return undefined;
  }

  /**
   * Handle a message on a server subject. Returns whether the server is a
   * responder for it (if not, a request gets "no responders").
   */
  handle(m: WireMsg): boolean {
    if (m.subject.startsWith(API)) return this.#api(m);
    if (m.subject.startsWith(ACK)) return this.#ack(m);
    const stream = this.streamFor(m.subject);
    if (stream === undefined) return false;
    stream.publish(m);
    return true;
  }

  #ack(m: WireMsg): boolean {
    const t = m.subject.split(".");
    let i: number;
    if (t.length === 9) i = 2;
    else if (t.length >= 11) i = 4;
    else return false;
    const stream = this.streams.get(t[i]!);
    const consumer = stream?.consumers.get(t[i + 1]!);
    if (consumer === undefined) return false;
    const dc = Number(t[i + 2]);
    const sseq = Number(t[i + 3]);
    const dseq = Number(t[i + 4]);
    if (![dc, sseq, dseq].every(Number.isSafeInteger)) return true;
    consumer.ack(sseq, dseq, dc, decoder.decode(m.data), m.reply);
    return true;
  }

  #api(m: WireMsg): boolean {
    const t = m.subject.slice(API.length).split(".");
    const reply = m.reply;
    const body = decoder.decode(m.data);
    if (t[0] === "DIRECT") return false; // allow_direct is not modelled
    let type = "";
    const respond = (value: Record<string, unknown>) => {
      this.#total++;
      if (value.error !== undefined) this.#errors++;
      if (!reply) return;
      const text = JSON.stringify(
        type === "" ? value : { type: T + type, ...value },
      );
      this.#env.send({
        subject: reply,
        reply: undefined,
        hdr: undefined,
        data: encoder.encode(text),
      });
    };
    const route = this.#route(t);
    if (route === undefined) return true; // the server stays silent
    if (route.kind === "next") {
      const stream = this.streams.get(route.stream);
      const consumer = stream?.consumers.get(route.consumer);
      // No such consumer: 2.9 does not answer a pull request at all.
      if (consumer !== undefined && reply) consumer.request(reply, body);
      return true;
    }
    type = route.type;
    try {
      respond(route.run(body));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const extra = route.type === "stream_info_response"
        ? { total: 0, offset: 0, limit: 0 }
        : {};
      respond({ error: error.body, ...extra });
    }
    return true;
  }

  #route(
    t: string[],
  ):
    | { kind: "next"; stream: string; consumer: string }
    | {
      kind: "api";
      type: string;
      run: (body: string) => Record<string, unknown>;
    }
    | undefined {
    const [a, b, c, d, e] = t;
    const n = t.length;
    const api = (
      type: string,
      run: (body: string) => Record<string, unknown>,
    ) => ({ kind: "api" as const, type, run });
    if (a === "INFO" && n === 1) {
      return api("account_info_response", () => this.#accountInfo());
    }
    if (a === "STREAM") {
      if (b === "CREATE" && n === 3) {
        return api("stream_create_response", (x) => this.#streamCreate(c!, x));
      }
      if (b === "UPDATE" && n === 3) {
        return api("stream_update_response", (x) => this.#streamUpdate(c!, x));
      }
      if (b === "INFO" && n === 3) {
        return api("stream_info_response", () => ({
          total: 0,
          offset: 0,
          limit: 0,
          ...this.#stream(c!).info(),
        }));
      }
      if (b === "DELETE" && n === 3) {
        return api("stream_delete_response", () => {
          const s = this.#stream(c!);
          s.delete();
          this.streams.delete(s.name);
          return { success: true };
        });
      }
      if (b === "PURGE" && n === 3) {
        return api("stream_purge_response", (x) => {
          const s = this.#stream(c!);
          const r = parse(x, true) as Record<string, unknown>;
          const purged = s.purge({
            ...(typeof r.filter === "string" ? { filter: r.filter } : {}),
            ...(typeof r.seq === "number" ? { seq: r.seq } : {}),
            ...(typeof r.keep === "number" ? { keep: r.keep } : {}),
          });
          return { success: true, purged };
        });
      }
      if (b === "NAMES" && n === 2) {
        return api("stream_names_response", (x) => {
          const r = parse(x, true) as Record<string, unknown>;
          const subject = typeof r.subject === "string" ? r.subject : "";
          const names = [...this.streams.values()]
            .filter((s) =>
              subject === "" || subjectsOverlap(s.config.subjects, [subject])
            )
            .map((s) => s.name).sort();
          return {
            total: names.length,
            offset: 0,
            limit: 1024,
            streams: names.length === 0 ? null : names,
          };
        });
      }
      if (b === "LIST" && n === 2) {
        return api("stream_list_response", () => {
          const list = [...this.streams.values()]
            .sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
            .map((s) => s.info());
          return { total: list.length, offset: 0, limit: 256, streams: list };
        });
      }
      if (b === "MSG" && c === "GET" && n === 4) {
        return api("stream_msg_get_response", (x) => this.#msgGet(d!, x));
      }
      if (b === "MSG" && c === "DELETE" && n === 4) {
        return api("stream_msg_delete_response", (x) => {
          const s = this.#stream(d!);
          const r = parse(x, false) as Record<string, unknown>;
          if (typeof r.seq !== "number") throw errors.invalidJSON();
          if (!s.remove(r.seq)) {
            throw errors.streamMsgDeleteFailed(
              r.seq > s.lastSeq ? "stream store EOF" : "no message found",
            );
          }
          return { success: true };
        });
      }
      return undefined;
    }
    if (a === "CONSUMER") {
      if (b === "MSG" && c === "NEXT" && n === 5) {
        return { kind: "next", stream: d!, consumer: e! };
      }
      if (b === "CREATE" && (n === 3 || n === 4 || n === 5)) {
        return api(
          "consumer_create_response",
          (x) => this.#consumerCreate(c!, n >= 4 ? d! : undefined, x, false),
        );
      }
      if (b === "DURABLE" && c === "CREATE" && n === 5) {
        return api(
          "consumer_create_response",
          (x) => this.#consumerCreate(d!, e!, x, true),
        );
      }
      if (b === "INFO" && n === 4) {
        return api(
          "consumer_info_response",
          () => this.#consumer(c!, d!).info(),
        );
      }
      if (b === "DELETE" && n === 4) {
        return api("consumer_delete_response", () => {
          const consumer = this.#consumer(c!, d!);
          const stream = consumer.stream;
          stream.consumers.delete(consumer.name);
          consumer.stop("Consumer Deleted");
          stream.consumerDeleted(consumer, consumer.ackFloor);
          return { success: true };
        });
      }
      if (b === "NAMES" && n === 3) {
        return api("consumer_names_response", () => {
          const names = [...this.#stream(c!).consumers.keys()].sort();
          return {
            total: names.length,
            offset: 0,
            limit: 1024,
            consumers: names.length === 0 ? null : names,
          };
        });
      }
      if (b === "LIST" && n === 3) {
        return api("consumer_list_response", () => {
          const list = [...this.#stream(c!).consumers.values()]
            .sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
            .map((x) => x.info());
          return { total: list.length, offset: 0, limit: 256, consumers: list };
        });
      }
    }
    return undefined;
  }

  #stream(name: string): Stream {
    const s = this.streams.get(name);
    if (s === undefined) throw errors.streamNotFound();
    return s;
  }

  #consumer(stream: string, name: string): Consumer {
    const c = this.#stream(stream).consumers.get(name);
    if (c === undefined) throw errors.consumerNotFound();
    return c;
  }

  #accountInfo(): Record<string, unknown> {
    let memory = 0;
    let storage = 0;
    let consumers = 0;
    for (const s of this.streams.values()) {
      const bytes = s.state().bytes as number;
      if (s.config.storage === "memory") memory += bytes;
      else storage += bytes;
      consumers += s.consumers.size;
    }
    return {
      memory,
      storage,
      streams: this.streams.size,
      consumers,
      limits: {
        max_memory: -1,
        max_storage: -1,
        max_streams: -1,
        max_consumers: -1,
        max_ack_pending: -1,
        memory_max_stream_bytes: -1,
        storage_max_stream_bytes: -1,
        max_bytes_required: false,
      },
      api: { total: this.#total, errors: this.#errors },
    };
  }

  #streamCreate(name: string, body: string): Record<string, unknown> {
    const raw = parse(body, false) as Record<string, unknown>;
    if (raw.name === undefined || raw.name === "") raw.name = name;
    if (raw.name !== name) throw errors.streamMismatch();
    const config = normalizeStreamConfig(raw);
    const existing = this.streams.get(name);
    if (existing !== undefined) {
      if (!existing.sameAs(config)) throw errors.streamNameExist();
      return { ...existing.info(), did_create: true };
    }
    for (const other of this.streams.values()) {
      if (subjectsOverlap(other.config.subjects, config.subjects)) {
        throw errors.streamSubjectOverlap();
      }
    }
    const stream = new Stream(this.#env, config);
    this.streams.set(name, stream);
    return { ...stream.info(), did_create: true };
  }

  #streamUpdate(name: string, body: string): Record<string, unknown> {
    const raw = parse(body, false) as Record<string, unknown>;
    if (raw.name === undefined || raw.name === "") raw.name = name;
    if (raw.name !== name) throw errors.streamMismatch();
    const config = normalizeStreamConfig(raw);
    const stream = this.#stream(name);
    for (const other of this.streams.values()) {
      if (
        other !== stream &&
        subjectsOverlap(other.config.subjects, config.subjects)
      ) {
        throw errors.streamSubjectOverlap();
      }
    }
    stream.update(config);
    return stream.info();
  }

  #msgGet(name: string, body: string): Record<string, unknown> {
    const s = this.#stream(name);
    const r = parse(body, false) as Record<string, unknown>;
    const seq = typeof r.seq === "number" ? r.seq : 0;
    const last = typeof r.last_by_subj === "string" ? r.last_by_subj : "";
    const next = typeof r.next_by_subj === "string" ? r.next_by_subj : "";
    if ((seq > 0 && last !== "") || (seq === 0 && last === "" && next === "")) {
      throw errors.badRequest();
    }
    const m = last !== ""
      ? s.lastBySubject(last)
      : next !== ""
      ? s.nextFrom(seq, next)
      : s.get(seq);
    if (m === undefined) throw errors.noMessageFound();
    return { message: Stream.messageJson(m) };
  }

  #consumerCreate(
    streamName: string,
    subjectName: string | undefined,
    body: string,
    durableApi: boolean,
  ): Record<string, unknown> {
    const req = parse(body, false) as Record<string, unknown>;
    if (req.stream_name !== undefined && req.stream_name !== streamName) {
      throw errors.streamMismatch();
    }
    const stream = this.#stream(streamName);
    const config = normalizeConsumerConfig(req.config ?? {}, stream);
    const durable = config.durable_name;
    if (durableApi) {
      if (durable === undefined) {
        throw new ApiError(
          400,
          10016,
          "consumer expected to be durable but no durable name set in subject",
        );
      }
      if (durable !== subjectName) throw errors.consumerDurableNameMismatch();
    } else if (subjectName !== undefined) {
      const named = config.name ?? durable;
      if (named !== undefined && named !== subjectName) {
        throw new ApiError(
          400,
          10133,
          "consumer name in subject does not match name in request",
        );
      }
      if (config.name === undefined && durable === undefined) {
        config.name = subjectName;
      }
    }
    const name = durable ?? config.name ?? nuid.next().slice(0, 8);
    const existing = stream.consumers.get(name);
    if (existing !== undefined) {
      const refusal = updateRefusal(existing.config, config);
      if (refusal !== undefined) throw errors.consumerCreate(refusal);
      existing.config = config;
      existing.signal();
      return existing.info();
    }
    const max = stream.config.max_consumers;
    if (max > 0 && stream.consumers.size >= max) {
      throw errors.maximumConsumersLimit();
    }
    const consumer = new Consumer(this.#env, stream, name, config);
    stream.consumers.set(name, consumer);
    consumer.signal();
    return consumer.info();
  }
}

function parse(body: string, emptyOk: boolean): unknown {
  if (body.trim() === "") {
    if (emptyOk) return {};
    throw errors.invalidJSON();
  }
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw errors.invalidJSON();
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw errors.invalidJSON();
  }
  return v;
}
