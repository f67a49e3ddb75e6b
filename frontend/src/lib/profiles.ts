// Profile names from whatever shape the gateway reports them in
// (a list of names, a list of {name}, or a map keyed by name).
export function profileNames(p: unknown): string[] {
  if (Array.isArray(p)) {
    return p
      .map((x) => (typeof x === 'string' ? x : x && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string' ? (x as { name: string }).name : null))
      .filter((x): x is string => !!x);
  }
  if (p && typeof p === 'object') return Object.keys(p as object);
  return [];
}
