import type { ResizeResult } from './resize.js';

export function renderNodeChange(r: ResizeResult): string {
  if (r.declined) return `Cluster ${r.name}: nothing changed.`;
  const parts: string[] = [];
  if (r.added.length) parts.push(`added ${r.added.map((n) => `${n.alias} (${n.id})`).join(', ')}`);
  if (r.removed.length) parts.push(`removed ${r.removed.map((n) => `${n.alias} (${n.id})`).join(', ')}`);
  if (!parts.length) parts.push('no change');
  return `Cluster ${r.name}: ${parts.join('; ')}; ${r.nodes.length} node(s): ${r.nodes.map((n) => n.alias).join(', ')}`;
}
