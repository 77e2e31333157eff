import { createProvider } from '../cloud/index.js';
import { openRunningCluster, sshStatus } from '../setup/access.js';
import type { InstanceInfo } from '../cloud/account.js';
import type { Provider } from '../cloud/provider.js';
import type { StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { readCluster } from '../cloud/open.js';
import { renderQueue, type QueueInfo } from './queue.js';
import { costSoFar, costSoFarText, type CostSoFar } from './cost.js';
import { formatUptime, summariseNode, table, type NodeSummary } from './summary.js';

export interface ClusterInfo {
  name: string;
  provider: Provider['kind'];
  /** The nodes are machines reached over SSH (false: processes on this machine). */
  machines: boolean;
  template?: string;
  /** `start -d`. */
  description?: string;
  securityGroup?: { id: string; name: string };
  zone?: string;
  keyName?: string;
  launchTime?: string;
  uptimeSeconds?: number;
  /** Spend so far and per hour now, from launch times and the provider's price estimate (EC2 only). */
  cost?: CostSoFar;
  spotRequests: string[];
  nodes: NodeSummary[];
  /** With `-s`: the Slurm queue as the master sees it. */
  queue?: QueueInfo;
}

export interface ListClustersOptions {
  config?: StarclusterConfig;
  /** Only these clusters (default all). */
  names?: string[];
  /** Default: the local provider and EC2 from the config; tests pass their own (or several). */
  providers?: Provider[];
  /** The --region flag, for the default EC2 provider. */
  region?: string;
  /** Told when a default provider cannot be listed (e.g. no AWS credentials): the others still are. */
  io?: IoHost;
  now?: Date;
  /** `-s`: connect to each cluster's master and read its queue (clusters with a running master only). */
  queue?: (cluster: string, provider: Provider) => Promise<QueueInfo>;
}

/** `listclusters` (lc): every cluster visible from tags, with its nodes, alias, state, type, IPs, uptime. */
export async function listClusters(opts: ListClustersOptions = {}): Promise<ClusterInfo[]> {
  const providers = opts.providers ?? [
    await createProvider(undefined, opts.config, { kind: 'local' }),
    await createProvider(undefined, opts.config, { kind: 'ec2', ...(opts.region ? { region: opts.region } : {}) }),
  ];
  const now = opts.now ?? new Date();
  const out: ClusterInfo[] = [];
  for (const provider of providers) {
    let names: string[];
    try {
      names = opts.names?.length ? opts.names : await provider.listClusters();
    } catch (error) {
      // With the default providers, a user with only local clusters (and no AWS account) still sees them.
      if (opts.providers) throw error;
      const used = [...(opts.config?.clusters.values() ?? [])].some((t) => t.provider === provider.kind);
      opts.io?.notify({
        // A provider no template uses is not worth a warning (someone with only local templates has no AWS account).
        level: used ? 'warn' : 'debug',
        code: 'SC_LIST_W0001',
        message: `could not list ${provider.kind} clusters: ${error instanceof Error ? error.message : String(error)}`,
      });
      continue;
    }
    for (const name of names) {
      const { nodes, record } = await readCluster(provider, name);
      const sg = record.securityGroup;
      if (nodes.length === 0 && !sg) continue;
      const master = nodes.find((n) => n.role === 'master') ?? nodes[0];
      const spot = nodes.map((n) => n.spotRequestId).filter((x): x is string => Boolean(x));
      const launch = master?.launchTime;
      const summaries = nodes.map((n) => summariseNode(n, now));
      const cost = await costSoFar(provider, summaries, now);
      out.push({
        name,
        provider: provider.kind,
        machines: provider.nodesAreMachines,
        ...(record.template ? { template: record.template } : {}),
        ...(record.description ? { description: record.description } : {}),
        ...(sg ? { securityGroup: { id: sg.id, name: sg.name } } : {}),
        ...(master?.zone ? { zone: master.zone } : {}),
        ...(master?.keyName ? { keyName: master.keyName } : {}),
        ...(launch
          ? {
              launchTime: launch.toISOString(),
              uptimeSeconds: Math.max(0, Math.round((now.getTime() - launch.getTime()) / 1000)),
            }
          : {}),
        ...(cost ? { cost } : {}),
        spotRequests: spot,
        nodes: summaries,
        ...(opts.queue && master?.state === 'running' ? { queue: await opts.queue(name, provider) } : {}),
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * `listclusters -s`: adds each node's SSH status (`up`/`down`; `n/a` for local clusters, whose
 * nodes are processes). A cluster whose key cannot be found has every node `down`, with a warning.
 */
export async function addSshStatus(
  clusters: ClusterInfo[],
  opts: { configPath?: string; io: IoHost; env?: NodeJS.ProcessEnv },
): Promise<ClusterInfo[]> {
  for (const c of clusters) {
    if (!c.machines || !c.nodes.some((n) => n.state === 'running')) {
      for (const n of c.nodes) n.ssh = c.machines ? 'down' : 'n/a';
      continue;
    }
    let status: Record<string, 'up' | 'down'> = {};
    try {
      const ctx = await openRunningCluster({
        name: c.name,
        io: opts.io,
        ...(opts.configPath ? { configPath: opts.configPath } : {}),
        ...(opts.env ? { env: opts.env } : {}),
      });
      status = await sshStatus(ctx);
    } catch (error) {
      opts.io.notify({
        level: 'warn',
        code: 'SC_LIST_W0002',
        message: `cannot check SSH on ${c.name}: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
    for (const n of c.nodes) n.ssh = status[n.alias] ?? 'down';
  }
  return clusters;
}

export function renderClusters(clusters: readonly Omit<ClusterInfo, 'machines'>[]): string {
  if (clusters.length === 0) return 'No clusters found.';
  const blocks = clusters.map((c) => {
    const head = [
      `${c.name}`,
      `  provider: ${c.provider}${c.template ? `   template: ${c.template}` : ''}`,
      ...(c.description ? [`  description: ${c.description}`] : []),
      ...(c.securityGroup ? [`  security group: ${c.securityGroup.name} (${c.securityGroup.id})`] : []),
      ...(c.zone ? [`  zone: ${c.zone}`] : []),
      ...(c.keyName ? [`  key pair: ${c.keyName}`] : []),
      `  launched: ${c.launchTime ?? '-'}   uptime: ${formatUptime(c.uptimeSeconds)}`,
      ...(c.cost ? [`  cost: ${costSoFarText(c.cost)}`] : []),
      ...(c.spotRequests.length ? [`  spot requests: ${c.spotRequests.join(', ')}`] : []),
      `  nodes: ${c.nodes.length}`,
      ...(c.queue ? [`  ${renderQueue(c.queue)}`] : []),
    ];
    const rows = c.nodes.map((n) => [
      n.alias,
      n.id,
      n.state,
      n.instanceType,
      n.privateIp ?? '-',
      n.publicIp ?? '-',
      formatUptime(n.uptimeSeconds),
      ...(n.ssh ? [n.ssh] : []),
    ]);
    const ssh = c.nodes.some((n) => n.ssh) ? ['ssh'] : [];
    const t = table(['alias', 'id', 'state', 'type', 'private ip', 'public ip', 'uptime', ...ssh], rows)
      .split('\n')
      .map((l) => `    ${l}`);
    return [...head, ...t].join('\n');
  });
  return blocks.join('\n\n');
}

/** `listinstances` (lsi): every instance in the region, whoever made it. */
export async function listInstances(opts: {
  config?: StarclusterConfig;
  provider?: Provider;
  includeTerminated?: boolean;
}): Promise<InstanceInfo[]> {
  const provider = opts.provider ?? (await createProvider(undefined, opts.config, { kind: 'ec2' }));
  return provider.account().listInstances({ includeTerminated: Boolean(opts.includeTerminated) });
}

export function renderInstances(instances: readonly InstanceInfo[]): string {
  if (instances.length === 0) return 'No instances found.';
  return table(
    ['id', 'state', 'type', 'ami', 'zone', 'private ip', 'public ip', 'cluster', 'alias'],
    instances.map((i) => [
      i.id,
      i.state,
      i.instanceType,
      i.imageId ?? '-',
      i.zone ?? '-',
      i.privateIp ?? '-',
      i.publicIp ?? '-',
      i.cluster ?? '-',
      i.alias ?? '-',
    ]),
  );
}
