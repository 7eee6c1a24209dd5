/**
 * {@linkcode nodeListener}: mount a web-standard handler (a
 * {@linkcode Dashboard}, a health handler) in a Node `http` or `https`
 * server. It imports nothing from Node: it works on the request and
 * response objects it is given, streams the response (server-sent events
 * included, with back-pressure), and aborts the request's signal when the
 * client goes away.
 *
 * @module
 */

/** The parts of Node's `IncomingMessage` that are used. */
export interface NodeRequest extends AsyncIterable<unknown> {
  /** The request method. */
  method?: string | undefined;
  /** The path and query. */
  url?: string | undefined;
  /** The request headers. */
  headers: Record<string, string | string[] | undefined>;
  /** The socket (a TLS socket has `encrypted: true`). */
  socket?: object | null;
  /** Stop reading. */
  destroy?(error?: Error): unknown;
}

/** The parts of Node's `ServerResponse` that are used. */
export interface NodeResponse {
  /** Send the status line and headers. */
  writeHead(
    status: number,
    headers: Record<string, string | string[]>,
  ): unknown;
  /** Write a chunk; false when the buffer is full (wait for "drain"). */
  write(chunk: Uint8Array): boolean;
  /** Finish the response. */
  end(): unknown;
  /** "close" (finished or connection lost) and "drain". */
  on(event: "close" | "drain", listener: () => void): unknown;
  /** Remove a listener. */
  off(event: "close" | "drain", listener: () => void): unknown;
  /** Whether the connection is gone. */
  readonly destroyed?: boolean;
}

/**
 * Adapt `(Request) => Promise<Response>` to Node's
 * `(req, res) => void`.
 *
 * @param handler The web-standard handler.
 * @returns A request listener for `http.createServer`.
 *
 * @example Serve the dashboard with node:http
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { dashboard, nodeListener } from "@walnats/walnats/dashboard";
 *
 * const handler = dashboard({ nc });
 * createServer(nodeListener(handler)).listen(8080, "127.0.0.1");
 * ```
 */
export function nodeListener(
  handler: (request: Request) => Promise<Response>,
): (req: NodeRequest, res: NodeResponse) => void {
  return (req, res) => {
    serve(handler, req, res).catch(() => {
      // The connection broke while answering: nothing left to tell.
      if (!res.destroyed) res.end();
    });
  };
}

async function serve(
  handler: (request: Request) => Promise<Response>,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const controller = new AbortController();
  const onClose = () => controller.abort();
  res.on("close", onClose);
  try {
    const method = (req.method ?? "GET").toUpperCase();
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    let url: URL;
    try {
      const tls = (req.socket as { encrypted?: boolean } | null)?.encrypted;
      const scheme = tls === true ? "https" : "http";
      url = new URL(
        req.url ?? "/",
        `${scheme}://${req.headers.host ?? "localhost"}`,
      );
    } catch {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end();
      return;
    }
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers,
      signal: controller.signal,
    };
    if (method !== "GET" && method !== "HEAD") {
      const it = req[Symbol.asyncIterator]();
      init.body = new ReadableStream<Uint8Array>({
        async pull(c) {
          const { done, value } = await it.next();
          if (done) c.close();
          else c.enqueue(value as Uint8Array);
        },
        cancel() {
          req.destroy?.();
        },
      });
      init.duplex = "half";
    }
    const response = await handler(new Request(url, init));
    const out: Record<string, string | string[]> = {};
    response.headers.forEach((value, key) => {
      out[key] = value;
    });
    res.writeHead(response.status, out);
    if (response.body === null) {
      res.end();
      return;
    }
    const reader = response.body.getReader();
    const stop = () => reader.cancel().catch(() => {});
    controller.signal.addEventListener("abort", stop, { once: true });
    try {
      while (!controller.signal.aborted) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) {
          await new Promise<void>((resolve) => {
            const go = () => {
              res.off("drain", go);
              res.off("close", go);
              resolve();
            };
            res.on("drain", go);
            res.on("close", go);
          });
        }
      }
    } finally {
      controller.signal.removeEventListener("abort", stop);
    }
    res.end();
  } finally {
    res.off("close", onClose);
  }
}
