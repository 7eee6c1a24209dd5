/**
 * Work in progress: filled in by the current change.
 *
 * @module
 */
export {};
