/**
 * A real `nats-server` with JetStream for tests: started on a free loopback
 * port with a temporary store, stopped, restarted on the same port and store,
 * or killed. It spawns a process, so it uses `node:` APIs, which Deno, Bun
 * and Node all provide; it is a testing entry point, never loaded by the core.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** Options for {@linkcode NatsServer.start}. */
export interface NatsServerOptions {
  /**
   * Path of the `nats-server` binary.
   * @default {`NATS_SERVER_BIN` env, else `nats-server` found on `PATH`}
   */
  bin?: string;
  /**
   * Port to listen on; `-1` lets the server pick a free one.
   * @default {-1}
   */
  port?: number;
  /**
   * JetStream store directory; a fresh temporary one is made and removed
   * when the server is disposed.
   */
  storeDir?: string;
  /**
   * Extra command-line arguments passed to `nats-server` as they are
   * (for example `["--user", "a", "--pass", "b"]`).
   * @default {[]}
   */
  args?: string[];
  /**
   * How long to wait for the server to accept connections, in milliseconds.
   * @default {10000}
   */
  startTimeout?: number;
  /**
   * Print the server's log lines to stderr (`-DV` is not added: pass it in
   * `args` for protocol traces).
   * @default {false}
   */
  debug?: boolean;
  /**
   * Text of a nats-server configuration file, written to a temporary file
   * and passed with `-c` (command-line flags such as the port and store
   * still win). Used by `NatsCluster` for the `cluster` block.
   */
  config?: string;
  /**
   * Server name (`--name`), unique within a cluster; JetStream reports
   * leaders by this name.
   * @default {chosen by the server}
   */
  name?: string;
}

/** Thrown when the `nats-server` binary cannot be found. */
export class NatsServerNotFoundError extends Error {
  /**
   * Always `"NatsServerNotFoundError"`: shown in logs and stack traces, and
   * comparable where `instanceof` fails (two copies of the package loaded).
   */
  override name = "NatsServerNotFoundError";
}

const NOT_FOUND_HINT =
  "nats-server not found on PATH: install it with apt-get install nats-server, " +
  "brew install nats-server, or go install github.com/nats-io/nats-server/v2@latest " +
  "(or set NATS_SERVER_BIN to its path)";

// Servers still running when the process exits are killed with it, so a
// crashed or interrupted test run leaves no stray nats-server behind.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(proc: ChildProcess): void {
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  globalThis.process?.on?.("exit", () => {
    for (const p of live) p.kill("SIGKILL");
  });
}

/** How many `nats-server` processes started here are still running. */
export function runningServers(): number {
  return live.size;
}

function env(name: string): string | undefined {
  // `process` exists on Deno 2, Bun and Node.
  return globalThis.process?.env?.[name];
}

/** Find the `nats-server` binary, or throw {@linkcode NatsServerNotFoundError}. */
export function findNatsServer(bin?: string): string {
  const wanted = bin ?? env("NATS_SERVER_BIN");
  if (wanted !== undefined && wanted !== "") {
    if (wanted.includes("/")) {
      if (existsSync(wanted)) return wanted;
      throw new NatsServerNotFoundError(
        `${NOT_FOUND_HINT}; the configured path ${wanted} does not exist`,
      );
    }
    return searchPath(wanted);
  }
  return searchPath("nats-server");
}

function searchPath(name: string): string {
  // Debian installs the binary under /usr/sbin, which non-root PATHs lack.
  const dirs = (env("PATH") ?? "").split(delimiter).concat([
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/local/bin",
  ]);
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new NatsServerNotFoundError(NOT_FOUND_HINT);
}

/**
 * A `nats-server` process with JetStream, for tests and demos.
 *
 * @example Start a server for a test
 * ```ts
 * import { NatsServer } from "@walnats/walnats/testing";
 *
 * await using server = await NatsServer.start();
 * console.log(server.url); // nats://127.0.0.1:<port>
 * ```
 */
export class NatsServer implements AsyncDisposable {
  /** Port the server listens on (stays the same across restarts). */
  readonly port: number;
  /** JetStream store directory (kept across restarts). */
  readonly storeDir: string;
  readonly #bin: string;
  readonly #args: string[];
  readonly #ownsStore: boolean;
  readonly #startTimeout: number;
  readonly #debug: boolean;
  readonly #config: string | undefined;
  /** The `--name` given at start, if any. */
  readonly name: string | undefined;
  #configDir: string | undefined;
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log: string[] = [];

  private constructor(
    bin: string,
    port: number,
    storeDir: string,
    ownsStore: boolean,
    options: NatsServerOptions,
  ) {
    this.#bin = bin;
    this.port = port;
    this.storeDir = storeDir;
    this.#ownsStore = ownsStore;
    this.#args = options.args ?? [];
    this.#startTimeout = options.startTimeout ?? 10_000;
    this.#debug = options.debug ?? false;
    this.#config = options.config;
    this.name = options.name;
  }

