import type { NodeRecord, Provider } from '../cloud/provider.js';
import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { clusterStateDir } from '../paths.js';
import { compareAliases } from './aliases.js';
import type { ClusterContext } from './context.js';

/** Master first, then node001, node002... */
export function sortNodes(nodes: readonly NodeRecord[]): NodeRecord[] {
  return [...nodes].sort((a, b) => compareAliases(a.alias, b.alias));
}

/**
 * The template a cluster was started from when only its tags are known (terminate, list from
 * another machine): the config's template of that name when there is one, else a minimal one.
 */
export function templateFor(
  config: StarclusterConfig | undefined,
  templateName: string | undefined,
  provider: Provider,
  nodes: readonly NodeRecord[],
): ClusterTemplate {
  const known = templateName ? config?.clusters.get(templateName) : undefined;
  if (known) return known;
  const master = nodes.find((n) => n.role === 'master');
  return minimalTemplate({
    name: templateName ?? '(from tags)',
    provider: provider.kind,
    ...(master?.keyName ? { keyname: master.keyName } : {}),
    clusterSize: Math.max(1, nodes.length),
  });
}

/** A template with StarCluster's defaults for everything not given (no config file behind it). */
export function minimalTemplate(
  fields: Pick<ClusterTemplate, 'name' | 'provider' | 'clusterSize'> & Partial<ClusterTemplate>,
): ClusterTemplate {
  return {
    clusterUser: 'sgeadmin',
    clusterShell: 'bash',
    dnsPrefix: false,
    nodeInstanceTypes: [],
    volumes: [],
    plugins: [],
    permissions: [],
    forceSpotMaster: false,
    userdataScripts: [],
    disableQueue: false,
    disableCloudinit: false,
    sharedFs: 'nfs',
    sshCidr: '0.0.0.0/0',
    ...fields,
  };
}

/** An empty config for commands run without one (terminate -f from any machine). */
export function emptyConfig(path = '(none)'): StarclusterConfig {
  return {
    path,
    global: { enableExperimental: false, refreshInterval: 30, include: [] },
    aws: { validateCerts: true },
    keys: new Map(),
    clusters: new Map(),
    volumes: new Map(),
    plugins: new Map(),
    permissions: new Map(),
  };
}

export function makeContext(input: {
  name: string;
  template: ClusterTemplate;
  config: StarclusterConfig;
  provider: Provider;
  io: IoHost;
  nodes: readonly NodeRecord[];
  stateDir?: string;
}): ClusterContext {
  return {
    name: input.name,
    template: input.template,
    config: input.config,
    provider: input.provider,
    io: input.io,
    stateDir: input.stateDir ?? clusterStateDir(input.name),
    nodes: sortNodes(input.nodes.filter((n) => n.state === 'running')),
  };
}

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
