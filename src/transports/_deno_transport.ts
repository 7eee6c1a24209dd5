// A nats-core Transport on Deno's own sockets (Deno.connect, Deno.startTls,
// Deno.connectTls): no Node compatibility layer between NATS and the wire.
// The JSR package @nats-io/transport-deno is the upstream equivalent; it
// cannot be installed from the npm registry, so this one is ours.
/** @ignore */
import { concatBytes } from "../_async.ts";
import {
  checkOptions,
  type ConnectionOptions,
  errors,
  extractProtocolMessage,
  INFO,
  type Server,
  type ServerInfo,
  type Transport,
} from "@nats-io/nats-core/internal";
import {
  deno,
  type DenoConn,
  type DenoTcpConn,
  type DenoTlsConn,
} from "./_deno_api.ts";

/** Most bytes of queued frames copied into one socket write. */
const WRITE_CHUNK = 256 * 1024;

/** Certificates and keys named by the connection's `tls` options. */
interface TlsMaterial {
  caCerts?: string[];
  cert?: string;
  key?: string;
}

async function readText(path: string | undefined): Promise<string | undefined> {
  return path === undefined ? undefined : await deno().readTextFile(path);
}

async function tlsMaterial(options: ConnectionOptions): Promise<TlsMaterial> {
  const tls = options.tls;
  if (tls === null || tls === undefined) return {};
  const out: TlsMaterial = {};
  const ca = (await readText(tls.caFile)) ?? tls.ca;
  if (ca !== undefined) out.caCerts = [String(ca)];
  const cert = (await readText(tls.certFile)) ?? tls.cert;
  const key = (await readText(tls.keyFile)) ?? tls.key;
  if (cert !== undefined) out.cert = String(cert);
  if (key !== undefined) out.key = String(key);
  return out;
}

