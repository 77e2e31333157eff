/**
 * Node aliases: `master`, then `node001`, `node002`... New nodes take the next numbers after the
 * highest one in use (StarCluster's rule: gaps are not refilled, so a removed node's alias is not
 * reused while its instance may still be shutting down); removal takes the highest-numbered.
 */
export const MASTER_ALIAS = 'master';

export function nodeAlias(index: number): string {
  if (!Number.isInteger(index) || index < 1)
    throw new RangeError(`node index must be a positive integer, got ${index}`);
  return `node${String(index).padStart(3, '0')}`;
}

/** The number of `node007`, or undefined for `master` and anything else. */
export function aliasNumber(alias: string): number | undefined {
  const match = /^node(\d{3,})$/.exec(alias);
  return match ? Number(match[1]) : undefined;
}

/** Aliases for a new cluster of `size` nodes including the master. */
export function clusterAliases(size: number): string[] {
  const out = [MASTER_ALIAS];
  for (let i = 1; i < size; i++) out.push(nodeAlias(i));
  return out;
}

/** The next `count` free node aliases after the highest one in `existing`. */
export function nextAliases(existing: readonly string[], count: number): string[] {
  const highest = Math.max(0, ...existing.map((a) => aliasNumber(a) ?? 0));
  return Array.from({ length: count }, (_, i) => nodeAlias(highest + 1 + i));
}

/** Which of the wanted aliases are missing from `existing` (for resuming a half-made cluster). */
export function missingAliases(wanted: readonly string[], existing: readonly string[]): string[] {
  const have = new Set(existing);
  return wanted.filter((a) => !have.has(a));
}

/** The `count` highest-numbered worker aliases, highest first (never the master). */
export function aliasesToRemove(existing: readonly string[], count: number): string[] {
  return existing
    .filter((a) => aliasNumber(a) !== undefined)
    .sort((a, b) => (aliasNumber(b) ?? 0) - (aliasNumber(a) ?? 0))
    .slice(0, count);
}

/** Sort key: master first, then by node number. */
export function compareAliases(a: string, b: string): number {
  const rank = (x: string): number => (x === MASTER_ALIAS ? -1 : (aliasNumber(x) ?? Number.MAX_SAFE_INTEGER));
  return rank(a) - rank(b) || a.localeCompare(b);
}
