// One scenario suite, run against a real nats-server and against the memory
// broker by tests/fidelity.test.ts, with the same expected results. Each
// scenario returns what it observed (no timestamps, no timings, only facts
// and "waited at least" flags) and states what it expects.
//
// The scenarios live one group a file; this index lists them in order.
import type { Scenario } from "./_common.ts";
import { DELIVERY_SCENARIOS } from "./delivery.ts";
import { LIFECYCLE_SCENARIOS } from "./lifecycle.ts";

export type { Backend, Scenario } from "./_common.ts";
export {
  DEAD_LETTER_AFTER_RETRIES,
  deadLetterAfterRetries,
} from "./acceptance.ts";
export { protocolTranscript } from "./protocol.ts";

/** The scenarios. */
export const SCENARIOS: Scenario[] = [
  ...DELIVERY_SCENARIOS,
  ...LIFECYCLE_SCENARIOS,
];
