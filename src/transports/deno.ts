/**
 * Deno adapter. Until the Deno-native transport lands, Deno runs the Node
 * transport through its Node compatibility layer; the seam stays here.
 *
 * @example Connect to a test server
 * ```ts
 * import { connect } from "@walnats/walnats/deno";
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
