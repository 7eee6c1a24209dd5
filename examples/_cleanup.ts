// deno-lint-ignore-file no-console -- a helper of programs: it says what it removed
// What the numbered examples (and the demo) share about their NATS server:
// where it is, and leaving nothing behind on it.
//
// An example uses NATS_URL when a server answers there, else a throwaway
// local nats-server, whose streams go with it. Run against your own server
// it removes, when it ends, what it made there: the streams of its events
// (their consumers with them), their dead-letter and delay streams, and
// the KV buckets it created; streams that were there before it ran are
// kept, less the consumers it added. (By hand: `nats stream rm <event>`,
// `nats stream rm walnats_dlq_<event>`, `nats stream rm walnats_delay_<event>`.)
import { connect as tcpConnect } from "node:net";
import process from "node:process";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type AnyActor,
  type AnyEvent,
  deadLetterStream,
} from "@walnats/walnats";
import { delayStream } from "@walnats/walnats/ops";
import { NatsServer } from "@walnats/walnats/testing";

/** Where an example's NATS server is. */
export interface ExampleNats {
  /** The server(s) to connect to. */
  readonly url: string;
  /**
   * The throwaway local nats-server started for this run (close it at the
   * end), or `undefined` when the example runs on the server at NATS_URL.
   */
  readonly server: NatsServer | undefined;
}

/**
 * NATS_URL when a server answers there; else (NATS_URL unset, or nothing
 * listening) a throwaway local nats-server.
 */
export async function exampleNats(): Promise<ExampleNats> {
  const url = process.env.NATS_URL?.trim();
  if (url) {
    if (await answers(url)) return { url, server: undefined };
    console.error(`nothing answers at ${url}; starting a local nats-server`);
  }
  const server = await NatsServer.start();
  return { url: server.url, server };
}

/** Whether any of the comma-separated servers accepts a TCP connection. */
export async function answers(servers: string): Promise<boolean> {
  const each = servers.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return (await Promise.all(each.map(listening))).some((ok) => ok);
}

function listening(server: string): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const url = new URL(server.includes("://") ? server : `nats://${server}`);
    host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
    const fallback = url.protocol === "wss:"
      ? 443
      : url.protocol === "ws:"
      ? 80
      : 4222;
    port = Number(url.port || fallback);
  } catch {
    return Promise.resolve(true); // not ours to judge: connect() will say
  }
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

/** What an example makes on the server, for {@linkcode leaveNothing}. */
export interface Made {
  /** Its actors: their consumers, and their events' streams. */
  readonly actors: readonly AnyActor[];
  /** KV buckets it may create (e.g. `walnats_paused`, `walnats_schedules`). */
  readonly buckets?: readonly string[];
}

/**
 * Notes which of the streams `made` needs exist already, and returns a
 * disposable that, when the scope ends, removes the others and the
 * consumers of `made.actors` it added to the ones that were there. Call it
 * before registering anything, and declare it (`await using`) after the
 * connection it is given, so that it runs while that is still open. With a
 * throwaway `server` it does nothing: everything goes with the server.
 */
export async function leaveNothing(
  nc: NatsConnection,
  server: NatsServer | undefined,
  made: Made,
): Promise<AsyncDisposable> {
  if (server !== undefined) return { [Symbol.asyncDispose]: async () => {} };
  const jsm = await jetstreamManager(nc);
  const events = [...new Set(made.actors.map((a) => a.event))];
  const streams = [
    ...events.flatMap((e) => [
      e.stream,
      deadLetterStream(e),
      delayStream(e.stream),
    ]),
    ...(made.buckets ?? []).map((bucket) => `KV_${bucket}`),
  ];
  const before = new Set<string>();
  for (const stream of streams) {
    if (await found(jsm.streams.info(stream))) before.add(stream);
  }
  const added: AnyActor[] = [];
  for (const actor of made.actors) {
    const stream = actor.event.stream;
    if (!before.has(stream)) continue; // goes with the stream
    if (!await found(jsm.consumers.info(stream, actor.consumer))) {
      added.push(actor);
    }
  }
  return {
    async [Symbol.asyncDispose]() {
      for (const stream of streams) {
        if (!before.has(stream)) await gone(jsm.streams.delete(stream));
      }
      for (const actor of added) {
        await gone(jsm.consumers.delete(actor.event.stream, actor.consumer));
      }
      const fresh = events.filter((e) => !before.has(e.stream));
      if (fresh.length > 0) {
        console.log(
          `removed the streams of ${fresh.map((e) => e.name).join(", ")}`,
        );
      }
      const buckets = (made.buckets ?? []).filter((b) =>
        !before.has(`KV_${b}`)
      );
      if (buckets.length > 0) {
        console.log(`removed the KV buckets ${buckets.join(", ")}`);
      }
      for (const event of events.filter((e) => before.has(e.stream))) {
        const mine = added.filter((a) => a.event === event).map((a) => a.name);
        console.log(
          `kept the stream ${event.stream}, which was there before` +
            (mine.length > 0
              ? `; removed this example's consumers: ${mine.join(", ")}`
              : ""),
        );
      }
    },
  };
}

/**
 * Delete the streams, dead-letter and delay streams of `events` (the demo's
 * way: its streams are made by several processes).
 */
export async function removeStreams(
  nc: NatsConnection,
  ...events: AnyEvent[]
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const event of events) {
    for (
      const stream of [
        event.stream,
        deadLetterStream(event),
        delayStream(event.stream),
      ]
    ) {
      await gone(jsm.streams.delete(stream));
    }
  }
  console.log(
    `removed the streams of ${events.map((e) => e.name).join(", ")}`,
  );
}

/** Whether the stream or consumer asked about exists. */
async function found(info: Promise<unknown>): Promise<boolean> {
  try {
    await info;
    return true;
  } catch (error) {
    if (notFound(error)) return false;
    throw error;
  }
}

/** Wait for a delete; one already gone is as good. */
async function gone(deleted: Promise<unknown>): Promise<void> {
  try {
    await deleted;
  } catch (error) {
    if (!notFound(error)) throw error;
  }
}

function notFound(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound ||
      error.code === JetStreamApiCodes.ConsumerNotFound);
}
