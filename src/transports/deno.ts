/**
 * Deno adapter. Until the Deno-native transport lands, Deno runs the Node
 * transport through its Node compatibility layer; the seam stays here.
 *
 * @module
 */
export { connect } from "./node.ts";
