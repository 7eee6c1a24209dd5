/**
 * Bun adapter: Bun implements Node's `net`, so this is the Node transport.
 *
 * @module
 */
export { connect } from "./node.ts";
