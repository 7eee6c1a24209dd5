// The worker module of examples/06_workers.ts: plain exported functions,
// run in the listener's worker pool (never imported by the main thread).
import type { WorkerContext } from "@walnats/walnats";

/** CPU-bound work: a checksum of `rounds` hash steps over the file name. */
export function checksum(
  file: { name: string; rounds: number },
  ctx: WorkerContext,
): { name: string; checksum: string; attempt: number } {
  let h = 2166136261;
  for (let i = 0; i < file.rounds; i++) {
    h = Math.imul(h ^ file.name.charCodeAt(i % file.name.length), 16777619);
  }
  return {
    name: file.name,
    checksum: (h >>> 0).toString(16).padStart(8, "0"),
    attempt: ctx.attempt,
  };
}

/** A runaway job: ignores its signal and never returns on attempt 1. */
export function runaway(_file: unknown, ctx: WorkerContext): string {
  if (ctx.attempt === 1) { for (;;); }
  return `attempt ${ctx.attempt} finished`;
}
