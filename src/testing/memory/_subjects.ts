// NATS subject rules: tokens separated by ".", `*` matches one token, `>`
// the rest (one token or more), as nats-server's sublist does.

/** Whether `subject` is a valid subject to publish to (no wildcards). */
export function isPublishSubject(subject: string): boolean {
  return isValid(subject, false);
}

/** Whether `filter` is a valid subscription subject (wildcards allowed). */
export function isFilterSubject(filter: string): boolean {
  return isValid(filter, true);
}

function isValid(subject: string, wildcards: boolean): boolean {
  if (typeof subject !== "string" || subject === "") return false;
  if (/[\s]/.test(subject)) return false;
  const tokens = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "") return false;
    if (t === "*" || t === ">") {
      if (!wildcards) return false;
      if (t === ">" && i !== tokens.length - 1) return false;
    }
  }
  return true;
}

/** Whether the literal `subject` matches `filter` (with `*` and `>`). */
export function subjectMatches(filter: string, subject: string): boolean {
  if (filter === subject) return true;
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    const ft = f[i]!;
    if (ft === ">") return s.length > i;
    const st = s[i];
    if (st === undefined) return false;
    if (ft !== "*" && ft !== st) return false;
  }
  return f.length === s.length;
}

/**
 * Whether two filters can match a common subject (how nats-server decides
 * that two streams' subjects overlap).
 */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === ">" || q === ">") {
      return p !== undefined && q !== undefined;
    }
    if (p === undefined || q === undefined) return false;
    if (p !== "*" && q !== "*" && p !== q) return false;
  }
  return true;
}

/** Whether every subject `filter` matches is matched by `of` too. */
export function isSubsetOf(filter: string, of: string): boolean {
  const f = filter.split(".");
  const o = of.split(".");
  for (let i = 0; i < f.length; i++) {
    const ot = o[i];
    const ft = f[i]!;
    if (ot === undefined) return false;
    if (ot === ">") return true;
    if (ft === ">") return false;
    if (ot === "*") continue;
    if (ft === "*" || ft !== ot) return false;
  }
  return f.length === o.length;
}