/** nats-core `Transport` over a `Deno.Conn`. */
export class DenoTransport implements Transport {
  readonly lang = "walnats-deno";
  readonly version = "0.1.0";
  closeError?: Error;
  #conn: DenoConn | undefined;
  // Reads go into one reused buffer; each chunk handed on is a copy of just
  // the bytes read (streams would allocate a large buffer per read).
  readonly #buffer = new Uint8Array(64 * 1024);
  // Frames waiting to be written, written in order, batched into one write.
  #queue: Uint8Array[] = [];
  #flushing = false;
  #flushed: Promise<void> = Promise.resolve();
  #encrypted = false;
  #connected = false;
  #done = false;
  #options: ConnectionOptions = {};
  // Bytes read while waiting for INFO: yielded first, the protocol needs them.
  #peeked: Uint8Array[] = [];
  #closedResolve!: (value: void | Error) => void;
  readonly #closedPromise: Promise<void | Error> = new Promise((resolve) => {
    this.#closedResolve = resolve;
  });

  get isClosed(): boolean {
    return this.#done;
  }

  async connect(hp: Server, options: ConnectionOptions): Promise<void> {
    this.#options = options;
    const handshakeFirst = options.tls?.handshakeFirst === true;
    const tlsName = hp.tlsName || hp.hostname;
    try {
      const material = await tlsMaterial(options);
      const api = deno();
      let conn: DenoConn;
      if (handshakeFirst) {
        const tls = await api.connectTls({
          hostname: hp.hostname,
          port: hp.port,
          ...(material.caCerts ? { caCerts: material.caCerts } : {}),
          ...(material.cert && material.key
            ? { cert: material.cert, key: material.key }
            : {}),
        });
        await tls.handshake();
        conn = tls;
        this.#encrypted = true;
      } else {
        const tcp = await api.connect({
          hostname: hp.hostname,
          port: hp.port,
        });
        tcp.setNoDelay(true);
        conn = tcp;
      }
      this.#conn = conn;
      const info = await this.#peekInfo(conn);
      checkOptions(info, options);
      const desired = info.tls_available === true && options.tls !== null &&
        options.tls !== undefined;
      if (!handshakeFirst && (info.tls_required || desired)) {
        if (material.cert !== undefined) {
          throw errors.InvalidArgumentError.format(
            "tls",
            "client certificates need tls.handshakeFirst with the Deno transport (Deno.startTls cannot present one); use the ./node adapter otherwise",
          );
        }
        const tls: DenoTlsConn = await api.startTls(conn as DenoTcpConn, {
          hostname: tlsName,
          ...(material.caCerts ? { caCerts: material.caCerts } : {}),
        });
        conn = tls;
        this.#conn = conn;
        // The handshake is lazy: do it now, so a bad certificate fails the
        // connect rather than the first read.
        await tls.handshake();
        this.#encrypted = true;
      }
      if (info.tls_required && !this.#encrypted) {
        throw errors.InvalidArgumentError.format(
          "tls",
          "is not available on this server",
        );
      }
      this.#connected = true;
    } catch (error) {
      this.#shutdown();
      if (error instanceof deno().errors.ConnectionRefused) {
        throw new errors.ConnectionError("connection refused", {
          cause: error,
        });
      }
      throw error;
    }
  }

  async #read(conn: DenoConn): Promise<Uint8Array | null> {
    const n = await conn.read(this.#buffer);
    return n === null ? null : this.#buffer.slice(0, n);
  }

  async #peekInfo(conn: DenoConn): Promise<ServerInfo> {
    const chunks: Uint8Array[] = [];
    while (true) {
      const value = await this.#read(conn);
      if (value === null) {
        throw new errors.ConnectionError(
          "connection closed before the server sent INFO",
        );
      }
      chunks.push(value);
      const line = extractProtocolMessage(concatBytes(chunks));
      if (line === "") continue;
      const match = INFO.exec(line);
      if (!match || match[1] === undefined) {
        throw new errors.ProtocolError("unexpected response from server");
      }
      this.#peeked = chunks;
      return JSON.parse(match[1]) as ServerInfo;
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.#iterate();
  }

  async *#iterate(): AsyncIterableIterator<Uint8Array> {
    const peeked = this.#peeked;
    this.#peeked = [];
    for (const chunk of peeked) yield chunk;
    const conn = this.#conn;
    if (conn === undefined) return;
    let error: Error | undefined;
    try {
      while (!this.#done) {
        const value = await this.#read(conn);
        if (value === null) break;
        if (this.#options.debug) {
          // deno-lint-ignore no-console -- nats.js' debug option traces the protocol to the console
          console.info(`> ${new TextDecoder().decode(value)}`);
        }
        yield value;
      }
    } catch (e) {
      if (!this.#done) error = e as Error;
    }
    await this.#closed(error, false);
  }

  isEncrypted(): boolean {
    return this.#encrypted;
  }

  send(frame: Uint8Array): void {
    if (this.#done || this.#conn === undefined) return;
    if (this.#options.debug) {
      // deno-lint-ignore no-console -- nats.js' debug option traces the protocol to the console
      console.info(`< ${new TextDecoder().decode(frame)}`);
    }
    this.#queue.push(frame);
    if (!this.#flushing) {
      this.#flushing = true;
      this.#flushed = this.#flush();
    }
  }

  // One writer at a time; the flag drops in the same tick the queue is seen
  // empty, so a frame queued later always starts a new flush.
  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const conn = this.#conn;
        if (conn === undefined) {
          this.#queue = [];
          return;
        }
        // Take frames up to WRITE_CHUNK bytes: a long synchronous loop of
        // publishes queues megabytes, and one write of all of them would
        // keep the server waiting for the copy before it reads a byte.
        const queue = this.#queue;
        let count = 0;
        let size = 0;
        while (count < queue.length && (count === 0 || size < WRITE_CHUNK)) {
          size += queue[count]!.length;
          count++;
        }
        const frames = count === queue.length ? queue : queue.slice(0, count);
        this.#queue = count === queue.length ? [] : queue.slice(count);
        let data = frames.length === 1 ? frames[0]! : concatBytes(frames);
        while (data.length > 0) {
          const n = await conn.write(data);
          data = data.subarray(n);
        }
      }
    } catch {
      // Write errors surface as a failed read or a stale connection.
      this.#queue = [];
    } finally {
      this.#flushing = false;
    }
  }

  close(err?: Error): Promise<void> {
    return this.#closed(err, true);
  }

  disconnect(): void {
    // Drop the socket: the protocol notices and reconnects.
    this.#closed(undefined, true).catch(() => {});
  }

  discard(): void {
    this.#done = true;
    this.#shutdown();
  }

  closed(): Promise<void | Error> {
    return this.#closedPromise;
  }

  async #closed(err: Error | undefined, internal: boolean): Promise<void> {
    if (!this.#connected) return;
    if (this.#done) {
      this.#shutdown();
      return;
    }
    if (err !== undefined) this.closeError = err;
    if (err === undefined && internal) {
      // Let queued writes reach the socket before it closes.
      await this.#flushed;
    }
    this.#done = true;
    this.#shutdown();
    this.#closedResolve(this.closeError);
  }

  #shutdown(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = undefined;
    this.#queue = [];
  }
}
