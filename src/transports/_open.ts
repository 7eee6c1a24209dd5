// One way to open what a publisher or a subscriber works on: the server
// argument turned into a connection (or a given one used as it is), and the
// JetStream client and manager on it, with the caller's JetStream options.
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JetStreamOptions,
} from "@nats-io/jetstream";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { connect, type Server } from "./connect.ts";
import { isNatsConnection } from "./_connection_options.ts";

/** A connection and its JetStream handles. */
export interface Opened {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Close `nc` when done: it was opened here, or the caller asked. */
  readonly owned: boolean;
}

/** Build the handles on `nc`; `jetstreamManager` checks JetStream answers. */
export async function openOn(
  nc: NatsConnection,
  owned: boolean,
  options: JetStreamOptions = {},
): Promise<Opened> {
  const jsm = await jetstreamManager(nc, options);
  return { nc, js: jetstream(nc, options), jsm, owned };
}

/**
 * Connect (unless `server` is an open connection) and build the JetStream
 * handles; a connection opened here is closed again if that fails.
 */
export async function openJetStream(
  server: Server | undefined,
  closeConnection: boolean | undefined,
  options: JetStreamOptions | undefined,
): Promise<Opened> {
  if (isNatsConnection(server)) {
    return await openOn(server, closeConnection ?? false, options);
  }
  const nc = await connect(server as string | string[] | ConnectionOptions);
  try {
    return await openOn(nc, true, options);
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/** The key of the factories `Events.connect` and `Actors.connect` use. */
export const OPEN: unique symbol = Symbol("walnats.open");
