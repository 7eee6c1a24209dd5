// The one runtime detector: the core stays free of runtime globals, and the
// few places that must choose (the transport adapter, the worker pool)
// ask here.

/** Which runtime this is. */
export function runtime(): "deno" | "bun" | "node" {
  if ("Deno" in globalThis) return "deno";
  if ("Bun" in globalThis) return "bun";
  return "node";
}
