import type { NodeRecord } from '../model/node.js';

/** A node as listings show it. */
export interface NodeSummary {
  alias: string;
  id: string;
  role: NodeRecord['role'];
  state: NodeRecord['state'];
  instanceType: string;
  zone?: string;
  privateIp?: string;
  publicIp?: string;
  spotRequestId?: string;
  launchTime?: string;
  uptimeSeconds?: number;
  /** `listclusters -s`: whether the node answered SSH (`n/a` for local processes). */
  ssh?: 'up' | 'down' | 'n/a';
}

export function summariseNode(n: NodeRecord, now: Date = new Date()): NodeSummary {
  return {
    alias: n.alias,
    id: n.id,
    role: n.role,
    state: n.state,
    instanceType: n.instanceType,
    ...(n.zone ? { zone: n.zone } : {}),
    ...(n.privateIp ? { privateIp: n.privateIp } : {}),
    ...(n.publicIp ? { publicIp: n.publicIp } : {}),
    ...(n.spotRequestId ? { spotRequestId: n.spotRequestId } : {}),
    ...(n.launchTime
      ? {
          launchTime: n.launchTime.toISOString(),
          uptimeSeconds: Math.max(0, Math.round((now.getTime() - n.launchTime.getTime()) / 1000)),
        }
      : {}),
  };
}

export function formatUptime(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

/** Plain fixed-width table (listings). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
