/**
 * A JetStream cluster of real `nats-server` processes on loopback, for
 * failover tests: every node a {@linkcode NatsServer} with its own store,
 * routes to the others, and kill, stop and resume per node.
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
/** @ignore */
import type { NatsConnection } from "@nats-io/nats-core";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "../transports/connect.ts";
import { freePort, NatsServer } from "./server.ts";

/** Options for {@linkcode NatsCluster.start}. */
export interface NatsClusterOptions {
  /**
   * Number of nodes; JetStream needs at least 3 for an R3 stream to keep a
   * quorum when one is lost.
   * @default {3}
   */
  nodes?: number;
  /**
   * Cluster name (`cluster.name`).
   * @default {"walnats"}
   */
  name?: string;
  /**
   * Path of the `nats-server` binary.
   * @default {`NATS_SERVER_BIN` env, else `nats-server` found on `PATH`}
   */
  bin?: string;
  /**
   * Extra configuration text added to every node's file (for example
   * `"max_payload: 2MB"`).
   * @default {""}
   */
  config?: string;
  /**
   * How long to wait for the cluster to be ready (every node up, a
   * JetStream meta leader elected), in milliseconds.
   * @default {30000}
   */
  startTimeout?: number;
  /**
   * Print the nodes' log lines to stderr.
   * @default {false}
   */
  debug?: boolean;
}

/** How long a wait of {@linkcode NatsCluster} may take. */
export interface ClusterWaitOptions {
  /**
   * Milliseconds before giving up.
   * @default {30000}
   */
  timeout?: number;
}

interface NodePorts {
  cluster: number;
  http: number;
}

async function until<T>(
  what: string,
  timeout: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + timeout;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `NatsCluster: timed out after ${timeout} ms waiting for ${what}${
      last === undefined ? "" : `: ${String(last)}`
    }`,
  );
}

/**
 * N `nats-server` nodes with JetStream, routed to each other on loopback,
 * each with its own temporary store and free ports.
 *
 * @example Kill a stream's leader and wait for a new one
 * ```ts ignore
 * import { NatsCluster } from "@walnats/walnats/testing";
 *
 * await using cluster = await NatsCluster.start({ nodes: 3 });
 * const pub = await events.connect(cluster.urls);
 * await pub.register(); // with limits: { replicas: 3 }
 * const leader = await cluster.streamLeader("user-registered");
 * await leader.kill();
 * const next = await cluster.streamLeader("user-registered");
 * console.log(leader.name, "->", next.name);
 * ```
 */
export class NatsCluster implements AsyncDisposable {
  /** The nodes, in start order; their names are `n1`, `n2`, ... */
  readonly nodes: readonly NatsServer[];
  readonly #ports: readonly NodePorts[];
  readonly #storeRoot: string;
  #nc: Promise<NatsConnection> | undefined;
  #jsm: JetStreamManager | undefined;

  private constructor(
    nodes: NatsServer[],
    ports: NodePorts[],
    storeRoot: string,
  ) {
    this.nodes = nodes;
    this.#ports = ports;
    this.#storeRoot = storeRoot;
  }

