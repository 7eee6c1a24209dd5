// Which features the connected nats-server has, from its version string.

/**
 * Whether `version` (`major.minor.patch`, maybe with a pre-release tag) is at
 * least `min`; an unknown or unparsable version counts as older.
 */
export function serverAtLeast(
  version: string | undefined,
  min: readonly [number, number, number],
): boolean {
  if (version === undefined) return false;
  const parts = version.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const want = min[i] ?? 0;
    if (Number.isNaN(have)) return false;
    if (have !== want) return have > want;
  }
  return true;
}
