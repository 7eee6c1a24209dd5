// Construction-time checks that replace walnats' flake8 linter rules
// (WNS001-006 for events, WNS011-012 for limits, WNS021-026 for actors).

/** Longest name accepted: stream and consumer names end up in file paths. */
export const MAX_NAME_LENGTH = 64;
/** Longest description accepted. */
export const MAX_DESCRIPTION_LENGTH = 4096;

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*$/;
// Python walnats' linter (walnats/_linter/_finders.py): WNS003 forbids
// whitespace, ".", "*" and ">"; WNS004 asks for [a-z0-9-]*, so "--" and
// leading or trailing dashes pass.
const PYTHON = /^[a-z0-9-]+$/;

/**
 * Check an event or actor name.
 *
 * Subjects may not hold whitespace, `*` or `>`; stream and consumer names may
 * not hold `.`, `/` or `\`. Events may use dots (the stream name replaces
 * them with dashes, as walnats does); actors may not.
 */
export function checkName(
  kind: "event" | "actor",
  name: unknown,
  rules: "kebab" | "python" = "kebab",
): asserts name is string {
  const what = `Cannot create ${kind}`;
  if (typeof name !== "string") {
    throw new TypeError(`${what}: name must be a string, got ${typeof name}`);
  }
  if (name === "") {
    throw new TypeError(`${what}: name must not be empty`);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new RangeError(
      `${what} "${name}": name is ${name.length} characters long, the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  // deno-lint-ignore no-control-regex
  const bad = /[\s*>/\\\x00-\x1f\x7f]/.exec(name);
  if (bad !== null) {
    throw new TypeError(
      `${what} ${JSON.stringify(name)}: name contains ${
        JSON.stringify(bad[0])
      } at index ${bad.index}; NATS subjects and stream names must not contain whitespace, control characters, "*", ">", "/" or "\\"`,
    );
  }
  if (rules === "python") {
    if (name.includes(".")) {
      throw new TypeError(
        `${what} "${name}": name must not contain "." under Python walnats' rules (its linter reports WNS003); use "-"`,
      );
    }
    if (!PYTHON.test(name)) {
      throw new TypeError(
        `${what} "${name}": name must be lowercase letters, digits and dashes under Python walnats' rules (its linter reports WNS004)`,
      );
    }
    return;
  }
  if (kind === "actor" && name.includes(".")) {
    throw new TypeError(
      `${what} "${name}": name must not contain "." (it is a consumer name); use "-"`,
    );
  }
  if (!KEBAB.test(name)) {
    const hint = name.toLowerCase().replace(/[^a-z0-9.]+/g, "-").replace(
      /^-+|-+$/g,
      "",
    );
    throw new TypeError(
      `${what} "${name}": name must be kebab-case (lowercase letters, digits and single dashes${
        kind === "event" ? ", dot-separated" : ""
      }), for example "${hint || "user-created"}"`,
    );
  }
}

/** Check a description: if given, not empty and not too long. */
export function checkDescription(
  kind: "event" | "actor",
  name: string,
  description: unknown,
): void {
  if (description === undefined) return;
  const what = `Cannot create ${kind} "${name}"`;
  if (typeof description !== "string") {
    throw new TypeError(`${what}: description must be a string`);
  }
  if (description.trim() === "") {
    throw new TypeError(
      `${what}: description must not be empty; leave it out instead`,
    );
  }
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw new RangeError(
      `${what}: description is ${description.length} characters long, the limit is ${MAX_DESCRIPTION_LENGTH}`,
    );
  }
}

/** Check that an option is a positive integer (or absent). */
export function checkPositiveInteger(
  what: string,
  field: string,
  value: unknown,
  unit = "",
): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(
      `${what}: ${field} must be an integer${unit}, got ${String(value)}`,
    );
  }
  if (value <= 0) {
    throw new RangeError(
      `${what}: ${field} must be positive${unit}, got ${value}`,
    );
  }
}

/** Check that an option is a non-negative finite number (or absent). */
export function checkNonNegative(
  what: string,
  field: string,
  value: unknown,
  unit = "",
): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `${what}: ${field} must be a non-negative number${unit}, got ${
        String(value)
      }`,
    );
  }
}