  /**
   * Start the nodes and wait until the cluster is ready.
   *
   * @param options Node count, cluster name, binary, extra configuration.
   * @returns The running cluster; dispose of it to stop every node and
   *   remove the stores.
   * @throws {RangeError} `nodes` is not a positive integer.
   * @throws {NatsServerNotFoundError} The binary is not installed.
   */
  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const count = options.nodes ?? 3;
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot start a cluster: nodes must be a positive integer, got ${count}`,
      );
    }
    const name = options.name ?? "walnats";
    const storeRoot = await mkdtemp(join(tmpdir(), "walnats-cluster-"));
    const ports: NodePorts[] = [];
    const nodes: NatsServer[] = [];
    try {
      for (let i = 0; i < count; i++) {
        ports.push({ cluster: await freePort(), http: await freePort() });
      }
      const routes = ports.map((p) => `nats-route://127.0.0.1:${p.cluster}`);
      // Started one after the other (routes retry until their peers are
      // up), but without waiting for a meta leader in between.
      const started = ports.map((p, i) =>
        NatsServer.start({
          ...(options.bin === undefined ? {} : { bin: options.bin }),
          ...(options.debug === undefined ? {} : { debug: options.debug }),
          name: `n${i + 1}`,
          storeDir: join(storeRoot, `n${i + 1}`),
          config: [
            `http: "127.0.0.1:${p.http}"`,
            "cluster {",
            `  name: "${name}"`,
            `  listen: "127.0.0.1:${p.cluster}"`,
            `  routes: [${routes.map((r) => `"${r}"`).join(", ")}]`,
            "}",
            options.config ?? "",
          ].join("\n"),
        })
      );
      const results = await Promise.allSettled(started);
      for (const r of results) {
        if (r.status === "fulfilled") nodes.push(r.value);
      }
      const failed = results.find((r) => r.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      const cluster = new NatsCluster(nodes, ports, storeRoot);
      await cluster.ready({ timeout: options.startTimeout ?? 30_000 });
      return cluster;
    } catch (error) {
      for (const node of nodes) await node.close();
      await rm(storeRoot, { recursive: true, force: true });
      throw error;
    }
  }

  /** Client URLs of every node (running or not), for `connect`. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The nodes whose process is running. */
  get running(): NatsServer[] {
    return this.nodes.filter((n) => n.running);
  }

  /**
   * The node with this server name.
   *
   * @param name A name such as `"n2"`, as JetStream reports leaders.
   * @returns The node.
   * @throws {RangeError} No node has that name.
   */
  node(name: string): NatsServer {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) {
      throw new RangeError(
        `No node named "${name}" in the cluster (nodes: ${
          this.nodes.map((n) => n.name).join(", ")
        })`,
      );
    }
    return node;
  }

  async #jsz(index: number): Promise<{ leader?: string; size?: number }> {
    const port = this.#ports[index]!.http;
    const response = await fetch(`http://127.0.0.1:${port}/jsz`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = await response.json() as {
      meta_cluster?: { leader?: string; cluster_size?: number };
    };
    return {
      ...(body.meta_cluster?.leader
        ? { leader: body.meta_cluster.leader }
        : {}),
      ...(body.meta_cluster?.cluster_size
        ? { size: body.meta_cluster.cluster_size }
        : {}),
    };
  }

  /**
   * Wait until every running node agrees on a JetStream meta leader that is
   * itself running.
   *
   * @param options How long to wait.
   * @returns The meta leader.
   * @throws {Error} The cluster was not ready in time.
   */
  async ready(options: ClusterWaitOptions = {}): Promise<NatsServer> {
    return await until(
      "a JetStream meta leader on every running node",
      options.timeout ?? 30_000,
      async () => {
        const running = this.nodes
          .map((n, i) => [n, i] as const)
          .filter(([n]) => n.running);
        if (running.length === 0) return undefined;
        const views = await Promise.all(running.map(([, i]) => this.#jsz(i)));
        const leader = views[0]?.leader;
        if (leader === undefined) return undefined;
        if (!views.every((v) => v.leader === leader)) return undefined;
        const node = this.nodes.find((n) => n.name === leader);
        return node?.running ? node : undefined;
      },
    );
  }

  async #manager(): Promise<JetStreamManager> {
    this.#nc ??= connect({
      servers: this.urls,
      name: "walnats-cluster-probe",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    this.#jsm ??= await jetstreamManager(await this.#nc, { timeout: 1_000 });
    return this.#jsm;
  }

  /**
   * The running node that leads a stream, once one is elected.
   *
   * @param stream Stream name.
   * @param options How long to wait for a leader.
   * @returns The leader.
   * @throws {Error} No running node led the stream in time.
   */
  async streamLeader(
    stream: string,
    options: ClusterWaitOptions = {},
  ): Promise<NatsServer> {
    return await until(
      `a leader of stream "${stream}"`,
      options.timeout ?? 30_000,
      async () => {
        const info = await (await this.#manager()).streams.info(stream);
        return this.#runningNode(info.cluster?.leader);
      },
    );
  }

  /**
   * The running node that leads a consumer, once one is elected.
   *
   * @param stream Stream name.
   * @param consumer Durable consumer name (an actor's name).
   * @param options How long to wait for a leader.
   * @returns The leader.
   * @throws {Error} No running node led the consumer in time.
   */
  async consumerLeader(
    stream: string,
    consumer: string,
    options: ClusterWaitOptions = {},
  ): Promise<NatsServer> {
    return await until(
      `a leader of consumer "${consumer}" on stream "${stream}"`,
      options.timeout ?? 30_000,
      async () => {
        const info = await (await this.#manager()).consumers.info(
          stream,
          consumer,
        );
        return this.#runningNode(info.cluster?.leader);
      },
    );
  }

  #runningNode(name: string | undefined): NatsServer | undefined {
    const node = name === undefined
      ? undefined
      : this.nodes.find((n) => n.name === name);
    return node?.running ? node : undefined;
  }

  /** Stop every node and remove the stores. */
  async [Symbol.asyncDispose](): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#jsm = undefined;
    if (nc !== undefined) {
      await nc.then((c) => c.close(), () => {});
    }
    await Promise.all(this.nodes.map((n) => n.close()));
    await rm(this.#storeRoot, { recursive: true, force: true });
  }

  /** Same as `[Symbol.asyncDispose]()`. */
  close(): Promise<void> {
    return this[Symbol.asyncDispose]();
  }
}
