/**
 * Bun adapter: Bun implements Node's `net`, so this is the Node transport.
 *
 * @example Connect to a test server
 * ```ts
 * import { connect } from "@walnats/walnats/bun";
 * import { NatsServer } from "@walnats/walnats/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = await NatsServer.start();
 * const nc = await connect(server.url);
 * assert.equal(nc.isClosed(), false);
 * await nc.close();
 * ```
 *
 * @module
 */
export { connect } from "./node.ts";