  /**
   * Start a server and wait until it accepts connections.
   *
   * @param options Where the binary is, port, store, extra arguments.
   * @returns The running server; dispose of it to stop it and remove its store.
   * @throws {NatsServerNotFoundError} The binary is not installed.
   */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const bin = findNatsServer(options.bin);
    const ownsStore = options.storeDir === undefined;
    const storeDir = options.storeDir ??
      await mkdtemp(join(tmpdir(), "walnats-nats-"));
    const server = new NatsServer(
      bin,
      options.port ?? -1,
      storeDir,
      ownsStore,
      options,
    );
    try {
      const port = await server.#spawn(options.port ?? -1);
      (server as { port: number }).port = port;
    } catch (error) {
      if (ownsStore) await rm(storeDir, { recursive: true, force: true });
      if (server.#configDir !== undefined) {
        await rm(server.#configDir, { recursive: true, force: true });
      }
      throw error;
    }
    return server;
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** The process id, while running. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** The last lines the server logged (kept for error messages). */
  get log(): readonly string[] {
    return this.#log;
  }

  async #configArgs(): Promise<string[]> {
    const args = this.name === undefined ? [] : ["--name", this.name];
    if (this.#config === undefined) return args;
    this.#configDir ??= await mkdtemp(join(tmpdir(), "walnats-conf-"));
    const file = join(this.#configDir, "nats-server.conf");
    await writeFile(file, this.#config);
    return ["-c", file, ...args];
  }

  async #spawn(port: number): Promise<number> {
    const portsDir = await mkdtemp(join(tmpdir(), "walnats-ports-"));
    try {
      const args = [
        ...await this.#configArgs(),
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "-js",
        "-sd",
        this.storeDir,
        "--ports_file_dir",
        portsDir,
        ...this.#args,
      ];
      const proc = spawn(this.#bin, args, {
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.#proc = proc;
      track(proc);
      this.#log = [];
      const onData = (chunk: Uint8Array) => {
        const text = new TextDecoder().decode(chunk);
        for (const line of text.split("\n")) {
          if (line === "") continue;
          this.#log.push(line);
          if (this.#log.length > 200) this.#log.shift();
          // deno-lint-ignore no-console -- the debug option prints the server's log
          if (this.#debug) console.error(`[nats-server:${port}] ${line}`);
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      let exitCode: number | null | undefined;
      this.#exited = new Promise<void>((resolve) => {
        proc.once("exit", (code) => {
          exitCode = code;
          if (this.#proc === proc) this.#proc = undefined;
          resolve();
        });
      });
      const spawnError = new Promise<never>((_, reject) => {
        proc.once("error", (error) => {
          reject(
            (error as { code?: string }).code === "ENOENT"
              ? new NatsServerNotFoundError(NOT_FOUND_HINT, { cause: error })
              : error,
          );
        });
      });
      spawnError.catch(() => {});
      const deadline = performance.now() + this.#startTimeout;
      const ready = (async () => {
        while (performance.now() < deadline) {
          if (exitCode !== undefined) {
            throw new Error(
              `nats-server exited with code ${exitCode} while starting:\n${
                this.#log.slice(-10).join("\n")
              }`,
            );
          }
          const actual = port > 0 ? port : await readPortsFile(portsDir);
          if (actual !== undefined && await canConnect(actual)) return actual;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(
          `nats-server did not accept connections within ${this.#startTimeout} ms:\n${
            this.#log.slice(-10).join("\n")
          }`,
        );
      })();
      try {
        return await Promise.race([ready, spawnError]);
      } catch (error) {
        proc.kill("SIGKILL");
        await this.#exited;
        throw error;
      }
    } finally {
      await rm(portsDir, { recursive: true, force: true });
    }
  }

  /** Stop the server gracefully (SIGTERM), keeping its port and store. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kill the server at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    proc.kill("SIGKILL");
    await this.#exited;
  }

  /** Start the server again on the same port with the same store. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn(this.port);
  }

  /** Start the server again after {@linkcode stop} or {@linkcode kill}. */
  async resume(): Promise<void> {
    if (this.#proc !== undefined) return;
    await this.#spawn(this.port);
  }

  /** Stop the server and remove its temporary store. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    if (this.#ownsStore) {
      await rm(this.storeDir, { recursive: true, force: true });
    }
    if (this.#configDir !== undefined) {
      await rm(this.#configDir, { recursive: true, force: true });
    }
  }

  /** Same as `[Symbol.asyncDispose]()`. */
  close(): Promise<void> {
    return this[Symbol.asyncDispose]();
  }
}

async function readPortsFile(dir: string): Promise<number | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const name = names.find((n) => n.endsWith(".ports"));
  if (name === undefined) return undefined;
  try {
    const info = JSON.parse(await readFile(join(dir, name), "utf8")) as {
      nats?: string[];
    };
    const url = info.nats?.[0];
    if (url === undefined) return undefined;
    return Number(new URL(url).port);
  } catch {
    // The file may be half-written; try again on the next poll.
    return undefined;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * A loopback TCP port that was free a moment ago (the kernel picked it);
 * for configuration that must name ports before a server starts.
 *
 * @returns The port number.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null
        ? address.port
        : 0;
      server.close(() => resolve(port));
    });
  });
}
